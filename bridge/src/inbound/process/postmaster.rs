//! Mail to postmaster (RFC 5321 §4.5.1): accepted by the listener, never taken for a list's
//! mail. It goes to `[mail] postmaster`, attached whole to a short mail from Relais; without that
//! address, or when its server refuses the mail for good, it is kept whole in the store for
//! `relais mail postmaster`. A mail that came back from Relais itself (`X-Loop`) is dropped.

use crate::store::InboundItem;
use lettre::{
    Message,
    address::Envelope,
    message::{
        Body, Mailbox, MultiPart, SinglePart,
        header::{ContentDisposition, ContentTransferEncoding, ContentType, HeaderName, HeaderValue},
    },
};
use mail_parser::MessageParser;
use relais_mail::MailError;

use super::{Inbound, Settled};
use crate::messages::postmaster;

impl Inbound {
    /// Passes a mail to postmaster on, or keeps it.
    pub(super) async fn postmaster(&self, item: &InboundItem) -> Settled {
        if came_back(&item.raw, self.domain()) {
            return Settled::Done("dropped", "mail to postmaster that came back (X-Loop)".into());
        }
        let Some(to) = self.config.mail.postmaster_address() else {
            return Settled::Kept("kept: no [mail] postmaster address".into());
        };
        match self.forward(&to, item).await {
            Ok(()) => Settled::Done("forwarded", "forwarded to the postmaster".into()),
            Err(e) if e.is_permanent() => Settled::Kept(format!("kept: the forward was refused: {e}")),
            Err(e) => Settled::Retry(format!("forward to the postmaster deferred: {e}")),
        }
    }

    /// Sends `item` to `to`, attached whole, from Relais with a null return path (no bounce
    /// can come back to anyone).
    async fn forward(&self, to: &str, item: &InboundItem) -> Result<(), MailError> {
        let Some(mailer) = &self.mailer else { return Err(MailError::Url("no SMTP configured".into())) };
        let to: Mailbox = to.parse().map_err(|_| MailError::Address(to.to_owned()))?;
        let envelope =
            Envelope::new(None, vec![to.email.clone()]).map_err(|e| MailError::Build(e.to_string()))?;
        let sender = if item.mail_from.is_empty() { "<>" } else { &item.mail_from };
        let text = SinglePart::plain(postmaster::body(&item.rcpt, sender));
        let message = Message::builder()
            .from(mailer.from().clone())
            .to(to)
            .subject(postmaster::subject(self.domain()))
            .envelope(envelope)
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".into(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Loop"),
                format!("relais@{}", self.domain()),
            ))
            .multipart(MultiPart::mixed().singlepart(text).singlepart(attachment(item.raw.clone())))
            .map_err(|e| MailError::Build(e.to_string()))?;
        mailer.send_message(message).await
    }
}

/// The received mail as an attachment: `message/rfc822` when it can travel unencoded, as RFC
/// 2046 asks; otherwise (long lines, binary) an encoded `.eml` file.
fn attachment(raw: Vec<u8>) -> SinglePart {
    let disposition = ContentDisposition::attachment("courriel.eml");
    match Body::new_with_encoding(raw, ContentTransferEncoding::EightBit) {
        Ok(body) => SinglePart::builder()
            .header(ContentType::parse("message/rfc822").unwrap_or(ContentType::TEXT_PLAIN))
            .header(disposition)
            .body(body),
        Err(raw) => SinglePart::builder()
            .header(ContentType::parse("application/octet-stream").unwrap_or(ContentType::TEXT_PLAIN))
            .header(disposition)
            .body(Body::new(raw)),
    }
}

/// Whether the mail carries Relais's own `X-Loop` (read from its header only).
fn came_back(raw: &[u8], domain: &str) -> bool {
    let ours = format!("relais@{domain}").to_ascii_lowercase();
    MessageParser::default().parse_headers(raw).is_some_and(|message| {
        message
            .headers_raw()
            .filter(|(name, _)| name.eq_ignore_ascii_case("X-Loop"))
            .any(|(_, value)| value.to_ascii_lowercase().contains(&ours))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::process::testing::{world, world_with};

    const REPORT: &str = "From: abuse@fai.example\r\nTo: postmaster@listes.pcf.test\r\n\
        Subject: Plainte\r\n\r\nVotre serveur nous envoie du spam.\r\n";

    async fn outcomes(inbound: &Inbound) -> Vec<(String, String)> {
        let mut all = inbound.store.inbound_outcomes(10).await.expect("outcomes");
        all.reverse();
        all.into_iter().map(|(_, state, outcome)| (state, outcome)).collect()
    }

    #[tokio::test]
    async fn mail_to_postmaster_goes_to_the_operator_attached_whole() {
        let dir = tempfile::tempdir().expect("dir");
        let (inbound, received) =
            world_with(&dir, "http://127.0.0.1:9", "postmaster = \"Équipe technique <ops@pcf.test>\"").await;
        let store = &inbound.store;
        store
            .inbound_store("PostMaster@listes.pcf.test", "abuse@fai.example", REPORT.as_bytes())
            .await
            .expect("a");
        // A bounce to the bare `<Postmaster>`, and a mail that looks like a reply to a list.
        let dsn = "From: MAILER-DAEMON@mx.example\r\nSubject: Undelivered\r\n\r\n550 5.1.1 unknown\r\n";
        store.inbound_store("postmaster", "", dsn.as_bytes()).await.expect("b");
        let reply = format!(
            "From: jeanne@example.org\r\nSubject: Re: Tract\r\nTo: {}@listes.pcf.test\r\n\r\nOui\r\n",
            inbound.keys.reply_localpart("nord-lille", 0, "1002")
        );
        store
            .inbound_store("postmaster@listes.pcf.test", "jeanne@example.org", reply.as_bytes())
            .await
            .expect("c");
        assert_eq!(inbound.pass().await.expect("pass"), 3);

        let forwarded = ("forwarded".to_owned(), "forwarded to the postmaster".to_owned());
        assert_eq!(outcomes(&inbound).await, [forwarded.clone(), forwarded.clone(), forwarded]);
        let sent = received.lock().expect("sink").clone();
        assert_eq!(sent.len(), 3, "{sent:?}");
        for mail in &sent {
            assert!(mail.starts_with("RCPT TO:<ops@pcf.test>\n"), "only the operator: {mail}");
            assert!(mail.contains("Subject: Courriel pour postmaster@listes.pcf.test"), "{mail}");
            assert!(mail.contains("Auto-Submitted: auto-generated"), "{mail}");
            assert!(mail.contains("Content-Type: message/rfc822"), "{mail}");
        }
        assert!(
            sent[0].contains("Votre serveur nous envoie du spam.") && sent[0].contains("abuse@fai.example")
        );
        assert!(sent[1].contains("550 5.1.1 unknown") && sent[1].contains("<>"), "{}", sent[1]);
        assert!(sent[2].contains("Oui"), "passed on, not taken for a reply: {}", sent[2]);
        assert!(store.postmaster(10).await.expect("kept").is_empty(), "nothing kept: all forwarded");
    }

    #[tokio::test]
    async fn without_a_postmaster_address_the_mail_is_kept_for_the_operator() {
        let dir = tempfile::tempdir().expect("dir");
        let (inbound, received) = world(&dir).await;
        let store = &inbound.store;
        store
            .inbound_store("postmaster@listes.pcf.test", "abuse@fai.example", REPORT.as_bytes())
            .await
            .expect("a");
        assert_eq!(inbound.pass().await.expect("pass"), 1);
        assert_eq!(
            outcomes(&inbound).await,
            [("postmaster".to_owned(), "kept: no [mail] postmaster address".to_owned())]
        );
        let kept = store.postmaster(10).await.expect("kept");
        assert_eq!(kept.len(), 1);
        assert_eq!(
            (kept[0].mail_from.as_str(), kept[0].raw.as_slice()),
            ("abuse@fai.example", REPORT.as_bytes())
        );
        assert!(received.lock().expect("sink").is_empty(), "no answer to the sender");
        assert_eq!(inbound.pass().await.expect("pass"), 0, "never taken again");
    }

    #[tokio::test]
    async fn mail_that_came_back_from_relais_is_dropped() {
        let dir = tempfile::tempdir().expect("dir");
        let (inbound, received) =
            world_with(&dir, "http://127.0.0.1:9", "postmaster = \"ops@pcf.test\"").await;
        let looped = format!("X-Loop: relais@Listes.pcf.test\r\n{REPORT}");
        inbound.store.inbound_store("postmaster", "", looped.as_bytes()).await.expect("a");
        assert_eq!(inbound.pass().await.expect("pass"), 1);
        assert_eq!(outcomes(&inbound).await[0].0, "dropped");
        assert!(received.lock().expect("sink").is_empty());
    }

    #[test]
    fn a_mail_that_cannot_travel_unencoded_is_attached_as_a_file() {
        let long_line = format!("Subject: x\r\n\r\n{}\r\n", "a".repeat(2000)).into_bytes();
        let part = String::from_utf8(attachment(long_line).formatted()).expect("ascii");
        assert!(part.contains("application/octet-stream") && !part.contains("rfc822"), "{part}");
        let plain = String::from_utf8(attachment(REPORT.as_bytes().to_vec()).formatted()).expect("utf8");
        assert!(plain.contains("message/rfc822") && plain.contains("spam"), "{plain}");
    }
}
