//! Turns a pushed transaction into journal rows: lenient with each event, strict with the batch.

use ruma::{api::appservice::event::push_events, serde::Raw};
use serde::Deserialize;

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
    (rows, malformed)
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
}
