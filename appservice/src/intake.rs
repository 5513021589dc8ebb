//! Turns a pushed transaction into journal rows: lenient with each event, strict with the batch.

use ruma::{api::appservice::event::push_events, serde::Raw};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::queue::{DEVICE_ROW_TYPE, IncomingEvent};

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
///
/// `counts` is the fingerprint of the one-time-key counts last journaled: Synapse repeats the
/// counts in every transaction, and a row is written only when they change (or when the
/// transaction carries to-device messages or device-list changes). It is updated here; the
/// caller keeps the new value only once the rows are committed.
pub(crate) fn journal_rows(
    request: &push_events::v1::Request,
    counts: &mut u64,
) -> (Vec<IncomingEvent>, usize) {
    let mut rows = Vec::with_capacity(request.events.len() + 1);
    // First: the room keys it may carry decrypt the events that follow.
    rows.extend(device_row(request, counts));
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

/// What the transaction carried for the appservice's devices (the bot's encrypted device):
/// to-device messages, device-list changes, one-time-key counts and unused fallback keys, as
/// one journal row, so the device gets them durably and in the order they came. Its id derives
/// from the transaction id and content: a resent transaction is recognised.
fn device_row(request: &push_events::v1::Request, counts: &mut u64) -> Option<IncomingEvent> {
    if request.to_device.is_empty()
        && request.device_lists.is_empty()
        && request.device_one_time_keys_count.is_empty()
        && request.device_unused_fallback_key_types.is_empty()
    {
        return None;
    }
    let keys =
        serde_json::json!([request.device_one_time_keys_count, request.device_unused_fallback_key_types]);
    let fingerprint = Sha256::digest(keys.to_string().as_bytes());
    let fingerprint = u64::from_be_bytes(fingerprint[..8].try_into().unwrap_or_default());
    let keys_changed = fingerprint != *counts && keys != serde_json::json!([{}, {}]);
    if request.to_device.is_empty() && request.device_lists.is_empty() && !keys_changed {
        return None;
    }
    *counts = fingerprint;
    let body = serde_json::json!({
        "type": DEVICE_ROW_TYPE,
        "to_device": request.to_device,
        "device_lists": request.device_lists,
        "device_one_time_keys_count": request.device_one_time_keys_count,
        "device_unused_fallback_key_types": request.device_unused_fallback_key_types,
    });
    let body = body.to_string();
    let mut digest = Sha256::new();
    digest.update(request.txn_id.as_str().as_bytes());
    digest.update(body.as_bytes());
    let event_id = format!(
        "$device.{}",
        digest.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect::<String>()
    );
    Some(IncomingEvent {
        event_id,
        room_id: String::new(),
        sender: String::new(),
        event_type: DEVICE_ROW_TYPE.to_owned(),
        body,
    })
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
        let (rows, malformed) = journal_rows(&parsed, &mut 0);
        assert_eq!(malformed, 2);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].event_id, "$a");
        assert!(rows[0].body.contains("!aide"));
    }

    fn transaction(txn: &str, body: serde_json::Value) -> push_events::v1::Request {
        let bytes = serde_json::to_vec(&body).expect("json");
        let request = http::Request::builder()
            .method("PUT")
            .uri(format!("/_matrix/app/v1/transactions/{txn}"))
            .body(bytes.as_slice())
            .expect("request");
        <push_events::v1::Request as ruma::api::IncomingRequestExt>::try_from_http_request(request, &[txn])
            .expect("parses")
    }

    #[test]
    fn device_data_becomes_one_row_and_repeated_key_counts_none() {
        let counts = |n: u32| serde_json::json!({"@relais:pcf.test": {"DEV": {"signed_curve25519": n}}});
        let mut last = 0;
        let with_message = transaction(
            "t1",
            serde_json::json!({
                "events": [],
                "de.sorunome.msc2409.to_device": [{"type": "m.room.encrypted", "sender": "@marc:pcf.test",
                    "to_user_id": "@relais:pcf.test", "to_device_id": "DEV", "content": {"ciphertext": "x"}}],
                "org.matrix.msc3202.device_one_time_keys_count": counts(50),
            }),
        );
        let (rows, _) = journal_rows(&with_message, &mut last);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].event_type, DEVICE_ROW_TYPE);
        assert!(rows[0].event_id.starts_with("$device."));
        let body: serde_json::Value = serde_json::from_str(&rows[0].body).expect("json");
        assert_eq!(body["to_device"][0]["to_device_id"], "DEV");
        assert_eq!(body["device_one_time_keys_count"]["@relais:pcf.test"]["DEV"]["signed_curve25519"], 50);
        let same = transaction(
            "t2",
            serde_json::json!({"events": [],
            "org.matrix.msc3202.device_one_time_keys_count": counts(50)}),
        );
        assert!(journal_rows(&same, &mut last).0.is_empty(), "counts unchanged: nothing to journal");
        let fewer = transaction(
            "t3",
            serde_json::json!({"events": [],
            "org.matrix.msc3202.device_one_time_keys_count": counts(49)}),
        );
        assert_eq!(journal_rows(&fewer, &mut last).0.len(), 1, "a key was claimed");
        let lists = transaction(
            "t4",
            serde_json::json!({"events": [],
            "org.matrix.msc3202.device_lists": {"changed": ["@marc:pcf.test"]}}),
        );
        assert_eq!(journal_rows(&lists, &mut last).0.len(), 1);
        assert!(journal_rows(&transaction("t5", serde_json::json!({"events": []})), &mut last).0.is_empty());
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
