//! Turns a pushed transaction into journal rows: lenient with each event, strict with the batch.

use ruma::{api::appservice::event::push_events, serde::Raw};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use relais_core::store::IncomingEvent;

/// The fields every timeline event has; the rest of the JSON is kept as received.
#[derive(Deserialize)]
struct Envelope {
    event_id: ruma::OwnedEventId,
    room_id: ruma::OwnedRoomId,
    sender: ruma::OwnedUserId,
    #[serde(rename = "type")]
    event_type: String,
}

/// Journal rows for the events of `request`, and how many events were skipped as malformed.
pub(crate) fn journal_rows(request: &push_events::v1::Request) -> (Vec<IncomingEvent>, usize) {
    let mut rows = Vec::with_capacity(request.events.len());
    let mut malformed = 0;
    for raw in &request.events {
        match parse(raw) {
            Some(row) => rows.push(row),
            None => malformed += 1,
        }
    }
    rows.extend(request.ephemeral.iter().filter_map(|raw| receipt_row(raw.json().get())));
    (rows, malformed)
}

/// A room's read receipts (ephemeral data, pushed when the registration asks for it) as one
/// journal row, so that statistics get them through the same durable path. Receipts have no
/// event id: the row's id derives from their content, so a redelivery is recognised.
fn receipt_row(json: &str) -> Option<IncomingEvent> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    if value.get("type")?.as_str()? != "m.receipt" {
        return None;
    }
    let room_id = ruma::RoomId::parse(value.get("room_id")?.as_str()?).ok()?;
    let content = value.get("content")?.as_object()?;
    let sender = content
        .values()
        .filter_map(|kinds| kinds.get("m.read")?.as_object()?.keys().next().cloned())
        .next()?;
    let digest = Sha256::digest(json.as_bytes());
    let event_id =
        format!("$receipt.{}", digest.iter().take(16).map(|b| format!("{b:02x}")).collect::<String>());
    let mut body = value.clone();
    body["event_id"] = serde_json::Value::String(event_id.clone());
    body["sender"] = serde_json::Value::String(sender.clone());
    Some(IncomingEvent {
        event_id,
        room_id: room_id.to_string(),
        sender,
        event_type: "m.receipt".to_owned(),
        body: body.to_string(),
    })
}

fn parse<T>(raw: &Raw<T>) -> Option<IncomingEvent> {
    match raw.deserialize_as_unchecked::<Envelope>() {
        Ok(env) => Some(IncomingEvent {
            event_id: env.event_id.to_string(),
            room_id: env.room_id.to_string(),
            sender: env.sender.to_string(),
            event_type: env.event_type,
            body: raw.json().get().to_owned(),
        }),
        Err(error) => {
            // The event's content may hold personal data: log the reason only.
            tracing::warn!(%error, "skipping a malformed event in a transaction");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_good_events_and_counts_bad_ones() {
        let body = serde_json::json!({
            "events": [
                {"event_id": "$a", "room_id": "!r:pcf.test", "sender": "@alice:pcf.test",
                 "type": "m.room.message", "content": {"body": "!aide", "msgtype": "m.text"},
                 "origin_server_ts": 1},
                {"room_id": "!r:pcf.test", "type": "m.room.message"},
                42
            ]
        });
        let bytes = serde_json::to_vec(&body).expect("json");
        let request = http::Request::builder()
            .method("PUT")
            .uri("/_matrix/app/v1/transactions/t1")
            .body(bytes.as_slice())
            .expect("request");
        let parsed = <push_events::v1::Request as ruma::api::IncomingRequestExt>::try_from_http_request(
            request,
            &["t1"],
        )
        .expect("parses");
        let (rows, malformed) = journal_rows(&parsed);
        assert_eq!(malformed, 2);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].event_id, "$a");
        assert!(rows[0].body.contains("!aide"));
    }

    #[test]
    fn read_receipts_become_rows_and_other_ephemeral_data_is_dropped() {
        let receipt = r#"{"type":"m.receipt","room_id":"!r:pcf.test","content":{"$e":{"m.read":{"@marc:pcf.test":{"ts":5}}}}}"#;
        let row = receipt_row(receipt).expect("row");
        assert_eq!(row.event_type, "m.receipt");
        assert_eq!(row.sender, "@marc:pcf.test");
        assert!(row.event_id.starts_with("$receipt."));
        assert_eq!(receipt_row(receipt).expect("again").event_id, row.event_id, "stable id");
        assert!(row.body.contains("\"ts\":5"));
        assert!(
            receipt_row(r#"{"type":"m.typing","room_id":"!r:pcf.test","content":{"user_ids":[]}}"#).is_none()
        );
        assert!(
            receipt_row(
                r#"{"type":"m.receipt","room_id":"!r:pcf.test","content":{"$e":{"m.read.private":{}}}}"#
            )
            .is_none()
        );
    }
}
