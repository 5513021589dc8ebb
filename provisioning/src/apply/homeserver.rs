//! What each action does on the homeserver, idempotently: a second attempt after a crash finds
//! the room by its alias, treats "already invited" and "already gone" as done.

use std::collections::{BTreeMap, BTreeSet};

use ruma::{
    Int, OwnedRoomId, OwnedServerName, OwnedUserId, RoomAliasId, RoomId, UserId,
    api::error::ErrorCode,
    events::{
        AnyInitialStateEvent, EmptyStateKey, InitialStateEvent, TimelineEventType,
        room::{
            guest_access::{GuestAccess, RoomGuestAccessEventContent},
            history_visibility::{HistoryVisibility, RoomHistoryVisibilityEventContent},
            join_rules::{AllowRule, JoinRule, Restricted, RoomJoinRulesEventContent},
            member::MembershipState,
            name::RoomNameEventContent,
            power_levels::RoomPowerLevelsEventContent,
        },
        space::{child::SpaceChildEventContent, parent::SpaceParentEventContent},
    },
    int,
    room_version_rules::AuthorizationRules,
    serde::Raw,
};

use relais_appservice::{ClientError, MatrixClient, client::rooms::NewRoom};
use relais_core::{Config, Store};

use relais_core::config::PublicJoin;

use crate::{
    desired::{Openness, RoomKind},
    plan::Action,
    store::ProvisioningStore,
};

/// Power level of moderators.
fn moderator() -> Int {
    int!(50)
}

/// Power level of the bot, and what changing a room's structure takes.
fn admin() -> Int {
    int!(100)
}

/// Why an action did not complete.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The homeserver is unreachable: stop, the next run resumes here.
    #[error("{0}")]
    Transient(String),
    /// This action cannot be done (unknown user, banned…): recorded, the next import retries.
    #[error("{0}")]
    Permanent(String),
    /// The provisioning lease is someone else's now: stop, nothing recorded.
    #[error("the provisioning lease was lost")]
    LeaseLost,
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Matrix { .. } | ClientError::Request(_) | ClientError::Response(_) => {
                Self::Permanent(e.to_string())
            }
            ClientError::Unreachable(_) => Self::Transient(e.to_string()),
        }
    }
}

/// Runs homeserver actions for one deployment.
#[derive(Debug, Clone)]
pub struct Homeserver {
    pub client: MatrixClient,
    pub store: ProvisioningStore,
    pub server_name: OwnedServerName,
    pub alias_prefix: String,
    pub bot: OwnedUserId,
}

impl Homeserver {
    pub fn new(client: MatrixClient, store: Store, config: &Config) -> Self {
        Self {
            client,
            store: ProvisioningStore::new(store),
            server_name: config.homeserver.server_name.clone(),
            alias_prefix: config.appservice.alias_prefix.clone(),
            bot: config.bot_user_id(),
        }
    }

    async fn room_id(&self, key: &str) -> Result<OwnedRoomId, Failure> {
        let id = self.store.room_id(key).await.map_err(|e| Failure::Transient(e.to_string()))?;
        let id = id.ok_or_else(|| Failure::Permanent(format!("room {key} was not created")))?;
        RoomId::parse(&id).map_err(|_| Failure::Permanent(format!("room {key} has an invalid id")))
    }

    /// Applies a homeserver action; returns the id of the room it created, if it created one.
    pub async fn execute(&self, action: &Action) -> Result<Option<OwnedRoomId>, Failure> {
        match action {
            Action::CreateRoom { room, kind, name, parent, open } => {
                self.create(room, *kind, name, parent.as_deref(), *open).await.map(Some)
            }
            Action::RenameRoom { room, name } => {
                let id = self.room_id(room).await?;
                self.client.send_state(&id, &EmptyStateKey, &RoomNameEventContent::new(name.clone())).await?;
                Ok(None)
            }
            Action::SetModerators { room, moderators } => {
                let id = self.room_id(room).await?;
                let kind =
                    self.store.room_kind_of(room).await.map_err(|e| Failure::Transient(e.to_string()))?;
                let kind = kind.and_then(|k| k.parse::<RoomKind>().ok());
                let wanted: BTreeSet<OwnedUserId> = moderators.iter().cloned().collect();
                self.set_moderators(&id, kind, &wanted).await?;
                Ok(None)
            }
            Action::Invite { room, user_id, .. } => {
                let id = self.room_id(room).await?;
                if let Err(e) = self.client.invite(&id, user_id).await {
                    // Already joined or invited: the invitation is in effect.
                    let membership = self.membership(&id, user_id).await?;
                    if !matches!(membership, Some(MembershipState::Join | MembershipState::Invite)) {
                        return Err(e.into());
                    }
                }
                Ok(None)
            }
            Action::Kick { room, user_id, reason, .. } => {
                let id = self.room_id(room).await?;
                // Whoever leaves a federation space is removed from each of its thematic rooms,
                // which most never joined: asked first, one read instead of a refused write.
                if crate::theme::is_theme_key(room)
                    && !matches!(
                        self.membership(&id, user_id).await?,
                        Some(MembershipState::Join | MembershipState::Invite | MembershipState::Knock)
                    )
                {
                    return Ok(None);
                }
                if let Err(e) = self.client.kick(&id, user_id, reason).await {
                    // Never joined, already left or kicked: they are out, which is the goal.
                    let membership = self.membership(&id, user_id).await?;
                    if matches!(
                        membership,
                        Some(MembershipState::Join | MembershipState::Invite | MembershipState::Knock)
                    ) {
                        return Err(e.into());
                    }
                }
                Ok(None)
            }
            _ => Err(Failure::Permanent("not a homeserver action".into())),
        }
    }

    async fn membership(&self, room: &RoomId, user: &UserId) -> Result<Option<MembershipState>, Failure> {
        Ok(self.client.membership(room, user).await?)
    }

    async fn create(
        &self,
        key: &str,
        kind: RoomKind,
        name: &str,
        parent: Option<&str>,
        open: Option<Openness>,
    ) -> Result<OwnedRoomId, Failure> {
        let parent_id = match parent {
            Some(parent) => Some(self.room_id(parent).await?),
            None => None,
        };
        let alias_localpart = format!("{}{key}", self.alias_prefix);
        let spec = NewRoom {
            alias_localpart: alias_localpart.clone(),
            name: name.to_owned(),
            space: kind.is_space(),
            power_levels: power_levels(kind, &self.bot),
            initial_state: initial_state(kind, parent_id.as_ref(), &self.server_name, open),
            // Public rooms are listed in the server's room directory.
            listed: open.is_some(),
        };
        let room_id = match self.client.create_room(&spec).await {
            Ok(id) => id,
            // Created by an earlier attempt that died before recording it (or whose answer was
            // lost and retried: Synapse then says 409 without M_ROOM_IN_USE): find it by alias.
            Err(
                ClientError::Matrix { errcode: Some(ErrorCode::RoomInUse), .. }
                | ClientError::Matrix { status: 409, .. },
            ) => {
                let alias = RoomAliasId::parse(format!("#{alias_localpart}:{}", self.server_name))
                    .map_err(|_| Failure::Permanent(format!("invalid alias for room {key}")))?;
                self.client.resolve_alias(&alias).await?.ok_or_else(|| {
                    Failure::Permanent(format!("alias of room {key} is taken but resolves nowhere"))
                })?
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(space) = &parent_id {
            let mut child = SpaceChildEventContent::new(vec![self.server_name.clone()]);
            // The rooms every member is meant to see; thematic rooms are found by those interested.
            child.suggested =
                matches!(kind, RoomKind::Discussion | RoomKind::Announcements | RoomKind::Public);
            self.client.send_state(space, room_id.as_str(), &child).await?;
        }
        Ok(room_id)
    }

    async fn set_moderators(
        &self,
        room: &RoomId,
        kind: Option<RoomKind>,
        wanted: &BTreeSet<OwnedUserId>,
    ) -> Result<(), Failure> {
        // Rooms are created in version 10: the levels' defaults are those of its rules.
        let current = self.client.state_content::<RoomPowerLevelsEventContent>(room, "").await?;
        let current = current.unwrap_or_else(|| RoomPowerLevelsEventContent::new(&AuthorizationRules::V10));
        let mut levels = with_moderators(current, wanted, &self.bot);
        if let Some(kind) = kind {
            with_moderators_structure(&mut levels.events, kind);
        }
        self.client.send_state(room, &EmptyStateKey, &levels).await?;
        Ok(())
    }
}

/// The power levels of a new room of `kind`: the bot administers it, moderators (50) may
/// invite, remove and redact, switch a room to end-to-end encryption, and attach rooms they
/// made to their federation's space; only the bot changes the rest of its structure (join
/// rules, history, the national space's hierarchy); announcements rooms are read-only below
/// moderators.
fn power_levels(kind: RoomKind, bot: &UserId) -> RoomPowerLevelsEventContent {
    let mut levels = RoomPowerLevelsEventContent::new(&AuthorizationRules::V10);
    levels.users.insert(bot.to_owned(), admin());
    levels.users_default = int!(0);
    levels.events_default = if kind == RoomKind::Announcements { moderator() } else { int!(0) };
    (levels.state_default, levels.invite, levels.kick, levels.ban, levels.redact) =
        (moderator(), moderator(), moderator(), moderator(), moderator());
    for structural in [
        TimelineEventType::RoomPowerLevels,
        TimelineEventType::RoomJoinRules,
        TimelineEventType::RoomHistoryVisibility,
        TimelineEventType::RoomServerAcl,
        TimelineEventType::RoomTombstone,
        TimelineEventType::RoomEncryption,
        TimelineEventType::SpaceChild,
        TimelineEventType::SpaceParent,
    ] {
        levels.events.insert(structural, admin());
    }
    if !kind.is_space() {
        levels.events.insert(TimelineEventType::RoomEncryption, moderator());
    }
    if matches!(kind, RoomKind::FederationSpace | RoomKind::PublicSpace) {
        levels.events.insert(TimelineEventType::SpaceChild, moderator());
    }
    levels
}

/// The state a new room of `kind` starts with. Members-only rooms: history shared with members,
/// no guests, and either restricted to the members of its `space` or by invitation only.
/// Public rooms (`open`): anyone joins or knocks, guests as configured — and then history
/// readable before joining, so the directory can preview it.
fn initial_state(
    kind: RoomKind,
    space: Option<&OwnedRoomId>,
    server: &OwnedServerName,
    open: Option<Openness>,
) -> Vec<Raw<AnyInitialStateEvent>> {
    let join_rule = match (open, space) {
        (Some(Openness { join: PublicJoin::Public, .. }), _) => JoinRule::Public,
        (Some(Openness { join: PublicJoin::Knock, .. }), _) => JoinRule::Knock,
        (None, Some(space)) if kind.is_restricted() => {
            JoinRule::Restricted(Restricted::new(vec![AllowRule::room_membership(space.clone())]))
        }
        (None, _) => JoinRule::Invite,
    };
    let guests = open.is_some_and(|o| o.guests);
    let (history, guest_access) = if guests {
        (HistoryVisibility::WorldReadable, GuestAccess::CanJoin)
    } else {
        (HistoryVisibility::Shared, GuestAccess::Forbidden)
    };
    let mut state = vec![
        InitialStateEvent::with_empty_state_key(RoomHistoryVisibilityEventContent::new(history)).to_raw_any(),
        InitialStateEvent::with_empty_state_key(RoomGuestAccessEventContent::new(guest_access)).to_raw_any(),
        InitialStateEvent::with_empty_state_key(RoomJoinRulesEventContent::new(join_rule)).to_raw_any(),
    ];
    if let Some(space) = space {
        let mut parent = SpaceParentEventContent::new(vec![server.clone()]);
        parent.canonical = true;
        state.push(InitialStateEvent::new(space.clone(), parent).to_raw_any());
    }
    state
}

/// What moderators may change in a room of `kind` that rooms made before could keep at the
/// bot's level (100): switching a room to encryption, attaching rooms to a federation's or a
/// public space.
fn moderators_structure(kind: RoomKind) -> Vec<TimelineEventType> {
    let mut events = Vec::new();
    if !kind.is_space() {
        events.push(TimelineEventType::RoomEncryption);
    }
    if matches!(kind, RoomKind::FederationSpace | RoomKind::PublicSpace) {
        events.push(TimelineEventType::SpaceChild);
    }
    events
}

/// Whether a room of `kind` still keeps from moderators what they may now do at the bot's own
/// level (100), as an older Relais made it. Another level was set by hand and stays: to keep a
/// room from being encrypted, set the level to 99.
pub(crate) fn structure_outdated(kind: RoomKind, events: &BTreeMap<TimelineEventType, Int>) -> bool {
    moderators_structure(kind).iter().any(|event| events.get(event) == Some(&admin()))
}

/// Lowers to moderator the levels of what moderators may now do in a room of `kind`, where the
/// bot kept them at its own (100); a level set by hand stays.
fn with_moderators_structure(events: &mut BTreeMap<TimelineEventType, Int>, kind: RoomKind) {
    for event in moderators_structure(kind) {
        if let Some(level) = events.get_mut(&event)
            && *level == admin()
        {
            *level = moderator();
        }
    }
}

/// `levels` with exactly `wanted` as the room's moderators: moderators no longer wanted go
/// back to the default; admins, and anyone set by hand above or below moderator, keep their
/// level; the bot stays an admin. Nothing else in the levels changes.
fn with_moderators(
    mut levels: RoomPowerLevelsEventContent,
    wanted: &BTreeSet<OwnedUserId>,
    bot: &UserId,
) -> RoomPowerLevelsEventContent {
    levels.users.retain(|user, level| *level != moderator() || wanted.contains(user));
    for user in wanted {
        let level = levels.users.entry(user.clone()).or_insert(moderator());
        *level = (*level).max(moderator());
    }
    levels.users.insert(bot.to_owned(), admin());
    levels
}

#[cfg(test)]
mod tests;
