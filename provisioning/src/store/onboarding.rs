//! Onboarding invitations: issued by provisioning, redeemed on the web page.

use sqlx::Row;

use relais_core::{StoreError, store::lease::Fence, time::now_ms};

use super::ProvisioningStore;

/// An invitation as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub member_id: String,
    pub expires_at: i64,
    pub sent_at: Option<i64>,
    pub used_at: Option<i64>,
    /// The account the member created with it.
    pub user_id: Option<String>,
}

fn invitation(r: &sqlx::any::AnyRow) -> Result<Invitation, sqlx::Error> {
    Ok(Invitation {
        member_id: r.try_get("member_id")?,
        expires_at: r.try_get("expires_at")?,
        sent_at: r.try_get("sent_at")?,
        used_at: r.try_get("used_at")?,
        user_id: r.try_get("user_id")?,
    })
}

impl ProvisioningStore {
    /// Every invitation, for planning.
    pub async fn invitations(&self) -> Result<Vec<Invitation>, StoreError> {
        let rows = sqlx::query("SELECT member_id, expires_at, sent_at, used_at, user_id FROM onboarding")
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(invitation).collect::<Result<_, _>>()?)
    }

    /// Records a new token for `member_id` (replacing an older, unused one not being redeemed;
    /// `false` when there is such an invitation to keep), fenced by the
    /// provisioning lease: a stalled run cannot replace the token its successor mailed, nor
    /// bring back the invitation of a member erased meanwhile.
    pub async fn issue_invitation(
        &self,
        fence: &Fence,
        member_id: &str,
        token_hash: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.store.begin_fenced(fence).await?;
        // Never over an invitation that made an account, nor one whose account is being made
        // right now (its page would link the account to nobody).
        let issued = sqlx::query(
            "INSERT INTO onboarding (member_id, token_hash, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (member_id) DO UPDATE SET token_hash = $2, expires_at = $3, sent_at = NULL, \
             claimed_until = NULL \
             WHERE onboarding.used_at IS NULL AND (onboarding.claimed_until IS NULL OR onboarding.claimed_until <= $4)",
        )
        .bind(member_id)
        .bind(token_hash)
        .bind(expires_at)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(issued == 1)
    }

    /// The account Relais made for `member_id` (an invitation, a printed letter, or a referent
    /// beside them), if any: the one account Relais itself knows to be theirs.
    pub async fn onboarded_account(&self, member_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT user_id FROM onboarding WHERE member_id = $1 AND used_at IS NOT NULL")
            .bind(member_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get::<Option<String>, _>("user_id")).transpose()?.flatten())
    }

    /// The invitation a token hash belongs to.
    pub async fn invitation_by_token(&self, token_hash: &str) -> Result<Option<Invitation>, StoreError> {
        let row = sqlx::query(
            "SELECT member_id, expires_at, sent_at, used_at, user_id FROM onboarding WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(invitation).transpose()?)
    }

    /// Claims an unused, unexpired token for `claim_ms` while its account is created: `false`
    /// when it is used, expired, unknown, or claimed by another request right now.
    pub async fn claim_invitation(&self, token_hash: &str, claim_ms: i64) -> Result<bool, StoreError> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE onboarding SET claimed_until = $1 WHERE token_hash = $2 AND used_at IS NULL \
             AND expires_at > $3 AND (claimed_until IS NULL OR claimed_until <= $3)",
        )
        .bind(now + claim_ms)
        .bind(token_hash)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives a claimed token back (the account could not be created).
    pub async fn release_invitation(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE onboarding SET claimed_until = NULL WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Redeems a token once: links the account and forgets the token. `false` if the token was
    /// used, replaced or expired meanwhile.
    pub async fn redeem_invitation(&self, token_hash: &str, user_id: &str) -> Result<bool, StoreError> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE onboarding SET used_at = $1, user_id = $2, token_hash = NULL \
             WHERE token_hash = $3 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(user_id)
        .bind(token_hash)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
