//! Drift: what someone changed by hand on the homeserver, compared with what Relais recorded,
//! and the actions that repair it. Pure: the observation is made by the caller.
//!
//! Repaired: an entitled member whose invitation was withdrawn or who was kicked by someone else
//! is invited again; a party member recorded without access to a room (lapsed, moved) who is in
//! it anyway is removed; moderators are restored. Respected: a member who left by themselves, a
//! ban (moderation), and guests who are not in the membership file at all (a moderator may
//! invite a speaker), who are only counted. Rooms made by an older Relais whose levels keep
//! from moderators what they may now do get their moderators set again, which gives it.

use std::collections::{BTreeMap, BTreeSet};

use ruma::{OwnedUserId, events::room::member::MembershipState};
use serde::Serialize;

use crate::plan::{Action, Recorded};

/// A member's membership as the room state shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub membership: MembershipState,
    /// Who sent the membership event.
    pub sender: OwnedUserId,
}

/// One room as observed on the homeserver.
#[derive(Debug, Clone, Default)]
pub struct ObservedRoom {
    pub members: BTreeMap<OwnedUserId, Observed>,
    /// Users at moderator level (50) in the power levels.
    pub moderators: BTreeSet<OwnedUserId>,
    /// The levels the power levels set per event type.
    pub event_levels: BTreeMap<ruma::events::TimelineEventType, ruma::Int>,
}

/// The repair plan and what was left alone.
#[derive(Debug, Default, Serialize)]
pub struct DriftReport {
    pub actions: Vec<Action>,
    /// Users in provisioned rooms who are not in the membership file (left alone).
    pub guests: usize,
    /// Entitled members who left by themselves or were banned (respected).
    pub respected: usize,
}

const REASON: &str = "Accès réservé par le fichier des adhérents (correction d'une modification manuelle).";

/// Compares `observed` (by room key) with `recorded`; `bot` is the appservice's sender user.
pub fn repair(
    recorded: &Recorded,
    observed: &BTreeMap<String, ObservedRoom>,
    bot: &OwnedUserId,
) -> DriftReport {
    let mut report = DriftReport::default();
    let party: BTreeMap<&OwnedUserId, &str> = recorded
        .members
        .values()
        .filter_map(|m| m.matrix_id.as_ref().map(|u| (u, m.member_id.as_str())))
        .collect();
    let mut entitled: BTreeMap<&str, BTreeMap<&OwnedUserId, &str>> = BTreeMap::new();
    for ((room, member), user) in &recorded.access {
        entitled.entry(room.as_str()).or_default().insert(user, member.as_str());
    }
    for (key, room) in observed {
        let Some(spec) = recorded.rooms.get(key) else { continue };
        // A room entered through its space keeps no entries of its own: the space's allow it.
        let allowed_key = match &spec.parent {
            Some(parent) if spec.kind.admits_the_space() => parent.as_str(),
            _ => key.as_str(),
        };
        let allowed = entitled.get(allowed_key).cloned().unwrap_or_default();
        if !spec.kind.is_restricted() {
            for (user, member_id) in &allowed {
                match room.members.get(*user) {
                    Some(o) if matches!(o.membership, MembershipState::Join | MembershipState::Invite) => {}
                    Some(o)
                        if o.membership == MembershipState::Ban
                            || (o.membership == MembershipState::Leave && &o.sender == *user) =>
                    {
                        report.respected += 1;
                    }
                    _ => report.actions.push(Action::Invite {
                        room: key.clone(),
                        member_id: (*member_id).to_owned(),
                        user_id: (*user).clone(),
                    }),
                }
            }
        }
        for (user, o) in &room.members {
            // Anyone may be in a public room: the file takes no one out of it.
            if spec.kind.is_public() {
                break;
            }
            if user == bot
                || allowed.contains_key(user)
                || !matches!(o.membership, MembershipState::Join | MembershipState::Invite)
            {
                continue;
            }
            match party.get(user) {
                Some(member_id) => report.actions.push(Action::Kick {
                    room: key.clone(),
                    member_id: (*member_id).to_owned(),
                    user_id: user.clone(),
                    reason: REASON.to_owned(),
                }),
                None => report.guests += 1,
            }
        }
        let wanted = recorded.moderators.get(key).cloned().unwrap_or_default();
        // Setting the moderators again also gives them what rooms made by an older Relais kept
        // from them (switching to encryption, attaching rooms to a space).
        if room.moderators != wanted
            || crate::apply::homeserver::structure_outdated(spec.kind, &room.event_levels)
        {
            report
                .actions
                .push(Action::SetModerators { room: key.clone(), moderators: wanted.into_iter().collect() });
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use ruma::owned_user_id;

    use super::*;
    use crate::{plan::plan, reader::read};

    fn observed(members: &[(&str, &str, &str)], moderators: &[&str]) -> ObservedRoom {
        ObservedRoom {
            members: members
                .iter()
                .map(|(u, m, s)| {
                    (
                        OwnedUserId::try_from(*u).expect("user"),
                        Observed {
                            membership: MembershipState::from(*m),
                            sender: OwnedUserId::try_from(*s).expect("sender"),
                        },
                    )
                })
                .collect(),
            moderators: moderators.iter().map(|u| OwnedUserId::try_from(*u).expect("user")).collect(),
            event_levels: BTreeMap::new(),
        }
    }

    fn options(public: relais_core::config::PublicConfig) -> crate::plan::PlanOptions {
        crate::plan::PlanOptions {
            national_name: "N".into(),
            invitations: false,
            now_ms: 0,
            scope: None,
            public,
            national_team: Vec::new(),
        }
    }

    #[test]
    fn repairs_withdrawn_invites_intruders_and_moderators_but_respects_choices() {
        let csv = "id;federation;section;roles;active;matrix_id\n\
            1;Nord;Lille;Secrétaire de section;oui;@a:pcf.test\n\
            2;Nord;Lille;;oui;@b:pcf.test\n\
            3;Nord;Lille;;oui;@c:pcf.test\n\
            4;Nord;Lille;;oui;@d:pcf.test\n\
            5;Nord;Roubaix;;oui;@e:pcf.test\n\
            6;Nord;Lille;;non;@f:pcf.test\n";
        let mut recorded = Recorded::default();
        let options = options(relais_core::config::PublicConfig {
            federations: vec!["Nord".into()],
            rooms: vec![relais_core::config::PublicRoomConfig {
                slug: "accueil".into(),
                name: "Accueil".into(),
                join: relais_core::config::PublicJoin::Public,
                guests: false,
            }],
            ..Default::default()
        });
        let p = plan(&read(csv.as_bytes()).expect("reads"), &recorded, &options);
        for a in &p.actions {
            crate::plan::apply_to_record(&mut recorded, a);
        }
        let bot = owned_user_id!("@relais:pcf.test");
        let room = observed(
            &[
                ("@relais:pcf.test", "join", "@relais:pcf.test"),
                ("@a:pcf.test", "join", "@a:pcf.test"),
                ("@b:pcf.test", "leave", "@a:pcf.test"), // invitation withdrawn by a: re-invite
                ("@c:pcf.test", "leave", "@c:pcf.test"), // left by themselves: respected
                // d: no membership at all: invite
                ("@e:pcf.test", "join", "@e:pcf.test"), // another section's member: remove
                ("@f:pcf.test", "invite", "@a:pcf.test"), // lapsed member invited by hand: remove
                ("@guest:example.org", "join", "@guest:example.org"), // not in the file: left alone
            ],
            &["@e:pcf.test"],
        );
        // In a public room anyone may be: the lapsed member and the other section's stay.
        let public =
            observed(&[("@e:pcf.test", "join", "@e:pcf.test"), ("@f:pcf.test", "join", "@f:pcf.test")], &[]);
        let rooms =
            BTreeMap::from([("nord.s.lille".to_owned(), room), ("nord.public.accueil".to_owned(), public)]);
        let report = repair(&recorded, &rooms, &bot);
        let summary: Vec<String> = report
            .actions
            .iter()
            .map(|a| match a {
                Action::Invite { user_id, .. } => format!("invite {user_id}"),
                Action::Kick { user_id, .. } => format!("kick {user_id}"),
                Action::SetModerators { moderators, .. } => format!("moderators {moderators:?}"),
                other => other.kind().to_owned(),
            })
            .collect();
        assert_eq!(
            summary,
            [
                "invite @b:pcf.test",
                "invite @d:pcf.test",
                "kick @e:pcf.test",
                "kick @f:pcf.test",
                "moderators [\"@a:pcf.test\"]",
            ]
        );
        assert_eq!((report.guests, report.respected), (1, 1));
    }

    #[test]
    fn a_members_only_thematic_room_admits_the_federation_and_nobody_is_invited_to_it() {
        let csv = "id;federation;section;roles;active;matrix_id\n\
            1;Nord;Lille;;oui;@a:pcf.test\n\
            2;Nord;Lille;;non;@f:pcf.test\n\
            3;Isère;Vienne;;oui;@i:pcf.test\n";
        let mut recorded = Recorded {
            themes: vec![crate::theme::Theme {
                key: "nord.t.sante".into(),
                federation: "nord".into(),
                name: "Santé".into(),
                access: crate::theme::ThemeAccess::Members,
                moderators: Default::default(),
            }],
            ..Recorded::default()
        };
        for a in &plan(&read(csv.as_bytes()).expect("reads"), &recorded, &options(Default::default())).actions
        {
            crate::plan::apply_to_record(&mut recorded, a);
        }
        let room = observed(
            &[
                ("@a:pcf.test", "join", "@a:pcf.test"),       // of the federation: stays
                ("@f:pcf.test", "join", "@f:pcf.test"),       // lapsed: out
                ("@i:pcf.test", "join", "@i:pcf.test"),       // another federation's: out
                ("@x:example.org", "join", "@x:example.org"), // not in the file: left alone
            ],
            &[],
        );
        let report = repair(
            &recorded,
            &BTreeMap::from([("nord.t.sante".to_owned(), room)]),
            &owned_user_id!("@relais:pcf.test"),
        );
        let kicked: Vec<&str> = report
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::Kick { user_id, .. } => Some(user_id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(kicked, ["@f:pcf.test", "@i:pcf.test"]);
        assert!(report.actions.iter().all(|a| !matches!(a, Action::Invite { .. })), "{:?}", report.actions);
        assert_eq!(report.guests, 1);
    }

    #[test]
    fn a_room_made_before_moderators_could_encrypt_gets_its_moderators_set_again() {
        use ruma::events::TimelineEventType;
        let csv = "id;federation;section;roles;active;matrix_id\n1;Nord;Lille;Secrétaire de section;oui;@a:pcf.test\n";
        let mut recorded = Recorded::default();
        for a in &plan(&read(csv.as_bytes()).expect("reads"), &recorded, &options(Default::default())).actions
        {
            crate::plan::apply_to_record(&mut recorded, a);
        }
        let bot = owned_user_id!("@relais:pcf.test");
        let room = |encryption: i64| {
            let mut room = observed(&[("@a:pcf.test", "join", "@a:pcf.test")], &["@a:pcf.test"]);
            room.event_levels.insert(
                TimelineEventType::RoomEncryption,
                ruma::Int::from(i32::try_from(encryption).expect("small")),
            );
            room
        };
        let repairs = |encryption: i64| {
            let rooms = BTreeMap::from([("nord.s.lille".to_owned(), room(encryption))]);
            repair(&recorded, &rooms, &bot).actions
        };
        assert_eq!(repairs(100).len(), 1, "the bot's old level: set again");
        assert!(matches!(&repairs(100)[0], Action::SetModerators { room, .. } if room == "nord.s.lille"));
        assert!(repairs(50).is_empty(), "already theirs");
        assert!(repairs(0).is_empty(), "lowered by hand: left alone");
        assert!(repairs(99).is_empty(), "kept from moderators on purpose: left alone");
    }
}
