//! The bot as an appservice event handler: joins rooms it is invited to, answers commands.

use std::sync::Arc;

use ruma::{
    OwnedEventId, OwnedRoomId, OwnedTransactionId, OwnedUserId,
    events::{
        AnyMessageLikeEvent, AnyStateEvent, AnyTimelineEvent, MessageLikeEvent, StateEvent,
        relation::{InReplyTo, Reply},
        room::{
            member::{MembershipState, OriginalRoomMemberEvent},
            message::{MessageType, OriginalRoomMessageEvent, Relation, RoomMessageEventContent},
            redaction::{OriginalRoomRedactionEvent, RoomRedactionEvent},
        },
    },
};

use relais_appservice::queue::DEVICE_ROW_TYPE;
use relais_appservice::{
    ClientError, DispatchedEvent, EventHandler, HandlerError, MatrixClient, dispatch::BoxFuture,
};
use relais_core::{Config, Store};

use relais_provisioning::moderation::ModerationKind;

use crate::{
    broadcast::Broadcasts,
    charter::Charter,
    command, messages,
    moderation::Moderation,
    poll::{events, service::Polls},
    service::ServiceError,
    theme::Themes,
    welcome::Welcome,
};

fn service_error(e: ServiceError) -> HandlerError {
    match e {
        ServiceError::Homeserver(ClientError::Matrix { status: 403, .. }) => {
            HandlerError::Permanent(e.to_string())
        }
        e => HandlerError::Transient(e.to_string()),
    }
}

/// Whether a reaction event's relation is an annotation (`m.annotation`), as clients show.
fn is_annotation(json: &serde_json::Value) -> bool {
    json["content"]["m.relates_to"]["rel_type"] == "m.annotation"
}

/// A reply's text without the quoted fallback older clients put before it (`> <@a:b> …`).
fn without_reply_fallback(body: &str) -> &str {
    if !body.starts_with("> ") {
        return body;
    }
    match body.find("\n\n") {
        Some(end) if body[..end].lines().all(|l| l.starts_with('>')) => &body[end + 2..],
        _ => body,
    }
}

/// Answers commands as the appservice's sender user.
#[derive(Debug)]
pub struct BotHandler {
    client: MatrixClient,
    config: Arc<Config>,
    polls: Polls,
    broadcasts: Broadcasts,
    moderation: Moderation,
    welcome: Welcome,
    charter: Charter,
    themes: Themes,
}

/// Where a command came from: what a reply and the services need of it.
struct Envelope {
    event_id: OwnedEventId,
    room_id: OwnedRoomId,
    sender: OwnedUserId,
}

/// The whole event as JSON, for the services that read more than its typed form (poll
/// responses, reactions, receipts).
fn whole(event: &DispatchedEvent) -> Result<&serde_json::Value, HandlerError> {
    if event.json.is_object() {
        Ok(&event.json)
    } else {
        Err(HandlerError::Permanent("unreadable event: not a JSON object".into()))
    }
}

impl BotHandler {
    pub fn new(client: MatrixClient, config: Arc<Config>, store: Store) -> Self {
        let polls = Polls::new(&store, client.clone(), config.clone());
        let broadcasts = Broadcasts::new(&store, client.clone(), config.clone());
        let welcome = Welcome::new(&store, client.clone(), config.clone());
        let moderation = Moderation::new(&store, client.clone(), config.clone());
        let charter = Charter::new(&store, config.clone());
        let themes = Themes::new(&store, client.clone(), config.clone());
        Self { client, config, polls, broadcasts, moderation, welcome, charter, themes }
    }

    async fn on_event(&self, event: &DispatchedEvent) -> Result<(), HandlerError> {
        match event.event_type() {
            DEVICE_ROW_TYPE => return Ok(()),
            events::RESPONSE | events::STABLE_RESPONSE => {
                return self.polls.record_response(whole(event)?).await.map_err(service_error);
            }
            "m.receipt" => return self.broadcasts.on_receipt(whole(event)?).await.map_err(service_error),
            _ => {}
        }
        match &event.timeline {
            Some(AnyTimelineEvent::State(AnyStateEvent::RoomMember(StateEvent::Original(member)))) => {
                self.on_member(member).await
            }
            Some(AnyTimelineEvent::MessageLike(AnyMessageLikeEvent::RoomMessage(
                MessageLikeEvent::Original(message),
            ))) => self.on_message(message).await,
            Some(AnyTimelineEvent::MessageLike(AnyMessageLikeEvent::RoomRedaction(
                RoomRedactionEvent::Original(redaction),
            ))) => self.on_redaction(redaction).await,
            // ruma reads any relation with an event id and a key as an annotation: the kind is
            // checked here, so a reference dressed as a reaction is not counted.
            Some(AnyTimelineEvent::MessageLike(AnyMessageLikeEvent::Reaction(
                MessageLikeEvent::Original(reaction),
            ))) if is_annotation(&event.json) => {
                self.broadcasts.on_reaction(reaction).await.map_err(service_error)
            }
            // Anything else, and what ruma cannot read (a malformed content is not for us).
            _ => Ok(()),
        }
    }

    async fn on_member(&self, member: &OriginalRoomMemberEvent) -> Result<(), HandlerError> {
        let (room_id, sender, target) = (&member.room_id, &member.sender, &member.state_key);
        if *target != self.config.bot_user_id() {
            if member.content.membership == MembershipState::Join && target == sender {
                return self
                    .welcome
                    .joined(room_id, sender, member.event_id.as_str())
                    .await
                    .map_err(|e| HandlerError::Transient(e.to_string()));
            }
            return Ok(());
        }
        if member.content.membership != MembershipState::Invite {
            return Ok(());
        }
        if !accepts_invite_from(&self.config, sender, room_id) {
            // Another server's user cannot pull the bot (and its appservice token) into rooms
            // Relais knows nothing of: spam, or a room built to harvest what the bot answers.
            tracing::info!(%room_id, "invitation from another homeserver ignored");
            return Ok(());
        }
        match self.client.join_room(room_id, None).await {
            Ok(()) => {
                tracing::info!(%room_id, "joined a room on invitation");
                Ok(())
            }
            // The invitation was withdrawn or the room is gone: nothing left to do.
            Err(e @ ClientError::Matrix { status: 403 | 404, .. }) => {
                tracing::info!(%room_id, error = %e, "invitation no longer valid");
                Ok(())
            }
            Err(e) => Err(HandlerError::Transient(e.to_string())),
        }
    }

    async fn on_message(&self, message: &OriginalRoomMessageEvent) -> Result<(), HandlerError> {
        if self.config.is_own_user(&message.sender) {
            return Ok(());
        }
        let content = &message.content;
        // Counted for flood protection (never holding up the commands when it fails).
        let ts = i64::from(message.origin_server_ts.get());
        if let Err(error) = self.moderation.on_message(&message.room_id, &message.sender, ts).await {
            tracing::warn!(%error, "flood protection could not count a message");
        }
        // Edits carry the new text in m.new_content; answering them would answer twice. An edit
        // of a broadcast's original is for its copies.
        if matches!(content.relates_to, Some(Relation::Replacement(_))) {
            return self.broadcasts.on_edit(message).await.map_err(service_error);
        }
        let MessageType::Text(text) = &content.msgtype else {
            return Ok(());
        };
        let env = Envelope {
            event_id: message.event_id.clone(),
            room_id: message.room_id.clone(),
            sender: message.sender.clone(),
        };
        let body = without_reply_fallback(&text.body);
        if let Ok(Some(invocation)) = command::parse(body) {
            let reply_to = match &content.relates_to {
                Some(Relation::Reply(reply)) => Some(reply.in_reply_to.event_id.to_string()),
                _ => None,
            };
            if let Some(reply) = self.command(&env, &invocation, reply_to.as_deref()).await? {
                return self.reply(&env, reply).await;
            }
        }
        let Some(reply) = answer(body) else {
            // Not a command: in a public room, the charter its author has not accepted yet.
            if command::parse(body).is_ok_and(|c| c.is_none())
                && let Some(reminder) =
                    self.charter.remind(&env.room_id, &env.sender).await.map_err(service_error)?
            {
                return self.reply(&env, reminder).await;
            }
            return Ok(());
        };
        self.reply(&env, reply).await
    }

    /// A redaction: of a broadcast's original, it withdraws the copies.
    async fn on_redaction(&self, redaction: &OriginalRoomRedactionEvent) -> Result<(), HandlerError> {
        if self.config.is_own_user(&redaction.sender) {
            return Ok(());
        }
        // Before room version 11 the event names its target, from 11 its content does; one that
        // names two different targets is read as neither.
        let target = match (&redaction.redacts, &redaction.content.redacts) {
            (Some(a), Some(b)) if a != b => return Ok(()),
            (Some(target), _) | (None, Some(target)) => target,
            (None, None) => return Ok(()),
        };
        self.broadcasts
            .on_redaction(&redaction.room_id, &redaction.event_id, &redaction.sender, target)
            .await
            .map_err(service_error)
    }

    /// The commands answered by the services; `None` when there is nothing (more) to say.
    async fn command(
        &self,
        env: &Envelope,
        invocation: &command::Invocation,
        reply_to: Option<&str>,
    ) -> Result<Option<String>, HandlerError> {
        let b = &self.broadcasts;
        let (room, sender, id, words) = (&env.room_id, &env.sender, env.event_id.as_str(), &invocation.words);
        let result = match messages::resolve(&invocation.name).map(|c| c.name) {
            Some("sondage") => return self.poll_command(env, words).await.map(Some),
            Some("aide") => b.allowed(room, sender).await.map(|a| Some(messages::help_for(a))),
            Some("diffuser") => b.command(room, sender, id, reply_to, words).await.map(Some),
            Some("proposer") => b.propose(room, sender, id, reply_to).await.map(Some),
            Some("retenir") => b.keep(room, sender, reply_to).await.map(Some),
            Some("sélection") => b.selection(room, sender, id, words).await.map(Some),
            Some("compléter") => b.complement(room, sender, id, reply_to, words).await,
            Some("stats") => b.stats(room, sender).await.map(Some),
            Some("charte") => self.charter.command(sender, words).await.map(Some),
            Some("salon") => self.themes.command(room, sender, words).await.map(Some),
            Some("signaler") => {
                self.moderation.report(room, sender, &env.event_id, reply_to).await.map(Result::err)
            }
            Some(name @ ("bannir" | "débannir" | "expulser" | "expurger")) => {
                let kind = match name {
                    "bannir" => ModerationKind::Ban,
                    "débannir" => ModerationKind::Unban,
                    "expulser" => ModerationKind::Kick,
                    _ => ModerationKind::Purge,
                };
                self.moderation.command(kind, room, sender, &env.event_id, words).await.map(Some)
            }
            _ => Ok(None),
        };
        result.map_err(service_error)
    }

    async fn poll_command(&self, env: &Envelope, words: &[String]) -> Result<String, HandlerError> {
        let result = match words.first().map(|w| w.to_lowercase()).as_deref() {
            Some("clore" | "close" | "fermer") => self.polls.close_latest(&env.room_id, &env.sender).await,
            _ => self.polls.open(&env.room_id, &env.sender, env.event_id.as_str(), words).await,
        };
        result.map_err(service_error)
    }

    async fn reply(&self, env: &Envelope, text: String) -> Result<(), HandlerError> {
        let mut content = RoomMessageEventContent::notice_plain(text);
        content.relates_to = Some(Relation::Reply(Reply::new(InReplyTo::new(env.event_id.clone()))));
        // Derived from the command's id: a resend after a crash is de-duplicated by the homeserver.
        let txn_id =
            OwnedTransactionId::from(format!("reply.{}", env.event_id.as_str().trim_start_matches('$')));
        match self.client.send_message(&env.room_id, &txn_id, &content, None).await {
            Ok(_) => Ok(()),
            Err(e @ ClientError::Matrix { status: 403, .. }) => {
                // Not allowed to speak here (left the room, muted): retrying will not help.
                Err(HandlerError::Permanent(e.to_string()))
            }
            Err(e) => Err(HandlerError::Transient(e.to_string())),
        }
    }
}

/// The reply to a message body, or `None` when the message is not a command for us.
pub(crate) fn answer(body: &str) -> Option<String> {
    let invocation = match command::parse(body) {
        Ok(Some(invocation)) => invocation,
        Ok(None) => return None,
        Err(command::ParseError::UnterminatedQuote) => return Some(messages::unterminated_quote()),
    };
    let reply = match messages::resolve(&invocation.name).map(|c| c.name) {
        Some("aide") => messages::help(),
        Some("ping") => messages::pong(),
        // Answered by the mail bridge, or by the services (which had nothing more to say).
        Some(_) => return None,
        None => messages::unknown_command(&invocation.name),
    };
    Some(reply)
}

impl EventHandler for BotHandler {
    fn name(&self) -> &'static str {
        "bots"
    }

    fn handle<'a>(&'a self, event: &'a DispatchedEvent) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(self.on_event(event))
    }
}

/// Whether the bot joins a room `inviter` invited it to: only users of the party's homeserver,
/// into rooms created there (a room id naming another server is someone else's room).
fn accepts_invite_from(config: &Config, inviter: &ruma::UserId, room: &ruma::RoomId) -> bool {
    let ours = &config.homeserver.server_name;
    inviter.server_name() == ours && room.server_name().is_none_or(|server| server == ours)
}

#[cfg(test)]
mod tests {
    use super::answer;

    #[test]
    fn invitations_are_accepted_from_the_partys_homeserver_only() {
        let text = include_str!("../../relais.example.toml");
        let config = relais_core::Config::from_toml_and_env(text, "example", Vec::new()).expect("config");
        let server = config.homeserver.server_name.clone();
        let local = ruma::UserId::parse(format!("@camille:{server}")).expect("local");
        let room = ruma::RoomId::parse(format!("!r:{server}")).expect("room");
        assert!(super::accepts_invite_from(&config, &local, &room));
        let remote = ruma::owned_user_id!("@spam:evil.example");
        assert!(!super::accepts_invite_from(&config, &remote, &room));
        let elsewhere = ruma::owned_room_id!("!r:evil.example");
        assert!(!super::accepts_invite_from(&config, &local, &elsewhere), "a local member, a remote room");
    }

    #[test]
    fn answers_known_unknown_and_broken_commands() {
        assert!(answer("!aide").expect("help").contains("!ping"));
        assert!(answer("!HELP").expect("alias").starts_with("Commandes disponibles"));
        assert!(answer("!ping").expect("pong").starts_with("Pong"));
        assert!(answer("!voter").expect("unknown").contains("Commande inconnue : !voter"));
        assert!(answer("!sondage \"oups").expect("quote").contains("guillemet"));
        assert_eq!(answer("bonjour à tous"), None);
        assert_eq!(answer("!courriel abonner"), None);
    }

    #[test]
    fn only_annotations_count_as_reactions() {
        let key = |rel: Option<&str>| {
            let mut relation = serde_json::json!({ "event_id": "$copy", "key": "👍" });
            if let Some(rel) = rel {
                relation["rel_type"] = serde_json::json!(rel);
            }
            serde_json::json!({ "content": { "m.relates_to": relation } })
        };
        assert!(super::is_annotation(&key(Some("m.annotation"))));
        assert!(!super::is_annotation(&key(Some("m.reference"))));
        assert!(!super::is_annotation(&key(None)));
        assert!(!super::is_annotation(&serde_json::json!({ "content": {} })));
    }

    #[test]
    fn reply_fallbacks_are_set_aside() {
        use super::without_reply_fallback as strip;
        assert_eq!(strip("> <@a:pcf.test> Appel\n> suite\n\n!proposer"), "!proposer");
        assert_eq!(strip("!retenir"), "!retenir");
        assert_eq!(strip("> citation\nsans ligne vide"), "> citation\nsans ligne vide");
    }
}
