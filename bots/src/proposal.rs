//! Content flowing up: `!proposer`, typed by a federation moderator as a reply to a message in
//! one of the federation's rooms, copies it into the national selection room; the national team
//! keeps it with `!retenir` (or a 👍 reaction); `!sélection publier` sends every kept proposal
//! to all federations' announcements rooms (and so into their email digests), crediting each
//! federation, through the broadcast machinery (delivered once, counted in `!stats`).

use ruma::{OwnedRoomId, RoomId, UserId};
use serde_json::{Value, json};

use relais_core::time::{format_paris, now_ms};

use crate::{
    broadcast::{Broadcasts, copy_of, parse_when},
    command::split_options,
    links::rewrite_links,
    messages::proposal as text,
    service::{ServiceError, configured_room, is_moderator, redirect_base},
    store::{
        broadcasts::{BroadcastOrigin, NewBroadcast},
        proposals::{NewProposal, Proposal},
    },
};

/// Reactions that keep a proposal (👍 with or without a variation selector or skin tone).
pub fn is_thumbs_up(key: &str) -> bool {
    key.starts_with('\u{1F44D}')
}

/// A kept item as it is published: the original message, crediting its federation.
pub fn credited(content: &Value, federation: &str, marker: &str) -> Value {
    let mut item = copy_of(content, marker);
    let credit = text::credit(federation);
    let Some(obj) = item.as_object_mut() else { return item };
    let msgtype = obj.get("msgtype").and_then(Value::as_str).unwrap_or_default().to_owned();
    let body = obj.get("body").and_then(Value::as_str).unwrap_or_default().to_owned();
    if matches!(msgtype.as_str(), "m.image" | "m.video" | "m.file" | "m.audio") {
        // The body of a media message is its caption when a file name is given apart.
        if !obj.contains_key("filename") {
            obj.insert("filename".into(), Value::String(body.clone()));
            obj.insert("body".into(), Value::String(credit));
        } else {
            obj.insert("body".into(), Value::String(format!("{body}\n{credit}")));
        }
        return item;
    }
    obj.insert("body".into(), Value::String(format!("{body}\n\n{credit}")));
    if let Some(Value::String(html)) = obj.get("formatted_body") {
        let html = format!("{html}<p><em>{}</em></p>", escape(&credit));
        obj.insert("formatted_body".into(), Value::String(html));
    }
    item
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A short excerpt of a message for lists and statistics.
pub fn excerpt(content: &Value) -> String {
    let body = content.get("filename").or(content.get("body")).and_then(Value::as_str).unwrap_or("");
    let line = body.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    if line.chars().count() > 60 {
        format!("{}…", line.chars().take(59).collect::<String>())
    } else {
        line.to_owned()
    }
}

/// [`excerpt`] of a stored content, or what to show when it is unreadable.
pub fn stored_excerpt(content: Option<&Value>) -> String {
    content.map_or_else(|| "(contenu illisible)".to_owned(), excerpt)
}

impl Broadcasts {
    pub(crate) async fn selection_room(&self) -> Result<Option<OwnedRoomId>, ServiceError> {
        Ok(configured_room(&self.client, self.config.bots.selection_room.as_deref()).await?)
    }

    /// Whether `sender` may keep and publish from `room_id` (a moderator of the selection room).
    pub async fn may_select(&self, room_id: &RoomId, sender: &UserId) -> Result<bool, ServiceError> {
        Ok(self.selection_room().await?.as_deref() == Some(room_id)
            && is_moderator(&self.client, room_id, sender).await?)
    }

    /// `!proposer`, as a reply to `reply_to` in a federation room.
    pub async fn propose(
        &self,
        room_id: &RoomId,
        sender: &UserId,
        command_event: &str,
        reply_to: Option<&str>,
    ) -> Result<String, ServiceError> {
        let Some(selection) = self.selection_room().await? else { return Ok(text::disabled()) };
        let Some(federation) = self.directory.federation_of_room(room_id).await? else {
            return Ok(text::not_a_federation_room());
        };
        if !is_moderator(&self.client, room_id, sender).await? {
            return Ok(text::propose_refused());
        }
        let Some(source) = reply_to else { return Ok(text::not_a_reply()) };
        let original = self.client.room_event(room_id, source).await?;
        if original["type"] == "m.room.encrypted" {
            return Ok(crate::messages::unreadable_original());
        }
        let proposal = self
            .store
            .proposal_create(&NewProposal {
                command_event: command_event.to_owned(),
                federation: federation.clone(),
                source_room: room_id.to_string(),
                source_event: source.to_owned(),
                proposer: sender.to_string(),
                content: original["content"].to_string(),
            })
            .await?;
        self.show_in_selection(&selection, &proposal, sender).await?;
        Ok(text::proposed())
    }

    /// Posts the proposal's copy and the bot's notice in the selection room (idempotent: the
    /// transaction ids derive from the proposal).
    async fn show_in_selection(
        &self,
        selection: &RoomId,
        proposal: &Proposal,
        proposer: &UserId,
    ) -> Result<(), ServiceError> {
        let bot = self.config.bot_user_id();
        let mut copy = copy_of(&proposal.content, "");
        if let Some(obj) = copy.as_object_mut() {
            obj.remove("fr.pcf.relais.broadcast");
            obj.insert("fr.pcf.relais.proposal".into(), json!(proposal.proposal_id));
        }
        let id = proposal.proposal_id;
        let copy_event = self
            .client
            .send_raw_event(selection, "m.room.message", &format!("prop.{id}.copy"), &copy, &bot)
            .await?;
        let notice = json!({
            "msgtype": "m.notice",
            "body": text::shown(&proposal.federation, proposer.as_str()),
            "m.relates_to": {"m.in_reply_to": {"event_id": copy_event}},
        });
        let notice_event = self
            .client
            .send_raw_event(selection, "m.room.message", &format!("prop.{id}.notice"), &notice, &bot)
            .await?;
        self.store.proposal_shown(id, &copy_event, &notice_event).await?;
        Ok(())
    }

    /// `!retenir` as a reply to a proposal (`target`), or a moderator's 👍 on it.
    pub async fn keep(
        &self,
        room_id: &RoomId,
        sender: &UserId,
        target: Option<&str>,
    ) -> Result<String, ServiceError> {
        if self.selection_room().await?.as_deref() != Some(room_id) {
            return Ok(text::keep_wrong_room());
        }
        if !is_moderator(&self.client, room_id, sender).await? {
            return Ok(text::keep_refused());
        }
        let proposal = match target {
            Some(event) => self.store.proposal_by_event(event).await?,
            None => None,
        };
        let Some(proposal) = proposal else { return Ok(text::keep_not_a_proposal()) };
        if proposal.published_in.is_some() {
            return Ok(text::already_published());
        }
        if !self.store.proposal_keep(proposal.proposal_id, sender.as_str()).await? {
            return Ok(text::already_kept());
        }
        let waiting = self.store.proposals_to_publish().await?.len();
        Ok(text::kept(&proposal.federation, waiting))
    }

    /// `!sélection` (what is waiting) and `!sélection publier [--à "18:30"]`.
    pub async fn selection(
        &self,
        room_id: &RoomId,
        sender: &UserId,
        command_event: &str,
        words: &[String],
    ) -> Result<String, ServiceError> {
        if !self.may_select(room_id, sender).await? {
            return Ok(text::selection_refused());
        }
        let waiting = self.store.proposals_to_publish().await?;
        let publish = words.first().map(|w| w.to_lowercase());
        if !matches!(publish.as_deref(), Some("publier" | "publish")) {
            let items: Vec<(String, String)> =
                waiting.iter().map(|p| (p.federation.clone(), excerpt(&p.content))).collect();
            return Ok(text::waiting(&items));
        }
        if waiting.is_empty() {
            return Ok(text::nothing_to_publish());
        }
        let Ok(options) = split_options(&words[1..], &[]) else { return Ok(text::selection_usage()) };
        if let Some(name) = options.unknown(&["à", "a", "at"]) {
            return Ok(format!("{}\n{}", crate::messages::unknown_option(name), text::selection_usage()));
        }
        let now = now_ms();
        let send_at = match options.value("à").or(options.value("a")).or(options.value("at")) {
            Some(when) => match parse_when(when, now) {
                Some(at) => at,
                None => return Ok(crate::messages::broadcast::bad_time()),
            },
            None => now,
        };
        let targets = self.all_targets().await?;
        self.publish(room_id, sender, command_event, &waiting, &targets, send_at).await?;
        if send_at <= now {
            self.deliver_due(now).await?;
            return Ok(text::published(waiting.len(), targets.len()));
        }
        Ok(text::publish_scheduled(waiting.len(), targets.len(), &format_paris(send_at)))
    }

    /// Records the selection as broadcasts: a heading, then each item with its credit.
    async fn publish(
        &self,
        room_id: &RoomId,
        sender: &UserId,
        command_event: &str,
        items: &[Proposal],
        targets: &[(String, String)],
        send_at: i64,
    ) -> Result<(), ServiceError> {
        let heading = format!("{command_event}#0");
        let mut contents = vec![(
            heading.clone(),
            copy_of(&json!({"msgtype": "m.text", "body": text::heading(items.len())}), &heading),
        )];
        for p in items {
            let marker = format!("{command_event}#{}", p.proposal_id);
            contents.push((marker.clone(), credited(&p.content, &p.federation, &marker)));
        }
        let redirect = redirect_base(&self.config);
        for (marker, mut content) in contents {
            let links = rewrite_links(&mut content, &redirect, &marker);
            self.store
                .broadcast_create(&NewBroadcast {
                    origin: BroadcastOrigin::Selection,
                    command_event: marker,
                    source_room: room_id.to_string(),
                    source_event: command_event.to_owned(),
                    sender: sender.to_string(),
                    content: content.to_string(),
                    send_at,
                    targets: targets.to_vec(),
                    links,
                })
                .await?;
        }
        let ids: Vec<i64> = items.iter().map(|p| p.proposal_id).collect();
        self.store.proposals_published(&ids, command_event).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_items_are_credited_after_their_text() {
        let content = json!({"msgtype": "m.text", "body": "Fête de la section", "formatted_body": "<b>Fête</b>",
                             "format": "org.matrix.custom.html", "m.relates_to": {"m.in_reply_to": {}}});
        let item = credited(&content, "Nord", "$pub#3");
        assert_eq!(item["body"], "Fête de la section\n\n— Proposé par la fédération Nord");
        assert_eq!(item["formatted_body"], "<b>Fête</b><p><em>— Proposé par la fédération Nord</em></p>");
        assert_eq!(item["fr.pcf.relais.broadcast"], "$pub#3");
        assert!(item.get("m.relates_to").is_none());
    }

    #[test]
    fn media_items_are_credited_in_their_caption() {
        let image = json!({"msgtype": "m.image", "body": "affiche.png", "url": "mxc://pcf.test/a"});
        let item = credited(&image, "Paris", "$p#1");
        assert_eq!(item["filename"], "affiche.png");
        assert_eq!(item["body"], "— Proposé par la fédération Paris");
        assert_eq!(item["url"], "mxc://pcf.test/a");
        let captioned = json!({"msgtype": "m.image", "body": "Notre stand", "filename": "stand.jpg"});
        assert_eq!(
            credited(&captioned, "Paris", "$p#2")["body"],
            "Notre stand\n— Proposé par la fédération Paris"
        );
    }

    #[test]
    fn thumbs_up_in_every_skin_tone_and_excerpts() {
        assert!(is_thumbs_up("👍"));
        assert!(is_thumbs_up("👍️"));
        assert!(is_thumbs_up("👍🏽"));
        assert!(!is_thumbs_up("❤️"));
        assert_eq!(excerpt(&json!({"body": "\nPremière ligne\nSeconde"})), "Première ligne");
        assert_eq!(excerpt(&json!({"body": "x".repeat(80)})).chars().count(), 60);
    }
}
