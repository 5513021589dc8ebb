//! Benchmark (ignored by default): `!diffuser --toutes` to 100 federations' announcements rooms
//! on a real Synapse, timed from the command to the bot's answer (every copy sent), next to the
//! same 100 sends made directly by a plain loop with the same token in the same run (8 rooms at
//! a time, as Relais does, and one at a time).
//!
//! cargo test --release --test integration bench_broadcast -- --ignored --nocapture
//!
//! With `RELAIS_BENCH_E2EE=1`, the bot has its encryption device: every send first asks whether
//! the room is encrypted (these are not), which this measures.

use std::time::Instant;

use crate::common::{RelaisOptions, Stack, unique};
use serde_json::json;

const FEDERATIONS: usize = 100;

/// The same sends made directly, `parallel` rooms at a time; seconds taken.
async fn plain_sends(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    rooms: &[String],
    tag: &str,
    parallel: usize,
) -> f64 {
    let started = Instant::now();
    let mut running = tokio::task::JoinSet::new();
    for (i, id) in rooms.iter().enumerate() {
        if running.len() >= parallel {
            running.join_next().await.expect("a send").expect("joined");
        }
        let request = http
            .put(format!("{base}/_matrix/client/v3/rooms/{id}/send/m.room.message/{tag}x{i}"))
            .bearer_auth(token)
            .json(&json!({"msgtype": "m.text", "body": "Appel (boucle simple)"}));
        running.spawn(async move {
            assert!(request.send().await.expect("send").status().is_success());
        });
    }
    while let Some(done) = running.join_next().await {
        done.expect("joined");
    }
    started.elapsed().as_secs_f64()
}

#[tokio::test]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn broadcast_to_a_hundred_federations() {
    let alias_local = unique("communication");
    let mut env = vec![("RELAIS_BOTS__NATIONAL_ROOM".to_owned(), format!("#{alias_local}:pcf.test"))];
    let device = tempfile::tempdir().expect("device dir");
    if std::env::var_os("RELAIS_BENCH_E2EE").is_some() {
        env.push(("RELAIS_BOTS__E2EE_DIR".to_owned(), device.path().display().to_string()));
        println!("with the bot's encryption device");
    }
    let stack = Stack::start(RelaisOptions { env, ..Default::default() }).await;
    let nadia = stack.synapse.register(&unique("nadia")).await;
    let mut csv = String::from(
        "N° adhérent;Prénom;Nom;Fédération;Section;Responsabilités;Cotisation à jour;Courriel\n",
    );
    for n in 0..FEDERATIONS {
        csv.push_str(&format!("{n};Prénom{n};Nom{n};Fédération {n:03};Section {n};;oui;m{n}@example.org\n"));
    }
    let file = stack.relais.dir.path().join("members.csv");
    std::fs::write(&file, csv).expect("csv");
    let started = Instant::now();
    let (status, out, err) = stack.relais.cli(&["provision", &file.display().to_string()]);
    assert!(status.success(), "{out}{err}");
    println!("provisioned {FEDERATIONS} federations in {:.1} s", started.elapsed().as_secs_f64());

    let bot = stack.relais.bot();
    let room: serde_json::Value = nadia
        .post(
            "/_matrix/client/v3/createRoom",
            json!({"name": "Communication nationale", "room_alias_name": alias_local, "invite": [bot]}),
        )
        .await;
    let room = room["room_id"].as_str().expect("room").to_owned();
    stack.synapse.wait_joined(&nadia, &room, &bot).await;

    let mut figures = Vec::new();
    for round in 0..3 {
        let appeal =
            nadia.send_text(&room, &format!("Appel national n°{round} : mobilisation samedi.")).await;
        let started = Instant::now();
        let ask = nadia
            .send_content(
                &room,
                json!({"msgtype": "m.text", "body": "!diffuser --toutes",
                       "m.relates_to": {"m.in_reply_to": {"event_id": appeal}}}),
            )
            .await;
        let answer = nadia.wait_reply(&room, &bot, &ask).await;
        let relais = started.elapsed().as_secs_f64();
        assert!(answer.contains(&format!("Diffusé dans {FEDERATIONS} salon(s)")), "{answer}");

        // The same sends by a plain loop as the bot: 8 rooms at a time like Relais, and one by one.
        let as_token = stack.relais.as_token.clone();
        let http = reqwest::Client::new();
        let bot_view = stack.bot();
        let mut ids = Vec::new();
        for n in 0..FEDERATIONS {
            ids.push(bot_view.resolve(&format!("#relais_federation-{n:03}.annonces:pcf.test")).await);
        }
        let sequential =
            plain_sends(&http, &stack.synapse.url, &as_token, &ids, &format!("seq{round}"), 1).await;
        let plain = plain_sends(&http, &stack.synapse.url, &as_token, &ids, &format!("par{round}"), 8).await;
        println!(
            "round {round}: relais {relais:.2} s (command to answer), plain loop 8 rooms at a time {plain:.2} s \
             (ratio {:.2}), plain loop one at a time {sequential:.2} s",
            relais / plain
        );
        figures.push((relais, plain));
    }
    let best = figures.iter().map(|(r, _)| *r).fold(f64::MAX, f64::min);
    println!("best relais broadcast to {FEDERATIONS} rooms: {best:.2} s");
}
