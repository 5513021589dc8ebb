//! The HTTP listener the homeserver calls: Application Service API, `/health`, `/metrics`.

use std::sync::Arc;

use axum::{
    Router,
    extract::State,
    handler::Handler,
    http::StatusCode,
    middleware,
    response::{IntoResponse, Response},
    routing::{MethodFilter, get, on},
};
use ruma::api::{
    IncomingRequest, Metadata,
    appservice::{
        event::push_events,
        ping::send_ping,
        query::{query_room_alias, query_user_id},
    },
    path_builder::PathBuilder,
};
use tokio::sync::Notify;

use relais_core::{Config, Store};

use crate::queue::{IntakeQueue, TxnOutcome};

use crate::{
    ApiError, Metrics, auth,
    extract::{Ruma, RumaResponse},
    intake,
};

/// What every request handler shares.
#[derive(Debug)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    /// Woken after a transaction is committed, so dispatch starts at once.
    pub new_events: Arc<Notify>,
    /// Fingerprint of the one-time-key counts last journaled for the bot's device.
    pub device_counts: std::sync::Mutex<u64>,
}

/// The appservice router: API routes behind the token check, plus `/health` and `/metrics`.
pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new();
    let api = route::<push_events::v1::Request, _, _>(api, push_events);
    let api = route::<query_user_id::v1::Request, _, _>(api, query_user);
    let api = route::<query_room_alias::v1::Request, _, _>(api, query_alias);
    let api = route::<send_ping::v1::Request, _, _>(api, ping)
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::require_hs_token));
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .merge(api)
        .fallback(|| async { ApiError::Unrecognized })
        .with_state(state)
}

/// Routes `handler` at every path ruma's metadata lists for `R`, with `R`'s method, and at the
/// legacy unprefixed form of each (`/_matrix/app/v1/users/{id}` → `/users/{id}`) that older
/// homeservers call.
fn route<R, H, T>(router: Router<Arc<AppState>>, handler: H) -> Router<Arc<AppState>>
where
    R: IncomingRequest,
    H: Handler<T, Arc<AppState>>,
    T: 'static,
{
    let filter = method_filter::<R>();
    R::PATH_BUILDER.all_paths().fold(router, |router, path| {
        let router = router.route(path, on(filter, handler.clone()));
        match path.strip_prefix("/_matrix/app/v1") {
            Some(legacy) => router.route(legacy, on(filter, handler.clone())),
            None => router,
        }
    })
}

fn method_filter<R: Metadata>() -> MethodFilter {
    // Every appservice endpoint uses GET, PUT or POST, which all have a filter.
    MethodFilter::try_from(R::METHOD).unwrap_or(MethodFilter::GET)
}

async fn push_events(
    State(state): State<Arc<AppState>>,
    Ruma(request): Ruma<push_events::v1::Request>,
) -> Result<RumaResponse<push_events::v1::Response>, ApiError> {
    // Kept only once the rows are committed: a failed transaction is resent as it was.
    let mut counts = state.device_counts.lock().map(|c| *c).unwrap_or_default();
    let (rows, malformed) = intake::journal_rows(&request, &mut counts);
    state.metrics.events_malformed.add(malformed as u64);
    let outcome = state
        .store
        .record_transaction(request.txn_id.as_str(), &rows)
        .await
        .map_err(ApiError::Unavailable)?;
    if let Ok(mut last) = state.device_counts.lock() {
        *last = counts;
    }
    state.metrics.transactions.inc();
    match outcome {
        TxnOutcome::Stored { new_events } => {
            state.metrics.events_received.add(new_events);
            tracing::debug!(txn_id = %request.txn_id, new_events, "transaction journaled");
            state.new_events.notify_waiters();
        }
        TxnOutcome::Duplicate => {
            state.metrics.transactions_duplicate.inc();
            tracing::debug!(txn_id = %request.txn_id, "transaction already journaled");
        }
    }
    Ok(RumaResponse(push_events::v1::Response::new()))
}

async fn query_user(
    State(state): State<Arc<AppState>>,
    Ruma(request): Ruma<query_user_id::v1::Request>,
) -> Result<RumaResponse<query_user_id::v1::Response>, ApiError> {
    // The bot user always exists. Mail ghosts are registered by the bridge when it first posts
    // for a member, so an unknown ghost is not conjured up on a mere lookup.
    if request.user_id == state.config.bot_user_id() {
        Ok(RumaResponse(query_user_id::v1::Response::new()))
    } else {
        Err(ApiError::NotFound("no such user in this appservice"))
    }
}

async fn query_alias(
    Ruma(_request): Ruma<query_room_alias::v1::Request>,
) -> Result<RumaResponse<query_room_alias::v1::Response>, ApiError> {
    // Provisioning creates its rooms with their aliases up front; nothing is created on lookup.
    Err(ApiError::NotFound("no such room alias in this appservice"))
}

async fn ping(
    State(state): State<Arc<AppState>>,
    Ruma(request): Ruma<send_ping::v1::Request>,
) -> RumaResponse<send_ping::v1::Response> {
    state.metrics.pings.inc();
    tracing::info!(transaction_id = ?request.transaction_id, "ping from the homeserver");
    RumaResponse(send_ping::v1::Response::new())
}

/// `ok` (200) when the database answers and every worker runs and beats; otherwise 503 with
/// what is wrong. One line per worker follows.
async fn health(State(state): State<Arc<AppState>>) -> Response {
    use crate::health::WorkerState;
    let workers = state.metrics.workers.report(relais_core::time::now_ms());
    let mut lines = String::new();
    let mut healthy = true;
    for w in &workers {
        let seconds = w.since_beat_ms / 1000;
        let line = match &w.state {
            WorkerState::Alive => format!("{}: running (last beat {seconds} s ago)\n", w.name),
            WorkerState::Silent => format!("{}: STUCK (no beat for {seconds} s)\n", w.name),
            WorkerState::Stopped(why) => format!("{}: STOPPED ({why})\n", w.name),
        };
        healthy &= w.state == WorkerState::Alive;
        lines.push_str(&line);
    }
    if let Err(error) = state.store.ping().await {
        tracing::error!(%error, "health check: database unreachable");
        return (StatusCode::SERVICE_UNAVAILABLE, format!("database unreachable\n{lines}")).into_response();
    }
    if healthy {
        (StatusCode::OK, format!("ok\n{lines}")).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("workers down\n{lines}")).into_response()
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let queue = state.store.queue_stats().await.ok();
    ([(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render(queue)).into_response()
}
