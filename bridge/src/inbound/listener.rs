//! The inbound listener: the SMTP/LMTP server ([`super::smtp`]) bound to `[mail] inbound_bind`,
//! accepting only enabled lists and our addresses with valid signatures (anything else gets 550
//! at `RCPT`), and storing each mail durably before answering 250 — the MTA keeps (and retries)
//! whatever Relais did not acknowledge.

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
    /// Our domain only; an enabled list's address, or a signed reply, bounce or unsubscribe
    /// address. Anything else gets 550 during the dialogue, so no explanation is mailed to a
    /// sender who may be forged.
    async fn check_recipient(&self, rcpt: &str) -> Result<(), Reply> {
        let Some((local, host)) = rcpt.rsplit_once('@') else { return Err(unknown()) };
        if !host.eq_ignore_ascii_case(&self.domain) {
            return Err(Reply::new(550, "5.7.1", "Relais ne relaie pas le courrier pour ce domaine"));
        }
        match self.keys.parse_localpart(local) {
            // The bare address of a list is accepted so an authenticated sender can be told to
            // reply to a message instead.
            Ok(Target::List { list }) => match self.store.mail_list_by_localpart(&list).await {
                Ok(Some(list)) if list.enabled => Ok(()),
                Ok(_) => Err(unknown()),
                Err(e) => {
                    tracing::error!(error = %e, "cannot look the list up; the MTA will retry");
                    Err(Reply::new(451, "4.3.0", "Erreur temporaire, reessayez plus tard"))
                }
            },
            Ok(Target::Reply { .. } | Target::Bounce { .. } | Target::Unsubscribe { .. }) => Ok(()),
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

#[cfg(test)]
mod tests {
    use relais_core::store::mail::MailList;

    use super::*;

    const DOMAIN: &str = "listes.pcf.test";

    async fn delivery(dir: &tempfile::TempDir) -> StoreDelivery {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let store = Store::open(&url, 2).await.expect("store");
        for (room, localpart, enabled) in
            [("!a:pcf.test", "nord-lille", true), ("!b:pcf.test", "fermee", false)]
        {
            let list = MailList {
                room_id: room.into(),
                localpart: localpart.into(),
                name: localpart.into(),
                room_key: None,
                enabled,
            };
            store.mail_list_upsert(&list).await.expect("list");
        }
        StoreDelivery::new(store, Keys::new(b"secret"), DOMAIN.into())
    }

    #[tokio::test]
    async fn only_our_lists_and_signed_addresses_are_accepted_at_rcpt() {
        let dir = tempfile::tempdir().expect("dir");
        let delivery = delivery(&dir).await;
        let keys = Keys::new(b"secret");
        let reply = keys.reply_localpart("nord-lille", 3, "1002");
        let accepted = [
            "nord-lille".to_owned(),
            "Nord-Lille".to_owned(),
            reply.clone(),
            keys.bounce_localpart(7),
            keys.unsubscribe_localpart("nord-lille", "1002"),
        ];
        for local in accepted {
            let rcpt = format!("{local}@{DOMAIN}");
            assert_eq!(delivery.check_recipient(&rcpt).await, Ok(()), "{rcpt}");
        }
        let refused = [
            format!("inconnue@{DOMAIN}"),
            format!("fermee@{DOMAIN}"),
            format!("bounces@{DOMAIN}"),
            format!("postmaster@{DOMAIN}"),
            format!("{}@{DOMAIN}", reply.replace("1002", "1003")),
            format!("nord-lille+zz@{DOMAIN}"),
        ];
        for rcpt in refused {
            let reply = delivery.check_recipient(&rcpt).await.expect_err(&rcpt);
            assert_eq!((reply.code, reply.enhanced.as_str()), (550, "5.1.1"), "{rcpt}");
        }
        let reply = delivery.check_recipient("nord-lille@example.org").await.expect_err("another domain");
        assert_eq!(reply.code, 550);
    }
}
