//! The journal: provisioning runs and their actions, written under the provisioning lease's
//! fence; an action completes with its effect on the record and its audit line in one
//! transaction (many actions in one, written many rows to a statement: `batch`).

use sqlx::{Any, Row, Transaction};

use super::{AuditEntry, Effect, batch};
use relais_core::{StoreError, store::lease::Fence, time::now_ms};

use super::ProvisioningStore;

/// A journaled action not yet done.
#[derive(Debug, Clone)]
pub struct PendingAction {
    pub run_id: i64,
    pub seq: i64,
    pub room_key: Option<String>,
    pub payload: String,
}

/// Where a provisioning run stands, as `prov_run.state` stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// Journaled; its actions are being applied (or wait for the next run to finish them).
    Applying,
    /// Every action done or failed for good; or a drift check that found nothing to repair.
    Done,
    /// Planned and shown, nothing changed.
    DryRun,
    /// Refused by the removal guard, nothing changed.
    Refused,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applying => "applying",
            Self::Done => "done",
            Self::DryRun => "dry_run",
            Self::Refused => "refused",
        }
    }

    /// The stored word; an unknown one is a corrupt record.
    pub fn parse(stored: &str) -> Result<Self, StoreError> {
        match stored {
            "applying" => Ok(Self::Applying),
            "done" => Ok(Self::Done),
            "dry_run" => Ok(Self::DryRun),
            "refused" => Ok(Self::Refused),
            other => Err(StoreError::Corrupt(format!("prov_run.state {other:?}"))),
        }
    }
}

/// A provisioning run as recorded.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub run_id: i64,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub actor: String,
    pub source: String,
    pub state: RunState,
    pub summary: String,
    pub errors: String,
    /// The federation key of a federation's own import (`None`: the national file).
    pub scope: Option<String>,
}

/// A provisioning run as journaled: who started it, from what, with what plan summary.
#[derive(Debug, Clone, Copy)]
pub struct NewRun<'a> {
    pub actor: &'a str,
    pub source: &'a str,
    /// The plan's counts (JSON object).
    pub summary: &'a str,
    /// The file's row errors (JSON array).
    pub errors: &'a str,
    /// The federation key of a federation's own export; `None`: national, drift or onboarding.
    pub scope: Option<&'a str>,
    /// The file columns the run read (JSON array of names); `None` when no file was read.
    pub columns: Option<&'a str>,
}

impl<'a> NewRun<'a> {
    /// A run with an empty summary, no row errors, no scope and no file columns.
    pub fn new(actor: &'a str, source: &'a str) -> Self {
        Self { actor, source, summary: "{}", errors: "[]", scope: None, columns: None }
    }
}

/// Journaled actions past which PostgreSQL's statistics of the journal are refreshed at once.
const ANALYZE_AFTER: usize = 10_000;

impl ProvisioningStore {
    /// Journals a run and all its actions in one transaction fenced by the provisioning lease;
    /// returns the run id.
    pub async fn start_run(
        &self,
        fence: &Fence,
        run: &NewRun<'_>,
        actions: &[(Option<String>, String)],
    ) -> Result<i64, StoreError> {
        let mut tx = self.store.begin_fenced(fence).await?;
        let run_id = insert_run(&mut tx, run, RunState::Applying, None).await?;
        batch::insert_actions(&mut tx, self.store.backend(), run_id, actions).await?;
        tx.commit().await?;
        if actions.len() >= ANALYZE_AFTER && self.store.backend() == relais_core::store::Backend::Postgres {
            // PostgreSQL plans with the table's statistics, which autovacuum refreshes only
            // later: without them it takes the freshly journaled hundred thousand actions for a
            // few and marks them done by reading all of them each time (seconds per batch).
            // The run is journaled whatever this says: a failure only costs time.
            if let Err(error) = sqlx::query("ANALYZE prov_action").execute(self.pool()).await {
                tracing::warn!(%error, "cannot refresh the journal's statistics; marking actions done may be slow");
            }
        }
        Ok(run_id)
    }

    /// Records a run that was planned but not applied (`state`: dry run, refused by the guard,
    /// or a drift check with nothing to repair), fenced by the provisioning lease: a stalled
    /// holder's late record would make others skip a round.
    pub async fn record_run(
        &self,
        fence: &Fence,
        run: &NewRun<'_>,
        state: RunState,
    ) -> Result<i64, StoreError> {
        let mut tx = self.store.begin_fenced(fence).await?;
        let run_id = insert_run(&mut tx, run, state, Some(now_ms())).await?;
        tx.commit().await?;
        Ok(run_id)
    }

    /// The columns of the newest applied import of `scope` (a federation key; `None`: the
    /// national file), else of the newest applied national import (JSON array of names).
    pub async fn last_columns(&self, scope: Option<&str>) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT columns FROM prov_run WHERE columns IS NOT NULL \
             AND state NOT IN ('dry_run', 'refused') AND (scope IS NULL OR scope = $1) \
             ORDER BY CASE WHEN scope IS NULL THEN 1 ELSE 0 END, run_id DESC LIMIT 1",
        )
        .bind(scope.unwrap_or(""))
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.try_get("columns")).transpose()?)
    }

    /// Whether an unfinished run has actions left.
    pub async fn has_pending(&self) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT run_id FROM prov_action WHERE state = 'pending' LIMIT 1")
            .fetch_optional(self.pool())
            .await?;
        Ok(row.is_some())
    }

    /// Actions of unfinished runs, oldest first.
    pub async fn pending_actions(&self) -> Result<Vec<PendingAction>, StoreError> {
        let rows = sqlx::query(
            "SELECT run_id, seq, room_key, payload FROM prov_action WHERE state = 'pending' ORDER BY run_id, seq",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PendingAction {
                    run_id: r.try_get("run_id")?,
                    seq: r.try_get("seq")?,
                    room_key: r.try_get("room_key")?,
                    payload: r.try_get("payload")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Marks pending actions done and applies their effects and audit lines, all in one
    /// transaction fenced by the provisioning lease. An action no longer pending (done or failed
    /// by another holder) is left as it is, and its effect is not applied twice.
    pub async fn complete(
        &self,
        fence: &Fence,
        done: &[(i64, i64, Option<Effect>, AuditEntry)],
    ) -> Result<(), StoreError> {
        let mut tx = self.store.begin_fenced(fence).await?;
        let now = now_ms();
        // Which of them were still pending, run by run (an action done already, by a run that
        // finished it before a crash was noticed, changes nothing twice).
        let mut marked = std::collections::HashSet::new();
        let mut runs: Vec<i64> = done.iter().map(|(run_id, ..)| *run_id).collect();
        runs.sort_unstable();
        runs.dedup();
        for run_id in runs {
            let seqs: Vec<i64> = done.iter().filter(|d| d.0 == run_id).map(|d| d.1).collect();
            marked.extend(
                batch::mark_done(&mut tx, self.store.backend(), run_id, &seqs, now)
                    .await?
                    .into_iter()
                    .map(|seq| (run_id, seq)),
            );
        }
        let completed: Vec<_> =
            done.iter().filter(|(run_id, seq, ..)| marked.contains(&(*run_id, *seq))).collect();
        let effects: Vec<&Effect> =
            completed.iter().filter_map(|(_, _, effect, _)| effect.as_ref()).collect();
        batch::apply_effects(&mut tx, self.store.backend(), &effects, now).await?;
        let audits: Vec<&AuditEntry> = completed.iter().map(|(.., audit)| audit).collect();
        batch::insert_audits(&mut tx, self.store.backend(), &audits).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks a pending action failed for good (the next import plans it again), fenced by the
    /// provisioning lease.
    pub async fn fail(&self, fence: &Fence, run_id: i64, seq: i64, error: &str) -> Result<(), StoreError> {
        let mut tx = self.store.begin_fenced(fence).await?;
        sqlx::query(
            "UPDATE prov_action SET state = 'failed', error = $1, done_at = $2 \
             WHERE run_id = $3 AND seq = $4 AND state = 'pending'",
        )
        .bind(error)
        .bind(now_ms())
        .bind(run_id)
        .bind(seq)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Closes every run whose actions are all done or failed, fenced by the provisioning lease.
    pub async fn close_finished_runs(&self, fence: &Fence) -> Result<(), StoreError> {
        let mut tx = self.store.begin_fenced(fence).await?;
        sqlx::query(
            "UPDATE prov_run SET state = 'done', finished_at = $1 WHERE state = 'applying' AND NOT EXISTS \
             (SELECT 1 FROM prov_action a WHERE a.run_id = prov_run.run_id AND a.state = 'pending')",
        )
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The latest runs, newest first.
    pub async fn runs(&self, limit: i64) -> Result<Vec<RunRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT run_id, started_at, finished_at, actor, source, state, summary, errors, scope FROM prov_run \
             ORDER BY run_id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RunRecord {
                    run_id: r.try_get("run_id")?,
                    started_at: r.try_get("started_at")?,
                    finished_at: r.try_get("finished_at")?,
                    actor: r.try_get("actor")?,
                    source: r.try_get("source")?,
                    state: RunState::parse(&r.try_get::<String, _>("state")?)?,
                    summary: r.try_get("summary")?,
                    errors: r.try_get("errors")?,
                    scope: r.try_get("scope")?,
                })
            })
            .collect()
    }

    /// Failed actions of a run, with their error.
    pub async fn failed_actions(&self, run_id: i64) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT payload, error FROM prov_action WHERE run_id = $1 AND state = 'failed' ORDER BY seq",
        )
        .bind(run_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((r.try_get("payload")?, r.try_get::<Option<String>, _>("error")?.unwrap_or_default()))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}

async fn insert_run(
    tx: &mut Transaction<'_, Any>,
    run: &NewRun<'_>,
    state: RunState,
    finished_at: Option<i64>,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO prov_run (started_at, finished_at, actor, source, state, summary, errors, scope, columns) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING run_id",
    )
    .bind(now_ms())
    .bind(finished_at)
    .bind(run.actor)
    .bind(run.source)
    .bind(state.as_str())
    .bind(run.summary)
    .bind(run.errors)
    .bind(run.scope)
    .bind(run.columns)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get("run_id")?)
}
