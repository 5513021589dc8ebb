//! The intake journal and event queue behind the appservice: this crate owns their tables
//! (`appservice_txn`, `event_queue`, `event_handler_done`) and their SQL; the features read the
//! events it hands them.
//!
//! A transaction from the homeserver is recorded with all its events in one database
//! transaction; only then is it acknowledged. Workers lease events, run the handlers, and record
//! per-handler completion so a retry after a crash redoes only what had not been done.

use sqlx::Row;

use relais_core::{Store, StoreError, time::now_ms};

/// How the journal row of an event the bot's encrypted device decrypted starts: the appservice
/// journals the same event, still encrypted, under its own id.
pub const DECRYPTED_PREFIX: &str = "$decrypted.";

/// Whether a journal row holds an event decrypted by the bot's device (see [`DECRYPTED_PREFIX`]).
pub fn is_decrypted_row(event_id: &str) -> bool {
    event_id.starts_with(DECRYPTED_PREFIX)
}

/// The type of the journal row holding what a transaction carried for the bot's encrypted
/// device: its to-device messages (MSC2409), device-list changes and one-time-key counts
/// (MSC3202).
pub const DEVICE_ROW_TYPE: &str = "io.relais.device";

/// An event as received from the homeserver, ready to be journaled.
#[derive(Debug, Clone)]
pub struct IncomingEvent {
    pub event_id: String,
    pub room_id: String,
    pub sender: String,
    pub event_type: String,
    /// The event's JSON, as received.
    pub body: String,
}

/// An event leased by a worker.
#[derive(Debug, Clone)]
pub struct QueuedEvent {
    pub seq: i64,
    pub event_id: String,
    pub room_id: String,
    pub sender: String,
    pub event_type: String,
    pub body: String,
    pub attempts: i64,
}

/// What recording a transaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnOutcome {
    /// First time this transaction id is seen; `new_events` were not already queued.
    Stored { new_events: u64 },
    /// The transaction id was recorded before: nothing was written.
    Duplicate,
}

/// Queue depth by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub pending: i64,
    pub failed: i64,
    pub done: i64,
}

/// The columns [`event_from_row`] reads, as a literal so queries stay `&'static str`.
macro_rules! event_columns {
    () => {
        "seq, event_id, room_id, sender, event_type, body, attempts"
    };
}

fn event_from_row(row: &sqlx::any::AnyRow) -> Result<QueuedEvent, sqlx::Error> {
    Ok(QueuedEvent {
        seq: row.try_get("seq")?,
        event_id: row.try_get("event_id")?,
        room_id: row.try_get("room_id")?,
        sender: row.try_get("sender")?,
        event_type: row.try_get("event_type")?,
        body: row.try_get("body")?,
        attempts: row.try_get("attempts")?,
    })
}

/// What a transaction carried, to tell a retry from a reused id.
fn txn_digest(events: &[IncomingEvent]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for event in events {
        hasher.update(event.event_id.as_bytes());
        hasher.update(b"\n");
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The intake queue, on the shared store: `use relais_appservice::queue::IntakeQueue` and call
/// these on a [`Store`].
#[allow(
    async_fn_in_trait,
    reason = "implemented for Store alone: callers hold the concrete type, whose futures are Send"
)]
pub trait IntakeQueue {
    /// The store the queue's tables live in.
    fn store(&self) -> &Store;

    /// Journals transaction `txn_id` and its events atomically.
    ///
    /// A transaction id seen before with the same events is a retry: nothing is written. Seen
    /// with other events, it is a homeserver that started counting again (its appservice state
    /// was reset or restored): the events are journaled, not dropped. An event id already queued
    /// (the homeserver resent it in another transaction) is skipped.
    async fn record_transaction(
        &self,
        txn_id: &str,
        events: &[IncomingEvent],
    ) -> Result<TxnOutcome, StoreError> {
        let now = now_ms();
        let digest = txn_digest(events);
        let mut tx = self.store().pool().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO appservice_txn (txn_id, received_at, event_count, digest) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (txn_id) DO NOTHING",
        )
        .bind(txn_id)
        .bind(now)
        .bind(i64::try_from(events.len()).unwrap_or(i64::MAX))
        .bind(&digest)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            let seen: Option<String> = sqlx::query("SELECT digest FROM appservice_txn WHERE txn_id = $1")
                .bind(txn_id)
                .fetch_one(&mut *tx)
                .await?
                .try_get("digest")?;
            // Rows from before digests were kept count as the same transaction.
            if seen.is_none_or(|seen| seen == digest) {
                tx.rollback().await?;
                return Ok(TxnOutcome::Duplicate);
            }
            tracing::warn!(
                txn_id,
                "a transaction id came again with other events: the homeserver's count was reset"
            );
            sqlx::query("UPDATE appservice_txn SET digest = $1, received_at = $2 WHERE txn_id = $3")
                .bind(&digest)
                .bind(now)
                .bind(txn_id)
                .execute(&mut *tx)
                .await?;
        }
        let mut new_events = 0;
        for event in events {
            let done = sqlx::query(
                "INSERT INTO event_queue (event_id, room_id, sender, event_type, body, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING",
            )
            .bind(&event.event_id)
            .bind(&event.room_id)
            .bind(&event.sender)
            .bind(&event.event_type)
            .bind(&event.body)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            new_events += done.rows_affected();
        }
        tx.commit().await?;
        Ok(TxnOutcome::Stored { new_events })
    }

    /// Leases up to `limit` ready events to `owner` for `lease_ms`, oldest first.
    ///
    /// An event whose lease expired (its worker died) becomes ready again. The lease condition is
    /// repeated in the outer `WHERE` so two workers racing on PostgreSQL never both win a row.
    async fn claim_events(
        &self,
        owner: &str,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<QueuedEvent>, StoreError> {
        let now = now_ms();
        let sql = concat!(
            "UPDATE event_queue SET lease_owner = $1, lease_until = $2 \
             WHERE state = 'pending' AND lease_until <= $3 AND seq IN ( \
               SELECT seq FROM event_queue \
               WHERE state = 'pending' AND lease_until <= $3 AND not_before <= $3 \
               ORDER BY seq LIMIT $4) \
             RETURNING ",
            event_columns!()
        );
        let rows = sqlx::query(sql)
            .bind(owner)
            .bind(now + lease_ms)
            .bind(now)
            .bind(limit)
            .fetch_all(self.store().pool())
            .await?;
        let mut events = rows.iter().map(event_from_row).collect::<Result<Vec<_>, _>>()?;
        events.sort_by_key(|e| e.seq);
        Ok(events)
    }

    /// The handlers that already completed `event_id`.
    async fn handlers_done(&self, event_id: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT handler FROM event_handled WHERE event_id = $1")
            .bind(event_id)
            .fetch_all(self.store().pool())
            .await?;
        Ok(rows.iter().map(|r| r.try_get("handler")).collect::<Result<_, _>>()?)
    }

    /// Records that `handler` applied its effects for `event_id`.
    async fn mark_handler_done(&self, event_id: &str, handler: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO event_handled (event_id, handler, handled_at) VALUES ($1, $2, $3) \
             ON CONFLICT (event_id, handler) DO NOTHING",
        )
        .bind(event_id)
        .bind(handler)
        .bind(now_ms())
        .execute(self.store().pool())
        .await?;
        Ok(())
    }

    /// Marks a leased event handled and drops its body (data minimisation: the id stays for
    /// de-duplication until pruned).
    async fn complete_event(&self, seq: i64, owner: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE event_queue SET state = 'done', body = '', lease_owner = NULL, lease_until = 0, \
             last_error = NULL, finished_at = $1 WHERE seq = $2 AND lease_owner = $3",
        )
        .bind(now_ms())
        .bind(seq)
        .bind(owner)
        .execute(self.store().pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a failed attempt: retried after `retry_in_ms`, or parked as failed once
    /// `max_attempts` is reached. `error` must not contain personal data.
    async fn fail_event(
        &self,
        seq: i64,
        owner: &str,
        error: &str,
        retry_in_ms: i64,
        max_attempts: i64,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        sqlx::query(
            "UPDATE event_queue SET attempts = attempts + 1, lease_owner = NULL, lease_until = 0, \
             last_error = $1, not_before = $2, \
             state = CASE WHEN attempts + 1 >= $3 THEN 'failed' ELSE 'pending' END, \
             finished_at = CASE WHEN attempts + 1 >= $3 THEN $4 ELSE NULL END \
             WHERE seq = $5 AND lease_owner = $6",
        )
        .bind(error)
        .bind(now + retry_in_ms)
        .bind(max_attempts)
        .bind(now)
        .bind(seq)
        .bind(owner)
        .execute(self.store().pool())
        .await?;
        Ok(())
    }

    /// Pushes back the expiry of every lease `owner` holds (a long batch is still alive).
    async fn renew_leases(&self, owner: &str, lease_ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE event_queue SET lease_until = $1 WHERE lease_owner = $2 AND state = 'pending'")
            .bind(now_ms() + lease_ms)
            .bind(owner)
            .execute(self.store().pool())
            .await?;
        Ok(())
    }

    /// Gives up a lease without counting an attempt (graceful shutdown mid-batch).
    async fn release_event(&self, seq: i64, owner: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE event_queue SET lease_owner = NULL, lease_until = 0 WHERE seq = $1 AND lease_owner = $2",
        )
        .bind(seq)
        .bind(owner)
        .execute(self.store().pool())
        .await?;
        Ok(())
    }

    /// Puts every failed event back in the queue; returns how many.
    async fn retry_failed(&self) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE event_queue SET state = 'pending', attempts = 0, not_before = 0, finished_at = NULL \
             WHERE state = 'failed'",
        )
        .execute(self.store().pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Counts events by state.
    async fn queue_stats(&self) -> Result<QueueStats, StoreError> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM event_queue GROUP BY state")
            .fetch_all(self.store().pool())
            .await?;
        let mut stats = QueueStats::default();
        for row in rows {
            let state: String = row.try_get("state")?;
            let n: i64 = row.try_get("n")?;
            match state.as_str() {
                "pending" => stats.pending = n,
                "failed" => stats.failed = n,
                "done" => stats.done = n,
                _ => {}
            }
        }
        Ok(stats)
    }

    /// Failed events with their last error, oldest first.
    async fn failed_events(&self, limit: i64) -> Result<Vec<(QueuedEvent, String)>, StoreError> {
        let sql = concat!(
            "SELECT ",
            event_columns!(),
            ", last_error FROM event_queue WHERE state = 'failed' ORDER BY seq LIMIT $1"
        );
        let rows = sqlx::query(sql).bind(limit).fetch_all(self.store().pool()).await?;
        rows.iter()
            .map(|row| {
                let error: Option<String> = row.try_get("last_error")?;
                Ok((event_from_row(row)?, error.unwrap_or_default()))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Forgets handled events and transaction ids older than `before_ms`; returns rows removed.
    async fn prune_intake(&self, before_ms: i64) -> Result<u64, StoreError> {
        let mut tx = self.store().pool().begin().await?;
        let handled = sqlx::query(
            "DELETE FROM event_handled WHERE event_id IN \
             (SELECT event_id FROM event_queue WHERE state = 'done' AND finished_at < $1)",
        )
        .bind(before_ms)
        .execute(&mut *tx)
        .await?;
        let events = sqlx::query("DELETE FROM event_queue WHERE state = 'done' AND finished_at < $1")
            .bind(before_ms)
            .execute(&mut *tx)
            .await?;
        let txns = sqlx::query("DELETE FROM appservice_txn WHERE received_at < $1")
            .bind(before_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(handled.rows_affected() + events.rows_affected() + txns.rows_affected())
    }
}

impl IntakeQueue for Store {
    fn store(&self) -> &Store {
        self
    }
}

#[cfg(test)]
mod tests;
