//! Thematic rooms (commissions, campaign groups): made by a federation's moderators under their
//! federation space, either for members only — entered through the federation space, so whoever
//! leaves the federation leaves them too — or public (anyone joins, or knocks), beside the
//! federation's public space when it has one. Their moderators are the federation's office
//! holders and those the referent chose among the federation's members.
//!
//! Pure: names, keys and limits. The record is [`crate::store::theme`]; the planner turns it into
//! rooms ([`crate::desired`]); the bots' `!salon` command writes it.

use std::collections::BTreeSet;

use relais_core::config::PublicJoin;
use ruma::OwnedUserId;

use crate::text::{slug, tidy};

/// The longest name kept for a thematic room.
pub const MAX_NAME_CHARS: usize = 80;
/// The longest slug (the alias holds the federation's key and the prefix too).
pub const MAX_SLUG_CHARS: usize = 40;
/// Thematic rooms a federation may have.
pub const MAX_PER_FEDERATION: usize = 50;
/// Moderators a referent may choose for one room (beyond the federation's office holders).
pub const MAX_CHOSEN_MODERATORS: usize = 10;

/// Who may enter a thematic room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThemeAccess {
    /// The federation's members, through its space.
    Members,
    /// Anyone joins, or knocks.
    Open(PublicJoin),
}

impl ThemeAccess {
    /// The name stored in the record.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Members => "members",
            Self::Open(PublicJoin::Public) => "public",
            Self::Open(PublicJoin::Knock) => "knock",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "members" => Self::Members,
            "public" => Self::Open(PublicJoin::Public),
            "knock" => Self::Open(PublicJoin::Knock),
            _ => return None,
        })
    }
}

/// A thematic room as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    /// `<federation>.t.<slug>`: the room's key and the end of its alias.
    pub key: String,
    /// The federation's key ([`crate::desired::federation_key`]).
    pub federation: String,
    pub name: String,
    pub access: ThemeAccess,
    /// The moderators the referent chose (the federation's office holders moderate anyway);
    /// only those who are active members of the federation are made moderators.
    pub moderators: BTreeSet<OwnedUserId>,
}

/// The key of the thematic room `slug` of the federation `federation_key`.
pub fn theme_key(federation_key: &str, slug: &str) -> String {
    format!("{federation_key}.t.{slug}")
}

/// Whether a provisioned room's key is a thematic room's.
pub fn is_theme_key(key: &str) -> bool {
    key.split('.').nth(1) == Some("t") && key.split('.').count() == 3
}

/// Why a name cannot name a thematic room (French: the referent reads it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("le nom du salon est vide ou ne contient ni lettre ni chiffre")]
    Empty,
    #[error("le nom du salon est trop long ({MAX_NAME_CHARS} caractères au plus)")]
    TooLong,
}

/// The name as the room shows it (spaces tidied, no control characters) and its slug.
pub fn check_name(name: &str) -> Result<(String, String), NameError> {
    let name: String = tidy(&name.replace(|c: char| c.is_control(), " "));
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(NameError::TooLong);
    }
    let mut slug = slug(&name);
    if slug.len() > MAX_SLUG_CHARS {
        // ASCII after folding: cutting at a byte is cutting at a character.
        slug.truncate(MAX_SLUG_CHARS);
        slug = slug.trim_end_matches('-').to_owned();
    }
    if slug.is_empty() {
        return Err(NameError::Empty);
    }
    Ok((name, slug))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_tidied_and_give_short_ascii_slugs() {
        assert_eq!(
            check_name("  Commission   santé\n"),
            Ok(("Commission santé".to_owned(), "commission-sante".to_owned()))
        );
        assert_eq!(check_name("***"), Err(NameError::Empty));
        assert_eq!(check_name(""), Err(NameError::Empty));
        assert_eq!(check_name(&"a".repeat(MAX_NAME_CHARS + 1)), Err(NameError::TooLong));
        let (_, long) = check_name(&"Élections municipales 2026 ".repeat(3)).expect("fits");
        assert!(long.len() <= MAX_SLUG_CHARS && !long.ends_with('-'), "{long}");
        assert!(long.is_ascii());
    }

    #[test]
    fn theme_keys_are_told_apart_from_sections_and_cells() {
        assert!(is_theme_key(&theme_key("nord", "commission-sante")));
        assert!(!is_theme_key("nord.s.lille"));
        assert!(!is_theme_key("nord.s.t"));
        assert!(!is_theme_key("nord.t"));
        assert!(!is_theme_key("nord.public.t"));
        for access in [
            ThemeAccess::Members,
            ThemeAccess::Open(PublicJoin::Public),
            ThemeAccess::Open(PublicJoin::Knock),
        ] {
            assert_eq!(ThemeAccess::parse(access.as_str()), Some(access));
        }
        assert_eq!(ThemeAccess::parse("everyone"), None);
    }
}
