//! Mail received by the listener: queued, leased, retried, held, and the postmaster's mailbox.

use sqlx::Row;

use super::{InboundItem, MailStore, PostmasterMail};
use relais_core::{StoreError, time::now_ms};

impl MailStore {
    /// Keeps received mail until it is handled; the listener answers 250 only after this.
    pub async fn inbound_store(&self, rcpt: &str, mail_from: &str, raw: &[u8]) -> Result<i64, StoreError> {
        let now = now_ms();
        let row = sqlx::query(
            "INSERT INTO mail_inbound (received_at, rcpt, mail_from, raw, next_at) VALUES ($1, $2, $3, $4, $1) \
             RETURNING id",
        )
        .bind(now)
        .bind(rcpt)
        .bind(mail_from)
        .bind(raw)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("id")?)
    }

    pub async fn claim_inbound(&self, limit: i64, lease_ms: i64) -> Result<Vec<InboundItem>, StoreError> {
        let now = now_ms();
        let rows = sqlx::query(
            "UPDATE mail_inbound SET lease_until = $1 \
             WHERE state = 'pending' AND next_at <= $2 AND lease_until < $2 AND id IN ( \
               SELECT id FROM mail_inbound WHERE state = 'pending' AND next_at <= $2 AND lease_until < $2 \
               ORDER BY id LIMIT $3) \
             RETURNING id, rcpt, mail_from, raw, attempts",
        )
        .bind(now + lease_ms)
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let mut items = rows
            .iter()
            .map(|r| {
                Ok(InboundItem {
                    id: r.try_get("id")?,
                    rcpt: r.try_get("rcpt")?,
                    mail_from: r.try_get("mail_from")?,
                    raw: r.try_get("raw")?,
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        items.sort_by_key(|i| i.id);
        Ok(items)
    }

    /// Counts an attempt at inbound mail `id` before it is made, and returns how many attempts
    /// have not ended, this one included: one that panics, fails on an error, or dies with its
    /// worker stays counted; [`Store::mail_inbound_retry`] and [`Store::mail_inbound_finish`]
    /// end it.
    pub async fn inbound_started(&self, id: i64) -> Result<i64, StoreError> {
        let row =
            sqlx::query("UPDATE mail_inbound SET failures = failures + 1 WHERE id = $1 RETURNING failures")
                .bind(id)
                .fetch_one(self.pool())
                .await?;
        Ok(row.try_get("failures")?)
    }

    /// An attempt that failed (a panic while processing): the mail is tried again at `next_at`,
    /// the attempt staying counted.
    pub async fn inbound_failed(&self, id: i64, outcome: &str, next_at: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE mail_inbound SET outcome = $1, next_at = $2, lease_until = 0 WHERE id = $3")
            .bind(outcome)
            .bind(next_at)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Holds a pending inbound mail that could not be processed: never tried again, its content
    /// (raw text, addresses) erased. False when it was not pending (held or ended already).
    pub async fn inbound_hold(&self, id: i64, outcome: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE mail_inbound SET state = 'held', outcome = $1, raw = $2, rcpt = '', mail_from = '', \
             lease_until = 0 WHERE id = $3 AND state = 'pending'",
        )
        .bind(outcome)
        .bind(Vec::<u8>::new())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Ends an inbound mail (`posted`, `refused`, `held`, `bounce`); its content is erased.
    pub async fn inbound_finish(&self, id: i64, state: &str, outcome: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE mail_inbound SET state = $1, outcome = $2, raw = $3, rcpt = '', mail_from = '', \
             lease_until = 0 WHERE id = $4",
        )
        .bind(state)
        .bind(outcome)
        .bind(Vec::<u8>::new())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Keeps a mail to postmaster whole (state `postmaster`) for an operator to read; never
    /// claimed again.
    pub async fn inbound_keep(&self, id: i64, outcome: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE mail_inbound SET state = 'postmaster', outcome = $1, lease_until = 0 WHERE id = $2",
        )
        .bind(outcome)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Mail to postmaster kept for an operator, oldest first, at most `limit`.
    pub async fn postmaster(&self, limit: i64) -> Result<Vec<PostmasterMail>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, received_at, rcpt, mail_from, raw FROM mail_inbound WHERE state = 'postmaster' \
             ORDER BY id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                Ok(PostmasterMail {
                    id: r.try_get("id")?,
                    received_at: r.try_get("received_at")?,
                    rcpt: r.try_get("rcpt")?,
                    mail_from: r.try_get("mail_from")?,
                    raw: r.try_get("raw")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// Deletes the mail to postmaster kept up to `id` (the last one an operator read); returns
    /// how many.
    pub async fn postmaster_erase(&self, up_to: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM mail_inbound WHERE state = 'postmaster' AND id <= $1")
            .bind(up_to)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// A temporary failure (the homeserver is unreachable): the attempt ended, the mail is tried
    /// again at `next_at`.
    pub async fn inbound_retry(&self, id: i64, outcome: &str, next_at: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE mail_inbound SET attempts = attempts + 1, \
             failures = CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END, outcome = $1, next_at = $2, \
             lease_until = 0 WHERE id = $3",
        )
        .bind(outcome)
        .bind(next_at)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Outcomes of received mail, newest first: (received at, state, outcome).
    pub async fn inbound_outcomes(&self, limit: i64) -> Result<Vec<(i64, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT received_at, state, COALESCE(outcome, '') AS outcome FROM mail_inbound \
             ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| Ok((r.try_get("received_at")?, r.try_get("state")?, r.try_get("outcome")?)))
            .collect::<Result<_, sqlx::Error>>()?)
    }
}
