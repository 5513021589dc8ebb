//! Parsing of single cells; each error message is French, for the referents.

use ruma::{OwnedUserId, UserId};

use crate::{
    model::{Contact, Role},
    text::{fold, header_key},
};

pub fn active(value: &str) -> Result<bool, String> {
    match fold(value.trim()).as_str() {
        "oui" | "o" | "yes" | "y" | "1" | "true" | "vrai" | "x" => Ok(true),
        "non" | "n" | "no" | "0" | "false" | "faux" | "" => Ok(false),
        other => Err(format!("cotisation à jour illisible : « {other} » (attendu : oui ou non)")),
    }
}

pub fn contact(value: &str) -> Result<Contact, String> {
    match header_key(value).as_str() {
        "" | "messagerie" | "matrix" | "chat" | "element" => Ok(Contact::Chat),
        "courriel" | "email" | "mail" => Ok(Contact::Email),
        "aucun" | "aucune" | "none" => Ok(Contact::None),
        _ => Err(format!(
            "préférence de contact inconnue : « {} » (attendu : messagerie, courriel ou aucun)",
            value.trim()
        )),
    }
}

pub fn roles(value: &str) -> Vec<Role> {
    let mut roles: Vec<Role> = value
        .split('|')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| match header_key(r).as_str() {
            "secretairefederal" | "secretairefederale" | "federationsecretary" => Role::FederationSecretary,
            "referentnumerique" | "referentenumerique" | "digitalreferent" => Role::DigitalReferent,
            "secretairedesection" | "sectionsecretary" => Role::SectionSecretary,
            _ => Role::Other(r.to_owned()),
        })
        .collect();
    roles.sort();
    roles.dedup();
    roles
}

/// A plausible address: one `@`, a local part, a dotted domain, no spaces.
pub fn email(value: &str) -> Result<Option<String>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let valid = value.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
    }) && !value.chars().any(|c| c.is_whitespace() || c == ',' || c == ';');
    if valid {
        Ok(Some(value.to_owned()))
    } else {
        Err(format!("adresse de courriel invalide : « {value} »"))
    }
}

pub fn matrix_id(value: &str) -> Result<Option<OwnedUserId>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    UserId::parse(value)
        .map(Some)
        .map_err(|_| format!("identifiant Matrix invalide : « {value} » (attendu : @nom:serveur)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_yes_no_in_both_languages() {
        for yes in ["oui", "OUI", " Oui ", "yes", "1", "true", "Vrai"] {
            assert_eq!(active(yes), Ok(true), "{yes}");
        }
        for no in ["non", "No", "0", "false", ""] {
            assert_eq!(active(no), Ok(false), "{no}");
        }
        assert!(active("peut-être").is_err());
    }

    #[test]
    fn reads_roles_contacts_emails_and_ids() {
        assert_eq!(
            roles("Secrétaire fédérale | Référente numérique|Trésorier"),
            [Role::FederationSecretary, Role::DigitalReferent, Role::Other("Trésorier".into())]
        );
        assert_eq!(contact("Courriel"), Ok(Contact::Email));
        assert_eq!(contact(""), Ok(Contact::Chat));
        assert!(contact("pigeon").is_err());
        assert_eq!(email(" a.b@example.org "), Ok(Some("a.b@example.org".into())));
        for bad in ["a.b@", "@x.org", "a b@x.org", "a@b", "a@@b.org", "a@x.org;b@y.org"] {
            assert!(email(bad).is_err(), "{bad}");
        }
        assert!(matrix_id("@camille:pcf.fr").expect("valid").is_some());
        assert!(matrix_id("camille").is_err());
    }
}
