//! Client-server API calls made as the appservice, typed with ruma.
//!
//! Every call carries the `as_token` and, to act as one of our users, the `user_id=` identity
//! assertion. A 429 is retried after the `retry_after_ms` the homeserver asked for; a homeserver
//! that is down (connection refused, 502/503/504) is retried with exponential backoff, until
//! `[homeserver] max_retry_seconds` runs out.

mod admin;
mod call;
mod encryption;
mod ghosts;
pub mod openid;
mod ops;
mod power;
pub mod rooms;
pub use admin::Registered;
pub use encryption::{DeviceLogin, RoomEncryption};
pub use ghosts::MediaDownload;
#[cfg(test)]
mod tests;

use std::{sync::Arc, time::Duration};

use ruma::{
    OwnedUserId,
    api::{SupportedVersions, error::ErrorCode},
};
use tokio::sync::OnceCell;

use relais_core::{Config, Secret};

use crate::Metrics;

/// Why a call failed for good.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "the homeserver refused the request: {} (HTTP {status})",
        errcode.as_ref().map_or("no errcode", ErrorCode::as_str)
    )]
    Matrix { status: u16, errcode: Option<ErrorCode>, message: String },
    #[error("the homeserver is unreachable: {0}")]
    Unreachable(String),
    #[error("cannot build the request: {0}")]
    Request(String),
    #[error("unexpected response from the homeserver: {0}")]
    Response(String),
}

/// Whether a call that failed may succeed if made again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outlook {
    /// The homeserver is unreachable, failing (5xx), rate limiting, or refusing the appservice's
    /// token or namespace (the operator's configuration, not the request): try again later,
    /// however long.
    Transient,
    /// Refused for a reason that may change on the homeserver (forbidden by the room's power
    /// levels, an unknown room, a deactivated user…): worth a few more tries, not forever.
    Refused,
    /// The request itself is at fault (too large, malformed): made again, it fails again.
    Hopeless,
}

impl ClientError {
    /// A refusal as the homeserver answered it: its HTTP status, its `errcode` (none when empty)
    /// and message.
    pub fn matrix(status: u16, errcode: &str, message: impl Into<String>) -> Self {
        let errcode = (!errcode.is_empty()).then(|| ErrorCode::from(errcode));
        Self::Matrix { status, errcode, message: message.into() }
    }

    /// The Matrix `errcode`, when the homeserver answered with one.
    pub fn errcode(&self) -> Option<&ErrorCode> {
        match self {
            Self::Matrix { errcode, .. } => errcode.as_ref(),
            _ => None,
        }
    }

    /// Whether trying again may help: from the `errcode`, then the HTTP status (never from the
    /// homeserver's message).
    pub fn outlook(&self) -> Outlook {
        match self {
            Self::Unreachable(_) => Outlook::Transient,
            Self::Request(_) => Outlook::Hopeless,
            Self::Response(_) => Outlook::Refused,
            Self::Matrix { status, errcode, .. } => match (status, errcode) {
                (
                    _,
                    Some(
                        ErrorCode::LimitExceeded
                        | ErrorCode::ResourceLimitExceeded
                        | ErrorCode::UnknownToken
                        | ErrorCode::MissingToken
                        | ErrorCode::Exclusive,
                    ),
                ) => Outlook::Transient,
                (_, Some(ErrorCode::TooLarge | ErrorCode::BadJson | ErrorCode::NotJson)) | (413, _) => {
                    Outlook::Hopeless
                }
                (401 | 408 | 429, _) | (500.., _) => Outlook::Transient,
                _ => Outlook::Refused,
            },
        }
    }
}

/// The appservice's client-server API client; cheap to clone.
#[derive(Debug, Clone)]
pub struct MatrixClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    base_url: String,
    as_token: Secret,
    max_retry: Duration,
    versions: OnceCell<SupportedVersions>,
    metrics: Arc<Metrics>,
    /// The appservice's sender user: its events may go through `encryption`.
    bot: OwnedUserId,
    /// The bot's end-to-end-encrypted device, when one is configured.
    encryption: Option<Arc<dyn encryption::RoomEncryption>>,
}

impl Inner {
    /// The same settings, with a fresh cache of the homeserver's versions.
    fn copy(&self) -> Self {
        Self {
            http: self.http.clone(),
            base_url: self.base_url.clone(),
            as_token: self.as_token.clone(),
            max_retry: self.max_retry,
            versions: OnceCell::new(),
            metrics: self.metrics.clone(),
            bot: self.bot.clone(),
            encryption: self.encryption.clone(),
        }
    }
}

impl MatrixClient {
    /// A client for the homeserver of `config`.
    pub fn new(config: &Config, metrics: Arc<Metrics>) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("relais/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Request(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base_url: config.homeserver.url.as_str().trim_end_matches('/').to_owned(),
                as_token: config.appservice.as_token.clone(),
                max_retry: Duration::from_secs(config.homeserver.max_retry_seconds),
                versions: OnceCell::new(),
                metrics,
                bot: config.bot_user_id(),
                encryption: None,
            }),
        })
    }

    /// Overrides how long a call keeps retrying (tests and short-lived CLI commands).
    pub fn with_max_retry(self, max_retry: Duration) -> Self {
        let inner = Inner { max_retry, ..self.inner.copy() };
        Self { inner: Arc::new(inner) }
    }
}
