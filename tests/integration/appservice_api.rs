//! The Application Service API as the homeserver sees it, against the real `relais serve`:
//! token checks, malformed bodies, legacy paths, health, metrics and graceful shutdown.

use crate::common;

use crate::common::{Relais, RelaisOptions};
use serde_json::{Value, json};

async fn put(relais: &Relais, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .put(format!("{}{path}", relais.as_url))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.expect("put");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

fn txn_body(event_id: &str) -> String {
    json!({"events": [{
        "event_id": event_id, "room_id": "!nowhere:pcf.test", "sender": "@alice:pcf.test",
        "type": "m.room.topic", "content": {"topic": "x"}, "origin_server_ts": 1, "state_key": ""
    }]})
    .to_string()
}

#[tokio::test]
async fn homeserver_token_is_required_and_checked() {
    let mut relais = Relais::prepare(RelaisOptions::default());
    relais.start().await;
    let path = "/_matrix/app/v1/transactions/t-auth";

    let (status, body) = put(&relais, path, None, &txn_body("$a")).await;
    assert_eq!((status, body["errcode"].as_str()), (401, Some("M_UNAUTHORIZED")), "{body}");
    let (status, body) = put(&relais, path, Some("not-the-token"), &txn_body("$a")).await;
    assert_eq!((status, body["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{body}");
    let (status, _) = put(&relais, path, Some(&relais.hs_token.clone()), &txn_body("$a")).await;
    assert_eq!(status, 200);
    // Older homeservers pass the token as a query parameter.
    let legacy = format!("{path}-legacy?access_token={}", relais.hs_token);
    let (status, _) = put(&relais, &legacy, None, &txn_body("$b")).await;
    assert_eq!(status, 200);

    let rejected = relais.metric("relais_auth_rejected_total").await;
    assert_eq!(rejected, Some(2.0));
    let received = relais.metric("relais_events_received_total").await;
    assert_eq!(received, Some(2.0), "both accepted transactions were journaled");
    assert!(relais.terminate().await.success());
}

#[tokio::test]
async fn malformed_requests_get_matrix_errors_and_bad_events_are_skipped() {
    let mut relais = Relais::prepare(RelaisOptions::default());
    relais.start().await;
    let token = relais.hs_token.clone();
    let path = "/_matrix/app/v1/transactions/t-bad";

    let (status, body) = put(&relais, path, Some(&token), "{not json").await;
    assert_eq!((status, body["errcode"].as_str()), (400, Some("M_NOT_JSON")), "{body}");
    let (status, body) = put(&relais, path, Some(&token), r#"{"no_events": []}"#).await;
    assert_eq!((status, body["errcode"].as_str()), (400, Some("M_BAD_JSON")), "{body}");
    assert_eq!(
        relais.metric("relais_transactions_total").await,
        Some(0.0),
        "rejected bodies are not acknowledged"
    );

    // One broken event does not sink the transaction: the good one is journaled.
    let mixed = json!({"events": [
        {"type": "m.room.message", "content": {}},
        serde_json::from_str::<Value>(&txn_body("$good")).expect("json")["events"][0].clone(),
    ]});
    let (status, _) = put(&relais, path, Some(&token), &mixed.to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(relais.metric("relais_events_malformed_total").await, Some(1.0));
    assert_eq!(relais.metric("relais_events_received_total").await, Some(1.0));

    let (status, body) = put(&relais, "/_matrix/app/v1/unknown", Some(&token), "{}").await;
    assert_eq!((status, body["errcode"].as_str()), (404, Some("M_UNRECOGNIZED")), "{body}");
    assert!(relais.terminate().await.success());
}

#[tokio::test]
async fn user_and_alias_queries_and_legacy_paths() {
    let mut relais = Relais::prepare(RelaisOptions::default());
    relais.start().await;
    let http = reqwest::Client::new();
    let get = |path: String| {
        let req = http.get(format!("{}{path}", relais.as_url)).bearer_auth(&relais.hs_token);
        async move { req.send().await.expect("get").status().as_u16() }
    };
    assert_eq!(get("/_matrix/app/v1/users/%40relais%3Apcf.test".into()).await, 200);
    assert_eq!(get("/users/%40relais%3Apcf.test".into()).await, 200, "legacy path");
    assert_eq!(get("/_matrix/app/v1/users/%40relais_ghost%3Apcf.test".into()).await, 404);
    assert_eq!(get("/_matrix/app/v1/rooms/%23relais_x%3Apcf.test".into()).await, 404);
    let (status, _) =
        put(&relais, "/transactions/legacy-1", Some(&relais.hs_token.clone()), &txn_body("$l")).await;
    assert_eq!(status, 200, "legacy transaction path");
    let health = reqwest::get(format!("{}/health", relais.web_url)).await.expect("web health");
    assert!(health.status().is_success());
    assert!(relais.terminate().await.success(), "SIGTERM exits 0");
}

#[tokio::test]
async fn health_lists_the_workers_and_a_dead_worker_stops_relais_for_a_restart() {
    let mut relais = Relais::prepare(RelaisOptions::default());
    relais.start().await;
    let health = reqwest::get(format!("{}/health", relais.as_url)).await.expect("health");
    assert_eq!(health.status(), 200);
    let text = health.text().await.expect("text");
    assert!(text.starts_with("ok\n") && text.contains("dispatcher: running"), "{text}");
    assert!(text.contains("bots' clock: running"), "{text}");
    assert_eq!(relais.metric("relais_worker_up{worker=\"dispatcher\"}").await, Some(1.0));
    assert!(relais.terminate().await.success(), "SIGTERM still exits 0");

    // The dispatcher dies (a panic): Relais does not go on looking healthy without it, it
    // stops with a non-zero status so that systemd restarts it.
    let mut child = tokio::process::Command::new(common::relais::BIN)
        .arg("--config")
        .arg(relais.config_path())
        .arg("serve")
        .env("RELAIS_TEST_FAIL_WORKER", "dispatcher")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn relais serve");
    let status = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait())
        .await
        .expect("relais stops by itself")
        .expect("wait");
    assert!(!status.success(), "non-zero exit: {status}");
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .await
        .expect("stderr");
    assert!(stderr.contains("the dispatcher worker panicked"), "{stderr}");
    // The panic itself is logged with where it happened; its formatted message (which could
    // hold members' data) is withheld.
    assert!(stderr.contains("panicked at src/supervise.rs:"), "{stderr}");
    assert!(stderr.contains("(message withheld: may contain personal data)"), "{stderr}");
    assert!(!stderr.contains("test failpoint"), "{stderr}");
}
