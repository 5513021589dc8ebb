//! Broadcasts: what was sent from the national room, to which rooms, and when each copy went.

use sqlx::Row;

use relais_core::StoreError;

use super::BotStore;
use relais_core::time::now_ms;

/// Where a broadcast's message comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BroadcastOrigin {
    /// A copy of a message of the national room (`!diffuser`): it follows the original's edits
    /// and redaction.
    Copy,
    /// Written by the bot for a selection of proposals (`!sélection`).
    Selection,
}

impl BroadcastOrigin {
    fn as_str(self) -> &'static str {
        match self {
            Self::Copy => "copy",
            Self::Selection => "selection",
        }
    }
}

/// A broadcast as asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBroadcast {
    pub origin: BroadcastOrigin,
    pub command_event: String,
    pub source_room: String,
    pub source_event: String,
    pub sender: String,
    /// The message content to copy, JSON.
    pub content: String,
    pub send_at: i64,
    /// (room id, federation name) of each target.
    pub targets: Vec<(String, String)>,
    /// (token, address) of each link rewritten through Relais's redirect.
    pub links: Vec<(String, String)>,
}

/// One copy still to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    pub broadcast_id: i64,
    pub room_id: String,
    /// The message content to send, decoded (an unreadable one is an error, never `{}`).
    pub content: serde_json::Value,
    /// The broadcast's revision this content is (edits of the original raise it).
    pub revision: i64,
}

impl BotStore {
    /// Records a broadcast and its deliveries; the same command again returns the first record.
    pub async fn broadcast_create(&self, b: &NewBroadcast) -> Result<i64, StoreError> {
        let mut tx = self.pool().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO broadcast (command_event, source_room, source_event, sender, content, send_at, created_at, origin) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (command_event) DO NOTHING RETURNING broadcast_id",
        )
        .bind(&b.command_event)
        .bind(&b.source_room)
        .bind(&b.source_event)
        .bind(&b.sender)
        .bind(&b.content)
        .bind(b.send_at)
        .bind(now_ms())
        .bind(b.origin.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let id: i64 = match row_id(inserted)? {
            Some(id) => {
                for (room_id, federation) in &b.targets {
                    sqlx::query(
                        "INSERT INTO broadcast_delivery (broadcast_id, room_id, federation) VALUES ($1, $2, $3) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(id)
                    .bind(room_id)
                    .bind(federation)
                    .execute(&mut *tx)
                    .await?;
                }
                for (token, url) in &b.links {
                    sqlx::query(
                        "INSERT INTO broadcast_link (token, broadcast_id, url) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    )
                    .bind(token)
                    .bind(id)
                    .bind(url)
                    .execute(&mut *tx)
                    .await?;
                }
                id
            }
            None => sqlx::query("SELECT broadcast_id FROM broadcast WHERE command_event = $1")
                .bind(&b.command_event)
                .fetch_one(&mut *tx)
                .await?
                .try_get("broadcast_id")?,
        };
        tx.commit().await?;
        Ok(id)
    }

    /// Copies due at `now` and not sent yet, of broadcasts not withdrawn. A copy whose content cannot be read is left out
    /// (and said, with its broadcast's id, at each look): it never holds up the others, and is
    /// never sent as an empty message.
    pub async fn broadcast_due(&self, now: i64) -> Result<Vec<DueDelivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.broadcast_id AS broadcast_id, d.room_id AS room_id, b.content AS content, \
               b.revision AS revision \
             FROM broadcast_delivery d JOIN broadcast b ON b.broadcast_id = d.broadcast_id \
             WHERE d.delivered_at IS NULL AND b.send_at <= $1 AND b.withdrawn_at IS NULL \
             ORDER BY d.broadcast_id, d.room_id",
        )
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        let mut due = Vec::with_capacity(rows.len());
        for r in &rows {
            let broadcast_id: i64 = r.try_get("broadcast_id")?;
            let content: String = r.try_get("content")?;
            match serde_json::from_str(&content) {
                Ok(content) => due.push(DueDelivery {
                    broadcast_id,
                    room_id: r.try_get("room_id")?,
                    content,
                    revision: r.try_get("revision")?,
                }),
                Err(e) => tracing::error!(
                    broadcast_id,
                    error = %relais_core::json::error_without_data(&e),
                    "a broadcast's content is unreadable in the database: its copies are not sent"
                ),
            }
        }
        Ok(due)
    }

    /// The copy in `room_id` went out as `event_id`, carrying `revision` of the content.
    pub async fn broadcast_delivered(
        &self,
        broadcast_id: i64,
        room_id: &str,
        event_id: &str,
        revision: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE broadcast_delivery SET event_id = $1, delivered_at = $2, revision = $5 \
             WHERE broadcast_id = $3 AND room_id = $4",
        )
        .bind(event_id)
        .bind(now_ms())
        .bind(broadcast_id)
        .bind(room_id)
        .bind(revision)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// (rooms targeted, rooms delivered) of a broadcast.
    pub async fn broadcast_progress(&self, broadcast_id: i64) -> Result<(i64, i64), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS total, COUNT(delivered_at) AS delivered FROM broadcast_delivery WHERE broadcast_id = $1",
        )
        .bind(broadcast_id)
        .fetch_one(self.pool())
        .await?;
        Ok((row.try_get("total")?, row.try_get("delivered")?))
    }
}

fn row_id(row: Option<sqlx::any::AnyRow>) -> Result<Option<i64>, sqlx::Error> {
    row.map(|r| r.try_get("broadcast_id")).transpose()
}
