//! The hook through which the bot's end-to-end-encrypted device (crate `relais-e2ee`) sends the
//! bot's events into encrypted rooms, and the login that gives the bot such a device.
//!
//! The appservice API cannot encrypt: an appservice has no device keys. When a device is
//! configured, every event the bot sends goes through [`RoomEncryption::send_if_encrypted`]
//! first; the device encrypts and sends it when the room is encrypted, and otherwise hands it
//! back to be sent in clear the usual way.

use ruma::{
    RoomId, UserId,
    api::client::session::login::{self, v3::LoginInfo},
    api::client::uiaa::{MatrixUserIdentifier, UserIdentifier},
};
use serde_json::Value;

use super::{ClientError, Inner, MatrixClient};
use crate::dispatch::BoxFuture;

/// Sends the bot's events into end-to-end-encrypted rooms.
pub trait RoomEncryption: Send + Sync + std::fmt::Debug {
    /// Sends `content` encrypted when `room_id` is encrypted and returns the event id; `None`
    /// when the room is not encrypted, for the caller to send it in clear. The transaction id
    /// is kept, so a resend after a crash is de-duplicated by the homeserver as usual.
    fn send_if_encrypted<'a>(
        &'a self,
        room_id: &'a RoomId,
        event_type: &'a str,
        txn_id: &'a str,
        content: &'a Value,
    ) -> BoxFuture<'a, Result<Option<String>, ClientError>>;

    /// The clear form of an `m.room.encrypted` event of `room_id` fetched from the homeserver
    /// (the message a command replies to), or `None` when the device cannot decrypt it.
    fn decrypt<'a>(&'a self, room_id: &'a RoomId, event: &'a Value) -> BoxFuture<'a, Option<Value>>;
}

/// A device's credentials, from [`MatrixClient::login_device`].
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct DeviceLogin {
    pub user_id: String,
    pub device_id: String,
    pub access_token: String,
    /// When the device was logged in (ms since the epoch): nothing older was encrypted for it.
    #[serde(default)]
    pub logged_in_at_ms: i64,
}

impl std::fmt::Debug for DeviceLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceLogin")
            .field("user_id", &self.user_id)
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

impl MatrixClient {
    /// This client, with the bot's events into encrypted rooms sent through `encryption`.
    pub fn with_encryption(self, encryption: std::sync::Arc<dyn RoomEncryption>) -> Self {
        let inner = Inner { encryption: Some(encryption), ..self.inner.copy() };
        Self { inner: std::sync::Arc::new(inner) }
    }

    /// Whether the bot has an end-to-end-encrypted device (new direct rooms are then encrypted).
    pub fn encrypts(&self) -> bool {
        self.inner.encryption.is_some()
    }

    /// Sends through the encrypted device when `as_user` is the bot and the room is encrypted.
    pub(super) async fn send_encrypted(
        &self,
        room_id: &RoomId,
        event_type: &str,
        txn_id: &str,
        content: &Value,
        as_user: &UserId,
    ) -> Result<Option<String>, ClientError> {
        match &self.inner.encryption {
            Some(device) if as_user == self.inner.bot => {
                device.send_if_encrypted(room_id, event_type, txn_id, content).await
            }
            _ => Ok(None),
        }
    }

    /// `event` in clear when it is encrypted and the bot's device can decrypt it.
    pub(super) async fn decrypted(&self, room_id: &RoomId, event: Value) -> Value {
        match &self.inner.encryption {
            Some(device) if event["type"] == "m.room.encrypted" => {
                device.decrypt(room_id, &event).await.unwrap_or(event)
            }
            _ => event,
        }
    }

    /// Logs `localpart` (one of the appservice's users) in as a new device, with the
    /// appservice's token (`m.login.application_service`): how the bot gets its own
    /// end-to-end-encryption device.
    pub async fn login_device(
        &self,
        localpart: &str,
        display_name: &str,
    ) -> Result<DeviceLogin, ClientError> {
        let info = LoginInfo::ApplicationService(login::v3::ApplicationService::new(UserIdentifier::Matrix(
            MatrixUserIdentifier::new(localpart.to_owned()),
        )));
        let mut request = login::v3::Request::new(info);
        request.initial_device_display_name = Some(display_name.to_owned());
        let response = self.send(request, None).await?;
        Ok(DeviceLogin {
            user_id: response.user_id.to_string(),
            device_id: response.device_id.to_string(),
            access_token: response.access_token,
            logged_in_at_ms: relais_core::time::now_ms(),
        })
    }
}
