//! Secret ballots: the voter list, the nonces of the tokens that voted, and the ballots with
//! their random receipts — never joined, never timestamped, and never written together with
//! anything about their voter (see docs/secret-ballot.md).

use rand::seq::SliceRandom;
use sqlx::Row;

use relais_core::{StoreError, time::now_ms};

use super::BotStore;

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

impl BotStore {
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
             WHERE v.notified = 0 AND v.notify_after <= $1 AND p.closed_at IS NULL ORDER BY v.poll_id, v.voter \
             LIMIT $2",
        )
        .bind(now_ms())
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| Ok((r.try_get("poll_id")?, r.try_get("voter")?)))
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// Leaves a ballot that could not be sent until `after` (ms): the others go first.
    pub async fn secret_voter_retry_later(
        &self,
        poll_id: &str,
        voter: &str,
        after: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE secret_voter SET notify_after = $1 WHERE poll_id = $2 AND voter = $3")
            .bind(after)
            .bind(poll_id)
            .bind(voter)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn secret_voter_notified(&self, poll_id: &str, voter: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE secret_voter SET notified = 1 WHERE poll_id = $1 AND voter = $2")
            .bind(poll_id)
            .bind(voter)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The poll a token opens, and whether its voter has voted: the nonce of their token is
    /// stored (or, for a ballot cast before the nonces, their flag is set).
    pub async fn secret_token(
        &self,
        token_hash: &str,
        nonce: &str,
    ) -> Result<Option<(String, bool)>, StoreError> {
        let row = sqlx::query(
            "SELECT v.poll_id AS poll_id, v.voted AS voted, \
             (SELECT COUNT(*) FROM secret_nonce n WHERE n.poll_id = v.poll_id AND n.nonce = $2) AS marked \
             FROM secret_voter v WHERE v.token_hash = $1",
        )
        .bind(token_hash)
        .bind(nonce)
        .fetch_optional(self.pool())
        .await?;
        Ok(row
            .map(|r| {
                let voted = r.try_get::<i64, _>("voted")? != 0 || r.try_get::<i64, _>("marked")? != 0;
                Ok::<_, sqlx::Error>((r.try_get("poll_id")?, voted))
            })
            .transpose()?)
    }

    /// Casts a ballot, in one transaction that writes nothing about the voter: the nonce of
    /// their token (only the token and Relais's key compute it: the database cannot tell whose
    /// it is) marks the token as used, and the ballot goes into the poll's box of pending
    /// ballots under a fresh random receipt. [`Cast::Recorded`] means committed: counted at closing.
    /// The box is emptied into `secret_ballot` in batches ([`BotStore::secret_flush`]) and at
    /// closing ([`BotStore::poll_close`]), so that neither transaction ids nor row order tell
    /// when a ballot was cast.
    pub async fn secret_cast(
        &self,
        token_hash: &str,
        nonce: &str,
        answers: &str,
        now: i64,
    ) -> Result<Cast, StoreError> {
        let mut tx = self.pool().begin().await?;
        // A write first (SQLite then takes its write lock, waiting its turn, instead of failing
        // to upgrade a read), and it locks the poll's row until commit: closing and flushing
        // wait for this ballot, or this ballot sees the poll closed — never a ballot stored after
        // the count. It also serialises the casts of one poll: two casts of one token cannot
        // both find its nonce absent.
        let open = sqlx::query(
            "UPDATE poll SET closed_at = closed_at \
             WHERE poll_id = (SELECT poll_id FROM secret_voter WHERE token_hash = $1) \
             AND closed_at IS NULL AND (deadline IS NULL OR deadline > $2)",
        )
        .bind(token_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // Read only: the voter's row is not written, so its transaction ids say nothing.
        let row = sqlx::query("SELECT poll_id, voted, weight FROM secret_voter WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(Cast::Unknown) };
        let poll_id: String = row.try_get("poll_id")?;
        let weight: i64 = row.try_get("weight")?;
        if open.rows_affected() != 1 {
            return Ok(Cast::Closed);
        }
        if row.try_get::<i64, _>("voted")? != 0 {
            return Ok(Cast::AlreadyVoted);
        }
        let marked =
            sqlx::query("INSERT INTO secret_nonce (poll_id, nonce) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(&poll_id)
                .bind(nonce)
                .execute(&mut *tx)
                .await?;
        if marked.rows_affected() != 1 {
            return Ok(Cast::AlreadyVoted);
        }
        // A fresh receipt, drawn again in the (40-bit) case it is already the poll's: under
        // the poll's lock, no other cast can take it meanwhile.
        let receipt = loop {
            let receipt = relais_core::ballot::receipt();
            let taken = sqlx::query(
                "SELECT receipt FROM secret_ballot WHERE poll_id = $1 AND receipt = $2 \
                 UNION ALL SELECT receipt FROM secret_ballot_box WHERE poll_id = $1 AND receipt = $2",
            )
            .bind(&poll_id)
            .bind(&receipt)
            .fetch_optional(&mut *tx)
            .await?;
            if taken.is_none() {
                break receipt;
            }
        };
        sqlx::query(
            "INSERT INTO secret_ballot_box (poll_id, receipt, answers, weight) VALUES ($1, $2, $3, $4)",
        )
        .bind(&poll_id)
        .bind(&receipt)
        .bind(answers)
        .bind(weight)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Cast::Recorded { poll_id, receipt })
    }

    /// Empties the ballot box of every poll holding at least `min_batch` pending ballots into
    /// `secret_ballot`, in random order, one transaction per poll. Returns the ballots moved.
    pub async fn secret_flush(&self, min_batch: i64) -> Result<usize, StoreError> {
        let polls = sqlx::query(
            "SELECT poll_id FROM secret_ballot_box GROUP BY poll_id HAVING COUNT(*) >= $1 ORDER BY poll_id",
        )
        .bind(min_batch)
        .fetch_all(self.pool())
        .await?;
        let mut moved = 0;
        for poll in &polls {
            let poll_id: String = poll.try_get("poll_id")?;
            let mut tx = self.pool().begin().await?;
            // The poll's row lock, as casting and closing take it: no ballot enters or leaves
            // the box meanwhile.
            sqlx::query("UPDATE poll SET closed_at = closed_at WHERE poll_id = $1")
                .bind(&poll_id)
                .execute(&mut *tx)
                .await?;
            let pending: i64 = sqlx::query("SELECT COUNT(*) AS n FROM secret_ballot_box WHERE poll_id = $1")
                .bind(&poll_id)
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
            if pending < min_batch {
                continue; // another node flushed it first
            }
            moved += flush_box(&mut tx, &poll_id).await?;
            tx.commit().await?;
        }
        Ok(moved)
    }

    /// (eligible, voted) of a secret poll; the voters are counted by their ballots.
    pub async fn secret_turnout(&self, poll_id: &str) -> Result<(i64, i64), StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM secret_voter WHERE poll_id = $1) AS eligible, \
             (SELECT COUNT(*) FROM secret_ballot WHERE poll_id = $1) \
             + (SELECT COUNT(*) FROM secret_ballot_box WHERE poll_id = $1) AS voted",
        )
        .bind(poll_id)
        .fetch_one(self.pool())
        .await?;
        Ok((row.try_get("eligible")?, row.try_get("voted")?))
    }

    /// The ballots of a secret poll, by receipt: (receipt, answers JSON, weight) — those still
    /// in the box included, so that a count never depends on a flush.
    pub async fn secret_ballots(&self, poll_id: &str) -> Result<Vec<(String, String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT receipt, answers, weight FROM secret_ballot WHERE poll_id = $1 \
             UNION ALL SELECT receipt, answers, weight FROM secret_ballot_box WHERE poll_id = $1 \
             ORDER BY receipt",
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
}

/// Moves every pending ballot of `poll_id` from the box into `secret_ballot`, in random order,
/// in the caller's transaction (which holds the poll's row lock). Returns how many moved.
pub(super) async fn flush_box(tx: &mut sqlx::AnyConnection, poll_id: &str) -> Result<usize, StoreError> {
    let rows = sqlx::query("SELECT receipt, answers, weight FROM secret_ballot_box WHERE poll_id = $1")
        .bind(poll_id)
        .fetch_all(&mut *tx)
        .await?;
    let mut ballots = rows
        .iter()
        .map(|r| Ok((r.try_get("receipt")?, r.try_get("answers")?, r.try_get("weight")?)))
        .collect::<Result<Vec<(String, String, i64)>, sqlx::Error>>()?;
    ballots.shuffle(&mut rand::rng());
    for (receipt, answers, weight) in &ballots {
        sqlx::query("INSERT INTO secret_ballot (poll_id, receipt, answers, weight) VALUES ($1, $2, $3, $4)")
            .bind(poll_id)
            .bind(receipt)
            .bind(answers)
            .bind(weight)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM secret_ballot_box WHERE poll_id = $1 AND receipt = $2")
            .bind(poll_id)
            .bind(receipt)
            .execute(&mut *tx)
            .await?;
    }
    Ok(ballots.len())
}
