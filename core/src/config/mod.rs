//! Configuration: a TOML file overlaid by `RELAIS_<SECTION>__<KEY>` environment variables.
//!
//! Loading fails with one [`ConfigError`] that names the offending key and says what to do.

mod defaults;
mod env;
mod mail;
mod peers;
mod public;
mod validate;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use ruma::{OwnedServerName, OwnedUserId, UserId};
use serde::Deserialize;
use url::Url;

pub use self::{
    mail::{DeliveryMode, InboundAuth, InboundProtocol, MailConfig},
    peers::IpNet,
    public::{MAX_PUBLIC_ROOMS, PublicConfig, PublicJoin, PublicRoomConfig},
};
use crate::{KeyPurpose, MasterKey, Secret, keys};

/// The whole configuration of a Relais deployment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub homeserver: HomeserverConfig,
    pub appservice: AppserviceConfig,
    pub database: DatabaseConfig,
    pub web: WebConfig,
    #[serde(default)]
    pub dispatch: DispatchConfig,
    #[serde(default)]
    pub mail: MailConfig,
    #[serde(default)]
    pub provisioning: ProvisioningConfig,
    #[serde(default)]
    pub bots: BotsConfig,
    #[serde(default)]
    pub secrets: SecretsConfig,
    #[serde(default)]
    pub public: PublicConfig,
    #[serde(default)]
    pub other_homeservers: OtherHomeserversConfig,
    /// The master secret the per-purpose keys derive from: the key file's (see [`Config::load`])
    /// or `secrets.master_key`; a random one until then, never a predictable one.
    #[serde(skip, default = "MasterKey::random")]
    master: MasterKey,
}

/// `[other_homeservers]`: the party's other homeservers (a federation running its own, section
/// "Federations with their own homeserver" of docs/deploy.md), whose members sign in to
/// Relais's pages with an OpenID token from their own server.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtherHomeserversConfig {
    /// Server name → the base URL of its federation API (`https://matrix.nord.pcf.fr:8448`).
    /// Only these servers are asked: a token naming any other is refused.
    #[serde(default)]
    pub servers: std::collections::BTreeMap<OwnedServerName, Url>,
    /// A CA certificate file (PEM) trusted for those servers besides the public roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// An HTTP proxy for those calls (`CONNECT`), when the host reaches the internet through one.
    #[serde(default)]
    pub https_proxy: Option<Url>,
}

/// `[secrets]`: where the master secret lives (see [`crate::keys`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsConfig {
    /// The key file, created on first run (mode 0600); relative to the configuration file.
    #[serde(default = "defaults::master_key_file")]
    pub master_key_file: PathBuf,
    /// The master key itself (64 hex characters), e.g. from `RELAIS_SECRETS__MASTER_KEY`;
    /// wins over the file. Several nodes of one deployment share the same key.
    #[serde(default)]
    pub master_key: Option<Secret>,
}

impl Default for SecretsConfig {
    fn default() -> Self {
        Self { master_key_file: defaults::master_key_file(), master_key: None }
    }
}

/// `[bots]`: what the bots need beyond the appservice.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotsConfig {
    /// The national communication room (room id or alias): its moderators broadcast to the
    /// federations with `!diffuser`. Unset: no broadcasts.
    #[serde(default)]
    pub national_room: Option<String>,
    /// The national selection room (room id or alias): federations' `!proposer` land there, its
    /// moderators keep them (`!retenir`, 👍) and publish them (`!sélection publier`). Unset: no
    /// proposals.
    #[serde(default)]
    pub selection_room: Option<String>,
    /// Directory of the bot's end-to-end-encryption device: its login and its crypto store
    /// (its keys). Set: the bot reads commands and poll answers in encrypted rooms, answers
    /// there encrypted, and its ballot messages go in encrypted direct rooms. Unset: the bot
    /// speaks through the appservice API only and cannot read encrypted rooms. Back it up: a
    /// lost directory means a new device that cannot read what was encrypted for the old one.
    #[serde(default)]
    pub e2ee_dir: Option<std::path::PathBuf>,
    /// Encrypts the crypto store at rest; keep it out of the file (`RELAIS_BOTS__E2EE_PASSPHRASE`).
    #[serde(default)]
    pub e2ee_passphrase: Option<Secret>,
    /// Flood protection: a member (below moderator) who sends more than this many messages
    /// within `flood_seconds` in a provisioned room is muted there for `flood_mute_seconds`,
    /// and the federation's moderators are told. 0 turns it off.
    #[serde(default = "defaults::flood_messages", deserialize_with = "env::lenient")]
    pub flood_messages: u32,
    #[serde(default = "defaults::flood_seconds", deserialize_with = "env::lenient")]
    pub flood_seconds: u32,
    #[serde(default = "defaults::flood_mute_seconds", deserialize_with = "env::lenient")]
    pub flood_mute_seconds: u32,
}

impl Default for BotsConfig {
    fn default() -> Self {
        Self {
            national_room: None,
            selection_room: None,
            e2ee_dir: None,
            e2ee_passphrase: None,
            flood_messages: defaults::flood_messages(),
            flood_seconds: defaults::flood_seconds(),
            flood_mute_seconds: defaults::flood_mute_seconds(),
        }
    }
}

/// `[provisioning]`: reconciling the membership file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisioningConfig {
    /// A plan removing more than this share of active members is refused without `--force`.
    #[serde(default = "defaults::max_removal_percent", deserialize_with = "env::lenient")]
    pub max_removal_percent: u32,
    /// Name of the national space that holds the federation spaces.
    #[serde(default = "defaults::national_name")]
    pub national_name: String,
    /// Rooms worked on in parallel while applying (each room's actions stay in order).
    #[serde(default = "defaults::concurrency", deserialize_with = "env::lenient")]
    pub concurrency: u32,
    /// Days an invitation link stays valid.
    #[serde(default = "defaults::invitation_days", deserialize_with = "env::lenient")]
    pub invitation_days: u32,
    /// `relais serve` checks and repairs drift this often (minutes); 0 turns it off.
    #[serde(default = "defaults::drift_interval_minutes", deserialize_with = "env::lenient")]
    pub drift_interval_minutes: u32,
    /// A run holds the provisioning lease this long past its last renewal (every third of it):
    /// a killed run blocks the others at most this long.
    #[serde(default = "defaults::provisioning_lease_seconds", deserialize_with = "env::lenient")]
    pub lease_seconds: u32,
    /// The national team: with every digital referent of the file, in the referents' network
    /// room, which they moderate.
    #[serde(default)]
    pub national_team: Vec<OwnedUserId>,
}

impl Default for ProvisioningConfig {
    fn default() -> Self {
        Self {
            max_removal_percent: defaults::max_removal_percent(),
            national_name: defaults::national_name(),
            concurrency: defaults::concurrency(),
            invitation_days: defaults::invitation_days(),
            drift_interval_minutes: defaults::drift_interval_minutes(),
            lease_seconds: defaults::provisioning_lease_seconds(),
            national_team: Vec::new(),
        }
    }
}

/// `[homeserver]`: the Synapse this deployment plugs into.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HomeserverConfig {
    /// Client-server API base URL, e.g. `http://127.0.0.1:8008`.
    pub url: Url,
    /// The server name in Matrix ids, e.g. `pcf.fr`.
    pub server_name: OwnedServerName,
    /// The address members type in their Matrix client (default: `url`).
    #[serde(default)]
    pub public_url: Option<Url>,
    /// Synapse's `registration_shared_secret`: lets Relais create the accounts of members who
    /// accept an invitation. Without it, no invitation is sent.
    #[serde(default)]
    pub registration_shared_secret: Option<Secret>,
    /// The access token of a Synapse administrator account made for Relais
    /// (`register_new_matrix_user -a`): lets a federation's referent give a member a new
    /// password. Without it, the referents' page sends forgotten passwords to the technical
    /// team.
    #[serde(default)]
    pub admin_token: Option<Secret>,
    /// How long one client-server call may keep retrying while the homeserver is down.
    #[serde(default = "defaults::retry_seconds", deserialize_with = "env::lenient")]
    pub max_retry_seconds: u64,
}

/// `[appservice]`: how Synapse and Relais know each other.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppserviceConfig {
    pub id: String,
    /// Where Relais listens for the homeserver.
    pub bind: SocketAddr,
    /// How the homeserver reaches Relais.
    pub url: Url,
    pub as_token: Secret,
    pub hs_token: Secret,
    /// The bot user that owns provisioned rooms and answers commands.
    pub sender_localpart: String,
    /// Prefix of the other bot users' localparts (`@relais_…`).
    #[serde(default = "defaults::user_prefix")]
    pub user_prefix: String,
    /// Prefix of the room aliases Relais manages (`#relais_…`).
    #[serde(default = "defaults::alias_prefix")]
    pub alias_prefix: String,
}

/// `[database]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://relais.db?mode=rwc` (embedded default) or `postgres://user@host/db`.
    pub url: Secret,
    #[serde(default = "defaults::max_connections", deserialize_with = "env::lenient")]
    pub max_connections: u32,
}

/// `[web]`: the members' and referents' pages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    pub bind: SocketAddr,
    pub public_url: Url,
    /// Connections served at once; one more is closed at once (the proxy in front retries).
    #[serde(default = "defaults::web_max_connections", deserialize_with = "env::lenient")]
    pub max_connections: u32,
    /// How long a client may take to send a request's head, and how long a kept-alive
    /// connection may stay idle.
    #[serde(default = "defaults::header_timeout_seconds", deserialize_with = "env::lenient")]
    pub header_timeout_seconds: u64,
    /// How long a client may take to send a request's body (a form, a membership file).
    #[serde(default = "defaults::body_timeout_seconds", deserialize_with = "env::lenient")]
    pub body_timeout_seconds: u64,
    /// Proxies whose `X-Forwarded-For` names the client (rate limits and sign-ins are per
    /// client address). Default: loopback only. From the environment: comma-separated.
    #[serde(default = "defaults::trusted_proxies", deserialize_with = "env::list")]
    pub trusted_proxies: Vec<IpNet>,
    /// Whom members write to about their personal data (an address, or a postal address), as
    /// the privacy page (`/confidentialite`) says. Without it, the page sends them to their
    /// federation's digital referent.
    #[serde(default)]
    pub privacy_contact: Option<String>,
}

/// `[dispatch]`: workers that hand stored events to the features.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatchConfig {
    /// `false` makes this node intake-only: it stores events and another node handles them.
    #[serde(default = "defaults::yes", deserialize_with = "env::lenient")]
    pub enabled: bool,
    /// Attempts before an event is parked as failed (kept for inspection, not retried).
    #[serde(default = "defaults::max_attempts", deserialize_with = "env::lenient")]
    pub max_attempts: u32,
    /// Days handled events and transaction ids are kept for de-duplication.
    #[serde(default = "defaults::retention_days", deserialize_with = "env::lenient")]
    pub retention_days: u32,
    /// How long a worker holds events it leased; a killed worker's events are retried after it.
    #[serde(default = "defaults::lease_seconds", deserialize_with = "env::lenient")]
    pub lease_seconds: u32,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_attempts: defaults::max_attempts(),
            retention_days: defaults::retention_days(),
            lease_seconds: defaults::lease_seconds(),
        }
    }
}

/// Why the configuration could not be loaded; every variant says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "cannot read the configuration file {path} (copy relais.example.toml to {path} or pass --config FILE)"
    )]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the configuration file {path} is not valid TOML: {message}")]
    Syntax { path: String, message: String },
    #[error(
        "environment variable {var} does not name a configuration key: use RELAIS_<SECTION>__<KEY>, e.g. RELAIS_HOMESERVER__URL"
    )]
    EnvKey { var: String },
    #[error("configuration key `{key}`: {message}")]
    Key { key: String, message: String },
}

/// The smallest valid configuration, for tests (the configuration's own and every crate's
/// through [`Config::for_tests`]).
#[cfg(any(test, feature = "test-support"))]
pub const TEST_TOML: &str = r#"
[homeserver]
url = "http://127.0.0.1:8008"
server_name = "pcf.test"
[appservice]
id = "relais"
bind = "127.0.0.1:9009"
url = "http://127.0.0.1:9009"
as_token = "as-token-0123456789abcdef"
hs_token = "hs-token-0123456789abcdef"
sender_localpart = "relais"
[database]
url = "sqlite://relais.db?mode=rwc"
[web]
bind = "127.0.0.1:8080"
public_url = "http://127.0.0.1:8080"
"#;

impl Config {
    /// Reads `path`, overlays the environment, validates the result and reads the master key
    /// (creating its file on first run).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        let mut config = Self::from_toml_and_env(&text, &path.display().to_string(), std::env::vars())?;
        if config.secrets.master_key.is_none() {
            let file = keys::resolve(&config.secrets.master_key_file, path);
            config.master = MasterKey::load_or_create(&file).map_err(|e| ConfigError::Key {
                key: "secrets.master_key_file".into(),
                message: e.to_string(),
            })?;
        }
        if let Some(file) = &config.public.charter_file {
            config.public.charter = Some(
                public::read_charter(file, path)
                    .map_err(|message| ConfigError::Key { key: "public.charter_file".into(), message })?,
            );
        }
        Ok(config)
    }

    /// The key for `purpose`, derived from the master secret.
    pub fn key(&self, purpose: KeyPurpose) -> Secret {
        self.master.derive(purpose)
    }

    /// Parses TOML `text` (named `origin` in errors) and overlays `vars` (`RELAIS_…` only).
    pub fn from_toml_and_env(
        text: &str,
        origin: &str,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table: toml::Table = toml::from_str(text)
            .map_err(|e| ConfigError::Syntax { path: origin.to_owned(), message: e.message().to_owned() })?;
        env::overlay(&mut table, vars)?;
        default_sender_at_list_domain(&mut table);
        let config: Config = serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            ConfigError::Key { key: e.path().to_string(), message: e.inner().message().to_owned() }
        })?;
        validate::check(&config)?;
        let mut config = config;
        if let Some(hex) = &config.secrets.master_key {
            config.master = MasterKey::from_hex(hex.expose(), "secrets.master_key")
                .map_err(|e| ConfigError::Key { key: "secrets.master_key".into(), message: e.to_string() })?;
        }
        Ok(config)
    }

    /// The address Relais's own mail leaves from, when `[mail] from` is not set.
    pub const DEFAULT_SENDER_NAME: &'static str = "Relais";

    /// A configuration for tests: [`TEST_TOML`] with the homeserver at `homeserver` (nothing
    /// need answer there), then the sections of `more`.
    #[cfg(any(test, feature = "test-support"))]
    pub fn for_tests(homeserver: &str, more: &str) -> Self {
        let text = TEST_TOML.replacen("http://127.0.0.1:8008", homeserver, 1) + more;
        Self::from_toml_and_env(&text, "test.toml", std::iter::empty())
            .expect("the test configuration is valid")
    }

    /// The homeserver address for members' clients.
    pub fn homeserver_public_url(&self) -> &Url {
        self.homeserver.public_url.as_ref().unwrap_or(&self.homeserver.url)
    }

    /// Whether invitations by email can be sent and redeemed.
    pub fn invitations_enabled(&self) -> bool {
        self.mail.smtp_url.is_some() && self.homeserver.registration_shared_secret.is_some()
    }

    /// The appservice's own bot user, `@<sender_localpart>:<server_name>`.
    pub fn bot_user_id(&self) -> OwnedUserId {
        // Validated at load time, see `validate::check`.
        UserId::parse(format!("@{}:{}", self.appservice.sender_localpart, self.homeserver.server_name))
            .unwrap_or_else(|_| unreachable_user_id())
    }

    /// Whether `user_id` lies in the namespace this appservice owns (bots and mail ghosts).
    pub fn is_own_user(&self, user_id: &UserId) -> bool {
        if user_id.server_name() != self.homeserver.server_name {
            return false;
        }
        let local = user_id.localpart();
        local == self.appservice.sender_localpart
            || local.starts_with(&self.appservice.user_prefix)
            || local.starts_with(&self.mail.ghost_prefix)
    }
}

#[cold]
fn unreachable_user_id() -> OwnedUserId {
    // `validate::check` refuses a sender_localpart that does not form a valid user id, so
    // this is never reached for a loaded Config.
    ruma::owned_user_id!("@invalid:invalid")
}

#[cfg(test)]
mod tests;

/// Without `[mail] from`, Relais's own mail leaves from `relais@` the list domain when there is
/// one: a receiving server checks (DMARC) that the sender's domain is one the party sends for,
/// which `localhost` never is.
fn default_sender_at_list_domain(table: &mut toml::Table) {
    let Some(toml::Value::Table(mail)) = table.get_mut("mail") else { return };
    if mail.contains_key("from") {
        return;
    }
    let Some(domain) = mail.get("domain").and_then(toml::Value::as_str).map(str::trim) else { return };
    if !domain.is_empty() {
        let from = format!("{} <relais@{domain}>", Config::DEFAULT_SENDER_NAME);
        mail.insert("from".into(), toml::Value::String(from));
    }
}
