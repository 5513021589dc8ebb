//! What a request may cost before it is answered: its body must arrive within `[web]
//! body_timeout_seconds`, and a form's body is received in full *before* the request counts
//! against [`crate::MAX_IN_FLIGHT`], so clients trickling bodies byte by byte hold a connection
//! each (bounded by `[web] max_connections`) but never the slots honest requests need.
//!
//! The membership file upload is the exception: up to 32 MiB, it is streamed to its handler,
//! which checks the referent's session before reading it; the same deadline bounds it.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use http_body::{Frame, SizeHint};

use crate::{
    FORM_LIMIT, WebState,
    page::{alert, page},
    referent::IMPORT_PATH,
};

/// The body did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within its deadline")]
struct TooSlow;

/// A body that fails once its deadline has passed.
struct Deadline {
    inner: Body,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Deadline {
    fn new(inner: Body, within: Duration) -> Self {
        Self { inner, sleep: Box::pin(tokio::time::sleep(within)) }
    }
}

impl http_body::Body for Deadline {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match this.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(TooSlow)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Receives the body within its deadline, then answers within the in-flight cap.
pub(super) async fn receive_then_answer(
    State(state): State<Arc<WebState>>,
    request: Request,
    next: Next,
) -> Response {
    let within = Duration::from_secs(state.config.web.body_timeout_seconds);
    let (parts, body) = request.into_parts();
    if parts.uri.path() != IMPORT_PATH && http_body::Body::size_hint(&body).lower() > FORM_LIMIT as u64 {
        // Announced too large: refused before a byte of it is read.
        return too_large();
    }
    let body = Body::new(Deadline::new(body, within));
    let body = if parts.uri.path() == IMPORT_PATH {
        body
    } else {
        match axum::body::to_bytes(body, FORM_LIMIT).await {
            Ok(bytes) => Body::from(bytes),
            Err(error) => return refused(&error),
        }
    };
    let Ok(_permit) = state.in_flight.clone().try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "5")],
            "Service surchargé : réessayez.\n",
        )
            .into_response();
    };
    next.run(Request::from_parts(parts, body)).await
}

/// Whether `error` (or what caused it) is a body that missed its deadline.
pub(crate) fn is_too_slow(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(e) = source {
        if e.is::<TooSlow>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// The answer to a body that could not be received.
fn refused(error: &axum::Error) -> Response {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<TooSlow>() {
            let text = alert("La requête est arrivée trop lentement : réessayez.");
            return (
                StatusCode::REQUEST_TIMEOUT,
                [(header::CONNECTION, "close")],
                page("Requête trop lente", text),
            )
                .into_response();
        }
        if e.is::<http_body_util::LengthLimitError>() {
            return too_large();
        }
        source = e.source();
    }
    // The client went away or sent a broken body: nobody is there to read a page.
    (StatusCode::BAD_REQUEST, [(header::CONNECTION, "close")], "Requête illisible.\n").into_response()
}

fn too_large() -> Response {
    let text = alert("Le formulaire envoyé est trop volumineux.");
    (StatusCode::PAYLOAD_TOO_LARGE, [(header::CONNECTION, "close")], page("Formulaire trop volumineux", text))
        .into_response()
}
