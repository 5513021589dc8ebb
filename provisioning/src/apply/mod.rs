//! Applying a plan: journal first, then execute, recording each completed action with its
//! effect in one transaction. A killed process or a homeserver outage leaves the rest pending,
//! and the next run finishes it before planning anything new.
//!
//! Store-only actions are recorded in batches. Rooms are created parents first. Every other
//! homeserver action runs in its room's serial queue; rooms run in parallel, bounded; what the
//! queues complete is recorded many actions to a transaction (`recorder`), each phase ending
//! with all of it recorded.
//!
//! Only the holder of the provisioning lease ([`LEASE`]) plans or applies: two runs (the CLI,
//! the referents' page, the drift timer, a resume at start, on one node or several sharing the
//! database) never execute the same pending actions at once. A run that loses its lease stops
//! before its next action; a killed run's lease expires and the next run finishes its journal.

pub(crate) mod homeserver;
mod invite;
pub mod observe;
mod record;
mod recorder;

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::{sync::Semaphore, task::JoinSet};

use relais_mail::Mailer;

use relais_appservice::{MatrixClient, Metrics};
use relais_core::{
    Config, Store, StoreError,
    store::lease::{Lease, LeaseWatch},
    time::now_ms,
};

pub use homeserver::{Failure, Homeserver};
pub use invite::Inviter;
pub use record::{describe, effect_of, recorded};

use crate::plan::Action;

/// Store-only actions recorded per transaction.
const BATCH: usize = 500;

pub use crate::store::LEASE;
use crate::store::{AuditEntry, PendingAction, ProvisioningStore};

/// Why applying stopped.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("the homeserver is unreachable ({0}); nothing is lost: run the same command again to finish")]
    HomeserverDown(String),
    #[error(
        "this run lost the provisioning lease (it could not renew it in time, or another run took over); \
         it stopped before its next action and nothing is lost: the pending actions are finished by the \
         run that holds the lease, or by the next one"
    )]
    LeaseLost,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ApplyError {
    /// A fenced write refused because the lease is someone else's is a lost lease, not a failure.
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::LeaseLost(_) => Self::LeaseLost,
            other => Self::Store(other),
        }
    }
}

/// What a run did.
#[derive(Debug, Default)]
pub struct ApplyReport {
    pub done: usize,
    /// (action kind and target, error) of actions that could not be done.
    pub failed: Vec<(String, String)>,
}

/// Executes journaled actions.
#[derive(Debug, Clone)]
pub struct Applier {
    pub homeserver: Homeserver,
    pub store: Store,
    pub actor: String,
    pub concurrency: usize,
    /// Actions completed so far, for progress display.
    pub progress: Arc<AtomicUsize>,
    /// Invitation emails (`None`: mail or registration not configured).
    pub inviter: Option<Inviter>,
    /// How long the provisioning lease outlives a holder that stops renewing it (killed).
    pub lease_ttl: Duration,
}

struct Job {
    run_id: i64,
    seq: i64,
    action: Action,
}

/// Why an applier cannot be built from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ApplierConfigError {
    #[error("configuring the homeserver client: {0}")]
    Client(#[from] relais_appservice::ClientError),
    #[error("configuring [mail]: {0}")]
    Mail(#[from] relais_mail::MailError),
}

impl Applier {
    /// The executor of provisioning actions for this deployment, acting as `actor` (recorded in
    /// the audit log); `progress` counts the actions done.
    pub fn for_deployment(
        config: &Config,
        store: &Store,
        actor: String,
        progress: Arc<AtomicUsize>,
    ) -> Result<Self, ApplierConfigError> {
        let client = MatrixClient::new(config, Arc::new(Metrics::default()))?;
        let inviter = match (&config.mail.smtp_url, config.invitations_enabled()) {
            (Some(url), true) => Some(Inviter {
                mailer: Mailer::new(url.expose(), &config.mail.from)?,
                web_url: config.web.public_url.as_str().trim_end_matches('/').to_owned(),
                valid_days: config.provisioning.invitation_days,
            }),
            _ => None,
        };
        Ok(Self {
            homeserver: Homeserver::new(client, store.clone(), config),
            store: store.clone(),
            actor,
            concurrency: config.provisioning.concurrency as usize,
            progress,
            inviter,
            lease_ttl: Duration::from_secs(u64::from(config.provisioning.lease_seconds)),
        })
    }

    /// Provisioning's tables (the applier's `store` also holds the lease).
    pub fn records(&self) -> ProvisioningStore {
        ProvisioningStore::new(self.store.clone())
    }

    fn audit(&self, action: &Action) -> AuditEntry {
        let (target, detail) = describe(action);
        AuditEntry { at: now_ms(), actor: self.actor.clone(), action: action.kind().into(), target, detail }
    }

    /// Takes the provisioning lease if no other run holds it; `None`: another run is at work.
    pub async fn try_lock(&self) -> Result<Option<Lease>, StoreError> {
        Lease::try_acquire(&self.store, LEASE, &self.actor, self.lease_ttl).await
    }

    /// Waits for the provisioning lease at most `patience` (`None`: until it is free); `waiting`
    /// is told the holder once if another run holds it at first. `None`: still held at the end.
    pub async fn lock(
        &self,
        patience: Option<Duration>,
        waiting: impl FnOnce(&str),
    ) -> Result<Option<Lease>, StoreError> {
        Lease::acquire(&self.store, LEASE, &self.actor, self.lease_ttl, patience, waiting).await
    }

    /// Runs every pending action of every unfinished run, under the provisioning lease `lease`:
    /// stops before the next action once it is lost.
    pub async fn finish_pending(&self, lease: &Lease) -> Result<ApplyReport, ApplyError> {
        let lease = lease.watch();
        held(&lease)?;
        let pending = self.records().pending_actions().await?;
        let mut report = ApplyReport::default();
        let jobs = self.parse(pending, &lease, &mut report).await?;
        let (store_only, external): (Vec<Job>, Vec<Job>) =
            jobs.into_iter().partition(|j| j.action.is_store_only());
        let (homeserver, invitations): (Vec<Job>, Vec<Job>) =
            external.into_iter().partition(|j| j.action.writes_homeserver());
        for chunk in store_only.chunks(BATCH) {
            held(&lease)?;
            let done: Vec<_> = chunk
                .iter()
                .map(|j| (j.run_id, j.seq, Some(effect_of(&j.action, "")), self.audit(&j.action)))
                .collect();
            self.records().complete(lease.fence(), &done).await?;
            report.done += done.len();
            self.progress.fetch_add(done.len(), Ordering::Relaxed);
        }
        let (creations, others): (Vec<Job>, Vec<Job>) =
            homeserver.into_iter().partition(|j| matches!(j.action, Action::CreateRoom { .. }));
        let mut by_level: BTreeMap<u8, Vec<Job>> = BTreeMap::new();
        for job in creations {
            if let Action::CreateRoom { kind, parent, .. } = &job.action {
                by_level.entry(kind.level(parent.is_some())).or_default().push(job);
            }
        }
        for (_, level) in by_level {
            self.run_queues(level.into_iter().map(|j| vec![j]).collect(), &lease, &mut report).await?;
        }
        let mut by_room: BTreeMap<String, Vec<Job>> = BTreeMap::new();
        for job in others {
            by_room.entry(job.action.room().unwrap_or_default().to_owned()).or_default().push(job);
        }
        self.run_queues(by_room.into_values().collect(), &lease, &mut report).await?;
        self.run_queues(invitations.into_iter().map(|j| vec![j]).collect(), &lease, &mut report).await?;
        self.records().close_finished_runs(lease.fence()).await?;
        Ok(report)
    }

    async fn parse(
        &self,
        pending: Vec<PendingAction>,
        lease: &LeaseWatch,
        report: &mut ApplyReport,
    ) -> Result<Vec<Job>, ApplyError> {
        let mut jobs = Vec::with_capacity(pending.len());
        for p in pending {
            match serde_json::from_str::<Action>(&p.payload) {
                Ok(action) => jobs.push(Job { run_id: p.run_id, seq: p.seq, action }),
                Err(e) => {
                    // Never serde's message: it may quote the member's record the entry holds.
                    let error =
                        format!("unreadable journal entry: {}", relais_core::json::error_without_data(&e));
                    self.records().fail(lease.fence(), p.run_id, p.seq, &error).await?;
                    report.failed.push((format!("journal {}/{}", p.run_id, p.seq), error));
                }
            }
        }
        Ok(jobs)
    }

    /// Runs each queue serially, up to `concurrency` queues at once. Stops at the first outage
    /// or once the lease is lost.
    async fn run_queues(
        &self,
        queues: Vec<Vec<Job>>,
        lease: &LeaseWatch,
        report: &mut ApplyReport,
    ) -> Result<(), ApplyError> {
        let permits = Arc::new(Semaphore::new(self.concurrency.max(1)));
        let recorder = recorder::Recorder::start(self.records(), lease.fence().clone());
        let mut tasks = JoinSet::new();
        // Longest queues first: a federation space's hundreds of invitations, each after the
        // last, take longer than all its cells together; started last, they would run alone at
        // the end while the other permits sit idle.
        let mut queues = queues;
        queues.sort_by_key(|queue| std::cmp::Reverse(queue.len()));
        for queue in queues {
            let this = self.clone();
            let permits = permits.clone();
            let lease = lease.clone();
            let record = recorder.sender();
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                this.run_queue(queue, &lease, &record).await
            });
        }
        let mut outage = None;
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(queue_report)) => {
                    report.done += queue_report.done;
                    report.failed.extend(queue_report.failed);
                }
                Ok(Err(e)) => {
                    outage.get_or_insert(e);
                    tasks.abort_all();
                }
                Err(e) if e.is_cancelled() => {}
                Err(e) => {
                    let end = relais_core::panic::task_end(&e);
                    outage = Some(ApplyError::HomeserverDown(format!("task {end}")));
                }
            }
        }
        // What the queues completed is recorded before anything else is said: a recorder that
        // failed is the reason the queues stopped.
        recorder.finish().await?;
        outage.map_or(Ok(()), Err)
    }

    async fn run_queue(
        &self,
        queue: Vec<Job>,
        lease: &LeaseWatch,
        record: &tokio::sync::mpsc::Sender<recorder::Done>,
    ) -> Result<ApplyReport, ApplyError> {
        let mut report = ApplyReport::default();
        for job in queue {
            held(lease)?;
            match self.execute(&job.action, lease).await {
                Ok(created) => {
                    let effect = effect_of(&job.action, created.as_ref().map_or("", |id| id.as_str()));
                    let done = (job.run_id, job.seq, Some(effect), self.audit(&job.action));
                    if matches!(job.action, Action::SendInvitation { .. }) {
                        // A mail sent twice is not idempotent: recorded before the next one goes.
                        self.records().complete(lease.fence(), &[done]).await?;
                    } else if record.send(done).await.is_err() {
                        return Err(ApplyError::Store(StoreError::Io(
                            "the provisioning recorder stopped".into(),
                        )));
                    }
                    report.done += 1;
                }
                Err(Failure::Transient(e)) => return Err(ApplyError::HomeserverDown(e)),
                Err(Failure::LeaseLost) => return Err(ApplyError::LeaseLost),
                Err(Failure::Permanent(e)) => {
                    tracing::warn!(action = job.action.kind(), error = %e, "provisioning action failed");
                    self.records().fail(lease.fence(), job.run_id, job.seq, &e).await?;
                    let (target, _) = describe(&job.action);
                    report.failed.push((format!("{} {target}", job.action.kind()), e));
                }
            }
            self.progress.fetch_add(1, Ordering::Relaxed);
        }
        Ok(report)
    }

    async fn execute(
        &self,
        action: &Action,
        lease: &LeaseWatch,
    ) -> Result<Option<ruma::OwnedRoomId>, Failure> {
        match (action, &self.inviter) {
            (Action::SendInvitation { .. }, Some(inviter)) => {
                inviter.send(&self.records(), lease.fence(), action).await.map(|()| None)
            }
            (Action::SendInvitation { .. }, None) => Err(Failure::Permanent(
                "invitations need [mail] smtp_url and [homeserver] registration_shared_secret".into(),
            )),
            _ => self.homeserver.execute(action).await,
        }
    }
}

/// Fails once the lease is lost: another run may be executing the same actions.
fn held(lease: &LeaseWatch) -> Result<(), ApplyError> {
    if lease.is_lost() { Err(ApplyError::LeaseLost) } else { Ok(()) }
}
