//! Typed room state as the bot reads it: a state event's content decoded into its ruma type,
//! and the room's power levels read by its version's rules (from room version 12, the room's
//! creators have infinite power and are not listed in `users`).

use ruma::{
    OwnedUserId, RoomId,
    api::client::state::get_state_event_for_key::{self, v3::StateEventFormat},
    events::{
        StateEventType, StaticEventContent,
        room::{
            create::RoomCreateEventContent,
            power_levels::{RoomPowerLevels, RoomPowerLevelsEventContent, RoomPowerLevelsSource},
        },
    },
    room_version_rules::RoomVersionRules,
};
use serde::{Deserialize, de::DeserializeOwned};

use super::{ClientError, MatrixClient};

/// The parts of the room's creation event its power levels depend on.
#[derive(Deserialize)]
struct Creation {
    sender: OwnedUserId,
    content: RoomCreateEventContent,
}

fn unreadable(what: &str, error: &serde_json::Error) -> ClientError {
    ClientError::Response(format!("{what}: {}", relais_core::json::error_without_data(error)))
}

impl MatrixClient {
    /// The content of the room's state event of type `C` and key `state_key`, decoded; `None`
    /// when the room has none. A content that does not decode is an error, never a default.
    pub async fn state_content<C>(&self, room_id: &RoomId, state_key: &str) -> Result<Option<C>, ClientError>
    where
        C: StaticEventContent + DeserializeOwned,
    {
        let Some(content) = self.state(room_id, C::TYPE, state_key).await? else { return Ok(None) };
        serde_json::from_value(content).map(Some).map_err(|e| unreadable(C::TYPE, &e))
    }

    /// The room's power levels, read by the rules of its version: its creators (the creation
    /// event's sender and `additional_creators`) are privileged where the version says so;
    /// without a power-levels event, the specification's defaults. A state the homeserver sends
    /// that does not decode is [`ClientError::Response`]: callers deciding a permission treat
    /// it as no permission.
    pub async fn power_levels(&self, room_id: &RoomId) -> Result<RoomPowerLevels, ClientError> {
        let mut request = get_state_event_for_key::v3::Request::new(
            room_id.to_owned(),
            StateEventType::RoomCreate,
            String::new(),
        );
        request.format = StateEventFormat::Event;
        let response = self.send(request, None).await?;
        let creation: Creation = serde_json::from_str(response.event_or_content.get())
            .map_err(|e| unreadable("m.room.create", &e))?;
        let version = &creation.content.room_version;
        // A version Relais does not know (a custom or experimental one): read as version 10,
        // where nobody is above the levels the room lists.
        let rules = version.rules().unwrap_or_else(|| {
            tracing::warn!(%version, "unknown room version: its power levels are read as version 10's");
            RoomVersionRules::V10
        });
        let mut creators = vec![creation.sender];
        creators.extend(creation.content.additional_creators);
        let source = match self.state_content::<RoomPowerLevelsEventContent>(room_id, "").await? {
            Some(content) => RoomPowerLevelsSource::Original(content),
            None => RoomPowerLevelsSource::None,
        };
        Ok(RoomPowerLevels::new(source, &rules.authorization, creators))
    }
}
