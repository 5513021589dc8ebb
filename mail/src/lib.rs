//! Outgoing mail: SMTP submission shared by the features that write to members (provisioning's
//! invitations, the mail bridge's lists and digests).
//!
//! One message per recipient, never a list of addresses. `[mail] smtp_url` is `smtp://host:port`
//! (plain, for a local MTA), `smtp://…?tls=starttls`, or `smtps://host:port`, with optional
//! `user:password@` credentials.

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart, header::ContentType},
};

/// A message to one member.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("[mail] smtp_url is not usable: {0}")]
    Url(String),
    #[error("invalid address {0}")]
    Address(String),
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("the mail server could not be reached or deferred the message: {0}")]
    Send(String),
    #[error("the mail server refused the message: {0}")]
    Rejected(String),
}

impl MailError {
    /// Whether trying again later cannot help (the server refused for good).
    pub fn is_permanent(&self) -> bool {
        !matches!(self, Self::Send(_))
    }
}

pub use lettre::Message as MailMessage;
pub use lettre::message::dkim::{DkimConfig, DkimSigningAlgorithm, DkimSigningKey};

mod local;
pub mod notice;

/// An SMTP submission client; cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    local: Option<local::LocalPool>,
    from: Mailbox,
    dkim: Option<std::sync::Arc<DkimConfig>>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from.to_string()).finish_non_exhaustive()
    }
}

impl Mailer {
    /// A mailer for `smtp_url`, sending as `from` (`Name <address>`).
    pub fn new(smtp_url: &str, from: &str) -> Result<Self, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|e| MailError::Url(e.to_string()))?
            .build();
        let from = from.parse().map_err(|_| MailError::Address(from.to_owned()))?;
        Ok(Self { transport, from, dkim: None, local: None })
    }

    /// A mailer whose SMTP connection pool keeps up to `connections` sessions open.
    pub fn pooled(smtp_url: &str, from: &str, connections: u32) -> Result<Self, MailError> {
        let pool = lettre::transport::smtp::PoolConfig::new().max_size(connections.max(1));
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|e| MailError::Url(e.to_string()))?
            .pool_config(pool)
            .build();
        let from = from.parse().map_err(|_| MailError::Address(from.to_owned()))?;
        let local = local::LocalPool::for_url(smtp_url, connections);
        Ok(Self { transport, from, dkim: None, local })
    }

    /// Signs every message with DKIM from now on.
    pub fn with_dkim(mut self, dkim: DkimConfig) -> Self {
        self.dkim = Some(std::sync::Arc::new(dkim));
        self
    }

    /// Relais's own sender (`[mail] from`).
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// Sends a fully built message to its envelope's recipients (DKIM-signed when configured).
    pub async fn send_message(&self, mut message: Message) -> Result<(), MailError> {
        if let Some(dkim) = &self.dkim {
            message.sign(dkim);
        }
        match &self.local {
            Some(pool) => pool.send(message.envelope(), &message.formatted()).await,
            None => self.transport.send(message).await.map(|_| ()).map_err(smtp_error),
        }
    }

    /// Sends one message to one recipient.
    pub async fn send(&self, mail: &Outgoing) -> Result<(), MailError> {
        let to: Mailbox = mail.to.parse().map_err(|_| MailError::Address(mail.to.clone()))?;
        let builder = Message::builder().from(self.from.clone()).to(to).subject(mail.subject.clone());
        let message = match &mail.html {
            Some(html) => {
                builder.multipart(MultiPart::alternative_plain_html(mail.text.clone(), html.clone()))
            }
            None => builder.header(ContentType::TEXT_PLAIN).body(mail.text.clone()),
        }
        .map_err(|e| MailError::Build(e.to_string()))?;
        self.send_message(message).await
    }
}

/// The DKIM signer for `domain` with `selector` from a key file's text: an RSA key in PKCS#1 PEM
/// (`-----BEGIN RSA PRIVATE KEY-----`, as `opendkim-genkey` or `openssl genrsa -traditional`
/// write it) or an Ed25519 key as the base64 of its 32-byte seed.
pub fn dkim_config(selector: &str, domain: &str, key_text: &str) -> Result<DkimConfig, MailError> {
    let key = if key_text.contains("BEGIN RSA PRIVATE KEY") {
        DkimSigningKey::new(key_text, DkimSigningAlgorithm::Rsa)
    } else if key_text.contains("-----BEGIN") {
        return Err(MailError::Build(
            "the DKIM key must be an RSA key in PKCS#1 PEM (BEGIN RSA PRIVATE KEY; convert with \
             `openssl rsa -traditional`) or an Ed25519 seed in base64"
                .into(),
        ));
    } else {
        DkimSigningKey::new(key_text.trim(), DkimSigningAlgorithm::Ed25519)
    }
    .map_err(|e| MailError::Build(format!("unusable DKIM key: {e}")))?;
    Ok(DkimConfig::default_config(selector.to_owned(), domain.to_owned(), key))
}

fn smtp_error(e: lettre::transport::smtp::Error) -> MailError {
    let text = redact_addresses(&e.to_string());
    if e.is_permanent() { MailError::Rejected(text) } else { MailError::Send(text) }
}

/// Server replies often quote the recipient; errors end up in logs, addresses must not.
fn redact_addresses(text: &str) -> String {
    text.split(' ')
        .map(|word| if word.contains('@') { "[address]" } else { word })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::{dkim_config, redact_addresses};

    #[test]
    fn messages_are_dkim_signed_with_an_ed25519_key() {
        // The base64 of a 32-byte seed (a test key, never used anywhere else).
        let dkim = dkim_config("relais", "listes.pcf.test", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
            .expect("key");
        let mut message = lettre::Message::builder()
            .from("Relais <relais@listes.pcf.test>".parse().expect("from"))
            .to("jeanne@example.org".parse().expect("to"))
            .subject("Test")
            .body("Bonjour".to_owned())
            .expect("message");
        message.sign(&dkim);
        let raw = String::from_utf8(message.formatted()).expect("utf-8");
        assert!(raw.contains("DKIM-Signature: v=1; a=ed25519-sha256; d=listes.pcf.test; s=relais;"), "{raw}");
        assert!(dkim_config("s", "d", "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----").is_err());
    }

    #[test]
    fn server_replies_lose_their_addresses() {
        assert_eq!(
            redact_addresses("permanent error (550): 5.1.1 <jeanne@example.org>: Recipient address rejected"),
            "permanent error (550): 5.1.1 [address] Recipient address rejected"
        );
    }
}
