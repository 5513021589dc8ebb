//! Mail as members see it: captured messages parsed with mail-parser, and replies sent with
//! Python's smtplib (a standard client, not ours) to Relais's inbound listener.

use std::time::Duration;

use mail_parser::MessageParser;

use super::{eventually, smtp::SmtpSink, synapse::python};

/// One captured mail, decoded.
#[derive(Debug, Clone)]
pub struct Received {
    pub raw: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Received {
    pub fn parse(raw: &str) -> Self {
        let message = MessageParser::default().parse(raw.as_bytes()).expect("a parsable mail");
        Self {
            raw: raw.to_owned(),
            subject: message.subject().unwrap_or_default().to_owned(),
            text: message.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
            html: message.body_html(0).map(|t| t.into_owned()).unwrap_or_default(),
        }
    }

    /// A header's raw value (first occurrence, unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let message = MessageParser::default().parse(self.raw.as_bytes())?;
        message.header_raw(name).map(|v| v.replace("\r\n", "").replace('\n', "").trim().to_owned())
    }

    /// (display name, address) of `From`, decoded.
    pub fn from(&self) -> (String, String) {
        let message = MessageParser::default().parse(self.raw.as_bytes()).expect("a parsable mail");
        let from = message.from().and_then(|a| a.first()).expect("From");
        (from.name().unwrap_or_default().to_owned(), from.address().unwrap_or_default().to_owned())
    }

    /// The address in `Reply-To`.
    pub fn reply_to(&self) -> String {
        let value = self.header("Reply-To").expect("Reply-To");
        value.rsplit_once('<').map(|(_, a)| a.trim_end_matches('>').to_owned()).unwrap_or(value)
    }

    /// The first link starting with `prefix` in the text part.
    pub fn link(&self, prefix: &str) -> String {
        let start = self.text.find(prefix).unwrap_or_else(|| panic!("no {prefix} link in:\n{}", self.text));
        self.text[start..].split_whitespace().next().expect("link").to_owned()
    }
}

/// Every mail captured for `to` (by envelope recipient, as the sink records it).
pub fn mails_to(smtp: &SmtpSink, to: &str) -> Vec<Received> {
    smtp.messages()
        .into_iter()
        .filter(|m| m.lines().any(|l| l.starts_with("X-RcptTo:") && l.contains(to)))
        .map(|m| Received::parse(&m))
        .collect()
}

/// Waits for a mail to `to` whose subject or text contains `needle`.
pub async fn wait_mail(smtp: &SmtpSink, to: &str, needle: &str) -> Received {
    eventually(&format!("a mail to {to} with {needle:?}"), Duration::from_secs(60), || async {
        mails_to(smtp, to).into_iter().find(|m| m.subject.contains(needle) || m.text.contains(needle))
    })
    .await
}

/// Sends `raw` from envelope sender `mail_from` to `rcpt` through smtplib; returns "accepted" or
/// "refused CODE TEXT".
pub fn send(port: u16, mail_from: &str, rcpt: &str, raw: &str) -> String {
    let file = tempfile::NamedTempFile::new().expect("temp mail");
    std::fs::write(file.path(), raw).expect("write mail");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/send_mail.py");
    let out = std::process::Command::new(python())
        .args([script, "127.0.0.1", &port.to_string(), mail_from, rcpt])
        .arg(file.path())
        .output()
        .expect("run smtplib");
    assert!(out.status.success(), "smtplib: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A reply as a member's mail client writes it (CRLF line ends), with the MTA's
/// `Authentication-Results` on top.
pub fn reply(auth: &str, from: &str, to: &str, subject: &str, extra: &str, body: &str) -> String {
    let body = body.replace('\n', "\r\n");
    format!(
        "Authentication-Results: {auth}\r\nFrom: {from}\r\nTo: {to}\r\nSubject: {subject}\r\n{extra}\
         Message-ID: <{:x}@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n",
        rand::random::<u64>()
    )
}
