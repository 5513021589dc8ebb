//! Decrypted events as intake journal rows (pure).

use serde_json::Value;
use sha2::{Digest, Sha256};

use relais_appservice::queue::{DECRYPTED_PREFIX, IncomingEvent};

/// The encrypted event types Relais handles: messages (commands), reactions and poll answers.
/// The plaintext of an encrypted event chooses its own type: a receipt, a membership or any
/// state event written there is a forgery (those are never encrypted) and is left out.
const HANDLED_TYPES: &[&str] =
    &["m.room.message", "m.reaction", "m.poll.response", "org.matrix.msc3381.poll.response"];

/// Margin for clocks: an event stamped this much before the device's login is still taken.
const CLOCK_SKEW_MS: i64 = 60_000;

/// The journal row of a decrypted event of `room_id`, or `None` for what the bot never handles:
/// its own events, events older than the device (`not_before_ms`, its login: a backlog is not
/// answered), anything without an id, a sender or a type, and any type but [`HANDLED_TYPES`]
/// or with a state key.
///
/// The body is the decrypted event (type, content and relations as the sender wrote them, the
/// real event id) with its room: the handlers read it exactly like a clear event. The row's own
/// id is distinct from the event's, which the appservice journals too, still encrypted.
pub(crate) fn decrypted_row(
    room_id: &str,
    event: &Value,
    bot: &str,
    not_before_ms: i64,
) -> Option<IncomingEvent> {
    let event_id = event.get("event_id")?.as_str()?;
    let sender = event.get("sender")?.as_str()?;
    let event_type = event.get("type")?.as_str()?;
    let sent_at = event.get("origin_server_ts").and_then(Value::as_i64).unwrap_or(i64::MAX);
    if sender == bot || !event_id.starts_with('$') || sent_at < not_before_ms - CLOCK_SKEW_MS {
        return None;
    }
    if !HANDLED_TYPES.contains(&event_type) || event.get("state_key").is_some() {
        return None;
    }
    let mut body = event.clone();
    body["room_id"] = Value::String(room_id.to_owned());
    Some(IncomingEvent {
        event_id: format!("{DECRYPTED_PREFIX}{}", &event_id[1..]),
        room_id: room_id.to_owned(),
        sender: sender.to_owned(),
        event_type: event_type.to_owned(),
        body: body.to_string(),
    })
}

/// The intake transaction id of a batch of rows: derived from their ids, so a batch read again
/// after a crash is recognised, and one with more events is journaled (its known rows skipped).
pub(crate) fn batch_id(rows: &[IncomingEvent]) -> String {
    let mut digest = Sha256::new();
    for row in rows {
        digest.update(row.event_id.as_bytes());
        digest.update(b"\n");
    }
    let hash = digest.finalize();
    format!("e2ee.{}", hash.iter().take(16).map(|b| format!("{b:02x}")).collect::<String>())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_decrypted_message_becomes_a_row_of_its_own_with_its_real_id_in_the_body() {
        let event = json!({
            "type": "m.room.message", "event_id": "$abc", "sender": "@marc:pcf.test",
            "origin_server_ts": 5, "content": {"msgtype": "m.text", "body": "!aide"},
        });
        let row = decrypted_row("!r:pcf.test", &event, "@relais:pcf.test", 0).expect("row");
        assert_eq!(row.event_id, "$decrypted.abc");
        assert!(relais_appservice::queue::is_decrypted_row(&row.event_id));
        assert_eq!((row.room_id.as_str(), row.event_type.as_str()), ("!r:pcf.test", "m.room.message"));
        let body: Value = serde_json::from_str(&row.body).expect("json");
        assert_eq!(body["event_id"], "$abc");
        assert_eq!(body["room_id"], "!r:pcf.test");
        assert_eq!(body["content"]["body"], "!aide");
    }

    #[test]
    fn the_bots_own_events_and_broken_ones_are_left_out() {
        let own =
            json!({"type": "m.room.message", "event_id": "$a", "sender": "@relais:pcf.test", "content": {}});
        assert!(decrypted_row("!r:pcf.test", &own, "@relais:pcf.test", 0).is_none());
        let no_id = json!({"type": "m.room.message", "sender": "@marc:pcf.test", "content": {}});
        assert!(decrypted_row("!r:pcf.test", &no_id, "@relais:pcf.test", 0).is_none());
        let old = json!({"type": "m.room.message", "event_id": "$o", "sender": "@marc:pcf.test",
                         "origin_server_ts": 1_000, "content": {}});
        assert!(
            decrypted_row("!r:pcf.test", &old, "@relais:pcf.test", 1_000_000).is_none(),
            "before the device"
        );
        assert!(decrypted_row("!r:pcf.test", &old, "@relais:pcf.test", 30_000).is_some(), "clock skew");
    }

    #[test]
    fn what_is_never_encrypted_is_a_forgery_and_left_out() {
        let forged = |event_type: &str, state_key: Option<&str>| {
            let mut event = json!({"type": event_type, "event_id": "$f", "sender": "@marc:pcf.test",
                                   "origin_server_ts": 5, "content": {"membership": "join"}});
            if let Some(key) = state_key {
                event["state_key"] = json!(key);
            }
            decrypted_row("!r:pcf.test", &event, "@relais:pcf.test", 0)
        };
        assert!(forged("m.receipt", None).is_none(), "fake readers in the statistics");
        assert!(forged("m.room.member", Some("@marc:pcf.test")).is_none(), "a fake join");
        assert!(forged("m.room.message", Some("")).is_none(), "a state key on a message");
        assert!(forged("io.relais.device", None).is_none());
        assert!(forged("m.reaction", None).is_some());
        assert!(forged("org.matrix.msc3381.poll.response", None).is_some());
    }

    #[test]
    fn batch_ids_follow_the_rows() {
        let row = |id: &str| IncomingEvent {
            event_id: id.into(),
            room_id: "!r".into(),
            sender: "@a:b".into(),
            event_type: "m.room.message".into(),
            body: "{}".into(),
        };
        assert_eq!(batch_id(&[row("a"), row("b")]), batch_id(&[row("a"), row("b")]));
        assert_ne!(batch_id(&[row("a")]), batch_id(&[row("a"), row("b")]));
    }
}
