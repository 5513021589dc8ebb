//! Sending the bot's events into encrypted rooms: the appservice client's encryption hook.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use matrix_sdk_common::ruma::{
    OwnedRoomId, OwnedUserId, api::client::sync::sync_events::DeviceLists,
    events::AnyMessageLikeEventContent, serde::Raw,
};
use matrix_sdk_crypto::{EncryptionSettings, EncryptionSyncChanges};
use serde_json::Value;

use relais_appservice::{ClientError, client::RoomEncryption, dispatch::BoxFuture};

use crate::{BotDevice, RoomState, handler::decryption_settings, outgoing::machine_error};

/// How long a room seen in clear is believed to be so (encryption can be turned on at any time;
/// the dispatcher also reports it as soon as the state event arrives).
const CLEAR_FOR: Duration = Duration::from_secs(60);

/// Event types sent in clear even in encrypted rooms: already encrypted, or (reactions) that
/// clients expect in clear to aggregate them.
const NEVER_ENCRYPTED: &[&str] = &["m.room.encrypted", "m.reaction"];

impl BotDevice {
    /// Remembers that `room_id` is encrypted (an `m.room.encryption` event went by).
    pub(crate) fn mark_encrypted(&self, room_id: &str) {
        if let Ok(mut rooms) = self.rooms.lock() {
            rooms.insert(room_id.to_owned(), RoomState::Encrypted);
        }
    }

    /// Whether the room is encrypted: from what the device knows, else from the room's state.
    async fn is_encrypted(&self, room_id: &ruma::RoomId) -> Result<bool, ClientError> {
        let known = self.rooms.lock().ok().and_then(|rooms| rooms.get(room_id.as_str()).copied());
        match known {
            Some(RoomState::Encrypted) => return Ok(true),
            Some(RoomState::ClearAt(at)) if at.elapsed() < CLEAR_FOR => return Ok(false),
            _ => {}
        }
        let encrypted = self.appservice.state(room_id, "m.room.encryption", "").await?.is_some();
        let state = if encrypted { RoomState::Encrypted } else { RoomState::ClearAt(Instant::now()) };
        if let Ok(mut rooms) = self.rooms.lock() {
            rooms.insert(room_id.as_str().to_owned(), state);
        }
        Ok(encrypted)
    }

    /// The users whose devices get the room key: members and invited users.
    async fn recipients(&self, room_id: &ruma::RoomId) -> Result<Vec<OwnedUserId>, ClientError> {
        let members = self.appservice.member_events(room_id).await?;
        Ok(members
            .iter()
            .filter(|m| matches!(m["content"]["membership"].as_str(), Some("join" | "invite")))
            .filter_map(|m| m["state_key"].as_str().and_then(|u| OwnedUserId::try_from(u).ok()))
            .collect())
    }

    /// Queries the current devices of `users`. The homeserver reports device changes to an
    /// appservice only for users already sharing a joined room with it, not for a member who
    /// set up a new device before joining: asking before each encrypted send is what makes
    /// every device a member has get the key.
    async fn refresh_devices(&self, users: &[OwnedUserId]) -> Result<(), ClientError> {
        self.machine.update_tracked_users(users.iter().map(AsRef::as_ref)).await.map_err(machine_error)?;
        let mut lists = DeviceLists::new();
        lists.changed = users.to_vec();
        let changes = EncryptionSyncChanges {
            to_device_events: Vec::new(),
            changed_devices: &lists,
            one_time_keys_counts: &BTreeMap::new(),
            unused_fallback_keys: None,
            next_batch_token: None,
        };
        self.machine.receive_sync_changes(changes, &decryption_settings()).await.map_err(machine_error)?;
        self.send_outgoing().await
    }

    /// Shares the room's Megolm session with every device of its members (opening Olm sessions
    /// where needed), encrypts `content` and sends it as the bot.
    async fn encrypt_and_send(
        &self,
        room_id: &ruma::RoomId,
        event_type: &str,
        txn_id: &str,
        content: &Value,
    ) -> Result<String, ClientError> {
        let room =
            OwnedRoomId::try_from(room_id.as_str()).map_err(|e| ClientError::Request(e.to_string()))?;
        let users = self.recipients(room_id).await?;
        let encrypted = {
            let _guard = self.lock.lock().await;
            self.refresh_devices(&users).await?;
            let missing = self.machine.get_missing_sessions(users.iter().map(AsRef::as_ref)).await;
            if let Some((id, claim)) = missing.map_err(machine_error)? {
                self.claim(id, &claim).await?;
            }
            let shares = self.machine.share_room_key(
                &room,
                users.iter().map(AsRef::as_ref),
                EncryptionSettings::default(),
            );
            for request in shares.await.map_err(machine_error)? {
                self.to_device(&request).await?;
            }
            let json =
                serde_json::value::to_raw_value(content).map_err(|e| ClientError::Request(e.to_string()))?;
            let raw: Raw<AnyMessageLikeEventContent> = Raw::from_json(json);
            let result = self.machine.encrypt_room_event_raw(&room, event_type, &raw).await;
            result.map_err(machine_error)?
        };
        let content: Value = serde_json::from_str(encrypted.content.json().get())
            .map_err(|e| ClientError::Request(e.to_string()))?;
        let bot = ruma::UserId::parse(self.machine.user_id().as_str())
            .map_err(|e| ClientError::Request(e.to_string()))?;
        self.appservice.send_raw_event(room_id, "m.room.encrypted", txn_id, &content, &bot).await
    }

    async fn send_if_encrypted_inner(
        &self,
        room_id: &ruma::RoomId,
        event_type: &str,
        txn_id: &str,
        content: &Value,
    ) -> Result<Option<String>, ClientError> {
        if NEVER_ENCRYPTED.contains(&event_type) || !self.is_encrypted(room_id).await? {
            return Ok(None);
        }
        let event_id = self.encrypt_and_send(room_id, event_type, txn_id, content).await?;
        tracing::debug!(room_id = %room_id, event_type, "sent encrypted");
        Ok(Some(event_id))
    }
}

impl RoomEncryption for BotDevice {
    fn send_if_encrypted<'a>(
        &'a self,
        room_id: &'a ruma::RoomId,
        event_type: &'a str,
        txn_id: &'a str,
        content: &'a Value,
    ) -> BoxFuture<'a, Result<Option<String>, ClientError>> {
        Box::pin(self.send_if_encrypted_inner(room_id, event_type, txn_id, content))
    }

    fn decrypt<'a>(&'a self, room_id: &'a ruma::RoomId, event: &'a Value) -> BoxFuture<'a, Option<Value>> {
        Box::pin(self.decrypt_fetched(room_id.as_str(), event))
    }
}
