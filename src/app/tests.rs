//! The whole service built in-process by [`App::build`], as `relais serve` builds it, over a
//! fresh SQLite store and ephemeral ports; no homeserver (nothing answers on port 9), so
//! dispatch is off and the node only journals.

use relais_core::{Config, config::TEST_TOML};

use super::App;

fn config(dir: &tempfile::TempDir) -> Config {
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("relais.db").display());
    let vars = [
        ("RELAIS_HOMESERVER__URL", "http://127.0.0.1:9".to_owned()),
        ("RELAIS_APPSERVICE__BIND", "127.0.0.1:0".to_owned()),
        ("RELAIS_WEB__BIND", "127.0.0.1:0".to_owned()),
        ("RELAIS_DATABASE__URL", db),
        ("RELAIS_DISPATCH__ENABLED", "false".to_owned()),
    ];
    Config::from_toml_and_env(TEST_TOML, "test.toml", vars.into_iter().map(|(k, v)| (k.to_owned(), v)))
        .expect("configuration")
}

#[tokio::test]
async fn one_build_serves_both_listeners_journals_a_transaction_and_stops_gracefully() {
    let dir = tempfile::tempdir().expect("dir");
    let config = config(&dir);
    let hs_token = config.appservice.hs_token.expose().to_owned();
    let app = App::build(config).await.expect("Relais builds");
    let (appservice, web) = (app.appservice_addr, app.web_addr);
    assert_ne!(appservice.port(), 0);
    assert_ne!(web.port(), appservice.port());
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(app.run_until({
        let stop = stop.clone();
        async move {
            stop.cancelled().await;
            Ok(())
        }
    }));

    let http = reqwest::Client::new();
    let page = http.get(format!("http://{web}/")).send().await.expect("the pages answer");
    assert!(page.text().await.expect("page").contains("La messagerie du Parti"));
    let health = http.get(format!("http://{appservice}/health")).send().await.expect("health");
    assert!(health.status().is_success(), "{}", health.status());

    // The homeserver's transaction is taken only with its token, then journaled.
    let txn = serde_json::json!({ "events": [{
        "type": "m.room.message", "room_id": "!r:pcf.test", "sender": "@a:pcf.test",
        "event_id": "$e1", "origin_server_ts": 1, "content": { "msgtype": "m.text", "body": "bonjour" }
    }] });
    let url = format!("http://{appservice}/_matrix/app/v1/transactions/t1");
    let refused = http.put(&url).json(&txn).send().await.expect("answer");
    assert_eq!(refused.status(), reqwest::StatusCode::UNAUTHORIZED);
    let taken = http.put(&url).bearer_auth(&hs_token).json(&txn).send().await.expect("answer");
    assert!(taken.status().is_success(), "{}", taken.status());

    stop.cancel();
    running.await.expect("no panic").expect("a graceful stop is not a failure");
    let store = relais_core::Store::open(&format!("sqlite://{}", dir.path().join("relais.db").display()), 1)
        .await
        .expect("store");
    let queue = relais_appservice::queue::IntakeQueue::queue_stats(&store).await.expect("stats");
    assert_eq!(queue.pending, 1, "the transaction outlives the service: {queue:?}");
}
