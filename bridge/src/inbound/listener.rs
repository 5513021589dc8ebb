//! The inbound listener: the SMTP/LMTP server ([`super::smtp`]) bound to `[mail] inbound_bind`,
//! accepting only our addresses with valid signatures and storing each mail durably before
//! answering 250 — the MTA keeps (and retries) whatever Relais did not acknowledge.

use std::time::Duration;

use relais_core::{Config, Store, config::InboundProtocol};

use super::smtp::{Delivery, Envelope, Protocol, Reply, ServerConfig};
use crate::keys::{KeyError, Keys, Target};

/// Accepts mail for the lists' addresses.
#[derive(Debug)]
pub struct StoreDelivery {
    store: Store,
    keys: Keys,
    domain: String,
}

impl StoreDelivery {
    pub fn new(store: Store, keys: Keys, domain: String) -> Self {
        Self { store, keys, domain }
    }
}

fn unknown() -> Reply {
    Reply::new(
        550,
        "5.1.1",
        "Adresse inconnue, ou adresse de reponse modifiee : repondez a un message recu de la liste",
    )
}

impl Delivery for StoreDelivery {
    fn check_recipient(&self, rcpt: &str) -> Result<(), Reply> {
        let Some((local, host)) = rcpt.rsplit_once('@') else { return Err(unknown()) };
        if !host.eq_ignore_ascii_case(&self.domain) {
            return Err(Reply::new(550, "5.7.1", "Relais ne relaie pas le courrier pour ce domaine"));
        }
        match self.keys.parse_localpart(local) {
            // The bare list address is accepted so the sender gets an explanation.
            Ok(
                Target::List { .. }
                | Target::Reply { .. }
                | Target::Bounce { .. }
                | Target::Unsubscribe { .. },
            ) => Ok(()),
            Err(KeyError::BadSignature | KeyError::Unknown) => Err(unknown()),
        }
    }

    async fn deliver(&self, envelope: Envelope, data: Vec<u8>) -> Vec<Result<(), Reply>> {
        let mut out = Vec::with_capacity(envelope.rcpt_to.len());
        for rcpt in &envelope.rcpt_to {
            let stored = self.store.mail_inbound_store(rcpt, &envelope.mail_from, &data).await;
            out.push(match stored {
                Ok(_) => Ok(()),
                Err(e) => {
                    tracing::error!(error = %e, "cannot store incoming mail; the MTA will retry");
                    Err(Reply::new(451, "4.3.0", "Erreur temporaire, reessayez plus tard"))
                }
            });
        }
        out
    }
}

/// The server settings for `[mail]`.
pub fn server_config(config: &Config, domain: &str) -> ServerConfig {
    ServerConfig {
        protocol: match config.mail.inbound_protocol {
            InboundProtocol::Smtp => Protocol::Smtp,
            InboundProtocol::Lmtp => Protocol::Lmtp,
        },
        hostname: domain.to_owned(),
        max_message_bytes: usize::try_from(config.mail.max_inbound_bytes).unwrap_or(usize::MAX),
        max_recipients: 50,
        timeout: Duration::from_secs(config.mail.inbound_timeout_seconds),
        max_connections: usize::try_from(config.mail.inbound_max_connections).unwrap_or(usize::MAX),
        allowed_peers: config.mail.inbound_allowed_peers.clone(),
    }
}
