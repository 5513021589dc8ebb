//! Polls: what was asked, who may vote (frozen at opening), every response as received, and the
//! result once closed. Responses of open polls are public in the room anyway (secret ballots are
//! a separate design).

use relais_core::{StoreError, time::now_ms};
use ruma::{OwnedRoomId, OwnedUserId, RoomId, UserId};
use sqlx::{AnyConnection, Row, any::AnyRow};

use super::BotStore;

/// A poll as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollRecord {
    pub poll_id: String,
    pub room_id: OwnedRoomId,
    pub author: OwnedUserId,
    /// The poll's specification, JSON (the bots crate owns its shape).
    pub spec: String,
    pub created_at: i64,
    pub deadline: Option<i64>,
    pub reminded_at: Option<i64>,
    pub closed_at: Option<i64>,
    /// The result, JSON, once closed.
    pub result: Option<String>,
}

impl PollRecord {
    /// An open poll `poll_id` in `!room:pcf.test` by `@paul:pcf.test`, for store tests.
    #[cfg(test)]
    pub(crate) fn open_for_tests(poll_id: &str) -> Self {
        Self {
            poll_id: poll_id.into(),
            room_id: ruma::owned_room_id!("!room:pcf.test"),
            author: ruma::owned_user_id!("@paul:pcf.test"),
            spec: "{}".into(),
            created_at: 1,
            deadline: None,
            reminded_at: None,
            closed_at: None,
            result: None,
        }
    }
}

fn poll_from_row(row: &AnyRow) -> Result<PollRecord, StoreError> {
    let room_id: String = row.try_get("room_id")?;
    let author: String = row.try_get("author")?;
    Ok(PollRecord {
        poll_id: row.try_get("poll_id")?,
        room_id: RoomId::parse(room_id)
            .map_err(|_| StoreError::Corrupt("a poll whose room id is none".into()))?,
        author: UserId::parse(author)
            .map_err(|_| StoreError::Corrupt("a poll whose author is no user id".into()))?,
        spec: row.try_get("spec")?,
        created_at: row.try_get("created_at")?,
        deadline: row.try_get("deadline")?,
        reminded_at: row.try_get("reminded_at")?,
        closed_at: row.try_get("closed_at")?,
        result: row.try_get("result")?,
    })
}

const POLL_COLUMNS: &str =
    "poll_id, room_id, author, spec, created_at, deadline, reminded_at, closed_at, result";

impl BotStore {
    /// Records an opened poll and its voter list; a second call for the same poll changes nothing.
    pub async fn poll_create(&self, poll: &PollRecord, voters: &[String]) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO poll (poll_id, room_id, author, spec, created_at, deadline) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (poll_id) DO NOTHING",
        )
        .bind(&poll.poll_id)
        .bind(poll.room_id.as_str())
        .bind(poll.author.as_str())
        .bind(&poll.spec)
        .bind(poll.created_at)
        .bind(poll.deadline)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted > 0 {
            for voter in voters {
                sqlx::query(
                    "INSERT INTO poll_voter (poll_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                )
                .bind(&poll.poll_id)
                .bind(voter)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Keeps one response event (a redelivered event is kept once).
    pub async fn poll_add_response(
        &self,
        poll_id: &str,
        event_id: &str,
        voter: &str,
        answers_json: &str,
        ts: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool().acquire().await?;
        insert_response(&mut conn, poll_id, event_id, voter, answers_json, ts).await
    }

    pub async fn poll(&self, poll_id: &str) -> Result<Option<PollRecord>, StoreError> {
        let sql = format!("SELECT {POLL_COLUMNS} FROM poll WHERE poll_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(poll_id).fetch_optional(self.pool()).await?;
        row.as_ref().map(poll_from_row).transpose()
    }

    /// The newest poll of a room still open.
    pub async fn poll_latest_open(&self, room_id: &RoomId) -> Result<Option<PollRecord>, StoreError> {
        let sql = format!(
            "SELECT {POLL_COLUMNS} FROM poll WHERE room_id = $1 AND closed_at IS NULL ORDER BY created_at DESC LIMIT 1"
        );
        let row =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(room_id.as_str()).fetch_optional(self.pool()).await?;
        row.as_ref().map(poll_from_row).transpose()
    }

    /// Open polls whose deadline is at or before `at`.
    pub async fn polls_due(&self, at: i64) -> Result<Vec<PollRecord>, StoreError> {
        let sql = format!("SELECT {POLL_COLUMNS} FROM poll WHERE closed_at IS NULL AND deadline <= $1");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(at).fetch_all(self.pool()).await?;
        rows.iter().map(poll_from_row).collect()
    }

    /// Open polls with a deadline and no reminder yet.
    pub async fn polls_unreminded(&self) -> Result<Vec<PollRecord>, StoreError> {
        let sql = format!(
            "SELECT {POLL_COLUMNS} FROM poll WHERE closed_at IS NULL AND deadline IS NOT NULL AND reminded_at IS NULL"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(self.pool()).await?;
        rows.iter().map(poll_from_row).collect()
    }

    pub async fn poll_mark_reminded(&self, poll_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE poll SET reminded_at = $1 WHERE poll_id = $2")
            .bind(now_ms())
            .bind(poll_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn poll_voters(&self, poll_id: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT user_id FROM poll_voter WHERE poll_id = $1")
            .bind(poll_id)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(|r| r.try_get("user_id")).collect::<Result<_, _>>()?)
    }

    /// Records `voter`'s answer from the mail (response `event_id`), while the poll is open;
    /// `false`: closed meanwhile, nothing recorded. See [`BotStore::poll_close`].
    pub async fn poll_add_mail_response(
        &self,
        poll_id: &str,
        event_id: &str,
        voter: &str,
        answers_json: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        if !lock_open_poll(&mut tx, poll_id).await? {
            return Ok(false);
        }
        insert_response(&mut tx, poll_id, event_id, voter, answers_json, now_ms()).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records `voter`'s answer carried by `holder` (a proxy): the response and who carried it,
    /// in one transaction, while the poll is open. `false`: closed meanwhile, nothing recorded.
    pub async fn poll_add_proxy_response(
        &self,
        poll_id: &str,
        voter: &str,
        holder: &str,
        answers_json: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        if !lock_open_poll(&mut tx, poll_id).await? {
            return Ok(false);
        }
        let (event_id, ts) = (format!("proxy.{}", relais_provisioning::onboarding::new_token()), now_ms());
        insert_response(&mut tx, poll_id, &event_id, voter, answers_json, ts).await?;
        sqlx::query(
            "INSERT INTO poll_proxy (poll_id, voter, holder, at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (poll_id, voter) DO UPDATE SET holder = $3, at = $4",
        )
        .bind(poll_id)
        .bind(voter)
        .bind(holder)
        .bind(ts)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// (voter, holder) of the proxies of poll `poll_id` whose voter's latest answer is the one
    /// carried, by voter.
    pub async fn poll_counted_proxies(&self, poll_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.voter AS voter, p.holder AS holder FROM poll_proxy p WHERE p.poll_id = $1 AND \
             (SELECT r.event_id FROM poll_response r WHERE r.poll_id = p.poll_id AND r.voter = p.voter \
              ORDER BY r.seq DESC LIMIT 1) LIKE 'proxy.%' ORDER BY p.voter",
        )
        .bind(poll_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| Ok((r.try_get("voter")?, r.try_get("holder")?)))
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// The event id (or `mail.…` / `proxy.…` id) of `voter`'s latest answer in poll `poll_id`.
    pub async fn poll_latest_response_id(
        &self,
        poll_id: &str,
        voter: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT event_id FROM poll_response WHERE poll_id = $1 AND voter = $2 ORDER BY seq DESC LIMIT 1",
        )
        .bind(poll_id)
        .bind(voter)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.try_get("event_id")).transpose()?)
    }

    /// (voter, holder) of the proxies of poll `poll_id`, by voter.
    pub async fn poll_proxies(&self, poll_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT voter, holder FROM poll_proxy WHERE poll_id = $1 ORDER BY voter")
            .bind(poll_id)
            .fetch_all(self.pool())
            .await?;
        Ok(rows
            .iter()
            .map(|r| Ok((r.try_get("voter")?, r.try_get("holder")?)))
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// The open polls of the rooms `room_ids`, newest first.
    pub async fn open_polls_in(&self, room_ids: &[String]) -> Result<Vec<PollRecord>, StoreError> {
        let mut polls = Vec::new();
        for room in room_ids {
            let sql = format!("SELECT {POLL_COLUMNS} FROM poll WHERE room_id = $1 AND closed_at IS NULL");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(room).fetch_all(self.pool()).await?;
            for row in &rows {
                polls.push(poll_from_row(row)?);
            }
        }
        polls.sort_by_key(|p| std::cmp::Reverse(p.created_at));
        Ok(polls)
    }

    /// Whether `voter` is on the voter list of poll `poll_id`.
    pub async fn poll_is_voter(&self, poll_id: &str, voter: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 AS one FROM poll_voter WHERE poll_id = $1 AND user_id = $2")
            .bind(poll_id)
            .bind(voter)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.is_some())
    }

    /// (voter, answers JSON, ts) in the order received.
    pub async fn poll_responses(&self, poll_id: &str) -> Result<Vec<(String, String, i64)>, StoreError> {
        let rows =
            sqlx::query("SELECT voter, answers, ts FROM poll_response WHERE poll_id = $1 ORDER BY seq")
                .bind(poll_id)
                .fetch_all(self.pool())
                .await?;
        Ok(rows
            .iter()
            .map(|r| Ok((r.try_get("voter")?, r.try_get("answers")?, r.try_get("ts")?)))
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// Closes a poll, at `closed_at` or, when `None`, now; returns when it was closed, or
    /// `None` when it already was (by another worker). The time is taken once the poll's row
    /// is held: every answer by mail or by proxy recorded while it was open (they hold that row,
    /// [`lock_open_poll`]) is committed by then and counts; every later one sees it closed.
    /// A secret poll's pending ballots leave their box for `secret_ballot` in the same
    /// transaction, and the nonces of the tokens that voted are erased: no ballot can come
    /// after this, and none stays behind.
    pub async fn poll_close(&self, poll_id: &str, closed_at: Option<i64>) -> Result<Option<i64>, StoreError> {
        let mut tx = self.pool().begin().await?;
        if !lock_open_poll(&mut tx, poll_id).await? {
            return Ok(None);
        }
        let closed_at = match closed_at {
            Some(at) => at,
            // Never before an answer recorded while it was open, whatever the clock of the
            // node that recorded it.
            None => {
                let last = sqlx::query(
                    "SELECT MAX(ts) AS last FROM poll_response WHERE poll_id = $1 \
                     AND (event_id LIKE 'mail.%' OR event_id LIKE 'proxy.%')",
                )
                .bind(poll_id)
                .fetch_one(&mut *tx)
                .await?;
                now_ms().max(last.try_get::<Option<i64>, _>("last")?.unwrap_or(0))
            }
        };
        sqlx::query("UPDATE poll SET closed_at = $1 WHERE poll_id = $2")
            .bind(closed_at)
            .bind(poll_id)
            .execute(&mut *tx)
            .await?;
        super::secret_ballot::flush_box(&mut tx, poll_id).await?;
        sqlx::query("DELETE FROM secret_nonce WHERE poll_id = $1").bind(poll_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Some(closed_at))
    }

    /// Closed polls whose results were not posted (a crash between closing and posting).
    pub async fn polls_closed_unpublished(&self) -> Result<Vec<PollRecord>, StoreError> {
        let sql =
            format!("SELECT {POLL_COLUMNS} FROM poll WHERE closed_at IS NOT NULL AND end_event_id IS NULL");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(self.pool()).await?;
        rows.iter().map(poll_from_row).collect()
    }

    pub async fn poll_set_result(&self, poll_id: &str, result: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE poll SET result = $1 WHERE poll_id = $2")
            .bind(result)
            .bind(poll_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn poll_set_end_event(&self, poll_id: &str, event_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE poll SET end_event_id = $1 WHERE poll_id = $2")
            .bind(event_id)
            .bind(poll_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

/// Holds poll `poll_id`'s row for the rest of `tx` if the poll is open (a write that changes
/// nothing: portable where `SELECT … FOR UPDATE` is not); whether it is. A closing and an
/// answer recorded outside the room take this row in turn, so the closing's count sees every
/// answer recorded before it, and no answer comes after it.
async fn lock_open_poll(tx: &mut AnyConnection, poll_id: &str) -> Result<bool, StoreError> {
    let held = sqlx::query("UPDATE poll SET closed_at = closed_at WHERE poll_id = $1 AND closed_at IS NULL")
        .bind(poll_id)
        .execute(&mut *tx)
        .await?;
    Ok(held.rows_affected() == 1)
}

async fn insert_response(
    tx: &mut AnyConnection,
    poll_id: &str,
    event_id: &str,
    voter: &str,
    answers_json: &str,
    ts: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO poll_response (event_id, poll_id, voter, answers, ts) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(event_id)
    .bind(poll_id)
    .bind(voter)
    .bind(answers_json)
    .bind(ts)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
