//! The retry loop against a real local HTTP server that answers like a busy or absent homeserver.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Json, Router, http::StatusCode, routing::put};
use serde_json::json;

use super::{ClientError, MatrixClient};
use crate::Metrics;

fn config(homeserver: &str) -> relais_core::Config {
    let text = include_str!("../../../relais.example.toml")
        .replace("url = \"http://127.0.0.1:8008\"", &format!("url = \"{homeserver}\""));
    relais_core::Config::from_toml_and_env(&text, "test", Vec::new()).expect("config")
}

/// Serves `PUT …/send/…`: a 429 asking for 50 ms first, then success.
async fn rate_limited_server(calls: Arc<AtomicUsize>) -> String {
    let app = Router::new().route(
        "/_matrix/client/v3/rooms/{room}/send/{kind}/{txn}",
        put(move || {
            let calls = calls.clone();
            async move {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    let body =
                        json!({"errcode": "M_LIMIT_EXCEEDED", "error": "slow down", "retry_after_ms": 50});
                    (StatusCode::TOO_MANY_REQUESTS, Json(body))
                } else {
                    (StatusCode::OK, Json(json!({"event_id": "$sent"})))
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_rate_limited_call_is_retried_after_the_delay_asked() {
    let calls = Arc::new(AtomicUsize::new(0));
    let url = rate_limited_server(calls.clone()).await;
    let metrics = Arc::new(Metrics::default());
    let client = MatrixClient::new(&config(&url), metrics.clone()).expect("client");
    let content = ruma::events::room::message::RoomMessageEventContent::notice_plain("x");
    let room = ruma::owned_room_id!("!r:pcf.test");
    let txn = ruma::OwnedTransactionId::from("t1");
    let id = client.send_message(&room, &txn, &content, None).await.expect("sent after one retry");
    assert_eq!(id.as_str(), "$sent");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(metrics.client_retries.get(), 1);
}

#[tokio::test]
async fn an_absent_homeserver_is_retried_until_the_deadline_then_reported() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let metrics = Arc::new(Metrics::default());
    let client = MatrixClient::new(&config(&format!("http://127.0.0.1:{port}")), metrics.clone())
        .expect("client")
        .with_max_retry(Duration::from_millis(900));
    let room = ruma::owned_room_id!("!r:pcf.test");
    let err = client.join_room(&room, None).await.expect_err("nobody listens");
    assert!(matches!(err, ClientError::Unreachable(_)), "{err}");
    assert!(metrics.client_retries.get() >= 1, "backed off and retried before giving up");
}

/// Records the path and query of every request, answering each with a few bytes.
async fn recording_server(seen: Arc<std::sync::Mutex<Vec<String>>>, body: Vec<u8>) -> String {
    let app = Router::new().fallback(move |uri: axum::http::Uri| {
        let (seen, body) = (seen.clone(), body.clone());
        async move {
            seen.lock().expect("lock").push(uri.to_string());
            body
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_crafted_mxc_uri_never_reaches_another_endpoint() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let url = recording_server(seen.clone(), b"image".to_vec()).await;
    let client = MatrixClient::new(&config(&url), Arc::new(Metrics::default())).expect("client");
    for crafted in [
        "mxc://a/../../../../_matrix/client/v3/rooms/!x:pcf.test/messages?dir=b",
        "mxc://pcf.test/abc/../../../../_matrix/client/v3/rooms/!x:pcf.test/messages",
        "mxc://pcf.test/abc?access_token=x",
        "mxc://pcf.test/a%2F..%2Fb",
        "mxc://pcf.test/",
        "mxc://evil host/abc",
        "https://pcf.test/abc",
    ] {
        let err = client.download_media(<&ruma::MxcUri>::from(crafted), 1000).await;
        assert!(matches!(err, Err(ClientError::Request(_))), "{crafted}: {err:?}");
    }
    assert!(seen.lock().expect("lock").is_empty(), "no request left: {:?}", seen.lock());

    let (data, _) = client
        .download_media(<&ruma::MxcUri>::from("mxc://pcf.test:8448/AbC-12_x"), 1000)
        .await
        .expect("a valid URI is fetched");
    assert_eq!(data, b"image");
    assert_eq!(*seen.lock().expect("lock"), ["/_matrix/client/v1/media/download/pcf.test%3A8448/AbC-12_x"]);
}

#[tokio::test]
async fn media_larger_than_the_limit_is_refused() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let url = recording_server(seen, vec![7; 5000]).await;
    let client = MatrixClient::new(&config(&url), Arc::new(Metrics::default())).expect("client");
    let mxc = <&ruma::MxcUri>::from("mxc://pcf.test/abc");
    let err = client.download_media(mxc, 4999).await.expect_err("too large");
    assert!(matches!(err, ClientError::Response(_)), "{err}");
    assert_eq!(client.download_media(mxc, 5000).await.expect("at the limit").0.len(), 5000);
}

#[tokio::test]
async fn errors_never_carry_the_token_of_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let client =
        MatrixClient::new(&config(&format!("http://127.0.0.1:{port}")), Arc::new(Metrics::default()))
            .expect("client");
    let err = client.openid_userinfo("openid-secret-token-123").await.expect_err("nobody listens");
    assert!(!format!("{err} {err:?}").contains("openid-secret-token-123"), "{err:?}");
}

/// Whether a failed call is worth making again, from the errcode first, then the HTTP status:
/// never from the message.
#[test]
fn errors_are_classified_by_errcode_and_status() {
    use super::Outlook;
    let matrix = |status: u16, errcode: &str| {
        ClientError::matrix(status, errcode, "M_FORBIDDEN in the message changes nothing")
    };
    let transient = [
        ClientError::Unreachable("connection refused".into()),
        matrix(429, "M_LIMIT_EXCEEDED"),
        matrix(400, "M_LIMIT_EXCEEDED"),
        matrix(403, "M_RESOURCE_LIMIT_EXCEEDED"),
        matrix(500, "M_UNKNOWN"),
        matrix(502, ""),
        matrix(503, ""),
        matrix(504, ""),
        matrix(408, ""),
        // The appservice's token or namespace is refused: the operator's configuration, not
        // this request.
        matrix(401, "M_UNKNOWN_TOKEN"),
        matrix(401, "M_MISSING_TOKEN"),
        matrix(400, "M_EXCLUSIVE"),
    ];
    for error in &transient {
        assert_eq!(error.outlook(), Outlook::Transient, "{error:?}");
    }
    let refused = [
        matrix(403, "M_FORBIDDEN"),
        matrix(404, "M_NOT_FOUND"),
        matrix(400, "M_UNKNOWN"),
        matrix(403, ""),
        matrix(409, ""),
        matrix(403, "M_USER_DEACTIVATED"),
        ClientError::Response("no event_id in the send answer".into()),
    ];
    for error in &refused {
        assert_eq!(error.outlook(), Outlook::Refused, "{error:?}");
    }
    let hopeless = [
        matrix(413, "M_TOO_LARGE"),
        matrix(413, ""),
        matrix(400, "M_TOO_LARGE"),
        matrix(400, "M_BAD_JSON"),
        matrix(400, "M_NOT_JSON"),
        ClientError::Request("invalid room id".into()),
    ];
    for error in &hopeless {
        assert_eq!(error.outlook(), Outlook::Hopeless, "{error:?}");
    }
}

/// What a member can write into their own membership event beside `membership` (Synapse checks
/// only that field): an unexpected `is_direct`, a `displayname` that is not text.
#[tokio::test]
async fn a_crafted_member_event_is_still_seen_as_a_member() {
    let homeserver = crate::testing::RecordingHomeserver::start().await.expect("double");
    let client = MatrixClient::new(&config(&homeserver.url()), Arc::new(Metrics::default())).expect("client");
    let room = ruma::room_id!("!r:pcf.test");
    let event = |user: &str, content: serde_json::Value| {
        json!({ "type": "m.room.member", "state_key": user, "sender": user, "room_id": "!r:pcf.test",
                "event_id": format!("$m-{user}"), "origin_server_ts": 1, "content": content,
                "unsigned": { "prev_content": { "membership": "invite", "is_direct": 7 } } })
    };
    homeserver.answer(
        axum::http::Method::GET,
        "/_matrix/client/v3/rooms/!r:pcf.test/members",
        StatusCode::OK,
        json!({ "chunk": [
            event("@sly:pcf.test", json!({ "membership": "join", "is_direct": "oui", "displayname": 12 })),
            event("@ok:pcf.test", json!({ "membership": "leave" })),
        ] }),
    );
    // ruma's own event type refuses the crafted one: reading it whole would hide the member.
    let crafted =
        event("@sly:pcf.test", json!({ "membership": "join", "is_direct": "oui", "displayname": 12 }));
    assert!(serde_json::from_value::<ruma::events::room::member::RoomMemberEvent>(crafted).is_err());
    let members = client.room_members(room).await.expect("members");
    let seen: Vec<(&str, &str)> =
        members.iter().map(|m| (m.user_id.as_str(), m.membership.as_str())).collect();
    assert_eq!(seen, [("@sly:pcf.test", "join"), ("@ok:pcf.test", "leave")]);

    // The same leniency for one member's state.
    homeserver.set_state(
        room.as_str(),
        "m.room.member",
        "@sly:pcf.test",
        "@sly:pcf.test",
        json!({ "membership": "join", "is_direct": "oui" }),
    );
    let membership = client.membership(room, ruma::user_id!("@sly:pcf.test")).await.expect("membership");
    assert_eq!(membership.as_ref().map(|m| m.as_str()), Some("join"));
}

/// Synapse merges the override into its own defaults, which a server may change: every level
/// Relais means is written out, even where it equals the specification's default.
#[tokio::test]
async fn a_new_room_states_every_level_it_means() {
    let homeserver = crate::testing::RecordingHomeserver::start().await.expect("double");
    homeserver.answer(
        axum::http::Method::POST,
        "/_matrix/client/v3/createRoom",
        StatusCode::OK,
        json!({ "room_id": "!new:pcf.test" }),
    );
    let client = MatrixClient::new(&config(&homeserver.url()), Arc::new(Metrics::default())).expect("client");
    let mut levels = ruma::events::room::power_levels::RoomPowerLevelsEventContent::new(
        &ruma::room_version_rules::AuthorizationRules::V10,
    );
    levels.invite = ruma::int!(50);
    let room = super::rooms::NewRoom {
        alias_localpart: "relais_nord".into(),
        name: "Nord".into(),
        space: false,
        listed: false,
        power_levels: levels,
        initial_state: Vec::new(),
    };
    client.create_room(&room).await.expect("created");
    let sent = homeserver.requests().into_iter().find(|r| r.path.ends_with("/createRoom")).expect("request");
    let levels = &sent.body["power_level_content_override"];
    for (key, level) in [
        ("ban", 50),
        ("kick", 50),
        ("redact", 50),
        ("state_default", 50),
        ("invite", 50),
        ("events_default", 0),
        ("users_default", 0),
    ] {
        assert_eq!(levels[key], level, "{key}: {levels}");
    }
}
