//! The directory provisioning publishes: what the other features (bots, mail bridge, pages) may
//! know of the members and rooms Relais provisioned — a member's names, federation, section and
//! address, whether they are active; a room's kind and name; whom the membership file lets into a
//! room. Read-only: only provisioning writes these tables, and nothing else reads them.
//!
//! Everything is decoded here, once: Matrix ids into ruma's types, room kinds into
//! [`RoomKind`], a member's record into [`DirectoryMember`]. A row that does not decode is an
//! error ([`StoreError::Corrupt`]), never an anonymous member or a room of no kind; in a list,
//! it is left out and logged, never holding up the others.

use std::collections::HashMap;

use relais_core::{Store, StoreError};
use ruma::{OwnedRoomId, OwnedUserId, RoomId, UserId};
use serde::Deserialize;
use sqlx::{Row, any::AnyRow};

use crate::desired::RoomKind;

/// Read-only access to provisioning's members and rooms; cheap to clone.
#[derive(Debug, Clone)]
pub struct Directory {
    store: Store,
}

/// A provisioned member, as the other features see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryMember {
    pub member_id: String,
    pub first_name: String,
    pub last_name: String,
    pub federation: String,
    pub section: Option<String>,
    pub email: Option<String>,
    pub active: bool,
}

impl DirectoryMember {
    /// "First Last", or what the record has of it.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name).trim().to_owned()
    }
}

/// An active member holding an office, as a broadcast by role reaches them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleHolder {
    pub member_id: String,
    pub federation: String,
    /// Their Matrix account; `None` until they have one.
    pub user_id: Option<OwnedUserId>,
}

/// A provisioned room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryRoom {
    /// Stable across exports (`nord.annonces`); the alias is made of it.
    pub key: String,
    pub kind: RoomKind,
    pub name: String,
    pub room_id: OwnedRoomId,
}

/// The fields of provisioning's member record the directory publishes. Fields absent from an
/// older record are empty; a record that is not such an object is unreadable.
#[derive(Deserialize)]
struct Record {
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    federation: String,
    #[serde(default)]
    section: Option<String>,
    #[serde(default)]
    roles: Vec<crate::model::Role>,
}

fn member(row: &AnyRow) -> Result<DirectoryMember, StoreError> {
    let member_id: String = row.try_get("member_id")?;
    let record: String = row.try_get("record")?;
    let record: Record = serde_json::from_str(&record)
        .map_err(|e| StoreError::unreadable_json("the record of a member", &e))?;
    Ok(DirectoryMember {
        member_id,
        first_name: record.first_name,
        last_name: record.last_name,
        federation: record.federation,
        section: record.section,
        email: row.try_get("email")?,
        active: row.try_get::<i64, _>("active")? != 0,
    })
}

fn room(row: &AnyRow) -> Result<DirectoryRoom, StoreError> {
    let kind: String = row.try_get("kind")?;
    Ok(DirectoryRoom {
        key: row.try_get("room_key")?,
        kind: kind.parse().map_err(|_| StoreError::Corrupt("a provisioned room of unknown kind".into()))?,
        name: row.try_get("name")?,
        room_id: room_id(&row.try_get::<String, _>("room_id")?)?,
    })
}

fn room_id(raw: &str) -> Result<OwnedRoomId, StoreError> {
    RoomId::parse(raw).map_err(|_| StoreError::Corrupt("a provisioned room id that is not one".into()))
}

fn user_id(raw: &str) -> Result<OwnedUserId, StoreError> {
    UserId::parse(raw).map_err(|_| StoreError::Corrupt("a member's Matrix id that is not one".into()))
}

const MEMBER_COLUMNS: &str = "member_id, record, email, active";

impl Directory {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    fn pool(&self) -> &sqlx::AnyPool {
        self.store.pool()
    }

    /// The member `member_id`, active or not.
    pub async fn member(&self, member_id: &str) -> Result<Option<DirectoryMember>, StoreError> {
        let sql = format!("SELECT {MEMBER_COLUMNS} FROM prov_member WHERE member_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(member_id).fetch_optional(self.pool()).await?;
        row.as_ref().map(member).transpose()
    }

    /// The address of member `member_id`, if they have one (their record is not read: what
    /// needs only the address works even beside an unreadable record).
    pub async fn email(&self, member_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT email FROM prov_member WHERE member_id = $1")
            .bind(member_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get::<Option<String>, _>("email")).transpose()?.flatten())
    }

    /// The address of the active member `member_id`, if they have one.
    pub async fn active_email(&self, member_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT email FROM prov_member WHERE member_id = $1 AND active = 1")
            .bind(member_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get::<Option<String>, _>("email")).transpose()?.flatten())
    }

    /// The id of the active member whose Matrix account is `user_id` (their record not read).
    pub async fn member_id_of(&self, user_id: &UserId) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT member_id FROM prov_member WHERE matrix_id = $1 AND active = 1")
            .bind(user_id.as_str())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("member_id")).transpose()?)
    }

    /// The active member whose Matrix account is `user_id`.
    pub async fn member_by_matrix_id(&self, user_id: &UserId) -> Result<Option<DirectoryMember>, StoreError> {
        let sql = format!("SELECT {MEMBER_COLUMNS} FROM prov_member WHERE matrix_id = $1 AND active = 1");
        let row =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user_id.as_str()).fetch_optional(self.pool()).await?;
        row.as_ref().map(member).transpose()
    }

    /// Matrix account → member id of the active members who have one.
    pub async fn members_by_matrix_id(&self) -> Result<HashMap<OwnedUserId, String>, StoreError> {
        let rows = sqlx::query(
            "SELECT matrix_id, member_id FROM prov_member WHERE active = 1 AND matrix_id IS NOT NULL",
        )
        .fetch_all(self.pool())
        .await?;
        let mut out = HashMap::with_capacity(rows.len());
        for row in &rows {
            match user_id(&row.try_get::<String, _>("matrix_id")?) {
                Ok(user) => {
                    out.insert(user, row.try_get("member_id")?);
                }
                Err(error) => tracing::error!(%error, "a member's account is unreadable: left out"),
            }
        }
        Ok(out)
    }

    /// The active members holding one of `roles`, with their federation and Matrix account (none
    /// yet for some), by member id. A record that cannot be read is left out and logged.
    pub async fn role_holders(&self, roles: &[crate::model::Role]) -> Result<Vec<RoleHolder>, StoreError> {
        let rows = sqlx::query(
            "SELECT member_id, record, matrix_id FROM prov_member WHERE active = 1 ORDER BY member_id",
        )
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::new();
        for row in &rows {
            let record: String = row.try_get("record")?;
            let record: Record = match serde_json::from_str(&record) {
                Ok(record) => record,
                Err(e) => {
                    let error = StoreError::unreadable_json("the record of a member", &e);
                    tracing::error!(%error, "a member's record is unreadable: left out");
                    continue;
                }
            };
            if !record.roles.iter().any(|r| roles.contains(r)) {
                continue;
            }
            let matrix_id: Option<String> = row.try_get("matrix_id")?;
            out.push(RoleHolder {
                member_id: row.try_get("member_id")?,
                federation: record.federation,
                user_id: matrix_id.as_deref().map(user_id).transpose()?,
            });
        }
        Ok(out)
    }

    /// Every member id known to the membership file (active or not).
    pub async fn member_ids(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT member_id FROM prov_member").fetch_all(self.pool()).await?;
        Ok(rows.iter().map(|r| r.try_get("member_id")).collect::<Result<_, _>>()?)
    }

    /// The provisioned room `room_id`; `None` for a room Relais did not provision.
    pub async fn room(&self, room_id: &RoomId) -> Result<Option<DirectoryRoom>, StoreError> {
        let row = sqlx::query("SELECT room_key, kind, name, room_id FROM prov_room WHERE room_id = $1")
            .bind(room_id.as_str())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(room).transpose()
    }

    /// The name of the provisioned room `room_id` (its kind not read: what needs only the name
    /// works beside a room of a kind this version does not know).
    pub async fn room_name(&self, room_id: &RoomId) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT name FROM prov_room WHERE room_id = $1")
            .bind(room_id.as_str())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("name")).transpose()?)
    }

    /// The provisioned rooms of the given kinds, by key. A room that cannot be read is left
    /// out and logged, never holding up the others.
    pub async fn rooms_of_kinds(&self, kinds: &[RoomKind]) -> Result<Vec<DirectoryRoom>, StoreError> {
        let rows = sqlx::query("SELECT room_key, kind, name, room_id FROM prov_room ORDER BY room_key")
            .fetch_all(self.pool())
            .await?;
        let mut out = Vec::new();
        for row in &rows {
            let kind: String = row.try_get("kind")?;
            if kinds.iter().any(|k| k.as_str() == kind) {
                match room(row) {
                    Ok(room) => out.push(room),
                    Err(error) => tracing::error!(%error, "a provisioned room is unreadable: left out"),
                }
            }
        }
        Ok(out)
    }

    /// What the provisioned room `room_id` is for (`None`: not one Relais provisioned).
    pub async fn room_kind(&self, room_id: &RoomId) -> Result<Option<RoomKind>, StoreError> {
        let row = sqlx::query("SELECT kind FROM prov_room WHERE room_id = $1")
            .bind(room_id.as_str())
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let kind: String = row.try_get("kind")?;
        kind.parse().map(Some).map_err(|_| StoreError::Corrupt("a provisioned room of unknown kind".into()))
    }

    /// The key of the provisioned room `room_id` (`None`: not one Relais provisioned).
    pub async fn room_key(&self, room_id: &RoomId) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT room_key FROM prov_room WHERE room_id = $1")
            .bind(room_id.as_str())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("room_key")).transpose()?)
    }

    /// The space of the federation a provisioned room belongs to (the space itself for the
    /// space); `None` for national rooms and rooms Relais did not provision. Two lookups by key,
    /// whatever the number of rooms.
    pub async fn federation_space(&self, room_id: &RoomId) -> Result<Option<DirectoryRoom>, StoreError> {
        let Some(key) = self.room_key(room_id).await? else { return Ok(None) };
        let scope = crate::moderation::room_scope(&key);
        let row = sqlx::query(
            "SELECT room_key, kind, name, room_id FROM prov_room WHERE room_key = $1 AND kind = $2",
        )
        .bind(scope)
        .bind(RoomKind::FederationSpace.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(room).transpose()
    }

    /// The federation a provisioned room belongs to: its space, and every room of it (the space
    /// included), by key. `None` for the national space and rooms Relais did not provision.
    pub async fn federation_rooms(
        &self,
        room_id: &RoomId,
    ) -> Result<Option<(DirectoryRoom, Vec<DirectoryRoom>)>, StoreError> {
        let Some(key) = self.room_key(room_id).await? else { return Ok(None) };
        let scope = crate::moderation::room_scope(&key).to_owned();
        let rooms: Vec<DirectoryRoom> = self
            .rooms_of_kinds(&RoomKind::ALL)
            .await?
            .into_iter()
            .filter(|r| crate::moderation::room_scope(&r.key) == scope)
            .collect();
        let space = rooms.iter().find(|r| r.key == scope && r.kind == RoomKind::FederationSpace).cloned();
        Ok(space.map(|space| (space, rooms)))
    }

    /// The federation a provisioned room belongs to, by its space's name ("Nord" for the space
    /// "Fédération Nord"); `None` for the national space and rooms Relais did not provision.
    pub async fn federation_of_room(&self, room_id: &RoomId) -> Result<Option<String>, StoreError> {
        let Some(key) = self.room_key(room_id).await? else { return Ok(None) };
        let fed_key = key.split('.').next().unwrap_or_default();
        let space = sqlx::query("SELECT name FROM prov_room WHERE room_key = $1 AND kind = $2")
            .bind(fed_key)
            .bind(RoomKind::FederationSpace.as_str())
            .fetch_optional(self.pool())
            .await?;
        let Some(space) = space else { return Ok(None) };
        let name: String = space.try_get("name")?;
        Ok(Some(name.strip_prefix("Fédération ").unwrap_or(&name).to_owned()))
    }

    /// The Matrix users the membership file allows in a provisioned room (active members): its
    /// own access list, or its federation space's for rooms entered through the space. `None`
    /// when the room is not provisioned.
    pub async fn room_members_by_file(
        &self,
        room_id: &RoomId,
    ) -> Result<Option<Vec<OwnedUserId>>, StoreError> {
        let row = sqlx::query("SELECT room_key, kind, parent_key FROM prov_room WHERE room_id = $1")
            .bind(room_id.as_str())
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let kind: RoomKind = row
            .try_get::<String, _>("kind")?
            .parse()
            .map_err(|_| StoreError::Corrupt("a provisioned room of unknown kind".into()))?;
        let key: String = if kind.is_restricted() {
            row.try_get::<Option<String>, _>("parent_key")?.ok_or_else(|| {
                StoreError::Corrupt("a room entered through its space, without its space".into())
            })?
        } else {
            row.try_get("room_key")?
        };
        let rows = sqlx::query(
            "SELECT a.user_id AS user_id FROM prov_access a JOIN prov_member m ON m.member_id = a.member_id \
             WHERE a.room_key = $1 AND m.active = 1 ORDER BY a.user_id",
        )
        .bind(&key)
        .fetch_all(self.pool())
        .await?;
        let mut users = Vec::with_capacity(rows.len());
        for row in &rows {
            match user_id(&row.try_get::<String, _>("user_id")?) {
                Ok(user) => users.push(user),
                Err(error) => {
                    tracing::error!(%error, "an access of the membership file is unreadable: left out")
                }
            }
        }
        Ok(Some(users))
    }

    /// The active members the membership file lets into a provisioned room who have no Matrix
    /// account (their only ways in are the mail and a proxy), by member id, each with whether
    /// they have an address; empty for a room Relais does not provision.
    pub async fn room_members_without_account(
        &self,
        room_id: &RoomId,
    ) -> Result<Vec<(String, bool)>, StoreError> {
        let Some(key) = self.room_key(room_id).await? else { return Ok(Vec::new()) };
        let rows = sqlx::query(
            "SELECT member_id, record, email FROM prov_member WHERE active = 1 AND matrix_id IS NULL \
             ORDER BY member_id",
        )
        .fetch_all(self.pool())
        .await?;
        let mut members = Vec::new();
        for row in &rows {
            let record: String = row.try_get("record")?;
            match serde_json::from_str::<crate::model::MemberRow>(&record) {
                Ok(member) if crate::desired::member_rooms(&member).contains(&key) => {
                    let email: Option<String> = row.try_get("email")?;
                    members.push((row.try_get("member_id")?, email.is_some()));
                }
                Ok(_) => {}
                Err(_) => tracing::error!("a member's record is unreadable: left out of a room's members"),
            }
        }
        Ok(members)
    }

    /// The email-only members allowed in a provisioned room (its subscribers without a Matrix
    /// account), active and with an address: (member id, address), by member id.
    pub async fn room_email_members(&self, room_id: &RoomId) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT m.member_id AS member_id, m.email AS email FROM prov_room r \
             JOIN prov_subscription s ON s.room_key = r.room_key \
             JOIN prov_member m ON m.member_id = s.member_id \
             WHERE r.room_id = $1 AND m.active = 1 AND m.email IS NOT NULL AND m.matrix_id IS NULL \
             ORDER BY m.member_id",
        )
        .bind(room_id.as_str())
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| Ok((r.try_get("member_id")?, r.try_get("email")?)))
            .collect::<Result<_, sqlx::Error>>()?)
    }
}

#[cfg(test)]
mod tests;
