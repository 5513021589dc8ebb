//! The record: what was provisioned (rooms, members, access, subscriptions), read whole for
//! planning and changed only by the effects of completed actions.

use sqlx::{Any, Row, Transaction};

use super::{Effect, RoomRecord, Snapshot};
use relais_core::StoreError;

use super::ProvisioningStore;
#[cfg(any(test, feature = "test-support"))]
use relais_core::time::now_ms;

impl ProvisioningStore {
    /// Loads the whole recorded state.
    pub async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let pool = self.pool();
        let rooms =
            sqlx::query("SELECT room_key, kind, name, parent_key, room_id, moderators FROM prov_room")
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| {
                    Ok(RoomRecord {
                        key: r.try_get("room_key")?,
                        kind: r.try_get("kind")?,
                        name: r.try_get("name")?,
                        parent_key: r.try_get("parent_key")?,
                        room_id: r.try_get("room_id")?,
                        moderators: r.try_get("moderators")?,
                    })
                })
                .collect::<Result<_, sqlx::Error>>()?;
        let members = sqlx::query(
            "SELECT member_id, record, CASE WHEN federation_key IS NULL THEN 0 ELSE 1 END AS keyed FROM prov_member",
        )
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("member_id")?, r.try_get("record")?, r.try_get::<i64, _>("keyed")? == 1)))
            .collect::<Result<_, sqlx::Error>>()?;
        let access = sqlx::query("SELECT room_key, member_id, user_id FROM prov_access")
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("room_key")?, r.try_get("member_id")?, r.try_get("user_id")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        let subscriptions = sqlx::query("SELECT room_key, member_id FROM prov_subscription")
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("room_key")?, r.try_get("member_id")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        let invitations = self.invitations().await?;
        let bans = super::moderation::ModerationStore::new(self.store.clone()).bans().await?;
        let themes = self.themes(None).await?;
        Ok(Snapshot { rooms, members, access, subscriptions, invitations, bans, themes })
    }

    /// The Matrix room id of a provisioned room.
    pub async fn room_id(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT room_id FROM prov_room WHERE room_key = $1")
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("room_id")).transpose()?)
    }

    /// The kind recorded for the room `key` (as stored; `None`: no such room).
    pub async fn room_kind_of(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT kind FROM prov_room WHERE room_key = $1")
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("kind")).transpose()?)
    }

    /// Writes effects straight into the record, with neither journal nor audit: data for tests
    /// and benchmarks, as if a run had applied them.
    #[cfg(any(test, feature = "test-support"))]
    pub async fn seed(&self, effects: &[Effect]) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        let now = now_ms();
        for effect in effects {
            apply_effect(&mut tx, effect, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

pub(super) async fn apply_effect(
    tx: &mut Transaction<'_, Any>,
    effect: &Effect,
    now: i64,
) -> Result<(), sqlx::Error> {
    let q = match effect {
        Effect::Room(r) => sqlx::query(
            "INSERT INTO prov_room (room_key, kind, name, parent_key, room_id, moderators) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (room_key) DO UPDATE SET kind = $2, name = $3, parent_key = $4, room_id = $5",
        )
        .bind(&r.key)
        .bind(&r.kind)
        .bind(&r.name)
        .bind(r.parent_key.as_deref())
        .bind(&r.room_id)
        .bind(&r.moderators),
        Effect::Rename { key, name } => {
            sqlx::query("UPDATE prov_room SET name = $1 WHERE room_key = $2").bind(name).bind(key)
        }
        Effect::Moderators { key, moderators } => {
            sqlx::query("UPDATE prov_room SET moderators = $1 WHERE room_key = $2").bind(moderators).bind(key)
        }
        Effect::Grant { .. } => super::batch::one(super::batch::Bulk::Grant, effect, now),
        Effect::Revoke { room_key, member_id, user_id } => {
            sqlx::query("DELETE FROM prov_access WHERE room_key = $1 AND member_id = $2 AND user_id = $3")
                .bind(room_key)
                .bind(member_id)
                .bind(user_id)
        }
        Effect::Subscribe { .. } => super::batch::one(super::batch::Bulk::Subscribe, effect, now),
        Effect::Unsubscribe { room_key, member_id } => {
            sqlx::query("DELETE FROM prov_subscription WHERE room_key = $1 AND member_id = $2")
                .bind(room_key)
                .bind(member_id)
        }
        // The bulk of an import: the same statement as a batch of them, for one row.
        Effect::Member { .. } => super::batch::one(super::batch::Bulk::Member, effect, now),
        Effect::InvitationSent { member_id } => {
            sqlx::query("UPDATE onboarding SET sent_at = $1 WHERE member_id = $2").bind(now).bind(member_id)
        }
    };
    q.execute(&mut **tx).await?;
    Ok(())
}
