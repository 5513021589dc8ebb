//! The inbound worker: takes stored mail, decides (see [`examine`]), checks the sender against
//! the subscriber, and posts the reply into the room as the member's ghost user. A homeserver
//! outage (unreachable, 5xx, rate limits) leaves the mail queued and retried with a growing delay,
//! as long as it lasts. A refusal by the homeserver (a 4xx: the ghost may not post in the room,
//! the room is gone…) counts as a failed attempt, so the mail is held after a few, and one that
//! can never succeed (too large, malformed) holds it at once — the errcode and HTTP status decide
//! ([`relais_appservice::Outlook`]). A refusal by Relais gets a short explanatory answer only
//! when that cannot be backscatter: the envelope sender is authenticated by the MTA (see
//! [`examine::may_answer`]) and has had fewer than `[mail] answers_per_hour` answers this hour
//! (counted in the store, so across nodes); otherwise the mail is dropped silently, the reason
//! recorded in its outcome.
//! A mail that cannot be processed is held after a few attempts (see [`poison`]).

mod poison;
mod postmaster;
#[cfg(test)]
mod testing;

use std::{collections::HashSet, sync::Arc, time::Duration};

use lettre::{
    Message,
    address::Envelope,
    message::{
        Mailbox,
        header::{ContentType, HeaderName, HeaderValue},
    },
};
use relais_appservice::{ClientError, MatrixClient, Outlook};
use relais_core::{Config, Store, config::InboundAuth, store::StoreError, time::now_ms};
use relais_mail::Mailer;
use relais_provisioning::{
    directory::{Directory, DirectoryMember},
    store::ProvisioningStore,
};
use ruma::{OwnedUserId, RoomId, UserId};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use relais_maildomain::{
    dsn::BounceKind,
    examine::{self, AuthPolicy, Examined, Reply},
    keys::{Keys, encode_member},
    refusal as bounce,
};

use crate::store::{InboundItem, MailStore};

const BATCH: i64 = 32;
const LEASE_MS: i64 = 120_000;
const IDLE_POLL: Duration = Duration::from_millis(500);

/// Everything the inbound worker needs.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub store: MailStore,
    pub directory: Directory,
    /// Provisioning's audit log (an address disabled after bounces is recorded there).
    pub audit: ProvisioningStore,
    pub client: MatrixClient,
    pub keys: Keys,
    pub config: Arc<Config>,
    /// For refusals; without it refusals are only recorded.
    pub mailer: Option<Mailer>,
    /// (room, ghost) pairs known to be joined.
    joined: Arc<Mutex<HashSet<(String, String)>>>,
}

/// How one attempt at a mail ended, for the record (no personal data).
enum Settled {
    /// Handled: its final state and outcome.
    Done(&'static str, String),
    /// Not now (the homeserver is away or busy): tried again later, as often as it takes; the
    /// attempt is not counted against the mail.
    Retry(String),
    /// Refused by the homeserver for a reason that may not last: a failed attempt.
    Failed(String),
    /// Can never succeed (the homeserver refuses the request itself): held at once.
    Hopeless(String),
    /// Mail to postmaster kept whole for an operator.
    Kept(String),
}

/// Why a reply could not be posted.
enum PostError {
    /// Relais's own store: the attempt ends with the error, the lease brings the mail back.
    Store(StoreError),
    Client(ClientError),
}

impl From<ClientError> for PostError {
    fn from(e: ClientError) -> Self {
        Self::Client(e)
    }
}

impl From<StoreError> for PostError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl Inbound {
    pub fn new(
        store: Store,
        client: MatrixClient,
        keys: Keys,
        config: Arc<Config>,
        mailer: Option<Mailer>,
    ) -> Self {
        let directory = Directory::new(store.clone());
        Self {
            store: MailStore::new(store.clone()),
            directory,
            audit: ProvisioningStore::new(store),
            client,
            keys,
            config,
            mailer,
            joined: Arc::default(),
        }
    }

    fn domain(&self) -> &str {
        self.config.mail.domain.as_deref().unwrap_or("localhost")
    }

    fn policy(&self) -> AuthPolicy {
        match (self.config.mail.inbound_auth, &self.config.mail.authserv_id) {
            (InboundAuth::Upstream, Some(id)) => AuthPolicy::Upstream(id.clone()),
            (InboundAuth::Upstream, None) => AuthPolicy::Upstream(String::new()),
            (InboundAuth::None, _) => AuthPolicy::None,
        }
    }

    /// Runs until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken, heartbeat: relais_appservice::health::Heartbeat) {
        loop {
            heartbeat.beat();
            if shutdown.is_cancelled() {
                return;
            }
            let idle = match self.pass().await {
                Ok(n) => n == 0,
                Err(e) => {
                    tracing::warn!(error = %e, "inbound mail: database unavailable, retrying");
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

    /// Handles one batch; returns how many mails it took.
    pub async fn pass(&self) -> Result<usize, StoreError> {
        let items = self.store.claim_inbound(BATCH, LEASE_MS).await?;
        for item in &items {
            let settle = |this: Inbound, item: InboundItem| async move { this.settle(&item).await };
            self.attempt(item, settle).await?;
        }
        Ok(items.len())
    }

    async fn settle(&self, item: &InboundItem) -> Result<Settled, StoreError> {
        if super::listener::is_postmaster(&item.rcpt, self.domain()) {
            return Ok(self.postmaster(item).await);
        }
        let examined = examine::examine(
            &item.raw,
            &item.rcpt,
            &item.mail_from,
            &self.keys,
            self.domain(),
            &self.policy(),
        );
        match examined {
            Examined::Drop(why) => Ok(Settled::Done("dropped", why.into())),
            Examined::Refuse(reason) => self.refuse(item, &reason).await,
            Examined::Bounce { outbox_id, kind } => self.bounce(outbox_id, kind).await,
            Examined::Unsubscribe { list, member } => self.unsubscribe(item, &list, &member, true).await,
            Examined::Reply(reply) => self.reply(item, reply).await,
        }
    }

    /// Refuses a mail, explaining why to the sender when that is safe (see [`Self::may_answer`]).
    async fn refuse(&self, item: &InboundItem, reason: &str) -> Result<Settled, StoreError> {
        let outcome = match self.may_answer(item).await? {
            Err(why) => format!("not explained: {why}"),
            Ok(()) => match self.answer(&item.mail_from, bounce::SUBJECT, &bounce::body(reason)).await {
                Ok(()) => "explained to the sender".into(),
                Err(e) => format!("explanation not sent: {e}"),
            },
        };
        Ok(Settled::Done("refused", outcome))
    }

    /// Whether an automatic answer may go to the mail's envelope sender, or why not: never to
    /// the null sender or to a sender the MTA did not authenticate, and at most
    /// `answers_per_hour` an hour to one address. Counts the answer when it may go.
    async fn may_answer(&self, item: &InboundItem) -> Result<Result<(), &'static str>, StoreError> {
        if item.mail_from.is_empty() {
            return Ok(Err("null sender"));
        }
        if !examine::may_answer(&item.raw, &item.mail_from, &self.policy()) {
            return Ok(Err("sender not authenticated"));
        }
        let limit = self.config.mail.answers_per_hour;
        if !self.store.answer_allowed(&item.mail_from, limit, now_ms()).await? {
            return Ok(Err("hourly answer limit reached for this sender"));
        }
        Ok(Ok(()))
    }

    /// An automatic answer to `to`, from Relais, with a null return path so it cannot loop.
    async fn answer(&self, to: &str, subject: &str, text: &str) -> Result<(), String> {
        let Some(mailer) = &self.mailer else { return Err("no SMTP configured".into()) };
        let to: Mailbox = to.parse().map_err(|_| "invalid sender address".to_owned())?;
        let envelope = Envelope::new(None, vec![to.email.clone()]).map_err(|e| e.to_string())?;
        let message = Message::builder()
            .from(mailer.from().clone())
            .to(to)
            .subject(subject)
            .envelope(envelope)
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-replied".into(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Loop"),
                format!("relais@{}", self.domain()),
            ))
            .header(ContentType::TEXT_PLAIN)
            .body(text.to_owned())
            .map_err(|e| e.to_string())?;
        mailer.send_message(message).await.map_err(|e| e.to_string())
    }

    async fn bounce(&self, outbox_id: i64, kind: BounceKind) -> Result<Settled, StoreError> {
        let Some(member) = self.store.outbox_bounced(outbox_id).await? else {
            return Ok(Settled::Done("dropped", "bounce for an unknown or already counted delivery".into()));
        };
        let Some(email) = self.directory.email(&member).await? else {
            return Ok(Settled::Done("dropped", "bounce for a member no longer known".into()));
        };
        let points = if kind == BounceKind::Hard { 2 } else { 1 };
        let disabled = self.store.bounce(&email, points, i64::from(self.config.mail.bounce_limit)).await?;
        if disabled {
            let entry = relais_provisioning::store::AuditEntry {
                at: now_ms(),
                actor: "mail".into(),
                action: "disable_address".into(),
                target: format!("member {member}"),
                detail: "too many bounces: mail to this member is suspended".into(),
            };
            self.audit.audit_append(&entry).await?;
        }
        Ok(Settled::Done(
            "bounce",
            if disabled { "address disabled".into() } else { "bounce counted".into() },
        ))
    }

    async fn unsubscribe(
        &self,
        item: &InboundItem,
        list: &str,
        member: &str,
        confirm: bool,
    ) -> Result<Settled, StoreError> {
        let lists = match list {
            "tout" => self.store.member_lists(member, self.config.mail.default_mode).await?,
            _ => match self.store.list_by_localpart(list).await? {
                Some(l) => vec![crate::store::MemberList { list: l, mode: self.config.mail.default_mode }],
                None => Vec::new(),
            },
        };
        for entry in &lists {
            self.store.set_mode(member, &entry.list.room_id, relais_core::config::DeliveryMode::None).await?;
        }
        if confirm && self.may_answer(item).await?.is_ok() {
            let _ = self.answer(&item.mail_from, bounce::UNSUBSCRIBED_SUBJECT, bounce::UNSUBSCRIBED).await;
        }
        Ok(Settled::Done("unsubscribed", format!("{} list(s)", lists.len())))
    }

    async fn reply(&self, item: &InboundItem, reply: Reply) -> Result<Settled, StoreError> {
        let Some(list) = self.store.list_by_localpart(&reply.list).await?.filter(|l| l.enabled) else {
            return self.refuse(item, bounce::NOT_SUBSCRIBED).await;
        };
        let member = self.directory.member(&reply.member).await?.filter(|m| m.active);
        let Some((member, email)) = member.and_then(|m| m.email.clone().map(|email| (m, email))) else {
            return self.refuse(item, bounce::NOT_SUBSCRIBED).await;
        };
        if !email.eq_ignore_ascii_case(&reply.from) {
            return self.refuse(item, bounce::WRONG_SENDER).await;
        }
        if !reply.authenticated {
            return self.refuse(item, bounce::NOT_AUTHENTICATED).await;
        }
        if !self.store.is_subscriber(&list.room_id, &reply.member, self.config.mail.default_mode).await? {
            return self.refuse(item, bounce::NOT_SUBSCRIBED).await;
        }
        if reply.unsubscribe {
            return self.unsubscribe(item, &list.localpart, &reply.member, true).await;
        }
        if reply.text.trim().is_empty() && reply.attachments.is_empty() {
            return self.refuse(item, bounce::EMPTY).await;
        }
        match self.post(item, &list.room_id, &reply, &member).await {
            Ok(()) => Ok(Settled::Done("posted", "posted in the room".into())),
            Err(PostError::Store(e)) => Err(e),
            Err(PostError::Client(e)) => Ok(match e.outlook() {
                Outlook::Transient => Settled::Retry(e.to_string()),
                Outlook::Refused => Settled::Failed(e.to_string()),
                Outlook::Hopeless => Settled::Hopeless(e.to_string()),
            }),
        }
    }

    /// The ghost of `member`, registered, named and in the room.
    async fn ghost(&self, member: &DirectoryMember, room_id: &RoomId) -> Result<OwnedUserId, ClientError> {
        let localpart = format!("{}{}", self.config.mail.ghost_prefix, encode_member(&member.member_id));
        let server = &self.config.homeserver.server_name;
        let ghost = UserId::parse(format!("@{localpart}:{server}"))
            .map_err(|e| ClientError::Request(format!("ghost id: {e}")))?;
        let key = (room_id.to_string(), ghost.to_string());
        if self.joined.lock().await.contains(&key) {
            return Ok(ghost);
        }
        self.client.register_appservice_user(&localpart).await?;
        let name = format!("{} (courriel)", member.full_name());
        self.client.set_display_name(&ghost, name.trim()).await?;
        match self.client.invite(room_id, &ghost).await {
            // Already in the room (or already invited): joining settles it.
            Ok(()) | Err(ClientError::Matrix { status: 403, .. }) => {}
            Err(e) => return Err(e),
        }
        self.client.join_room(room_id, Some(&ghost)).await?;
        self.joined.lock().await.insert(key);
        Ok(ghost)
    }

    async fn post(
        &self,
        item: &InboundItem,
        room_id: &str,
        reply: &Reply,
        member: &DirectoryMember,
    ) -> Result<(), PostError> {
        let room_id = RoomId::parse(room_id).map_err(|e| ClientError::Request(e.to_string()))?;
        let ghost = self.ghost(member, &room_id).await?;
        let relation = self.relation(reply.seq).await?;
        if !reply.text.trim().is_empty() {
            let mut content = json!({"msgtype": "m.text", "body": reply.text});
            if let Some(relation) = &relation {
                content["m.relates_to"] = relation.clone();
            }
            let txn = format!("mail-in.{}", item.id);
            self.client.send_raw_event(&room_id, "m.room.message", &txn, &content, &ghost).await?;
        }
        for (n, file) in reply.attachments.iter().enumerate() {
            let uri =
                self.client.upload_media(&ghost, &file.content_type, &file.name, file.data.clone()).await?;
            let msgtype = if file.content_type.starts_with("image/") { "m.image" } else { "m.file" };
            let mut content = json!({"msgtype": msgtype, "body": file.name, "url": uri,
                "info": {"mimetype": file.content_type, "size": file.data.len()}});
            if let Some(relation) = &relation {
                content["m.relates_to"] = relation.clone();
            }
            let txn = format!("mail-in.{}.{n}", item.id);
            self.client.send_raw_event(&room_id, "m.room.message", &txn, &content, &ghost).await?;
        }
        Ok(())
    }

    /// The relation of a reply to message `seq`: in its thread when it was in one, else a reply.
    async fn relation(&self, seq: i64) -> Result<Option<Value>, StoreError> {
        if seq == 0 {
            return Ok(None);
        }
        let Some(message) = self.store.message_by_seq(seq).await? else { return Ok(None) };
        Ok(Some(match message.thread_root {
            Some(root) => json!({"rel_type": "m.thread", "event_id": root, "is_falling_back": true,
                                 "m.in_reply_to": {"event_id": message.event_id}}),
            None => json!({"m.in_reply_to": {"event_id": message.event_id}}),
        }))
    }
}
