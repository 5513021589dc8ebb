//! `relais bench mail`: fan-out, digest and inbound figures for docs/benchmarks.md.
//!
//! Fan-out is compared, in the same run, with Postfix's `smtp-source` sending the same number of
//! messages of the same size to the same `smtp-sink` with the same parallelism.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context;
use clap::Args;
use serde_json::json;

use relais_bridge::outbound::{
    render::{self, Recipient, Site},
    worker::Outbox,
};
use relais_bridge::store::{MailList, MailMessage, MailStore};
use relais_core::{Store, config::DeliveryMode, time::now_ms};
use relais_mail::Mailer;
use relais_maildomain::{
    examine::{AuthPolicy, Examined, examine},
    keys::Keys,
};
use relais_provisioning::store::{Effect, ProvisioningStore, RoomRecord};

#[derive(Debug, Args)]
pub struct MailBenchArgs {
    /// Subscribers of the list.
    #[arg(long, default_value_t = 10_000)]
    subscribers: usize,
    /// Messages in the daily digest.
    #[arg(long, default_value_t = 200)]
    digest_messages: usize,
    /// SMTP sessions in parallel (Relais's smtp_concurrency and smtp-source's -s).
    #[arg(long, default_value_t = 8)]
    concurrency: u32,
    /// Replies parsed, verified and queued.
    #[arg(long, default_value_t = 5_000)]
    inbound: usize,
}

const ROOM: &str = "!bench-section:pcf.test";
const DOMAIN: &str = "listes.pcf.test";

struct Sink(Child);

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Postfix's smtp-sink on a fresh port, accepting and discarding everything.
fn start_sink() -> anyhow::Result<(Sink, u16)> {
    let port = free_port()?;
    let mut cmd = Command::new("smtp-sink");
    // smtp-sink refuses to run as root without a user to switch to.
    if std::env::var("USER").as_deref() == Ok("root") || unsafe_is_root() {
        cmd.args(["-u", "nobody"]);
    }
    let child = cmd
        .args([&format!("127.0.0.1:{port}"), "1024"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start smtp-sink: install Debian's postfix package (scripts/bench-mail.sh does)")?;
    let sink = Sink(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "smtp-sink did not start listening");
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((sink, port))
}

/// Whether this process runs as root (uid 0), read from /proc to avoid unsafe code.
fn unsafe_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

async fn seed(store: &Store, subscribers: usize) -> anyhow::Result<()> {
    let room = Effect::Room(RoomRecord {
        key: "bench.s.lille".into(),
        kind: "section".into(),
        name: "Section Lille (Bench)".into(),
        parent_key: None,
        room_id: ROOM.into(),
        moderators: "[]".into(),
    });
    ProvisioningStore::new(store.clone()).seed(&[room]).await?;
    for chunk in (0..subscribers).collect::<Vec<_>>().chunks(1000) {
        let mut done = Vec::new();
        for &i in chunk {
            let member_id = format!("{}", 100_000 + i);
            let record = json!({"first_name": "Membre", "last_name": format!("N{i}")}).to_string();
            let email = Some(format!("membre{i}@bench.example"));
            let member = Effect::Member {
                member_id: member_id.clone(),
                record,
                active: true,
                matrix_id: None,
                email,
                rooms: Default::default(),
            };
            let subscribe = Effect::Subscribe { room_key: "bench.s.lille".into(), member_id };
            done.push(member);
            done.push(subscribe);
        }
        ProvisioningStore::new(store.clone()).seed(&done).await?;
    }
    MailStore::new(store.clone())
        .list_upsert(&MailList {
            room_id: ROOM.into(),
            localpart: "nord-lille".into(),
            name: "Section Lille (Bench)".into(),
            room_key: Some("bench.s.lille".into()),
            enabled: true,
        })
        .await?;
    Ok(())
}

fn message(n: usize) -> MailMessage {
    MailMessage {
        event_id: format!("$bench{n}"),
        room_id: ROOM.into(),
        sender_name: "Paul Durand".into(),
        kind: "text".into(),
        body: format!(
            "Message {n} : la réunion de section se tient jeudi à 18h au local, 12 rue de la Paix. \
             Ordre du jour : élections, préparation de la fête de l'Huma, tractage du marché.\n\n\
             Merci de confirmer votre présence."
        ),
        origin_ts: now_ms(),
        ..MailMessage::default()
    }
}

fn site() -> anyhow::Result<Site> {
    Ok(Site {
        domain: DOMAIN.into(),
        web_url: "https://messagerie.pcf.test/".into(),
        element_url: "https://messagerie.pcf.test/".into(),
        from: "Relais <relais@listes.pcf.test>".parse()?,
    })
}

/// smtp-source sending `count` messages of `size` bytes with `sessions` in parallel.
fn smtp_source(port: u16, count: usize, size: usize, sessions: u32) -> anyhow::Result<f64> {
    let start = Instant::now();
    let status = Command::new("smtp-source")
        .args(["-m", &count.to_string(), "-s", &sessions.to_string(), "-l", &size.to_string()])
        .args(["-f", "relais@listes.pcf.test", "-t", "membre@bench.example"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .status()
        .context("cannot run smtp-source (Debian's postfix package)")?;
    anyhow::ensure!(status.success(), "smtp-source failed");
    Ok(start.elapsed().as_secs_f64())
}

pub async fn run(args: MailBenchArgs) -> anyhow::Result<()> {
    let (_sink, port) = start_sink()?;
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display());
    let store = Store::open(&url, 8).await?;
    seed(&store, args.subscribers).await?;
    let keys = Keys::new(b"bench secret");
    let mailer = Mailer::pooled(
        &format!("smtp://127.0.0.1:{port}"),
        "Relais <relais@listes.pcf.test>",
        args.concurrency,
    )?;
    let mail = MailStore::new(store.clone());
    let outbox = Outbox {
        store: mail.clone(),
        mailer,
        keys: keys.clone(),
        site: site()?,
        default_mode: DeliveryMode::Message,
        concurrency: args.concurrency as usize,
        bounce_limit: 4,
        media: None,
        max_attachment_bytes: 0,
        notices: Vec::new(),
        journal: Some(std::sync::Arc::new(relais_bridge::outbound::sent_journal::SentJournal::open(
            &dir.path().join("sent.journal"),
        )?)),
    };

    // One message to every subscriber.
    let first = message(0);
    let list = mail.list(ROOM).await?.context("bench list")?;
    let sample = render::message_mail(
        &outbox.site,
        &keys,
        &list,
        &first,
        None,
        Recipient { member_id: "100000", email: "membre0@bench.example", outbox_id: 1 },
        &relais_bridge::outbound::render::Media::None,
    )?;
    let size = sample.formatted().len();
    let start = Instant::now();
    let queued = mail.store_message(&first, DeliveryMode::Message).await?;
    let enqueue_s = start.elapsed().as_secs_f64();
    let stats = outbox.drain().await?;
    let relais_s = start.elapsed().as_secs_f64();
    anyhow::ensure!(stats.sent as usize == args.subscribers, "sent {} of {}", stats.sent, args.subscribers);
    let source_s = smtp_source(port, args.subscribers, size, args.concurrency)?;

    // A daily digest of `digest_messages` messages to every subscriber.
    for n in 1..=args.digest_messages {
        mail.store_message(&message(n), DeliveryMode::Daily).await?;
    }
    let daily = Outbox { default_mode: DeliveryMode::Daily, ..outbox.clone() };
    let start = Instant::now();
    let (_, digest_queued) =
        mail.create_digest(DeliveryMode::Daily, DeliveryMode::Daily).await?.context("digest")?;
    let digest_stats = daily.drain().await?;
    let digest_s = start.elapsed().as_secs_f64();

    let inbound = inbound(&store, &keys, args.inbound).await?;
    let out = json!({
        "fanout": {
            "subscribers": args.subscribers, "queued": queued, "message_bytes": size, "enqueue_seconds": enqueue_s,
            "concurrency": args.concurrency,
            "relais_seconds": relais_s, "relais_per_second": args.subscribers as f64 / relais_s,
            "smtp_source_seconds": source_s, "smtp_source_per_second": args.subscribers as f64 / source_s,
            "rate_ratio_to_smtp_source": source_s / relais_s, "target_ratio": 0.5,
        },
        "digest": {
            "messages": args.digest_messages + 1, "subscribers": digest_queued, "sent": digest_stats.sent,
            "seconds": digest_s, "limit_seconds": 60.0, "ratio_to_limit": digest_s / 60.0,
        },
        "inbound": inbound,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    store.close().await;
    Ok(())
}

/// Parses, verifies (key, Authentication-Results) and queues `count` replies.
async fn inbound(store: &Store, keys: &Keys, count: usize) -> anyhow::Result<serde_json::Value> {
    let mail = MailStore::new(store.clone());
    let auth = AuthPolicy::Upstream("mx.pcf.test".into());
    let mails: Vec<(String, String)> = (0..count)
        .map(|i| {
            let member = format!("{}", 100_000 + i % 10_000);
            let rcpt = format!("{}@{DOMAIN}", keys.reply_localpart("nord-lille", 1, &member));
            let raw = format!(
                "Authentication-Results: mx.pcf.test; dkim=pass header.d=bench.example; dmarc=pass header.from=bench.example\r\n\
                 From: Membre <membre{i}@bench.example>\r\nTo: {rcpt}\r\nSubject: Re: réunion\r\n\
                 Message-ID: <r{i}@bench.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
                 Je serai là jeudi, merci.\r\n\r\nLe 24/11/2026 à 09:00, Paul Durand a écrit :\r\n> Message 1\r\n"
            );
            (rcpt, raw)
        })
        .collect();
    let start = Instant::now();
    for (rcpt, raw) in &mails {
        let examined = examine(raw.as_bytes(), rcpt, "membre@bench.example", keys, DOMAIN, &auth);
        anyhow::ensure!(matches!(examined, Examined::Reply(ref r) if r.authenticated), "bench reply refused");
        mail.inbound_store(rcpt, "membre@bench.example", raw.as_bytes()).await?;
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(json!({
        "messages": count, "seconds": seconds, "per_second": count as f64 / seconds,
        "target_per_second": 1000, "ratio_to_target": count as f64 / seconds / 1000.0,
    }))
}
