//! Relais assembled from its configuration: the store, the bot's clients and encryption device,
//! both listeners, the features' workers — everything `relais serve` runs, built by one function
//! that the binary and the tests share.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use relais_appservice::{AppState, MatrixClient, Metrics};
use relais_core::{Config, Store};
use relais_provisioning::apply::Applier;

use crate::{
    commands::open_store,
    serve::{
        bind, bot_client, bot_device, drift_job, listener_limits, resume_interrupted_runs, self_check,
        serve_on, spawn_features,
    },
    supervise::Supervisor,
};

/// A running Relais: its listeners bound, its workers started under one [`Supervisor`].
#[derive(Debug)]
pub struct App {
    store: Store,
    tasks: Supervisor,
    stop: CancellationToken,
    /// Where the homeserver reaches the appservice (`[appservice] bind`, its port when 0).
    pub appservice_addr: SocketAddr,
    /// Where the pages answer (`[web] bind`).
    pub web_addr: SocketAddr,
}

impl App {
    /// Opens the store (migrating it), binds both listeners, opens the bot's encryption device
    /// when configured, and starts every worker the configuration enables.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let config = Arc::new(config);
        let store = open_store(&config).await?;
        let metrics = Arc::new(Metrics::default());
        let wakeup = Arc::new(Notify::new());
        let stop = CancellationToken::new();
        let mut tasks = Supervisor::new(metrics.clone());

        let state = Arc::new(AppState {
            config: config.clone(),
            store: store.clone(),
            metrics: metrics.clone(),
            new_events: wakeup.clone(),
            device_counts: Default::default(),
        });
        // Ports first (they are taken at once), then the bot's encryption device, then serving:
        // the device is ready before Relais answers anyone, so a member's client that sees
        // Relais up also finds the device's keys to encrypt for.
        let as_listener = bind("appservice", config.appservice.bind).await?;
        let web_listener = bind("web", config.web.bind).await?;
        let device = if config.dispatch.enabled {
            bot_device(&config, &MatrixClient::new(&config, metrics.clone())?).await?
        } else {
            None
        };
        let appservice = relais_appservice::router(state);
        let (as_limits, web_limits) = listener_limits(&config);
        let appservice_addr = serve_on(&mut tasks, "appservice", as_listener, appservice, as_limits, &stop)?;
        let web_state = Arc::new(
            relais_web::WebState::new(
                config.clone(),
                &store,
                // The ballot page edits a secret poll's turnout in its room: encrypted when the room is.
                bot_client(&config, &metrics, device.as_ref())?,
                Applier::for_deployment(&config, &store, "web:onboarding".into(), Default::default())?,
            )
            .map_err(anyhow::Error::msg)?,
        );
        let pages = relais_web::router(web_state);
        let web_addr = serve_on(&mut tasks, "web", web_listener, pages, web_limits, &stop)?;

        if config.dispatch.enabled {
            spawn_features(&mut tasks, &config, &store, &metrics, wakeup, device, &stop)?;
        } else {
            tracing::info!("dispatch disabled: this node only journals events");
        }
        // A provisioning run cut short by a crash (from the CLI, the referents' page, this node or
        // another sharing the database) resumes now, or once its lease expired.
        let resume = Applier::for_deployment(&config, &store, "serve:resume".into(), Default::default())?;
        tasks.spawn("provisioning resume", None, resume_interrupted_runs(resume, stop.clone()));
        if config.provisioning.drift_interval_minutes > 0 {
            let applier = Applier::for_deployment(&config, &store, "serve:drift".into(), Default::default())?;
            let every = Duration::from_secs(u64::from(config.provisioning.drift_interval_minutes) * 60);
            tasks.spawn("drift repair", None, drift_job(applier, every, stop.clone()));
        }
        crate::mail::spawn(&mut tasks, &config, &store, &metrics, &stop).await?;
        tracing::info!(appservice = %appservice_addr, web = %web_addr, "relais is serving");
        tokio::spawn(self_check(MatrixClient::new(&config, metrics.clone())?, config.appservice.id.clone()));
        Ok(Self { store, tasks, stop, appservice_addr, web_addr })
    }

    /// Serves until `stop` completes (a graceful stop: in-flight work finishes, the store is
    /// closed) or a worker fails (an error, so that the service manager restarts Relais).
    pub async fn run_until(mut self, stop: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
        let failure = tokio::select! {
            signal = stop => {
                signal?;
                None
            }
            failure = self.tasks.failure() => Some(failure),
        };
        match &failure {
            None => tracing::info!("stopping: finishing in-flight work"),
            Some(failure) => {
                tracing::error!(%failure, "stopping: a worker is down; the service manager restarts Relais")
            }
        }
        self.stop.cancel();
        self.tasks.drain().await;
        self.store.close().await;
        tracing::info!("stopped");
        match failure {
            None => Ok(()),
            Some(failure) => {
                Err(anyhow::anyhow!("{failure}; exiting so that the service manager restarts Relais"))
            }
        }
    }
}

#[cfg(test)]
mod tests;
