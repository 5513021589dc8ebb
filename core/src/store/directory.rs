//! The members' directory: what the other features (bots, mail bridge) may know of a member
//! Relais provisioned — their names, federation and section, their address, whether they are
//! active — decoded once, here, from provisioning's record. An unreadable record is an error
//! ([`StoreError::Corrupt`]), never an anonymous member.

use serde::Deserialize;
use sqlx::{Row, any::AnyRow};

use super::{Store, StoreError};

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

impl Store {
    /// The member `member_id`, active or not.
    pub async fn directory_member(&self, member_id: &str) -> Result<Option<DirectoryMember>, StoreError> {
        let row =
            sqlx::query("SELECT member_id, record, email, active FROM prov_member WHERE member_id = $1")
                .bind(member_id)
                .fetch_optional(self.pool())
                .await?;
        row.as_ref().map(member).transpose()
    }

    /// The address of member `member_id`, if they have one (their record is not read: what
    /// needs only the address works even beside an unreadable record).
    pub async fn directory_email(&self, member_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT email FROM prov_member WHERE member_id = $1")
            .bind(member_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get::<Option<String>, _>("email")).transpose()?.flatten())
    }

    /// The id of the active member whose Matrix account is `user_id` (their record not read).
    pub async fn directory_member_id_of(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT member_id FROM prov_member WHERE matrix_id = $1 AND active = 1")
            .bind(user_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("member_id")).transpose()?)
    }

    /// The active member whose Matrix account is `user_id`.
    pub async fn directory_member_by_matrix_id(
        &self,
        user_id: &str,
    ) -> Result<Option<DirectoryMember>, StoreError> {
        let row = sqlx::query(
            "SELECT member_id, record, email, active FROM prov_member WHERE matrix_id = $1 AND active = 1",
        )
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(member).transpose()
    }
}
