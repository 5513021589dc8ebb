//! Sympathisers' sign-ups and the charter's acceptances (see `crate::sympathiser`).

use sqlx::Row;

use relais_core::{StoreError, store::lease::Fence, time::now_ms};

use super::ProvisioningStore;
use crate::sympathiser::{RESEND_MINUTES, SignUp, email_key};

/// A sympathiser as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sympathiser {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// A federation's key, or empty: none with a public space.
    pub federation: String,
    pub wants_help: bool,
    pub wants_join: bool,
    pub charter: String,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
    pub user_id: Option<String>,
    /// The member they became.
    pub member_id: Option<String>,
}

/// A confirmed sympathiser's account, and what matches them with a row of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SympathiserAccount {
    pub email_key: String,
    pub user_id: String,
    pub first_name: String,
    pub last_name: String,
}

/// What a sign-up led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignUpOutcome {
    /// A new link: mail it.
    Mail,
    /// A link was mailed moments ago, or the address already has an account: nothing to send.
    Quiet,
}

const COLUMNS: &str = "sympathiser_id, email, first_name, last_name, federation, wants_help, wants_join, \
                       charter, created_at, confirmed_at, user_id, member_id";

fn sympathiser(r: &sqlx::any::AnyRow) -> Result<Sympathiser, sqlx::Error> {
    Ok(Sympathiser {
        id: r.try_get("sympathiser_id")?,
        email: r.try_get("email")?,
        first_name: r.try_get("first_name")?,
        last_name: r.try_get("last_name")?,
        federation: r.try_get("federation")?,
        wants_help: r.try_get::<i32, _>("wants_help")? != 0,
        wants_join: r.try_get::<i32, _>("wants_join")? != 0,
        charter: r.try_get("charter")?,
        created_at: r.try_get("created_at")?,
        confirmed_at: r.try_get("confirmed_at")?,
        user_id: r.try_get("user_id")?,
        member_id: r.try_get("member_id")?,
    })
}

impl ProvisioningStore {
    /// Records a sign-up under a new link (`token_hash`, working until `expires_at`) and notes
    /// it mailed now, or renews the unconfirmed one of the same address — unless its link was
    /// mailed less than [`RESEND_MINUTES`] ago, or the address already has an account. The
    /// write itself decides, so parallel sign-ups of one address mail one link. Forgets the
    /// unconfirmed sign-ups whose link expired.
    pub async fn sign_up(
        &self,
        form: &SignUp,
        federation: &str,
        charter: &str,
        token_hash: &str,
        expires_at: i64,
    ) -> Result<SignUpOutcome, StoreError> {
        let now = now_ms();
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM sympathiser WHERE confirmed_at IS NULL AND expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let written = sqlx::query(
            "INSERT INTO sympathiser (email, email_key, first_name, last_name, federation, wants_help, \
             wants_join, charter, created_at, token_hash, expires_at, mailed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $9) \
             ON CONFLICT (email_key) DO UPDATE SET email = $1, first_name = $3, last_name = $4, \
             federation = $5, wants_help = $6, wants_join = $7, charter = $8, token_hash = $10, \
             expires_at = $11, mailed_at = $9, claimed_until = NULL \
             WHERE sympathiser.confirmed_at IS NULL \
             AND (sympathiser.mailed_at IS NULL OR sympathiser.mailed_at <= $12)",
        )
        .bind(&form.email)
        .bind(email_key(&form.email))
        .bind(&form.first_name)
        .bind(&form.last_name)
        .bind(federation)
        .bind(i32::from(form.wants_help))
        .bind(i32::from(form.wants_join))
        .bind(charter)
        .bind(now)
        .bind(token_hash)
        .bind(expires_at)
        .bind(now - RESEND_MINUTES * 60_000)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(if written.rows_affected() == 1 { SignUpOutcome::Mail } else { SignUpOutcome::Quiet })
    }

    /// The link `token_hash` could not be mailed: the next sign-up of the address mails at once.
    pub async fn sympathiser_mail_failed(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE sympathiser SET mailed_at = NULL WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The unconfirmed sign-up whose link is `token_hash`, if the link still works.
    pub async fn sympathiser_by_token(&self, token_hash: &str) -> Result<Option<Sympathiser>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM sympathiser WHERE token_hash = $1 AND confirmed_at IS NULL AND expires_at > $2"
        );
        // Constant columns only: every value is bound.
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .bind(now_ms())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(sympathiser).transpose()?)
    }

    /// Claims a working link for `claim_ms` while its account is made: `false` when it is used,
    /// expired, unknown or claimed right now by another request.
    pub async fn claim_sympathiser(&self, token_hash: &str, claim_ms: i64) -> Result<bool, StoreError> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE sympathiser SET claimed_until = $1 WHERE token_hash = $2 AND confirmed_at IS NULL \
             AND expires_at > $3 AND (claimed_until IS NULL OR claimed_until <= $3)",
        )
        .bind(now + claim_ms)
        .bind(token_hash)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives a claimed link back (the account could not be made).
    pub async fn release_sympathiser(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE sympathiser SET claimed_until = NULL WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Confirms the sign-up of `token_hash` with the account made for it, forgets the link,
    /// and records the charter the sympathiser accepted at sign-up. `false` if the link was
    /// used or expired meanwhile.
    pub async fn confirm_sympathiser(&self, token_hash: &str, user_id: &str) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut tx = self.pool().begin().await?;
        let charter = sqlx::query(
            "UPDATE sympathiser SET confirmed_at = $1, user_id = $2, token_hash = NULL, claimed_until = NULL \
             WHERE token_hash = $3 AND confirmed_at IS NULL AND expires_at > $1 RETURNING charter",
        )
        .bind(now)
        .bind(user_id)
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(charter) = charter else { return Ok(false) };
        let version: String = charter.try_get("charter")?;
        if !version.is_empty() {
            accept(&mut tx, user_id, &version, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The confirmed sympathisers of a federation (its key; empty: those of none) the membership
    /// file does not name yet, newest first, for the referent's follow-up.
    pub async fn sympathisers_of(&self, federation: &str) -> Result<Vec<Sympathiser>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM sympathiser WHERE federation = $1 AND confirmed_at IS NOT NULL AND member_id IS NULL \
             ORDER BY confirmed_at DESC, sympathiser_id DESC LIMIT 500"
        );
        // Constant columns only: every value is bound.
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(federation).fetch_all(self.pool()).await?;
        Ok(rows.iter().map(sympathiser).collect::<Result<_, _>>()?)
    }

    /// Every confirmed sympathiser's account by address key, for an import to recognise them
    /// in the membership file.
    pub async fn sympathiser_accounts(&self) -> Result<Vec<SympathiserAccount>, StoreError> {
        let rows = sqlx::query(
            "SELECT email_key, user_id, first_name, last_name FROM sympathiser \
             WHERE user_id IS NOT NULL AND member_id IS NULL",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SympathiserAccount {
                    email_key: r.try_get("email_key")?,
                    user_id: r.try_get("user_id")?,
                    first_name: r.try_get("first_name")?,
                    last_name: r.try_get("last_name")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Links members of the file to the accounts they made as sympathisers, fenced by the
    /// provisioning lease: the account stands for the Matrix id the file does not give (as an
    /// invitation's would), and the sympathiser record names the member.
    pub async fn link_sympathisers(
        &self,
        fence: &Fence,
        links: &[(String, String)],
    ) -> Result<(), StoreError> {
        if links.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let mut tx = self.store.begin_fenced(fence).await?;
        for (member_id, user_id) in links {
            sqlx::query(
                "INSERT INTO onboarding (member_id, token_hash, expires_at, used_at, user_id) \
                 VALUES ($1, NULL, $2, $2, $3) \
                 ON CONFLICT (member_id) DO UPDATE SET token_hash = NULL, used_at = $2, user_id = $3 \
                 WHERE onboarding.user_id IS NULL",
            )
            .bind(member_id)
            .bind(now)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE sympathiser SET member_id = $1 WHERE user_id = $2")
                .bind(member_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Erases a sympathiser of `federation` (their sign-up and their charter acceptances), with
    /// an audit line naming no one; `false` when there is no such sympathiser there. Their
    /// account, if made, stays on the homeserver until its owner or an administrator closes it.
    pub async fn forget_sympathiser(
        &self,
        federation: &str,
        id: i64,
        actor: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        // A sympathiser who became a member is erased with the member (`relais member forget`).
        let row = sqlx::query(
            "SELECT user_id FROM sympathiser WHERE sympathiser_id = $1 AND federation = $2 AND member_id IS NULL",
        )
                .bind(id)
                .bind(federation)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(row) = row else { return Ok(false) };
        if let Some(user) = row.try_get::<Option<String>, _>("user_id")? {
            for sql in [
                "DELETE FROM charter_acceptance WHERE user_id = $1",
                "DELETE FROM charter_reminder WHERE user_id = $1",
            ] {
                sqlx::query(sql).bind(&user).execute(&mut *tx).await?;
            }
        }
        sqlx::query("DELETE FROM sympathiser WHERE sympathiser_id = $1").bind(id).execute(&mut *tx).await?;
        let entry = super::AuditEntry {
            at: now_ms(),
            actor: actor.to_owned(),
            action: "forget_sympathiser".into(),
            target: format!("sympathiser of {federation}"),
            detail: String::new(),
        };
        super::audit::insert_audit(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// What a member's export shows of the sympathiser they were and of the charter versions
    /// their accounts accepted.
    pub(super) async fn sympathiser_export(
        &self,
        member_id: &str,
    ) -> Result<(Option<serde_json::Value>, Vec<serde_json::Value>), StoreError> {
        let sympathiser = sqlx::query(
                "SELECT email, first_name, last_name, federation, wants_help, wants_join, created_at, confirmed_at, \
                 user_id FROM sympathiser WHERE member_id = $1",
            )
            .bind(member_id)
            .fetch_optional(self.pool())
            .await?
            .map(|r| {
                Ok::<_, sqlx::Error>(serde_json::json!({
                    "email": r.try_get::<String, _>("email")?,
                    "first_name": r.try_get::<String, _>("first_name")?,
                    "last_name": r.try_get::<String, _>("last_name")?,
                    "federation": r.try_get::<String, _>("federation")?,
                    "wants_help": r.try_get::<i32, _>("wants_help")? != 0,
                    "wants_join": r.try_get::<i32, _>("wants_join")? != 0,
                    "signed_up_at": r.try_get::<i64, _>("created_at")?,
                    "confirmed_at": r.try_get::<Option<i64>, _>("confirmed_at")?,
                    "user_id": r.try_get::<Option<String>, _>("user_id")?,
                }))
            })
            .transpose()?;
        let charter: Vec<serde_json::Value> = sqlx::query(
                "SELECT version, accepted_at FROM charter_acceptance WHERE user_id IN \
                 (SELECT user_id FROM sympathiser WHERE member_id = $1) \
                 OR user_id IN (SELECT user_id FROM onboarding WHERE member_id = $1 AND user_id IS NOT NULL) \
                 OR user_id IN (SELECT matrix_id FROM prov_member WHERE member_id = $1 AND matrix_id IS NOT NULL) \
                 ORDER BY accepted_at, version",
            )
            .bind(member_id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                Ok(serde_json::json!({
                    "version": r.try_get::<String, _>("version")?,
                    "accepted_at": r.try_get::<i64, _>("accepted_at")?,
                }))
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok((sympathiser, charter))
    }

    /// Records that `user_id` accepted `version` of the charter.
    pub async fn accept_charter(&self, user_id: &str, version: &str) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        accept(&mut tx, user_id, version, now_ms()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The charter versions `user_id` accepted, oldest first.
    pub async fn charter_versions(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT version FROM charter_acceptance WHERE user_id = $1 ORDER BY accepted_at, version",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| r.try_get("version")).collect::<Result<_, sqlx::Error>>().map_err(Into::into)
    }
}

async fn accept(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: &str,
    version: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO charter_acceptance (user_id, version, accepted_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id, version) DO NOTHING",
    )
    .bind(user_id)
    .bind(version)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
