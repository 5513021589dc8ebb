//! Signed minutes of a congress vote: question, date, voters and mandates, the count in
//! mandates, quorum and majority, and the receipts of a secret ballot; signed with an Ed25519 key
//! derived from the appservice's secret, so that anyone holding the published public key
//! (`relais poll minutes-key`) can check a copy was not altered. Pure.

use base64::{Engine, engine::general_purpose::STANDARD};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use super::{spec::PollSpec, tally::PollResult};

const SEPARATOR: &str = "\n-----\n";
const SIGNATURE: &str = "Signature Ed25519 : ";
const KEY: &str = "Clé publique : ";

/// What the minutes say beyond the count.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub poll_id: &'a str,
    /// The room's name, or its id.
    pub room: &'a str,
    /// Paris time of opening and closing.
    pub opened: &'a str,
    pub closed: &'a str,
}

/// The signing key of this installation.
pub fn signing_key(secret: &str) -> SigningKey {
    let seed: [u8; 32] = Sha256::digest(format!("relais.minutes\n{secret}").as_bytes()).into();
    SigningKey::from_bytes(&seed)
}

/// The public key to publish, base64.
pub fn public_key(secret: &str) -> String {
    STANDARD.encode(signing_key(secret).verifying_key().as_bytes())
}

/// The minutes' text (unsigned).
pub fn text(spec: &PollSpec, result: &PollResult, ctx: &Context<'_>) -> String {
    let mut out = format!(
        "PROCÈS-VERBAL DE VOTE\n\nQuestion : {}\nSalon : {}\nVote : {}\nOuvert le : {}\nClos le : {}\nRéférence : {}\n\n",
        spec.question,
        ctx.room,
        if spec.secret {
            "à bulletin secret, mode congrès (mandats)"
        } else {
            "à main levée, mode congrès (mandats)"
        },
        ctx.opened,
        ctx.closed,
        ctx.poll_id
    );
    if let Some(m) = result.mandates {
        out.push_str(&format!(
            "Votants : {} sur {} délégué(s) ; mandats exprimés : {} sur {}.\n",
            result.voted, result.eligible, m.voted, m.eligible
        ));
    }
    out.push_str("\nRésultats (en mandats) :\n");
    for answer in &result.answers {
        out.push_str(&format!("- {} : {}\n", answer.text, answer.count));
    }
    if result.ignored > 0 {
        out.push_str(&format!("Réponses non comptées (hors liste ou hors délai) : {}\n", result.ignored));
    }
    out.push_str(&format!("\nQuorum : {}\n", if result.quorum_reached { "atteint" } else { "non atteint" }));
    match &result.winner {
        Some(winner) => out.push_str(&format!("Décision : « {winner} » est adopté.\n")),
        None => out.push_str("Décision : aucune réponse n'obtient la majorité requise.\n"),
    }
    if !result.receipts.is_empty() {
        out.push_str("\nReçus des bulletins secrets :\n");
        for r in &result.receipts {
            out.push_str(&format!("{} : {}\n", r.receipt, r.answers.join(", ")));
        }
    }
    out
}

/// `text` followed by its signature and the public key.
pub fn sign(secret: &str, text: &str) -> String {
    let key = signing_key(secret);
    let signature = key.sign(text.as_bytes());
    format!(
        "{text}{SEPARATOR}{SIGNATURE}{}\n{KEY}{}\n",
        STANDARD.encode(signature.to_bytes()),
        STANDARD.encode(key.verifying_key().as_bytes())
    )
}

/// Why signed minutes do not check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("no signature block: the document is not signed minutes from Relais")]
    Unsigned,
    #[error("the signature block is malformed")]
    Malformed,
    #[error("signed with another key than this installation's ({0})")]
    OtherKey(String),
    #[error("the signature does not match: the document was altered after signing")]
    Altered,
}

/// Checks signed minutes against this installation's public key.
pub fn verify(signed: &str, expected_key: &str) -> Result<(), VerifyError> {
    let (text, block) = signed.rsplit_once(SEPARATOR).ok_or(VerifyError::Unsigned)?;
    let field = |prefix: &str| block.lines().find_map(|l| l.strip_prefix(prefix)).map(str::trim);
    let (Some(signature), Some(key)) = (field(SIGNATURE), field(KEY)) else {
        return Err(VerifyError::Malformed);
    };
    if key != expected_key {
        return Err(VerifyError::OtherKey(key.to_owned()));
    }
    let key: [u8; 32] =
        STANDARD.decode(key).ok().and_then(|k| k.try_into().ok()).ok_or(VerifyError::Malformed)?;
    let signature: [u8; 64] =
        STANDARD.decode(signature).ok().and_then(|s| s.try_into().ok()).ok_or(VerifyError::Malformed)?;
    let key = VerifyingKey::from_bytes(&key).map_err(|_| VerifyError::Malformed)?;
    key.verify(text.as_bytes(), &Signature::from_bytes(&signature)).map_err(|_| VerifyError::Altered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_minutes_verify_and_any_change_is_caught() {
        let signed = sign("secret", "PROCÈS-VERBAL\nPour : 3\n");
        let key = public_key("secret");
        assert_eq!(verify(&signed, &key), Ok(()));
        assert_eq!(verify(&signed.replace("Pour : 3", "Pour : 4"), &key), Err(VerifyError::Altered));
        assert!(matches!(verify(&signed, &public_key("other")), Err(VerifyError::OtherKey(_))));
        assert_eq!(verify("PROCÈS-VERBAL", &key), Err(VerifyError::Unsigned));
    }
}
