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

use crate::{
    desired::{Openness, RoomKind},
    plan::Action,
    text::{slug, tidy},
};

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

/// What is recorded around a thematic room: its own room's moderators (`None` until it is
/// made), its federation space's moderators — the federation's office holders — (`None` until
/// the space is made), and whether the federation's public space is made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThemeContext {
    pub room: Option<BTreeSet<OwnedUserId>>,
    pub space: Option<BTreeSet<OwnedUserId>>,
    pub public_space: bool,
}

/// What makes `theme` what its record says, from what is recorded around it (`context`) and
/// those of its chosen moderators who are active members of its federation (`chosen`): its
/// room, when not made yet — in the federation's public space for an open room when that space
/// is made, in the federation space otherwise —, and its moderators — the federation's office
/// holders, who moderate its space, and the chosen — when they differ from the recorded ones.
/// The same rooms and moderators an import plans; nothing while the federation space is not
/// made.
pub fn actions(theme: &Theme, context: &ThemeContext, chosen: &BTreeSet<OwnedUserId>) -> Vec<Action> {
    let Some(office_holders) = &context.space else { return Vec::new() };
    let mut actions = Vec::new();
    if context.room.is_none() {
        let (kind, parent, open) = match theme.access {
            ThemeAccess::Members => (RoomKind::Theme, theme.federation.clone(), None),
            ThemeAccess::Open(join) => {
                let parent = if context.public_space {
                    format!("{}.public", theme.federation)
                } else {
                    theme.federation.clone()
                };
                (RoomKind::PublicTheme, parent, Some(Openness { join, guests: false }))
            }
        };
        actions.push(Action::CreateRoom {
            room: theme.key.clone(),
            kind,
            name: theme.name.clone(),
            parent: Some(parent),
            open,
        });
    }
    let wanted: BTreeSet<OwnedUserId> = office_holders.union(chosen).cloned().collect();
    if context.room.as_ref() != Some(&wanted) && !(context.room.is_none() && wanted.is_empty()) {
        actions.push(Action::SetModerators {
            room: theme.key.clone(),
            moderators: wanted.into_iter().collect(),
        });
    }
    actions
}

/// Characters that show nothing (zero-width, joiners, direction overrides): a name holding them
/// could pass for another.
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        )
        || matches!(c, '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}')
        || matches!(c, '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}')
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
    let name: String = tidy(&name.replace(invisible, " "));
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
        let hidden = "Commission\u{202E}\u{200B} officielle\u{FEFF}";
        assert_eq!(check_name(hidden).map(|(name, _)| name), Ok("Commission officielle".to_owned()));
    }

    #[test]
    fn a_pass_makes_the_room_and_its_moderators_as_an_import_would() {
        use ruma::owned_user_id;
        let theme = Theme {
            key: "nord.t.sante".into(),
            federation: "nord".into(),
            name: "Santé".into(),
            access: ThemeAccess::Open(PublicJoin::Knock),
            moderators: BTreeSet::new(),
        };
        let referent: BTreeSet<OwnedUserId> = [owned_user_id!("@ref:pcf.test")].into();
        let anna: BTreeSet<OwnedUserId> = [owned_user_id!("@anna:pcf.test")].into();
        // No federation space yet: nothing.
        assert!(actions(&theme, &ThemeContext::default(), &anna).is_empty());
        let context = ThemeContext { room: None, space: Some(referent.clone()), public_space: true };
        let made = actions(&theme, &context, &anna);
        assert!(
            matches!(&made[0], Action::CreateRoom { parent: Some(p), kind: RoomKind::PublicTheme, .. } if p == "nord.public")
        );
        let both: Vec<OwnedUserId> = referent.union(&anna).cloned().collect();
        assert!(matches!(&made[1], Action::SetModerators { moderators, .. } if *moderators == both));
        let no_public = ThemeContext { public_space: false, ..context.clone() };
        assert!(
            matches!(&actions(&theme, &no_public, &anna)[0], Action::CreateRoom { parent: Some(p), .. } if p == "nord")
        );
        // Made, with the same moderators: nothing; one chosen less: the moderators set again.
        let done = ThemeContext { room: Some(referent.union(&anna).cloned().collect()), ..context.clone() };
        assert!(actions(&theme, &done, &anna).is_empty());
        assert_eq!(actions(&theme, &done, &BTreeSet::new()).len(), 1);
        // Nobody to moderate a new room: it is only made.
        let nobody = ThemeContext { space: Some(BTreeSet::new()), ..context };
        assert_eq!(actions(&theme, &nobody, &BTreeSet::new()).len(), 1);
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
