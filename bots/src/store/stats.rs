//! Broadcast statistics without trackers: rooms delivered, readers and reactions counted by a
//! keyed hash of the member (never their id), link clicks through Relais's redirect (counts only),
//! mails handed to SMTP for each copy, and federations' local notes.
//!
//! Email *opens* are not counted: a per-recipient pixel tracks individuals, and a shared one
//! measures little (clients block remote images, Apple Mail Privacy Protection fetches them for
//! everyone); clicks on rewritten links are the mail readers' signal.

use sqlx::Row;

use relais_bridge::store::MailStore;
use relais_core::StoreError;

use super::BotStore;
use relais_core::time::{DAY_MS, now_ms};

/// Read receipts count for a broadcast only this long after its delivery.
pub const READ_WINDOW_MS: i64 = 30 * DAY_MS;

/// What one broadcast achieved, across its rooms or in one of them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BroadcastStats {
    pub broadcast_id: i64,
    pub send_at: i64,
    /// The message content as copied, decoded; `None`: unreadable in the database (shown as
    /// such, never as an empty message).
    pub content: Option<serde_json::Value>,
    pub rooms_targeted: i64,
    pub rooms_delivered: i64,
    /// Distinct members who opened a room after the copy arrived there.
    pub readers: i64,
    pub reactions: i64,
    /// Clicks on the broadcast's links (all rooms and mails together).
    pub clicks: i64,
    /// Mails handed to SMTP carrying a copy, each message or in a digest.
    pub mails: i64,
    pub notes: i64,
    /// Edits of the original the copies followed.
    pub edits: i64,
    /// When the original's redaction withdrew the copies.
    pub withdrawn_at: Option<i64>,
    /// Those who stopped receiving a targeted room by mail after a copy arrived there, until
    /// the room's next broadcast, within [`UNSUBSCRIBE_WINDOW_MS`] (counts only, never who).
    pub unsubscribes: i64,
}

/// How long after a copy an unsubscribe from its room is counted against the broadcast.
pub const UNSUBSCRIBE_WINDOW_MS: i64 = 7 * 24 * 3_600_000;

impl BotStore {
    /// (broadcast id, room id) of the copy that became `event_id`.
    pub async fn broadcast_of_copy(&self, event_id: &str) -> Result<Option<(i64, String)>, StoreError> {
        let row = sqlx::query("SELECT broadcast_id, room_id FROM broadcast_delivery WHERE event_id = $1")
            .bind(event_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row
            .map(|r| Ok::<_, sqlx::Error>((r.try_get("broadcast_id")?, r.try_get("room_id")?)))
            .transpose()?)
    }

    /// A read receipt in `room_id` at `ts`: the reader has reached every copy delivered there
    /// before (within [`READ_WINDOW_MS`]). Returns how many copies were newly reached.
    pub async fn broadcast_record_read(
        &self,
        room_id: &str,
        reader: &str,
        ts: i64,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "INSERT INTO broadcast_read (broadcast_id, room_id, reader) \
             SELECT broadcast_id, room_id, $2 FROM broadcast_delivery \
             WHERE room_id = $1 AND delivered_at IS NOT NULL AND delivered_at <= $3 AND delivered_at >= $4 \
             ON CONFLICT DO NOTHING",
        )
        .bind(room_id)
        .bind(reader)
        .bind(ts)
        .bind(ts - READ_WINDOW_MS)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    pub async fn broadcast_record_reaction(
        &self,
        broadcast_id: i64,
        room_id: &str,
        reactor: &str,
        reaction: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO broadcast_reaction (broadcast_id, room_id, reactor, reaction) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(broadcast_id)
        .bind(room_id)
        .bind(reactor)
        .bind(reaction)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Counts a click on a rewritten link and returns where it goes.
    pub async fn link_follow(&self, token: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("UPDATE broadcast_link SET clicks = clicks + 1 WHERE token = $1 RETURNING url")
            .bind(token)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("url")).transpose()?)
    }

    /// Where a rewritten link goes, without counting (a `HEAD`, a preview).
    pub async fn link_target(&self, token: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT url FROM broadcast_link WHERE token = $1")
            .bind(token)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("url")).transpose()?)
    }

    /// Records a local note asked by `command_event`; false when it was recorded already.
    pub async fn note_create(
        &self,
        command_event: &str,
        broadcast_id: i64,
        room_id: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO broadcast_note (command_event, broadcast_id, room_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(command_event)
        .bind(broadcast_id)
        .bind(room_id)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn note_sent(&self, command_event: &str, event_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE broadcast_note SET event_id = $1 WHERE command_event = $2")
            .bind(event_id)
            .bind(command_event)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Statistics of the newest broadcasts that went out (or are due), newest first; restricted to
    /// one room's copy when `room_id` is given (clicks stay the broadcast's whole count).
    pub async fn broadcast_stats(
        &self,
        room_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<BroadcastStats>, StoreError> {
        let room = room_id.unwrap_or("");
        let rows = sqlx::query(
            "SELECT b.broadcast_id AS broadcast_id, b.send_at AS send_at, b.content AS content, \
               b.withdrawn_at AS withdrawn_at, \
               COUNT(d.room_id) AS targeted, COUNT(d.delivered_at) AS delivered \
             FROM broadcast b JOIN broadcast_delivery d ON d.broadcast_id = b.broadcast_id \
             WHERE ($1 = '' OR d.room_id = $1) \
             GROUP BY b.broadcast_id, b.send_at, b.content, b.withdrawn_at ORDER BY b.send_at DESC, b.broadcast_id DESC LIMIT $2",
        )
        .bind(room)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: i64 = r.try_get("broadcast_id")?;
            let content: String = r.try_get("content")?;
            out.push(BroadcastStats {
                broadcast_id: id,
                send_at: r.try_get("send_at")?,
                content: serde_json::from_str(&content)
                    .inspect_err(|e| {
                        let error = relais_core::json::error_without_data(e);
                        tracing::error!(broadcast_id = id, %error, "a broadcast's content is unreadable");
                    })
                    .ok(),
                rooms_targeted: r.try_get("targeted")?,
                rooms_delivered: r.try_get("delivered")?,
                readers: self.count_in("broadcast_read", id, room).await?,
                reactions: self.count_in("broadcast_reaction", id, room).await?,
                notes: self.count_in("broadcast_note", id, room).await?,
                clicks: self.scalar("SELECT CAST(COALESCE(SUM(clicks), 0) AS BIGINT) AS n FROM broadcast_link WHERE broadcast_id = $1", id).await?,
                mails: self.mails_of_broadcast(id, room).await?,
                edits: self.scalar("SELECT COUNT(*) AS n FROM broadcast_correction WHERE broadcast_id = $1 AND kind = 'edit'", id).await?,
                withdrawn_at: r.try_get("withdrawn_at")?,
                unsubscribes: self.unsubscribes_after(id, room).await?,
            });
        }
        Ok(out)
    }

    async fn count_in(&self, table: &'static str, broadcast_id: i64, room: &str) -> Result<i64, StoreError> {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM {table} WHERE broadcast_id = $1 AND ($2 = '' OR room_id = $2)"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(broadcast_id)
            .bind(room)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    async fn scalar(&self, sql: &'static str, id: i64) -> Result<i64, StoreError> {
        let row = sqlx::query(sql).bind(id).fetch_one(self.pool()).await?;
        Ok(row.try_get("n")?)
    }

    /// Stops of mail in each room a copy reached (all its rooms, or `room`), after the copy and
    /// before the room's next broadcast, within [`UNSUBSCRIBE_WINDOW_MS`].
    async fn unsubscribes_after(&self, broadcast_id: i64, room: &str) -> Result<i64, StoreError> {
        let rows = sqlx::query(
            "SELECT d.room_id AS room_id, d.delivered_at AS delivered_at, \
               (SELECT MIN(n.delivered_at) FROM broadcast_delivery n \
                WHERE n.room_id = d.room_id AND n.delivered_at > d.delivered_at) AS next_at \
             FROM broadcast_delivery d \
             WHERE d.broadcast_id = $1 AND ($2 = '' OR d.room_id = $2) AND d.delivered_at IS NOT NULL",
        )
        .bind(broadcast_id)
        .bind(room)
        .fetch_all(self.pool())
        .await?;
        let mail = MailStore::new(self.store.clone());
        let mut total = 0;
        for row in rows {
            let (room_id, at): (String, i64) = (row.try_get("room_id")?, row.try_get("delivered_at")?);
            let next: Option<i64> = row.try_get("next_at")?;
            let until = next.map_or(at + UNSUBSCRIBE_WINDOW_MS, |n| n.min(at + UNSUBSCRIBE_WINDOW_MS));
            total += mail.unsubscribes_between(&room_id, at, until).await?;
        }
        Ok(total)
    }

    /// Mails sent with a copy of the broadcast (all its rooms, or `room`), as the mail bridge
    /// counts them.
    async fn mails_of_broadcast(&self, broadcast_id: i64, room: &str) -> Result<i64, StoreError> {
        let rows = sqlx::query(
            "SELECT event_id FROM broadcast_delivery \
             WHERE broadcast_id = $1 AND ($2 = '' OR room_id = $2) AND event_id IS NOT NULL",
        )
        .bind(broadcast_id)
        .bind(room)
        .fetch_all(self.pool())
        .await?;
        let copies = rows.iter().map(|r| r.try_get("event_id")).collect::<Result<Vec<String>, _>>()?;
        MailStore::new(self.store.clone()).sent_carrying(&copies).await
    }
}
