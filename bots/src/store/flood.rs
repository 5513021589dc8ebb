//! Flood protection's data: each member's messages in a room within the current window, and the
//! mutes it decided until the clock lifts them.

use ruma::{OwnedRoomId, OwnedUserId, RoomId, UserId};
use sqlx::Row;

use relais_core::StoreError;

use super::BotStore;

/// A mute whose time is up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueMute {
    pub room_id: OwnedRoomId,
    pub user_id: OwnedUserId,
    pub muted_at: i64,
}

impl BotStore {
    /// Counts a message of `user` in `room` at `at` (ms): the messages of the window it falls in
    /// (a window opens at the first message more than `window_ms` after the previous one's
    /// start).
    pub async fn flood_count(
        &self,
        room: &RoomId,
        user: &UserId,
        at: i64,
        window_ms: i64,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO flood_window (room_id, user_id, window_start, messages) VALUES ($1, $2, $3, 1) \
             ON CONFLICT (room_id, user_id) DO UPDATE SET \
               messages = CASE WHEN flood_window.window_start <= $4 THEN 1 ELSE flood_window.messages + 1 END, \
               window_start = CASE WHEN flood_window.window_start <= $4 THEN $3 ELSE flood_window.window_start END \
             RETURNING messages",
        )
        .bind(room.as_str())
        .bind(user.as_str())
        .bind(at)
        .bind(at - window_ms)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("messages")?)
    }

    /// Records a mute of `user` in `room` until `until`; false when one is already running.
    pub async fn flood_mute(
        &self,
        room: &RoomId,
        user: &UserId,
        at: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let running = sqlx::query(
            "SELECT 1 AS one FROM flood_mute WHERE room_id = $1 AND user_id = $2 AND lifted_at IS NULL",
        )
        .bind(room.as_str())
        .bind(user.as_str())
        .fetch_optional(self.pool())
        .await?;
        if running.is_some() {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO flood_mute (room_id, user_id, muted_at, until_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(room.as_str())
        .bind(user.as_str())
        .bind(at)
        .bind(until)
        .execute(self.pool())
        .await?;
        Ok(true)
    }

    /// Mutes whose time is up at `now` and not lifted yet.
    pub async fn flood_mutes_due(&self, now: i64) -> Result<Vec<DueMute>, StoreError> {
        let rows = sqlx::query(
            "SELECT room_id, user_id, muted_at FROM flood_mute WHERE lifted_at IS NULL AND until_at <= $1 \
             ORDER BY muted_at",
        )
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let (room, user): (String, String) = (r.try_get("room_id")?, r.try_get("user_id")?);
                Ok(DueMute {
                    room_id: RoomId::parse(&room)
                        .map_err(|_| StoreError::Corrupt("a muted room's id".into()))?,
                    user_id: UserId::parse(&user)
                        .map_err(|_| StoreError::Corrupt("a muted user's id".into()))?,
                    muted_at: r.try_get("muted_at")?,
                })
            })
            .collect()
    }

    /// The mute is lifted; windows older than `forget_before` are forgotten.
    pub async fn flood_lifted(&self, mute: &DueMute, now: i64, forget_before: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE flood_mute SET lifted_at = $1 WHERE room_id = $2 AND user_id = $3 AND muted_at = $4",
        )
        .bind(now)
        .bind(mute.room_id.as_str())
        .bind(mute.user_id.as_str())
        .bind(mute.muted_at)
        .execute(self.pool())
        .await?;
        self.flood_forget(forget_before).await
    }

    /// Forgets the windows that started before `before`, and those a server dated more than a
    /// day after now (a lying clock must not keep rows forever).
    pub async fn flood_forget(&self, before: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM flood_window WHERE window_start < $1 OR window_start > $2")
            .bind(before)
            .bind(before.saturating_add(2 * relais_core::time::DAY_MS))
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
