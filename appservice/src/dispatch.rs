//! Hands journaled events to the features, from the store, so a crash loses nothing.
//!
//! A worker leases a small batch of events, runs every interested [`EventHandler`] on each in
//! order, records each handler's completion, then marks the event done. A failure reschedules
//! the event with backoff (only the handlers that had not completed run again); after
//! `[dispatch] max_attempts` it is parked as failed for an operator (`relais queue`). Leases
//! expire, so events a killed worker held are picked up by the next one.

mod event;

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use relais_core::{Store, config::DispatchConfig, time::now_ms};

use crate::queue::{IntakeQueue, QueuedEvent};

use crate::Metrics;

pub use event::DispatchedEvent;

/// A boxed future, so handlers can be stored as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a handler could not complete an event.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth retrying later (homeserver down, database busy).
    #[error("{0}")]
    Transient(String),
    /// Will never succeed (the event is not what the handler needs); parked at once.
    #[error("{0}")]
    Permanent(String),
}

/// A feature that reacts to events from the homeserver. Its effects must be idempotent: after a
/// crash between the effect and the completion record, it runs again for the same event.
pub trait EventHandler: Send + Sync + std::fmt::Debug {
    /// Stable name, recorded in the store for per-handler completion.
    fn name(&self) -> &'static str;
    /// Handles one event, decoded once for all handlers. The message of an error must not
    /// contain personal data.
    fn handle<'a>(&'a self, event: &'a DispatchedEvent) -> BoxFuture<'a, Result<(), HandlerError>>;
}

const BATCH: i64 = 16;
/// The dispatcher's name among `relais serve`'s workers (see [`crate::health`]).
pub const WORKER: &str = "dispatcher";
const IDLE_POLL: Duration = Duration::from_secs(1);
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// One dispatch worker.
#[derive(Debug)]
pub struct Dispatcher {
    store: Store,
    handlers: Vec<Arc<dyn EventHandler>>,
    metrics: Arc<Metrics>,
    config: DispatchConfig,
    owner: String,
    wakeup: Arc<Notify>,
}

impl Dispatcher {
    /// A worker with a random identity, woken by `wakeup` when new events are journaled.
    pub fn new(
        store: Store,
        handlers: Vec<Arc<dyn EventHandler>>,
        metrics: Arc<Metrics>,
        config: DispatchConfig,
        wakeup: Arc<Notify>,
    ) -> Self {
        let owner = format!("worker-{:016x}", rand::random::<u64>());
        Self { store, handlers, metrics, config, owner, wakeup }
    }

    fn lease_ms(&self) -> i64 {
        i64::from(self.config.lease_seconds) * 1000
    }

    /// Runs until `shutdown` is cancelled; the event in hand is finished, the rest released.
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!(worker = %self.owner, handlers = self.handlers.len(), "dispatcher started");
        let mut last_prune = tokio::time::Instant::now() - PRUNE_EVERY;
        while !shutdown.is_cancelled() {
            self.metrics.workers.beat(WORKER);
            if last_prune.elapsed() >= PRUNE_EVERY {
                self.prune().await;
                last_prune = tokio::time::Instant::now();
            }
            let batch = match self.store.claim_events(&self.owner, self.lease_ms(), BATCH).await {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::error!(%error, "cannot claim events; retrying");
                    Vec::new()
                }
            };
            if batch.is_empty() {
                tokio::select! {
                    _ = self.wakeup.notified() => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                    () = shutdown.cancelled() => {}
                }
                continue;
            }
            self.run_batch(batch, &shutdown).await;
        }
        tracing::info!(worker = %self.owner, "dispatcher stopped");
    }

    async fn run_batch(&self, batch: Vec<QueuedEvent>, shutdown: &CancellationToken) {
        let mut renew_at = now_ms() + self.lease_ms() / 2;
        let mut events = batch.into_iter();
        for event in events.by_ref() {
            if shutdown.is_cancelled() {
                self.release(&event).await;
                break;
            }
            if now_ms() >= renew_at {
                if let Err(error) = self.store.renew_leases(&self.owner, self.lease_ms()).await {
                    tracing::warn!(%error, "cannot renew leases");
                }
                renew_at = now_ms() + self.lease_ms() / 2;
            }
            self.process(DispatchedEvent::decode(event)).await;
            self.metrics.workers.beat(WORKER);
        }
        for event in events {
            self.release(&event).await;
        }
    }

    async fn release(&self, event: &QueuedEvent) {
        if let Err(error) = self.store.release_event(event.seq, &self.owner).await {
            tracing::warn!(%error, "cannot release a lease; it will expire");
        }
    }

    #[tracing::instrument(skip_all, fields(event_id = %dispatched.queued.event_id, event_type = %dispatched.queued.event_type))]
    async fn process(&self, dispatched: DispatchedEvent) {
        let event = &dispatched.queued;
        let done = match self.store.handlers_done(&event.event_id).await {
            Ok(done) => done,
            Err(error) => return self.fail(event, &format!("store: {error}"), false).await,
        };
        for handler in &self.handlers {
            if done.iter().any(|name| name == handler.name()) {
                continue;
            }
            match handler.handle(&dispatched).await {
                Ok(()) => {
                    if let Err(error) = self.store.mark_handler_done(&event.event_id, handler.name()).await {
                        return self.fail(event, &format!("store: {error}"), false).await;
                    }
                }
                Err(error) => {
                    let permanent = matches!(error, HandlerError::Permanent(_));
                    return self.fail(event, &format!("{}: {error}", handler.name()), permanent).await;
                }
            }
        }
        match self.store.complete_event(event.seq, &self.owner).await {
            Ok(true) => self.metrics.events_handled.inc(),
            Ok(false) => {
                tracing::warn!("lease lost before completion; another worker will redo it")
            }
            Err(error) => {
                tracing::error!(%error, "cannot mark an event handled; it will be retried")
            }
        }
    }

    async fn fail(&self, event: &QueuedEvent, reason: &str, permanent: bool) {
        self.metrics.event_attempts_failed.inc();
        let attempts = event.attempts.saturating_add(1);
        let max = if permanent { 0 } else { i64::from(self.config.max_attempts) };
        let retry_in = backoff_ms(attempts);
        tracing::warn!(attempts, permanent, reason, "event handling failed");
        if let Err(error) = self.store.fail_event(event.seq, &self.owner, reason, retry_in, max).await {
            tracing::error!(%error, "cannot record a failed attempt; the lease will expire");
        }
    }

    async fn prune(&self) {
        let keep_ms = i64::from(self.config.retention_days) * 24 * 3600 * 1000;
        match self.store.prune_intake(now_ms() - keep_ms).await {
            Ok(0) => {}
            Ok(rows) => tracing::info!(rows, "pruned old intake records"),
            Err(error) => tracing::warn!(%error, "cannot prune the intake journal"),
        }
    }
}

/// 1 s, 2 s, 4 s … capped at 10 minutes.
fn backoff_ms(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    (1000_i64 << exp).min(600_000)
}

#[cfg(test)]
mod tests {
    use super::backoff_ms;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff_ms(1), 1000);
        assert_eq!(backoff_ms(2), 2000);
        assert_eq!(backoff_ms(4), 8000);
        assert_eq!(backoff_ms(40), 600_000);
    }
}
