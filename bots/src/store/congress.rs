//! Congress mode: the mandates file as loaded, and the weight of each voter of a poll.

use std::collections::HashMap;

use sqlx::Row;

use relais_core::StoreError;

use super::BotStore;

impl BotStore {
    /// Replaces the mandates and proxies with a new file's, in one transaction.
    pub async fn congress_replace(
        &self,
        mandates: &[(String, i64)],
        proxies: &[(String, String)],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM congress_mandate").execute(&mut *tx).await?;
        sqlx::query("DELETE FROM congress_proxy").execute(&mut *tx).await?;
        for (member_id, weight) in mandates {
            sqlx::query("INSERT INTO congress_mandate (member_id, weight) VALUES ($1, $2)")
                .bind(member_id)
                .bind(weight)
                .execute(&mut *tx)
                .await?;
        }
        for (absent, holder) in proxies {
            sqlx::query("INSERT INTO congress_proxy (absent_id, holder_id) VALUES ($1, $2)")
                .bind(absent)
                .bind(holder)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// (member id, mandates) and (absent member id, proxy holder's member id) as loaded.
    pub async fn congress_file(&self) -> Result<(Vec<(String, i64)>, Vec<(String, String)>), StoreError> {
        let mandates = sqlx::query("SELECT member_id, weight FROM congress_mandate ORDER BY member_id")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get("member_id")?, r.try_get("weight")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        let proxies = sqlx::query("SELECT absent_id, holder_id FROM congress_proxy ORDER BY absent_id")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get("absent_id")?, r.try_get("holder_id")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        Ok((mandates, proxies))
    }

    /// Sets the weight each voter of a poll carries.
    pub async fn poll_set_weights(&self, poll_id: &str, weights: &[(String, i64)]) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        for (voter, weight) in weights {
            sqlx::query("UPDATE poll_voter SET weight = $1 WHERE poll_id = $2 AND user_id = $3")
                .bind(weight)
                .bind(poll_id)
                .bind(voter)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Voter → weight of a poll.
    pub async fn poll_weights(&self, poll_id: &str) -> Result<HashMap<String, i64>, StoreError> {
        let rows = sqlx::query("SELECT user_id, weight FROM poll_voter WHERE poll_id = $1")
            .bind(poll_id)
            .fetch_all(self.pool())
            .await?;
        Ok(rows
            .iter()
            .map(|r| Ok((r.try_get("user_id")?, r.try_get("weight")?)))
            .collect::<Result<_, sqlx::Error>>()?)
    }
}
