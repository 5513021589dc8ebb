//! Proposals: federations' messages submitted to the national selection room, kept, published.

use sqlx::{Row, any::AnyRow};

use relais_core::StoreError;

use super::BotStore;
use relais_core::time::now_ms;

/// A proposal as submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProposal {
    pub command_event: String,
    /// The proposing federation's name, as credited ("Nord").
    pub federation: String,
    pub source_room: String,
    pub source_event: String,
    pub proposer: String,
    /// The message content, JSON.
    pub content: String,
}

/// A stored proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub proposal_id: i64,
    pub federation: String,
    pub proposer: String,
    /// The proposed message's content, decoded.
    pub content: serde_json::Value,
    pub copy_event: Option<String>,
    pub notice_event: Option<String>,
    pub kept_by: Option<String>,
    pub published_in: Option<String>,
}

const COLUMNS: &str =
    "proposal_id, federation, proposer, content, copy_event, notice_event, kept_by, published_in";

fn from_row(r: &AnyRow) -> Result<Proposal, StoreError> {
    let content: String = r.try_get("content")?;
    Ok(Proposal {
        proposal_id: r.try_get("proposal_id")?,
        federation: r.try_get("federation")?,
        proposer: r.try_get("proposer")?,
        content: serde_json::from_str(&content)
            .map_err(|e| StoreError::unreadable_json("a proposal's content", &e))?,
        copy_event: r.try_get("copy_event")?,
        notice_event: r.try_get("notice_event")?,
        kept_by: r.try_get("kept_by")?,
        published_in: r.try_get("published_in")?,
    })
}

impl BotStore {
    /// Records a proposal; the same command again returns the first record.
    pub async fn proposal_create(&self, p: &NewProposal) -> Result<Proposal, StoreError> {
        sqlx::query(
            "INSERT INTO proposal (command_event, federation, source_room, source_event, proposer, content, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (command_event) DO NOTHING",
        )
        .bind(&p.command_event)
        .bind(&p.federation)
        .bind(&p.source_room)
        .bind(&p.source_event)
        .bind(&p.proposer)
        .bind(&p.content)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        let sql = format!("SELECT {COLUMNS} FROM proposal WHERE command_event = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&p.command_event).fetch_one(self.pool()).await?;
        from_row(&row)
    }

    /// The events that show the proposal in the selection room: its copy and the bot's notice.
    pub async fn proposal_shown(&self, id: i64, copy: &str, notice: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE proposal SET copy_event = $1, notice_event = $2 WHERE proposal_id = $3")
            .bind(copy)
            .bind(notice)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The proposal shown in the selection room by `event_id` (its copy or the bot's notice).
    pub async fn proposal_by_event(&self, event_id: &str) -> Result<Option<Proposal>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM proposal WHERE copy_event = $1 OR notice_event = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(event_id).fetch_optional(self.pool()).await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Keeps a proposal for the next selection; false when it was kept already.
    pub async fn proposal_keep(&self, id: i64, by: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE proposal SET kept_by = $1, kept_at = $2 WHERE proposal_id = $3 AND kept_by IS NULL",
        )
        .bind(by)
        .bind(now_ms())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Kept proposals not yet published, oldest kept first; an unreadable one is left out and
    /// logged with its id.
    pub async fn proposals_to_publish(&self) -> Result<Vec<Proposal>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM proposal WHERE kept_by IS NOT NULL AND published_in IS NULL \
             ORDER BY kept_at, proposal_id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(self.pool()).await?;
        let mut kept = Vec::with_capacity(rows.len());
        for row in &rows {
            match from_row(row) {
                Ok(proposal) => kept.push(proposal),
                // Left out of the selection (and said), never published empty, never holding
                // up the others.
                Err(StoreError::Corrupt(why)) => {
                    let id: Option<i64> = row.try_get("proposal_id").ok();
                    tracing::error!(proposal_id = ?id, %why, "a kept proposal is unreadable: left out");
                }
                Err(other) => return Err(other),
            }
        }
        Ok(kept)
    }

    /// Marks proposals as published by the selection `label` (the publishing command's id).
    pub async fn proposals_published(&self, ids: &[i64], label: &str) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        for id in ids {
            sqlx::query(
                "UPDATE proposal SET published_in = $1 WHERE proposal_id = $2 AND published_in IS NULL",
            )
            .bind(label)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
