//! The one mapping from failures to Matrix error responses at the HTTP edge.
//!
//! Internal details go to the log; the client gets an `errcode` and a short, safe message.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

/// A failure answered to the homeserver (or anyone else calling our listener).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no homeserver token was supplied")]
    MissingToken,
    #[error("the homeserver token is not recognised")]
    Forbidden,
    #[error("{0}")]
    BadJson(String),
    #[error("request body is not JSON")]
    NotJson,
    #[error("request body is too large")]
    TooLarge,
    #[error("{0}")]
    NotFound(&'static str),
    #[error("unrecognised request")]
    Unrecognized,
    #[error("storage is unavailable, retry later")]
    Unavailable(#[source] relais_core::StoreError),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            Self::MissingToken => (StatusCode::UNAUTHORIZED, "M_UNAUTHORIZED"),
            Self::Forbidden => (StatusCode::FORBIDDEN, "M_FORBIDDEN"),
            Self::BadJson(_) => (StatusCode::BAD_REQUEST, "M_BAD_JSON"),
            Self::NotJson => (StatusCode::BAD_REQUEST, "M_NOT_JSON"),
            Self::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "M_TOO_LARGE"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "M_NOT_FOUND"),
            Self::Unrecognized => (StatusCode::NOT_FOUND, "M_UNRECOGNIZED"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "M_UNKNOWN"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, errcode) = self.parts();
        if let Self::Unavailable(source) = &self {
            tracing::error!(error = %source, "request failed on storage");
        }
        (status, Json(json!({ "errcode": errcode, "error": self.to_string() }))).into_response()
    }
}
