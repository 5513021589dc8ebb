//! What the referents' page reads of provisioning: the rooms' names, the members' records with
//! their subscriptions, and the progress of the newest run of a federation.

use relais_core::StoreError;
use sqlx::Row;

use super::{ProvisioningStore, RunState};

impl ProvisioningStore {
    /// Display names of the provisioned rooms, by room key.
    pub async fn room_names(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT room_key, name FROM prov_room").fetch_all(self.pool()).await?;
        Ok(rows
            .iter()
            .map(|r| Ok((r.try_get("room_key")?, r.try_get("name")?)))
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// The recorded row (JSON) of the member with this Matrix id.
    pub async fn member_by_matrix_id(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT record FROM prov_member WHERE matrix_id = $1")
            .bind(user_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("record")).transpose()?)
    }

    /// The members whose record names the Matrix id `user_id`.
    pub async fn members_naming(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT member_id FROM prov_member WHERE matrix_id = $1 ORDER BY member_id")
            .bind(user_id)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(|r| r.try_get("member_id")).collect::<Result<_, sqlx::Error>>()?)
    }

    /// The recorded row (JSON) of the member `member_id`.
    pub async fn member_record(&self, member_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT record FROM prov_member WHERE member_id = $1")
            .bind(member_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("record")).transpose()?)
    }

    /// Every recorded member row (JSON) and each member's email subscriptions count.
    pub async fn member_records(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.record, (SELECT COUNT(*) FROM prov_subscription s WHERE s.member_id = m.member_id) AS subs \
             FROM prov_member m ORDER BY m.member_id",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| Ok((r.try_get("record")?, r.try_get("subs")?)))
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// Progress of the newest run that covered `scope`: (state, done, total).
    pub async fn run_progress(&self, scope: &str) -> Result<Option<(i64, RunState, i64, i64)>, StoreError> {
        let row = sqlx::query(
            "SELECT r.run_id, r.state, \
               (SELECT COUNT(*) FROM prov_action a WHERE a.run_id = r.run_id AND a.state <> 'pending') AS done, \
               (SELECT COUNT(*) FROM prov_action a WHERE a.run_id = r.run_id) AS total \
             FROM prov_run r WHERE r.scope = $1 ORDER BY r.run_id DESC LIMIT 1",
        )
        .bind(scope)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok((
                r.try_get("run_id")?,
                RunState::parse(&r.try_get::<String, _>("state")?)?,
                r.try_get("done")?,
                r.try_get("total")?,
            ))
        })
        .transpose()
    }
}
