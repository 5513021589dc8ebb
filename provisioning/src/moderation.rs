//! Moderation across a federation: a moderator's ban, unban or kick of one user (or the purge of
//! their latest messages), carried out in
//! every room of its scope (a federation's space and rooms, or every room Relais provisions).
//! Provisioning owns the record because a ban overrides the membership file: an import never
//! invites a banned user back, and its plan says whom it kept out. The commands that make these
//! records are the bots' (`relais_bots::moderation`).
//!
//! Pure: which bans stand, and whether one covers a room. The records are in
//! [`ModerationStore`](crate::store::moderation::ModerationStore).

use std::collections::{BTreeMap, BTreeSet};

use ruma::{OwnedUserId, UserId};

/// The scope of an action taken from the national room: every provisioned room.
pub const EVERYWHERE: &str = "*";

/// What a moderator does to a user in every room of a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModerationKind {
    Ban,
    Unban,
    Kick,
    /// Redact the user's latest messages.
    Purge,
}

impl ModerationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ban => "ban",
            Self::Unban => "unban",
            Self::Kick => "kick",
            Self::Purge => "purge",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "ban" => Self::Ban,
            "unban" => Self::Unban,
            "kick" => Self::Kick,
            "purge" => Self::Purge,
            _ => return None,
        })
    }
}

/// User → the scopes they are banned from (a federation's key, or [`EVERYWHERE`]).
pub type Bans = BTreeMap<OwnedUserId, BTreeSet<String>>;

/// The bans that stand after `actions` (oldest first): a ban adds its scope, an unban removes
/// it, and an unban from the national room lifts every ban of that user.
pub fn standing_bans<'a>(actions: impl IntoIterator<Item = (&'a UserId, &'a str, ModerationKind)>) -> Bans {
    let mut bans = Bans::new();
    for (user, scope, kind) in actions {
        match kind {
            ModerationKind::Ban => {
                bans.entry(user.to_owned()).or_default().insert(scope.to_owned());
            }
            ModerationKind::Unban if scope == EVERYWHERE => {
                bans.remove(user);
            }
            ModerationKind::Unban => {
                if let Some(scopes) = bans.get_mut(user) {
                    scopes.remove(scope);
                    if scopes.is_empty() {
                        bans.remove(user);
                    }
                }
            }
            ModerationKind::Kick | ModerationKind::Purge => {}
        }
    }
    bans
}

/// The federation a provisioned room belongs to, by its key (`nord.s.lille` → `nord`; the
/// national space is its own scope).
pub fn room_scope(room_key: &str) -> &str {
    room_key.split('.').next().unwrap_or(room_key)
}

/// Whether `user` is banned from the room `room_key`.
pub fn is_banned_in(bans: &Bans, user: &UserId, room_key: &str) -> bool {
    bans.get(user).is_some_and(|scopes| scopes.contains(EVERYWHERE) || scopes.contains(room_scope(room_key)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruma::user_id;

    #[test]
    fn bans_stand_until_lifted_in_their_scope_or_everywhere() {
        let (x, y) = (user_id!("@x:pcf.test"), user_id!("@y:pcf.test"));
        let bans = standing_bans([
            (x, "nord", ModerationKind::Ban),
            (x, "paris", ModerationKind::Ban),
            (y, "nord", ModerationKind::Kick),
            (x, "paris", ModerationKind::Unban),
        ]);
        assert!(is_banned_in(&bans, x, "nord.s.lille") && is_banned_in(&bans, x, "nord"));
        assert!(!is_banned_in(&bans, x, "paris.annonces"), "lifted in Paris");
        assert!(!is_banned_in(&bans, y, "nord.discussion"), "a kick is not a ban");
        assert!(!is_banned_in(&bans, x, "national"));

        let everywhere = standing_bans([(y, EVERYWHERE, ModerationKind::Ban)]);
        assert!(is_banned_in(&everywhere, y, "national") && is_banned_in(&everywhere, y, "rhone.c.x"));
        let lifted = standing_bans([
            (x, "nord", ModerationKind::Ban),
            (x, EVERYWHERE, ModerationKind::Ban),
            (x, EVERYWHERE, ModerationKind::Unban),
        ]);
        assert!(lifted.is_empty(), "a national unban lifts every ban: {lifted:?}");
        let national_kept =
            standing_bans([(x, EVERYWHERE, ModerationKind::Ban), (x, "nord", ModerationKind::Unban)]);
        assert!(is_banned_in(&national_kept, x, "nord.annonces"), "a federation cannot lift a national ban");
    }

    #[test]
    fn kinds_read_back() {
        for kind in [ModerationKind::Ban, ModerationKind::Unban, ModerationKind::Kick, ModerationKind::Purge]
        {
            assert_eq!(ModerationKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(ModerationKind::parse("mute"), None);
    }
}
