//! The mail of a personal notice another feature queued (see [`relais_mail::notice`]): one
//! recipient, the feature's words, Relais's envelope. Not a list message: no list headers,
//! never digested. Pure: no I/O.

use lettre::{Message, address::Envelope, message::MultiPart};
use relais_mail::notice::Notice;

use super::render::{Recipient, RenderError, Site, address, header};
use crate::keys::Keys;

/// The mail carrying `notice` of `kind` to one member; its `Message-ID` names the kind and the
/// delivery, so a resend is the same mail.
pub fn notice_mail(
    site: &Site,
    keys: &Keys,
    kind: &str,
    notice: Notice,
    recipient: Recipient<'_>,
) -> Result<Message, RenderError> {
    let to: lettre::message::Mailbox = recipient.email.parse().map_err(|_| RenderError::Address)?;
    let verp = address(&keys.bounce_localpart(recipient.outbox_id), &site.domain)?;
    let envelope = Envelope::new(Some(verp), vec![to.email.clone()]).map_err(|_| RenderError::Address)?;
    Message::builder()
        .from(site.from.clone())
        .to(to)
        .subject(notice.subject)
        .message_id(Some(format!("<{kind}.{}@{}>", recipient.outbox_id, site.domain)))
        .envelope(envelope)
        .raw_header(header("Auto-Submitted", "auto-generated".into()))
        .raw_header(header("X-Loop", format!("relais@{}", site.domain)))
        .multipart(MultiPart::alternative_plain_html(notice.text, notice.html))
        .map_err(|e| RenderError::Build(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_goes_to_its_one_member_with_a_bounce_address_and_a_stable_id() {
        let site = Site {
            domain: "listes.pcf.test".into(),
            web_url: "https://relais.test/".into(),
            element_url: "https://element.test/".into(),
            from: "Relais <relais@listes.pcf.test>".parse().expect("mailbox"),
        };
        let keys = Keys::new(b"test key");
        let notice = Notice {
            subject: "Votre bulletin".into(),
            text: "Bonjour".into(),
            html: "<p>Bonjour</p>".into(),
        };
        let recipient = Recipient { member_id: "42", email: "sophie@example.org", outbox_id: 7 };
        let mail = notice_mail(&site, &keys, "ballot", notice, recipient).expect("renders");
        let raw = String::from_utf8(mail.formatted()).expect("utf-8");
        assert!(raw.contains("Message-ID: <ballot.7@listes.pcf.test>"), "{raw}");
        assert!(
            raw.contains("To: sophie@example.org") && raw.contains("Auto-Submitted: auto-generated"),
            "{raw}"
        );
        assert_eq!(mail.envelope().to().len(), 1);
        let from = mail.envelope().from().expect("a bounce address").to_string();
        assert_eq!(from, format!("{}@listes.pcf.test", keys.bounce_localpart(7)));
        assert!(!raw.contains("List-Id"), "a personal notice is no list message");

        let bad = Recipient { member_id: "42", email: "not an address", outbox_id: 8 };
        let notice = Notice { subject: String::new(), text: String::new(), html: String::new() };
        assert!(matches!(notice_mail(&site, &keys, "ballot", notice, bad), Err(RenderError::Address)));
    }
}
