//! The bot as an appservice event handler: joins rooms it is invited to, answers commands.

use std::sync::Arc;

use ruma::{
    OwnedEventId, OwnedRoomId, OwnedTransactionId, OwnedUserId,
    events::{
        relation::{InReplyTo, Reply},
        room::{
            member::{MembershipState, RoomMemberEventContent},
            message::{MessageType, Relation, RoomMessageEventContent},
        },
    },
};
use serde::Deserialize;
use serde_json::value::RawValue;

use relais_appservice::{ClientError, EventHandler, HandlerError, MatrixClient, dispatch::BoxFuture};
use relais_core::{Config, Store, store::QueuedEvent};

use crate::{
    broadcast::Broadcasts,
    command, messages,
    poll::{
        events,
        service::{PollError, Polls},
    },
    welcome::Welcome,
};

fn poll_error(e: PollError) -> HandlerError {
    match e {
        PollError::Homeserver(ClientError::Matrix { status: 403, .. }) => {
            HandlerError::Permanent(e.to_string())
        }
        e => HandlerError::Transient(e.to_string()),
    }
}

/// Answers commands as the appservice's sender user.
#[derive(Debug)]
pub struct BotHandler {
    client: MatrixClient,
    config: Arc<Config>,
    polls: Polls,
    broadcasts: Broadcasts,
    welcome: Welcome,
}

/// The fields the bot reads from any event; the content is typed per event type.
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    event_id: OwnedEventId,
    room_id: OwnedRoomId,
    sender: OwnedUserId,
    state_key: Option<String>,
    content: Box<RawValue>,
}

impl BotHandler {
    pub fn new(client: MatrixClient, config: Arc<Config>, store: Store) -> Self {
        let polls = Polls { store: store.clone(), client: client.clone(), config: config.clone() };
        let broadcasts = Broadcasts { store: store.clone(), client: client.clone(), config: config.clone() };
        let welcome = Welcome { store, client: client.clone(), config: config.clone() };
        Self { client, config, polls, broadcasts, welcome }
    }

    async fn on_event(&self, event: &QueuedEvent) -> Result<(), HandlerError> {
        let env: Envelope = serde_json::from_str(&event.body)
            .map_err(|e| HandlerError::Permanent(format!("not a timeline event: {e}")))?;
        match env.kind.as_str() {
            "m.room.member" => self.on_member(&env).await,
            "m.room.message" => self.on_message(&env).await,
            events::RESPONSE | events::STABLE_RESPONSE => {
                let raw: serde_json::Value = serde_json::from_str(&event.body).unwrap_or_default();
                self.polls.record_response(&raw).await.map_err(poll_error)
            }
            _ => Ok(()),
        }
    }

    async fn on_member(&self, env: &Envelope) -> Result<(), HandlerError> {
        let Ok(content) = serde_json::from_str::<RoomMemberEventContent>(env.content.get()) else {
            return Ok(());
        };
        if env.state_key.as_deref() != Some(self.config.bot_user_id().as_str()) {
            if content.membership == MembershipState::Join
                && env.state_key.as_deref() == Some(env.sender.as_str())
            {
                return self
                    .welcome
                    .joined(&env.room_id, &env.sender, env.event_id.as_str())
                    .await
                    .map_err(|e| HandlerError::Transient(e.to_string()));
            }
            return Ok(());
        }
        if content.membership != MembershipState::Invite {
            return Ok(());
        }
        match self.client.join_room(&env.room_id, None).await {
            Ok(()) => {
                tracing::info!(room_id = %env.room_id, "joined a room on invitation");
                Ok(())
            }
            // The invitation was withdrawn or the room is gone: nothing left to do.
            Err(e @ ClientError::Matrix { status: 403 | 404, .. }) => {
                tracing::info!(room_id = %env.room_id, error = %e, "invitation no longer valid");
                Ok(())
            }
            Err(e) => Err(HandlerError::Transient(e.to_string())),
        }
    }

    async fn on_message(&self, env: &Envelope) -> Result<(), HandlerError> {
        if self.config.is_own_user(&env.sender) {
            return Ok(());
        }
        let Ok(content) = serde_json::from_str::<RoomMessageEventContent>(env.content.get()) else {
            return Ok(());
        };
        // Edits carry the new text in m.new_content; answering them would answer twice.
        if matches!(content.relates_to, Some(Relation::Replacement(_))) {
            return Ok(());
        }
        let MessageType::Text(text) = &content.msgtype else {
            return Ok(());
        };
        if let Ok(Some(invocation)) = command::parse(&text.body) {
            let reply = match messages::resolve(&invocation.name).map(|c| c.name) {
                Some("sondage") => Some(self.poll_command(env, &invocation.words).await?),
                Some("aide") => {
                    let may = self.broadcasts.may_broadcast(&env.room_id, &env.sender).await;
                    Some(messages::help_for(may.map_err(|e| HandlerError::Transient(e.to_string()))?))
                }
                Some("diffuser") => {
                    let reply_to = match &content.relates_to {
                        Some(Relation::Reply(reply)) => Some(reply.in_reply_to.event_id.to_string()),
                        _ => None,
                    };
                    let result = self
                        .broadcasts
                        .command(
                            &env.room_id,
                            &env.sender,
                            env.event_id.as_str(),
                            reply_to.as_deref(),
                            &invocation.words,
                        )
                        .await;
                    Some(result.map_err(|e| HandlerError::Transient(e.to_string()))?)
                }
                _ => None,
            };
            if let Some(reply) = reply {
                return self.reply(env, reply).await;
            }
        }
        let Some(reply) = answer(&text.body) else {
            return Ok(());
        };
        self.reply(env, reply).await
    }

    async fn poll_command(&self, env: &Envelope, words: &[String]) -> Result<String, HandlerError> {
        let result = match words.first().map(|w| w.to_lowercase()).as_deref() {
            Some("clore" | "close" | "fermer") => self.polls.close_latest(&env.room_id, &env.sender).await,
            _ => self.polls.open(&env.room_id, &env.sender, env.event_id.as_str(), words).await,
        };
        result.map_err(poll_error)
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
        // Answered by the mail bridge.
        Some("courriel") => return None,
        _ => messages::unknown_command(&invocation.name),
    };
    Some(reply)
}

impl EventHandler for BotHandler {
    fn name(&self) -> &'static str {
        "bots"
    }

    fn handle<'a>(&'a self, event: &'a QueuedEvent) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(self.on_event(event))
    }
}

#[cfg(test)]
mod tests {
    use super::answer;

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
}
