//! The moderation record: each action once (by its command event), and each room's outcome once
//! done. Not fenced by the provisioning lease: the bots write it as moderators act, and an
//! import reads the bans that stand.

mod desk;

pub use desk::NewReport;

use ruma::{OwnedRoomId, OwnedUserId, RoomId, UserId};
use sqlx::Row;

use relais_core::{Store, StoreError, time::now_ms};

use crate::moderation::{Bans, ModerationKind, standing_bans};

/// The moderation tables over the shared pool; cheap to clone.
#[derive(Debug, Clone)]
pub struct ModerationStore {
    store: Store,
}

/// An action as a moderator asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewModeration {
    pub command_event: String,
    pub kind: ModerationKind,
    pub target: OwnedUserId,
    /// A federation's key, or [`EVERYWHERE`](crate::moderation::EVERYWHERE).
    pub scope: String,
    pub reason: String,
    /// A purge: how many of the latest messages in each room (0 for the other kinds).
    pub amount: i64,
    pub moderator: OwnedUserId,
}

/// One room where an action is still to be carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRoom {
    pub action_id: i64,
    pub kind: ModerationKind,
    pub target: OwnedUserId,
    pub room_id: OwnedRoomId,
    pub reason: String,
    pub amount: i64,
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("moderation record: {what}"))
}

impl ModerationStore {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    fn pool(&self) -> &sqlx::AnyPool {
        self.store.pool()
    }

    /// Records an action and the rooms it covers; the same command again returns the first
    /// record's id and adds nothing.
    pub async fn record(&self, action: &NewModeration, rooms: &[OwnedRoomId]) -> Result<i64, StoreError> {
        let mut tx = self.pool().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO moderation_action (command_event, kind, target, scope, reason, moderator, created_at, amount) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (command_event) DO NOTHING RETURNING action_id",
        )
        .bind(&action.command_event)
        .bind(action.kind.as_str())
        .bind(action.target.as_str())
        .bind(&action.scope)
        .bind(&action.reason)
        .bind(action.moderator.as_str())
        .bind(now_ms())
        .bind(action.amount)
        .fetch_optional(&mut *tx)
        .await?;
        let id: i64 = match inserted {
            Some(row) => {
                let id: i64 = row.try_get("action_id")?;
                for room in rooms {
                    sqlx::query(
                        "INSERT INTO moderation_room (action_id, room_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    )
                    .bind(id)
                    .bind(room.as_str())
                    .execute(&mut *tx)
                    .await?;
                }
                id
            }
            None => sqlx::query("SELECT action_id FROM moderation_action WHERE command_event = $1")
                .bind(&action.command_event)
                .fetch_one(&mut *tx)
                .await?
                .try_get("action_id")?,
        };
        tx.commit().await?;
        Ok(id)
    }

    /// Rooms still to act in, oldest action first (`action`: only that one's).
    pub async fn pending(&self, action: Option<i64>) -> Result<Vec<PendingRoom>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.action_id AS action_id, a.kind AS kind, a.target AS target, r.room_id AS room_id, \
               a.reason AS reason, a.amount AS amount \
             FROM moderation_room r JOIN moderation_action a ON a.action_id = r.action_id \
             WHERE r.done_at IS NULL AND ($1 < 0 OR a.action_id = $1) ORDER BY a.action_id, r.room_id",
        )
        .bind(action.unwrap_or(-1))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("kind")?;
                let target: String = r.try_get("target")?;
                let room_id: String = r.try_get("room_id")?;
                Ok(PendingRoom {
                    action_id: r.try_get("action_id")?,
                    kind: ModerationKind::parse(&kind).ok_or_else(|| corrupt("unknown kind"))?,
                    target: UserId::parse(&target).map_err(|_| corrupt("unreadable target"))?,
                    room_id: RoomId::parse(&room_id).map_err(|_| corrupt("unreadable room id"))?,
                    reason: r.try_get("reason")?,
                    amount: r.try_get("amount")?,
                })
            })
            .collect()
    }

    /// Whether a ban or unban of `target` newer than `action_id` covers `room_id`: the older one
    /// must not be carried out there after it (a crash or a slow round would invert them).
    pub async fn superseded(
        &self,
        action_id: i64,
        target: &UserId,
        room_id: &RoomId,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 AS one FROM moderation_room r JOIN moderation_action a ON a.action_id = r.action_id \
             WHERE r.room_id = $1 AND a.target = $2 AND a.kind IN ('ban', 'unban') AND a.action_id > $3 \
             LIMIT 1",
        )
        .bind(room_id.as_str())
        .bind(target.as_str())
        .bind(action_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }

    /// The action is carried out in `room_id`: `outcome` is `done` or why the homeserver refused.
    pub async fn room_done(&self, action_id: i64, room_id: &RoomId, outcome: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE moderation_room SET done_at = $1, outcome = $2 WHERE action_id = $3 AND room_id = $4 \
             AND done_at IS NULL",
        )
        .bind(now_ms())
        .bind(outcome)
        .bind(action_id)
        .bind(room_id.as_str())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// (rooms covered, rooms where it was carried out) of an action.
    pub async fn progress(&self, action_id: i64) -> Result<(i64, i64), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS total, COUNT(CASE WHEN outcome = 'done' THEN 1 END) AS done \
             FROM moderation_room WHERE action_id = $1",
        )
        .bind(action_id)
        .fetch_one(self.pool())
        .await?;
        Ok((row.try_get("total")?, row.try_get("done")?))
    }

    /// Bans and unbans the policy list does not reflect yet: (action id, target), oldest first.
    pub async fn unpublished(&self) -> Result<Vec<(i64, OwnedUserId)>, StoreError> {
        let rows = sqlx::query(
            "SELECT action_id, target FROM moderation_action \
             WHERE kind IN ('ban', 'unban') AND published_at IS NULL ORDER BY action_id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let target: String = r.try_get("target")?;
                Ok((
                    r.try_get("action_id")?,
                    UserId::parse(&target).map_err(|_| corrupt("unreadable target"))?,
                ))
            })
            .collect()
    }

    /// The policy list reflects this action now.
    pub async fn mark_published(&self, action_id: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE moderation_action SET published_at = $1 WHERE action_id = $2 AND published_at IS NULL",
        )
        .bind(now_ms())
        .bind(action_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The users a national ban or unban (scope everywhere) was ever made for.
    pub async fn national_targets(&self) -> Result<std::collections::BTreeSet<OwnedUserId>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT target FROM moderation_action WHERE kind IN ('ban', 'unban') AND scope = $1",
        )
        .bind(crate::moderation::EVERYWHERE)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let target: String = r.try_get("target")?;
                UserId::parse(&target).map_err(|_| corrupt("unreadable target"))
            })
            .collect()
    }

    /// The bans that stand now.
    pub async fn bans(&self) -> Result<Bans, StoreError> {
        let rows = sqlx::query(
            "SELECT target, scope, kind FROM moderation_action WHERE kind IN ('ban', 'unban') ORDER BY action_id",
        )
        .fetch_all(self.pool())
        .await?;
        let mut actions = Vec::with_capacity(rows.len());
        for r in &rows {
            let (target, scope, kind): (String, String, String) =
                (r.try_get("target")?, r.try_get("scope")?, r.try_get("kind")?);
            let target = UserId::parse(&target).map_err(|_| corrupt("unreadable target"))?;
            actions.push((
                target,
                scope,
                ModerationKind::parse(&kind).ok_or_else(|| corrupt("unknown kind"))?,
            ));
        }
        Ok(standing_bans(actions.iter().map(|(u, s, k)| (u.as_ref(), s.as_str(), *k))))
    }
}
