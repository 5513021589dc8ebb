//! Statistics of broadcasts without trackers: read receipts and reactions on the copies are
//! counted by a keyed hash of the member; `!stats` answers in the room; `!compléter` lets a
//! federation add a local note to what it received.

use ruma::{RoomId, UserId, events::reaction::OriginalReactionEvent};
use serde_json::{Value, json};

use relais_core::time::format_paris;

use crate::{
    broadcast::Broadcasts,
    messages::stats as text,
    proposal::{is_thumbs_up, stored_excerpt},
    service::{ServiceError, is_moderator, member_key},
};

/// (event id, user, ts) of each public read receipt of an `m.receipt` event.
pub fn read_receipts(content: &Value) -> Vec<(String, String, i64)> {
    let mut out = Vec::new();
    let Some(events) = content.as_object() else { return out };
    for (event_id, kinds) in events {
        let Some(readers) = kinds.get("m.read").and_then(Value::as_object) else { continue };
        for (user, receipt) in readers {
            let ts = receipt.get("ts").and_then(Value::as_i64).unwrap_or(0);
            out.push((event_id.clone(), user.clone(), ts));
        }
    }
    out
}

impl Broadcasts {
    /// An `m.receipt` of a room: every reader reached the copies delivered there before.
    pub async fn on_receipt(&self, raw: &Value) -> Result<(), ServiceError> {
        let Some(room_id) = raw.get("room_id").and_then(Value::as_str) else { return Ok(()) };
        for (_, user, ts) in read_receipts(&raw["content"]) {
            let Ok(user_id) = UserId::parse(&user) else { continue };
            if self.config.is_own_user(&user_id) {
                continue;
            }
            self.store.broadcast_record_read(room_id, &member_key(&self.config, &user), ts).await?;
        }
        Ok(())
    }

    /// An `m.reaction`: counted on a broadcast copy; a moderator's 👍 on a proposal keeps it.
    pub async fn on_reaction(&self, reaction: &OriginalReactionEvent) -> Result<(), ServiceError> {
        let (room_id, sender) = (&reaction.room_id, &reaction.sender);
        let (target, key) =
            (reaction.content.relates_to.event_id.as_str(), reaction.content.relates_to.key.as_str());
        if let Some((broadcast_id, copy_room)) = self.store.broadcast_of_copy(target).await? {
            if copy_room == room_id.as_str() {
                let reactor = member_key(&self.config, sender.as_str());
                self.store.broadcast_record_reaction(broadcast_id, room_id.as_str(), &reactor, key).await?;
            }
            return Ok(());
        }
        let Some(proposal) = self.store.proposal_by_event(target).await? else { return Ok(()) };
        // Only the first 👍 of a moderator is answered; later ones change nothing.
        let open = proposal.kept_by.is_none() && proposal.published_in.is_none();
        if is_thumbs_up(key) && open && self.may_select(room_id, sender).await? {
            let answer = self.keep(room_id, sender, Some(target)).await?;
            let event_id = reaction.event_id.as_str().trim_start_matches('$');
            let notice = json!({"msgtype": "m.notice", "body": answer,
                                "m.relates_to": {"m.in_reply_to": {"event_id": target}}});
            let bot = self.config.bot_user_id();
            self.client
                .send_raw_event(room_id, "m.room.message", &format!("keep.{event_id}"), &notice, &bot)
                .await?;
        }
        Ok(())
    }

    /// `!stats`: the newest broadcasts, everywhere from the national rooms, or this room's copies
    /// elsewhere; for the room's moderators.
    pub async fn stats(&self, room_id: &RoomId, sender: &UserId) -> Result<String, ServiceError> {
        if !is_moderator(&self.client, room_id, sender).await? {
            return Ok(text::refused());
        }
        let national = self.national_room().await?.as_deref() == Some(room_id)
            || self.may_select(room_id, sender).await?;
        let scope = if national { None } else { Some(room_id.as_str()) };
        let all = self.store.broadcast_stats(scope, 5).await?;
        if all.is_empty() {
            return Ok(text::none());
        }
        let lines: Vec<String> = all
            .iter()
            .map(|s| {
                let withdrawn_at = s.withdrawn_at.map(format_paris);
                text::line(
                    &stored_excerpt(s.content.as_ref()),
                    &format_paris(s.send_at),
                    s,
                    withdrawn_at.as_deref(),
                )
            })
            .collect();
        Ok(text::report(&lines))
    }

    /// `!compléter "note"` as a reply to a copy received in this room, by one of its moderators:
    /// the bot posts the federation's note as a reply to the copy (and so to email readers).
    pub async fn complement(
        &self,
        room_id: &RoomId,
        sender: &UserId,
        command_event: &str,
        reply_to: Option<&str>,
        words: &[String],
    ) -> Result<Option<String>, ServiceError> {
        let copy = match reply_to {
            Some(event) => {
                self.store.broadcast_of_copy(event).await?.filter(|(_, room)| room == room_id.as_str())
            }
            None => None,
        };
        let (Some((broadcast_id, _)), Some(target)) = (copy, reply_to) else {
            return Ok(Some(text::note_not_a_copy()));
        };
        if !is_moderator(&self.client, room_id, sender).await? {
            return Ok(Some(text::note_refused()));
        }
        let note = words.join(" ");
        if note.trim().is_empty() {
            return Ok(Some(text::note_usage()));
        }
        self.store.note_create(command_event, broadcast_id, room_id.as_str()).await?;
        let federation = self.directory.federation_of_room(room_id).await?.unwrap_or_default();
        let content = json!({"msgtype": "m.text", "body": text::note(&federation, note.trim()),
                             "m.relates_to": {"m.in_reply_to": {"event_id": target}}});
        let txn = format!("note.{}", command_event.trim_start_matches('$'));
        let bot = self.config.bot_user_id();
        let event_id = self.client.send_raw_event(room_id, "m.room.message", &txn, &content, &bot).await?;
        self.store.note_sent(command_event, &event_id).await?;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_read_receipts_only() {
        let content = json!({
            "$a": {"m.read": {"@lucie:pcf.test": {"ts": 10}, "@marc:pcf.test": {"ts": 12}},
                   "m.read.private": {"@tom:pcf.test": {"ts": 11}}},
            "$b": {"m.fully_read": {}}
        });
        let mut receipts = read_receipts(&content);
        receipts.sort();
        assert_eq!(
            receipts,
            [("$a".into(), "@lucie:pcf.test".into(), 10), ("$a".into(), "@marc:pcf.test".into(), 12)]
        );
    }
}
