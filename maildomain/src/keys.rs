//! Signed addresses and links: reply addresses, VERP return paths, unsubscribe and preference
//! links. Each carries an HMAC so nobody can forge one for another member; the database keeps no
//! per-mail token.
//!
//! Local parts stay lowercase ASCII (MTAs may fold case) and short enough for RFC 5321's 64
//! characters: `<list>+r.<seq>.<member>.<mac>`, `bounces+<outbox id>.<mac>`,
//! `<list>+u.<member>.<mac>`.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Characters of MAC kept in addresses (hex; 80 bits).
const MAC_HEX: usize = 20;

/// What a recipient address of ours means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A reply to message `seq` (0: to the list, e.g. from a digest) of `list` by `member`.
    Reply { list: String, seq: i64, member: String },
    /// A delivery status notification for outbox row `outbox_id`.
    Bounce { outbox_id: i64 },
    /// `List-Unsubscribe` by mail.
    Unsubscribe { list: String, member: String },
    /// The bare list address: posting without a reply key.
    List { list: String },
}

/// Why an address of our domain is not one we honour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// Not of our form at all.
    Unknown,
    /// Of our form, but the signature does not match.
    BadSignature,
}

/// The signing key, derived from `[mail] secret` (or the appservice token when unset).
#[derive(Clone)]
pub struct Keys {
    key: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys([redacted])")
    }
}

/// A member id as an address-safe token: digits as they are, anything else hex-encoded.
pub fn encode_member(member_id: &str) -> String {
    if !member_id.is_empty() && member_id.bytes().all(|b| b.is_ascii_digit()) {
        member_id.to_owned()
    } else {
        format!("x{}", hex::encode(member_id.as_bytes()))
    }
}

pub fn decode_member(token: &str) -> Option<String> {
    match token.strip_prefix('x') {
        Some(hexed) => String::from_utf8(hex::decode(hexed).ok()?).ok(),
        None if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) => Some(token.to_owned()),
        None => None,
    }
}

impl Keys {
    /// The keys derived from `secret` (`[mail] secret`, or the master key's mail-address key:
    /// `relais_bridge::keys::from_config` chooses).
    pub fn new(secret: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"relais mail keys v1\0");
        hasher.update(secret);
        Self { key: hasher.finalize().into() }
    }

    fn mac(&self, purpose: &str, parts: &[&str]) -> String {
        // A fixed-size key is always accepted by HMAC.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.key).expect("HMAC takes any key size");
        mac.update(purpose.as_bytes());
        for part in parts {
            mac.update(b"\0");
            mac.update(part.as_bytes());
        }
        let mut out = hex::encode(mac.finalize().into_bytes());
        out.truncate(MAC_HEX);
        out
    }

    fn check(&self, purpose: &str, parts: &[&str], given: &str) -> Result<(), KeyError> {
        let expected = self.mac(purpose, parts);
        // Constant-time comparison.
        let differ = expected.len() != given.len()
            || expected.bytes().zip(given.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) != 0;
        if differ { Err(KeyError::BadSignature) } else { Ok(()) }
    }

    /// The local part a member replies to, for message `seq` of `list` (0: the list itself).
    pub fn reply_localpart(&self, list: &str, seq: i64, member_id: &str) -> String {
        let member = encode_member(member_id);
        let seq = seq.to_string();
        let mac = self.mac("reply", &[list, &seq, &member]);
        format!("{list}+r.{seq}.{member}.{mac}")
    }

    /// The VERP local part for outbox row `outbox_id`.
    pub fn bounce_localpart(&self, outbox_id: i64) -> String {
        let id = outbox_id.to_string();
        format!("bounces+{id}.{}", self.mac("bounce", &[&id]))
    }

    pub fn unsubscribe_localpart(&self, list: &str, member_id: &str) -> String {
        let member = encode_member(member_id);
        let mac = self.mac("unsubscribe", &[list, &member]);
        format!("{list}+u.{member}.{mac}")
    }

    /// A token for the member's preferences page.
    pub fn preferences_token(&self, member_id: &str) -> String {
        let member = encode_member(member_id);
        format!("{member}.{}", self.mac("preferences", &[&member]))
    }

    pub fn check_preferences_token(&self, token: &str) -> Result<String, KeyError> {
        let (member, mac) = token.rsplit_once('.').ok_or(KeyError::Unknown)?;
        self.check("preferences", &[member], mac)?;
        decode_member(member).ok_or(KeyError::Unknown)
    }

    /// A token for the one-click unsubscribe of one list (RFC 8058).
    pub fn unsubscribe_token(&self, list: &str, member_id: &str) -> String {
        let member = encode_member(member_id);
        format!("{list}.{member}.{}", self.mac("unsubscribe", &[list, &member]))
    }

    /// (list, member id) of a one-click unsubscribe token.
    pub fn check_unsubscribe_token(&self, token: &str) -> Result<(String, String), KeyError> {
        let (rest, mac) = token.rsplit_once('.').ok_or(KeyError::Unknown)?;
        let (list, member) = rest.rsplit_once('.').ok_or(KeyError::Unknown)?;
        self.check("unsubscribe", &[list, member], mac)?;
        Ok((list.to_owned(), decode_member(member).ok_or(KeyError::Unknown)?))
    }

    /// A member's link to the web archive of `list`.
    pub fn archive_token(&self, list: &str, member_id: &str) -> String {
        let member = encode_member(member_id);
        format!("{list}.{member}.{}", self.mac("archive", &[list, &member]))
    }

    /// (list, member id) of an archive link's token.
    pub fn check_archive_token(&self, token: &str) -> Result<(String, String), KeyError> {
        let (rest, mac) = token.rsplit_once('.').ok_or(KeyError::Unknown)?;
        let (list, member) = rest.rsplit_once('.').ok_or(KeyError::Unknown)?;
        self.check("archive", &[list, member], mac)?;
        Ok((list.to_owned(), decode_member(member).ok_or(KeyError::Unknown)?))
    }

    /// A member's link to answer the poll `poll_id` (its start event's id) from a mail.
    pub fn poll_token(&self, poll_id: &str, member_id: &str) -> String {
        let poll = poll_id.trim_start_matches('$');
        let member = encode_member(member_id);
        format!("{poll}.{member}.{}", self.mac("poll", &[poll, &member]))
    }

    /// (poll event id, member id) of a poll link's token.
    pub fn check_poll_token(&self, token: &str) -> Result<(String, String), KeyError> {
        let (rest, mac) = token.rsplit_once('.').ok_or(KeyError::Unknown)?;
        let (poll, member) = rest.rsplit_once('.').ok_or(KeyError::Unknown)?;
        let plausible = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
        if poll.is_empty() || poll.len() > 255 || !poll.chars().all(plausible) {
            return Err(KeyError::Unknown);
        }
        self.check("poll", &[poll, member], mac)?;
        Ok((format!("${poll}"), decode_member(member).ok_or(KeyError::Unknown)?))
    }

    /// A token for the media of message `seq` (images too large to attach).
    pub fn media_token(&self, seq: i64) -> String {
        let seq = seq.to_string();
        format!("{seq}.{}", self.mac("media", &[&seq]))
    }

    pub fn check_media_token(&self, token: &str) -> Result<i64, KeyError> {
        let (seq, mac) = token.split_once('.').ok_or(KeyError::Unknown)?;
        self.check("media", &[seq], mac)?;
        seq.parse().map_err(|_| KeyError::Unknown)
    }

    /// What a local part of our domain means, with its signature checked.
    pub fn parse_localpart(&self, localpart: &str) -> Result<Target, KeyError> {
        let localpart = localpart.to_ascii_lowercase();
        let Some((base, tag)) = localpart.split_once('+') else {
            return Ok(Target::List { list: localpart });
        };
        let parts: Vec<&str> = tag.split('.').collect();
        match (base, parts.as_slice()) {
            ("bounces", [id, mac]) => {
                self.check("bounce", &[id], mac)?;
                Ok(Target::Bounce { outbox_id: id.parse().map_err(|_| KeyError::Unknown)? })
            }
            (list, ["r", seq, member, mac]) => {
                self.check("reply", &[list, seq, member], mac)?;
                Ok(Target::Reply {
                    list: list.to_owned(),
                    seq: seq.parse().map_err(|_| KeyError::Unknown)?,
                    member: decode_member(member).ok_or(KeyError::Unknown)?,
                })
            }
            (list, ["u", member, mac]) => {
                self.check("unsubscribe", &[list, member], mac)?;
                Ok(Target::Unsubscribe {
                    list: list.to_owned(),
                    member: decode_member(member).ok_or(KeyError::Unknown)?,
                })
            }
            _ => Err(KeyError::Unknown),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_archive_link_names_its_list_and_member() {
        let keys = super::Keys::new(b"k");
        let token = keys.archive_token("nord-lille", "0042");
        assert_eq!(keys.check_archive_token(&token), Ok(("nord-lille".to_owned(), "0042".to_owned())));
        assert!(keys.check_archive_token(&token.replacen("nord-lille", "nord-roubaix", 1)).is_err());
        assert!(
            keys.check_archive_token(&keys.unsubscribe_token("nord-lille", "0042")).is_err(),
            "another purpose"
        );
    }

    #[test]
    fn a_poll_link_names_its_poll_and_member_and_nothing_else_opens_it() {
        let keys = super::Keys::new(b"k");
        let token = keys.poll_token("$AbC-d_e", "0042");
        assert_eq!(keys.check_poll_token(&token), Ok(("$AbC-d_e".to_owned(), "0042".to_owned())));
        let other = super::Keys::new(b"other").poll_token("$AbC-d_e", "0042");
        assert!(keys.check_poll_token(&other).is_err(), "another key's link");
        let swapped = token.replacen("0042", "0043", 1);
        assert!(keys.check_poll_token(&swapped).is_err(), "another member");
        assert!(keys.check_poll_token("AbC/x.0042.00").is_err());
        assert!(keys.check_poll_token("").is_err());
        // Older rooms' ids hold a server name.
        let old = keys.poll_token("$abc:pcf.test", "a/b");
        assert_eq!(keys.check_poll_token(&old), Ok(("$abc:pcf.test".to_owned(), "a/b".to_owned())));
    }

    use super::*;

    #[test]
    fn addresses_round_trip_and_refuse_tampering() {
        let keys = Keys::new(b"secret");
        let reply = keys.reply_localpart("annonces-nord", 42, "100234");
        assert!(reply.len() <= 64, "{reply}");
        assert_eq!(
            keys.parse_localpart(&reply.to_uppercase()),
            Ok(Target::Reply { list: "annonces-nord".into(), seq: 42, member: "100234".into() })
        );
        let forged = reply.replace("100234", "100235");
        assert_eq!(keys.parse_localpart(&forged), Err(KeyError::BadSignature));
        let other = Keys::new(b"other secret");
        assert_eq!(other.parse_localpart(&reply), Err(KeyError::BadSignature));

        let bounce = keys.bounce_localpart(7);
        assert_eq!(keys.parse_localpart(&bounce), Ok(Target::Bounce { outbox_id: 7 }));
        let unsub = keys.unsubscribe_localpart("nord", "AB-12");
        assert_eq!(
            keys.parse_localpart(&unsub),
            Ok(Target::Unsubscribe { list: "nord".into(), member: "AB-12".into() })
        );
        assert_eq!(keys.parse_localpart("nord"), Ok(Target::List { list: "nord".into() }));
        assert_eq!(keys.parse_localpart("nord+zz.1"), Err(KeyError::Unknown));
    }

    #[test]
    fn web_tokens_round_trip() {
        let keys = Keys::new(b"secret");
        let token = keys.preferences_token("0042");
        assert_eq!(keys.check_preferences_token(&token), Ok("0042".into()));
        assert!(keys.check_preferences_token(&token.replace("0042", "0043")).is_err());
        let token = keys.unsubscribe_token("section-lille", "0042");
        assert_eq!(keys.check_unsubscribe_token(&token), Ok(("section-lille".into(), "0042".into())));
        assert!(keys.check_unsubscribe_token("section-lille.0042.0000").is_err());
    }
}
