//! The outbox: deliveries leased by workers, their outcomes, bounces and address health,
//! and the hourly cap on automatic answers.

use sqlx::Row;

use super::{LIST_MEMBERS, MailStore, OutboxItem, OutboxStats};
use relais_core::{StoreError, time::now_ms};

impl MailStore {
    /// Queues one mail of `kind` about `reference` to `member_id` at the address provisioning
    /// publishes for them, in one statement: nothing is queued for a member who lapsed, has no
    /// address or was erased meanwhile. Returns whether it was queued by this call.
    pub async fn outbox_enqueue_member(
        &self,
        kind: &str,
        reference: &str,
        member_id: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO mail_outbox (kind, ref, member_id, email, next_at) \
             SELECT $1, $2, member_id, email, $4 FROM directory_member \
             WHERE member_id = $3 AND active = 1 AND email IS NOT NULL \
             ON CONFLICT (kind, ref, member_id) DO NOTHING",
        )
        .bind(kind)
        .bind(reference)
        .bind(member_id)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Leases up to `limit` due deliveries to `owner`. A delivery whose lease expired (its
    /// worker died mid-send) is due again: at-least-once, with the same Message-ID.
    pub async fn claim_outbox(
        &self,
        owner: &str,
        limit: i64,
        lease_ms: i64,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let now = now_ms();
        let rows = sqlx::query(
            "UPDATE mail_outbox SET state = 'sending', lease_until = $1, lease_owner = $4 \
             WHERE ((state = 'pending' AND next_at <= $2) OR (state = 'sending' AND lease_until < $2)) \
             AND id IN (SELECT id FROM mail_outbox \
                 WHERE (state = 'pending' AND next_at <= $2) OR (state = 'sending' AND lease_until < $2) \
                 ORDER BY id LIMIT $3) \
             RETURNING id, kind, ref, member_id, email, attempts",
        )
        .bind(now + lease_ms)
        .bind(now)
        .bind(limit)
        .bind(owner)
        .fetch_all(self.pool())
        .await?;
        let mut items = rows
            .iter()
            .map(|r| {
                Ok(OutboxItem {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    reference: r.try_get("ref")?,
                    member_id: r.try_get("member_id")?,
                    email: r.try_get("email")?,
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        items.sort_by_key(|i| i.id);
        Ok(items)
    }

    /// Keeps `owner`'s leases alive while its batch is being sent.
    pub async fn renew_outbox(&self, owner: &str, lease_ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE mail_outbox SET lease_until = $1 WHERE lease_owner = $2 AND state = 'sending'")
            .bind(now_ms() + lease_ms)
            .bind(owner)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Ends a delivery: `sent`, `cancelled` or `failed`. The address is erased from the row.
    pub async fn outbox_finish(&self, id: i64, state: &str, error: Option<&str>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE mail_outbox SET state = $1, error = $2, email = '', sent_at = $3, lease_until = 0, \
             lease_owner = NULL \
             WHERE id = $4",
        )
        .bind(state)
        .bind(error)
        .bind(now_ms())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records a delivery the SMTP server accepted (found in a worker's journal) as sent, unless
    /// it was recorded already; true when this recorded it.
    pub async fn outbox_mark_sent(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE mail_outbox SET state = 'sent', email = '', sent_at = $1, lease_until = 0, lease_owner = NULL \
             WHERE id = $2 AND state IN ('pending', 'sending')",
        )
        .bind(now_ms())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// A temporary failure: tried again at `next_at`.
    pub async fn outbox_retry(&self, id: i64, error: &str, next_at: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE mail_outbox SET state = 'pending', attempts = attempts + 1, error = $1, next_at = $2, \
             lease_until = 0, lease_owner = NULL WHERE id = $3",
        )
        .bind(error)
        .bind(next_at)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM mail_outbox GROUP BY state")
            .fetch_all(self.pool())
            .await?;
        let mut stats = OutboxStats::default();
        for row in rows {
            let state: String = row.try_get("state")?;
            let n: i64 = row.try_get("n")?;
            match state.as_str() {
                "pending" | "sending" => stats.pending += n,
                "sent" | "bounced" => stats.sent += n,
                "failed" => stats.failed += n,
                _ => stats.cancelled += n,
            }
        }
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n FROM mail_inbound WHERE state IN ('pending', 'held', 'postmaster') \
             GROUP BY state",
        )
        .fetch_all(self.pool())
        .await?;
        for row in rows {
            let n: i64 = row.try_get("n")?;
            match row.try_get::<String, _>("state")?.as_str() {
                "pending" => stats.inbound_pending = n,
                "held" => stats.inbound_held = n,
                _ => stats.inbound_postmaster = n,
            }
        }
        Ok(stats)
    }

    /// Marks a sent delivery as bounced and returns its member; `None` when unknown or already
    /// counted (an MTA may send the same notification twice).
    pub async fn outbox_bounced(&self, id: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "UPDATE mail_outbox SET state = 'bounced' WHERE id = $1 AND state = 'sent' RETURNING member_id",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.try_get("member_id")).transpose()?)
    }

    /// Counts a bounce of `points` for `email`; returns true when this bounce disabled it.
    pub async fn bounce(&self, email: &str, points: i64, limit: i64) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(
            "INSERT INTO mail_address (email, bounce_score, last_bounce_at) VALUES ($1, $2, $3) \
             ON CONFLICT (email) DO UPDATE SET bounce_score = mail_address.bounce_score + $2, \
             last_bounce_at = $3 RETURNING bounce_score, disabled_at",
        )
        .bind(email)
        .bind(points)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let score: i64 = row.try_get("bounce_score")?;
        let disabled: Option<i64> = row.try_get("disabled_at")?;
        let newly = disabled.is_none() && score >= limit;
        if newly {
            sqlx::query("UPDATE mail_address SET disabled_at = $1 WHERE email = $2")
                .bind(now)
                .bind(email)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(newly)
    }

    /// Clears a member's address record (bounce score, suspension) once the address is fixed.
    pub async fn address_reset(&self, member_id: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM mail_address WHERE email = (SELECT email FROM directory_member WHERE member_id = $1)",
        )
        .bind(member_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Addresses with bounces of the members of `room_keys`' lists, for the referents' page:
    /// (member id, score, disabled).
    pub async fn bounced_members(&self) -> Result<Vec<(String, i64, bool)>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.member_id AS member_id, a.bounce_score AS score, a.disabled_at AS disabled_at \
             FROM mail_address a JOIN directory_member m ON m.email = a.email WHERE a.bounce_score > 0 \
             ORDER BY m.member_id",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                Ok((
                    r.try_get("member_id")?,
                    r.try_get("score")?,
                    r.try_get::<Option<i64>, _>("disabled_at")?.is_some(),
                ))
            })
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// Counts an automatic answer to `email` at `at` (ms) in that clock hour: false when `limit`
    /// answers already went to it this hour, on any node. Past hours are forgotten.
    pub async fn answer_allowed(&self, email: &str, limit: u32, at: i64) -> Result<bool, StoreError> {
        const HOUR_MS: i64 = 3_600_000;
        let hour = at / HOUR_MS * HOUR_MS;
        sqlx::query("DELETE FROM mail_answer WHERE hour < $1").bind(hour).execute(self.pool()).await?;
        let row = sqlx::query(
            "INSERT INTO mail_answer (email, hour, sent) VALUES ($1, $2, 1) \
             ON CONFLICT (email, hour) DO UPDATE SET sent = mail_answer.sent + 1 RETURNING sent",
        )
        .bind(email.to_ascii_lowercase())
        .bind(hour)
        .fetch_one(self.pool())
        .await?;
        let sent: i64 = row.try_get("sent")?;
        Ok(sent <= i64::from(limit))
    }

    /// Mails sent carrying any of the room messages `event_ids` (a broadcast's copies): each
    /// message to its subscribers, and the digests that covered one, counted for the members of
    /// its list. Counts only.
    pub async fn sent_carrying(&self, event_ids: &[String]) -> Result<i64, StoreError> {
        let mut total = 0;
        // Bounded statements, whatever the number of copies.
        for chunk in event_ids.chunks(500) {
            let list = (0..chunk.len()).map(|i| format!("${}", i + 1)).collect::<Vec<_>>().join(", ");
            let each = format!(
                "SELECT COUNT(*) AS n FROM mail_outbox o \
                 WHERE o.kind = 'message' AND o.state = 'sent' AND o.ref IN ({list})"
            );
            let digests = format!(
                "SELECT COUNT(*) AS n FROM mail_message mm \
                 JOIN mail_digest g ON mm.seq > g.seq_from AND mm.seq <= g.seq_to \
                 JOIN mail_outbox o ON o.kind = 'digest' AND o.ref = CAST(g.digest_id AS TEXT) AND o.state = 'sent' \
                 WHERE mm.event_id IN ({list}) \
                 AND o.member_id IN (SELECT lm.member_id FROM ({LIST_MEMBERS}) lm WHERE lm.room_id = mm.room_id)"
            );
            for sql in [each, digests] {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    query = query.bind(id);
                }
                total += query.fetch_one(self.pool()).await?.try_get::<i64, _>("n")?;
            }
        }
        Ok(total)
    }
}
