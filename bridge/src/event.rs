//! What the bridge reads from a room event. Pure: JSON in, meaning out.

use ruma::{
    MxcUri, OwnedEventId, OwnedRoomId, OwnedUserId, UserId, events::room::power_levels::RoomPowerLevels,
};
use serde_json::Value;

use crate::store::MailMessage;

/// A room event, as far as mail is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// `!courriel …` / `!email …`: its arguments.
    Command { room_id: OwnedRoomId, event_id: OwnedEventId, sender: OwnedUserId, args: Vec<String> },
    /// A message to mirror (sender name and author member are filled in later).
    Message(Box<MailMessage>),
    /// An edit of `target` by `sender` in `room_id`: its new text (applied only when `sender`
    /// wrote `target` in that room).
    Edit { room_id: String, sender: String, target: String, body: String },
    /// A redaction of `target` by `sender` in `room_id` (applied only when the sender wrote it or
    /// may redact others' messages there).
    Redaction { room_id: String, sender: String, target: String },
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = value;
    for key in path {
        v = v.get(*key)?;
    }
    v.as_str()
}

/// Whether the event answers another (`m.in_reply_to`).
pub fn is_reply(raw: &Value) -> bool {
    str_at(raw, &["content", "m.relates_to", "m.in_reply_to", "event_id"]).is_some()
}

/// Whether `redacter` may withdraw a message `author` wrote: their own, or anyone's when the
/// room's power levels (read by its version's rules) let them redact others' events. `None`:
/// the levels are not known, and nobody has power over others' messages.
pub fn may_redact(author: &str, redacter: &UserId, power_levels: Option<&RoomPowerLevels>) -> bool {
    if !author.is_empty() && author == redacter.as_str() {
        return true;
    }
    power_levels.is_some_and(|levels| levels.user_can_redact_event_of_other(redacter))
}

/// The text of a reply without the quoted fallback some clients still prepend (`> <@a:b> …`).
fn without_reply_fallback(body: &str, is_reply: bool) -> String {
    if !is_reply {
        return body.to_owned();
    }
    let mut lines = body.lines().peekable();
    if lines.peek().is_some_and(|l| l.starts_with("> <")) {
        while lines.peek().is_some_and(|l| l.starts_with('>')) {
            lines.next();
        }
        while lines.peek().is_some_and(|l| l.trim().is_empty()) {
            lines.next();
        }
    }
    lines.collect::<Vec<_>>().join("\n")
}

/// The arguments of a `!courriel` command, or `None` for anything else.
fn command_args(body: &str) -> Option<Vec<String>> {
    let mut words = body.split_whitespace();
    let first = words.next()?.to_lowercase();
    matches!(first.as_str(), "!courriel" | "!email").then(|| words.map(str::to_owned).collect())
}

fn poll_text(content: &Value) -> Option<String> {
    let poll = content.get("m.poll").or_else(|| content.get("org.matrix.msc3381.poll.start"))?;
    let question = poll
        .get("question")
        .and_then(|q| {
            q.get("m.text")
                .and_then(|t| t.as_array().and_then(|a| a.first()).and_then(|x| x.get("body")))
                .or_else(|| q.get("org.matrix.msc1767.text"))
                .or_else(|| q.get("body"))
        })
        .and_then(Value::as_str)?;
    let mut text = question.to_owned();
    for answer in poll.get("answers").and_then(Value::as_array).into_iter().flatten() {
        let label = answer
            .get("m.text")
            .and_then(|t| t.as_array().and_then(|a| a.first()).and_then(|x| x.get("body")))
            .or_else(|| answer.get("org.matrix.msc1767.text"))
            .and_then(Value::as_str);
        if let Some(label) = label {
            text.push_str(&format!("\n  • {label}"));
        }
    }
    Some(text)
}

fn msgtype_kind(msgtype: &str) -> Option<&'static str> {
    Some(match msgtype {
        "m.text" => "text",
        "m.notice" => "notice",
        "m.emote" => "emote",
        "m.image" => "image",
        "m.video" => "video",
        "m.audio" => "audio",
        "m.file" => "file",
        _ => return None,
    })
}

/// A poll's end carries its results as text: email readers get them like everyone.
fn poll_end_text(content: &Value) -> Option<String> {
    let text = str_at(content, &["org.matrix.msc1767.text"]).or_else(|| str_at(content, &["body"])).or_else(
        || content.get("m.text").and_then(|t| t.get(0)).and_then(|t| t.get("body")).and_then(Value::as_str),
    )?;
    Some(text.to_owned())
}

/// The media of an image or file, only when its `url` is a valid `mxc://server/id`: anything else
/// (a path, a query, another scheme) is dropped here, so it is never stored nor fetched.
fn media_uri(content: &Value) -> Option<String> {
    let mxc = <&MxcUri>::from(str_at(content, &["url"])?);
    mxc.parts().is_ok_and(|(_, media_id)| !media_id.is_empty()).then(|| mxc.to_string())
}

/// Reads one timeline event.
pub fn parse(raw: &Value) -> Option<Parsed> {
    let kind = raw.get("type")?.as_str()?;
    let room_id = str_at(raw, &["room_id"])?;
    let event_id = str_at(raw, &["event_id"])?;
    let content = raw.get("content")?;
    let sender = str_at(raw, &["sender"])?;
    if kind == "m.room.redaction" {
        let target = str_at(raw, &["redacts"]).or_else(|| str_at(content, &["redacts"]))?;
        return Some(Parsed::Redaction {
            room_id: room_id.to_owned(),
            sender: sender.to_owned(),
            target: target.to_owned(),
        });
    }
    if str_at(content, &["fr.pcf.relais.kind"]) == Some("welcome") {
        // One member's welcome is not news for the list.
        return None;
    }
    let relation = content.get("m.relates_to");
    let rel_type = relation.and_then(|r| r.get("rel_type")).and_then(Value::as_str);
    let (msg_kind, body) = match kind {
        "m.room.message" => {
            let msgtype = content.get("msgtype")?.as_str()?;
            let body = content.get("body")?.as_str()?;
            if rel_type == Some("m.replace") {
                let target = relation?.get("event_id")?.as_str()?;
                let new_body = str_at(content, &["m.new_content", "body"]).unwrap_or(body);
                return Some(Parsed::Edit {
                    room_id: room_id.to_owned(),
                    sender: sender.to_owned(),
                    target: target.to_owned(),
                    body: new_body.to_owned(),
                });
            }
            (msgtype_kind(msgtype)?, body.to_owned())
        }
        "m.poll.start" | "org.matrix.msc3381.poll.start" => ("poll", poll_text(content)?),
        // A poll's end carries its results as text: email readers get them like everyone.
        "m.poll.end" | "org.matrix.msc3381.poll.end" => ("notice", poll_end_text(content)?),
        _ => return None,
    };
    if let Some(args) = command_args(&body) {
        return Some(Parsed::Command {
            room_id: OwnedRoomId::try_from(room_id).ok()?,
            event_id: OwnedEventId::try_from(event_id).ok()?,
            sender: OwnedUserId::try_from(sender).ok()?,
            args,
        });
    }
    if body.trim_start().starts_with('!') {
        // Commands to the bots are for the room only.
        return None;
    }
    let reply_to = str_at(raw, &["content", "m.relates_to", "m.in_reply_to", "event_id"]).map(str::to_owned);
    let thread_root = (rel_type == Some("m.thread"))
        .then(|| relation.and_then(|r| r.get("event_id")).and_then(Value::as_str).map(str::to_owned))
        .flatten();
    // In a thread, the in-reply-to of a plain thread message is a fallback to the last one.
    let falling_back = relation.and_then(|r| r.get("is_falling_back")).and_then(Value::as_bool) == Some(true);
    let reply_to = if falling_back { None } else { reply_to };
    let media_url = media_uri(content);
    let media_type = str_at(content, &["info", "mimetype"]).map(str::to_owned);
    let media_size = content.get("info").and_then(|i| i.get("size")).and_then(Value::as_i64);
    Some(Parsed::Message(Box::new(MailMessage {
        media_url,
        media_type,
        media_size,
        event_id: event_id.to_owned(),
        room_id: room_id.to_owned(),
        sender: sender.to_owned(),
        kind: msg_kind.to_owned(),
        body: without_reply_fallback(&body, reply_to.is_some()),
        reply_to,
        thread_root,
        origin_ts: raw.get("origin_server_ts")?.as_i64()?,
        ..MailMessage::default()
    })))
}

#[cfg(test)]
mod tests {
    use ruma::{
        RoomVersionId,
        events::room::power_levels::{RoomPowerLevelsEventContent, RoomPowerLevelsSource},
    };
    use serde_json::json;

    use super::*;

    fn event(content: Value) -> Value {
        json!({"type": "m.room.message", "room_id": "!r:pcf.test", "event_id": "$e", "sender": "@a:pcf.test",
               "origin_server_ts": 5, "content": content})
    }

    #[test]
    fn reads_messages_replies_threads_edits_and_redactions() {
        let Some(Parsed::Message(m)) = parse(&event(json!({"msgtype": "m.text", "body": "Bonjour"}))) else {
            panic!("message")
        };
        assert_eq!((m.kind.as_str(), m.body.as_str(), m.origin_ts), ("text", "Bonjour", 5));

        let reply = event(json!({"msgtype": "m.text", "body": "> <@b:pcf.test> Avant\n\nAprès",
            "m.relates_to": {"m.in_reply_to": {"event_id": "$p"}}}));
        let Some(Parsed::Message(m)) = parse(&reply) else { panic!("reply") };
        assert_eq!((m.body.as_str(), m.reply_to.as_deref()), ("Après", Some("$p")));

        let thread = event(json!({"msgtype": "m.text", "body": "Dans le fil", "m.relates_to": {
            "rel_type": "m.thread", "event_id": "$root", "is_falling_back": true,
            "m.in_reply_to": {"event_id": "$last"}}}));
        let Some(Parsed::Message(m)) = parse(&thread) else { panic!("thread") };
        assert_eq!((m.thread_root.as_deref(), m.reply_to), (Some("$root"), None));

        let edit =
            event(json!({"msgtype": "m.text", "body": "* corrigé", "m.new_content": {"body": "corrigé"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$old"}}));
        let (room_id, sender) = (String::from("!r:pcf.test"), String::from("@a:pcf.test"));
        assert_eq!(
            parse(&edit),
            Some(Parsed::Edit {
                room_id: room_id.clone(),
                sender: sender.clone(),
                target: "$old".into(),
                body: "corrigé".into()
            })
        );

        let redaction = json!({"type": "m.room.redaction", "room_id": "!r:pcf.test", "event_id": "$x",
            "sender": "@a:pcf.test", "redacts": "$old", "content": {}});
        assert_eq!(parse(&redaction), Some(Parsed::Redaction { room_id, sender, target: "$old".into() }));
    }

    /// The power levels `content` of a room of `version` created by `creator`.
    fn levels(content: Value, version: RoomVersionId, creator: &str) -> RoomPowerLevels {
        let content: RoomPowerLevelsEventContent = serde_json::from_value(content).expect("power levels");
        let rules = version.rules().expect("a known version").authorization;
        let creators = [UserId::parse(creator).expect("user id")];
        RoomPowerLevels::new(RoomPowerLevelsSource::Original(content), &rules, creators)
    }

    #[test]
    fn only_the_author_or_a_moderator_redacts() {
        let v10 = |content| levels(content, RoomVersionId::V10, "@bot:pcf.test");
        let user = |id: &str| UserId::parse(id).expect("user id");
        let (a, b, moderator, low) =
            (user("@a:pcf.test"), user("@b:pcf.test"), user("@mod:pcf.test"), user("@low:pcf.test"));
        let set = v10(json!({"users": {"@mod:pcf.test": 50, "@low:pcf.test": 10}, "users_default": 0}));
        assert!(may_redact("@a:pcf.test", &a, None), "one's own message");
        assert!(may_redact("@a:pcf.test", &moderator, Some(&set)), "a moderator");
        assert!(!may_redact("@a:pcf.test", &low, Some(&set)), "below the redact level");
        assert!(!may_redact("@a:pcf.test", &b, Some(&set)), "another member");
        assert!(!may_redact("@a:pcf.test", &b, None), "no power levels: nobody else");
        assert!(!may_redact("", &a, Some(&set)), "a message of unknown sender is not anyone's own");
        let strict = v10(json!({"users": {"@mod:pcf.test": 50}, "redact": 75}));
        assert!(!may_redact("@a:pcf.test", &moderator, Some(&strict)), "the room's redact level");
        let strings = v10(json!({"users": {"@mod:pcf.test": "50"}, "redact": "50"}));
        assert!(may_redact("@a:pcf.test", &moderator, Some(&strings)), "levels written as strings");
        let open = v10(json!({"users_default": 50}));
        assert!(may_redact("@a:pcf.test", &b, Some(&open)), "everyone may in this room");
        // From room version 12, the creator is above every level without being listed; before,
        // a creator is only what `users` says.
        let v12 = levels(json!({"users": {}}), RoomVersionId::V12, "@b:pcf.test");
        assert!(may_redact("@a:pcf.test", &b, Some(&v12)), "the creator of a version 12 room");
        let v10_creator = levels(json!({"users": {}}), RoomVersionId::V10, "@b:pcf.test");
        assert!(!may_redact("@a:pcf.test", &b, Some(&v10_creator)), "no privilege before version 12");
    }

    #[test]
    fn media_urls_are_kept_only_when_valid() {
        let image = |url: &str| event(json!({"msgtype": "m.image", "body": "affiche.png", "url": url}));
        let Some(Parsed::Message(m)) = parse(&image("mxc://pcf.test/AbC-12_x")) else { panic!("image") };
        assert_eq!(m.media_url.as_deref(), Some("mxc://pcf.test/AbC-12_x"));
        for crafted in [
            "mxc://a/../../../../_matrix/client/v3/rooms/!x:pcf.test/messages?dir=b",
            "mxc://pcf.test/abc/../../x",
            "mxc://pcf.test/abc?x=1",
            "mxc://pcf.test/",
            "https://pcf.test/abc",
        ] {
            let Some(Parsed::Message(m)) = parse(&image(crafted)) else { panic!("{crafted}") };
            assert_eq!((m.media_url, m.body.as_str()), (None, "affiche.png"), "{crafted}: text only");
        }
    }

    #[test]
    fn commands_are_parsed_or_skipped() {
        let Some(Parsed::Command { args, .. }) =
            parse(&event(json!({"msgtype": "m.text", "body": "!courriel abonner quotidien"})))
        else {
            panic!("command")
        };
        assert_eq!(args, ["abonner", "quotidien"]);
        assert_eq!(parse(&event(json!({"msgtype": "m.text", "body": "!sondage \"Q ?\""}))), None);
        let welcome = json!({"msgtype": "m.notice", "body": "Bienvenue", "fr.pcf.relais.kind": "welcome"});
        assert_eq!(parse(&event(welcome)), None, "welcomes are not mailed");
    }

    #[test]
    fn reads_polls() {
        let poll = json!({"type": "org.matrix.msc3381.poll.start", "room_id": "!r:pcf.test", "event_id": "$p",
            "sender": "@a:pcf.test", "origin_server_ts": 1, "content": {"org.matrix.msc3381.poll.start": {
            "question": {"org.matrix.msc1767.text": "Quelle date ?"},
            "answers": [{"id": "a", "org.matrix.msc1767.text": "Le 12"}, {"id": "b", "org.matrix.msc1767.text": "Le 19"}]}}});
        let Some(Parsed::Message(m)) = parse(&poll) else { panic!("poll") };
        assert_eq!(m.kind, "poll");
        assert_eq!(m.body, "Quelle date ?\n  • Le 12\n  • Le 19");
        let end = json!({"type": "org.matrix.msc3381.poll.end", "room_id": "!r:pcf.test", "event_id": "$end",
            "sender": "@relais:pcf.test", "origin_server_ts": 2, "content": {
            "m.relates_to": {"rel_type": "m.reference", "event_id": "$p"}, "org.matrix.msc3381.poll.end": {},
            "org.matrix.msc1767.text": "Résultats — Quelle date ?"}});
        let Some(Parsed::Message(m)) = parse(&end) else { panic!("poll end") };
        assert_eq!((m.kind.as_str(), m.body.as_str()), ("notice", "Résultats — Quelle date ?"));
    }
}
