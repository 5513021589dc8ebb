//! Which long-running workers of `relais serve` are alive. Each registered worker beats as it
//! loops; the supervisor marks one whose task ended. `/health` answers 503 and `/metrics`
//! shows 0 for a worker that stopped or has been silent longer than it may be, so a dead or
//! stuck dispatcher, outbox or inbound worker is noticed instead of hidden behind "ok".

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use relais_core::time::now_ms;

#[derive(Debug, Clone)]
struct Worker {
    last_beat_ms: i64,
    /// `None`: the worker only reacts (a listener); only its exit is watched.
    max_silence_ms: Option<i64>,
    stopped: Option<String>,
}

/// A worker's state as `/health` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerState {
    Alive,
    /// No beat for longer than the worker may stay silent (stuck).
    Silent,
    /// Its task ended while Relais was serving (the reason, without personal data).
    Stopped(String),
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerStatus {
    pub name: &'static str,
    pub since_beat_ms: i64,
    pub state: WorkerState,
}

/// The registry of workers; lives in [`crate::Metrics`].
#[derive(Debug, Default)]
pub struct Workers {
    inner: Mutex<BTreeMap<&'static str, Worker>>,
}

impl Workers {
    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<&'static str, Worker>) -> T) -> T {
        // A poisoned lock only means a panic elsewhere while holding it; the map is still usable.
        let mut guard = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    /// Starts watching `name`, which must beat at least every `max_silence` (`None`: only its
    /// exit is watched).
    pub fn register(&self, name: &'static str, max_silence: Option<Duration>) {
        let max_silence_ms = max_silence.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        self.with(|w| w.insert(name, Worker { last_beat_ms: now_ms(), max_silence_ms, stopped: None }));
    }

    /// `name` is alive and making progress.
    pub fn beat(&self, name: &'static str) {
        let now = now_ms();
        self.with(|w| {
            if let Some(worker) = w.get_mut(name) {
                worker.last_beat_ms = now;
            }
        });
    }

    /// `name`'s task ended (`why`: its error or panic, free of personal data).
    pub fn stopped(&self, name: &'static str, why: String) {
        self.with(|w| {
            if let Some(worker) = w.get_mut(name) {
                worker.stopped = Some(why);
            }
        });
    }

    /// Every worker's state at `now` (ms).
    pub fn report(&self, now: i64) -> Vec<WorkerStatus> {
        self.with(|w| {
            w.iter()
                .map(|(name, worker)| {
                    let since_beat_ms = (now - worker.last_beat_ms).max(0);
                    let state = match (&worker.stopped, worker.max_silence_ms) {
                        (Some(why), _) => WorkerState::Stopped(why.clone()),
                        (None, Some(max)) if since_beat_ms > max => WorkerState::Silent,
                        _ => WorkerState::Alive,
                    };
                    WorkerStatus { name, since_beat_ms, state }
                })
                .collect()
        })
    }
}

/// A worker's handle to beat with.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    metrics: Arc<crate::Metrics>,
    name: &'static str,
}

impl Heartbeat {
    /// Beats for worker `name` in `metrics.workers`.
    pub fn new(metrics: Arc<crate::Metrics>, name: &'static str) -> Self {
        Self { metrics, name }
    }

    pub fn beat(&self) {
        self.metrics.workers.beat(self.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopped_and_silent_workers_are_reported() {
        let workers = Workers::default();
        workers.register("dispatcher", Some(Duration::from_secs(60)));
        workers.register("listener", None);
        workers.register("outbox", Some(Duration::from_secs(60)));
        let now = now_ms();
        assert!(workers.report(now).iter().all(|w| w.state == WorkerState::Alive));

        // Two minutes later nobody beat: the looping workers are silent, the listener is not.
        let later = now + 120_000;
        workers.beat("outbox");
        let states: Vec<_> = workers.report(later).into_iter().map(|w| (w.name, w.state)).collect();
        assert_eq!(
            states,
            [
                ("dispatcher", WorkerState::Silent),
                ("listener", WorkerState::Alive),
                ("outbox", WorkerState::Silent)
            ]
        );
        workers.beat("unknown");
        workers.stopped("listener", "panicked".into());
        let listener = workers.report(now).into_iter().find(|w| w.name == "listener").expect("listed");
        assert_eq!(listener.state, WorkerState::Stopped("panicked".into()));
    }
}
