//! The inbound listener: the SMTP/LMTP server ([`super::smtp`]) bound to `[mail] inbound_bind`,
//! accepting only enabled lists, our addresses with valid signatures, and `postmaster` (RFC 5321
//! §4.5.1: the worker passes it on to a person, never to a list); anything else gets 550 at
//! `RCPT`. Each mail is stored durably before the 250 — the MTA keeps (and retries) whatever
//! Relais did not acknowledge.

use std::time::Duration;

use relais_core::{Config, Store, config::InboundProtocol};

use crate::store::MailStore;

use super::smtp::{Delivery, Envelope, Protocol, Reply, ServerConfig};
use crate::keys::{KeyError, Keys, Target};

/// Accepts mail for the lists' addresses.
#[derive(Debug)]
pub struct StoreDelivery {
    store: MailStore,
    keys: Keys,
    domain: String,
}

impl StoreDelivery {
    pub fn new(store: Store, keys: Keys, domain: String) -> Self {
        Self { store: MailStore::new(store), keys, domain }
    }
}

/// Whether `rcpt` is the postmaster (RFC 5321 §4.5.1): `postmaster`, in any case, alone (the
/// `RCPT TO:<Postmaster>` every server must take) or at `domain`.
pub fn is_postmaster(rcpt: &str, domain: &str) -> bool {
    match rcpt.rsplit_once('@') {
        None => rcpt.eq_ignore_ascii_case("postmaster"),
        Some((local, host)) => local.eq_ignore_ascii_case("postmaster") && host.eq_ignore_ascii_case(domain),
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
    /// Our domain only; postmaster, an enabled list's address, or a signed reply, bounce or
    /// unsubscribe address. Anything else gets 550 during the dialogue, so no explanation is
    /// mailed to a sender who may be forged.
    async fn check_recipient(&self, rcpt: &str) -> Result<(), Reply> {
        if is_postmaster(rcpt, &self.domain) {
            return Ok(());
        }
        let Some((local, host)) = rcpt.rsplit_once('@') else { return Err(unknown()) };
        if !host.eq_ignore_ascii_case(&self.domain) {
            return Err(Reply::new(550, "5.7.1", "Relais ne relaie pas le courrier pour ce domaine"));
        }
        match self.keys.parse_localpart(local) {
            // The bare address of a list is accepted so an authenticated sender can be told to
            // reply to a message instead.
            Ok(Target::List { list }) => match self.store.list_by_localpart(&list).await {
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
            let stored = self.store.inbound_store(rcpt, &envelope.mail_from, &data).await;
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
    use crate::store::MailList;

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
            MailStore::new(store.clone()).list_upsert(&list).await.expect("list");
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
            "postmaster".to_owned(),
            "PostMaster".to_owned(),
        ];
        for local in accepted {
            let rcpt = format!("{local}@{DOMAIN}");
            assert_eq!(delivery.check_recipient(&rcpt).await, Ok(()), "{rcpt}");
        }
        let refused = [
            format!("inconnue@{DOMAIN}"),
            format!("fermee@{DOMAIN}"),
            format!("bounces@{DOMAIN}"),
            format!("postmaster+x@{DOMAIN}"),
            format!("abuse@{DOMAIN}"),
            format!("{}@{DOMAIN}", reply.replace("1002", "1003")),
            format!("nord-lille+zz@{DOMAIN}"),
        ];
        for rcpt in refused {
            let reply = delivery.check_recipient(&rcpt).await.expect_err(&rcpt);
            assert_eq!((reply.code, reply.enhanced.as_str()), (550, "5.1.1"), "{rcpt}");
        }
        let reply = delivery.check_recipient("nord-lille@example.org").await.expect_err("another domain");
        assert_eq!(reply.code, 550);
        // RFC 5321 §4.5.1: postmaster of our domain, in any case, and `<Postmaster>` alone.
        assert_eq!(delivery.check_recipient("Postmaster").await, Ok(()));
        assert_eq!(delivery.check_recipient(&format!("POSTMASTER@{}", DOMAIN.to_uppercase())).await, Ok(()));
        let reply = delivery.check_recipient("postmaster@example.org").await.expect_err("not ours");
        assert_eq!(reply.code, 550);
    }

    /// The listener on a socket: mail to postmaster is accepted during the dialogue and stored
    /// like any other, for the worker to pass on.
    #[tokio::test]
    async fn the_listener_takes_mail_for_postmaster() {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let dir = tempfile::tempdir().expect("dir");
        let delivery = std::sync::Arc::new(delivery(&dir).await);
        let store = delivery.store.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let config = ServerConfig {
            protocol: Protocol::Smtp,
            hostname: DOMAIN.into(),
            max_message_bytes: 100_000,
            max_recipients: 10,
            timeout: Duration::from_secs(10),
            max_connections: 4,
            allowed_peers: Vec::new(),
        };
        tokio::spawn(super::super::smtp::serve(listener, config, delivery, std::future::pending()));
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let greeting = lines.next_line().await.expect("read").expect("greeting");
        assert!(greeting.starts_with("220 "), "{greeting}");
        let mut replies = Vec::new();
        let commands = [
            "EHLO mx.pcf.test\r\n".to_owned(),
            "MAIL FROM:<>\r\n".to_owned(),
            format!("RCPT TO:<PostMaster@{DOMAIN}>\r\n"),
            "RCPT TO:<postmaster>\r\n".to_owned(),
            "RCPT TO:<abuse@listes.pcf.test>\r\n".to_owned(),
            "DATA\r\n".to_owned(),
            "Subject: Blocage\r\n\r\nVotre serveur nous envoie du spam.\r\n.\r\n".to_owned(),
            "QUIT\r\n".to_owned(),
        ];
        for command in commands {
            write.write_all(command.as_bytes()).await.expect("write");
            loop {
                let line = lines.next_line().await.expect("read").expect("a reply");
                if line.as_bytes().get(3) != Some(&b'-') {
                    replies.push(line);
                    break;
                }
            }
        }
        let codes: Vec<&str> = replies.iter().map(|r| r.get(..3).unwrap_or_default()).collect();
        // EHLO, MAIL, two postmasters, abuse refused, DATA, stored, bye.
        assert_eq!(codes, ["250", "250", "250", "250", "550", "354", "250", "221"], "{replies:?}");
        let stored = store.claim_inbound(10, 60_000).await.expect("claim");
        let rcpts: Vec<&str> = stored.iter().map(|i| i.rcpt.as_str()).collect();
        assert_eq!(rcpts, [format!("PostMaster@{DOMAIN}").as_str(), "postmaster"]);
    }
}
