//! The referents' page's own data: web sessions and uploaded files (kept only until applied or
//! expired). Only the web reads or writes these tables.

use relais_core::{Store, StoreError, time::now_ms};
use sqlx::Row;

/// The web's tables over the shared pool; cheap to clone.
#[derive(Debug, Clone)]
pub struct WebStore {
    store: Store,
}

impl WebStore {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    fn pool(&self) -> &sqlx::AnyPool {
        self.store.pool()
    }
}

/// A signed-in referent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    pub user_id: String,
    /// Federation key (slug) the referent may see.
    pub federation: String,
    pub method: SignInMethod,
    /// Until when (ms) an OpenID session was confirmed by its holder (0: never).
    pub confirmed_until: i64,
}

impl WebSession {
    /// Whether this session may change things: opened with the password, or confirmed since.
    pub fn may_act(&self) -> bool {
        self.method == SignInMethod::Password || self.confirmed_until > now_ms()
    }
}

/// How a referent proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMethod {
    /// Their Matrix password, checked by the homeserver: every action.
    Password,
    /// An OpenID token of their Matrix session: not bound to Relais (any widget they approved
    /// could replay it), so reading and dry runs only until the referent confirms (password, or
    /// a code the bot sends them: `referent::confirm`).
    OpenId,
}

impl SignInMethod {
    fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::OpenId => "openid",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "password" => Ok(Self::Password),
            "openid" => Ok(Self::OpenId),
            other => Err(StoreError::Corrupt(format!("web_session.method {other:?}"))),
        }
    }
}

/// A file uploaded for a dry run.
#[derive(Debug, Clone)]
pub struct Upload {
    pub upload_id: String,
    pub user_id: String,
    pub federation: String,
    pub file_name: String,
    pub content: String,
    /// The hash of the code that confirms applying it, when the referent's password cannot be
    /// checked (their account is on another homeserver).
    pub confirm_hash: Option<String>,
}

/// Tries at an upload's confirmation code before it must be uploaded again.
pub const CONFIRM_TRIES: i64 = 5;

/// How long an uploaded file is kept without being applied.
const UPLOAD_TTL_MS: i64 = 3600 * 1000;

/// How long an applied upload counts as "starting": journaling takes seconds, after which the
/// run's own progress shows; a process that died meanwhile must not leave "starting" for hours.
const STARTING_MS: i64 = 10 * 60 * 1000;

impl WebStore {
    pub async fn session_create(
        &self,
        token_hash: &str,
        session: &WebSession,
        ttl_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM web_session WHERE expires_at < $1")
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        sqlx::query(
            "INSERT INTO web_session (token_hash, user_id, federation, expires_at, method) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(&session.user_id)
        .bind(&session.federation)
        .bind(now_ms() + ttl_ms)
        .bind(session.method.as_str())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn session_get(&self, token_hash: &str) -> Result<Option<WebSession>, StoreError> {
        let row = sqlx::query(
            "SELECT user_id, federation, method, confirmed_until FROM web_session \
             WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now_ms())
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(WebSession {
            user_id: r.try_get("user_id")?,
            federation: r.try_get("federation")?,
            method: SignInMethod::parse(&r.try_get::<String, _>("method")?)?,
            confirmed_until: r.try_get("confirmed_until")?,
        }))
    }

    /// Keeps the hash of a fresh code for confirming the session, valid until `until` (ms);
    /// the tries start again.
    pub async fn session_code_save(
        &self,
        token_hash: &str,
        code_hash: &str,
        until: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE web_session SET confirm_hash = $1, confirm_tries = 0, confirm_until = $2 WHERE token_hash = $3",
        )
        .bind(code_hash)
        .bind(until)
        .bind(token_hash)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Counts a try at the session's code; returns the hash to compare with, or `None` when no
    /// code is pending, it expired or its tries are used up (see [`WebStore::upload_confirm_try`]).
    pub async fn session_code_try(&self, token_hash: &str) -> Result<Option<String>, StoreError> {
        let now = now_ms();
        let row = sqlx::query(
            "UPDATE web_session SET confirm_tries = confirm_tries + 1 WHERE token_hash = $1 AND expires_at > $2 \
             AND confirm_hash IS NOT NULL AND confirm_until > $3 AND confirm_tries < $4 RETURNING confirm_hash",
        )
        .bind(token_hash)
        .bind(now)
        .bind(now)
        .bind(CONFIRM_TRIES)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.try_get("confirm_hash")).transpose()?)
    }

    /// Marks the session confirmed until `until` (ms) under a new token (`new_hash`): a token
    /// someone else knew — planted before the referent confirmed — does not become a confirmed
    /// session. Its code, if any, is spent. Returns whether the session was still there.
    pub async fn session_confirm(
        &self,
        old_hash: &str,
        new_hash: &str,
        until: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE web_session SET token_hash = $1, confirmed_until = $2, confirm_hash = NULL \
             WHERE token_hash = $3 AND expires_at > $4",
        )
        .bind(new_hash)
        .bind(until)
        .bind(old_hash)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes one of the codes `user_id` may be sent, unless none is left; returns whether it
    /// may go. A burst of `burst` codes, then one every `interval_ms` (the generic cell rate
    /// algorithm over `due_at`), decided by one statement: concurrent requests, on any node,
    /// cannot each count under the limit.
    pub async fn code_may_be_sent(
        &self,
        user_id: &str,
        burst: i64,
        interval_ms: i64,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        sqlx::query("DELETE FROM web_code_quota WHERE due_at < $1").bind(now).execute(self.pool()).await?;
        let taken = sqlx::query(
            "INSERT INTO web_code_quota (user_id, due_at) VALUES ($1, $2) \
             ON CONFLICT (user_id) DO UPDATE SET due_at = CASE WHEN web_code_quota.due_at > $3 \
             THEN web_code_quota.due_at + $4 ELSE $5 END WHERE web_code_quota.due_at <= $6 RETURNING due_at",
        )
        .bind(user_id)
        .bind(now + interval_ms)
        .bind(now)
        .bind(interval_ms)
        .bind(now + interval_ms)
        .bind(now + (burst - 1) * interval_ms)
        .fetch_optional(self.pool())
        .await?;
        Ok(taken.is_some())
    }

    pub async fn session_delete(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM web_session WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn upload_save(&self, upload: &Upload) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM web_upload WHERE created_at < $1")
            .bind(now_ms() - UPLOAD_TTL_MS)
            .execute(self.pool())
            .await?;
        sqlx::query(
            "INSERT INTO web_upload (upload_id, user_id, federation, file_name, content, created_at, confirm_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&upload.upload_id)
        .bind(&upload.user_id)
        .bind(&upload.federation)
        .bind(&upload.file_name)
        .bind(&upload.content)
        .bind(now_ms())
        .bind(upload.confirm_hash.as_deref())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Keeps the hash of a fresh code for applying upload `upload_id` of `user_id`, while it
    /// waits to be applied (the tries start again); whether it does.
    pub async fn upload_code_save(
        &self,
        upload_id: &str,
        user_id: &str,
        code_hash: &str,
    ) -> Result<bool, StoreError> {
        let saved = sqlx::query(
            "UPDATE web_upload SET confirm_hash = $1, confirm_tries = 0 \
             WHERE upload_id = $2 AND user_id = $3 AND created_at > $4 AND applying_since IS NULL",
        )
        .bind(code_hash)
        .bind(upload_id)
        .bind(user_id)
        .bind(now_ms() - UPLOAD_TTL_MS)
        .execute(self.pool())
        .await?;
        Ok(saved.rows_affected() == 1)
    }

    /// Whether upload `upload_id` of `user_id` waits to be applied.
    pub async fn upload_pending(&self, upload_id: &str, user_id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 AS one FROM web_upload WHERE upload_id = $1 AND user_id = $2 AND created_at > $3 \
             AND applying_since IS NULL",
        )
        .bind(upload_id)
        .bind(user_id)
        .bind(now_ms() - UPLOAD_TTL_MS)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }

    /// Claims an upload for applying, once: later claims of the same upload find nothing.
    pub async fn upload_claim(&self, upload_id: &str, user_id: &str) -> Result<Option<Upload>, StoreError> {
        let row = sqlx::query(
            "UPDATE web_upload SET applying_since = $1 \
             WHERE upload_id = $2 AND user_id = $3 AND created_at > $4 AND applying_since IS NULL \
             RETURNING upload_id, user_id, federation, file_name, content, confirm_hash",
        )
        .bind(now_ms())
        .bind(upload_id)
        .bind(user_id)
        .bind(now_ms() - UPLOAD_TTL_MS)
        .fetch_optional(self.pool())
        .await?;
        Ok(row
            .map(|r| {
                Ok::<_, sqlx::Error>(Upload {
                    upload_id: r.try_get("upload_id")?,
                    user_id: r.try_get("user_id")?,
                    federation: r.try_get("federation")?,
                    file_name: r.try_get("file_name")?,
                    content: r.try_get("content")?,
                    confirm_hash: r.try_get("confirm_hash")?,
                })
            })
            .transpose()?)
    }

    /// Counts a try at the confirmation code of `user_id`'s pending upload; returns the code's
    /// hash to compare with, or `None` when the upload is gone, needs no code, or its tries are
    /// used up. The try is counted before the comparison: guessing costs one whatever it finds.
    pub async fn upload_confirm_try(
        &self,
        upload_id: &str,
        user_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "UPDATE web_upload SET confirm_tries = confirm_tries + 1 \
             WHERE upload_id = $1 AND user_id = $2 AND created_at > $3 AND applying_since IS NULL \
             AND confirm_hash IS NOT NULL AND confirm_tries < $4 RETURNING confirm_hash",
        )
        .bind(upload_id)
        .bind(user_id)
        .bind(now_ms() - UPLOAD_TTL_MS)
        .bind(CONFIRM_TRIES)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.try_get("confirm_hash")).transpose()?)
    }

    /// Forgets an upload once its import has run (its content is members' data).
    pub async fn upload_done(&self, upload_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM web_upload WHERE upload_id = $1")
            .bind(upload_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Gives a claimed upload back (its import stopped before anything was journaled, or the
    /// guard refused it): the referent may confirm it again within its hour.
    pub async fn upload_unclaim(&self, upload_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE web_upload SET applying_since = NULL WHERE upload_id = $1")
            .bind(upload_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Whether an import of `federation` was started from the page and has not finished.
    pub async fn upload_applying(&self, federation: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM web_upload WHERE federation = $1 AND applying_since IS NOT NULL AND applying_since > $2",
        )
        .bind(federation)
        .bind(now_ms() - STARTING_MS)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
