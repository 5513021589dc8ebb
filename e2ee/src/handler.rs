//! The device's part of the dispatcher: what the transactions carried for the device goes to
//! the crypto machine, encrypted room events are decrypted into journal rows of their own.

use std::{collections::BTreeMap, sync::Arc};

use matrix_sdk_common::ruma::{
    OneTimeKeyAlgorithm, OwnedRoomId, UInt, api::client::sync::sync_events::DeviceLists,
    events::AnyToDeviceEvent, serde::Raw,
};
use matrix_sdk_crypto::{
    DecryptionSettings, EncryptionSyncChanges, RoomEventDecryptionResult, TrustRequirement,
    types::events::room::encrypted::EncryptedEvent,
};
use serde_json::Value;
use tokio::sync::Notify;

use relais_appservice::queue::{DEVICE_ROW_TYPE, IntakeQueue, QueuedEvent};
use relais_appservice::{DispatchedEvent, EventHandler, HandlerError, dispatch::BoxFuture};
use relais_core::Store;

use crate::{BotDevice, decrypted, outgoing::machine_error};

/// Decrypts everything from everyone: the bot answers members whatever their devices' trust
/// (as Element shows their messages, with a warning, rather than hiding them).
pub(crate) fn decryption_settings() -> DecryptionSettings {
    DecryptionSettings { sender_device_trust_requirement: TrustRequirement::Untrusted }
}

/// Feeds the bot's encrypted device from the journal; register it with the dispatcher of the
/// node that holds the device.
#[derive(Debug)]
pub struct DeviceHandler {
    device: Arc<BotDevice>,
    store: Store,
    /// Wakes the dispatcher when decrypted rows are journaled.
    wakeup: Arc<Notify>,
}

impl DeviceHandler {
    pub fn new(device: Arc<BotDevice>, store: Store, wakeup: Arc<Notify>) -> Self {
        Self { device, store, wakeup }
    }

    async fn on_event(&self, dispatched: &DispatchedEvent) -> Result<(), HandlerError> {
        let event = &dispatched.queued;
        match event.event_type.as_str() {
            DEVICE_ROW_TYPE => {
                if !dispatched.json.is_object() {
                    return Err(HandlerError::Permanent("not a device row".into()));
                }
                self.device
                    .receive(&dispatched.json)
                    .await
                    .map_err(|e| HandlerError::Transient(e.to_string()))
            }
            "m.room.encrypted" => self.decrypt(event, &dispatched.json).await,
            "m.room.encryption" => {
                self.device.mark_encrypted(&event.room_id);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Journals the decrypted event; an event whose key has not arrived yet is retried by the
    /// dispatcher (the key usually comes in the next transaction).
    async fn decrypt(&self, event: &QueuedEvent, sent: &Value) -> Result<(), HandlerError> {
        let bot = self.device.machine.user_id().as_str();
        if event.sender == bot {
            return Ok(());
        }
        let room_id = OwnedRoomId::try_from(event.room_id.as_str())
            .map_err(|e| HandlerError::Permanent(format!("bad room id: {e}")))?;
        let json = serde_json::value::RawValue::from_string(event.body.clone()).map_err(|e| {
            HandlerError::Permanent(format!("not JSON: {}", relais_core::json::error_without_data(&e)))
        })?;
        let raw: Raw<EncryptedEvent> = Raw::from_json(json);
        let result = self
            .device
            .machine
            .try_decrypt_room_event(&raw, &room_id, &decryption_settings())
            .await
            .map_err(|e| HandlerError::Transient(machine_error(e).to_string()))?;
        let decrypted = match result {
            RoomEventDecryptionResult::Decrypted(decrypted) => decrypted,
            RoomEventDecryptionResult::UnableToDecrypt(info) => {
                let sent_at = sent["origin_server_ts"].as_i64().unwrap_or(i64::MAX);
                if sent_at < self.device.logged_in_at_ms {
                    // Sent before the device existed: never encrypted for it.
                    return Ok(());
                }
                return Err(HandlerError::Transient(format!(
                    "cannot decrypt yet ({:?}); its key may still arrive",
                    info.reason
                )));
            }
        };
        let json: Value = serde_json::from_str(decrypted.event.json().get()).map_err(|e| {
            let why = relais_core::json::error_without_data(&e);
            HandlerError::Permanent(format!("decrypted event is not JSON: {why}"))
        })?;
        let Some(row) = decrypted::decrypted_row(&event.room_id, &json, bot, self.device.logged_in_at_ms)
        else {
            return Ok(());
        };
        let rows = [row];
        let outcome = self
            .store
            .record_transaction(&decrypted::batch_id(&rows), &rows)
            .await
            .map_err(|e| HandlerError::Transient(e.to_string()))?;
        if matches!(outcome, relais_appservice::queue::TxnOutcome::Stored { new_events } if new_events > 0) {
            self.wakeup.notify_waiters();
        }
        Ok(())
    }
}

impl EventHandler for DeviceHandler {
    fn name(&self) -> &'static str {
        "e2ee"
    }

    fn handle<'a>(&'a self, event: &'a DispatchedEvent) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(self.on_event(event))
    }
}

impl BotDevice {
    /// The clear form of an encrypted event of `room_id`, as the sender wrote it (with its id,
    /// sender and time), or `None` when the key is missing.
    pub(crate) async fn decrypt_fetched(&self, room_id: &str, event: &Value) -> Option<Value> {
        let room_id = OwnedRoomId::try_from(room_id).ok()?;
        let raw: Raw<EncryptedEvent> = Raw::from_json(serde_json::value::to_raw_value(event).ok()?);
        let result =
            self.machine.try_decrypt_room_event(&raw, &room_id, &decryption_settings()).await.ok()?;
        match result {
            RoomEventDecryptionResult::Decrypted(decrypted) => {
                serde_json::from_str(decrypted.event.json().get()).ok()
            }
            RoomEventDecryptionResult::UnableToDecrypt(_) => None,
        }
    }

    /// Gives the machine what a transaction carried for this device, then sends what it asks.
    pub(crate) async fn receive(&self, body: &Value) -> Result<(), relais_appservice::ClientError> {
        let user = self.machine.user_id().as_str();
        let device = self.machine.device_id().as_str();
        let to_device: Vec<Raw<AnyToDeviceEvent>> = body["to_device"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["to_user_id"] == user && (m["to_device_id"] == device || m["to_device_id"] == "*"))
            .filter_map(|m| serde_json::value::to_raw_value(m).ok().map(Raw::from_json))
            .collect();
        let lists: DeviceLists = optional_field(&body["device_lists"], "device_lists");
        let counts: BTreeMap<OneTimeKeyAlgorithm, UInt> =
            optional_field(&body["device_one_time_keys_count"][user][device], "device_one_time_keys_count");
        let fallback: Option<Vec<OneTimeKeyAlgorithm>> =
            serde_json::from_value(body["device_unused_fallback_key_types"][user][device].clone()).ok();
        tracing::debug!(
            to_device = to_device.len(),
            changed = lists.changed.len(),
            left = lists.left.len(),
            one_time_keys = ?counts.values().next(),
            "device changes"
        );
        let _guard = self.lock.lock().await;
        let changes = EncryptionSyncChanges {
            to_device_events: to_device,
            changed_devices: &lists,
            one_time_keys_counts: &counts,
            unused_fallback_keys: fallback.as_deref(),
            next_batch_token: None,
        };
        self.machine.receive_sync_changes(changes, &decryption_settings()).await.map_err(machine_error)?;
        self.send_outgoing().await
    }
}

/// A field a transaction may leave out (then empty); one it carries but that cannot be read is
/// said — a device list lost silently could hide a member's new device — then taken as empty.
fn optional_field<T: serde::de::DeserializeOwned + Default>(value: &Value, what: &str) -> T {
    if value.is_null() {
        return T::default();
    }
    serde_json::from_value(value.clone()).unwrap_or_else(|e| {
        let error = relais_core::json::error_without_data(&e);
        tracing::warn!(field = what, %error, "an unreadable field of a transaction for the bot's device");
        T::default()
    })
}
