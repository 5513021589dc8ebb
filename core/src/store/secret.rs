//! Secret ballots: the voter list with a "has voted" flag, and the ballots with their random
//! receipts — never joined, never timestamped.

use sqlx::Row;

use super::{Store, StoreError};

/// What casting a ballot did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cast {
    /// Recorded in the poll; the voter's receipt.
    Recorded {
        poll_id: String,
        receipt: String,
    },
    AlreadyVoted,
    /// The poll is closed, or its deadline has passed.
    Closed,
    Unknown,
}

impl Store {
    /// Records who may vote in a secret poll: (voter, hash of their token, weight).
    pub async fn secret_voters_create(
        &self,
        poll_id: &str,
        voters: &[(String, String, i64)],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        for (voter, token_hash, weight) in voters {
            sqlx::query(
                "INSERT INTO secret_voter (poll_id, voter, token_hash, weight) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(poll_id)
            .bind(voter)
            .bind(token_hash)
            .bind(weight)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Voters of open secret polls whose ballot was not sent yet: (poll id, voter).
    pub async fn secret_voters_to_notify(&self, limit: i64) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT v.poll_id AS poll_id, v.voter AS voter FROM secret_voter v JOIN poll p ON p.poll_id = v.poll_id \
             WHERE v.notified = 0 AND p.closed_at IS NULL ORDER BY v.poll_id, v.voter LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| Ok((r.try_get("poll_id")?, r.try_get("voter")?)))
            .collect::<Result<_, sqlx::Error>>()?)
    }

    pub async fn secret_voter_notified(&self, poll_id: &str, voter: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE secret_voter SET notified = 1 WHERE poll_id = $1 AND voter = $2")
            .bind(poll_id)
            .bind(voter)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The poll a token opens, and whether its voter has voted.
    pub async fn secret_token(&self, token_hash: &str) -> Result<Option<(String, bool)>, StoreError> {
        let row = sqlx::query("SELECT poll_id, voted FROM secret_voter WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(self.pool())
            .await?;
        Ok(row
            .map(|r| Ok::<_, sqlx::Error>((r.try_get("poll_id")?, r.try_get::<i64, _>("voted")? != 0)))
            .transpose()?)
    }

    /// Casts a ballot: in one transaction, marks the token's voter as having voted and stores
    /// the answers under a fresh receipt, with nothing that links the two.
    pub async fn secret_cast(
        &self,
        token_hash: &str,
        answers: &str,
        receipt: &str,
        now: i64,
    ) -> Result<Cast, StoreError> {
        let mut tx = self.pool().begin().await?;
        // A write first (SQLite then takes its write lock, waiting its turn, instead of failing
        // to upgrade a read), and it locks the poll's row until commit: closing waits for this
        // ballot, or this ballot sees the poll closed — never a ballot stored after the count.
        let open = sqlx::query(
            "UPDATE poll SET closed_at = closed_at \
             WHERE poll_id = (SELECT poll_id FROM secret_voter WHERE token_hash = $1) \
             AND closed_at IS NULL AND (deadline IS NULL OR deadline > $2)",
        )
        .bind(token_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query("SELECT poll_id FROM secret_voter WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(Cast::Unknown) };
        let poll_id: String = row.try_get("poll_id")?;
        if open.rows_affected() != 1 {
            return Ok(Cast::Closed);
        }
        let marked = sqlx::query("UPDATE secret_voter SET voted = 1 WHERE token_hash = $1 AND voted = 0")
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        if marked.rows_affected() != 1 {
            return Ok(Cast::AlreadyVoted);
        }
        sqlx::query(
            "INSERT INTO secret_ballot (poll_id, receipt, answers, weight) \
             SELECT $1, $2, $3, weight FROM secret_voter WHERE token_hash = $4",
        )
        .bind(&poll_id)
        .bind(receipt)
        .bind(answers)
        .bind(token_hash)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Cast::Recorded { poll_id, receipt: receipt.to_owned() })
    }

    /// (eligible, voted) of a secret poll.
    pub async fn secret_turnout(&self, poll_id: &str) -> Result<(i64, i64), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS eligible, CAST(COALESCE(SUM(voted), 0) AS BIGINT) AS voted \
             FROM secret_voter WHERE poll_id = $1",
        )
        .bind(poll_id)
        .fetch_one(self.pool())
        .await?;
        Ok((row.try_get("eligible")?, row.try_get("voted")?))
    }

    /// The ballots of a secret poll, by receipt: (receipt, answers JSON, weight).
    pub async fn secret_ballots(&self, poll_id: &str) -> Result<Vec<(String, String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT receipt, answers, weight FROM secret_ballot WHERE poll_id = $1 ORDER BY receipt",
        )
        .bind(poll_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| Ok((r.try_get("receipt")?, r.try_get("answers")?, r.try_get("weight")?)))
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// The weights of a secret poll's voters (who may vote, not how they voted).
    pub async fn secret_weights(&self, poll_id: &str) -> Result<Vec<i64>, StoreError> {
        let rows = sqlx::query("SELECT weight FROM secret_voter WHERE poll_id = $1")
            .bind(poll_id)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(|r| r.try_get("weight")).collect::<Result<_, _>>()?)
    }

    /// Queues the mail carrying an email-only member's ballot (sent by the mail bridge's outbox).
    pub async fn secret_mail_queue(&self, poll_id: &str, member_id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO mail_outbox (kind, ref, member_id, email, next_at) \
             SELECT 'ballot', $1, member_id, email, $3 FROM prov_member \
             WHERE member_id = $2 AND active = 1 AND email IS NOT NULL \
             ON CONFLICT (kind, ref, member_id) DO NOTHING",
        )
        .bind(poll_id)
        .bind(member_id)
        .bind(crate::time::now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The bot's direct-message room with `user_id`, if it made one.
    pub async fn bot_dm(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT room_id FROM bot_dm WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("room_id")).transpose()?)
    }

    pub async fn set_bot_dm(&self, user_id: &str, room_id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO bot_dm (user_id, room_id) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET room_id = $2",
        )
        .bind(user_id)
        .bind(room_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Email-only members allowed in a provisioned room (its subscribers without a Matrix id):
    /// (member id, address).
    pub async fn room_email_voters(&self, room_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT m.member_id AS member_id, m.email AS email FROM prov_room r \
             JOIN prov_subscription s ON s.room_key = r.room_key \
             JOIN prov_member m ON m.member_id = s.member_id \
             WHERE r.room_id = $1 AND m.active = 1 AND m.email IS NOT NULL AND m.matrix_id IS NULL \
             ORDER BY m.member_id",
        )
        .bind(room_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| Ok((r.try_get("member_id")?, r.try_get("email")?)))
            .collect::<Result<_, sqlx::Error>>()?)
    }
}
