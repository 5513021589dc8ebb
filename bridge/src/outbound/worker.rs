//! The outbox worker: leases due deliveries, renders each for its member, hands it to SMTP and
//! records the outcome. Several workers (processes) may share one database: leases keep them
//! apart, and a lease left by a killed worker expires so its deliveries are made by another.
//!
//! Delivery is at-least-once: a worker killed after the SMTP server accepted a mail but before
//! the commit that records it sends that mail again, with the same `Message-ID` (mail clients
//! show it once). At most `concurrency` mails are in that window at any time.

use std::{collections::HashMap, sync::Arc, time::Duration};

use relais_core::{config::DeliveryMode, store::StoreError, time::now_ms};
use relais_mail::{MailError, Mailer, notice::NoticeKind};
use tokio::{
    sync::{Mutex, Semaphore},
    task::JoinSet,
};

use relais_appservice::{MatrixClient, health::Heartbeat};
use tokio_util::sync::CancellationToken;

use super::{
    notice::notice_mail,
    render::{self, DigestSection, Media, Recipient, Site},
    sent_journal::SentJournal,
};
use crate::{
    keys::Keys,
    store::{Digest, MailList, MailMessage, MailStore, OutboxItem},
};

const BATCH: i64 = 256;
/// A batch's leases last this long and are renewed every third of it while it is sent, so a
/// killed worker's deliveries are taken over within half a minute.
const LEASE_MS: i64 = 30_000;
const IDLE_POLL: Duration = Duration::from_millis(500);
/// A delivery deferred this many times is given up: with the backoff below (5 s doubling up to
/// 15 minutes), about three days of an unreachable or deferring mail server.
const MAX_ATTEMPTS: i64 = 300;

/// Everything a worker needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct Outbox {
    pub store: MailStore,
    pub mailer: Mailer,
    pub keys: Keys,
    pub site: Site,
    pub default_mode: DeliveryMode,
    pub concurrency: usize,
    pub bounce_limit: i64,
    /// Fetches images and files to attach; `None`: media are only linked.
    pub media: Option<MatrixClient>,
    pub max_attachment_bytes: u64,
    /// Accepted deliveries noted before the database records them (see [`SentJournal`]).
    pub journal: Option<Arc<SentJournal>>,
    /// The other features' kinds of personal notice (the bots' ballots), rendered by them.
    pub notices: Vec<Arc<dyn NoticeKind>>,
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassStats {
    pub sent: u64,
    pub cancelled: u64,
    pub retried: u64,
    pub failed: u64,
}

enum Outcome {
    Sent,
    Cancelled(&'static str),
    /// Deferred: the server is unreachable or answered 4xx.
    Retry(String),
    /// The server refused the address for good (5xx): counts like a hard bounce.
    Rejected(String),
    /// Cannot be rendered or sent, and trying again will not help.
    Failed(String),
}

/// A digest with the messages of its window.
type LoadedDigest = Option<(Digest, Arc<Vec<MailMessage>>)>;

/// Per-pass cache of what many deliveries share (the message of a fan-out, a digest's window).
#[derive(Debug, Default)]
struct Cache {
    lists: HashMap<String, Option<MailList>>,
    messages: HashMap<String, Option<MailMessage>>,
    digests: HashMap<i64, LoadedDigest>,
    /// mxc URI → the attachment (or the link when it could not be attached).
    media: HashMap<String, Media>,
}

fn backoff_ms(attempts: i64) -> i64 {
    let exp = attempts.clamp(0, 8) as u32;
    (5_000i64 << exp).min(900_000)
}

impl Outbox {
    /// Runs until `shutdown` is cancelled, sending whatever is due.
    pub async fn run(self, shutdown: CancellationToken, heartbeat: Heartbeat) {
        self.recover().await;
        loop {
            heartbeat.beat();
            if shutdown.is_cancelled() {
                return;
            }
            let idle = match self.pass().await {
                Ok(stats) => stats == PassStats::default(),
                Err(e) => {
                    tracing::warn!(error = %e, "mail outbox: database unavailable, retrying");
                    true
                }
            };
            if idle {
                tokio::select! {
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                    () = shutdown.cancelled() => {}
                }
            }
        }
    }

    /// Records the deliveries a killed worker on this machine had sent but not recorded.
    async fn recover(&self) {
        let Some(journal) = &self.journal else { return };
        match journal.reconcile(&self.store).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(recovered = n, "mail sent before a crash recorded from the journal"),
            Err(e) => tracing::warn!(error = %e, "cannot reconcile the mail journal"),
        }
    }

    /// Sends everything due now, pass after pass, until nothing is left.
    pub async fn drain(&self) -> Result<PassStats, StoreError> {
        self.recover().await;
        let mut total = PassStats::default();
        loop {
            let stats = self.pass().await?;
            if stats == PassStats::default() {
                return Ok(total);
            }
            total.sent += stats.sent;
            total.cancelled += stats.cancelled;
            total.retried += stats.retried;
            total.failed += stats.failed;
        }
    }

    /// Leases one batch and delivers it with up to `concurrency` mails in flight.
    pub async fn pass(&self) -> Result<PassStats, StoreError> {
        let owner = format!("outbox-{:016x}", rand::random::<u64>());
        let items = self.store.claim_outbox(&owner, BATCH, LEASE_MS).await?;
        if items.is_empty() {
            return Ok(PassStats::default());
        }
        let renew = {
            let (store, owner) = (self.store.clone(), owner.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(LEASE_MS as u64 / 3)).await;
                    if let Err(e) = store.renew_outbox(&owner, LEASE_MS).await {
                        tracing::warn!(error = %e, "cannot renew mail leases");
                    }
                }
            })
        };
        let result = self.send_batch(items).await;
        renew.abort();
        result
    }

    async fn send_batch(&self, items: Vec<OutboxItem>) -> Result<PassStats, StoreError> {
        let mut stats = PassStats::default();
        let cache = Arc::new(Mutex::new(Cache::default()));
        let permits = Arc::new(Semaphore::new(self.concurrency.max(1)));
        let mut tasks = JoinSet::new();
        for item in items {
            let Ok(permit) = permits.clone().acquire_owned().await else { break };
            let this = self.clone();
            let cache = cache.clone();
            tasks.spawn(async move {
                let outcome = this.deliver(&item, &cache).await;
                let result = this.record(&item, outcome).await;
                drop(permit);
                result
            });
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(kind)) => match kind {
                    0 => stats.sent += 1,
                    1 => stats.cancelled += 1,
                    2 => stats.retried += 1,
                    _ => stats.failed += 1,
                },
                Ok(Err(e)) => return Err(e),
                Err(e) => {
                    tracing::error!(end = relais_core::panic::task_end(&e), "mail delivery task failed")
                }
            }
        }
        Ok(stats)
    }

    async fn record(&self, item: &OutboxItem, outcome: Outcome) -> Result<u8, StoreError> {
        match outcome {
            Outcome::Sent => {
                self.store.outbox_finish(item.id, "sent", None).await?;
                Ok(0)
            }
            Outcome::Cancelled(why) => {
                self.store.outbox_finish(item.id, "cancelled", Some(why)).await?;
                Ok(1)
            }
            Outcome::Retry(error) if item.attempts + 1 < MAX_ATTEMPTS => {
                tracing::info!(outbox_id = item.id, error = %error, "mail deferred, will retry");
                self.store.outbox_retry(item.id, &error, now_ms() + backoff_ms(item.attempts)).await?;
                Ok(2)
            }
            Outcome::Rejected(error) => {
                tracing::warn!(outbox_id = item.id, error = %error, "mail refused by the server");
                self.store.outbox_finish(item.id, "failed", Some(&error)).await?;
                // A refusal at submission counts like a hard bounce.
                if !item.email.is_empty() {
                    self.store.bounce(&item.email, 2, self.bounce_limit).await?;
                }
                Ok(3)
            }
            Outcome::Retry(error) | Outcome::Failed(error) => {
                tracing::warn!(outbox_id = item.id, error = %error, "mail delivery given up");
                self.store.outbox_finish(item.id, "failed", Some(&error)).await?;
                Ok(3)
            }
        }
    }

    async fn deliver(&self, item: &OutboxItem, cache: &Mutex<Cache>) -> Outcome {
        let rendered = match item.kind.as_str() {
            "message" => self.render_message(item, cache).await,
            "digest" => self.render_digest(item, cache).await,
            kind => match self.notices.iter().find(|n| n.kind() == kind) {
                Some(notice) => self.render_notice(notice.as_ref(), item).await,
                None => return Outcome::Failed("unknown delivery kind".into()),
            },
        };
        let message = match rendered {
            Ok(Some(message)) => message,
            Ok(None) => return Outcome::Cancelled("nothing left to send"),
            Err(e) => return Outcome::Retry(e),
        };
        match self.mailer.send_message(message).await {
            Ok(()) => {
                if let Some(journal) = &self.journal
                    && let Err(e) = journal.append(item.id)
                {
                    tracing::warn!(error = %e, "cannot write the mail journal");
                }
                Outcome::Sent
            }
            Err(e @ MailError::Send(_)) => Outcome::Retry(e.to_string()),
            Err(e @ MailError::Rejected(_)) => Outcome::Rejected(e.to_string()),
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }

    async fn list(&self, room_id: &str, cache: &Mutex<Cache>) -> Result<Option<MailList>, StoreError> {
        if let Some(hit) = cache.lock().await.lists.get(room_id) {
            return Ok(hit.clone());
        }
        let list = self.store.list(room_id).await?;
        cache.lock().await.lists.insert(room_id.to_owned(), list.clone());
        Ok(list)
    }

    async fn message(&self, event_id: &str, cache: &Mutex<Cache>) -> Result<Option<MailMessage>, StoreError> {
        if let Some(hit) = cache.lock().await.messages.get(event_id) {
            return Ok(hit.clone());
        }
        let message = self.store.message(event_id).await?;
        cache.lock().await.messages.insert(event_id.to_owned(), message.clone());
        Ok(message)
    }

    /// Another feature's notice, in its words; nothing when the feature has nothing left to say.
    async fn render_notice(
        &self,
        kind: &dyn NoticeKind,
        item: &OutboxItem,
    ) -> Result<Option<relais_mail::MailMessage>, String> {
        let Some(notice) = kind.render(&item.reference, &item.member_id).await? else { return Ok(None) };
        let recipient = Recipient { member_id: &item.member_id, email: &item.email, outbox_id: item.id };
        notice_mail(&self.site, &self.keys, kind.kind(), notice, recipient)
            .map(Some)
            .map_err(|e| e.to_string())
    }

    async fn render_message(
        &self,
        item: &OutboxItem,
        cache: &Mutex<Cache>,
    ) -> Result<Option<relais_mail::MailMessage>, String> {
        let message = self.message(&item.reference, cache).await.map_err(|e| e.to_string())?;
        let Some(message) = message.filter(|m| !m.redacted) else { return Ok(None) };
        let Some(list) = self.list(&message.room_id, cache).await.map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let parent = message.thread_root.as_ref().or(message.reply_to.as_ref());
        let root = match parent {
            Some(id) => self.message(id, cache).await.map_err(|e| e.to_string())?,
            None => None,
        };
        let recipient = Recipient { member_id: &item.member_id, email: &item.email, outbox_id: item.id };
        let subject = root.as_ref().filter(|r| !r.redacted).map(|r| r.body.as_str());
        let parent_mail = if parent.is_some() { Some(subject.unwrap_or("…")) } else { None };
        let media = self.media(&message, cache).await;
        render::message_mail(&self.site, &self.keys, &list, &message, parent_mail, recipient, &media)
            .map(Some)
            .map_err(|e| e.to_string())
    }

    /// The image or file of `message`: attached when small enough and reachable, else linked.
    async fn media(&self, message: &MailMessage, cache: &Mutex<Cache>) -> Media {
        let Some(mxc) = &message.media_url else { return Media::None };
        if let Some(hit) = cache.lock().await.media.get(mxc) {
            return hit.clone();
        }
        let link = Media::Linked {
            url: format!("{}relais/courriel/media/{}", self.site.web_url, self.keys.media_token(message.seq)),
        };
        let small = message
            .media_size
            .is_none_or(|n| u64::try_from(n).unwrap_or(u64::MAX) <= self.max_attachment_bytes);
        let media = match &self.media {
            Some(client) if small => {
                match client.download_media(mxc.as_str().into(), self.max_attachment_bytes).await {
                    Ok((data, content_type)) => Media::Attached {
                        name: message.body.clone(),
                        content_type: message.media_type.clone().unwrap_or(content_type),
                        data: Arc::new(data),
                    },
                    Err(e) => {
                        tracing::info!(error = %e, "media not attached, linked instead");
                        link
                    }
                }
            }
            _ => link,
        };
        cache.lock().await.media.insert(mxc.clone(), media.clone());
        media
    }

    async fn digest(&self, digest_id: i64, cache: &Mutex<Cache>) -> Result<LoadedDigest, StoreError> {
        if let Some(hit) = cache.lock().await.digests.get(&digest_id) {
            return Ok(hit.clone());
        }
        let loaded = match self.store.digest(digest_id).await? {
            Some(digest) => {
                let messages = self.store.messages_between(digest.seq_from, digest.seq_to).await?;
                Some((digest, Arc::new(messages)))
            }
            None => None,
        };
        cache.lock().await.digests.insert(digest_id, loaded.clone());
        Ok(loaded)
    }

    async fn render_digest(
        &self,
        item: &OutboxItem,
        cache: &Mutex<Cache>,
    ) -> Result<Option<relais_mail::MailMessage>, String> {
        let digest_id: i64 = item.reference.parse().map_err(|_| "bad digest reference".to_owned())?;
        let Some((digest, messages)) = self.digest(digest_id, cache).await.map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let lists =
            self.store.member_lists(&item.member_id, self.default_mode).await.map_err(|e| e.to_string())?;
        let lists: Vec<MailList> =
            lists.into_iter().filter(|l| l.mode == digest.mode && l.list.enabled).map(|l| l.list).collect();
        let sections: Vec<DigestSection<'_>> = lists
            .iter()
            .map(|list| DigestSection {
                list,
                messages: messages.iter().filter(|m| m.room_id == list.room_id).collect(),
            })
            .filter(|s| !s.messages.is_empty())
            .collect();
        if sections.is_empty() {
            return Ok(None);
        }
        let recipient = Recipient { member_id: &item.member_id, email: &item.email, outbox_id: item.id };
        render::digest_mail(&self.site, &self.keys, digest.mode, digest_id, &sections, recipient)
            .map(Some)
            .map_err(|e| e.to_string())
    }
}
