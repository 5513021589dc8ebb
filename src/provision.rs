//! `relais provision FILE`: the membership file reconciled into the homeserver.
//!
//! Both `provision` and `drift` hold the provisioning lease: when another run holds it (another
//! operator, `relais serve`'s drift timer, a referent's import), they wait for it with a
//! message on stderr, at most `--wait` seconds, or until Ctrl-C.

use std::{
    path::PathBuf,
    process::ExitCode,
    sync::{Arc, atomic::AtomicUsize},
    time::Duration,
};

use std::io::Write;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use tokio::signal::unix::{Signal, SignalKind, signal};

use relais_core::{Config, store::lease::Lease};
use relais_provisioning::{
    apply::{Applier, ApplyReport},
    run::{Options, Outcome, provision},
};

use crate::commands::open_store;

#[derive(Debug, Args)]
pub struct ProvisionArgs {
    /// The membership file (CSV export of the member-management software).
    file: PathBuf,
    /// Show the plan; change nothing anywhere.
    #[arg(long)]
    dry_run: bool,
    /// Print one JSON object (errors, actions, summary) instead of text.
    #[arg(long)]
    json: bool,
    /// Apply even if the plan removes more active members than [provisioning] max_removal_percent.
    #[arg(long)]
    force: bool,
    /// The file is this federation's own export: members of other federations are left as they are.
    #[arg(long, value_name = "NAME")]
    federation: Option<String>,
    /// While another provisioning run is in progress, wait at most this long for it (default:
    /// until it ends; Ctrl-C gives up).
    #[arg(long, value_name = "SECONDS")]
    wait: Option<u64>,
}

/// Exit status when the safety guard refused the plan.
const REFUSED: u8 = 2;
/// Exit status when some actions could not be applied.
const PARTIAL: u8 = 3;
/// Exit status when another provisioning run was still in progress at the end of `--wait`.
const BUSY: u8 = 4;
/// Exit status after Ctrl-C.
const INTERRUPTED: u8 = 130;

/// Takes the provisioning lease, waiting for the run that holds it at most `wait` seconds, or
/// until `interrupted` (Ctrl-C). `Err(status)`: gave up, nothing done, the reason printed.
async fn lock(
    applier: &Applier,
    wait: Option<u64>,
    interrupted: &mut Signal,
) -> anyhow::Result<Result<Lease, ExitCode>> {
    let waiting = |holder: &str| {
        let limit = wait.map(|s| format!(" at most {s} s")).unwrap_or_default();
        eprintln!(
            "Another provisioning run is in progress ({holder}); waiting{limit} for it to finish \
             (Ctrl-C to give up)…"
        );
    };
    tokio::select! {
        lease = applier.lock(wait.map(Duration::from_secs), waiting) => {
            match lease.context("taking the provisioning lease")? {
                Some(lease) => Ok(Ok(lease)),
                None => {
                    eprintln!(
                        "Another provisioning run is still in progress: nothing was done. Try again \
                         once it has finished (its progress is in `relais audit`)."
                    );
                    Ok(Err(ExitCode::from(BUSY)))
                }
            }
        }
        Some(()) = interrupted.recv() => {
            eprintln!("Interrupted while waiting for another provisioning run: nothing was done.");
            Ok(Err(ExitCode::from(INTERRUPTED)))
        }
    }
}

/// Takes the lease as [`lock`] does, runs `work` under it, then gives it up. `Err(status)`:
/// gave up waiting, or interrupted by Ctrl-C (what was applied is recorded, the rest of the
/// journal resumes with the next run).
async fn leased<T>(
    applier: &Applier,
    wait: Option<u64>,
    work: impl AsyncFnOnce(&Lease) -> T,
) -> anyhow::Result<Result<T, ExitCode>> {
    // One listener, registered at once, for both waits: a Ctrl-C between taking the lease and
    // starting the work is not lost.
    let mut interrupted = signal(SignalKind::interrupt()).context("listening for Ctrl-C")?;
    let lease = match lock(applier, wait, &mut interrupted).await? {
        Ok(lease) => lease,
        Err(status) => return Ok(Err(status)),
    };
    let outcome = tokio::select! {
        outcome = work(&lease) => Some(outcome),
        Some(()) = interrupted.recv() => None,
    };
    if let Err(error) = lease.release().await {
        let ttl = applier.lease_ttl.as_secs();
        eprintln!("Cannot release the provisioning lease ({error}); it expires within {ttl} s.");
    }
    Ok(outcome.ok_or_else(|| {
        eprintln!(
            "Interrupted: what was applied is recorded; the rest is journaled and finished by `relais serve` \
             (within half a lease) or by the next run."
        );
        ExitCode::from(INTERRUPTED)
    }))
}

pub async fn run(config: &Config, args: ProvisionArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read the membership file {}", args.file.display()))?;
    let store = open_store(config).await?;
    let progress = Arc::new(AtomicUsize::new(0));
    let applier = Applier::for_deployment(config, &store, cli_actor(), progress.clone())?;
    let options = Options {
        dry_run: args.dry_run,
        force: args.force,
        accept_missing_columns: args.force,
        max_removal_percent: config.provisioning.max_removal_percent,
        national_name: config.provisioning.national_name.clone(),
        public: config.public.clone(),
        national_team: config.provisioning.national_team.clone(),
        invitations: config.invitations_enabled(),
        federation: args.federation.clone(),
        source: args.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
    };
    let ticker = (!args.json).then(|| tokio::spawn(show_progress(progress)));
    let outcome =
        leased(&applier, args.wait, async |lease| provision(&bytes, &applier, &options, lease).await).await;
    if let Some(ticker) = ticker {
        ticker.abort();
    }
    store.close().await;
    let outcome = match outcome? {
        Ok(outcome) => outcome.context("provisioning")?,
        Err(status) => return Ok(status),
    };
    if args.json {
        write_json(&outcome, args.dry_run, std::io::stdout().lock())?;
    } else {
        print_text(&outcome, config, args.dry_run);
    }
    Ok(if outcome.refused {
        ExitCode::from(REFUSED)
    } else if outcome.applied.iter().chain(&outcome.resumed).any(|r| !r.failed.is_empty()) {
        ExitCode::from(PARTIAL)
    } else {
        ExitCode::SUCCESS
    })
}

/// Who runs a CLI command, for the audit log.
pub fn cli_actor() -> String {
    format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into()))
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Show what differs; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// While another provisioning run is in progress, wait at most this long for it (default:
    /// until it ends; Ctrl-C gives up).
    #[arg(long, value_name = "SECONDS")]
    wait: Option<u64>,
}

pub async fn drift(config: &Config, args: DriftArgs) -> anyhow::Result<ExitCode> {
    let store = open_store(config).await?;
    let applier = Applier::for_deployment(config, &store, cli_actor(), Arc::new(AtomicUsize::new(0)))?;
    let outcome = leased(&applier, args.wait, async |lease| {
        relais_provisioning::run::drift(&applier, args.dry_run, lease).await
    })
    .await;
    store.close().await;
    let outcome = match outcome? {
        Ok(outcome) => outcome.context("checking drift")?,
        Err(status) => return Ok(status),
    };
    let r = &outcome.report;
    if args.json {
        let out = json!({
            "actions": r.actions, "guests": r.guests, "respected": r.respected, "dry_run": args.dry_run,
            "applied": outcome.applied.as_ref().map(report_json),
        });
        println!("{out}");
    } else {
        println!(
            "Drift: {} repairs needed; {} guests not in the membership file left alone; {} members who left or were banned respected.",
            r.actions.len(),
            r.guests,
            r.respected
        );
        for a in &r.actions {
            let (target, detail) = relais_provisioning::apply::describe(a);
            println!("  {} {target}: {detail}", a.kind());
        }
        if let Some(applied) = &outcome.applied {
            println!("Repaired: {} actions done, {} failed.", applied.done, applied.failed.len());
        }
    }
    let failed = outcome.applied.is_some_and(|a| !a.failed.is_empty());
    Ok(if failed { ExitCode::from(PARTIAL) } else { ExitCode::SUCCESS })
}

async fn show_progress(progress: Arc<AtomicUsize>) {
    let mut last = 0;
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = progress.load(std::sync::atomic::Ordering::Relaxed);
        if now != last {
            eprintln!("… {now} actions applied");
            last = now;
        }
    }
}

fn report_json(report: &ApplyReport) -> serde_json::Value {
    json!({
        "done": report.done,
        "failed": report.failed.iter().map(|(what, error)| json!({"action": what, "error": error})).collect::<Vec<_>>(),
    })
}

/// The plan as one JSON object, written as it is serialized: at national scale its ~230,000
/// actions are tens of megabytes, never built in memory as a second copy.
#[derive(serde::Serialize)]
struct PlanJson<'a> {
    errors: &'a [relais_provisioning::model::RowError],
    actions: &'a [relais_provisioning::plan::Action],
    summary: std::collections::BTreeMap<&'static str, usize>,
    rows: usize,
    recorded_active: usize,
    removed_active: usize,
    losing_access: usize,
    awaiting_account: usize,
    kept_out: usize,
    dry_run: bool,
    refused: bool,
    resumed: Option<serde_json::Value>,
    applied: Option<serde_json::Value>,
}

fn write_json(outcome: &Outcome, dry_run: bool, out: impl std::io::Write) -> anyhow::Result<()> {
    let plan = &outcome.plan;
    let json = PlanJson {
        errors: &outcome.report.errors,
        actions: &plan.actions,
        summary: plan.summary(),
        rows: outcome.report.rows.len(),
        recorded_active: plan.recorded_active,
        removed_active: plan.removed_active,
        losing_access: plan.losing_access,
        awaiting_account: plan.awaiting_account,
        kept_out: plan.kept_out,
        dry_run,
        refused: outcome.refused,
        resumed: outcome.resumed.as_ref().map(report_json),
        applied: outcome.applied.as_ref().map(report_json),
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    serde_json::to_writer(&mut out, &json).context("writing the plan")?;
    out.write_all(b"\n").context("writing the plan")?;
    out.flush().context("writing the plan")?;
    Ok(())
}

fn print_text(outcome: &Outcome, config: &Config, dry_run: bool) {
    let r = &outcome.report;
    println!(
        "Read {} member rows ({:?}, separator '{}'); {} rows with errors.",
        r.rows.len(),
        r.encoding,
        r.separator.escape_default(),
        r.errors.len()
    );
    if !r.ignored_columns.is_empty() {
        println!("Ignored columns (never stored): {}", r.ignored_columns.join(", "));
    }
    for e in &r.errors {
        println!("  line {}: {}", e.line, e.message);
    }
    if let Some(resumed) = &outcome.resumed {
        println!(
            "Finished an interrupted run first: {} actions done, {} failed.",
            resumed.done,
            resumed.failed.len()
        );
    }
    let summary = outcome.plan.summary();
    if summary.is_empty() {
        println!("Plan: nothing to do, the homeserver already matches the file.");
    } else {
        let parts: Vec<String> = summary.iter().map(|(k, n)| format!("{n} {k}")).collect();
        println!("Plan: {}.", parts.join(", "));
    }
    let p = &outcome.plan;
    println!(
        "Losing access: {} of {} active members (limit {} %), of whom {} lapsed or left. \
         Active members without a Matrix account: {}.",
        p.losing_access,
        p.recorded_active,
        config.provisioning.max_removal_percent,
        p.removed_active,
        p.awaiting_account
    );
    if p.kept_out > 0 {
        println!(
            "Kept out: {} member(s) the file lets into rooms a moderator banned them from (not invited; \
             a moderator lifts a ban with !débannir).",
            p.kept_out
        );
    }
    if outcome.refused {
        println!(
            "REFUSED: more than {} % of active members would lose a room, a space, a moderator right \
             or a subscription. Nothing was changed. Check the export is complete (renamed federations, \
             sections or columns); if the changes are intended, run again with --force.",
            config.provisioning.max_removal_percent
        );
    } else if dry_run {
        println!("Dry run: nothing was changed.");
    }
    if let Some(applied) = &outcome.applied {
        println!("Applied: {} actions done, {} failed.", applied.done, applied.failed.len());
        for (what, error) in &applied.failed {
            println!("  failed: {what}: {error}");
        }
    }
}
