//! A journaled event as every handler receives it, decoded once by the dispatcher.

use ruma::events::AnyTimelineEvent;
use serde_json::Value;

use crate::queue::{DEVICE_ROW_TYPE, QueuedEvent};

/// One event of the journal, with its body decoded once for every handler: as JSON, and as a
/// ruma timeline event when it is one.
#[derive(Debug)]
pub struct DispatchedEvent {
    /// The journal row: ids, type, the body as received, attempts.
    pub queued: QueuedEvent,
    /// The body as JSON; `Value::Null` when it is not JSON (nothing in it is then read).
    pub json: Value,
    /// The body as a typed timeline event. `None` for rows that are not timeline events (the
    /// bot device's to-device messages and key counts, read receipts), and for a timeline event
    /// whose fields or content ruma cannot read (a handler then ignores it).
    pub timeline: Option<AnyTimelineEvent>,
}

impl DispatchedEvent {
    /// Decodes `queued`'s body. Decoding never fails: what cannot be read is left empty, and
    /// each handler decides whether that matters to it.
    pub fn decode(queued: QueuedEvent) -> Self {
        let json = serde_json::from_str(&queued.body).unwrap_or(Value::Null);
        // The device's rows (to-device batches, often the largest) and receipts are never
        // timeline events: not decoded a second time for nothing.
        let timeline = match queued.event_type.as_str() {
            DEVICE_ROW_TYPE | "m.receipt" => None,
            _ => serde_json::from_str(&queued.body).ok(),
        };
        Self { queued, json, timeline }
    }

    /// The event type as journaled.
    pub fn event_type(&self) -> &str {
        &self.queued.event_type
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(event_type: &str, body: &str) -> QueuedEvent {
        QueuedEvent {
            seq: 1,
            event_id: "$e".into(),
            room_id: "!r:pcf.test".into(),
            sender: "@a:pcf.test".into(),
            event_type: event_type.into(),
            body: body.into(),
            attempts: 0,
        }
    }

    #[test]
    fn a_message_is_decoded_once_as_json_and_typed() {
        let body = r#"{"type":"m.room.message","room_id":"!r:pcf.test","sender":"@a:pcf.test",
            "event_id":"$e","origin_server_ts":1,"content":{"msgtype":"m.text","body":"bonjour"}}"#;
        let event = DispatchedEvent::decode(queued("m.room.message", body));
        assert_eq!(event.json["content"]["body"], "bonjour");
        let Some(AnyTimelineEvent::MessageLike(message)) = &event.timeline else { panic!("{event:?}") };
        assert_eq!(message.sender(), "@a:pcf.test");
    }

    #[test]
    fn what_is_not_a_timeline_event_is_left_empty_not_an_error() {
        let receipt = DispatchedEvent::decode(queued("m.receipt", r#"{"type":"m.receipt","content":{}}"#));
        assert!(receipt.timeline.is_none() && receipt.json["type"] == "m.receipt");
        let garbage = DispatchedEvent::decode(queued("m.room.message", "not json"));
        assert!(garbage.timeline.is_none() && garbage.json.is_null());
        // A sender that is no user id: the JSON is there for whoever reads it, the typed event is not.
        let forged = r#"{"type":"m.room.message","room_id":"!r:pcf.test","sender":"pas un id",
            "event_id":"$e","origin_server_ts":1,"content":{"msgtype":"m.text","body":"x"}}"#;
        let forged = DispatchedEvent::decode(queued("m.room.message", forged));
        assert!(forged.timeline.is_none() && forged.json["sender"] == "pas un id");
    }
}
