//! The homeserver token check, applied to every Application Service API route.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{ApiError, AppState};

/// The token the caller presented: `Authorization: Bearer …`, or the legacy `access_token`
/// query parameter that older Synapse versions send.
fn presented_token(req: &Request) -> Option<String> {
    if let Some(value) = req.headers().get(http::header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        return value.strip_prefix("Bearer ").map(|t| t.trim().to_owned());
    }
    let query = req.uri().query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "access_token")
        .map(|(_, value)| value.into_owned())
}

/// Refuses a call without the `hs_token` (401) or with another token (403).
pub(crate) async fn require_hs_token(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    match presented_token(&req) {
        None => {
            state.metrics.auth_rejected.inc();
            ApiError::MissingToken.into_response()
        }
        Some(token) if !state.config.appservice.hs_token.matches(&token) => {
            state.metrics.auth_rejected.inc();
            tracing::warn!(path = %req.uri().path(), "appservice call with a wrong token refused");
            ApiError::Forbidden.into_response()
        }
        Some(_) => next.run(req).await,
    }
}
