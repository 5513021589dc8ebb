//! Serving a router over HTTP/1.1 with the bounds `axum::serve` leaves open, so that no client
//! can hold the listener by being slow or numerous:
//! - at most `max_connections` connections at once; one more is answered `503` and closed at
//!   once (nginx passes it on; a flood costs one accept and one write each);
//! - a request's head must arrive within `header_timeout`, which also bounds how long a
//!   kept-alive connection may wait idle for its next request (hyper's header read timeout);
//!   a head holds at most 64 KiB and 64 headers;
//! - a client that stops reading its answers is cut off once a write has made no progress for
//!   `write_timeout` (without it, pipelined requests never read would hold the connection);
//! - bodies are bounded by the routes themselves (size) and, for the pages, by
//!   [`crate::web`]'s body deadline (time).
//!
//! On the stop signal the listener stops accepting, each connection finishes the request it is
//! answering and closes, within [`DRAIN`].

use std::{
    convert::Infallible,
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::{Router, body::Body, extract::ConnectInfo};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::Semaphore,
    task::JoinSet,
    time::{Instant, Sleep},
};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// How long open connections get to finish after the stop signal.
const DRAIN: Duration = Duration::from_secs(20);
/// Largest request head (hyper's default is ~400 KiB: ×1024 connections, too much memory).
const MAX_HEAD_BYTES: usize = 64 * 1024;
const MAX_HEADERS: usize = 64;
const OVER_CAP: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

/// The bounds of one listener.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub write_timeout: Duration,
}

/// Serves `app` on `listener` until `stop` is cancelled, then lets open connections finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    stop: CancellationToken,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut connections = JoinSet::new();
    let mut turned_away: u64 = 0;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) if is_resource_shortage(&error) => {
                // Out of file descriptors or memory: wait a little rather than spin.
                tracing::warn!(%error, "HTTP listener: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            // A connection reset or aborted before it was accepted: the next one.
            Err(_) => continue,
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
            tokio::spawn(turn_away(stream, limits.write_timeout));
            continue;
        };
        let app = app.clone();
        let closing = stop.clone();
        connections.spawn(async move {
            let service = service_fn(move |mut request: hyper::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                let app = app.clone();
                async move {
                    let response = app.oneshot(request.map(Body::new)).await;
                    Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
                }
            });
            let io = TokioIo::new(WriteDeadline::new(stream, limits.write_timeout));
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .max_buf_size(MAX_HEAD_BYTES)
                .max_headers(MAX_HEADERS)
                .serve_connection(io, service);
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => log_end(result),
                () = closing.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    if let Ok(result) = tokio::time::timeout(DRAIN, connection).await {
                        log_end(result);
                    }
                }
            }
            drop(permit);
        });
    }
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Errors after which accepting again at once would fail the same way.
fn is_resource_shortage(error: &io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM on Linux.
    matches!(error.raw_os_error(), Some(24 | 23 | 105 | 12)) || error.kind() == io::ErrorKind::OutOfMemory
}

/// Answers a connection over the cap with 503 and closes it.
async fn turn_away(mut stream: TcpStream, within: Duration) {
    let _ = tokio::time::timeout(within, async {
        let _ = stream.write_all(OVER_CAP).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

fn log_end(result: Result<(), hyper::Error>) {
    if let Err(error) = result {
        // Timeouts, resets and malformed requests: the client's business, not an incident.
        tracing::debug!(%error, "HTTP connection ended");
    }
}

/// A stream whose writes fail once one has waited `limit` without progress: a peer that stops
/// reading cannot hold its connection by filling its receive window.
struct WriteDeadline {
    inner: TcpStream,
    limit: Duration,
    /// Armed while a write waits.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl WriteDeadline {
    fn new(inner: TcpStream, limit: Duration) -> Self {
        Self { inner, limit, stalled: None }
    }

    /// After a write returned pending: fails once it has been pending for `limit`.
    fn check_stall(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let limit = self.limit;
        let sleep =
            self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(Instant::now() + limit)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the peer stopped reading")))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn progress<T>(&mut self, result: Poll<io::Result<T>>, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match result {
            Poll::Ready(done) => {
                self.stalled = None;
                Poll::Ready(done)
            }
            Poll::Pending => match self.check_stall(cx) {
                Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
                _ => Poll::Pending,
            },
        }
    }
}

impl AsyncRead for WriteDeadline {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteDeadline {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.progress(result, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.progress(result, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_flush(cx);
        this.progress(result, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
