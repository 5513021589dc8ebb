//! The federations' thematic rooms as their referents made them (see [`crate::theme`]). The
//! bots' `!salon` writes them; planning reads them; the room is made by the next provisioning
//! pass that holds the lease, and `realized` says which change it last carried out.

use std::collections::{BTreeMap, BTreeSet};

use ruma::{OwnedUserId, UserId};
use sqlx::Row;

use relais_core::{StoreError, time::now_ms};

use super::{AuditEntry, ProvisioningStore, audit::insert_audit};
use crate::theme::{MAX_PER_FEDERATION, Theme, ThemeAccess};

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
    /// has as many as it may.
    pub async fn create_theme(&self, theme: &NewTheme<'_>) -> Result<ThemeCreated, StoreError> {
        let mut tx = self.pool().begin().await?;
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM prov_theme WHERE federation = $1")
            .bind(theme.federation)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if count >= MAX_PER_FEDERATION as i64 {
            return Ok(ThemeCreated::Full);
        }
        let now = now_ms();
        let inserted = sqlx::query(
            "INSERT INTO prov_theme (room_key, federation, name, access, created_by, created_at, revision, \
             realized) VALUES ($1, $2, $3, $4, $5, $6, 1, 0) ON CONFLICT (room_key) DO NOTHING",
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

    /// Replaces the moderators chosen for the thematic room `key`, with an audit line; `false`
    /// when there is no such room.
    pub async fn set_theme_moderators(
        &self,
        key: &str,
        moderators: &BTreeSet<OwnedUserId>,
        by: &UserId,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let found = sqlx::query("UPDATE prov_theme SET revision = revision + 1 WHERE room_key = $1")
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

    /// The thematic rooms whose last change is not carried out yet.
    pub async fn pending_themes(&self) -> Result<Vec<PendingTheme>, StoreError> {
        let rows = sqlx::query("SELECT room_key, revision FROM prov_theme WHERE realized < revision")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok(PendingTheme { key: r.try_get("room_key")?, revision: r.try_get("revision")? }))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Notes the changes `done` carried out (a later change stays pending).
    pub async fn themes_realized(&self, done: &[PendingTheme]) -> Result<(), StoreError> {
        for theme in done {
            sqlx::query("UPDATE prov_theme SET realized = $2 WHERE room_key = $1 AND realized < $2")
                .bind(&theme.key)
                .bind(theme.revision)
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }
}
