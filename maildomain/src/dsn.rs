//! What a bounce says about the failed recipient: delivery status notifications (RFC 3464,
//! with RFC 3463's enhanced codes) and, for servers that send none, the text of the bounce.
//! Pure functions.

use crate::auth_results::{Token, tokenize};

/// What a delivery status notification says about the failed recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BounceKind {
    /// Permanent: the address does not work.
    Hard,
    /// Transient: a full mailbox, a delay, a temporary error.
    Soft,
}

/// Severity of an RFC 3463 enhanced status code (`5.1.1`). `X.2.2` (mailbox full) is "a
/// persistent transient failure" per RFC 3463, so soft even in class 5.
fn enhanced_code_kind(token: &str) -> Option<BounceKind> {
    let token = token.trim_matches(|c: char| !c.is_ascii_digit());
    let mut parts = token.split('.');
    let (class, subject, detail) = (parts.next()?, parts.next()?, parts.next()?);
    let number = |p: &str| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
    if parts.next().is_some() || !number(subject) || !number(detail) {
        return None;
    }
    let mailbox_full = subject.trim_start_matches('0') == "2" && detail.trim_start_matches('0') == "2";
    match class {
        "5" if mailbox_full => Some(BounceKind::Soft),
        "5" => Some(BounceKind::Hard),
        "4" => Some(BounceKind::Soft),
        _ => None,
    }
}

/// Severity of an SMTP reply code (`550`); 552 (storage exceeded) is in practice a full mailbox.
fn reply_code_kind(token: &str) -> Option<BounceKind> {
    if token.len() != 3 || !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match token.as_bytes() {
        b"552" => Some(BounceKind::Soft),
        [b'5', b'0'..=b'5', _] => Some(BounceKind::Hard),
        [b'4', b'2'..=b'5', _] => Some(BounceKind::Soft),
        _ => None,
    }
}

/// Severity from a `Diagnostic-Code` (`smtp; 550 5.1.1 <x@y>: user unknown`): the enhanced code
/// if the reply has one, else the reply code.
fn diagnostic_kind(value: &str) -> Option<BounceKind> {
    let text = value.split_once(';').map_or(value, |(_, text)| text);
    let mut words = text.split(|c: char| c.is_whitespace() || c == '-').filter(|w| !w.is_empty()).take(2);
    let (first, second) = (words.next()?, words.next());
    second
        .and_then(enhanced_code_kind)
        .or_else(|| enhanced_code_kind(first))
        .or_else(|| reply_code_kind(first))
}

/// The field groups of a `message/delivery-status` body: the per-message one, then one per
/// recipient. Names are lowercase, continuation lines unfolded, comments kept.
fn field_groups(text: &str) -> Vec<Vec<(String, String)>> {
    let mut groups: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for line in text.lines() {
        let Some(fields) = groups.last_mut() else { continue };
        if line.trim().is_empty() {
            if !fields.is_empty() {
                groups.push(Vec::new());
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    groups
}

/// The severity one recipient's fields report.
fn recipient_kind(fields: &[(String, String)]) -> Option<BounceKind> {
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let first_word = |value: &str| {
        tokenize(value).into_iter().find_map(|t| match t {
            Token::Word(w) => Some(w),
            _ => None,
        })
    };
    let action = field("action").and_then(first_word).map(|a| a.to_ascii_lowercase());
    let status = field("status").and_then(first_word);
    let kind = status
        .as_deref()
        .and_then(enhanced_code_kind)
        .or_else(|| field("diagnostic-code").and_then(diagnostic_kind));
    match action.as_deref() {
        Some("delayed") => Some(BounceKind::Soft),
        Some("failed") | None => kind,
        Some(_) => None,
    }
}

/// Classifies a bounce from the text of its `message/delivery-status` part (RFC 3464).
///
/// `Action: delayed` or a `4.x.x` status is soft; `Action: failed` with a `5.x.x` status is hard
/// (but `5.2.2`, mailbox full, is soft). Without a usable `Status`, the `Diagnostic-Code`'s SMTP
/// reply decides. `None` when no recipient failed or nothing is readable. With several
/// recipients, the most severe wins.
pub fn classify_dsn(delivery_status: &str) -> Option<BounceKind> {
    let kinds: Vec<BounceKind> =
        field_groups(delivery_status).iter().filter_map(|fields| recipient_kind(fields)).collect();
    if kinds.contains(&BounceKind::Hard) { Some(BounceKind::Hard) } else { kinds.first().copied() }
}

/// Phrases of a full mailbox (soft, and checked first: such bounces often say 550 or 552 too).
const FULL_MAILBOX: &[&str] = &[
    "mailbox full",
    "mailbox is full",
    "quota",
    "exceeded storage",
    "insufficient storage",
    "boîte pleine",
    "boite pleine",
    "boîte aux lettres pleine",
    "boite aux lettres pleine",
    "est pleine",
    "espace de stockage",
];

/// Phrases of an address that does not exist (hard).
const UNKNOWN_ADDRESS: &[&str] = &[
    "user unknown",
    "unknown user",
    "no such user",
    "no such recipient",
    "unknown recipient",
    "recipient unknown",
    "recipient not found",
    "mailbox not found",
    "invalid recipient",
    "invalid mailbox",
    "does not exist",
    "doesn't exist",
    "account has been disabled",
    "account disabled",
    "host or domain name not found",
    "domain not found",
    "adresse inconnue",
    "adresse invalide",
    "adresse introuvable",
    "destinataire inconnu",
    "utilisateur inconnu",
    "n'existe pas",
    "compte désactivé",
];

/// Phrases of a temporary problem (soft).
const TEMPORARY: &[&str] = &[
    "temporar",
    "will retry",
    "will be retried",
    "try again later",
    "delayed",
    "greylist",
    "not yet been delivered",
    "n'a pas encore été",
    "nouvelle tentative",
    "réessaiera",
    "retardé",
];

/// Phrases of a permanent failure (hard).
const PERMANENT: &[&str] = &["permanent", "définitivement", "definitivement", "failed permanently"];

/// The SMTP reply codes a bounce's text may quote.
const REPLY_CODES: [&str; 9] = ["421", "450", "451", "452", "550", "551", "552", "553", "554"];

/// A heuristic guess from the text of a non-standard bounce (one without a delivery-status
/// part), in French or English: phrases first (full mailbox, unknown address, temporary,
/// permanent), then the first enhanced status code (`5.1.1`), then SMTP reply codes (`550`).
pub fn classify_text_bounce(text: &str) -> Option<BounceKind> {
    let text = text.to_lowercase().replace('\u{2019}', "'");
    let has = |phrases: &[&str]| phrases.iter().any(|p| text.contains(p));
    if has(FULL_MAILBOX) {
        return Some(BounceKind::Soft);
    }
    if has(UNKNOWN_ADDRESS) {
        return Some(BounceKind::Hard);
    }
    if has(TEMPORARY) {
        return Some(BounceKind::Soft);
    }
    if has(PERMANENT) {
        return Some(BounceKind::Hard);
    }
    let words = || text.split(|c: char| !(c.is_ascii_digit() || c == '.')).filter(|w| !w.is_empty());
    words()
        .find_map(|w| enhanced_code_kind(w).filter(|_| w.trim_matches('.').matches('.').count() == 2))
        .or_else(|| words().find(|w| REPLY_CODES.contains(w)).and_then(reply_code_kind))
}

#[cfg(test)]
mod tests;
