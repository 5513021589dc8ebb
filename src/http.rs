//! Serving a router over HTTP/1.1 with the bounds `axum::serve` leaves open, so that no client
//! can hold the listener by being slow or numerous:
//! - at most `max_connections` connections at once; one more is closed as soon as it is
//!   accepted (a proxy in front retries, a flood costs one accept each);
//! - a request's head must arrive within `header_timeout`, which also bounds how long a
//!   kept-alive connection may wait idle for its next request (hyper's header read timeout);
//! - bodies are bounded by the routes themselves (size) and, for the pages, by
//!   [`crate::web`]'s body deadline (time).
//!
//! On the stop signal the listener stops accepting, each connection finishes the request it is
//! answering and closes; the supervisor bounds the wait.

use std::{convert::Infallible, sync::Arc, time::Duration};

use axum::{Router, body::Body, extract::ConnectInfo};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    net::TcpListener,
    sync::{Semaphore, watch},
    task::JoinSet,
};
use tower::ServiceExt;

/// The bounds of one listener.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
}

/// Serves `app` on `listener` until `stop` turns true, then lets open connections finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (closing_tx, closing) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut turned_away: u64 = 0;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = turned(&mut stop) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!(%error, "HTTP listener: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            turned_away += 1;
            // One warning per power of two: a flood does not flood the log too.
            if turned_away.is_power_of_two() {
                tracing::warn!(
                    limit = limits.max_connections,
                    turned_away,
                    "HTTP listener: too many connections"
                );
            }
            drop(stream);
            continue;
        };
        let app = app.clone();
        let mut closing = closing.clone();
        connections.spawn(async move {
            let service = service_fn(move |mut request: hyper::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                let app = app.clone();
                async move {
                    Ok::<_, Infallible>(
                        app.oneshot(request.map(Body::new)).await.unwrap_or_else(|e| match e {}),
                    )
                }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => log_end(result),
                () = turned(&mut closing) => {
                    connection.as_mut().graceful_shutdown();
                    log_end(connection.await);
                }
            }
            drop(permit);
        });
    }
    let _ = closing_tx.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Waits until the flag is true (or its sender is gone).
async fn turned(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|on| *on).await;
}

fn log_end(result: Result<(), hyper::Error>) {
    if let Err(error) = result {
        // Timeouts, resets and malformed requests: the client's business, not an incident.
        tracing::debug!(%error, "HTTP connection ended");
    }
}
