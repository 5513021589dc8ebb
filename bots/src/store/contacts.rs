//! The bot's contacts with members: whom it welcomed (once each), and its direct room with each
//! member it wrote to privately.

use relais_core::{StoreError, time::now_ms};
use sqlx::Row;

use super::BotStore;

impl BotStore {
    /// Whether `member_id` was welcomed already.
    pub async fn welcomed(&self, member_id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 AS one FROM bot_welcome WHERE member_id = $1")
            .bind(member_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.is_some())
    }

    pub async fn mark_welcomed(&self, member_id: &str, room_id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO bot_welcome (member_id, room_id, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(member_id)
        .bind(room_id)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The bot's direct-message room with `user_id`, if it made one.
    pub async fn bot_dm(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT room_id FROM bot_dm WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("room_id")).transpose()?)
    }

    pub async fn set_bot_dm(&self, user_id: &str, room_id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO bot_dm (user_id, room_id) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET room_id = $2",
        )
        .bind(user_id)
        .bind(room_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
