//! Corrections of broadcasts: an edit of the original gives the broadcast a new revision, a
//! redaction withdraws it; each copy records the revision it carries and when it was withdrawn,
//! so the copies follow once each, whatever crashes in between.

use sqlx::Row;

use relais_core::{StoreError, time::now_ms};

use super::BotStore;

/// What a correction does to a broadcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrectionKind {
    Edit,
    Withdrawal,
}

impl CorrectionKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Edit => "edit",
            Self::Withdrawal => "withdrawal",
        }
    }
}

/// A broadcast whose original is a given event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BroadcastOfSource {
    pub broadcast_id: i64,
    /// The `!diffuser` command: the copies' hint (`fr.pcf.relais.broadcast`).
    pub command_event: String,
}

/// One copy that must follow its broadcast.
#[derive(Debug, Clone, PartialEq)]
pub struct DueCorrection {
    pub broadcast_id: i64,
    pub room_id: String,
    /// The copy's event in that room.
    pub copy_event: String,
    pub action: CopyAction,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CopyAction {
    /// Edit the copy to this revision of the content.
    Revise { revision: i64, content: serde_json::Value },
    /// Redact the copy.
    Withdraw,
}

impl BotStore {
    /// The broadcasts (not withdrawn) copying `source_event` of `source_room` as it was written
    /// ([`BroadcastOrigin::Copy`](super::broadcasts::BroadcastOrigin::Copy)).
    pub async fn broadcasts_of_source(
        &self,
        source_room: &str,
        source_event: &str,
    ) -> Result<Vec<BroadcastOfSource>, StoreError> {
        let rows = sqlx::query(
            "SELECT broadcast_id, command_event FROM broadcast \
             WHERE source_room = $1 AND source_event = $2 AND origin = 'copy' AND withdrawn_at IS NULL \
             ORDER BY broadcast_id",
        )
        .bind(source_room)
        .bind(source_event)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(BroadcastOfSource {
                    broadcast_id: r.try_get("broadcast_id")?,
                    command_event: r.try_get("command_event")?,
                })
            })
            .collect()
    }

    /// Records the correction `event_id` of a broadcast: an edit replaces its content (and adds the
    /// links rewritten in it) under a new revision, a withdrawal withdraws it. Returns false when
    /// this event was already recorded for this broadcast, or the broadcast is withdrawn: nothing
    /// changes then.
    pub async fn broadcast_correct(
        &self,
        event_id: &str,
        broadcast_id: i64,
        correction: &Correction<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let now = now_ms();
        let changed = match correction {
            Correction::Edit { content, .. } => sqlx::query(
                "UPDATE broadcast SET content = $1, revision = revision + 1 \
                 WHERE broadcast_id = $2 AND withdrawn_at IS NULL \
                 AND NOT EXISTS (SELECT 1 FROM broadcast_correction WHERE event_id = $3 AND broadcast_id = $2)",
            )
            .bind(*content)
            .bind(broadcast_id)
            .bind(event_id),
            Correction::Withdrawal => sqlx::query(
                "UPDATE broadcast SET withdrawn_at = $1 \
                 WHERE broadcast_id = $2 AND withdrawn_at IS NULL \
                 AND NOT EXISTS (SELECT 1 FROM broadcast_correction WHERE event_id = $3 AND broadcast_id = $2)",
            )
            .bind(now)
            .bind(broadcast_id)
            .bind(event_id),
        }
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO broadcast_correction (event_id, broadcast_id, kind, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(event_id)
        .bind(broadcast_id)
        .bind(correction.kind().as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if let Correction::Edit { links, .. } = correction {
            for (token, url) in *links {
                sqlx::query(
                    "INSERT INTO broadcast_link (token, broadcast_id, url) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(token)
                .bind(broadcast_id)
                .bind(url)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The copies sent that do not follow their broadcast yet: to be redacted (the broadcast was
    /// withdrawn) or edited to its latest revision. A revision whose content cannot be read is
    /// left out (and said): it is never sent as an empty message.
    pub async fn broadcast_corrections_due(&self) -> Result<Vec<DueCorrection>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.broadcast_id AS broadcast_id, d.room_id AS room_id, d.event_id AS copy_event, \
               b.revision AS revision, b.content AS content, b.withdrawn_at AS withdrawn_at \
             FROM broadcast_delivery d JOIN broadcast b ON b.broadcast_id = d.broadcast_id \
             WHERE d.event_id IS NOT NULL AND d.withdrawn_at IS NULL \
               AND (b.withdrawn_at IS NOT NULL OR d.revision < b.revision) \
             ORDER BY d.broadcast_id, d.room_id",
        )
        .fetch_all(self.pool())
        .await?;
        let mut due = Vec::with_capacity(rows.len());
        for r in &rows {
            let broadcast_id: i64 = r.try_get("broadcast_id")?;
            let withdrawn: Option<i64> = r.try_get("withdrawn_at")?;
            let action = if withdrawn.is_some() {
                CopyAction::Withdraw
            } else {
                let content: String = r.try_get("content")?;
                match serde_json::from_str(&content) {
                    Ok(content) => CopyAction::Revise { revision: r.try_get("revision")?, content },
                    Err(e) => {
                        let error = relais_core::json::error_without_data(&e);
                        tracing::error!(broadcast_id, %error, "a broadcast's new content is unreadable: its copies keep the old one");
                        continue;
                    }
                }
            };
            due.push(DueCorrection {
                broadcast_id,
                room_id: r.try_get("room_id")?,
                copy_event: r.try_get("copy_event")?,
                action,
            });
        }
        Ok(due)
    }

    /// Edits recorded for a broadcast.
    pub async fn broadcast_edits(&self, broadcast_id: i64) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM broadcast_correction WHERE broadcast_id = $1 AND kind = 'edit'",
        )
        .bind(broadcast_id)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("n")?)
    }

    /// The copy in `room_id` now carries `revision` (never goes back to an older one).
    pub async fn broadcast_copy_revised(
        &self,
        broadcast_id: i64,
        room_id: &str,
        revision: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE broadcast_delivery SET revision = $1 WHERE broadcast_id = $2 AND room_id = $3 AND revision < $1",
        )
        .bind(revision)
        .bind(broadcast_id)
        .bind(room_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The copy in `room_id` was redacted.
    pub async fn broadcast_copy_withdrawn(&self, broadcast_id: i64, room_id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE broadcast_delivery SET withdrawn_at = $1 \
             WHERE broadcast_id = $2 AND room_id = $3 AND withdrawn_at IS NULL",
        )
        .bind(now_ms())
        .bind(broadcast_id)
        .bind(room_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

/// A correction to record.
#[derive(Debug, Clone, Copy)]
pub enum Correction<'a> {
    /// The new content (JSON, as the copies carry it) and the links rewritten in it.
    Edit {
        content: &'a str,
        links: &'a [(String, String)],
    },
    Withdrawal,
}

impl Correction<'_> {
    pub fn kind(&self) -> CorrectionKind {
        match self {
            Self::Edit { .. } => CorrectionKind::Edit,
            Self::Withdrawal => CorrectionKind::Withdrawal,
        }
    }
}
