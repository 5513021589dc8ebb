//! Lists and who is on them: lists mirrored from rooms, subscribers computed from
//! provisioning's record plus opt-ins, members' delivery modes.

use sqlx::{AssertSqlSafe, Row};

use super::{
    LIST_COLUMNS, LIST_MEMBERS, MailList, MailStore, MemberList, SUBSCRIBERS, list_from_row, mode_of,
};
use relais_core::{StoreError, config::DeliveryMode, time::now_ms};

impl MailStore {
    /// Creates or renames a list; an existing list keeps its address and whether it is enabled.
    pub async fn list_upsert(&self, list: &MailList) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO mail_list (room_id, localpart, name, room_key, enabled, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (room_id) DO UPDATE SET name = $3, room_key = COALESCE($4, mail_list.room_key)",
        )
        .bind(&list.room_id)
        .bind(&list.localpart)
        .bind(&list.name)
        .bind(list.room_key.as_deref())
        .bind(i64::from(list.enabled))
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn list_set_enabled(&self, room_id: &str, enabled: bool) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE mail_list SET enabled = $1 WHERE room_id = $2")
            .bind(i64::from(enabled))
            .bind(room_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn lists(&self) -> Result<Vec<MailList>, StoreError> {
        let sql = format!("SELECT {LIST_COLUMNS} FROM mail_list ORDER BY localpart");
        let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(self.pool()).await?;
        Ok(rows.iter().map(list_from_row).collect::<Result<_, _>>()?)
    }

    pub async fn list(&self, room_id: &str) -> Result<Option<MailList>, StoreError> {
        let sql = format!("SELECT {LIST_COLUMNS} FROM mail_list WHERE room_id = $1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(room_id).fetch_optional(self.pool()).await?;
        Ok(row.as_ref().map(list_from_row).transpose()?)
    }

    pub async fn list_by_localpart(&self, localpart: &str) -> Result<Option<MailList>, StoreError> {
        let sql = format!("SELECT {LIST_COLUMNS} FROM mail_list WHERE localpart = $1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(localpart).fetch_optional(self.pool()).await?;
        Ok(row.as_ref().map(list_from_row).transpose()?)
    }

    /// The subscribers of a list in `mode`: (member id, address).
    pub async fn subscribers(
        &self,
        room_id: &str,
        mode: DeliveryMode,
        default: DeliveryMode,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let sql =
            format!("SELECT member_id, email FROM ({SUBSCRIBERS}) subs WHERE mode = $3 ORDER BY member_id");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(room_id)
            .bind(default.as_str())
            .bind(mode.as_str())
            .fetch_all(self.pool())
            .await?;
        Ok(rows
            .iter()
            .map(|r| Ok((r.try_get("member_id")?, r.try_get("email")?)))
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// Whether `member_id` currently receives list `room_id` by mail (any mode but `none`).
    pub async fn is_subscriber(
        &self,
        room_id: &str,
        member_id: &str,
        default: DeliveryMode,
    ) -> Result<bool, StoreError> {
        let sql = format!("SELECT mode FROM ({SUBSCRIBERS}) subs WHERE member_id = $3");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(room_id)
            .bind(default.as_str())
            .bind(member_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(row) => mode_of(&row.try_get::<String, _>("mode")?, default) != DeliveryMode::None,
            None => false,
        })
    }

    /// Every list `member_id` receives by mail or could (subscribed through provisioning or an
    /// opt-in), with their mode.
    pub async fn member_lists(
        &self,
        member_id: &str,
        default: DeliveryMode,
    ) -> Result<Vec<MemberList>, StoreError> {
        let sql = format!(
            "SELECT l.room_id AS room_id, l.localpart AS localpart, l.name AS name, l.room_key AS room_key, \
             l.enabled AS enabled, COALESCE(p.mode, $2) AS mode FROM ({LIST_MEMBERS}) lm \
             JOIN mail_list l ON l.room_id = lm.room_id \
             LEFT JOIN mail_pref p ON p.member_id = lm.member_id AND p.room_id = lm.room_id \
             WHERE lm.member_id = $1 ORDER BY l.name"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(member_id)
            .bind(default.as_str())
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| {
                Ok(MemberList {
                    list: list_from_row(row)?,
                    mode: mode_of(&row.try_get::<String, _>("mode")?, default),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// The enabled lists `member_id` may read by mail but neither receives nor opted in to: the
    /// rooms the membership file lets them into (`directory_access`, which holds the rooms of
    /// members without a Matrix account too), by name.
    pub async fn entitled_lists(&self, member_id: &str) -> Result<Vec<MailList>, StoreError> {
        let sql = format!(
            "SELECT l.room_id AS room_id, l.localpart AS localpart, l.name AS name, l.room_key AS room_key, \
             l.enabled AS enabled FROM mail_list l \
             WHERE l.enabled = 1 \
             AND EXISTS (SELECT 1 FROM directory_room r JOIN directory_access a ON a.room_key = r.room_key \
                         WHERE r.room_id = l.room_id AND a.member_id = $1) \
             AND NOT EXISTS (SELECT 1 FROM ({LIST_MEMBERS}) lm WHERE lm.room_id = l.room_id AND lm.member_id = $1) \
             ORDER BY l.name"
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(member_id).fetch_all(self.pool()).await?;
        Ok(rows.iter().map(list_from_row).collect::<Result<_, _>>()?)
    }

    /// Sets a member's mode for one list. Mail of that list not sent yet is cancelled when the
    /// member no longer wants each message.
    pub async fn set_mode(
        &self,
        member_id: &str,
        room_id: &str,
        mode: DeliveryMode,
    ) -> Result<(), StoreError> {
        if mode != DeliveryMode::Message {
            sqlx::query(
                "UPDATE mail_outbox SET state = 'cancelled', email = '' WHERE member_id = $1 AND kind = 'message' \
                 AND state = 'pending' AND ref IN (SELECT event_id FROM mail_message WHERE room_id = $2)",
            )
            .bind(member_id)
            .bind(room_id)
            .execute(self.pool())
            .await?;
        }
        let now = now_ms();
        let mut tx = self.pool().begin().await?;
        // The write first, and only when the mode changes: a stop is counted once, as it happens.
        let changed = sqlx::query(
            "INSERT INTO mail_pref (member_id, room_id, mode, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (member_id, room_id) DO UPDATE SET mode = $3, updated_at = $4 WHERE mail_pref.mode <> $3",
        )
        .bind(member_id)
        .bind(room_id)
        .bind(mode.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if mode == DeliveryMode::None && changed == 1 {
            // Who is not recorded, and the hour only (rounded up, never before the act).
            let hour = 3_600_000;
            sqlx::query("INSERT INTO mail_unsubscribe (room_id, at) VALUES ($1, $2)")
                .bind(room_id)
                .bind((now + hour - 1).div_euclid(hour) * hour)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// How many stopped receiving `room_id` by mail in `[from, until)` (ms; recorded to the
    /// hour, rounded up).
    pub async fn unsubscribes_between(
        &self,
        room_id: &str,
        from: i64,
        until: i64,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM mail_unsubscribe WHERE room_id = $1 AND at >= $2 AND at < $3",
        )
        .bind(room_id)
        .bind(from)
        .bind(until)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("n")?)
    }

    /// A room member asks for the list by mail (`mode`), or stops (`None`).
    pub async fn opt_in(
        &self,
        room_id: &str,
        member_id: &str,
        mode: Option<DeliveryMode>,
    ) -> Result<(), StoreError> {
        match mode {
            Some(mode) => {
                sqlx::query(
                    "INSERT INTO mail_optin (room_id, member_id) VALUES ($1, $2) \
                     ON CONFLICT (room_id, member_id) DO NOTHING",
                )
                .bind(room_id)
                .bind(member_id)
                .execute(self.pool())
                .await?;
                self.set_mode(member_id, room_id, mode).await
            }
            None => self.set_mode(member_id, room_id, DeliveryMode::None).await,
        }
    }
}
