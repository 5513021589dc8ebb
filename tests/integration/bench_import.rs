//! Benchmark (ignored by default): the first import of a national-shaped membership file,
//! `relais provision FILE` end to end, against one Synapse process and against Synapse in worker
//! mode (`tests/synapse/workers/`), in the same run, on the same file, both on PostgreSQL.
//!
//! cargo test --release --all-features --test integration bench_import -- --ignored --nocapture
//!
//! `RELAIS_BENCH_MEMBERS` sets the size (2,000 by default); the shape is the national one scaled
//! down (federations, sections and cells per member), as `scripts/bench-apply.sh` makes it.

use std::time::Instant;

use crate::common::{Relais, RelaisOptions, Stack, Synapse, postgres::Database, synapse::SynapseOptions};

const HEADER: &str = "N° adhérent;Prénom;Nom;Fédération;Section;Cellule;Responsabilités;Cotisation à jour;Identifiant Matrix\n";

/// The membership file: `members` rows over the national shape scaled down, every member with
/// a Matrix account `@bench<n>:pcf.test`, one section secretary per section.
fn membership(members: usize) -> String {
    let scale = (members * 1000 / 50_000).max(1);
    let (federations, sections, cells) = ((scale / 10).max(1), scale, scale * 3);
    let mut csv = String::from(HEADER);
    for n in 0..members {
        let cell = n % cells;
        let section = cell % sections;
        let federation = section % federations;
        let role = if n < sections { "Secrétaire de section" } else { "" };
        csv.push_str(&format!(
            "{n};Prénom{n};Nom{n};Fédération {federation:03};Section {section:03};Cellule {cell:03};{role};oui;@bench{n}:pcf.test\n"
        ));
    }
    csv
}

/// Registers `@bench0…` to `@bench<members-1>`, 8 at a time.
async fn register_all(synapse: &Synapse, members: usize) {
    let mut next = 0;
    while next < members {
        let batch: Vec<_> = (next..(next + 8).min(members)).map(|n| format!("bench{n}")).collect();
        futures_util::future::join_all(batch.iter().map(|l| synapse.register_plain(l))).await;
        next += batch.len();
    }
}

/// One side: a fresh Synapse (`workers` or one process) and Relais, the accounts, then the
/// timed import. Returns (seconds, homeserver actions done).
async fn import(workers: bool, csv: &str, members: usize) -> (f64, u64) {
    let mut relais = Relais::prepare(RelaisOptions::default());
    // Both on PostgreSQL, as a national deployment runs (workers need it; one process gets it too
    // so that the comparison is of the layouts, not of the databases).
    let database = (!workers).then(|| {
        Database::create("synapse_bench", "ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    });
    let extra = database.as_ref().map(|db| {
        format!(
            "database:\n  name: psycopg2\n  args: {{user: postgres, host: 127.0.0.1, port: 5432, database: \"{}\", cp_min: 1, cp_max: 10}}\n",
            db.name
        )
    });
    let synapse =
        Synapse::start_with(&relais.registration(), SynapseOptions { workers, extra, ..Default::default() })
            .await;
    relais.point_at(&synapse);
    relais.start().await;
    let stack = Stack { synapse, relais };
    register_all(&stack.synapse, members).await;
    let file = stack.relais.dir.path().join("members.csv");
    std::fs::write(&file, csv).expect("csv");
    let cpu_before = stack.synapse.cpu_seconds();
    let started = Instant::now();
    let (status, out, err) = stack.relais.cli(&["provision", &file.display().to_string(), "--json"]);
    let seconds = started.elapsed().as_secs_f64();
    let cpu = stack.synapse.cpu_seconds() - cpu_before;
    println!(
        "{}: homeserver processes used {cpu:.0} CPU seconds in {seconds:.0} s ({:.2} cores)",
        if workers { "workers" } else { "one process" },
        cpu / seconds
    );
    assert!(status.success(), "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("provision json");
    let failed = report["applied"]["failed"].as_array().map_or(0, Vec::len);
    assert_eq!(failed, 0, "{}", report["applied"]["failed"]);
    let done = report["applied"]["done"].as_u64().unwrap_or_default();
    drop(stack);
    drop(database);
    (seconds, done)
}

#[tokio::test]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn bench_import_one_process_vs_workers() {
    let members: usize =
        std::env::var("RELAIS_BENCH_MEMBERS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let csv = membership(members);
    let (one, actions) = import(false, &csv, members).await;
    println!(
        "one process: {members} members, {actions} actions in {one:.1} s ({:.0} actions/s)",
        actions as f64 / one
    );
    let (workers, actions_w) = import(true, &csv, members).await;
    println!(
        "workers: {members} members, {actions_w} actions in {workers:.1} s ({:.0} actions/s); workers / one process: {:.2}× the throughput",
        actions_w as f64 / workers,
        one / workers
    );
}
