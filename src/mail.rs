//! The mail bridge wired into the binary: its workers in `relais serve`, and `relais mail …`.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use relais_appservice::{MatrixClient, Metrics, health::Heartbeat};
use relais_bots::poll::ballot_mail::BallotMail;
use relais_bridge::store::MailStore;
use relais_bridge::{
    digest,
    inbound::{listener, process::Inbound, smtp},
    lists,
    outbound::{render::Site, sent_journal::SentJournal, worker::Outbox},
};
use relais_core::{Config, Store};
use relais_mail::Mailer;
use relais_provisioning::directory::Directory;

/// Where mail links point and who digests come from.
pub fn site(config: &Config) -> anyhow::Result<Site> {
    let domain = config.mail.domain.clone().context("[mail] domain is not set")?;
    let web_url = ensure_slash(config.web.public_url.as_str());
    let element_url = match &config.mail.element_url {
        Some(url) => ensure_slash(url.as_str()),
        None => web_url.clone(),
    };
    let from = config
        .mail
        .from
        .parse()
        .with_context(|| format!("[mail] from = {:?} is not an address", config.mail.from))?;
    Ok(Site { domain, web_url, element_url, from })
}

fn ensure_slash(url: &str) -> String {
    if url.ends_with('/') { url.to_owned() } else { format!("{url}/") }
}

/// The SMTP client of the bridge (pooled, DKIM-signing when configured), if SMTP is configured.
pub fn mailer(config: &Config) -> anyhow::Result<Option<Mailer>> {
    let Some(url) = &config.mail.smtp_url else { return Ok(None) };
    let mut mailer = Mailer::pooled(url.expose(), &config.mail.from, config.mail.smtp_concurrency)?;
    if let (Some(selector), Some(file), Some(domain)) =
        (&config.mail.dkim_selector, &config.mail.dkim_key_file, &config.mail.domain)
    {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read [mail] dkim_key_file {}", file.display()))?;
        let dkim = relais_mail::dkim_config(selector, domain, &text).context("[mail] dkim_key_file")?;
        mailer = mailer.with_dkim(dkim);
    }
    Ok(Some(mailer))
}

/// The outbox worker, when the bridge is configured.
pub fn outbox(config: &Config, store: &Store) -> anyhow::Result<Option<Outbox>> {
    if !config.mail.bridge_enabled() {
        return Ok(None);
    }
    let Some(mailer) = mailer(config)? else { return Ok(None) };
    Ok(Some(Outbox {
        store: MailStore::new(store.clone()),
        mailer,
        keys: relais_bridge::keys::from_config(config),
        site: site(config)?,
        default_mode: config.mail.default_mode,
        concurrency: config.mail.smtp_concurrency as usize,
        bounce_limit: i64::from(config.mail.bounce_limit),
        media: Some(MatrixClient::new(config, Arc::new(Metrics::default()))?),
        max_attachment_bytes: config.mail.max_attachment_bytes,
        notices: vec![Arc::new(BallotMail::new(store, Arc::new(config.clone())))],
        journal: Some(Arc::new(
            SentJournal::open(&journal_path(config)).with_context(|| {
                format!("cannot open the mail journal {}", journal_path(config).display())
            })?,
        )),
    }))
}

/// Where this machine's journal of accepted deliveries lives: one file per database (a journal
/// names deliveries by their id in one database).
fn journal_path(config: &Config) -> std::path::PathBuf {
    use sha2::Digest;
    let url = config.database.url.expose();
    let tag = hex::encode(&sha2::Sha256::digest(url.as_bytes())[..6]);
    let name = format!("relais-mail-{tag}.journal");
    if let Some(dir) = &config.mail.spool_dir {
        return dir.join(name);
    }
    let sqlite_file = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"));
    match sqlite_file.map(|f| std::path::Path::new(f.split('?').next().unwrap_or(f))) {
        Some(file) => file.parent().unwrap_or(std::path::Path::new(".")).join(name),
        // The working directory (systemd: /var/lib/relais), never /tmp: a service's PrivateTmp
        // is wiped when it stops, which is exactly when the journal is needed.
        None => std::path::PathBuf::from(".").join(name),
    }
}

/// Starts the bridge's workers in `relais serve`: lists for provisioned rooms, the outbox, the
/// digest clock, the inbound worker and listener.
pub async fn spawn(
    tasks: &mut crate::supervise::Supervisor,
    config: &Arc<Config>,
    store: &Store,
    metrics: &Arc<Metrics>,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    let Some(outbox) = outbox(config, store)? else {
        tracing::info!("mail bridge off: set [mail] domain and smtp_url to mirror rooms by mail");
        return Ok(());
    };
    let created =
        lists::sync_provisioned(&MailStore::new(store.clone()), &Directory::new(store.clone())).await?;
    tracing::info!(created, "mail lists ready");
    let rx = stop.clone();
    // A pass sends a batch; each mail is bounded by the SMTP client's timeouts.
    let heartbeat = Heartbeat::new(metrics.clone(), "mail outbox");
    tasks.spawn("mail outbox", Some(Duration::from_secs(600)), async move {
        outbox.run(rx, heartbeat).await;
        Ok(())
    });
    let (store2, mail, rx) = (MailStore::new(store.clone()), config.mail.clone(), stop.clone());
    let heartbeat = Heartbeat::new(metrics.clone(), "mail digests");
    tasks.spawn("mail digests", Some(Duration::from_secs(600)), async move {
        digest::run(store2, mail, rx, heartbeat).await;
        Ok(())
    });
    let inbound = Inbound::new(
        store.clone(),
        MatrixClient::new(config, metrics.clone())?,
        relais_bridge::keys::from_config(config),
        config.clone(),
        mailer(config)?,
    );
    let rx = stop.clone();
    // Each mail is bounded: its attempt runs in its own task, a held mail is never retried.
    let heartbeat = Heartbeat::new(metrics.clone(), "mail inbound");
    // A batch of 32 mails against a slow homeserver (a minute of retries each) stays under this.
    tasks.spawn("mail inbound", Some(Duration::from_secs(2400)), async move {
        inbound.run(rx, heartbeat).await;
        Ok(())
    });
    if let Some(bind) = config.mail.inbound_bind {
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .with_context(|| format!("cannot listen on [mail] inbound_bind = {bind}"))?;
        let addr = listener.local_addr()?;
        let domain = config.mail.domain.clone().context("[mail] domain is not set")?;
        let server = listener::server_config(config, &domain);
        let delivery = Arc::new(listener::StoreDelivery::new(
            store.clone(),
            relais_bridge::keys::from_config(config),
            domain,
        ));
        let rx = stop.clone();
        tasks.spawn("mail listener", None, async move {
            let shutdown = rx.cancelled_owned();
            smtp::serve(listener, server, delivery, shutdown).await.context("mail listener")
        });
        tracing::info!(%addr, "mail listener ready");
    }
    Ok(())
}

/// `relais mail digest --now`: opens the daily and weekly digests and sends them.
pub async fn digest_now(config: &Config, store: &Store) -> anyhow::Result<()> {
    let outbox = outbox(config, store)?.context("the mail bridge needs [mail] domain and smtp_url")?;
    let mail = MailStore::new(store.clone());
    lists::sync_provisioned(&mail, &Directory::new(store.clone())).await?;
    let opened = digest::open_now(&mail, &config.mail).await?;
    for (digest, queued) in &opened {
        println!("{} digest: {queued} mail(s) queued", digest.mode.as_str());
    }
    if opened.is_empty() {
        println!("no new message since the last digests");
    }
    let stats = outbox.drain().await?;
    println!(
        "sent {}, deferred {}, failed {}, cancelled {}",
        stats.sent, stats.retried, stats.failed, stats.cancelled
    );
    Ok(())
}

/// `relais mail send`: sends what is due in the outbox now.
pub async fn send_now(config: &Config, store: &Store) -> anyhow::Result<()> {
    let outbox = outbox(config, store)?.context("the mail bridge needs [mail] domain and smtp_url")?;
    let stats = outbox.drain().await?;
    println!(
        "sent {}, deferred {}, failed {}, cancelled {}",
        stats.sent, stats.retried, stats.failed, stats.cancelled
    );
    Ok(())
}

/// `relais mail lists`: the lists and their addresses.
pub async fn show_lists(config: &Config, store: &Store) -> anyhow::Result<()> {
    let mail = MailStore::new(store.clone());
    lists::sync_provisioned(&mail, &Directory::new(store.clone())).await?;
    let domain = config.mail.domain.as_deref().unwrap_or("(no [mail] domain)");
    for list in mail.lists().await? {
        let state = if list.enabled { "on " } else { "off" };
        println!("{state} {}@{domain}\t{}\t{}", list.localpart, list.name, list.room_id);
    }
    let stats = mail.outbox_stats().await?;
    println!(
        "outbox: {} pending, {} sent, {} failed, {} cancelled; inbound: {} pending, {} held, \
         {} for postmaster (relais mail postmaster)",
        stats.pending,
        stats.sent,
        stats.failed,
        stats.cancelled,
        stats.inbound_pending,
        stats.inbound_held,
        stats.inbound_postmaster
    );
    Ok(())
}

/// `2026-11-30 13:02` (Paris time).
fn paris_time(utc_ms: i64) -> String {
    use relais_core::time::{DAY_MS, civil_from_days, paris_local_ms};
    let local = paris_local_ms(utc_ms);
    let (year, month, day) = civil_from_days(local.div_euclid(DAY_MS));
    let minutes = local.rem_euclid(DAY_MS) / 60_000;
    format!("{year}-{month:02}-{day:02} {:02}:{:02}", minutes / 60, minutes % 60)
}

/// Mail to postmaster printed at most at once.
const POSTMASTER_BATCH: i64 = 1000;

/// `relais mail postmaster`: prints the mail to postmaster kept for an operator; with `erase`,
/// deletes what it printed (and nothing that arrived meanwhile).
pub async fn show_postmaster(store: &MailStore, erase: bool) -> anyhow::Result<()> {
    let mails = store.postmaster(POSTMASTER_BATCH).await?;
    for mail in &mails {
        let sender = if mail.mail_from.is_empty() { "<>" } else { &mail.mail_from };
        println!(
            "===== mail {} received {} from {sender} for {}",
            mail.id,
            paris_time(mail.received_at),
            mail.rcpt
        );
        println!("{}", String::from_utf8_lossy(&mail.raw));
    }
    match (mails.last(), erase) {
        (None, _) => println!("no mail kept for postmaster"),
        (Some(last), true) => println!("{} mail(s) erased", store.postmaster_erase(last.id).await?),
        (Some(_), false) => println!("{} mail(s); --erase deletes them once read", mails.len()),
    }
    Ok(())
}
