//! Forms as the pages receive them: axum's `Form`, except that a body it cannot read (not a
//! form, not UTF-8, a field of the wrong shape) is answered with a French page saying what to
//! do, never the framework's English text. Every form struct takes missing fields as empty
//! (`#[serde(default)]`), so a field left out reaches the page's own checks, which answer in
//! French and keep what the person typed.

use axum::{
    extract::{FromRequest, Request, rejection::FormRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;

use crate::page::{alert, page};

/// A form body, read as [`axum::Form`] reads it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Form<T>(pub T);

impl<T, S> FromRequest<S> for Form<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(request, state).await {
            Ok(axum::Form(value)) => Ok(Self(value)),
            Err(rejection) => Err(unreadable(&rejection)),
        }
    }
}

/// The page for a body that is not the form the page sent.
fn unreadable(rejection: &FormRejection) -> Response {
    // The framework's text names the field and the reason: for the log, not for the reader.
    tracing::info!(status = %rejection.status(), "a form body could not be read");
    let status = match rejection {
        FormRejection::InvalidFormContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        _ => StatusCode::BAD_REQUEST,
    };
    let body = maud::html! {
        (alert(
            "Le formulaire reçu est incomplet ou illisible. Revenez à la page précédente, vérifiez ce que vous \
             avez saisi et envoyez-le de nouveau.",
        ))
        p { "Si cela se reproduit, rechargez la page avant de réessayer." }
    };
    (status, page("Formulaire illisible", body)).into_response()
}
