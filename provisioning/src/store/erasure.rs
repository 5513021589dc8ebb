//! A member's data across every feature: exported on request, erased on request (right of
//! access and right to erasure). Provisioning erases its own rows and runs, in the same
//! transaction, the [`MemberEraser`] of every other feature that keeps something about members:
//! the erasure stays all or nothing, and no feature deletes another's rows.

use std::{future::Future, pin::Pin};

use sqlx::{AnyConnection, Row};

use super::{AuditEntry, audit::insert_audit};
use relais_core::{StoreError, store::lease::Fence, time::now_ms};

use super::ProvisioningStore;

/// The future of a [`MemberEraser`]: how many records it removed.
pub type EraseFuture<'a> = Pin<Box<dyn Future<Output = Result<u64, StoreError>> + Send + 'a>>;

/// A feature's part of erasing a member, run inside the erasure's transaction (fenced by the
/// provisioning lease) before provisioning's own rows go.
pub trait MemberEraser: Send + Sync {
    /// Erases what the feature keeps about `member_id`, whose address was `email`.
    fn erase_member<'a>(
        &'a self,
        tx: &'a mut AnyConnection,
        member_id: &'a str,
        email: Option<&'a str>,
    ) -> EraseFuture<'a>;
}

impl ProvisioningStore {
    /// Everything stored about a member, as JSON (right of access).
    pub async fn member_export(&self, member_id: &str) -> Result<serde_json::Value, StoreError> {
        let pool = self.pool();
        let record = sqlx::query("SELECT record, updated_at FROM prov_member WHERE member_id = $1")
            .bind(member_id)
            .fetch_optional(pool)
            .await?;
        let record = match record {
            Some(r) => {
                let json: String = r.try_get("record")?;
                let updated: i64 = r.try_get("updated_at")?;
                // The right of access is to what is stored: an unreadable record is given as is.
                let readable = serde_json::from_str::<serde_json::Value>(&json);
                serde_json::json!({
                    "record": readable.unwrap_or(serde_json::Value::String(json)),
                    "updated_at": updated,
                })
            }
            None => serde_json::Value::Null,
        };
        let access: Vec<(String, String)> =
            sqlx::query("SELECT room_key, user_id FROM prov_access WHERE member_id = $1 ORDER BY room_key")
                .bind(member_id)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| Ok((r.try_get("room_key")?, r.try_get("user_id")?)))
                .collect::<Result<_, sqlx::Error>>()?;
        let subscriptions: Vec<String> =
            sqlx::query("SELECT room_key FROM prov_subscription WHERE member_id = $1 ORDER BY room_key")
                .bind(member_id)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| r.try_get("room_key"))
                .collect::<Result<_, sqlx::Error>>()?;
        let pattern = audit_pattern(member_id);
        let audit: Vec<serde_json::Value> = sqlx::query(
            "SELECT at, actor, action, detail FROM audit_log WHERE target LIKE $1 ESCAPE '\\' ORDER BY id",
        )
        .bind(&pattern)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok(serde_json::json!({
                "at": r.try_get::<i64, _>("at")?,
                "actor": r.try_get::<String, _>("actor")?,
                "action": r.try_get::<String, _>("action")?,
                "detail": r.try_get::<String, _>("detail")?,
            }))
        })
        .collect::<Result<_, sqlx::Error>>()?;
        let (sympathiser, charter) = self.sympathiser_export(member_id).await?;
        let accounts = self.member_accounts(member_id).await?;
        let themes: Vec<serde_json::Value> = self
            .theme_export(&accounts)
            .await?
            .into_iter()
            .map(|(room, made, chosen)| serde_json::json!({"room": room, "made_it": made, "chosen_moderator": chosen}))
            .collect();
        Ok(serde_json::json!({
            "member_id": member_id,
            "member": record,
            "rooms": access.into_iter().map(|(room, user)| serde_json::json!({"room": room, "user_id": user})).collect::<Vec<_>>(),
            "email_subscriptions": subscriptions,
            "sympathiser": sympathiser,
            "charter_acceptances": charter,
            "thematic_rooms": themes,
            "audit": audit,
        }))
    }

    /// Every Matrix account the member `member_id` is known by (the file's, an invitation's, a
    /// sympathiser's), sorted.
    pub async fn member_accounts(&self, member_id: &str) -> Result<Vec<String>, StoreError> {
        let mut accounts: Vec<String> = sqlx::query(ACCOUNTS)
            .bind(member_id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| r.try_get("user_id"))
            .collect::<Result<_, sqlx::Error>>()?;
        accounts.sort();
        accounts.dedup();
        Ok(accounts)
    }

    /// Erases a member (right to erasure): every other feature's data through `others`, then
    /// provisioning's — record, access, subscriptions, invitations, journal payloads, and their
    /// id in the audit log; one audit line records that an erasure happened. All in one
    /// transaction, fenced by the provisioning lease: a run must not write the member back from
    /// the jobs it already read. Returns how many records were removed.
    pub async fn member_forget(
        &self,
        fence: &Fence,
        member_id: &str,
        actor: &str,
        others: &[&dyn MemberEraser],
    ) -> Result<u64, StoreError> {
        let mut tx = self.store.begin_fenced(fence).await?;
        let mut removed = 0;
        // The others first: the member's address is known until their record goes.
        let email: Option<String> = sqlx::query("SELECT email FROM prov_member WHERE member_id = $1")
            .bind(member_id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get::<Option<String>, _>("email"))
            .transpose()?
            .flatten();
        for eraser in others {
            removed += eraser.erase_member(&mut tx, member_id, email.as_deref()).await?;
        }
        removed += erase_from_themes(&mut tx, member_id).await?;
        for sql in [
            // Their charter acceptances and sign-up as a sympathiser, while their account is known.
            "DELETE FROM charter_acceptance WHERE user_id IN (SELECT user_id FROM sympathiser WHERE member_id = $1) \
             OR user_id IN (SELECT user_id FROM onboarding WHERE member_id = $1 AND user_id IS NOT NULL) \
             OR user_id IN (SELECT matrix_id FROM prov_member WHERE member_id = $1 AND matrix_id IS NOT NULL)",
            // The bots' reminders of the charter (one transaction over the features' tables).
            "DELETE FROM charter_reminder WHERE user_id IN (SELECT user_id FROM sympathiser WHERE member_id = $1) \
             OR user_id IN (SELECT user_id FROM onboarding WHERE member_id = $1 AND user_id IS NOT NULL) \
             OR user_id IN (SELECT matrix_id FROM prov_member WHERE member_id = $1 AND matrix_id IS NOT NULL)",
            "DELETE FROM sympathiser WHERE member_id = $1",
            "DELETE FROM prov_member WHERE member_id = $1",
            "DELETE FROM prov_access WHERE member_id = $1",
            "DELETE FROM prov_subscription WHERE member_id = $1",
            "DELETE FROM onboarding WHERE member_id = $1",
        ] {
            removed += sqlx::query(sql).bind(member_id).execute(&mut *tx).await?.rows_affected();
        }
        let pattern = audit_pattern(member_id);
        sqlx::query("UPDATE audit_log SET target = 'member [erased]' WHERE target LIKE $1 ESCAPE '\\'")
            .bind(&pattern)
            .execute(&mut *tx)
            .await?;
        let payload = format!("%\"member_id\":\"{}\"%", like_escape(member_id));
        sqlx::query("UPDATE prov_action SET payload = '' WHERE payload LIKE $1 ESCAPE '\\'")
            .bind(&payload)
            .execute(&mut *tx)
            .await?;
        if removed > 0 {
            let entry = AuditEntry {
                at: now_ms(),
                actor: actor.to_owned(),
                action: "forget_member".into(),
                target: "member [erased]".into(),
                detail: format!("{removed} records erased"),
            };
            insert_audit(&mut tx, &entry).await?;
        }
        tx.commit().await?;
        Ok(removed)
    }
}

/// Every Matrix account a member is known by: the file's id, the account an invitation made,
/// the one they made as a sympathiser.
const ACCOUNTS: &str = "SELECT matrix_id AS user_id FROM prov_member WHERE member_id = $1 AND matrix_id IS NOT NULL \
     UNION SELECT user_id FROM onboarding WHERE member_id = $1 AND user_id IS NOT NULL \
     UNION SELECT user_id FROM sympathiser WHERE member_id = $1 AND user_id IS NOT NULL";

/// The member's accounts out of the thematic rooms' chosen moderators, and their id out of
/// what the thematic rooms' record and audit lines say of them.
async fn erase_from_themes(tx: &mut sqlx::AnyConnection, member_id: &str) -> Result<u64, StoreError> {
    let users: Vec<String> = sqlx::query(ACCOUNTS)
        .bind(member_id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get("user_id"))
        .collect::<Result<_, sqlx::Error>>()?;
    let mut removed = 0;
    for user in &users {
        removed += sqlx::query("DELETE FROM prov_theme_moderator WHERE user_id = $1")
            .bind(user)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("UPDATE prov_theme SET created_by = '[erased]' WHERE created_by = $1")
            .bind(user)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE audit_log SET actor = CASE WHEN actor = $1 THEN '[erased]' ELSE actor END, \
             detail = REPLACE(detail, $1, '[erased]') \
             WHERE action IN ('create_theme', 'theme_moderators') AND (actor = $1 OR detail LIKE $2 ESCAPE '\\')",
        )
        .bind(user)
        .bind(format!("%{}%", like_escape(user)))
        .execute(&mut *tx)
        .await?;
    }
    Ok(removed)
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// Audit targets name a member as `… member <id>` at the end.
fn audit_pattern(member_id: &str) -> String {
    format!("%member {}", like_escape(member_id))
}
