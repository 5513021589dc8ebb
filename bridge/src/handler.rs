//! The bridge as an appservice event handler: room messages of lists are stored and queued for
//! mail in one transaction; edits and redactions update what is not sent yet; `!courriel`
//! commands manage subscriptions.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use ruma::{
    OwnedEventId, OwnedRoomId, OwnedTransactionId, OwnedUserId, RoomId, UserId,
    events::room::{name::RoomNameEventContent, power_levels::UserPowerLevel},
    int,
};
use serde_json::Value;

use relais_appservice::{
    ClientError, DispatchedEvent, EventHandler, HandlerError, MatrixClient, dispatch::BoxFuture,
};
use relais_core::{Config, Store, config::DeliveryMode, store::StoreError, time::now_ms};
use relais_provisioning::directory::Directory;

use crate::{
    event::{self, Parsed},
    lists, messages,
    store::{MailEdit, MailMessage, MailStore},
};

/// How often lists are created for newly provisioned rooms, at most (two queries each time).
const SYNC_EVERY_MS: i64 = 5_000;

#[derive(Debug)]
pub struct BridgeHandler {
    store: MailStore,
    directory: Directory,
    client: MatrixClient,
    config: Arc<Config>,
    last_sync: AtomicI64,
}

fn transient(e: impl std::fmt::Display) -> HandlerError {
    HandlerError::Transient(e.to_string())
}

impl BridgeHandler {
    pub fn new(store: Store, client: MatrixClient, config: Arc<Config>) -> Self {
        let directory = Directory::new(store.clone());
        Self { store: MailStore::new(store), directory, client, config, last_sync: AtomicI64::new(0) }
    }

    fn default_mode(&self) -> DeliveryMode {
        self.config.mail.default_mode
    }

    async fn on_event(&self, dispatched: &DispatchedEvent) -> Result<(), HandlerError> {
        let (queued, raw) = (&dispatched.queued, &dispatched.json);
        let Some(parsed) = event::parse(raw) else { return Ok(()) };
        if relais_appservice::queue::is_decrypted_row(&queued.event_id) {
            // An end-to-end-encrypted room's content stays encrypted: never mirrored to mail.
            return match parsed {
                Parsed::Command { room_id, event_id, .. } => {
                    self.reply(&room_id, &event_id, messages::encrypted_room()).await
                }
                _ => Ok(()),
            };
        }
        match parsed {
            Parsed::Command { room_id, event_id, sender, args } => {
                self.on_command(&room_id, &event_id, &sender, &args).await
            }
            Parsed::Message(message) => self.on_message(*message, raw).await,
            Parsed::Edit { room_id, sender, target, body } => {
                let edit = MailEdit {
                    event_id: &target,
                    room_id: &room_id,
                    sender: &sender,
                    body: &body,
                    html: None,
                };
                if !self.store.edit(&edit).await.map_err(transient)? {
                    tracing::debug!("edit not applied to the mail copy: unknown message, or not its sender");
                }
                Ok(())
            }
            Parsed::Redaction { room_id, sender, target } => {
                self.on_redaction(&room_id, &sender, &target).await
            }
        }
    }

    /// A redaction withdraws the mail copy when it comes from the message's sender, in its room,
    /// or from someone with the power to redact others' messages there.
    async fn on_redaction(&self, room_id: &str, redacter: &str, target: &str) -> Result<(), HandlerError> {
        let Some(message) = self.store.message(target).await.map_err(transient)? else { return Ok(()) };
        if message.room_id != room_id {
            tracing::debug!("redaction ignored: the message is in another room");
            return Ok(());
        }
        let Ok(room) = RoomId::parse(room_id) else { return Ok(()) };
        // Messages stored before senders were kept: the homeserver still knows who wrote it.
        let author = if message.sender.is_empty() {
            let original = self.client.room_event(&room, target).await.map_err(transient)?;
            // An event without a sender has no author: only the room's redacters may withdraw it.
            match original.get("sender").and_then(Value::as_str) {
                Some(sender) => sender.to_owned(),
                None => String::new(),
            }
        } else {
            message.sender.clone()
        };
        let Ok(redacter) = UserId::parse(redacter) else { return Ok(()) };
        let allowed = if event::may_redact(&author, &redacter, None) {
            true
        } else {
            // Unreadable power levels: nobody but the author withdraws the mail copy.
            let levels = match self.client.power_levels(&room).await {
                Ok(levels) => Some(levels),
                Err(ClientError::Response(why)) => {
                    tracing::warn!(%why, "a room's power levels are unreadable: redaction ignored");
                    None
                }
                Err(other) => return Err(transient(other)),
            };
            event::may_redact(&author, &redacter, levels.as_ref())
        };
        if allowed {
            self.store.redact(target).await.map_err(transient)?;
        } else {
            tracing::info!("redaction ignored: its sender may not redact this message");
        }
        Ok(())
    }

    /// The list of a room, creating the lists of newly provisioned rooms first if needed.
    async fn list_of(&self, room_id: &str) -> Result<Option<crate::store::MailList>, StoreError> {
        if let Some(list) = self.store.list(room_id).await? {
            return Ok(Some(list));
        }
        self.ensure_lists().await?;
        self.store.list(room_id).await
    }

    async fn ensure_lists(&self) -> Result<(), StoreError> {
        let now = now_ms();
        if now - self.last_sync.load(Ordering::Relaxed) < SYNC_EVERY_MS {
            return Ok(());
        }
        self.last_sync.store(now, Ordering::Relaxed);
        lists::sync_provisioned(&self.store, &self.directory).await?;
        Ok(())
    }

    async fn on_message(&self, mut message: MailMessage, raw: &Value) -> Result<(), HandlerError> {
        let Some(Ok(sender)) = raw.get("sender").and_then(Value::as_str).map(UserId::parse) else {
            return Ok(());
        };
        if sender == self.config.bot_user_id() && event::is_reply(raw) {
            // The bot's answers to commands are for the room, not for mailboxes.
            return Ok(());
        }
        match self.list_of(&message.room_id).await.map_err(transient)? {
            Some(list) if list.enabled => {}
            _ => return Ok(()),
        }
        let (name, member) = self.author(&sender).await.map_err(transient)?;
        message.sender_name = name;
        message.author_member = member;
        let queued = self.store.store_message(&message, self.default_mode()).await.map_err(transient)?;
        tracing::debug!(queued, "room message stored for mail");
        Ok(())
    }

    /// The author's name as members know it, and their member id when known.
    async fn author(&self, sender: &UserId) -> Result<(String, Option<String>), StoreError> {
        let ghost = sender.localpart().strip_prefix(&self.config.mail.ghost_prefix);
        let record = match ghost.and_then(crate::keys::decode_member) {
            Some(member) => self.directory.member(&member).await,
            None => self.directory.member_by_matrix_id(sender).await,
        };
        // An unreadable record does not keep the message from the list: it goes out under the
        // account's name, and the record is said to be unreadable.
        let record = match record {
            Err(StoreError::Corrupt(why)) => {
                tracing::error!(%why, "a message's author has an unreadable record: named by their account");
                None
            }
            other => other?,
        };
        // A member is the author (and gets no copy of their own message) even when their record
        // has no names: they are then named by their account.
        if let Some(member) = record {
            let name = member.full_name();
            let name = if name.trim().is_empty() { sender.localpart().to_owned() } else { name };
            return Ok((name, Some(member.member_id)));
        }
        if sender == self.config.bot_user_id() {
            return Ok(("Relais".into(), None));
        }
        Ok((sender.localpart().to_owned(), None))
    }

    async fn on_command(
        &self,
        room_id: &RoomId,
        event_id: &OwnedEventId,
        sender: &OwnedUserId,
        args: &[String],
    ) -> Result<(), HandlerError> {
        if self.config.is_own_user(sender) {
            return Ok(());
        }
        let reply = self.command_reply(room_id, sender, args).await?;
        self.reply(room_id, event_id, reply).await
    }

    async fn command_reply(
        &self,
        room_id: &RoomId,
        sender: &OwnedUserId,
        args: &[String],
    ) -> Result<String, HandlerError> {
        let Some(domain) = self.config.mail.domain.clone().filter(|_| self.config.mail.bridge_enabled())
        else {
            return Ok(messages::no_bridge());
        };
        let sub = args.first().map(|s| s.to_lowercase());
        match sub.as_deref() {
            Some("activer" | "enable" | "désactiver" | "desactiver" | "disable") => {
                if !self.is_moderator(room_id, sender).await.map_err(transient)? {
                    return Ok(messages::moderators_only());
                }
                let on = matches!(sub.as_deref(), Some("activer" | "enable"));
                self.set_enabled(room_id, on, &domain).await
            }
            Some("abonner" | "subscribe") => {
                let Some(mode) = messages::parse_mode(args.get(1).map(String::as_str)) else {
                    return Ok(messages::usage());
                };
                self.subscribe(room_id, sender, Some(mode), &domain).await
            }
            Some("désabonner" | "desabonner" | "unsubscribe") => {
                self.subscribe(room_id, sender, None, &domain).await
            }
            Some("état" | "etat" | "status") | None => self.status(room_id, sender, &domain).await,
            Some(_) => Ok(messages::usage()),
        }
    }

    async fn set_enabled(&self, room_id: &RoomId, on: bool, domain: &str) -> Result<String, HandlerError> {
        if !on {
            self.store.list_set_enabled(room_id.as_str(), false).await.map_err(transient)?;
            return Ok(messages::disabled());
        }
        // A room without a name, or with one that cannot be read (said in the log), is "salon".
        let name = match self.client.state_content::<RoomNameEventContent>(room_id, "").await {
            Ok(Some(name)) => name.name,
            Ok(None) => "salon".to_owned(),
            Err(ClientError::Response(why)) => {
                tracing::warn!(%why, "a room's name is unreadable: its list is named \"salon\"");
                "salon".to_owned()
            }
            Err(other) => return Err(transient(other)),
        };
        let localpart = lists::enable(&self.store, room_id.as_str(), &name).await.map_err(transient)?;
        Ok(messages::enabled(&format!("{localpart}@{domain}")))
    }

    async fn subscribe(
        &self,
        room_id: &RoomId,
        sender: &UserId,
        mode: Option<DeliveryMode>,
        domain: &str,
    ) -> Result<String, HandlerError> {
        let Some(list) = self.list_of(room_id.as_str()).await.map_err(transient)?.filter(|l| l.enabled)
        else {
            return Ok(messages::not_a_list());
        };
        let Some(member) = self.directory.member_id_of(sender).await.map_err(transient)? else {
            return Ok(messages::not_a_member());
        };
        self.store.opt_in(room_id.as_str(), &member, mode).await.map_err(transient)?;
        Ok(match mode {
            Some(mode) => messages::subscribed(&format!("{}@{domain}", list.localpart), mode),
            None => messages::unsubscribed(),
        })
    }

    async fn status(&self, room_id: &RoomId, sender: &UserId, domain: &str) -> Result<String, HandlerError> {
        let Some(list) = self.list_of(room_id.as_str()).await.map_err(transient)?.filter(|l| l.enabled)
        else {
            return Ok(messages::not_a_list());
        };
        let member = self.directory.member_id_of(sender).await.map_err(transient)?;
        let mode = match member {
            Some(member) => self
                .store
                .member_lists(&member, self.default_mode())
                .await
                .map_err(transient)?
                .into_iter()
                .find(|l| l.list.room_id == list.room_id)
                .map(|l| l.mode),
            None => None,
        };
        Ok(messages::status(&format!("{}@{domain}", list.localpart), mode))
    }

    /// Whether `user` moderates the room (power level 50 or more, by its version's rules).
    /// Unreadable power levels give nobody a moderator's rights.
    async fn is_moderator(&self, room_id: &RoomId, user: &UserId) -> Result<bool, ClientError> {
        match self.client.power_levels(room_id).await {
            Ok(levels) => Ok(levels.for_user(user) >= UserPowerLevel::Int(int!(50))),
            Err(ClientError::Response(why)) => {
                tracing::warn!(%why, "a room's power levels are unreadable: no moderator there");
                Ok(false)
            }
            Err(other) => Err(other),
        }
    }

    async fn reply(
        &self,
        room_id: &RoomId,
        event_id: &OwnedEventId,
        text: String,
    ) -> Result<(), HandlerError> {
        let mut content = ruma::events::room::message::RoomMessageEventContent::notice_plain(text);
        content.relates_to = Some(ruma::events::room::message::Relation::Reply(
            ruma::events::relation::Reply::new(ruma::events::relation::InReplyTo::new(event_id.clone())),
        ));
        let txn = OwnedTransactionId::from(format!("mail.{}", event_id.as_str().trim_start_matches('$')));
        let room: OwnedRoomId = room_id.to_owned();
        match self.client.send_message(&room, &txn, &content, None).await {
            Ok(_) => Ok(()),
            Err(e @ ClientError::Matrix { status: 403, .. }) => Err(HandlerError::Permanent(e.to_string())),
            Err(e) => Err(transient(e)),
        }
    }
}

impl EventHandler for BridgeHandler {
    fn name(&self) -> &'static str {
        "mail"
    }

    fn handle<'a>(&'a self, event: &'a DispatchedEvent) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(self.on_event(event))
    }
}
