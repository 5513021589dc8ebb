//! `[mail]`: outgoing mail, the mail bridge, the inbound listener and delivery modes.

use std::net::SocketAddr;

use serde::Deserialize;
use url::Url;

use super::{defaults, env, peers::IpNet};
use crate::Secret;

/// `[mail]`: outgoing mail, the mail bridge and the mail ghosts' namespace.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    /// Localpart prefix of the ghost users that post email replies (`@courriel_…`).
    #[serde(default = "defaults::ghost_prefix")]
    pub ghost_prefix: String,
    /// SMTP submission: `smtp://host:port` (local MTA), `smtp://…?tls=required`, `smtps://…`,
    /// with `user:password@` if needed. Without it, Relais sends no mail.
    #[serde(default)]
    pub smtp_url: Option<Secret>,
    /// Sender of Relais's own mail, `Name <address>`.
    #[serde(default = "defaults::mail_from")]
    pub from: String,
    /// Domain of the lists (`<list>@<domain>`), reply and bounce addresses. Without it, rooms
    /// are not mirrored by mail.
    #[serde(default)]
    pub domain: Option<String>,
    /// Where the SMTP/LMTP listener for incoming mail listens (the mail domain's MTA hands mail
    /// to it). Without it, replies by email are not received.
    #[serde(default)]
    pub inbound_bind: Option<SocketAddr>,
    /// `smtp` or `lmtp` on `inbound_bind`.
    #[serde(default = "defaults::inbound_protocol")]
    pub inbound_protocol: InboundProtocol,
    /// Addresses or networks (`10.0.0.5`, `10.0.0.0/24`) allowed to connect to the listener;
    /// others get 554 at connect. Empty: any peer, which is refused at load time unless
    /// `inbound_bind` is a loopback address. From the environment: comma-separated.
    #[serde(default, deserialize_with = "env::list")]
    pub inbound_allowed_peers: Vec<IpNet>,
    /// Sessions served at once; one more is answered 421 and closed.
    #[serde(default = "defaults::inbound_max_connections", deserialize_with = "env::lenient")]
    pub inbound_max_connections: u32,
    /// How long the listener waits for each read from (or write to) a peer, commands and
    /// message data alike, before closing the session with 421.
    #[serde(default = "defaults::inbound_timeout_seconds", deserialize_with = "env::lenient")]
    pub inbound_timeout_seconds: u64,
    /// Delivery mode of email subscribers who did not choose: `message`, `daily` or `weekly`.
    #[serde(default = "defaults::default_mode")]
    pub default_mode: DeliveryMode,
    /// Local time (Europe/Paris) when digests go out, `HH:MM`.
    #[serde(default = "defaults::digest_time")]
    pub digest_time: String,
    /// Days the bridge keeps its copies of room messages (for digests), finished inbound mail
    /// and delivery records; at least 8, so that a weekly digest finds its week.
    #[serde(default = "defaults::mail_retention_days", deserialize_with = "env::lenient")]
    pub retention_days: u32,
    /// Day of the weekly digest, 1 = Monday … 7 = Sunday.
    #[serde(default = "defaults::weekly_day", deserialize_with = "env::lenient")]
    pub weekly_day: u32,
    /// Key signing reply addresses, unsubscribe and preference links. Keep it secret and stable:
    /// changing it invalidates the links in mail already sent.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// Automatic answers (refusal explanations, unsubscribe confirmations) sent to one address
    /// per clock hour, counted across nodes. They go only to a sender the MTA authenticated
    /// (`Authentication-Results`: DMARC, or aligned DKIM or SPF, passed for the envelope
    /// sender's domain), never to the null sender; 0: no automatic answer at all.
    #[serde(default = "defaults::answers_per_hour", deserialize_with = "env::lenient")]
    pub answers_per_hour: u32,
    /// How the sender of incoming mail is authenticated: `upstream` trusts the
    /// `Authentication-Results` header added by the MTA named `authserv_id` (SPF/DKIM/DMARC
    /// checked there); `none` accepts any sender (development only).
    #[serde(default = "defaults::inbound_auth")]
    pub inbound_auth: InboundAuth,
    /// The authserv-id of the MTA whose `Authentication-Results` Relais trusts.
    #[serde(default)]
    pub authserv_id: Option<String>,
    /// Largest incoming mail accepted, in bytes (a clear bounce above).
    #[serde(default = "defaults::max_inbound_bytes", deserialize_with = "env::lenient")]
    pub max_inbound_bytes: u64,
    /// Images up to this size are attached to outgoing mail; larger ones are linked.
    #[serde(default = "defaults::max_attachment_bytes", deserialize_with = "env::lenient")]
    pub max_attachment_bytes: u64,
    /// Bounce score at which an address is disabled (hard bounce 2, soft bounce 1).
    #[serde(default = "defaults::bounce_limit", deserialize_with = "env::lenient")]
    pub bounce_limit: u32,
    /// Messages sent in parallel to the SMTP server.
    #[serde(default = "defaults::smtp_concurrency", deserialize_with = "env::lenient")]
    pub smtp_concurrency: u32,
    /// DKIM selector and PEM private key file (RSA or Ed25519); both or neither.
    #[serde(default)]
    pub dkim_selector: Option<String>,
    #[serde(default)]
    pub dkim_key_file: Option<std::path::PathBuf>,
    /// A local directory for the journal of accepted deliveries (default: beside the SQLite
    /// database, or the working directory with PostgreSQL — never /tmp, which systemd's
    /// PrivateTmp wipes).
    #[serde(default)]
    pub spool_dir: Option<std::path::PathBuf>,
    /// Element Web's address, for "open the room" links (default: `[web] public_url`'s site).
    #[serde(default)]
    pub element_url: Option<Url>,
    /// Where mail to `postmaster@<domain>` (RFC 5321 §4.5.1) goes: an address outside the list
    /// domain (`ops@pcf.fr` or `Équipe technique <ops@pcf.fr>`); it gets such mail attached
    /// whole. Unset: such mail is kept for `relais mail postmaster`.
    #[serde(default)]
    pub postmaster: Option<String>,
}

impl MailConfig {
    /// `digest_time` as minutes after local midnight.
    pub fn digest_minutes(&self) -> Option<u32> {
        let (h, m) = self.digest_time.split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    }

    /// The bare address of `postmaster` (without a display name), if set.
    pub fn postmaster_address(&self) -> Option<String> {
        let text = self.postmaster.as_deref()?.trim();
        let address = match text.rsplit_once('<') {
            Some((_, rest)) => rest.strip_suffix('>')?,
            None => text,
        };
        Some(address.trim().to_owned())
    }

    /// Whether rooms are mirrored by mail: a domain to write from and a server to send through.
    pub fn bridge_enabled(&self) -> bool {
        self.domain.is_some() && self.smtp_url.is_some()
    }
}

/// How a subscriber receives a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMode {
    Message,
    Daily,
    Weekly,
    None,
}

impl DeliveryMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Daily => "daily",
            Self::Weekly => "weekly",
            Self::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "message" => Self::Message,
            "daily" => Self::Daily,
            "weekly" => Self::Weekly,
            "none" => Self::None,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboundProtocol {
    Smtp,
    Lmtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboundAuth {
    Upstream,
    None,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            ghost_prefix: defaults::ghost_prefix(),
            smtp_url: None,
            from: defaults::mail_from(),
            domain: None,
            inbound_bind: None,
            inbound_protocol: defaults::inbound_protocol(),
            inbound_allowed_peers: Vec::new(),
            inbound_max_connections: defaults::inbound_max_connections(),
            inbound_timeout_seconds: defaults::inbound_timeout_seconds(),
            default_mode: defaults::default_mode(),
            digest_time: defaults::digest_time(),
            retention_days: defaults::mail_retention_days(),
            weekly_day: defaults::weekly_day(),
            secret: None,
            answers_per_hour: defaults::answers_per_hour(),
            inbound_auth: defaults::inbound_auth(),
            authserv_id: None,
            max_inbound_bytes: defaults::max_inbound_bytes(),
            max_attachment_bytes: defaults::max_attachment_bytes(),
            bounce_limit: defaults::bounce_limit(),
            smtp_concurrency: defaults::smtp_concurrency(),
            dkim_selector: None,
            dkim_key_file: None,
            element_url: None,
            spool_dir: None,
            postmaster: None,
        }
    }
}
