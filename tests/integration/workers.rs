//! Synapse in worker mode, whatever `RELAIS_TEST_SYNAPSE` says: Relais provisions three
//! federations and answers a member through a stack whose events are written by two persisters
//! (rooms sharded between them), whose client API is served by a worker behind nginx and whose
//! appservice transactions leave from a worker — and the test reads that each of those did its
//! part. `scripts/test.sh` then runs a subset of the other tests against the same stack.

use std::{process::Command, time::Duration};

use crate::common::{Member, Relais, RelaisOptions, Stack, Synapse, eventually, unique};

const HEADER: &str =
    "N° adhérent;Prénom;Nom;Fédération;Section;Responsabilités;Cotisation à jour;Identifiant Matrix\n";

/// `query`'s rows on the homeserver's database, `|`-separated.
fn sql(url: &str, query: &str) -> Vec<String> {
    let out = Command::new("psql").arg(url).args(["-tAc", query]).output().expect("psql");
    assert!(out.status.success(), "{query}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

/// The sum of a counter's samples in a Prometheus text page.
fn counter(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn relais_provisions_and_answers_through_synapse_in_worker_mode() {
    let mut relais = Relais::prepare(RelaisOptions::default());
    let synapse = Synapse::start_in(&relais.registration(), true).await;
    relais.point_at(&synapse);
    relais.start().await;
    let stack = Stack { synapse, relais };
    let layout = stack.synapse.workers().expect("worker mode");

    let sophie = stack.synapse.register(&unique("sophie")).await;
    let mut others: Vec<Member> = Vec::new();
    for name in ["karim", "nadia"] {
        others.push(stack.synapse.register(&unique(name)).await);
    }
    let csv = format!(
        "{HEADER}1;Sophie;Blanc;Nord;Lille;Secrétaire de section;oui;{}\n\
         2;Karim;Benali;Gard;Nîmes;;oui;{}\n\
         3;Nadia;Roux;Loire;Roanne;;oui;{}\n",
        sophie.user_id, others[0].user_id, others[1].user_id
    );
    let file = stack.relais.dir.path().join("members.csv");
    std::fs::write(&file, csv).expect("csv");
    let (status, out, err) = stack.relais.cli(&["provision", &file.display().to_string()]);
    assert!(status.success(), "{out}{err}");

    // Sophie takes her invitation to her section and asks the bot: the answer goes through the
    // sender worker to Relais, and back through nginx and the client worker.
    let room = stack.bot().resolve("#relais_nord.s.lille:pcf.test").await;
    assert_eq!(sophie.try_join(&room).await, 200);
    let asked = sophie.send_text(&room, "!ping").await;
    let answer = sophie.wait_reply(&room, &stack.relais.bot(), &asked).await;
    assert!(answer.starts_with("Pong"), "{answer}");

    // Every event was written by one of the two persisters, and each took some rooms.
    let writers = sql(
        layout.database_url(),
        "SELECT instance_name, count(DISTINCT room_id) FROM events GROUP BY 1 ORDER BY 1",
    );
    let names: Vec<&str> = writers.iter().filter_map(|l| l.split('|').next()).collect();
    assert_eq!(names, ["persister1", "persister2"], "rooms per writer: {writers:?}");

    // The appservice transactions left from the sender worker.
    let metrics = eventually("the sender's metrics", Duration::from_secs(30), || async {
        let page = reqwest::get(layout.sender_metrics_url()).await.ok()?.text().await.ok()?;
        (counter(&page, "synapse_appservice_api_sent_transactions_total") > 0.0).then_some(page)
    })
    .await;
    assert!(
        counter(&metrics, "synapse_appservice_api_sent_events_total") > 0.0,
        "events pushed by the sender"
    );
}
