//! What the bridge reads from a room event. Pure: JSON in, meaning out.

use ruma::{OwnedEventId, OwnedRoomId, OwnedUserId};
use serde_json::Value;

use relais_core::store::mail::MailMessage;

/// A room event, as far as mail is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// `!courriel …` / `!email …`: its arguments.
    Command {
        room_id: OwnedRoomId,
        event_id: OwnedEventId,
        sender: OwnedUserId,
        args: Vec<String>,
    },
    /// A message to mirror (sender name and author member are filled in later).
    Message(Box<MailMessage>),
    /// An edit of `target`: its new text.
    Edit {
        target: String,
        body: String,
    },
    Redaction {
        target: String,
    },
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

/// Reads one timeline event.
pub fn parse(raw: &Value) -> Option<Parsed> {
    let kind = raw.get("type")?.as_str()?;
    let room_id = str_at(raw, &["room_id"])?;
    let event_id = str_at(raw, &["event_id"])?;
    let content = raw.get("content")?;
    if kind == "m.room.redaction" {
        let target = str_at(raw, &["redacts"]).or_else(|| str_at(content, &["redacts"]))?;
        return Some(Parsed::Redaction { target: target.to_owned() });
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
                return Some(Parsed::Edit { target: target.to_owned(), body: new_body.to_owned() });
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
            sender: OwnedUserId::try_from(str_at(raw, &["sender"])?).ok()?,
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
    let media_url = str_at(content, &["url"]).filter(|u| u.starts_with("mxc://")).map(str::to_owned);
    let media_type = str_at(content, &["info", "mimetype"]).map(str::to_owned);
    let media_size = content.get("info").and_then(|i| i.get("size")).and_then(Value::as_i64);
    Some(Parsed::Message(Box::new(MailMessage {
        media_url,
        media_type,
        media_size,
        event_id: event_id.to_owned(),
        room_id: room_id.to_owned(),
        kind: msg_kind.to_owned(),
        body: without_reply_fallback(&body, reply_to.is_some()),
        reply_to,
        thread_root,
        origin_ts: raw.get("origin_server_ts").and_then(Value::as_i64).unwrap_or_default(),
        ..MailMessage::default()
    })))
}

#[cfg(test)]
mod tests {
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
        assert_eq!(parse(&edit), Some(Parsed::Edit { target: "$old".into(), body: "corrigé".into() }));

        let redaction = json!({"type": "m.room.redaction", "room_id": "!r:pcf.test", "event_id": "$x",
            "sender": "@a:pcf.test", "redacts": "$old", "content": {}});
        assert_eq!(parse(&redaction), Some(Parsed::Redaction { target: "$old".into() }));
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
