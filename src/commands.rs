//! The short-lived commands: `migrate`, `ping`, `queue`.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use clap::Subcommand;

use relais_appservice::queue::IntakeQueue;
use relais_appservice::{ClientError, MatrixClient, Metrics};
use relais_core::{Config, Store};
use relais_provisioning::store::ProvisioningStore;

#[derive(Debug, Subcommand)]
pub enum QueueAction {
    /// Events by state (pending, failed, done).
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The failed events with the reason of their last failure.
    Failed,
    /// Put every failed event back in the queue.
    Retry,
}

pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    Store::open(config.database.url.expose(), config.database.max_connections)
        .await
        .context("opening the database named by [database] url")
}

pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    store.close().await;
    println!("Database schema is up to date.");
    Ok(())
}

pub async fn ping(config: &Config) -> anyhow::Result<()> {
    let client =
        MatrixClient::new(config, Arc::new(Metrics::default()))?.with_max_retry(Duration::from_secs(10));
    match client.ping_appservice(&config.appservice.id).await {
        Ok(rtt) => {
            println!("The homeserver reached Relais at {} in {} ms.", config.appservice.url, rtt.as_millis());
            Ok(())
        }
        Err(error) => Err(anyhow::anyhow!("{error}. {}", ping_hint(&error))),
    }
}

fn ping_hint(error: &ClientError) -> &'static str {
    use ruma::api::error::ErrorCode;
    match error.errcode() {
        Some(ErrorCode::UnknownToken | ErrorCode::Forbidden) => {
            "The homeserver does not know this as_token or appservice id: load the output of `relais registration` in Synapse's app_service_config_files and restart Synapse"
        }
        Some(ErrorCode::UrlNotSet) => "The registration has no url: regenerate it with `relais registration`",
        Some(ErrorCode::ConnectionFailed | ErrorCode::ConnectionTimeout) => {
            "The homeserver cannot reach [appservice] url: is `relais serve` running and is the url right?"
        }
        Some(ErrorCode::BadStatus) => {
            "Relais answered the homeserver with an error: check that hs_token matches the registration"
        }
        _ => "Check [homeserver] url and that Synapse is running",
    }
}

pub async fn queue(config: &Config, action: QueueAction) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    match action {
        QueueAction::Status { json } => {
            let s = store.queue_stats().await?;
            if json {
                println!("{{\"pending\":{},\"failed\":{},\"done\":{}}}", s.pending, s.failed, s.done);
            } else {
                println!("pending: {}\nfailed:  {}\ndone:    {}", s.pending, s.failed, s.done);
            }
        }
        QueueAction::Failed => {
            let failed = store.failed_events(100).await?;
            if failed.is_empty() {
                println!("No failed events.");
            }
            for (event, reason) in failed {
                println!(
                    "{} {} in {} after {} attempts: {reason}",
                    event.event_id, event.event_type, event.room_id, event.attempts
                );
            }
        }
        QueueAction::Retry => {
            let n = store.retry_failed().await?;
            println!("{n} failed events put back in the queue.");
        }
    }
    store.close().await;
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum MemberAction {
    /// Print, as JSON, everything Relais stores about a member (right of access), with what the
    /// homeserver keeps of their accounts (with `[homeserver] admin_token`).
    Export {
        /// The member id as in the membership file (N° adhérent).
        member_id: String,
    },
    /// Erase everything Relais stores about a member (right to erasure), and, with
    /// `[homeserver] admin_token`, deactivate and erase their Matrix accounts and their mail ghost
    /// on the homeserver. Messages others received stay on their devices.
    Forget { member_id: String },
}

pub async fn audit(config: &Config, limit: i64, json: bool) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    for e in ProvisioningStore::new(store.clone()).audit(limit).await? {
        if json {
            let line = serde_json::json!({"at": e.at, "actor": e.actor, "action": e.action, "target": e.target, "detail": e.detail});
            println!("{line}");
        } else {
            println!("{} {} {} {}: {}", e.at, e.actor, e.action, e.target, e.detail);
        }
    }
    store.close().await;
    Ok(())
}

/// `relais poll results EVENT_ID [--json|--csv]`.
pub async fn poll_results(config: &Config, event_id: &str, json: bool, csv: bool) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let poll = relais_bots::store::BotStore::new(store.clone())
        .poll(event_id)
        .await?
        .with_context(|| format!("no poll with the event id {event_id}"))?;
    let client = relais_appservice::MatrixClient::new(
        config,
        std::sync::Arc::new(relais_appservice::Metrics::default()),
    )?;
    let polls = relais_bots::poll::service::Polls::new(&store, client, std::sync::Arc::new(config.clone()));
    let (spec, result) = polls.count(&poll).await?.context("the poll's record is unreadable")?;
    store.close().await;
    if json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else if csv {
        println!("answer;count");
        for answer in &result.answers {
            println!("\"{}\";{}", answer.text.replace('"', "\"\""), answer.count);
        }
        println!(
            "\"(eligible)\";{}\n\"(voted)\";{}\n\"(ignored)\";{}",
            result.eligible, result.voted, result.ignored
        );
    } else {
        let state = if poll.closed_at.is_some() { "closed" } else { "open (count so far)" };
        println!("{} — {state}", spec.question);
        for answer in &result.answers {
            println!("  {:>5}  {}", answer.count, answer.text);
        }
        println!(
            "eligible {}, voted {}, ignored {}, quorum {}, winner {}",
            result.eligible,
            result.voted,
            result.ignored,
            if result.quorum_reached { "reached" } else { "not reached" },
            result.winner.as_deref().unwrap_or("none")
        );
    }
    Ok(())
}
