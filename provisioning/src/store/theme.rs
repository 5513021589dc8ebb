//! The federations' thematic rooms as their referents made them (see [`crate::theme`]). The
//! bots' `!salon` writes them; planning reads them; the room is made by the next provisioning
//! pass that holds the lease, and `realized` says which change it last carried out.

use std::collections::{BTreeMap, BTreeSet};

use ruma::{OwnedUserId, UserId};
use sqlx::Row;

use relais_core::{StoreError, time::now_ms};

use super::{AuditEntry, ProvisioningStore, audit::insert_audit};
use crate::theme::{MAX_PER_FEDERATION, Theme, ThemeAccess, ThemeContext};

/// A thematic room to record.
#[derive(Debug, Clone)]
pub struct NewTheme<'a> {
    pub key: &'a str,
    pub federation: &'a str,
    pub name: &'a str,
    pub access: ThemeAccess,
    pub created_by: &'a UserId,
}

/// What recording a thematic room did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThemeCreated {
    Created,
    /// The federation already has a room of that key (the same name, or one that folds alike).
    Exists,
    /// The federation has [`MAX_PER_FEDERATION`] already.
    Full,
}

/// A change not carried out yet: the room's key and the revision to mark realized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingTheme {
    pub key: String,
    pub revision: i64,
}

impl ProvisioningStore {
    /// Records a thematic room, with an audit line, unless its key is taken or its federation
    /// has as many as it may (counted on the federation's own row, so two made at once cannot
    /// pass the limit together).
    pub async fn create_theme(&self, theme: &NewTheme<'_>) -> Result<ThemeCreated, StoreError> {
        let mut tx = self.pool().begin().await?;
        let now = now_ms();
        let inserted = sqlx::query(
            "INSERT INTO prov_theme (room_key, federation, name, access, created_by, created_at, revision, \
             realized, next_attempt) VALUES ($1, $2, $3, $4, $5, $6, 1, 0, 0) ON CONFLICT (room_key) DO NOTHING",
        )
        .bind(theme.key)
        .bind(theme.federation)
        .bind(theme.name)
        .bind(theme.access.as_str())
        .bind(theme.created_by.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Ok(ThemeCreated::Exists);
        }
        sqlx::query(
            "INSERT INTO prov_theme_count (federation, n) VALUES ($1, 0) ON CONFLICT (federation) DO NOTHING",
        )
        .bind(theme.federation)
        .execute(&mut *tx)
        .await?;
        let counted = sqlx::query("UPDATE prov_theme_count SET n = n + 1 WHERE federation = $1 AND n < $2")
            .bind(theme.federation)
            .bind(MAX_PER_FEDERATION as i64)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if counted == 0 {
            // Dropped without commit: the room is not recorded.
            return Ok(ThemeCreated::Full);
        }
        let entry = AuditEntry {
            at: now,
            actor: theme.created_by.to_string(),
            action: "create_theme".into(),
            target: theme.key.to_owned(),
            detail: theme.access.as_str().to_owned(),
        };
        insert_audit(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(ThemeCreated::Created)
    }

    /// Asks the next pass to try the thematic room `key` again at once (its room was not made).
    pub async fn retry_theme(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE prov_theme SET next_attempt = 0 WHERE room_key = $1")
            .bind(key)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Replaces the moderators chosen for the thematic room `key`, with an audit line; `false`
    /// when there is no such room.
    pub async fn set_theme_moderators(
        &self,
        key: &str,
        moderators: &BTreeSet<OwnedUserId>,
        by: &UserId,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let found = sqlx::query(
            "UPDATE prov_theme SET revision = revision + 1, next_attempt = 0 WHERE room_key = $1",
        )
        .bind(key)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if found == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM prov_theme_moderator WHERE room_key = $1")
            .bind(key)
            .execute(&mut *tx)
            .await?;
        for user in moderators {
            sqlx::query("INSERT INTO prov_theme_moderator (room_key, user_id) VALUES ($1, $2)")
                .bind(key)
                .bind(user.as_str())
                .execute(&mut *tx)
                .await?;
        }
        let entry = AuditEntry {
            at: now_ms(),
            actor: by.to_string(),
            action: "theme_moderators".into(),
            target: key.to_owned(),
            detail: moderators.iter().map(|u| u.as_str()).collect::<Vec<_>>().join(" "),
        };
        insert_audit(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every thematic room (`federation`: only that federation's), by key.
    pub async fn themes(&self, federation: Option<&str>) -> Result<Vec<Theme>, StoreError> {
        let rows = sqlx::query(
            "SELECT room_key, federation, name, access FROM prov_theme \
             WHERE federation = COALESCE($1, federation) ORDER BY room_key",
        )
        .bind(federation)
        .fetch_all(self.pool())
        .await?;
        let chosen = sqlx::query(
            "SELECT m.room_key AS room_key, m.user_id AS user_id FROM prov_theme_moderator m \
             JOIN prov_theme t ON t.room_key = m.room_key WHERE t.federation = COALESCE($1, t.federation)",
        )
        .bind(federation)
        .fetch_all(self.pool())
        .await?;
        let mut moderators: BTreeMap<String, BTreeSet<OwnedUserId>> = BTreeMap::new();
        for row in &chosen {
            let key: String = row.try_get("room_key")?;
            match UserId::parse(row.try_get::<String, _>("user_id")?) {
                Ok(user) => {
                    moderators.entry(key).or_default().insert(user);
                }
                Err(_) => tracing::warn!(room = %key, "an unreadable moderator of a thematic room: left out"),
            }
        }
        let mut themes = Vec::with_capacity(rows.len());
        for row in &rows {
            let key: String = row.try_get("room_key")?;
            let Some(access) = ThemeAccess::parse(&row.try_get::<String, _>("access")?) else {
                tracing::warn!(room = %key, "a thematic room of unknown access: left out");
                continue;
            };
            themes.push(Theme {
                moderators: moderators.remove(&key).unwrap_or_default(),
                key,
                federation: row.try_get("federation")?,
                name: row.try_get("name")?,
                access,
            });
        }
        Ok(themes)
    }

    /// The thematic rooms whose last change is not carried out yet and may be tried at `now`.
    pub async fn pending_themes(&self, now: i64) -> Result<Vec<PendingTheme>, StoreError> {
        let rows = sqlx::query(
            "SELECT room_key, revision FROM prov_theme WHERE realized < revision AND next_attempt <= $1 \
             ORDER BY room_key",
        )
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok(PendingTheme { key: r.try_get("room_key")?, revision: r.try_get("revision")? }))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Notes the change `done` carried out (a later change stays pending).
    pub async fn theme_realized(&self, done: &PendingTheme) -> Result<(), StoreError> {
        sqlx::query("UPDATE prov_theme SET realized = $2 WHERE room_key = $1 AND realized < $2")
            .bind(&done.key)
            .bind(done.revision)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Puts off the thematic room `key`, which could not be made, until `next_attempt`.
    pub async fn theme_failed(&self, key: &str, next_attempt: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE prov_theme SET next_attempt = $2 WHERE room_key = $1")
            .bind(key)
            .bind(next_attempt)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// What is recorded around the thematic room `key` of the federation `federation`.
    pub async fn theme_context(&self, key: &str, federation: &str) -> Result<ThemeContext, StoreError> {
        let public = format!("{federation}.public");
        let rows = sqlx::query("SELECT room_key, moderators FROM prov_room WHERE room_key IN ($1, $2, $3)")
            .bind(key)
            .bind(federation)
            .bind(&public)
            .fetch_all(self.pool())
            .await?;
        let mut context = ThemeContext::default();
        for row in &rows {
            let room: String = row.try_get("room_key")?;
            let json: String = row.try_get("moderators")?;
            // Unreadable moderators are set again, as planning does.
            let moderators = serde_json::from_str::<BTreeSet<OwnedUserId>>(&json).unwrap_or_default();
            match room.as_str() {
                r if r == key => context.room = Some(moderators),
                r if r == federation => context.space = Some(moderators),
                _ => context.public_space = true,
            }
        }
        Ok(context)
    }

    /// Those of `users` who are active members of the federation `federation` (its key).
    pub async fn active_in_federation(
        &self,
        users: &BTreeSet<OwnedUserId>,
        federation: &str,
    ) -> Result<BTreeSet<OwnedUserId>, StoreError> {
        let mut members = BTreeSet::new();
        for user in users {
            let record = sqlx::query("SELECT record FROM prov_member WHERE matrix_id = $1 AND active = 1")
                .bind(user.as_str())
                .fetch_all(self.pool())
                .await?;
            for row in &record {
                let json: String = row.try_get("record")?;
                let of = serde_json::from_str::<crate::model::MemberRow>(&json)
                    .is_ok_and(|m| crate::desired::federation_key(&m.federation) == federation);
                if of {
                    members.insert(user.clone());
                }
            }
        }
        Ok(members)
    }

    /// The thematic rooms `users` made or moderate, for a member's export: (room, made it,
    /// chosen as moderator).
    pub async fn theme_export(&self, users: &[String]) -> Result<Vec<(String, bool, bool)>, StoreError> {
        let mut rooms: BTreeMap<String, (bool, bool)> = BTreeMap::new();
        for user in users {
            let made = sqlx::query("SELECT room_key FROM prov_theme WHERE created_by = $1")
                .bind(user)
                .fetch_all(self.pool())
                .await?;
            for row in &made {
                rooms.entry(row.try_get("room_key")?).or_default().0 = true;
            }
            let chosen = sqlx::query("SELECT room_key FROM prov_theme_moderator WHERE user_id = $1")
                .bind(user)
                .fetch_all(self.pool())
                .await?;
            for row in &chosen {
                rooms.entry(row.try_get("room_key")?).or_default().1 = true;
            }
        }
        Ok(rooms.into_iter().map(|(room, (made, chosen))| (room, made, chosen)).collect())
    }

    /// Every thematic room and who made it, by key.
    #[cfg(test)]
    pub(crate) async fn theme_creators(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT room_key, created_by FROM prov_theme ORDER BY room_key")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("room_key")?, r.try_get("created_by")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}
