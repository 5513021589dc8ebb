//! The tasks of `relais serve`, under watch. Each has a name and is listed in `/health` and
//! `/metrics`. One that ends while Relais serves (an error or a panic), or a looping worker
//! that stops beating, stops Relais with a non-zero exit, so the service manager restarts it
//! (`Restart=on-failure`): a dead dispatcher, outbox or inbound worker is never left dead behind
//! a process that looks alive. Nothing is lost by the restart: all work waits in the store.

use std::{collections::HashMap, future::Future, sync::Arc, time::Duration};

use tokio::task::{Id, JoinSet};

use relais_appservice::{Metrics, health::WorkerState};

/// How long in-flight work may take to finish after a stop signal.
const DRAIN: Duration = Duration::from_secs(30);
/// How often silent workers are looked for.
const WATCH_EVERY: Duration = Duration::from_secs(10);

/// Why a supervised task made Relais stop.
#[derive(Debug)]
pub struct Failure {
    pub worker: &'static str,
    pub why: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the {} worker {}", self.worker, self.why)
    }
}

/// The named tasks of one `relais serve`.
#[derive(Debug)]
pub struct Supervisor {
    set: JoinSet<anyhow::Result<()>>,
    names: HashMap<Id, &'static str>,
    metrics: Arc<Metrics>,
}

impl Supervisor {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { set: JoinSet::new(), names: HashMap::new(), metrics }
    }

    /// Runs `task` as worker `name`, which beats at least every `max_silence` (`None`: a
    /// listener, only its exit is watched).
    ///
    /// `RELAIS_TEST_FAIL_WORKER=name` makes that worker panic as it starts: the tests use it to
    /// prove a dying worker is noticed.
    pub fn spawn(
        &mut self,
        name: &'static str,
        max_silence: Option<Duration>,
        task: impl Future<Output = anyhow::Result<()>> + Send + 'static,
    ) {
        self.metrics.workers.register(name, max_silence);
        let fail = std::env::var("RELAIS_TEST_FAIL_WORKER").is_ok_and(|w| w == name);
        let handle = self.set.spawn(async move {
            if fail {
                panic!("test failpoint: the {name} worker panics");
            }
            task.await
        });
        self.names.insert(handle.id(), name);
    }

    fn name(&self, id: Id) -> &'static str {
        self.names.get(&id).copied().unwrap_or("unknown")
    }

    /// Waits until a task ends or a worker is silent too long; never returns while all is well.
    pub async fn failure(&mut self) -> Failure {
        let metrics = self.metrics.clone();
        let silent = async move {
            loop {
                tokio::time::sleep(WATCH_EVERY).await;
                let report = metrics.workers.report(relais_core::time::now_ms());
                if let Some(w) = report.into_iter().find(|w| w.state == WorkerState::Silent) {
                    return Failure {
                        worker: w.name,
                        why: format!("is stuck: no beat for {} s", w.since_beat_ms / 1000),
                    };
                }
            }
        };
        tokio::select! {
            failure = silent => failure,
            failure = self.next_exit() => failure,
        }
    }

    async fn next_exit(&mut self) -> Failure {
        let Some(joined) = self.set.join_next_with_id().await else {
            return std::future::pending().await;
        };
        let (worker, why) = match joined {
            Ok((id, Ok(()))) => (self.name(id), "ended".to_owned()),
            Ok((id, Err(error))) => (self.name(id), format!("failed: {error:#}")),
            Err(error) if error.is_panic() => (self.name(error.id()), "panicked".to_owned()),
            Err(error) => (self.name(error.id()), "was cancelled".to_owned()),
        };
        self.metrics.workers.stopped(worker, why.clone());
        Failure { worker, why }
    }

    /// After the stop signal: waits for every task, at most [`DRAIN`]; unfinished events stay
    /// queued for the next start.
    pub async fn drain(mut self) {
        let drained = tokio::time::timeout(DRAIN, async {
            while let Some(joined) = self.set.join_next_with_id().await {
                match joined {
                    Ok((_, Ok(()))) => {}
                    Ok((id, Err(error))) => {
                        tracing::error!(worker = self.name(id), error = %format!("{error:#}"), "task failed")
                    }
                    Err(error) => tracing::error!(
                        worker = self.name(error.id()),
                        end = relais_core::panic::task_end(&error),
                        "task did not finish"
                    ),
                }
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!("in-flight work did not finish in time; unfinished events stay queued");
        }
    }
}
