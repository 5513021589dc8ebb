//! Mirrored messages, their edits and redactions, digests, and the pruning of old ones.

use sqlx::{AssertSqlSafe, Row};

use super::{
    Digest, LIST_MEMBERS, MESSAGE_COLUMNS, MailEdit, MailMessage, MailStore, SUBSCRIBERS, message_from_row,
    mode_of,
};
use relais_core::{StoreError, config::DeliveryMode, time::now_ms};

impl MailStore {
    /// Stores a room message and, in the same transaction, queues it for every subscriber who
    /// receives each message (but its author). Returns the number of mails queued; 0 as well
    /// when the message was already stored (a redelivered event).
    pub async fn store_message(
        &self,
        message: &MailMessage,
        default: DeliveryMode,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO mail_message (event_id, room_id, sender_name, author_member, kind, body, html, \
             reply_to, thread_root, origin_ts, media_url, media_type, media_size, sender) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(&message.event_id)
        .bind(&message.room_id)
        .bind(&message.sender_name)
        .bind(message.author_member.as_deref())
        .bind(&message.kind)
        .bind(&message.body)
        .bind(message.html.as_deref())
        .bind(message.reply_to.as_deref())
        .bind(message.thread_root.as_deref())
        .bind(message.origin_ts)
        .bind(message.media_url.as_deref())
        .bind(message.media_type.as_deref())
        .bind(message.media_size)
        .bind(&message.sender)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            tx.commit().await?;
            return Ok(0);
        }
        let sql = format!(
            "INSERT INTO mail_outbox (kind, ref, member_id, email, next_at) \
             SELECT 'message', $3, member_id, email, $4 FROM ({SUBSCRIBERS}) subs \
             WHERE mode = 'message' AND member_id <> $5 \
             ON CONFLICT (kind, ref, member_id) DO NOTHING"
        );
        let queued = sqlx::query(AssertSqlSafe(sql))
            .bind(&message.room_id)
            .bind(default.as_str())
            .bind(&message.event_id)
            .bind(now_ms())
            .bind(message.author_member.as_deref().unwrap_or(""))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(queued)
    }

    pub async fn message(&self, event_id: &str) -> Result<Option<MailMessage>, StoreError> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM mail_message WHERE event_id = $1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(event_id).fetch_optional(self.pool()).await?;
        Ok(row.as_ref().map(message_from_row).transpose()?)
    }

    pub async fn message_by_seq(&self, seq: i64) -> Result<Option<MailMessage>, StoreError> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM mail_message WHERE seq = $1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(seq).fetch_optional(self.pool()).await?;
        Ok(row.as_ref().map(message_from_row).transpose()?)
    }

    /// A redaction: the text is erased and mail not yet sent is cancelled. Returns whether the
    /// message was known.
    pub async fn redact(&self, event_id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let known =
            sqlx::query("UPDATE mail_message SET redacted = 1, body = '', html = NULL WHERE event_id = $1")
                .bind(event_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        sqlx::query(
            "UPDATE mail_outbox SET state = 'cancelled', email = '' \
             WHERE kind = 'message' AND ref = $1 AND state IN ('pending', 'sending')",
        )
        .bind(event_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(known > 0)
    }

    /// An edit by `sender` in `room_id`: mail not yet sent and digests carry the new text. Only
    /// the message's own sender, in its own room, changes it; any other edit is ignored.
    /// Returns whether the message was changed.
    pub async fn edit(&self, edit: &MailEdit<'_>) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE mail_message SET body = $1, html = $2 \
             WHERE event_id = $3 AND room_id = $4 AND sender = $5 AND redacted = 0",
        )
        .bind(edit.body)
        .bind(edit.html)
        .bind(edit.event_id)
        .bind(edit.room_id)
        .bind(edit.sender)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Messages of `room_ids` with seq in (from, to], not redacted, oldest first.
    pub async fn messages_between(&self, from: i64, to: i64) -> Result<Vec<MailMessage>, StoreError> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM mail_message WHERE seq > $1 AND seq <= $2 AND redacted = 0 \
             ORDER BY seq"
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(from).bind(to).fetch_all(self.pool()).await?;
        Ok(rows.iter().map(message_from_row).collect::<Result<_, _>>()?)
    }

    /// Opens a digest of `mode` over the messages stored since the previous one and queues it
    /// for every member with at least one message in one of their lists. `None`: nothing new.
    pub async fn create_digest(
        &self,
        mode: DeliveryMode,
        default: DeliveryMode,
    ) -> Result<Option<(Digest, u64)>, StoreError> {
        let mut tx = self.pool().begin().await?;
        // A write first: SQLite takes the write lock now (a read upgraded to a write later can
        // fail when another process wrote meanwhile), and the unique (mode, seq_from) makes two
        // workers opening the same digest a no-op for the second.
        let row = sqlx::query(
            "INSERT INTO mail_digest (mode, seq_from, seq_to, created_at) \
             SELECT $1, COALESCE((SELECT MAX(seq_to) FROM mail_digest WHERE mode = $1), 0), \
                    COALESCE((SELECT MAX(seq) FROM mail_message), 0), $2 WHERE 1 = 1 \
             ON CONFLICT (mode, seq_from) DO NOTHING RETURNING digest_id, seq_from, seq_to",
        )
        .bind(mode.as_str())
        .bind(now_ms())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        let (digest_id, from, to): (i64, i64, i64) =
            (row.try_get("digest_id")?, row.try_get("seq_from")?, row.try_get("seq_to")?);
        if to <= from {
            tx.rollback().await?;
            return Ok(None);
        }
        let sql = format!(
            "INSERT INTO mail_outbox (kind, ref, member_id, email, next_at) \
             SELECT DISTINCT 'digest', $1, m.member_id, m.email, $2 FROM ({LIST_MEMBERS}) lm \
             JOIN directory_member m ON m.member_id = lm.member_id \
             LEFT JOIN mail_pref p ON p.member_id = lm.member_id AND p.room_id = lm.room_id \
             LEFT JOIN mail_address a ON a.email = m.email \
             WHERE m.active = 1 AND m.email IS NOT NULL AND a.disabled_at IS NULL \
               AND COALESCE(p.mode, $3) = $4 \
               AND EXISTS (SELECT 1 FROM mail_message mm WHERE mm.room_id = lm.room_id \
                           AND mm.seq > $5 AND mm.seq <= $6 AND mm.redacted = 0) \
             ON CONFLICT (kind, ref, member_id) DO NOTHING"
        );
        let queued = sqlx::query(AssertSqlSafe(sql))
            .bind(digest_id.to_string())
            .bind(now_ms())
            .bind(default.as_str())
            .bind(mode.as_str())
            .bind(from)
            .bind(to)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(Some((Digest { digest_id, mode, seq_from: from, seq_to: to }, queued)))
    }

    pub async fn digest(&self, digest_id: i64) -> Result<Option<Digest>, StoreError> {
        let row =
            sqlx::query("SELECT digest_id, mode, seq_from, seq_to FROM mail_digest WHERE digest_id = $1")
                .bind(digest_id)
                .fetch_optional(self.pool())
                .await?;
        let Some(row) = row else { return Ok(None) };
        let mode: String = row.try_get("mode")?;
        Ok(Some(Digest {
            digest_id: row.try_get("digest_id")?,
            mode: mode_of(&mode, DeliveryMode::Daily),
            seq_from: row.try_get("seq_from")?,
            seq_to: row.try_get("seq_to")?,
        }))
    }

    /// When the last digest of `mode` was opened (ms), if ever.
    pub async fn last_digest_at(&self, mode: DeliveryMode) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT MAX(created_at) AS at FROM mail_digest WHERE mode = $1")
            .bind(mode.as_str())
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("at")?)
    }

    /// Drops what the bridge no longer needs, older than `keep_ms`: copies of room messages no
    /// pending mail or digest still carries, finished inbound mail, finished deliveries. Mail
    /// kept for postmaster stays until an operator erases it.
    pub async fn prune(&self, keep_ms: i64) -> Result<u64, StoreError> {
        let before = now_ms() - keep_ms;
        let mut pruned = 0;
        for sql in [
            "DELETE FROM mail_message WHERE origin_ts < $1 \
               AND NOT EXISTS (SELECT 1 FROM mail_outbox o WHERE o.kind = 'message' \
                               AND o.ref = mail_message.event_id AND o.state IN ('pending', 'sending')) \
               AND NOT EXISTS (SELECT 1 FROM mail_outbox o \
                               JOIN mail_digest d ON o.kind = 'digest' AND o.ref = CAST(d.digest_id AS TEXT) \
                               WHERE o.state IN ('pending', 'sending') \
                                 AND mail_message.seq > d.seq_from AND mail_message.seq <= d.seq_to)",
            "DELETE FROM mail_inbound WHERE state NOT IN ('pending', 'postmaster') AND received_at < $1",
            "DELETE FROM mail_outbox WHERE state IN ('sent', 'bounced', 'cancelled', 'failed') \
             AND COALESCE(sent_at, next_at) < $1",
        ] {
            pruned += sqlx::query(sql).bind(before).execute(self.pool()).await?.rows_affected();
        }
        Ok(pruned)
    }
}
