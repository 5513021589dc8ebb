//! The lists' web archives: a room's messages as the bridge copied them (within `[mail]
//! retention_days`), newest first, and a full-text search of them — SQLite FTS5 or PostgreSQL's
//! French text search, from the words a reader typed (never their query syntax).

use sqlx::AssertSqlSafe;

use relais_core::{StoreError, store::Backend};

use super::{MESSAGE_COLUMNS, MailMessage, MailStore, message_from_row};

/// Words of a search kept at most, and the longest kept.
const MAX_WORDS: usize = 8;
const MAX_WORD_CHARS: usize = 40;

/// The words of `typed` a search uses: letters and digits only, bounded.
pub fn search_words(typed: &str) -> Vec<String> {
    typed
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().take(MAX_WORD_CHARS).collect::<String>())
        .take(MAX_WORDS)
        .collect()
}

impl MailStore {
    /// At most `limit` messages of `room_id` older than `before` (a seq; `None`: the newest),
    /// not redacted, newest first.
    pub async fn archive_page(
        &self,
        room_id: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<MailMessage>, StoreError> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM mail_message WHERE room_id = $1 AND seq < $2 AND redacted = 0 \
             ORDER BY seq DESC LIMIT $3"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(room_id)
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(message_from_row).collect::<Result<_, _>>()?)
    }

    /// At most `limit` messages of `room_id` holding every word of `words` (see
    /// [`search_words`]), not redacted, newest first.
    pub async fn archive_search(
        &self,
        room_id: &str,
        words: &[String],
        limit: i64,
    ) -> Result<Vec<MailMessage>, StoreError> {
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let (sql, query) = match self.store.backend() {
            // Each word quoted: FTS5 reads them as plain terms, all required.
            Backend::Sqlite => (
                format!(
                    "SELECT {MESSAGE_COLUMNS} FROM mail_message WHERE room_id = $1 AND redacted = 0 AND seq IN \
                     (SELECT rowid FROM mail_message_search WHERE mail_message_search MATCH $2) \
                     ORDER BY seq DESC LIMIT $3"
                ),
                words.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(" "),
            ),
            Backend::Postgres => (
                format!(
                    "SELECT {MESSAGE_COLUMNS} FROM mail_message WHERE room_id = $1 AND redacted = 0 \
                     AND body_search @@ plainto_tsquery('french', $2) ORDER BY seq DESC LIMIT $3"
                ),
                words.join(" "),
            ),
        };
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(room_id)
            .bind(query)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(message_from_row).collect::<Result<_, _>>()?)
    }
}
