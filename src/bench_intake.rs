//! `relais bench intake`: how many events per second the appservice listener acknowledges,
//! measured end to end over HTTP on loopback (typed parsing, token check, one database
//! transaction per homeserver transaction), with no handler running.

use std::{sync::Arc, time::Instant};

use anyhow::Context;
use serde_json::json;
use tokio::sync::Notify;

use relais_appservice::queue::IntakeQueue;
use relais_appservice::{AppState, Metrics};
use relais_core::{Config, Store};

pub async fn run(
    transactions: usize,
    events: usize,
    concurrency: usize,
    database: Option<String>,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url =
        database.unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.path().join("intake.db").display()));
    let store = Store::open(&url, 8).await.context("opening the benchmark database")?;
    let config = Config::from_toml_and_env(include_str!("../relais.example.toml"), "example", Vec::new())?;
    let token = config.appservice.hs_token.expose().to_owned();
    let state = Arc::new(AppState {
        config: Arc::new(config),
        store: store.clone(),
        metrics: Arc::new(Metrics::default()),
        new_events: Arc::new(Notify::new()),
        device_counts: Default::default(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, relais_appservice::router(state)).await });

    let bodies: Vec<(String, String)> = (0..transactions)
        .map(|t| {
            let events: Vec<_> = (0..events)
                .map(|e| {
                    json!({
                        "event_id": format!("$bench-{t}-{e}"), "room_id": "!bench:pcf.test", "sender": "@m:pcf.test",
                        "type": "m.room.message", "origin_server_ts": 1,
                        "content": {"msgtype": "m.text", "body": "Réunion de section jeudi à 18 h 30, salle des fêtes."},
                    })
                })
                .collect();
            (format!("txn-{t}"), json!({ "events": events }).to_string())
        })
        .collect();
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..concurrency.max(1) {
        let mine: Vec<(String, String)> =
            bodies.iter().skip(worker).step_by(concurrency.max(1)).cloned().collect();
        let (http, token) = (http.clone(), token.clone());
        tasks.spawn(async move {
            for (txn, body) in mine {
                let resp = http
                    .put(format!("http://{addr}/_matrix/app/v1/transactions/{txn}"))
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await?;
                anyhow::ensure!(resp.status().is_success(), "transaction refused: {}", resp.status());
            }
            Ok::<_, anyhow::Error>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let seconds = started.elapsed().as_secs_f64();
    server.abort();
    let stats = store.queue_stats().await?;
    store.close().await;
    let total = transactions * events;
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "backend": if url.starts_with("sqlite") { "sqlite" } else { "postgres" },
            "transactions": transactions, "events_per_transaction": events, "concurrency": concurrency,
            "seconds": seconds, "events_per_second": total as f64 / seconds,
            "transactions_per_second": transactions as f64 / seconds,
            "journaled": stats.pending,
        }))?
    );
    anyhow::ensure!(stats.pending == i64::try_from(total)?, "not every event was journaled");
    Ok(())
}
