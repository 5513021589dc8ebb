//! `relais-bench`: measured figures for docs/benchmarks.md, never timing assertions in tests.

use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;

use relais_core::{Store, time::now_ms};
use relais_provisioning::store::{AuditEntry, ProvisioningStore};
use relais_provisioning::{
    apply::{effect_of, recorded},
    plan::{PlanOptions, Recorded, plan},
    reader::read,
    synth::{Shape, membership_file},
};

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: BenchWhat,
}

#[derive(Debug, Subcommand)]
enum BenchWhat {
    /// Print a synthetic membership file (CSV) of the given shape, for other benchmarks.
    MembershipFile {
        #[command(flatten)]
        shape: ShapeArgs,
        #[arg(long, default_value = "pcf.test")]
        server_name: String,
    },
    /// Acknowledge transactions over HTTP as Synapse sends them; events journaled per second.
    Intake {
        #[arg(long, default_value_t = 2000)]
        transactions: usize,
        #[arg(long, default_value_t = 50)]
        events: usize,
        /// Transactions in flight at once (Synapse sends one at a time per appservice; more
        /// models several homeservers or a backlog).
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// Store to journal into (default: a temporary SQLite file). Use an empty database.
        #[arg(long)]
        database: Option<String>,
    },
    /// Count a poll of this many voters (with vote changes and ineligible responses), pure and
    /// from the store.
    Poll {
        #[arg(long, default_value_t = 50_000)]
        voters: usize,
    },
    /// A list archive's page and searches over many rooms' messages, and the members without an
    /// account a poll's opening looks up among a national file.
    Archive {
        #[arg(long, default_value_t = 100_000)]
        messages: usize,
        #[arg(long, default_value_t = 100)]
        rooms: usize,
        #[arg(long, default_value_t = 50_000)]
        members: usize,
        /// Store (default: a temporary SQLite file). Use an empty database.
        #[arg(long)]
        database: Option<String>,
    },
    /// One large message through the SMTP listener, beside a bare loopback copy of its bytes.
    Listener {
        #[arg(long, default_value_t = 10)]
        mebibytes: usize,
        #[arg(long, default_value_t = 9)]
        rounds: usize,
    },
    /// Mail: fan-out to smtp-sink beside smtp-source, a daily digest, inbound parse+verify+queue.
    Mail(crate::bench_mail::MailBenchArgs),
    /// Parse, validate and plan a synthetic national file; record it; re-plan it unchanged.
    Provision {
        #[command(flatten)]
        shape: ShapeArgs,
        /// Store to record into (default: a temporary SQLite file). Use an empty database.
        #[arg(long)]
        database: Option<String>,
    },
}

/// The size of the synthetic party (national scale by default).
#[derive(Debug, Args)]
struct ShapeArgs {
    #[arg(long, default_value_t = Shape::NATIONAL.members)]
    members: usize,
    #[arg(long, default_value_t = Shape::NATIONAL.federations)]
    federations: usize,
    #[arg(long, default_value_t = Shape::NATIONAL.sections)]
    sections: usize,
    #[arg(long, default_value_t = Shape::NATIONAL.cells)]
    cells: usize,
}

impl From<ShapeArgs> for Shape {
    fn from(a: ShapeArgs) -> Self {
        Shape { members: a.members, federations: a.federations, sections: a.sections, cells: a.cells }
    }
}

/// Limits from the provisioning issue.
const PLAN_LIMIT_S: f64 = 2.0;
const MEMORY_LIMIT_MB: f64 = 300.0;
const REPLAN_LIMIT_S: f64 = 10.0;

/// Peak resident memory of this process so far (Linux `VmHWM`), in MB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let (shape, database) = match args.what {
        BenchWhat::MembershipFile { shape, server_name } => {
            print!("{}", membership_file(shape.into(), &server_name));
            return Ok(());
        }
        BenchWhat::Provision { shape, database } => (Shape::from(shape), database),
        BenchWhat::Intake { transactions, events, concurrency, database } => {
            return crate::bench_intake::run(transactions, events, concurrency, database).await;
        }
        BenchWhat::Mail(args) => return crate::bench_mail::run(args).await,
        BenchWhat::Listener { mebibytes, rounds } => {
            return crate::bench_listener::run(mebibytes, rounds).await;
        }
        BenchWhat::Poll { voters } => return crate::bench_poll::run(voters).await,
        BenchWhat::Archive { messages, rooms, members, database } => {
            return crate::bench_archive::run(messages, rooms, members, database).await;
        }
    };
    let Shape { members, federations, sections, cells } = shape;
    let file = membership_file(shape, "pcf.test");
    let baseline_mb = peak_rss_mb().unwrap_or(0.0);

    let started = Instant::now();
    let report = read(file.as_bytes())?;
    let read_s = started.elapsed().as_secs_f64();
    let options = PlanOptions {
        national_name: "PCF — national".into(),
        invitations: true,
        now_ms: now_ms(),
        scope: None,
        public: Default::default(),
        national_team: Vec::new(),
    };
    let first = plan(&report, &Recorded::default(), &options);
    let plan_s = started.elapsed().as_secs_f64();
    let peak_mb = peak_rss_mb().unwrap_or(0.0);

    let dir = tempfile::tempdir()?;
    let url =
        database.unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display()));
    let store = Store::open(&url, 4).await.context("opening the benchmark database")?;
    let started = Instant::now();
    let (journal_s, invitations_s) = record_all(&store, &first.actions).await?;
    let record_s = started.elapsed().as_secs_f64() - invitations_s;
    let actions = first.actions.len();
    drop(first);

    let started = Instant::now();
    let report = read(file.as_bytes())?;
    let snapshot = ProvisioningStore::new(store.clone()).snapshot().await?;
    let load_s = started.elapsed().as_secs_f64();
    let recorded = recorded(&snapshot);
    let decode_s = started.elapsed().as_secs_f64() - load_s;
    let again = plan(&report, &recorded, &options);
    let replan_s = started.elapsed().as_secs_f64();
    store.close().await;

    let out = json!({
        "members": members, "federations": federations, "sections": sections, "cells": cells,
        "file_bytes": file.len(),
        "rows_with_errors": report.errors.len(),
        "plan_seconds": plan_s, "plan_ratio_to_limit": plan_s / PLAN_LIMIT_S, "of_which_read_seconds": read_s,
        "actions": actions,
        "peak_rss_mb": peak_mb, "baseline_rss_mb": baseline_mb, "peak_ratio_to_limit": peak_mb / MEMORY_LIMIT_MB,
        "record_seconds": record_s, "invitations_issued_seconds": invitations_s,
        "of_which_journal_seconds": journal_s,
        "replan_seconds": replan_s, "replan_ratio_to_limit": replan_s / REPLAN_LIMIT_S,
        "replan_read_and_load_seconds": load_s, "replan_decode_seconds": decode_s,
        "replan_actions": again.actions.len(),
        "backend": if url.starts_with("sqlite") { "sqlite" } else { "postgres" },
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    anyhow::ensure!(again.actions.is_empty(), "re-planning the unchanged file produced actions");
    Ok(())
}

/// Records every action as done, as an apply against an agreeing homeserver would; returns the
/// seconds spent journaling them, and issuing invitations (one transaction each, as the mail
/// they go with is sent).
async fn record_all(
    store: &Store,
    actions: &[relais_provisioning::plan::Action],
) -> anyhow::Result<(f64, f64)> {
    let journal = relais_provisioning::plan::Action::journal(actions);
    let fence = relais_core::store::testing::fence(store, relais_provisioning::store::LEASE).await;
    let run = relais_provisioning::store::NewRun::new("bench", "synthetic");
    let journaling = Instant::now();
    let run_id = ProvisioningStore::new(store.clone()).start_run(&fence, &run, &journal).await?;
    let journal_s = journaling.elapsed().as_secs_f64();
    let invitations = Instant::now();
    for a in actions {
        if let relais_provisioning::plan::Action::SendInvitation { member_id, .. } = a {
            ProvisioningStore::new(store.clone())
                .issue_invitation(&fence, member_id, &format!("bench-{member_id}"), i64::MAX)
                .await?;
        }
    }
    let invitations_s = invitations.elapsed().as_secs_f64();
    for (chunk_index, chunk) in actions.chunks(1000).enumerate() {
        let done: Vec<_> = chunk
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let seq = i64::try_from(chunk_index * 1000 + i).unwrap_or(i64::MAX);
                let room_id = format!("!bench-{}:pcf.test", a.room().unwrap_or_default());
                let audit = AuditEntry {
                    at: now_ms(),
                    actor: "bench".into(),
                    action: a.kind().into(),
                    target: String::new(),
                    detail: String::new(),
                };
                (run_id, seq, Some(effect_of(a, &room_id)), audit)
            })
            .collect();
        ProvisioningStore::new(store.clone()).complete(&fence, &done).await?;
    }
    Ok((journal_s, invitations_s))
}
