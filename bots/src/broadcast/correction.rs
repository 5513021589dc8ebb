//! Broadcasts that can be corrected: an edit of the original in the national room edits every
//! copy (and so the mail digests not sent yet), a redaction of it withdraws every copy. Only the
//! original's author edits it, as clients show; its author or whoever may redact others'
//! messages in that room withdraws it. Each correction is recorded first, then the copies follow
//! (now, and at each tick of the bots' clock until they all have): a crash between the two
//! loses nothing, and a copy's edit or redaction has a transaction id derived from the
//! broadcast, the room and the revision, so a retry never posts twice.

use ruma::{
    EventId, OwnedTransactionId, RoomId, UserId,
    events::room::message::{OriginalRoomMessageEvent, Relation},
};
use serde_json::{Value, json};

use relais_core::text::slug;

use relais_appservice::ClientError;

use super::{BroadcastError, Broadcasts, copy_of};
use crate::{
    links::rewrite_links,
    service::{is_moderator, redirect_base},
    store::corrections::{CopyAction, Correction, DueCorrection},
};

/// Edits a broadcast takes at most (each one is a message in every room it reached).
const MAX_EDITS: i64 = 10;

/// The reason given on every withdrawn copy (members see it in place of the message).
const WITHDRAWN: &str = "Message retiré par l'équipe nationale";

/// The content of an edit turning `copy_event` into `new_copy`: `m.new_content` for clients that
/// show edits, a `* `-prefixed body for those that do not.
pub(crate) fn edit_of(copy_event: &str, new_copy: &Value) -> Value {
    let mut edit = json!({
        "msgtype": new_copy.get("msgtype").cloned().unwrap_or_else(|| json!("m.text")),
        "body": format!("* {}", new_copy.get("body").and_then(Value::as_str).unwrap_or_default()),
        "m.new_content": new_copy,
        "m.relates_to": {"rel_type": "m.replace", "event_id": copy_event},
    });
    if let (Some(format), Some(html)) =
        (new_copy.get("format"), new_copy.get("formatted_body").and_then(Value::as_str))
    {
        edit["format"] = format.clone();
        edit["formatted_body"] = json!(format!("* {html}"));
    }
    edit
}

/// A copy's correction that the homeserver refuses for good (the bot left or lost the room, the
/// copy is gone) is over for that copy: it must not hold up the others at every tick.
fn final_for_this_copy(result: Result<(), ClientError>) -> Result<(), ClientError> {
    match result {
        Err(ClientError::Matrix { status: 403 | 404, .. }) => {
            tracing::warn!("a copy's correction refused by the homeserver: given up for that copy");
            Ok(())
        }
        other => other,
    }
}

/// The event an edit or a redaction of `target` comes from, as the bot reads it.
async fn author_of(
    this: &Broadcasts,
    room_id: &RoomId,
    target: &EventId,
) -> Result<Option<String>, BroadcastError> {
    let original = this.client.room_event(room_id, target.as_str()).await?;
    Ok(original.get("sender").and_then(Value::as_str).map(str::to_owned))
}

impl Broadcasts {
    /// A message replacing another (`m.replace`): when it edits the original of broadcasts and
    /// comes from its author, the broadcasts take its new content and their copies follow.
    pub async fn on_edit(&self, edit: &OriginalRoomMessageEvent) -> Result<(), BroadcastError> {
        let Some(Relation::Replacement(replacement)) = &edit.content.relates_to else { return Ok(()) };
        let (room_id, target) = (&edit.room_id, &replacement.event_id);
        let broadcasts = self.store.broadcasts_of_source(room_id.as_str(), target.as_str()).await?;
        if broadcasts.is_empty() {
            return Ok(());
        }
        if author_of(self, room_id, target).await?.as_deref() != Some(edit.sender.as_str()) {
            // Clients show an edit only from the original's author; neither does the bot.
            tracing::warn!(%room_id, "an edit of a broadcast's original by someone else is ignored");
            return Ok(());
        }
        // A moderator approved the text as it was: only an author who moderates the room now may
        // change what every federation received.
        if !is_moderator(&self.client, room_id, &edit.sender).await? {
            tracing::warn!(%room_id, "an edit of a broadcast's original by a non-moderator is ignored");
            return Ok(());
        }
        let new_content = serde_json::to_value(&replacement.new_content)
            .map_err(|e| relais_appservice::ClientError::Request(e.to_string()))?;
        let redirect = redirect_base(&self.config);
        for broadcast in broadcasts {
            if self.store.broadcast_edits(broadcast.broadcast_id).await? >= MAX_EDITS {
                tracing::warn!(
                    broadcast_id = broadcast.broadcast_id,
                    "a broadcast edited too often: edit ignored"
                );
                continue;
            }
            let mut content = copy_of(&new_content, &broadcast.command_event);
            // Tokens seeded by the edit and the broadcast: a link of the new text never takes the
            // place of an older one's.
            let seed = format!("{}/{}", edit.event_id, broadcast.command_event);
            let links = rewrite_links(&mut content, &redirect, &seed);
            let correction = Correction::Edit { content: &content.to_string(), links: &links };
            self.store.broadcast_correct(edit.event_id.as_str(), broadcast.broadcast_id, &correction).await?;
        }
        self.correct_due().await?;
        Ok(())
    }

    /// A redaction of `target` by `sender`: when it is a broadcast's original and the sender its
    /// author or someone who may redact others' messages in the room, the broadcast is
    /// withdrawn and every copy redacted.
    pub async fn on_redaction(
        &self,
        room_id: &RoomId,
        redaction: &EventId,
        sender: &UserId,
        target: &EventId,
    ) -> Result<(), BroadcastError> {
        let broadcasts = self.store.broadcasts_of_source(room_id.as_str(), target.as_str()).await?;
        if broadcasts.is_empty() {
            return Ok(());
        }
        let author = author_of(self, room_id, target).await?.as_deref() == Some(sender.as_str())
            && is_moderator(&self.client, room_id, sender).await?;
        if !author && !self.client.power_levels(room_id).await?.user_can_redact_event_of_other(sender) {
            // The homeserver keeps such a redaction without applying it; so does the bot.
            tracing::warn!(%room_id, "a redaction of a broadcast's original by someone without the right is ignored");
            return Ok(());
        }
        for broadcast in broadcasts {
            self.store
                .broadcast_correct(redaction.as_str(), broadcast.broadcast_id, &Correction::Withdrawal)
                .await?;
        }
        self.correct_due().await?;
        Ok(())
    }

    /// Brings every copy sent in line with its broadcast (edited to its latest revision, or
    /// redacted); returns how many copies were corrected.
    pub async fn correct_due(&self) -> Result<usize, BroadcastError> {
        let due = self.store.broadcast_corrections_due().await?;
        let count = due.len();
        self.per_room(
            due,
            |c| c.room_id.clone(),
            |this, copies| async move { this.correct_room(copies).await },
        )
        .await?;
        Ok(count)
    }

    async fn correct_room(&self, copies: Vec<DueCorrection>) -> Result<(), BroadcastError> {
        let bot = self.config.bot_user_id();
        for copy in copies {
            let room_id = RoomId::parse(&copy.room_id)
                .map_err(|e| relais_appservice::ClientError::Request(e.to_string()))?;
            let copy_event = EventId::parse(&copy.copy_event)
                .map_err(|e| relais_appservice::ClientError::Request(e.to_string()))?;
            let room = slug(&copy.room_id);
            match &copy.action {
                CopyAction::Revise { revision, content } => {
                    let txn = format!("bcast-edit.{}.{revision}.{room}", copy.broadcast_id);
                    let edit = edit_of(copy_event.as_str(), content);
                    let sent =
                        self.client.send_raw_event(&room_id, "m.room.message", &txn, &edit, &bot).await;
                    final_for_this_copy(sent.map(drop))?;
                    self.store.broadcast_copy_revised(copy.broadcast_id, &copy.room_id, *revision).await?;
                }
                CopyAction::Withdraw => {
                    let txn =
                        OwnedTransactionId::from(format!("bcast-withdraw.{}.{room}", copy.broadcast_id));
                    final_for_this_copy(
                        self.client.redact(&room_id, &copy_event, &txn, Some(WITHDRAWN)).await.map(drop),
                    )?;
                    self.store.broadcast_copy_withdrawn(copy.broadcast_id, &copy.room_id).await?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_replaces_the_copy_and_falls_back_to_a_starred_body() {
        let new = json!({"msgtype": "m.text", "body": "Marche à 15h", "format": "org.matrix.custom.html",
                         "formatted_body": "Marche à <b>15h</b>", "fr.pcf.relais.broadcast": "$cmd"});
        assert_eq!(
            edit_of("$copy", &new),
            json!({"msgtype": "m.text", "body": "* Marche à 15h", "format": "org.matrix.custom.html",
                   "formatted_body": "* Marche à <b>15h</b>", "m.new_content": new,
                   "m.relates_to": {"rel_type": "m.replace", "event_id": "$copy"}})
        );
        let plain = json!({"msgtype": "m.notice", "body": "Oui"});
        assert_eq!(edit_of("$c", &plain)["body"], "* Oui");
        assert_eq!(edit_of("$c", &plain)["msgtype"], "m.notice");
        assert!(edit_of("$c", &plain).get("formatted_body").is_none());
    }
}
