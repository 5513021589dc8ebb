//! Persistence of provisioning: the recorded state, the action journal and the audit log.
//!
//! The shapes here are the store's: member records and action payloads are JSON text produced
//! and read by the provisioning crate, so this crate stays free of its domain types.

use sqlx::{Any, Row, Transaction};

use super::{Store, StoreError, lease::Fence};
use crate::time::now_ms;

/// A provisioned room as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomRecord {
    pub key: String,
    pub kind: String,
    pub name: String,
    pub parent_key: Option<String>,
    pub room_id: String,
    /// JSON array of user ids.
    pub moderators: String,
}

/// Everything recorded, loaded at once for planning.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub rooms: Vec<RoomRecord>,
    /// (member id, JSON record).
    pub members: Vec<(String, String)>,
    /// (room key, member id, user id).
    pub access: Vec<(String, String, String)>,
    /// (room key, member id).
    pub subscriptions: Vec<(String, String)>,
    /// Onboarding invitations.
    pub invitations: Vec<super::onboarding::Invitation>,
}

/// A journaled action not yet done.
#[derive(Debug, Clone)]
pub struct PendingAction {
    pub run_id: i64,
    pub seq: i64,
    pub room_key: Option<String>,
    pub payload: String,
}

/// The change to the record that completing an action makes.
#[derive(Debug, Clone)]
pub enum Effect {
    Room(RoomRecord),
    Rename {
        key: String,
        name: String,
    },
    Moderators {
        key: String,
        moderators: String,
    },
    Grant {
        room_key: String,
        member_id: String,
        user_id: String,
    },
    Revoke {
        room_key: String,
        member_id: String,
        user_id: String,
    },
    Subscribe {
        room_key: String,
        member_id: String,
    },
    Unsubscribe {
        room_key: String,
        member_id: String,
    },
    Member {
        member_id: String,
        record: String,
        active: bool,
        matrix_id: Option<String>,
        email: Option<String>,
    },
    /// The invitation email of a member without an account went out.
    InvitationSent {
        member_id: String,
    },
}

/// One line of the audit log.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
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

impl Store {
    /// Loads the whole recorded state.
    pub async fn prov_snapshot(&self) -> Result<Snapshot, StoreError> {
        let pool = self.pool();
        let rooms =
            sqlx::query("SELECT room_key, kind, name, parent_key, room_id, moderators FROM prov_room")
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| {
                    Ok(RoomRecord {
                        key: r.try_get("room_key")?,
                        kind: r.try_get("kind")?,
                        name: r.try_get("name")?,
                        parent_key: r.try_get("parent_key")?,
                        room_id: r.try_get("room_id")?,
                        moderators: r.try_get("moderators")?,
                    })
                })
                .collect::<Result<_, sqlx::Error>>()?;
        let members = sqlx::query("SELECT member_id, record FROM prov_member")
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("member_id")?, r.try_get("record")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        let access = sqlx::query("SELECT room_key, member_id, user_id FROM prov_access")
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("room_key")?, r.try_get("member_id")?, r.try_get("user_id")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        let subscriptions = sqlx::query("SELECT room_key, member_id FROM prov_subscription")
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("room_key")?, r.try_get("member_id")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        let invitations = self.invitations().await?;
        Ok(Snapshot { rooms, members, access, subscriptions, invitations })
    }

    /// The Matrix room id of a provisioned room.
    pub async fn prov_room_id(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT room_id FROM prov_room WHERE room_key = $1")
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("room_id")).transpose()?)
    }

    /// Journals a run and all its actions in one transaction fenced by the provisioning lease;
    /// returns the run id.
    pub async fn prov_start_run(
        &self,
        fence: &Fence,
        run: &NewRun<'_>,
        actions: &[(Option<String>, String)],
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_fenced(fence).await?;
        let run_id = insert_run(&mut tx, run, RunState::Applying, None).await?;
        for (seq, (room_key, payload)) in actions.iter().enumerate() {
            sqlx::query("INSERT INTO prov_action (run_id, seq, room_key, payload) VALUES ($1, $2, $3, $4)")
                .bind(run_id)
                .bind(i64::try_from(seq).unwrap_or(i64::MAX))
                .bind(room_key.as_deref())
                .bind(payload)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(run_id)
    }

    /// Records a run that was planned but not applied (`state`: dry run, refused by the guard,
    /// or a drift check with nothing to repair), fenced by the provisioning lease: a stalled
    /// holder's late record would make others skip a round.
    pub async fn prov_record_run(
        &self,
        fence: &Fence,
        run: &NewRun<'_>,
        state: RunState,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_fenced(fence).await?;
        let run_id = insert_run(&mut tx, run, state, Some(now_ms())).await?;
        tx.commit().await?;
        Ok(run_id)
    }

    /// The columns of the newest applied import of `scope` (a federation key; `None`: the
    /// national file), else of the newest applied national import (JSON array of names).
    pub async fn prov_last_columns(&self, scope: Option<&str>) -> Result<Option<String>, StoreError> {
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
    pub async fn prov_has_pending(&self) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT run_id FROM prov_action WHERE state = 'pending' LIMIT 1")
            .fetch_optional(self.pool())
            .await?;
        Ok(row.is_some())
    }

    /// Actions of unfinished runs, oldest first.
    pub async fn prov_pending_actions(&self) -> Result<Vec<PendingAction>, StoreError> {
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
    pub async fn prov_complete(
        &self,
        fence: &Fence,
        done: &[(i64, i64, Option<Effect>, AuditEntry)],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_fenced(fence).await?;
        let now = now_ms();
        for (run_id, seq, effect, audit) in done {
            // The payload may hold a member's data: once done, only the audit line remains.
            let marked = sqlx::query(
                "UPDATE prov_action SET state = 'done', done_at = $1, payload = '' \
                 WHERE run_id = $2 AND seq = $3 AND state = 'pending'",
            )
            .bind(now)
            .bind(run_id)
            .bind(seq)
            .execute(&mut *tx)
            .await?;
            if marked.rows_affected() == 0 {
                continue;
            }
            if let Some(effect) = effect {
                apply_effect(&mut tx, effect, now).await?;
            }
            insert_audit(&mut tx, audit).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Marks a pending action failed for good (the next import plans it again), fenced by the
    /// provisioning lease.
    pub async fn prov_fail(
        &self,
        fence: &Fence,
        run_id: i64,
        seq: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_fenced(fence).await?;
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
    pub async fn prov_close_finished_runs(&self, fence: &Fence) -> Result<(), StoreError> {
        let mut tx = self.begin_fenced(fence).await?;
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

    /// Writes effects straight into the record, with neither journal nor audit: data for tests
    /// and benchmarks, as if a run had applied them.
    #[cfg(any(test, feature = "test-support"))]
    pub async fn prov_seed(&self, effects: &[Effect]) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        let now = now_ms();
        for effect in effects {
            apply_effect(&mut tx, effect, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The latest runs, newest first.
    pub async fn prov_runs(&self, limit: i64) -> Result<Vec<RunRecord>, StoreError> {
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
    pub async fn prov_failed_actions(&self, run_id: i64) -> Result<Vec<(String, String)>, StoreError> {
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

    /// The audit log, newest first.
    pub async fn audit(&self, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let rows =
            sqlx::query("SELECT at, actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT $1")
                .bind(limit)
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    target: r.try_get("target")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Appends one audit line.
    pub async fn audit_append(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        insert_audit(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn insert_audit(tx: &mut Transaction<'_, Any>, e: &AuditEntry) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO audit_log (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(e.at)
        .bind(&e.actor)
        .bind(&e.action)
        .bind(&e.target)
        .bind(&e.detail)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn apply_effect(tx: &mut Transaction<'_, Any>, effect: &Effect, now: i64) -> Result<(), sqlx::Error> {
    let q = match effect {
        Effect::Room(r) => sqlx::query(
            "INSERT INTO prov_room (room_key, kind, name, parent_key, room_id, moderators) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (room_key) DO UPDATE SET kind = $2, name = $3, parent_key = $4, room_id = $5",
        )
        .bind(&r.key)
        .bind(&r.kind)
        .bind(&r.name)
        .bind(r.parent_key.as_deref())
        .bind(&r.room_id)
        .bind(&r.moderators),
        Effect::Rename { key, name } => {
            sqlx::query("UPDATE prov_room SET name = $1 WHERE room_key = $2").bind(name).bind(key)
        }
        Effect::Moderators { key, moderators } => {
            sqlx::query("UPDATE prov_room SET moderators = $1 WHERE room_key = $2").bind(moderators).bind(key)
        }
        Effect::Grant { room_key, member_id, user_id } => sqlx::query(
            "INSERT INTO prov_access (room_key, member_id, user_id) VALUES ($1, $2, $3) \
             ON CONFLICT (room_key, member_id) DO UPDATE SET user_id = $3",
        )
        .bind(room_key)
        .bind(member_id)
        .bind(user_id),
        Effect::Revoke { room_key, member_id, user_id } => {
            sqlx::query("DELETE FROM prov_access WHERE room_key = $1 AND member_id = $2 AND user_id = $3")
                .bind(room_key)
                .bind(member_id)
                .bind(user_id)
        }
        Effect::Subscribe { room_key, member_id } => sqlx::query(
            "INSERT INTO prov_subscription (room_key, member_id) VALUES ($1, $2) ON CONFLICT (room_key, member_id) DO NOTHING",
        )
        .bind(room_key)
        .bind(member_id),
        Effect::Unsubscribe { room_key, member_id } => {
            sqlx::query("DELETE FROM prov_subscription WHERE room_key = $1 AND member_id = $2")
                .bind(room_key)
                .bind(member_id)
        }
        Effect::Member { member_id, record, active, matrix_id, email } => sqlx::query(
            "INSERT INTO prov_member (member_id, record, active, matrix_id, email, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (member_id) DO UPDATE SET record = $2, active = $3, matrix_id = $4, email = $5, updated_at = $6",
        )
        .bind(member_id)
        .bind(record)
        .bind(i64::from(*active))
        .bind(matrix_id.as_deref())
        .bind(email.as_deref())
        .bind(now),
        Effect::InvitationSent { member_id } => {
            sqlx::query("UPDATE onboarding SET sent_at = $1 WHERE member_id = $2").bind(now).bind(member_id)
        }
    };
    q.execute(&mut **tx).await?;
    Ok(())
}

impl Store {
    /// Everything stored about a member, as JSON (right of access).
    pub async fn member_export(&self, member_id: &str) -> Result<serde_json::Value, StoreError> {
        let pool = self.pool();
        let record = sqlx::query("SELECT record, updated_at FROM prov_member WHERE member_id = $1")
            .bind(member_id)
            .fetch_optional(pool)
            .await?;
        let record = match record {
            Some(r) => {
                let json: String = r.try_get("record")?;
                let updated: i64 = r.try_get("updated_at")?;
                // The right of access is to what is stored: an unreadable record is given as is.
                let readable = serde_json::from_str::<serde_json::Value>(&json);
                serde_json::json!({
                    "record": readable.unwrap_or(serde_json::Value::String(json)),
                    "updated_at": updated,
                })
            }
            None => serde_json::Value::Null,
        };
        let access: Vec<(String, String)> =
            sqlx::query("SELECT room_key, user_id FROM prov_access WHERE member_id = $1 ORDER BY room_key")
                .bind(member_id)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| Ok((r.try_get("room_key")?, r.try_get("user_id")?)))
                .collect::<Result<_, sqlx::Error>>()?;
        let subscriptions: Vec<String> =
            sqlx::query("SELECT room_key FROM prov_subscription WHERE member_id = $1 ORDER BY room_key")
                .bind(member_id)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| r.try_get("room_key"))
                .collect::<Result<_, sqlx::Error>>()?;
        let pattern = audit_pattern(member_id);
        let audit: Vec<serde_json::Value> = sqlx::query(
            "SELECT at, actor, action, detail FROM audit_log WHERE target LIKE $1 ESCAPE '\\' ORDER BY id",
        )
        .bind(&pattern)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok(serde_json::json!({
                "at": r.try_get::<i64, _>("at")?,
                "actor": r.try_get::<String, _>("actor")?,
                "action": r.try_get::<String, _>("action")?,
                "detail": r.try_get::<String, _>("detail")?,
            }))
        })
        .collect::<Result<_, sqlx::Error>>()?;
        Ok(serde_json::json!({
            "member_id": member_id,
            "member": record,
            "rooms": access.into_iter().map(|(room, user)| serde_json::json!({"room": room, "user_id": user})).collect::<Vec<_>>(),
            "email_subscriptions": subscriptions,
            "audit": audit,
        }))
    }

    /// Erases a member (right to erasure): record, access, subscriptions, journal payloads, and
    /// their id in the audit log; one audit line records that an erasure happened.
    /// Fenced by the provisioning lease: a run must not write the member back from the jobs it
    /// already read.
    pub async fn member_forget(
        &self,
        fence: &Fence,
        member_id: &str,
        actor: &str,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_fenced(fence).await?;
        let mut removed = 0;
        // Mail first: the address is found through the member's record.
        removed += sqlx::query(
            "DELETE FROM mail_address WHERE email = (SELECT email FROM prov_member WHERE member_id = $1)",
        )
        .bind(member_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("UPDATE mail_message SET author_member = NULL WHERE author_member = $1")
            .bind(member_id)
            .execute(&mut *tx)
            .await?;
        for sql in [
            "DELETE FROM mail_pref WHERE member_id = $1",
            "DELETE FROM bot_welcome WHERE member_id = $1",
            "DELETE FROM mail_optin WHERE member_id = $1",
            "DELETE FROM mail_outbox WHERE member_id = $1",
            "DELETE FROM prov_member WHERE member_id = $1",
            "DELETE FROM prov_access WHERE member_id = $1",
            "DELETE FROM prov_subscription WHERE member_id = $1",
            "DELETE FROM onboarding WHERE member_id = $1",
        ] {
            removed += sqlx::query(sql).bind(member_id).execute(&mut *tx).await?.rows_affected();
        }
        let pattern = audit_pattern(member_id);
        sqlx::query("UPDATE audit_log SET target = 'member [erased]' WHERE target LIKE $1 ESCAPE '\\'")
            .bind(&pattern)
            .execute(&mut *tx)
            .await?;
        let payload = format!("%\"member_id\":\"{}\"%", like_escape(member_id));
        sqlx::query("UPDATE prov_action SET payload = '' WHERE payload LIKE $1 ESCAPE '\\'")
            .bind(&payload)
            .execute(&mut *tx)
            .await?;
        if removed > 0 {
            let entry = AuditEntry {
                at: now_ms(),
                actor: actor.to_owned(),
                action: "forget_member".into(),
                target: "member [erased]".into(),
                detail: format!("{removed} records erased"),
            };
            insert_audit(&mut tx, &entry).await?;
        }
        tx.commit().await?;
        Ok(removed)
    }
}

/// The name of the lease held by whoever plans or applies provisioning (or erases a member):
/// every write to the journal and the record is fenced by it.
pub const LEASE: &str = "provisioning";

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

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// Audit targets name a member as `… member <id>` at the end.
fn audit_pattern(member_id: &str) -> String {
    format!("%member {}", like_escape(member_id))
}
