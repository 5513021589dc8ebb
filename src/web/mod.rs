//! The public web listener (`[web] bind`): a landing page, `/health`, and the invitation page
//! where members without a Matrix account create one. More pages come with their features.

mod onboarding;
mod page;

use std::sync::Arc;

use axum::{Router, response::Html, routing::get};

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

const INDEX: &str = "<p>La messagerie du Parti : vos fédérations, sections et cellules, par l'application \
    de discussion ou par courriel.</p>";

pub fn router(state: Arc<WebState>) -> Router {
    Router::new()
        .route("/", get(|| async { Html(page::page("Relais", INDEX)) }))
        .route("/health", get(|| async { "ok\n" }))
        .route("/inscription/{token}", get(onboarding::show).post(onboarding::create))
        .with_state(state)
}
