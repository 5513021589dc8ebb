//! `relais serve`: [`App`] with the process's stop signals (SIGTERM or Ctrl-C: a graceful
//! stop), and the long-running jobs it starts — the features' dispatcher, the bots' clock,
//! drift repair, the resumption of an interrupted provisioning run.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use axum::Router;
use tokio::{net::TcpListener, sync::Notify};
use tokio_util::sync::CancellationToken;

use relais_appservice::{Dispatcher, EventHandler, MatrixClient, Metrics};
use relais_bots::BotHandler;
use relais_bridge::BridgeHandler;
use relais_core::{Config, store::lease::Lease};
use relais_provisioning::apply::Applier;

use crate::{app::App, http::HttpLimits, supervise::Supervisor};

/// How soon a drift round postponed by another provisioning run is tried again.
const DRIFT_BUSY_RETRY: Duration = Duration::from_secs(300);

/// How long the bots' clock may go without a pass (closing a large poll takes a while).
const CLOCK_MAX_SILENCE: Duration = Duration::from_secs(600);

pub async fn run(config: Config) -> anyhow::Result<()> {
    App::build(config).await?.run_until(wait_for_stop_signal()).await
}

/// Finishes provisioning runs cut short by a crash — this node's at start, another node's or
/// a killed CLI's as soon as their lease expired — under the provisioning lease: checks at start
/// and then every half lease. While another run holds the lease, that run finishes the journal
/// itself; a run that was killed holds it until it expires, and then this one takes over.
pub(crate) async fn resume_interrupted_runs(applier: Applier, stop: CancellationToken) -> anyhow::Result<()> {
    let every = (applier.lease_ttl / 2).clamp(Duration::from_secs(1), Duration::from_secs(30));
    let mut told = false;
    loop {
        resume_once(&applier, &mut told).await;
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = stop.cancelled() => return Ok(()),
        }
    }
}

async fn resume_once(applier: &Applier, told: &mut bool) {
    match applier.records().has_pending().await {
        Ok(true) => {}
        Ok(false) => {
            *told = false;
            return;
        }
        Err(error) => {
            tracing::warn!(%error, "cannot look for an interrupted provisioning run; will look again");
            return;
        }
    }
    let lease = match applier.try_lock().await {
        Ok(Some(lease)) => lease,
        Ok(None) => {
            if !*told {
                *told = true;
                tracing::info!(
                    "a provisioning run has pending actions and holds the lease: resuming only if it stops"
                );
            }
            return;
        }
        Err(error) => {
            tracing::warn!(%error, "cannot take the provisioning lease; will try again");
            return;
        }
    };
    let outcome = applier.finish_pending(&lease).await;
    lease.release_or_expire().await;
    match outcome {
        Ok(report) if report.done + report.failed.len() > 0 => {
            tracing::info!(
                done = report.done,
                failed = report.failed.len(),
                "finished an interrupted provisioning run"
            );
        }
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(%error, "could not finish an interrupted provisioning run; will try again")
        }
    }
}

/// The dispatcher with the features' handlers, the bot's encrypted device when configured, and
/// the bots' clock (poll deadlines, scheduled broadcasts).
pub(crate) fn spawn_features(
    tasks: &mut Supervisor,
    config: &Arc<Config>,
    store: &relais_core::Store,
    metrics: &Arc<Metrics>,
    wakeup: Arc<Notify>,
    device: Option<Arc<relais_e2ee::BotDevice>>,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    let client = bot_client(config, metrics, device.as_ref())?;
    let mut handlers: Vec<Arc<dyn EventHandler>> = Vec::new();
    if let Some(device) = device {
        handlers.push(Arc::new(relais_e2ee::DeviceHandler::new(device, store.clone(), wakeup.clone())));
    }
    handlers.push(Arc::new(BotHandler::new(client.clone(), config.clone(), store.clone())));
    if config.mail.bridge_enabled() {
        handlers.push(Arc::new(BridgeHandler::new(store.clone(), client.clone(), config.clone())));
    }
    let dispatcher =
        Dispatcher::new(store.clone(), handlers, metrics.clone(), config.dispatch.clone(), wakeup);
    let rx = stop.clone();
    // Past two leases, its events are someone else's: it is stuck.
    let silence = Duration::from_secs(2 * u64::from(config.dispatch.lease_seconds).max(30));
    tasks.spawn(relais_appservice::dispatch::WORKER, Some(silence), async move {
        dispatcher.run(rx).await;
        Ok(())
    });
    let polls = relais_bots::poll::service::Polls::new(store, client.clone(), config.clone());
    let broadcasts = relais_bots::broadcast::Broadcasts::new(store, client.clone(), config.clone());
    let moderation = relais_bots::moderation::Moderation::new(store, client.clone(), config.clone());
    let themes = relais_bots::theme::Themes::new(store, client, config.clone());
    let clock = BotClock { polls, broadcasts, moderation, themes };
    tasks.spawn(CLOCK, Some(CLOCK_MAX_SILENCE), bot_clock(clock, metrics.clone(), stop.clone()));
    Ok(())
}

/// The client the bot speaks with: through its encryption device into encrypted rooms, when it
/// has one.
pub(crate) fn bot_client(
    config: &Config,
    metrics: &Arc<Metrics>,
    device: Option<&Arc<relais_e2ee::BotDevice>>,
) -> anyhow::Result<MatrixClient> {
    let client = MatrixClient::new(config, metrics.clone())?;
    Ok(match device {
        Some(device) => client.with_encryption(device.clone()),
        None => client,
    })
}

/// Opens the bot's end-to-end-encryption device (`[bots] e2ee_dir`); `None` when none is
/// configured.
pub(crate) async fn bot_device(
    config: &Arc<Config>,
    client: &MatrixClient,
) -> anyhow::Result<Option<Arc<relais_e2ee::BotDevice>>> {
    if config.bots.e2ee_dir.is_none() {
        tracing::info!("no [bots] e2ee_dir: the bot cannot read or answer in encrypted rooms");
        return Ok(None);
    }
    let device = relais_e2ee::BotDevice::open(config, client)
        .await
        .context("opening the bot's encrypted device ([bots] e2ee_dir)")?;
    Ok(Some(device))
}

/// Asks the homeserver to ping us once we listen, so a wrong registration, token or URL shows
/// in the log at start rather than as silence later.
pub(crate) async fn self_check(client: MatrixClient, appservice_id: String) {
    match client.with_max_retry(Duration::from_secs(120)).ping_appservice(&appservice_id).await {
        Ok(rtt) => tracing::info!(rtt_ms = rtt.as_millis() as u64, "the homeserver reaches this appservice"),
        Err(error) => tracing::warn!(
            %error,
            "the homeserver could not ping this appservice: check the registration Synapse loaded \
             (`relais registration`), the tokens and [appservice] url; `relais ping` retries"
        ),
    }
}

const CLOCK: &str = "bots' clock";

/// What the bots do at each tick.
struct BotClock {
    polls: relais_bots::poll::service::Polls,
    broadcasts: relais_bots::broadcast::Broadcasts,
    moderation: relais_bots::moderation::Moderation,
    themes: relais_bots::theme::Themes,
}

/// Closes polls at their deadline (reminding rooms before it), sends scheduled broadcasts,
/// finishes the corrections of sent ones and the moderation actions a crash interrupted, lifts
/// mutes and makes the thematic rooms an import delayed.
async fn bot_clock(clock: BotClock, metrics: Arc<Metrics>, stop: CancellationToken) -> anyhow::Result<()> {
    let BotClock { polls, broadcasts, moderation, themes } = clock;
    loop {
        metrics.workers.beat(CLOCK);
        let now = relais_core::time::now_ms();
        if let Err(error) = polls.tick(now).await {
            tracing::warn!(%error, "poll deadlines: will try again");
        }
        if let Err(error) = broadcasts.deliver_due(now).await {
            tracing::warn!(%error, "scheduled broadcasts: will try again");
        }
        if let Err(error) = broadcasts.correct_due().await {
            tracing::warn!(%error, "corrections of broadcasts: will try again");
        }
        if let Err(error) = moderation.carry_out(None).await {
            tracing::warn!(%error, "moderation actions: will try again");
        }
        if let Err(error) = moderation.publish_pending().await {
            tracing::warn!(%error, "the policy list: will try again");
        }
        if let Err(error) = moderation.lift_mutes().await {
            tracing::warn!(%error, "lifting mutes: will try again");
        }
        if let Err(error) = themes.realize_pending().await {
            tracing::warn!(%error, "thematic rooms: will try again");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            () = stop.cancelled() => return Ok(()),
        }
    }
}

/// Repairs drift every `every`, skipping a round when another provisioning run holds the lease
/// or another worker did it recently.
pub(crate) async fn drift_job(
    applier: Applier,
    every: Duration,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    // A round the lease kept from running is tried again soon, not a whole interval later.
    let busy_retry = every.min(DRIFT_BUSY_RETRY);
    let mut wait = every;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            () = stop.cancelled() => return Ok(()),
        }
        wait = busy_retry;
        let lease = match applier.try_lock().await {
            Ok(Some(lease)) => lease,
            Ok(None) => {
                tracing::info!("drift check postponed: another provisioning run is in progress");
                continue;
            }
            Err(error) => {
                tracing::warn!(%error, "drift check postponed: cannot take the provisioning lease");
                continue;
            }
        };
        drift_round(&applier, every, &lease).await;
        lease.release_or_expire().await;
        wait = every;
    }
}

/// One drift check and repair, under the provisioning lease, unless one was done recently.
async fn drift_round(applier: &Applier, every: Duration, lease: &Lease) {
    let window = i64::try_from(every.as_millis()).unwrap_or(i64::MAX) / 2;
    let recent = applier.records().runs(50).await.map(|runs| {
        runs.iter().any(|r| r.source == "drift" && r.started_at > relais_core::time::now_ms() - window)
    });
    if recent.unwrap_or(false) {
        return;
    }
    match relais_provisioning::run::drift(applier, false, lease).await {
        Ok(outcome) => tracing::info!(
            repairs = outcome.report.actions.len(),
            guests = outcome.report.guests,
            "drift check done"
        ),
        Err(error) => tracing::warn!(%error, "drift check failed; will try again"),
    }
}

/// The bounds of the appservice listener, then of the web listener.
pub(crate) fn listener_limits(config: &Config) -> (HttpLimits, HttpLimits) {
    // The homeserver keeps a few connections; the rest is room for probes and scrapes.
    let appservice = HttpLimits {
        max_connections: 256,
        header_timeout: Duration::from_secs(30),
        write_timeout: Duration::from_secs(60),
    };
    let web = HttpLimits {
        max_connections: usize::try_from(config.web.max_connections).unwrap_or(usize::MAX),
        header_timeout: Duration::from_secs(config.web.header_timeout_seconds),
        write_timeout: Duration::from_secs(config.web.body_timeout_seconds),
    };
    (appservice, web)
}

/// Binds `addr` for `what` (the port is ours from here on; serving starts with [`serve_on`]).
pub(crate) async fn bind(what: &'static str, addr: std::net::SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| format!("cannot listen on [{what}] bind = {addr}"))
}

/// Serves `app` on `listener` until the stop signal; returns the bound address.
pub(crate) fn serve_on(
    tasks: &mut Supervisor,
    what: &'static str,
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    stop: &CancellationToken,
) -> anyhow::Result<std::net::SocketAddr> {
    let bound = listener.local_addr()?;
    let stop = stop.clone();
    tasks.spawn(what, None, async move {
        crate::http::serve(listener, app, limits, stop).await.with_context(|| format!("{what} listener"))
    });
    Ok(bound)
}

async fn wait_for_stop_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("waiting for Ctrl-C"),
        _ = term.recv() => Ok(()),
    }
}
