//! Room administration as the appservice's bot: create, resolve, invite, kick, ban, read and
//! write state.

use ruma::{
    OwnedRoomAliasId, OwnedRoomId, RoomId, RoomVersionId, UserId,
    api::client::{
        alias::get_alias,
        membership::{
            ban_user, get_member_events,
            invite_user::{self, v3::InviteUserId},
            kick_user, leave_room, unban_user,
        },
        room::{Visibility, create_room},
        state::{get_state_event_for_key, send_state_event},
    },
    events::{
        AnyInitialStateEvent, InitialStateEvent, StateEventContent, StateEventType,
        room::{
            encryption::RoomEncryptionEventContent, member::MembershipState,
            power_levels::RoomPowerLevelsEventContent,
        },
    },
    room::RoomType,
    serde::Raw,
};
use serde::Deserialize;
use serde_json::Value;

use super::{ClientError, MatrixClient};

/// One member of a room, as its membership event says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomMember {
    /// The event's state key: the member (not checked to be a user id here).
    pub user_id: String,
    /// Who sent the event (the member, or whoever invited, kicked or banned them).
    pub sender: String,
    pub membership: MembershipState,
}

/// The fields of a membership event Relais reads, and nothing else.
#[derive(Deserialize)]
struct MemberEvent {
    state_key: String,
    sender: String,
    content: MembershipOnly,
}

#[derive(Deserialize)]
struct MembershipOnly {
    membership: MembershipState,
}

/// A room to create.
#[derive(Debug, Clone)]
pub struct NewRoom {
    /// Localpart of the canonical alias; a second creation attempt finds the first by it.
    pub alias_localpart: String,
    pub name: String,
    pub space: bool,
    /// The whole `m.room.power_levels` content.
    pub power_levels: RoomPowerLevelsEventContent,
    /// Initial state events (`InitialStateEvent::to_raw_any`).
    pub initial_state: Vec<Raw<AnyInitialStateEvent>>,
    /// Listed in the server's public room directory.
    pub listed: bool,
}

fn unserializable(e: &serde_json::Error) -> ClientError {
    ClientError::Request(e.to_string())
}

/// `levels` with every level written out, even those equal to the specification's default:
/// Synapse merges an override into its own defaults for the room, which a server may set
/// otherwise (`default_power_level_content_override`).
fn explicit_levels<T>(levels: &RoomPowerLevelsEventContent) -> Result<Raw<T>, ClientError> {
    let mut value = serde_json::to_value(levels).map_err(|e| unserializable(&e))?;
    for (key, level) in [
        ("ban", levels.ban),
        ("kick", levels.kick),
        ("redact", levels.redact),
        ("invite", levels.invite),
        ("state_default", levels.state_default),
        ("events_default", levels.events_default),
        ("users_default", levels.users_default),
    ] {
        value[key] = serde_json::json!(level);
    }
    serde_json::value::to_raw_value(&value).map(Raw::from_json).map_err(|e| unserializable(&e))
}

impl MatrixClient {
    /// Creates a room (or space) owned by the bot, room version 10; its join rules are its
    /// initial state's (by invitation unless it says otherwise).
    pub async fn create_room(&self, room: &NewRoom) -> Result<OwnedRoomId, ClientError> {
        let mut request = create_room::v3::Request::new();
        request.room_alias_name = Some(room.alias_localpart.clone());
        request.name = Some(room.name.clone());
        request.visibility = if room.listed { Visibility::Public } else { Visibility::Private };
        request.room_version = Some(RoomVersionId::V10);
        request.preset = Some(create_room::v3::RoomPreset::PrivateChat);
        if room.space {
            let mut creation = create_room::v3::CreationContent::new();
            creation.room_type = Some(RoomType::Space);
            request.creation_content = Some(Raw::new(&creation).map_err(|e| unserializable(&e))?);
        }
        request.power_level_content_override = Some(explicit_levels(&room.power_levels)?);
        request.initial_state = room.initial_state.clone();
        Ok(self.send(request, None).await?.room_id)
    }

    /// [`Self::create_room`], or the room an earlier attempt (or another node) made under the
    /// same alias: the homeserver then refuses the alias (400 `M_ROOM_IN_USE`, or 409).
    pub async fn create_or_find_room(&self, room: &NewRoom) -> Result<OwnedRoomId, ClientError> {
        match self.create_room(room).await {
            Err(ClientError::Matrix { status: 400 | 409, .. }) => {
                let alias = OwnedRoomAliasId::try_from(format!(
                    "#{}:{}",
                    room.alias_localpart,
                    self.inner.bot.server_name()
                ))
                .map_err(|e| ClientError::Request(e.to_string()))?;
                self.resolve_alias(&alias).await?.ok_or_else(|| {
                    ClientError::Response(format!("the alias of {} resolves nowhere", room.name))
                })
            }
            other => other,
        }
    }

    /// Makes a direct room for the bot with nobody else in it yet: [`MatrixClient::invite_direct`]
    /// then invites its member, so an invitation their server refuses leaves a room the bot
    /// knows (and invites again), not one it cannot name.
    pub async fn create_direct(&self, name: &str) -> Result<OwnedRoomId, ClientError> {
        let mut request = create_room::v3::Request::new();
        request.name = Some(name.to_owned());
        request.visibility = Visibility::Private;
        request.preset = Some(create_room::v3::RoomPreset::TrustedPrivateChat);
        request.is_direct = true;
        if self.encrypts() {
            // The bot's device can encrypt: the ballot and whatever follows stay between the two.
            let encryption = RoomEncryptionEventContent::with_recommended_defaults();
            request.initial_state = vec![InitialStateEvent::with_empty_state_key(encryption).to_raw_any()];
        }
        Ok(self.send(request, None).await?.room_id)
    }

    /// Invites `user` to the bot's direct room `room_id`, marked direct (`is_direct`) as
    /// `createRoom` would: their client lists it among their direct messages.
    pub async fn invite_direct(&self, room_id: &RoomId, user: &UserId) -> Result<(), ClientError> {
        let content = serde_json::json!({"membership": "invite", "is_direct": true});
        self.send_state_raw(room_id, "m.room.member", user.as_str(), &content).await
    }

    /// The room an alias points to, if any.
    pub async fn resolve_alias(&self, alias: &OwnedRoomAliasId) -> Result<Option<OwnedRoomId>, ClientError> {
        match self.send(get_alias::v3::Request::new(alias.clone()), None).await {
            Ok(response) => Ok(Some(response.room_id)),
            Err(ClientError::Matrix { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Invites `user_id` as the bot.
    pub async fn invite(&self, room_id: &RoomId, user_id: &UserId) -> Result<(), ClientError> {
        let recipient = InviteUserId::new(user_id.to_owned()).into();
        self.send(invite_user::v3::Request::new(room_id.to_owned(), recipient), None).await?;
        Ok(())
    }

    /// Leaves the room as the bot.
    pub async fn leave(&self, room_id: &RoomId) -> Result<(), ClientError> {
        self.send(leave_room::v3::Request::new(room_id.to_owned()), None).await?;
        Ok(())
    }

    /// Kicks `user_id` (or withdraws their invitation) with a reason they will read.
    pub async fn kick(&self, room_id: &RoomId, user_id: &UserId, reason: &str) -> Result<(), ClientError> {
        let mut request = kick_user::v3::Request::new(room_id.to_owned(), user_id.to_owned());
        request.reason = Some(reason.to_owned());
        self.send(request, None).await?;
        Ok(())
    }

    /// Bans `user_id` (whether in the room or not) with a reason they will read.
    pub async fn ban(&self, room_id: &RoomId, user_id: &UserId, reason: &str) -> Result<(), ClientError> {
        let mut request = ban_user::v3::Request::new(room_id.to_owned(), user_id.to_owned());
        request.reason = Some(reason.to_owned());
        self.send(request, None).await?;
        Ok(())
    }

    /// Lifts the ban of `user_id` (they may be invited or join again).
    pub async fn unban(&self, room_id: &RoomId, user_id: &UserId, reason: &str) -> Result<(), ClientError> {
        let mut request = unban_user::v3::Request::new(room_id.to_owned(), user_id.to_owned());
        request.reason = Some(reason.to_owned());
        self.send(request, None).await?;
        Ok(())
    }

    /// Every member of the room's current state with their membership, read leniently: a
    /// member writes their own membership event, and Synapse checks only its `membership`, so
    /// nothing else in it (a field of the wrong type) may hide them from Relais. An event
    /// without a user id as its key or a membership is skipped.
    pub async fn room_members(&self, room_id: &RoomId) -> Result<Vec<RoomMember>, ClientError> {
        let response = self.send(get_member_events::v3::Request::new(room_id.to_owned()), None).await?;
        Ok(response
            .chunk
            .iter()
            .filter_map(|raw| {
                serde_json::from_str::<MemberEvent>(raw.json().get())
                    .inspect_err(|e| {
                        let why = relais_core::json::error_without_data(e);
                        tracing::warn!(%room_id, %why, "a member event without a membership: skipped");
                    })
                    .ok()
            })
            .map(|event| RoomMember {
                user_id: event.state_key,
                sender: event.sender,
                membership: event.content.membership,
            })
            .collect())
    }

    /// The membership of `user_id` in the room (`None`: never a member), read leniently like
    /// [`Self::room_members`].
    pub async fn membership(
        &self,
        room_id: &RoomId,
        user_id: &UserId,
    ) -> Result<Option<MembershipState>, ClientError> {
        let Some(content) = self.state(room_id, "m.room.member", user_id.as_str()).await? else {
            return Ok(None);
        };
        let content: MembershipOnly = serde_json::from_value(content)
            .map_err(|e| ClientError::Response(relais_core::json::error_without_data(&e)))?;
        Ok(Some(content.membership))
    }

    /// Every `m.room.member` event of the room's current state, as JSON.
    pub async fn member_events(&self, room_id: &RoomId) -> Result<Vec<Value>, ClientError> {
        let response = self.send(get_member_events::v3::Request::new(room_id.to_owned()), None).await?;
        Ok(response.chunk.iter().filter_map(|raw| serde_json::from_str(raw.json().get()).ok()).collect())
    }

    /// The content of a state event, or `None` when the room has none.
    pub async fn state(
        &self,
        room_id: &RoomId,
        event_type: &str,
        state_key: &str,
    ) -> Result<Option<Value>, ClientError> {
        let request = get_state_event_for_key::v3::Request::new(
            room_id.to_owned(),
            StateEventType::from(event_type),
            state_key.to_owned(),
        );
        match self.send(request, None).await {
            Ok(response) => serde_json::from_str(response.event_or_content.get())
                .map(Some)
                .map_err(|e| ClientError::Response(e.to_string())),
            Err(ClientError::Matrix { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sets a state event as the bot from raw content: for what no typed content can say (an
    /// empty content that withdraws a rule of a policy list).
    pub async fn send_state_raw(
        &self,
        room_id: &RoomId,
        event_type: &str,
        state_key: &str,
        content: &Value,
    ) -> Result<(), ClientError> {
        let request = send_state_event::v3::Request::new_raw(
            room_id.to_owned(),
            StateEventType::from(event_type),
            state_key.to_owned(),
            Raw::new(content).map_err(|e| unserializable(&e))?.cast_unchecked(),
        );
        self.send(request, None).await?;
        Ok(())
    }

    /// Sets a state event as the bot.
    pub async fn send_state<C, K>(
        &self,
        room_id: &RoomId,
        state_key: &K,
        content: &C,
    ) -> Result<(), ClientError>
    where
        C: StateEventContent,
        C::StateKey: std::borrow::Borrow<K>,
        K: AsRef<str> + ?Sized,
    {
        let request = send_state_event::v3::Request::new(room_id.to_owned(), state_key, content)
            .map_err(|e| unserializable(&e))?;
        self.send(request, None).await?;
        Ok(())
    }
}
