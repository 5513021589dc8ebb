//! What a received mail is, before anything is looked up: pure, so every refusal can be tested
//! on its own. Lenient with broken mail (mail-parser reads what it can), strict with who sent it.

use mail_parser::{MessageParser, MimeHeaders, PartType};

use crate::{
    auth_results::{self, Verdict},
    dsn::{self, BounceKind},
    keys::{KeyError, Keys, Target},
    refusal as bounce, strip,
};

/// A file carried by a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// A reply to post, once the sender is checked against the subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub list: String,
    pub seq: i64,
    pub member: String,
    /// The `From` address (lowercase).
    pub from: String,
    /// Whether SPF/DKIM/DMARC (as the MTA reported them) vouch for the `From` domain.
    pub authenticated: bool,
    pub text: String,
    pub attachments: Vec<Attachment>,
    /// "STOP" / "désabonner" alone: the member leaves the list.
    pub unsubscribe: bool,
}

/// What to do with a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Examined {
    Reply(Reply),
    Bounce {
        outbox_id: i64,
        kind: BounceKind,
    },
    Unsubscribe {
        list: String,
        member: String,
    },
    /// Refused with an explanatory answer to the sender.
    Refuse(String),
    /// Dropped without an answer (auto-replies, loops, bounces of bounces). The reason is for logs.
    Drop(&'static str),
}

/// How senders are authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthPolicy {
    /// Trust the `Authentication-Results` our MTA wrote under this authserv-id (see
    /// [`auth_results::evaluate`]).
    Upstream(String),
    /// Accept every sender (development only).
    None,
}

fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
}

/// The local part of `rcpt` when it is an address of `domain`.
fn our_localpart<'a>(rcpt: &'a str, domain: &str) -> Option<&'a str> {
    let (local, host) = rcpt.rsplit_once('@')?;
    host.eq_ignore_ascii_case(domain).then_some(local)
}

fn is_stop(text: &str) -> bool {
    let word = text.trim().trim_end_matches(['.', '!']).to_lowercase();
    matches!(word.as_str(), "stop" | "désabonner" | "desabonner" | "unsubscribe" | "désinscrire")
}

/// Examines one mail received for `rcpt` from envelope sender `mail_from` (empty: null sender).
pub fn examine(
    raw: &[u8],
    rcpt: &str,
    mail_from: &str,
    keys: &Keys,
    domain: &str,
    auth: &AuthPolicy,
) -> Examined {
    let Some(localpart) = our_localpart(rcpt, domain) else {
        return Examined::Drop("recipient outside the mail domain");
    };
    let target = match keys.parse_localpart(localpart) {
        Ok(target) => target,
        Err(KeyError::BadSignature | KeyError::Unknown) if mail_from.is_empty() => {
            return Examined::Drop("null sender to an unknown address");
        }
        Err(_) => return Examined::Refuse(bounce::BAD_KEY.into()),
    };
    let Some(message) = MessageParser::default().parse(raw) else {
        return if mail_from.is_empty() {
            Examined::Drop("unreadable")
        } else {
            Examined::Refuse(bounce::UNREADABLE.into())
        };
    };
    if let Target::Bounce { outbox_id } = target {
        return match bounce_kind(&message) {
            Some(kind) => Examined::Bounce { outbox_id, kind },
            None => Examined::Drop("mail to a bounce address that is not a bounce"),
        };
    }
    // Loop protection before anything answers: never reply to automatic mail or to ourselves.
    if mail_from.is_empty() {
        return Examined::Drop("null sender (a bounce) to a list address");
    }
    let header = |name: &'static str| message.header_raw(name).map(str::trim);
    if auth_results::is_auto_submitted(header("Auto-Submitted")) {
        return Examined::Drop("automatic reply");
    }
    if header("X-Loop").is_some_and(|v| v.to_ascii_lowercase().contains(&format!("relais@{domain}"))) {
        return Examined::Drop("our own mail came back (X-Loop)");
    }
    if message.message_id().is_some_and(|id| id.to_ascii_lowercase().ends_with(&format!("@{domain}"))) {
        return Examined::Drop("our own Message-ID");
    }
    if header("Precedence")
        .is_some_and(|p| matches!(p.to_ascii_lowercase().as_str(), "bulk" | "junk" | "list"))
    {
        return Examined::Drop("bulk or list mail");
    }
    match target {
        Target::Unsubscribe { list, member } => Examined::Unsubscribe { list, member },
        Target::List { .. } => Examined::Refuse(bounce::BARE_LIST.into()),
        Target::Reply { list, seq, member } => reply(&message, list, seq, member, auth),
        Target::Bounce { .. } => Examined::Drop("unreachable"),
    }
}

fn reply(
    message: &mail_parser::Message<'_>,
    list: String,
    seq: i64,
    member: String,
    auth: &AuthPolicy,
) -> Examined {
    let Some(from) = message.from().and_then(|a| a.first()).and_then(|a| a.address()) else {
        return Examined::Refuse(bounce::UNREADABLE.into());
    };
    let from = from.to_ascii_lowercase();
    let authenticated = vouched(message, &from, auth);
    let text = reply_text(message);
    let attachments = attachments(message);
    Examined::Reply(Reply {
        unsubscribe: is_stop(&text) && attachments.is_empty(),
        list,
        seq,
        member,
        from,
        authenticated,
        text,
        attachments,
    })
}

/// Whether the trusted MTA vouches for the domain of `address` (DMARC, or aligned DKIM or SPF).
pub fn vouched(message: &mail_parser::Message<'_>, address: &str, auth: &AuthPolicy) -> bool {
    match auth {
        AuthPolicy::None => true,
        AuthPolicy::Upstream(authserv) => {
            let headers: Vec<&str> = message
                .headers_raw()
                .filter(|(name, _)| name.eq_ignore_ascii_case("Authentication-Results"))
                .map(|(_, value)| value)
                .collect();
            matches!(auth_results::evaluate(&headers, authserv, domain_of(address)), Verdict::Pass { .. })
        }
    }
}

/// Whether an automatic answer may go to the envelope sender `mail_from`: never to the null
/// sender, and only when the MTA vouches for its domain — DMARC passed for it, or a DKIM
/// signature or SPF pass aligned with it. A forged envelope sender (a spoofer's, or a victim's
/// the spoofer wants to flood) gets nothing: answering it would be backscatter.
pub fn may_answer(raw: &[u8], mail_from: &str, auth: &AuthPolicy) -> bool {
    if mail_from.is_empty() || !mail_from.contains('@') {
        return false;
    }
    MessageParser::default().parse(raw).is_some_and(|message| vouched(&message, mail_from, auth))
}

/// The new text of a reply: the first text part (or the HTML one, converted), without quotes
/// and signature.
fn reply_text(message: &mail_parser::Message<'_>) -> String {
    let part = message.text_body.first().and_then(|id| message.parts.get(*id as usize));
    let text = match part.map(|p| (&p.body, p.content_type())) {
        // Thunderbird's default: lines wrapped with soft breaks, joined again here.
        Some((PartType::Text(text), Some(kind)))
            if kind.attribute("format").is_some_and(|f| f.eq_ignore_ascii_case("flowed")) =>
        {
            let delsp = kind.attribute("delsp").is_some_and(|d| d.eq_ignore_ascii_case("yes"));
            strip::unflow(text, delsp)
        }
        Some((PartType::Text(text), _)) => text.to_string(),
        Some((PartType::Html(html), _)) => strip::html_to_text(html),
        _ => match message.body_html(0) {
            Some(html) => strip::html_to_text(&html),
            None => String::new(),
        },
    };
    strip::strip_reply(&text)
}

fn attachments(message: &mail_parser::Message<'_>) -> Vec<Attachment> {
    message
        .attachments()
        .filter_map(|part| {
            let data = match &part.body {
                PartType::Binary(data) | PartType::InlineBinary(data) => data.to_vec(),
                PartType::Text(text) => text.as_bytes().to_vec(),
                _ => return None,
            };
            let content_type = part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_owned(),
                })
                .unwrap_or_else(|| "application/octet-stream".into());
            let name = part.attachment_name().unwrap_or("piece-jointe").to_owned();
            Some(Attachment { name, content_type, data })
        })
        .collect()
}

/// Hard or soft, from a DSN's `message/delivery-status` part or, failing that, its text.
fn bounce_kind(message: &mail_parser::Message<'_>) -> Option<BounceKind> {
    for part in &message.parts {
        let is_status = part.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("message")
                && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("delivery-status"))
        });
        if is_status {
            let text = String::from_utf8_lossy(part.contents());
            if let Some(kind) = dsn::classify_dsn(&text) {
                return Some(kind);
            }
        }
    }
    dsn::classify_text_bounce(&message.body_text(0).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(auth: &str) -> Vec<u8> {
        format!("Authentication-Results: {auth}\r\nFrom: jeanne@example.org\r\nSubject: x\r\n\r\nx\r\n")
            .into_bytes()
    }

    #[test]
    fn answers_go_only_to_an_envelope_sender_the_mta_vouches_for() {
        let mx = AuthPolicy::Upstream("mx.pcf.test".into());
        let spf = mail("mx.pcf.test; spf=pass smtp.mailfrom=example.org");
        assert!(may_answer(&spf, "jeanne@example.org", &mx));
        assert!(may_answer(&spf, "jeanne@lists.example.org", &mx), "relaxed alignment");
        assert!(!may_answer(&spf, "victime@victime.example", &mx), "SPF passed for another domain");
        assert!(!may_answer(&spf, "", &mx), "never the null sender");
        assert!(!may_answer(&spf, "jeanne@example.org", &AuthPolicy::Upstream("other.mx".into())));
        let dmarc = mail(
            "mx.pcf.test; spf=fail smtp.mailfrom=example.org; dkim=pass header.d=example.org; \
                          dmarc=pass header.from=example.org",
        );
        assert!(may_answer(&dmarc, "bounces@example.org", &mx));
        assert!(!may_answer(&dmarc, "victime@victime.example", &mx), "DMARC vouches for From only");
        let failed =
            mail("mx.pcf.test; spf=pass smtp.mailfrom=example.org; dmarc=fail header.from=example.org");
        assert!(!may_answer(&failed, "jeanne@example.org", &mx), "DMARC failed for that domain");
        assert!(!may_answer(b"Subject: x\r\n\r\nx\r\n", "jeanne@example.org", &mx), "no verdict");
        assert!(may_answer(b"Subject: x\r\n\r\nx\r\n", "jeanne@example.org", &AuthPolicy::None));
        assert!(!may_answer(b"Subject: x\r\n\r\nx\r\n", "", &AuthPolicy::None));
    }

    #[test]
    fn every_authentication_header_of_the_mta_is_read_in_order() {
        let mx = AuthPolicy::Upstream("mx.pcf.test".into());
        let mail = |headers: &str| format!("{headers}From: jeanne@example.org\r\nSubject: x\r\n\r\nx\r\n");
        let milters = mail(
            "Authentication-Results: mx.pcf.test; dmarc=none header.from=example.org\r\n\
             Authentication-Results: mx.pcf.test;\r\n\tdkim=pass header.d=example.org\r\n",
        );
        assert!(may_answer(milters.as_bytes(), "jeanne@example.org", &mx), "DKIM in the second header");
        let forged = mail(
            "Authentication-Results: mx.pcf.test; dkim=fail header.d=example.org; dmarc=none\r\n\
             Received: from evil.example by mx.pcf.test\r\n\
             Authentication-Results: mx.pcf.test; dkim=pass header.d=example.org; \
             dmarc=pass header.from=example.org\r\n",
        );
        assert!(!may_answer(forged.as_bytes(), "jeanne@example.org", &mx), "a forged header below ours");
    }
}
