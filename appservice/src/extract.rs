//! Typed request extraction and response rendering with ruma's own types and metadata.

use axum::{
    body::Body,
    extract::{FromRequest, FromRequestParts, RawPathParams, Request},
    response::{IntoResponse, Response},
};
use bytes::BytesMut;
use ruma::api::{IncomingRequest, IncomingRequestExt, OutgoingResponse, OutgoingResponseExt};

use crate::ApiError;

/// Largest body accepted: a transaction holds at most 100 PDUs of at most 64 KiB, plus EDUs.
pub(crate) const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// A request parsed into ruma's type for the endpoint.
#[derive(Debug)]
pub(crate) struct Ruma<T>(pub T);

impl<T, S> FromRequest<S> for Ruma<T>
where
    T: IncomingRequest,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let params = RawPathParams::from_request_parts(&mut parts, state)
            .await
            .map_err(|_| ApiError::BadJson("a path parameter is not valid UTF-8".into()))?;
        let args: Vec<String> = params.iter().map(|(_, value)| value.to_owned()).collect();
        let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| ApiError::TooLarge)?;
        if !bytes.is_empty() && serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_err() {
            return Err(ApiError::NotJson);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let request = http::Request::from_parts(parts, bytes.as_ref());
        T::try_from_http_request(request, &args)
            .map(Ruma)
            .map_err(|e| ApiError::BadJson(format!("invalid request: {e}")))
    }
}

/// A ruma response rendered as the HTTP response.
#[derive(Debug)]
pub(crate) struct RumaResponse<T>(pub T);

impl<T: OutgoingResponse> IntoResponse for RumaResponse<T> {
    fn into_response(self) -> Response {
        match self.0.try_into_http_response::<BytesMut>() {
            Ok(response) => response.map(|body| Body::from(body.freeze())),
            Err(error) => {
                tracing::error!(%error, "cannot serialize a response");
                http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}
