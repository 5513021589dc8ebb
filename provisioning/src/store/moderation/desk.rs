//! Moderation rooms ("desks") by scope, and members' reports posted there.

use ruma::{OwnedRoomId, RoomId};
use sqlx::Row;

use relais_core::{StoreError, time::now_ms};

use super::{ModerationStore, corrupt};

/// A member's report as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReport {
    pub command_event: String,
    /// The federation's key, or [`EVERYWHERE`](crate::moderation::EVERYWHERE).
    pub scope: String,
    pub room_id: OwnedRoomId,
    pub reported_event: String,
}

impl ModerationStore {
    /// The moderation room of `scope`, if one was made.
    pub async fn desk(&self, scope: &str) -> Result<Option<OwnedRoomId>, StoreError> {
        let row = sqlx::query("SELECT room_id FROM moderation_desk WHERE scope = $1")
            .bind(scope)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| {
            let id: String = r.try_get("room_id")?;
            RoomId::parse(&id).map_err(|_| corrupt("unreadable desk room id"))
        })
        .transpose()
    }

    /// Records `room_id` as the moderation room of `scope`, unless one was recorded meanwhile;
    /// returns the one that stands.
    pub async fn set_desk(&self, scope: &str, room_id: &RoomId) -> Result<OwnedRoomId, StoreError> {
        sqlx::query("INSERT INTO moderation_desk (scope, room_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(scope)
            .bind(room_id.as_str())
            .execute(self.pool())
            .await?;
        self.desk(scope).await?.ok_or_else(|| corrupt("a desk recorded and gone"))
    }

    /// The scope whose moderation room `room_id` is.
    pub async fn scope_of_desk(&self, room_id: &RoomId) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT scope FROM moderation_desk WHERE room_id = $1")
            .bind(room_id.as_str())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("scope")).transpose()?)
    }

    /// Records a report once (by its command); returns whether it is new.
    pub async fn report_record(&self, report: &NewReport) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO moderation_report (command_event, scope, room_id, reported_event, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(&report.command_event)
        .bind(&report.scope)
        .bind(report.room_id.as_str())
        .bind(&report.reported_event)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The report reached the moderation room as `posted_event`.
    pub async fn report_posted(&self, command_event: &str, posted_event: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE moderation_report SET posted_event = $1 WHERE command_event = $2")
            .bind(posted_event)
            .bind(command_event)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
