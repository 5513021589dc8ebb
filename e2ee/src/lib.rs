//! The bot's end-to-end-encryption device.
//!
//! An appservice has no device keys: through the appservice API alone the bot can neither read
//! an encrypted room nor encrypt its answers. This crate gives the bot (the appservice's sender
//! user) a real device, logged in with the appservice token, whose Olm/Megolm state is
//! matrix-rust-sdk's crypto machine (`matrix-sdk-crypto`) over its SQLite crypto store, kept
//! under `[bots] e2ee_dir` so that a restart keeps its keys.
//!
//! Synapse refuses `/sync` to an appservice's sender user, so the machine is fed the way an
//! appservice device is meant to be: the homeserver pushes the device's to-device messages
//! (MSC2409), device-list changes and one-time-key counts (MSC3202) in the appservice
//! transactions, which the intake journals before acknowledging them. Then:
//!
//! - [`DeviceHandler`], a dispatcher handler, gives those to the machine (sending what it asks
//!   for: key uploads and queries, Olm sessions) and decrypts `m.room.encrypted` events into new
//!   journal rows of their own ([`DECRYPTED_PREFIX`]), which the bot's commands and polls then
//!   handle exactly like clear events, durably; an event whose key has not arrived yet is retried
//!   by the dispatcher;
//! - [`BotDevice`] implements the appservice client's [`RoomEncryption`] hook: every event the
//!   bot sends into an encrypted room is encrypted by the machine (its Megolm session shared
//!   with every device of the room's members first) and sent as `m.room.encrypted`.
//!
//! One node runs the device (its store is local state); the others must not set `e2ee_dir`.
//!
//! [`DECRYPTED_PREFIX`]: relais_appservice::queue::DECRYPTED_PREFIX
//! [`RoomEncryption`]: relais_appservice::client::RoomEncryption

mod decrypted;
mod handler;
mod http;
mod outgoing;
mod send;
mod session;

use std::{collections::HashMap, path::PathBuf, sync::Arc, time::Instant};

use matrix_sdk_crypto::OlmMachine;
use matrix_sdk_sqlite::SqliteCryptoStore;
use tokio::sync::Mutex;

use relais_appservice::{ClientError, MatrixClient};
use relais_core::Config;

pub use handler::DeviceHandler;

/// Shown in members' clients next to the bot's device.
const DEVICE_NAME: &str = "Relais (bot, chiffrement de bout en bout)";

/// Why the device could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("`[bots] e2ee_dir` is not set")]
    NotConfigured,
    #[error("the homeserver and the bot's device: {0}")]
    Homeserver(#[from] ClientError),
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("{path} is not a device session Relais wrote ({error}); move it away to start a new device")]
    Session { path: PathBuf, error: String },
    #[error("the crypto store: {0}")]
    Store(String),
}

/// The bot's end-to-end-encryption device; share it behind an `Arc`.
#[derive(Debug)]
pub struct BotDevice {
    machine: OlmMachine,
    http: http::DeviceHttp,
    appservice: MatrixClient,
    /// Serialises the machine's work (transaction changes, key sharing, encryption).
    lock: Mutex<()>,
    /// Rooms known to be encrypted (for good), and rooms seen in clear (checked again later).
    rooms: std::sync::Mutex<HashMap<String, RoomState>>,
    /// The device's login: no event before it was encrypted for it.
    logged_in_at_ms: i64,
}

#[derive(Debug, Clone, Copy)]
enum RoomState {
    Encrypted,
    ClearAt(Instant),
}

impl BotDevice {
    /// Opens the device kept under `[bots] e2ee_dir`, logging a new one in the first time, and
    /// uploads its keys if the homeserver does not have them yet.
    pub async fn open(config: &Config, appservice: &MatrixClient) -> Result<Arc<Self>, DeviceError> {
        let dir = config.bots.e2ee_dir.clone().ok_or(DeviceError::NotConfigured)?;
        session::ensure_private_dir(&dir)?;
        let login = Self::session(config, appservice, &dir).await?;
        let (user_id, device_id) = session::ids(&dir, &login)?;
        let store_dir = dir.join(&login.device_id);
        session::ensure_private_dir(&store_dir)?;
        let passphrase = config.bots.e2ee_passphrase.as_ref().map(|s| s.expose().to_owned());
        let store = SqliteCryptoStore::open(&store_dir, passphrase.as_deref()).await.map_err(|e| {
            DeviceError::Store(format!("{e} (is [bots] e2ee_passphrase the one it was made with?)"))
        })?;
        let machine = OlmMachine::with_store(&user_id, &device_id, store, None)
            .await
            .map_err(|e| DeviceError::Store(e.to_string()))?;
        let http = http::DeviceHttp::new(
            config.homeserver.url.as_str(),
            &login.access_token,
            Some(&config.appservice.as_token),
        )?;
        let device = Arc::new(Self {
            machine,
            http,
            appservice: appservice.clone(),
            lock: Mutex::new(()),
            rooms: std::sync::Mutex::new(HashMap::new()),
            logged_in_at_ms: login.logged_in_at_ms,
        });
        {
            let _guard = device.lock.lock().await;
            device.send_outgoing().await?;
            let marker = store_dir.join("cross-signed");
            if !marker.exists() {
                match device.cross_sign().await {
                    Ok(()) => session::write_atomically(&marker, b"")?,
                    Err(error) => tracing::warn!(
                        %error,
                        "the bot's device is not cross-signed: clients that only trust devices \
                         verified by their owner may not encrypt for it"
                    ),
                }
            }
        }
        tracing::info!(device_id = %device_id, "the bot's encrypted device is ready");
        Ok(device)
    }

    /// The saved session, or a new device's when there is none or its store is gone.
    async fn session(
        config: &Config,
        appservice: &MatrixClient,
        dir: &std::path::Path,
    ) -> Result<relais_appservice::client::DeviceLogin, DeviceError> {
        let lost = match session::load(dir)? {
            Some(login) if session::has_store(&dir.join(&login.device_id)) => return Ok(login),
            Some(lost) => lost,
            None => return Self::login(config, appservice, dir).await,
        };
        // Without its keys the device cannot be used again (the homeserver holds its public
        // keys): a new one takes its place, and the old one is logged out so that its keys leave
        // the homeserver and members' clients stop encrypting for it.
        tracing::warn!(
            device_id = %lost.device_id,
            "the crypto store of the bot's device is gone; logging a new device in \
             (what was encrypted for the old one stays unreadable to the bot)"
        );
        let logout = matrix_sdk_common::ruma::api::client::session::logout::v3::Request::new();
        let old = http::DeviceHttp::new(config.homeserver.url.as_str(), &lost.access_token, None)?;
        if let Err(error) = old.send(logout).await {
            tracing::warn!(%error, "could not log the lost device out");
        }
        Self::login(config, appservice, dir).await
    }

    /// Logs a new device in and saves its session.
    async fn login(
        config: &Config,
        appservice: &MatrixClient,
        dir: &std::path::Path,
    ) -> Result<relais_appservice::client::DeviceLogin, DeviceError> {
        // Synapse does not create the appservice's sender user; a device needs the user to
        // exist (its access tokens are checked against the users table).
        appservice.register_appservice_user(&config.appservice.sender_localpart).await?;
        let login = appservice.login_device(&config.appservice.sender_localpart, DEVICE_NAME).await?;
        session::save(dir, &login)?;
        tracing::info!(device_id = %login.device_id, "logged the bot's encrypted device in");
        Ok(login)
    }

    /// The device's id, as members' clients list it.
    pub fn device_id(&self) -> &str {
        self.machine.device_id().as_str()
    }
}
