//! The public web listener (`[web] bind`): a landing page, `/health`, and the invitation page
//! where members without a Matrix account create one. More pages come with their features.

mod courriel;
mod lien;
mod onboarding;
mod page;
mod referent;
mod vote;

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::State,
    response::{Html, IntoResponse},
    routing::get,
};

use relais_appservice::MatrixClient;
use relais_core::{Config, Store};
use relais_provisioning::apply::Applier;

/// What the pages share.
#[derive(Debug)]
pub struct WebState {
    pub config: Arc<Config>,
    pub store: Store,
    pub client: MatrixClient,
    pub applier: Applier,
}

/// Largest membership file accepted from the page (a national export is ~8 MB).
const UPLOAD_LIMIT: usize = 32 * 1024 * 1024;

const INDEX: &str = "<p>La messagerie du Parti : vos fédérations, sections et cellules, par l'application \
    de discussion ou par courriel.</p>";

pub fn router(state: Arc<WebState>) -> Router {
    Router::new()
        .route("/", get(|| async { Html(page::page("Relais", INDEX)) }))
        .route("/health", get(|| async { "ok\n" }))
        .route("/inscription/{token}", get(onboarding::show).post(onboarding::create))
        .route("/.well-known/matrix/client", get(well_known_client))
        .merge(referent::routes())
        .merge(courriel::routes())
        .merge(lien::routes())
        .merge(vote::routes())
        .layer(axum::extract::DefaultBodyLimit::max(UPLOAD_LIMIT))
        .with_state(state)
}

/// Client discovery (`/.well-known/matrix/client`), for deployments where Relais's web listener
/// answers for the server name's domain (the demo, tests); production serves the static file
/// from element-config/ instead.
async fn well_known_client(State(state): State<Arc<WebState>>) -> impl IntoResponse {
    let base_url = state.config.homeserver_public_url().as_str().trim_end_matches('/').to_owned();
    (
        [(axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")],
        Json(serde_json::json!({ "m.homeserver": { "base_url": base_url } })),
    )
}
