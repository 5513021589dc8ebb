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
