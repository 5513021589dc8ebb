//! Flood protection in provisioned rooms: a member below moderator who sends more than
//! `[bots] flood_messages` messages within `flood_seconds` is muted in that room (power level
//! -1, below what sending needs) for `flood_mute_seconds`, and the federation's moderators are
//! told in their moderation room; the bots' clock lifts the mute. Messages are placed in time by
//! their server's timestamp, so a backlog dispatched at once after an outage mutes nobody.

use ruma::{
    Int, RoomId, UserId,
    events::{EmptyStateKey, room::power_levels::RoomPowerLevelsEventContent},
    int,
};

use relais_appservice::ClientError;
use relais_core::time::{DAY_MS, now_ms};

use super::Moderation;
use crate::{
    messages::moderation as text,
    service::{MODERATOR, ServiceError},
    store::flood::DueMute,
};

/// The level a muted member is set to: below the room's `events_default` (0).
fn muted() -> Int {
    int!(-1)
}

impl Moderation {
    /// A message of `sender` in `room_id`, sent at `ts` (ms, its server's clock): counted, and
    /// the sender muted once they pass the limit.
    pub async fn on_message(&self, room_id: &RoomId, sender: &UserId, ts: i64) -> Result<(), ServiceError> {
        let bots = &self.config.bots;
        if bots.flood_messages == 0 || self.directory.room_name(room_id).await?.is_none() {
            return Ok(());
        }
        let window = i64::from(bots.flood_seconds.max(1)) * 1000;
        let count = self.bots_store.flood_count(room_id, sender, ts, window).await?;
        // Acted on once, as the limit is passed.
        if count != i64::from(bots.flood_messages) + 1 {
            return Ok(());
        }
        let Some(mut levels) = self.client.state_content::<RoomPowerLevelsEventContent>(room_id, "").await?
        else {
            return Ok(());
        };
        let level = levels.users.get(sender).copied().unwrap_or(levels.users_default);
        if level >= Int::from(MODERATOR) || level < levels.users_default {
            // Moderators are not muted; a level set lower by hand is a moderator's decision.
            return Ok(());
        }
        let now = now_ms();
        let until = now + i64::from(bots.flood_mute_seconds) * 1000;
        if !self.bots_store.flood_mute(room_id, sender, now, until).await? {
            return Ok(());
        }
        levels.users.insert(sender.to_owned(), muted());
        self.client.send_state(room_id, &EmptyStateKey, &levels).await?;
        tracing::info!(%room_id, "a member flooding a room is muted");
        if let Some(scope) = self.scope(room_id).await? {
            let desk = self.desk(&scope).await?;
            let room_name = self.directory.room_name(room_id).await?.unwrap_or_else(|| room_id.to_string());
            let notice =
                text::muted(sender.as_str(), &room_name, count, bots.flood_seconds, bots.flood_mute_seconds);
            let txn = format!("flood.{}", relais_core::text::slug(&format!("{room_id}{sender}{now}")));
            let content = serde_json::json!({ "msgtype": "m.notice", "body": notice });
            self.client
                .send_raw_event(&desk, "m.room.message", &txn, &content, &self.config.bot_user_id())
                .await?;
        }
        Ok(())
    }

    /// Lifts the mutes whose time is up; returns how many.
    pub async fn lift_mutes(&self) -> Result<usize, ServiceError> {
        let now = now_ms();
        let due = self.bots_store.flood_mutes_due(now).await?;
        for mute in &due {
            self.unmute(mute).await?;
            self.bots_store.flood_lifted(mute, now, now - DAY_MS).await?;
        }
        // Windows of a day ago mean nothing any more (and none is kept of who spoke when).
        self.bots_store.flood_forget(now - DAY_MS).await?;
        Ok(due.len())
    }

    async fn unmute(&self, mute: &DueMute) -> Result<(), ServiceError> {
        let levels = match self.client.state_content::<RoomPowerLevelsEventContent>(&mute.room_id, "").await {
            Ok(Some(levels)) => levels,
            // The room is gone or the bot lost it: nothing left to lift.
            Ok(None) | Err(ClientError::Matrix { status: 403 | 404, .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        // Only the bot's own mute is undone: a level a moderator changed since stays.
        if levels.users.get(&mute.user_id) == Some(&muted()) {
            let mut levels = levels;
            levels.users.remove(&mute.user_id);
            self.client.send_state(&mute.room_id, &EmptyStateKey, &levels).await?;
        }
        Ok(())
    }
}
