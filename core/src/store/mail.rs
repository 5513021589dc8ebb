//! The mail bridge's records: lists, members' choices, mirrored messages, the outbox, digests,
//! inbound mail and address health.
//!
//! Subscribers are never copied: a list's subscribers are computed from provisioning's record
//! (`prov_subscription`, active members with an address) plus opt-ins, so a lapse or a move in
//! the membership file changes who gets mail at the next message.

use sqlx::{AssertSqlSafe, Row, any::AnyRow};

use super::{Store, StoreError};
use crate::{config::DeliveryMode, time::now_ms};

/// A room mirrored to a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailList {
    pub room_id: String,
    pub localpart: String,
    pub name: String,
    pub room_key: Option<String>,
    pub enabled: bool,
}

/// A room message kept for mail.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailMessage {
    pub seq: i64,
    pub event_id: String,
    pub room_id: String,
    /// The Matrix user who sent it: only they may edit it.
    pub sender: String,
    pub sender_name: String,
    /// The member who wrote it, when known (their own mail is not sent back to them).
    pub author_member: Option<String>,
    /// `text`, `notice`, `emote`, `image`, `file`, `poll`.
    pub kind: String,
    pub body: String,
    pub html: Option<String>,
    pub reply_to: Option<String>,
    pub thread_root: Option<String>,
    /// An image or file: `mxc://` URI, content type, size in bytes.
    pub media_url: Option<String>,
    pub media_type: Option<String>,
    pub media_size: Option<i64>,
    pub origin_ts: i64,
    pub redacted: bool,
}

/// An edit of a mirrored message, as the room event states it.
#[derive(Debug, Clone, Copy)]
pub struct MailEdit<'a> {
    pub event_id: &'a str,
    pub room_id: &'a str,
    pub sender: &'a str,
    pub body: &'a str,
    pub html: Option<&'a str>,
}

/// One delivery to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub id: i64,
    /// `message` (ref: event id) or `digest` (ref: digest id).
    pub kind: String,
    pub reference: String,
    pub member_id: String,
    pub email: String,
    pub attempts: i64,
}

/// One mail received by the listener.
#[derive(Debug, Clone)]
pub struct InboundItem {
    pub id: i64,
    pub rcpt: String,
    pub mail_from: String,
    pub raw: Vec<u8>,
    pub attempts: i64,
}

/// A list as a member sees it on the preferences page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberList {
    pub list: MailList,
    pub mode: DeliveryMode,
}

/// A digest run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    pub digest_id: i64,
    pub mode: DeliveryMode,
    pub seq_from: i64,
    pub seq_to: i64,
}

/// Outbox counts by state, for `/metrics` and `relais mail status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxStats {
    pub pending: i64,
    pub sent: i64,
    pub failed: i64,
    pub cancelled: i64,
    pub inbound_pending: i64,
    /// Inbound mail that could not be processed, held with its content erased.
    pub inbound_held: i64,
    /// Mail to postmaster kept whole for an operator (`relais mail postmaster`).
    pub inbound_postmaster: i64,
}

/// A mail to postmaster kept for an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostmasterMail {
    pub id: i64,
    pub received_at: i64,
    pub rcpt: String,
    /// Empty for the null sender.
    pub mail_from: String,
    pub raw: Vec<u8>,
}

/// Members subscribed to list `$1` with their mode (`$2`: the default mode), excluding lapsed
/// members, members without an address and disabled addresses.
const SUBSCRIBERS: &str = "SELECT m.member_id AS member_id, m.email AS email, COALESCE(p.mode, $2) AS mode \
     FROM prov_member m \
     LEFT JOIN mail_pref p ON p.member_id = m.member_id AND p.room_id = $1 \
     LEFT JOIN mail_address a ON a.email = m.email \
     WHERE m.active = 1 AND m.email IS NOT NULL AND a.disabled_at IS NULL AND ( \
       EXISTS (SELECT 1 FROM prov_subscription s JOIN mail_list l ON l.room_key = s.room_key \
               WHERE l.room_id = $1 AND l.enabled = 1 AND s.member_id = m.member_id) \
       OR EXISTS (SELECT 1 FROM mail_optin o JOIN mail_list l ON l.room_id = o.room_id \
               WHERE o.room_id = $1 AND l.enabled = 1 AND o.member_id = m.member_id))";

/// (list, member) pairs of every enabled list.
pub(super) const LIST_MEMBERS: &str = "SELECT l.room_id AS room_id, s.member_id AS member_id FROM mail_list l \
       JOIN prov_subscription s ON s.room_key = l.room_key WHERE l.enabled = 1 \
     UNION SELECT o.room_id AS room_id, o.member_id AS member_id FROM mail_optin o \
       JOIN mail_list l ON l.room_id = o.room_id WHERE l.enabled = 1";

fn list_from_row(row: &AnyRow) -> Result<MailList, sqlx::Error> {
    Ok(MailList {
        room_id: row.try_get("room_id")?,
        localpart: row.try_get("localpart")?,
        name: row.try_get("name")?,
        room_key: row.try_get("room_key")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
    })
}

fn message_from_row(row: &AnyRow) -> Result<MailMessage, sqlx::Error> {
    Ok(MailMessage {
        seq: row.try_get("seq")?,
        event_id: row.try_get("event_id")?,
        room_id: row.try_get("room_id")?,
        sender: row.try_get::<Option<String>, _>("sender")?.unwrap_or_default(),
        sender_name: row.try_get("sender_name")?,
        author_member: row.try_get("author_member")?,
        kind: row.try_get("kind")?,
        body: row.try_get("body")?,
        html: row.try_get("html")?,
        reply_to: row.try_get("reply_to")?,
        thread_root: row.try_get("thread_root")?,
        media_url: row.try_get("media_url")?,
        media_type: row.try_get("media_type")?,
        media_size: row.try_get("media_size")?,
        origin_ts: row.try_get("origin_ts")?,
        redacted: row.try_get::<i64, _>("redacted")? != 0,
    })
}

const LIST_COLUMNS: &str = "room_id, localpart, name, room_key, enabled";
const MESSAGE_COLUMNS: &str = "seq, event_id, room_id, sender, sender_name, author_member, kind, body, html, \
     reply_to, thread_root, media_url, media_type, media_size, origin_ts, redacted";

fn mode_of(text: &str, default: DeliveryMode) -> DeliveryMode {
    DeliveryMode::parse(text).unwrap_or(default)
}

impl Store {
    /// Creates or renames a list; an existing list keeps its address and whether it is enabled.
    pub async fn mail_list_upsert(&self, list: &MailList) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO mail_list (room_id, localpart, name, room_key, enabled, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (room_id) DO UPDATE SET name = $3, room_key = COALESCE($4, mail_list.room_key)",
        )
        .bind(&list.room_id)
        .bind(&list.localpart)
        .bind(&list.name)
        .bind(list.room_key.as_deref())
        .bind(i64::from(list.enabled))
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn mail_list_set_enabled(&self, room_id: &str, enabled: bool) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE mail_list SET enabled = $1 WHERE room_id = $2")
            .bind(i64::from(enabled))
            .bind(room_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn mail_lists(&self) -> Result<Vec<MailList>, StoreError> {
        let sql = format!("SELECT {LIST_COLUMNS} FROM mail_list ORDER BY localpart");
        let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(self.pool()).await?;
        Ok(rows.iter().map(list_from_row).collect::<Result<_, _>>()?)
    }

    pub async fn mail_list(&self, room_id: &str) -> Result<Option<MailList>, StoreError> {
        let sql = format!("SELECT {LIST_COLUMNS} FROM mail_list WHERE room_id = $1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(room_id).fetch_optional(self.pool()).await?;
        Ok(row.as_ref().map(list_from_row).transpose()?)
    }

    pub async fn mail_list_by_localpart(&self, localpart: &str) -> Result<Option<MailList>, StoreError> {
        let sql = format!("SELECT {LIST_COLUMNS} FROM mail_list WHERE localpart = $1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(localpart).fetch_optional(self.pool()).await?;
        Ok(row.as_ref().map(list_from_row).transpose()?)
    }

    /// Provisioned rooms of the given kinds: (room key, name, room id).
    pub async fn prov_rooms_of_kinds(
        &self,
        kinds: &[&str],
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let rows = sqlx::query("SELECT room_key, kind, name, room_id FROM prov_room ORDER BY room_key")
            .fetch_all(self.pool())
            .await?;
        let mut out = Vec::new();
        for row in rows {
            let kind: String = row.try_get("kind")?;
            if kinds.contains(&kind.as_str()) {
                out.push((row.try_get("room_key")?, row.try_get("name")?, row.try_get("room_id")?));
            }
        }
        Ok(out)
    }

    /// The subscribers of a list in `mode`: (member id, address).
    pub async fn mail_subscribers(
        &self,
        room_id: &str,
        mode: DeliveryMode,
        default: DeliveryMode,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let sql =
            format!("SELECT member_id, email FROM ({SUBSCRIBERS}) subs WHERE mode = $3 ORDER BY member_id");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(room_id)
            .bind(default.as_str())
            .bind(mode.as_str())
            .fetch_all(self.pool())
            .await?;
        Ok(rows
            .iter()
            .map(|r| Ok((r.try_get("member_id")?, r.try_get("email")?)))
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// Whether `member_id` currently receives list `room_id` by mail (any mode but `none`).
    pub async fn mail_is_subscriber(
        &self,
        room_id: &str,
        member_id: &str,
        default: DeliveryMode,
    ) -> Result<bool, StoreError> {
        let sql = format!("SELECT mode FROM ({SUBSCRIBERS}) subs WHERE member_id = $3");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(room_id)
            .bind(default.as_str())
            .bind(member_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(row) => mode_of(&row.try_get::<String, _>("mode")?, default) != DeliveryMode::None,
            None => false,
        })
    }

    /// Stores a room message and, in the same transaction, queues it for every subscriber who
    /// receives each message (but its author). Returns the number of mails queued; 0 as well
    /// when the message was already stored (a redelivered event).
    pub async fn mail_store_message(
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

    pub async fn mail_message(&self, event_id: &str) -> Result<Option<MailMessage>, StoreError> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM mail_message WHERE event_id = $1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(event_id).fetch_optional(self.pool()).await?;
        Ok(row.as_ref().map(message_from_row).transpose()?)
    }

    pub async fn mail_message_by_seq(&self, seq: i64) -> Result<Option<MailMessage>, StoreError> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM mail_message WHERE seq = $1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(seq).fetch_optional(self.pool()).await?;
        Ok(row.as_ref().map(message_from_row).transpose()?)
    }

    /// A redaction: the text is erased and mail not yet sent is cancelled. Returns whether the
    /// message was known.
    pub async fn mail_redact(&self, event_id: &str) -> Result<bool, StoreError> {
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
    pub async fn mail_edit(&self, edit: &MailEdit<'_>) -> Result<bool, StoreError> {
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
    pub async fn mail_messages_between(&self, from: i64, to: i64) -> Result<Vec<MailMessage>, StoreError> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM mail_message WHERE seq > $1 AND seq <= $2 AND redacted = 0 \
             ORDER BY seq"
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(from).bind(to).fetch_all(self.pool()).await?;
        Ok(rows.iter().map(message_from_row).collect::<Result<_, _>>()?)
    }

    /// Opens a digest of `mode` over the messages stored since the previous one and queues it
    /// for every member with at least one message in one of their lists. `None`: nothing new.
    pub async fn mail_create_digest(
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
             JOIN prov_member m ON m.member_id = lm.member_id \
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

    pub async fn mail_digest(&self, digest_id: i64) -> Result<Option<Digest>, StoreError> {
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
    pub async fn mail_last_digest_at(&self, mode: DeliveryMode) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT MAX(created_at) AS at FROM mail_digest WHERE mode = $1")
            .bind(mode.as_str())
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("at")?)
    }

    /// Every list `member_id` receives by mail or could (subscribed through provisioning or an
    /// opt-in), with their mode.
    pub async fn mail_member_lists(
        &self,
        member_id: &str,
        default: DeliveryMode,
    ) -> Result<Vec<MemberList>, StoreError> {
        let sql = format!(
            "SELECT l.room_id AS room_id, l.localpart AS localpart, l.name AS name, l.room_key AS room_key, \
             l.enabled AS enabled, COALESCE(p.mode, $2) AS mode FROM ({LIST_MEMBERS}) lm \
             JOIN mail_list l ON l.room_id = lm.room_id \
             LEFT JOIN mail_pref p ON p.member_id = lm.member_id AND p.room_id = lm.room_id \
             WHERE lm.member_id = $1 ORDER BY l.name"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(member_id)
            .bind(default.as_str())
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| {
                Ok(MemberList {
                    list: list_from_row(row)?,
                    mode: mode_of(&row.try_get::<String, _>("mode")?, default),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Sets a member's mode for one list. Mail of that list not sent yet is cancelled when the
    /// member no longer wants each message.
    pub async fn mail_set_mode(
        &self,
        member_id: &str,
        room_id: &str,
        mode: DeliveryMode,
    ) -> Result<(), StoreError> {
        if mode != DeliveryMode::Message {
            sqlx::query(
                "UPDATE mail_outbox SET state = 'cancelled', email = '' WHERE member_id = $1 AND kind = 'message' \
                 AND state = 'pending' AND ref IN (SELECT event_id FROM mail_message WHERE room_id = $2)",
            )
            .bind(member_id)
            .bind(room_id)
            .execute(self.pool())
            .await?;
        }
        sqlx::query(
            "INSERT INTO mail_pref (member_id, room_id, mode, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (member_id, room_id) DO UPDATE SET mode = $3, updated_at = $4",
        )
        .bind(member_id)
        .bind(room_id)
        .bind(mode.as_str())
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A room member asks for the list by mail (`mode`), or stops (`None`).
    pub async fn mail_opt_in(
        &self,
        room_id: &str,
        member_id: &str,
        mode: Option<DeliveryMode>,
    ) -> Result<(), StoreError> {
        match mode {
            Some(mode) => {
                sqlx::query(
                    "INSERT INTO mail_optin (room_id, member_id) VALUES ($1, $2) \
                     ON CONFLICT (room_id, member_id) DO NOTHING",
                )
                .bind(room_id)
                .bind(member_id)
                .execute(self.pool())
                .await?;
                self.mail_set_mode(member_id, room_id, mode).await
            }
            None => self.mail_set_mode(member_id, room_id, DeliveryMode::None).await,
        }
    }

    /// Leases up to `limit` due deliveries to `owner`. A delivery whose lease expired (its
    /// worker died mid-send) is due again: at-least-once, with the same Message-ID.
    pub async fn mail_claim_outbox(
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
    pub async fn mail_renew_outbox(&self, owner: &str, lease_ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE mail_outbox SET lease_until = $1 WHERE lease_owner = $2 AND state = 'sending'")
            .bind(now_ms() + lease_ms)
            .bind(owner)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Ends a delivery: `sent`, `cancelled` or `failed`. The address is erased from the row.
    pub async fn mail_outbox_finish(
        &self,
        id: i64,
        state: &str,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
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
    pub async fn mail_outbox_mark_sent(&self, id: i64) -> Result<bool, StoreError> {
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
    pub async fn mail_outbox_retry(&self, id: i64, error: &str, next_at: i64) -> Result<(), StoreError> {
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

    pub async fn mail_outbox_stats(&self) -> Result<OutboxStats, StoreError> {
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

    /// Keeps received mail until it is handled; the listener answers 250 only after this.
    pub async fn mail_inbound_store(
        &self,
        rcpt: &str,
        mail_from: &str,
        raw: &[u8],
    ) -> Result<i64, StoreError> {
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

    pub async fn mail_claim_inbound(
        &self,
        limit: i64,
        lease_ms: i64,
    ) -> Result<Vec<InboundItem>, StoreError> {
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
    pub async fn mail_inbound_started(&self, id: i64) -> Result<i64, StoreError> {
        let row =
            sqlx::query("UPDATE mail_inbound SET failures = failures + 1 WHERE id = $1 RETURNING failures")
                .bind(id)
                .fetch_one(self.pool())
                .await?;
        Ok(row.try_get("failures")?)
    }

    /// An attempt that failed (a panic while processing): the mail is tried again at `next_at`,
    /// the attempt staying counted.
    pub async fn mail_inbound_failed(&self, id: i64, outcome: &str, next_at: i64) -> Result<(), StoreError> {
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
    pub async fn mail_inbound_hold(&self, id: i64, outcome: &str) -> Result<bool, StoreError> {
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
    pub async fn mail_inbound_finish(&self, id: i64, state: &str, outcome: &str) -> Result<(), StoreError> {
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
    pub async fn mail_inbound_keep(&self, id: i64, outcome: &str) -> Result<(), StoreError> {
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
    pub async fn mail_postmaster(&self, limit: i64) -> Result<Vec<PostmasterMail>, StoreError> {
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
    pub async fn mail_postmaster_erase(&self, up_to: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM mail_inbound WHERE state = 'postmaster' AND id <= $1")
            .bind(up_to)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// A temporary failure (the homeserver is unreachable): the attempt ended, the mail is tried
    /// again at `next_at`.
    pub async fn mail_inbound_retry(&self, id: i64, outcome: &str, next_at: i64) -> Result<(), StoreError> {
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
    pub async fn mail_inbound_outcomes(&self, limit: i64) -> Result<Vec<(i64, String, String)>, StoreError> {
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

    /// Marks a sent delivery as bounced and returns its member; `None` when unknown or already
    /// counted (an MTA may send the same notification twice).
    pub async fn mail_outbox_bounced(&self, id: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "UPDATE mail_outbox SET state = 'bounced' WHERE id = $1 AND state = 'sent' RETURNING member_id",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.try_get("member_id")).transpose()?)
    }

    /// Counts a bounce of `points` for `email`; returns true when this bounce disabled it.
    pub async fn mail_bounce(&self, email: &str, points: i64, limit: i64) -> Result<bool, StoreError> {
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
    pub async fn mail_address_reset(&self, member_id: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM mail_address WHERE email = (SELECT email FROM prov_member WHERE member_id = $1)",
        )
        .bind(member_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Addresses with bounces of the members of `room_keys`' lists, for the referents' page:
    /// (member id, score, disabled).
    pub async fn mail_bounced_members(&self) -> Result<Vec<(String, i64, bool)>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.member_id AS member_id, a.bounce_score AS score, a.disabled_at AS disabled_at \
             FROM mail_address a JOIN prov_member m ON m.email = a.email WHERE a.bounce_score > 0 \
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
    pub async fn mail_answer_allowed(&self, email: &str, limit: u32, at: i64) -> Result<bool, StoreError> {
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

    /// Drops what the bridge no longer needs, older than `keep_ms`: copies of room messages no
    /// pending mail or digest still carries, finished inbound mail, finished deliveries. Mail
    /// kept for postmaster stays until an operator erases it.
    pub async fn mail_prune(&self, keep_ms: i64) -> Result<u64, StoreError> {
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
