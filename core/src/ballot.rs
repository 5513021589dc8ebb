//! Secret-ballot credentials: each voter's one-time token derives from the appservice secret,
//! the poll and the voter, so that it can be sent (by DM or mail) without being stored; the
//! store keeps only its hash. Receipts are random and name nobody.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The voter's token for `poll_id` (`voter`: a Matrix id, or `member:ID` for email-only members).
pub fn token(secret: &str, poll_id: &str, voter: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return String::new() };
    mac.update(b"relais.ballot\n");
    mac.update(poll_id.as_bytes());
    mac.update(b"\n");
    mac.update(voter.as_bytes());
    hex(&mac.finalize().into_bytes()[..16])
}

/// What the store keeps of a token that voted, until the poll closes: only the token computes
/// it, so the database alone cannot tell whose it is (its hash of the token is another function
/// of the token, and a 128-bit token cannot be guessed back). It depends on no key: a key
/// changed or lost while a poll is open, or two nodes with different keys, never let the same
/// link vote twice. A cast retried after a crash finds it and is told "already voted".
pub fn nonce(token: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"relais.ballot-nonce\n");
    hasher.update(token.as_bytes());
    hex(&hasher.finalize())
}

/// What the store keeps of a token.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// A fresh receipt, easy to read aloud and to compare: `K7QF-2M9X`.
pub fn receipt() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut out = String::with_capacity(9);
    for i in 0..8 {
        if i == 4 {
            out.push('-');
        }
        out.push(char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_per_poll_and_voter_and_hashes_differ_from_tokens() {
        let t = token("s", "$poll", "@a:pcf.test");
        assert_eq!(t.len(), 32);
        assert_eq!(t, token("s", "$poll", "@a:pcf.test"));
        assert_ne!(t, token("s", "$poll", "@b:pcf.test"));
        assert_ne!(t, token("s", "$other", "@a:pcf.test"));
        assert_ne!(t, token("other", "$poll", "@a:pcf.test"));
        assert_ne!(token_hash(&t), t);
        assert_eq!(token_hash(&t).len(), 64);
        let n = nonce(&t);
        assert_eq!(n.len(), 64);
        assert_ne!(n, token_hash(&t));
        assert_eq!(n, nonce(&t), "the same link always finds its nonce, whatever the key now");
        assert_ne!(n, nonce(&token("s", "$poll", "@b:pcf.test")));
    }

    #[test]
    fn receipts_look_alike_and_differ() {
        let r = receipt();
        assert_eq!(r.len(), 9);
        assert_eq!(r.as_bytes()[4], b'-');
        assert!(r.chars().all(|c| c == '-' || c.is_ascii_uppercase() || c.is_ascii_digit()));
        assert_ne!(receipt(), receipt());
    }
}
