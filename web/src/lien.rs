//! Relais's own link redirect (`/relais/lien/{token}`): links of broadcasts point here so that
//! clicks are counted, with no third-party tracker, no cookie and nothing about who clicked
//! (the request is neither logged nor stored; only the link's counter moves).

use std::sync::Arc;

use axum::{
    Router,
    extract::{Path, State},
    http::{Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

use crate::{WebState, page::message};

pub fn routes() -> Router<Arc<WebState>> {
    Router::new().route("/relais/lien/{token}", get(follow))
}

async fn follow(State(state): State<Arc<WebState>>, method: Method, Path(token): Path<String>) -> Response {
    if token.len() > 64 || !token.chars().all(|c| c.is_ascii_hexdigit()) {
        return unknown();
    }
    // Only a GET is a click; a HEAD (link checkers, some previews) is answered without counting.
    let target = if method == Method::HEAD {
        state.bots.link_target(&token).await
    } else {
        state.bots.link_follow(&token).await
    };
    match target {
        Ok(Some(url)) if url.starts_with("https://") || url.starts_with("http://") => (
            StatusCode::FOUND,
            [
                (header::LOCATION, url),
                (header::REFERRER_POLICY, "no-referrer".to_owned()),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
        )
            .into_response(),
        Ok(_) => unknown(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot follow a broadcast link");
            message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Lien indisponible",
                "Ce lien ne peut pas être ouvert pour l'instant. Réessayez dans quelques minutes.",
            )
        }
    }
}

fn unknown() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Lien inconnu",
        "Ce lien n'existe pas ou plus. Vérifiez qu'il a été copié en entier depuis le message reçu.",
    )
}
