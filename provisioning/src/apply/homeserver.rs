//! What each action does on the homeserver, idempotently: a second attempt after a crash finds
//! the room by its alias, treats "already invited" and "already gone" as done.

use std::collections::BTreeSet;

use ruma::{OwnedRoomId, RoomAliasId, RoomId, UserId, api::error::ErrorCode};
use serde_json::{Value, json};

use relais_appservice::{ClientError, MatrixClient, client::rooms::NewRoom};
use relais_core::{Config, Store};

use crate::{desired::RoomKind, plan::Action, store::ProvisioningStore};

/// Power level of moderators; the bot is 100.
const MODERATOR: i64 = 50;

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
    pub server_name: String,
    pub alias_prefix: String,
    pub bot: String,
}

impl Homeserver {
    pub fn new(client: MatrixClient, store: Store, config: &Config) -> Self {
        Self {
            client,
            store: ProvisioningStore::new(store),
            server_name: config.homeserver.server_name.to_string(),
            alias_prefix: config.appservice.alias_prefix.clone(),
            bot: config.bot_user_id().to_string(),
        }
    }

    async fn room_id(&self, key: &str) -> Result<OwnedRoomId, Failure> {
        let id = self.store.prov_room_id(key).await.map_err(|e| Failure::Transient(e.to_string()))?;
        let id = id.ok_or_else(|| Failure::Permanent(format!("room {key} was not created")))?;
        RoomId::parse(&id).map_err(|_| Failure::Permanent(format!("room {key} has an invalid id")))
    }

    /// Applies a homeserver action; returns the id of the room it created, if it created one.
    pub async fn execute(&self, action: &Action) -> Result<Option<OwnedRoomId>, Failure> {
        match action {
            Action::CreateRoom { room, kind, name, parent } => {
                self.create(room, *kind, name, parent.as_deref()).await.map(Some)
            }
            Action::RenameRoom { room, name } => {
                let id = self.room_id(room).await?;
                self.client.put_state(&id, "m.room.name", "", &json!({ "name": name })).await?;
                Ok(None)
            }
            Action::SetModerators { room, moderators } => {
                let id = self.room_id(room).await?;
                let wanted: BTreeSet<String> = moderators.iter().map(ToString::to_string).collect();
                self.set_moderators(&id, &wanted).await?;
                Ok(None)
            }
            Action::Invite { room, user_id, .. } => {
                let id = self.room_id(room).await?;
                if let Err(e) = self.client.invite(&id, user_id).await {
                    // Already joined or invited: the invitation is in effect.
                    let membership = self.membership(&id, user_id).await?;
                    if !matches!(membership.as_deref(), Some("join" | "invite")) {
                        return Err(e.into());
                    }
                }
                Ok(None)
            }
            Action::Kick { room, user_id, reason, .. } => {
                let id = self.room_id(room).await?;
                if let Err(e) = self.client.kick(&id, user_id, reason).await {
                    // Never joined, already left or kicked: they are out, which is the goal.
                    let membership = self.membership(&id, user_id).await?;
                    if matches!(membership.as_deref(), Some("join" | "invite" | "knock")) {
                        return Err(e.into());
                    }
                }
                Ok(None)
            }
            _ => Err(Failure::Permanent("not a homeserver action".into())),
        }
    }

    async fn membership(&self, room: &RoomId, user: &UserId) -> Result<Option<String>, Failure> {
        let state = self.client.state(room, "m.room.member", user.as_str()).await?;
        Ok(state.and_then(|c| c["membership"].as_str().map(str::to_owned)))
    }

    fn power_levels(&self, kind: RoomKind) -> Value {
        json!({
            "users": { self.bot.clone(): 100 },
            "users_default": 0,
            "events_default": if kind == RoomKind::Announcements { MODERATOR } else { 0 },
            "state_default": MODERATOR,
            "invite": MODERATOR,
            "kick": MODERATOR,
            "ban": MODERATOR,
            "redact": MODERATOR,
            "events": {
                "m.room.power_levels": 100,
                "m.room.join_rules": 100,
                "m.room.history_visibility": 100,
                "m.room.server_acl": 100,
                "m.room.tombstone": 100,
                "m.room.encryption": 100,
                "m.space.child": 100,
                "m.space.parent": 100,
            },
        })
    }

    async fn create(
        &self,
        key: &str,
        kind: RoomKind,
        name: &str,
        parent: Option<&str>,
    ) -> Result<OwnedRoomId, Failure> {
        let parent_id = match parent {
            Some(parent) => Some(self.room_id(parent).await?),
            None => None,
        };
        let alias_localpart = format!("{}{key}", self.alias_prefix);
        let mut initial_state = vec![
            json!({"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "shared"}}),
            json!({"type": "m.room.guest_access", "state_key": "", "content": {"guest_access": "forbidden"}}),
        ];
        match (&parent_id, kind.is_restricted()) {
            (Some(space), true) => initial_state.push(json!({
                "type": "m.room.join_rules", "state_key": "",
                "content": {"join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": space}]},
            })),
            _ => initial_state
                .push(json!({"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "invite"}})),
        }
        if let Some(space) = &parent_id {
            initial_state.push(json!({
                "type": "m.space.parent", "state_key": space,
                "content": {"via": [self.server_name], "canonical": true},
            }));
        }
        let spec = NewRoom {
            alias_localpart: alias_localpart.clone(),
            name: name.to_owned(),
            space: kind.is_space(),
            power_levels: self.power_levels(kind),
            initial_state,
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
            let child = json!({"via": [self.server_name], "suggested": kind.is_restricted()});
            self.client.put_state(space, "m.space.child", room_id.as_str(), &child).await?;
        }
        Ok(room_id)
    }

    async fn set_moderators(&self, room: &RoomId, wanted: &BTreeSet<String>) -> Result<(), Failure> {
        let mut levels =
            self.client.state(room, "m.room.power_levels", "").await?.unwrap_or_else(|| json!({}));
        let users = levels["users"].as_object().cloned().unwrap_or_default();
        let mut next = serde_json::Map::new();
        for (user, level) in users {
            let level = level.as_i64().unwrap_or(0);
            // Keep admins and anyone set by hand above or below moderator; moderators are ours.
            if level != MODERATOR || wanted.contains(&user) {
                next.insert(user, json!(level));
            }
        }
        for user in wanted {
            let current = next.get(user).and_then(Value::as_i64).unwrap_or(0);
            if current < MODERATOR {
                next.insert(user.clone(), json!(MODERATOR));
            }
        }
        next.insert(self.bot.clone(), json!(100));
        levels["users"] = Value::Object(next);
        self.client.put_state(room, "m.room.power_levels", "", &levels).await?;
        Ok(())
    }
}
