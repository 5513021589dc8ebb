//! Relais's public pages on the web listener (`[web] bind`): the landing page and `/health`, the
//! invitation page where members without a Matrix account create one, the secret-ballot page,
//! mail preferences and one-click unsubscribe, the broadcast link counter, and the referents'
//! page. Pages are `maud` templates in one layout (`page`), so every value they show is escaped
//! by construction; each feature's data is read through that feature's store.

mod archives;
pub(crate) mod body;
mod courriel;
mod form;
mod help;
mod legal;
mod lien;
pub mod limit;
mod onboarding;
mod page;
mod referent;
mod rejoindre;
mod signin;
mod sondage;
pub mod store;
mod vote;

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Json, Router,
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use tokio::sync::Semaphore;

use relais_appservice::MatrixClient;
use relais_bots::store::BotStore;
use relais_bridge::store::MailStore;
use relais_core::{Config, Store};
use relais_provisioning::{apply::Applier, directory::Directory, store::ProvisioningStore};
use store::WebStore;

/// What the pages share.
#[derive(Debug)]
pub struct WebState {
    pub config: Arc<Config>,
    pub store: Store,
    /// The bots' data (ballots, broadcast links and statistics).
    pub bots: BotStore,
    /// The mail bridge's lists, preferences and address health.
    pub mail: MailStore,
    /// The page's sessions and uploads.
    pub web: WebStore,
    /// Provisioning's record, journal, invitations and audit log.
    pub records: ProvisioningStore,
    /// Provisioning's members and rooms, read-only.
    pub directory: Directory,
    pub client: MatrixClient,
    /// The party's other homeservers, whose OpenID tokens sign their members in.
    pub other_homeservers: relais_appservice::client::openid::OtherHomeservers,
    pub applier: Applier,
    /// Thematic rooms, as the referents' page makes them.
    pub themes: relais_bots::theme::Themes,
    pub limits: limit::Limits,
    /// Requests being answered; past [`MAX_IN_FLIGHT`], new ones get 503 at once.
    pub in_flight: Arc<Semaphore>,
    /// Membership files being received; past [`MAX_UPLOADS`], a referent is asked to wait.
    pub uploads: Arc<Semaphore>,
    /// New members' welcomes waiting in the background for the provisioning lease; past
    /// [`MAX_WAITING_WELCOMES`], a welcome is left to the next import.
    pub waiting_welcomes: Arc<Semaphore>,
}

impl WebState {
    /// The pages' state over `store`: each feature's store handle, the bot's `client` (with its
    /// encryption device when it has one) and the `applier` the referents' imports and the
    /// onboarding welcomes run through. A CA file of `[other_homeservers]` that cannot be read
    /// is an error.
    pub fn new(
        config: Arc<Config>,
        store: &Store,
        client: MatrixClient,
        applier: Applier,
    ) -> Result<Self, String> {
        let themes = relais_bots::theme::Themes::new(store, client.clone(), config.clone());
        let other_homeservers =
            relais_appservice::client::openid::OtherHomeservers::new(&config.other_homeservers)?;
        Ok(Self {
            other_homeservers,
            themes,
            limits: limit::Limits::new(config.web.trusted_proxies.clone()),
            config,
            store: store.clone(),
            bots: BotStore::new(store.clone()),
            mail: MailStore::new(store.clone()),
            web: WebStore::new(store.clone()),
            records: ProvisioningStore::new(store.clone()),
            directory: Directory::new(store.clone()),
            client,
            applier,
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            uploads: Arc::new(Semaphore::new(MAX_UPLOADS)),
            waiting_welcomes: Arc::new(Semaphore::new(MAX_WAITING_WELCOMES)),
        })
    }
}

/// Largest membership file accepted from the page (a national export is ~8 MB); only the
/// import route takes it.
const UPLOAD_LIMIT: usize = 32 * 1024 * 1024;
/// Largest body of every other form.
const FORM_LIMIT: usize = 64 * 1024;
/// Membership files received at once by one node (each up to 32 MiB, held while it is read).
pub const MAX_UPLOADS: usize = 2;
/// Welcomes waiting for the provisioning lease at once on one node (each a task polling it).
pub const MAX_WAITING_WELCOMES: usize = 64;
/// Requests answered at once by one node.
pub const MAX_IN_FLIGHT: usize = 256;

async fn index() -> maud::Markup {
    page::page(
        "Relais",
        maud::html! {
            p {
                "La messagerie du Parti : vos fédérations, sections et cellules, par l'application de discussion \
                 ou par courriel."
            }
        },
    )
}

pub fn router(state: Arc<WebState>) -> Router {
    // Pages opened by a token in their URL: limited per client address, so tokens cannot be
    // guessed by volume.
    let token_pages = Router::new()
        .route("/inscription/{token}", get(onboarding::show).post(onboarding::create))
        .route("/inscription", get(onboarding::code_form).post(onboarding::redeem_code))
        .merge(courriel::routes())
        .merge(vote::routes())
        .merge(sondage::routes())
        .merge(archives::routes())
        .merge(rejoindre::token_routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), limit_token_pages));
    Router::new()
        .route("/", get(index))
        .route("/health", get(|| async { "ok\n" }))
        .route("/.well-known/matrix/client", get(well_known_client))
        .merge(help::routes())
        .merge(legal::routes())
        .merge(referent::routes(state.clone()))
        .merge(rejoindre::routes())
        .merge(lien::routes())
        .merge(token_pages)
        .layer(axum::extract::DefaultBodyLimit::max(FORM_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), body::receive_then_answer))
        .with_state(state)
}

async fn limit_token_pages(
    State(state): State<Arc<WebState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let ip = state.limits.client_ip(peer, &headers);
    if !state.limits.tokens_by_address.allow(&limit::address_key(ip)) {
        return too_many_requests();
    }
    next.run(request).await
}

/// 429 with a page saying when to try again.
pub(crate) fn too_many_requests() -> Response {
    let body = page::alert("Trop de tentatives depuis votre connexion : réessayez dans une minute.");
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, limit::RETRY_AFTER.as_secs().to_string())],
        page::page("Trop de tentatives", body),
    )
        .into_response()
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

#[cfg(test)]
mod tests;
