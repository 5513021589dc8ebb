use std::collections::BTreeSet;

use super::*;
use crate::reader::read;

const NATIONAL: &str = "PCF — national";

fn opts() -> PlanOptions {
    PlanOptions {
        national_name: NATIONAL.into(),
        invitations: true,
        now_ms: 1_000,
        scope: None,
        public: Default::default(),
        national_team: Vec::new(),
    }
}

fn report(text: &str) -> ReadReport {
    read(text.as_bytes()).expect("reads")
}

fn apply_all(recorded: &mut Recorded, plan: &Plan) {
    for action in &plan.actions {
        apply_to_record(recorded, action);
    }
}

const SAMPLE: &str = include_str!("../../../tests/data/members.csv");

#[test]
fn first_import_of_the_sample_matches_its_snapshot() {
    let plan = plan(&report(SAMPLE), &Recorded::default(), &opts());
    let json = serde_json::json!({ "summary": plan.summary(), "actions": plan.actions });
    // `cargo insta review` (or INSTA_UPDATE=always) accepts a change after reading it.
    insta::assert_json_snapshot!("sample-first-import", json);
}

#[test]
fn applying_then_replanning_the_same_file_does_nothing() {
    let file = report(SAMPLE);
    let mut recorded = Recorded::default();
    let first = plan(&file, &recorded, &opts());
    assert!(!first.actions.is_empty());
    apply_all(&mut recorded, &first);
    let second = plan(&file, &recorded, &opts());
    assert!(second.actions.is_empty(), "{:#?}", second.actions);
}

const HEADER: &str = "id;federation;section;cell;roles;active;matrix_id;email;contact\n";

/// A member recorded by an older Relais, before the rooms of each member were recorded, is
/// saved again once by the next import (so a member without an account gets their rooms), and
/// only that member.
#[test]
fn a_member_recorded_without_their_rooms_is_saved_again_once() {
    let file = report(&format!(
        "{HEADER}1;Nord;Lille;;;oui;;a@example.org;courriel\n2;Nord;Lille;;;oui;@b:pcf.test;;\n"
    ));
    let mut recorded = Recorded::default();
    let first = plan(&file, &recorded, &opts());
    apply_all(&mut recorded, &first);
    recorded.unkeyed.insert("1".into());
    let again = plan(&file, &recorded, &opts());
    let kinds: Vec<(&str, &str)> = again
        .actions
        .iter()
        .map(|a| match a {
            Action::SaveMember { member } => (a.kind(), member.member_id.as_str()),
            other => (other.kind(), ""),
        })
        .collect();
    assert_eq!(kinds, [("save_member", "1")]);
    // A welcome of member 2 (everyone else frozen) leaves member 1 as recorded.
    let welcome = ReadReport {
        frozen_ids: ["1".to_owned()].into_iter().collect(),
        rows: file.rows.iter().filter(|r| r.member_id == "2").cloned().collect(),
        ..file.clone()
    };
    assert!(plan(&welcome, &recorded, &opts()).actions.is_empty(), "only the welcomed member counts");
    apply_all(&mut recorded, &again);
    assert!(plan(&file, &recorded, &opts()).actions.is_empty());
}

#[test]
fn moves_lapses_departures_and_renewals() {
    let first = format!(
        "{HEADER}1;Nord;Lille;;Secrétaire de section;oui;@a:pcf.test;;\n\
         2;Nord;Lille;;;oui;@b:pcf.test;;\n\
         3;Nord;Roubaix;;;oui;@c:pcf.test;;\n\
         4;Paris;P11;;;oui;@d:pcf.test;d@example.org;courriel\n"
    );
    let mut recorded = Recorded::default();
    let p = plan(&report(&first), &recorded, &opts());
    apply_all(&mut recorded, &p);
    assert_eq!(recorded.moderators["nord.s.lille"].len(), 1);
    assert!(recorded.subscriptions.contains(&("paris.annonces".into(), "4".into())));

    // 1 moves to Roubaix, 2 lapses, 3 leaves the file, 4 stays.
    let second = format!(
        "{HEADER}1;Nord;Roubaix;;;oui;@a:pcf.test;;\n\
         2;Nord;Lille;;;non;@b:pcf.test;;\n\
         4;Paris;P11;;;oui;@d:pcf.test;d@example.org;courriel\n"
    );
    let p = plan(&report(&second), &recorded, &opts());
    let kicks: Vec<(&str, &str, &str)> = p
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Kick { room, member_id, reason, .. } => {
                Some((room.as_str(), member_id.as_str(), reason.split(' ').next().unwrap_or_default()))
            }
            _ => None,
        })
        .collect();
    assert!(kicks.contains(&("nord.s.lille", "1", "Changement")), "{kicks:?}");
    assert!(kicks.contains(&("nord", "2", "Cotisation")), "{kicks:?}");
    assert!(kicks.contains(&("nord.s.roubaix", "3", "N'apparaît")), "{kicks:?}");
    assert!(!kicks.iter().any(|(_, id, _)| *id == "4"));
    assert!(p.actions.contains(&Action::Invite {
        room: "nord.s.roubaix".into(),
        member_id: "1".into(),
        user_id: ruma::owned_user_id!("@a:pcf.test"),
    }));
    assert!(p.actions.iter().any(|a| matches!(a, Action::SetModerators { room, moderators } if room == "nord.s.lille" && moderators.is_empty())));
    assert_eq!((p.recorded_active, p.removed_active), (4, 2));
    assert_eq!(p.losing_access, 3, "1 moved out of Lille and lost its moderation, 2 lapsed, 3 left");
    apply_all(&mut recorded, &p);

    // 2 renews: back in.
    let third = second.replace("2;Nord;Lille;;;non", "2;Nord;Lille;;;oui");
    let p = plan(&report(&third), &recorded, &opts());
    let invited: Vec<&str> = p
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Invite { room, member_id, .. } if member_id == "2" => Some(room.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(invited, ["nord", "nord.s.lille"]);
}

#[test]
fn a_truncated_export_trips_the_guard_and_a_bad_row_changes_nothing() {
    let rows: String = (1..=20).map(|i| format!("{i};Nord;Lille;;;oui;@u{i}:pcf.test;;\n")).collect();
    let mut recorded = Recorded::default();
    let p = plan(&report(&format!("{HEADER}{rows}")), &recorded, &opts());
    assert!(!p.exceeds_removal_limit(10), "first import removes nobody");
    apply_all(&mut recorded, &p);

    let truncated: String = rows.lines().take(15).map(|l| format!("{l}\n")).collect();
    let p = plan(&report(&format!("{HEADER}{truncated}")), &recorded, &opts());
    assert_eq!(p.removed_active, 5);
    assert!(p.exceeds_removal_limit(10));
    assert!(!p.exceeds_removal_limit(25));

    // Member 7's row has a broken Matrix id: 7 keeps everything, nobody else changes.
    let typo = rows.replace("7;Nord;Lille;;;oui;@u7:pcf.test", "7;Nord;Lille;;;oui;u7");
    let p = plan(&report(&format!("{HEADER}{typo}")), &recorded, &opts());
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
}

#[test]
fn a_federation_export_changes_only_that_federation() {
    let both = format!(
        "{HEADER}1;Nord;Lille;;;oui;@a:pcf.test;;\n\
         2;Nord;Lille;;;oui;@b:pcf.test;;\n\
         3;Paris;P11;;;oui;@c:pcf.test;;\n\
         4;Paris;P11;;;oui;@d:pcf.test;;\n"
    );
    let mut recorded = Recorded::default();
    let first = plan(&report(&both), &recorded, &opts());
    apply_all(&mut recorded, &first);

    // Nord's own export: member 2 left; a Paris row slipped in by mistake.
    let nord = format!("{HEADER}1;Nord;Lille;;;oui;@a:pcf.test;;\n3;Paris;P11;;;non;@c:pcf.test;;\n");
    let scoped = scope_report(report(&nord), " nord ", &recorded);
    assert_eq!(scoped.errors.len(), 1);
    assert_eq!(scoped.errors[0].line, 3);
    assert!(scoped.errors[0].message.contains("autre fédération"), "{}", scoped.errors[0].message);
    let options = PlanOptions { scope: Some("nord".into()), ..opts() };
    let p = plan(&scoped, &recorded, &options);
    let kicked: BTreeSet<&str> = p
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Kick { member_id, .. } => Some(member_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(kicked, BTreeSet::from(["2"]), "Paris members are untouched");
    assert_eq!((p.recorded_active, p.removed_active), (2, 1), "the guard counts Nord only");
}

#[test]
fn a_federation_export_cannot_take_over_another_federations_members() {
    let both = format!(
        "{HEADER}1;Nord;Lille;;;oui;@a:pcf.test;;\n\
         3;Paris;P11;;;oui;@c:pcf.test;;\n\
         4;Paris;P11;;;oui;@d:pcf.test;;\n"
    );
    let mut recorded = Recorded::default();
    let first = plan(&report(&both), &recorded, &opts());
    apply_all(&mut recorded, &first);
    let before = recorded.clone();

    // Nord's export claims Paris's member 3 (moved into Nord, with a new account), and gives a
    // new member 9 the account of Paris's member 4.
    let nord = format!(
        "{HEADER}1;Nord;Lille;;;oui;@a:pcf.test;;\n\
         3;Nord;Lille;;;oui;@evil:pcf.test;;\n\
         9;Nord;Lille;;;oui;@d:pcf.test;;\n"
    );
    let scoped = scope_report(report(&nord), "Nord", &recorded);
    let lines: Vec<(u64, &str)> = scoped.errors.iter().map(|e| (e.line, e.message.as_str())).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].0 == 3 && lines[0].1.contains("enregistré dans la fédération Paris"), "{lines:?}");
    assert!(lines[1].0 == 4 && lines[1].1.contains("@d:pcf.test"), "{lines:?}");
    let options = PlanOptions { scope: Some("nord".into()), ..opts() };
    let p = plan(&scoped, &recorded, &options);
    assert!(p.actions.is_empty(), "nothing changes for anyone: {:#?}", p.actions);
    apply_all(&mut recorded, &p);
    assert_eq!(recorded.members, before.members);
    assert_eq!(recorded.access, before.access);

    // The national file may move the member.
    let national = both.replace("3;Paris;P11;;;oui;@c:pcf.test", "3;Nord;Lille;;;oui;@c:pcf.test");
    let p = plan(&report(&national), &recorded, &opts());
    assert!(p.actions.iter().any(|a| matches!(a, Action::Kick { member_id, .. } if member_id == "3")));
}

/// Twenty active members of one federation, applied; one of them (1) moderates Lille.
fn twenty_in_lille() -> (String, Recorded) {
    let rows: String = (1..=20)
        .map(|i| {
            let role = if i == 1 { "Secrétaire de section" } else { "" };
            format!("{i};Nord;Lille;;{role};oui;@u{i}:pcf.test;u{i}@example.org;courriel\n")
        })
        .collect();
    let mut recorded = Recorded::default();
    let first = plan(&report(&format!("{HEADER}{rows}")), &recorded, &opts());
    apply_all(&mut recorded, &first);
    (rows, recorded)
}

#[test]
fn the_guard_counts_every_member_who_loses_any_access() {
    let (rows, recorded) = twenty_in_lille();
    // Nobody lapses or leaves, yet everyone would lose something.
    let renamed_section = rows.replace(";Lille;", ";Lile;");
    let renamed_federation = rows.replace(";Nord;", ";Nord-Pas-de-Calais;");
    let no_matrix_ids: String = rows
        .lines()
        .map(|l| {
            let mut cells: Vec<&str> = l.split(';').collect();
            cells[6] = "";
            cells.join(";") + "\n"
        })
        .collect();
    for (what, file) in [
        ("a renamed section", renamed_section),
        ("a renamed federation", renamed_federation),
        ("an emptied Matrix id column", no_matrix_ids),
    ] {
        let p = plan(&report(&format!("{HEADER}{file}")), &recorded, &opts());
        assert_eq!(p.removed_active, 0, "{what}: nobody lapses");
        assert_eq!(p.losing_access, 20, "{what}: {:?}", p.summary());
        assert!(p.exceeds_removal_limit(10), "{what} trips the guard");
    }

    // Losing only a subscription or only a moderator right counts too.
    let chat_only = rows.replacen("u2@example.org;courriel", "u2@example.org;messagerie", 1).replacen(
        "u3@example.org;courriel",
        "u3@example.org;messagerie",
        1,
    );
    let p = plan(&report(&format!("{HEADER}{chat_only}")), &recorded, &opts());
    assert_eq!((p.losing_access, p.summary().get("unsubscribe").copied()), (2, Some(4)), "2 lists each");
    assert!(!p.exceeds_removal_limit(10), "2 of 20 is within 10 %");
    let demoted = rows.replacen("Secrétaire de section", "", 1);
    let p = plan(&report(&format!("{HEADER}{demoted}")), &recorded, &opts());
    assert_eq!(p.losing_access, 1, "{:?}", p.actions);
}

#[test]
fn a_banned_member_is_not_invited_back_and_the_plan_says_so() {
    use crate::moderation::{ModerationKind, standing_bans};
    let file = format!("{HEADER}1;Nord;Lille;;;oui;@a:pcf.test;;\n2;Nord;Lille;;;oui;@b:pcf.test;;\n");
    let mut recorded = Recorded::default();
    let first = plan(&report(&file), &recorded, &opts());
    apply_all(&mut recorded, &first);
    let a = ruma::user_id!("@a:pcf.test");
    recorded.banned = standing_bans([(a, "nord", ModerationKind::Ban)]);

    // Both move to the Roubaix section: b is invited there, a is kept out.
    let moved = file.replace("Lille", "Roubaix");
    let p = plan(&report(&moved), &recorded, &opts());
    let invited: Vec<&str> = p
        .actions
        .iter()
        .filter_map(|action| match action {
            Action::Invite { user_id, .. } | Action::Grant { user_id, .. } => Some(user_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(invited, ["@b:pcf.test"], "{:#?}", p.actions);
    assert_eq!(p.kept_out, 1);
    let kicked: Vec<&str> = p
        .actions
        .iter()
        .filter_map(|action| match action {
            Action::Kick { user_id, .. } => Some(user_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(kicked, ["@b:pcf.test"], "a, banned, is out already: {:#?}", p.actions);

    // Lifted: the next import lets a in.
    recorded.banned = standing_bans([(a, "nord", ModerationKind::Ban), (a, "nord", ModerationKind::Unban)]);
    let p = plan(&report(&moved), &recorded, &opts());
    assert_eq!(p.kept_out, 0);
    assert_eq!(
        p.actions.iter().filter(|a| matches!(a, Action::Invite { .. } | Action::Grant { .. })).count(),
        2
    );
}

fn public_config(federations: &[&str]) -> relais_core::config::PublicConfig {
    use relais_core::config::{PublicConfig, PublicJoin, PublicRoomConfig};
    PublicConfig {
        national: true,
        federations: federations.iter().map(|f| (*f).to_owned()).collect(),
        rooms: vec![
            PublicRoomConfig {
                slug: "accueil".into(),
                name: "Accueil".into(),
                join: PublicJoin::Public,
                guests: true,
            },
            PublicRoomConfig {
                slug: "campagne".into(),
                name: "Campagne".into(),
                join: PublicJoin::Knock,
                guests: false,
            },
        ],
        ..PublicConfig::default()
    }
}

#[test]
fn public_spaces_stand_apart_from_the_members_only_rooms_and_grant_nothing() {
    let file = format!(
        "{HEADER}1;Nord;Lille;;Secrétaire fédéral;oui;@a:pcf.test;;\n\
         2;Nord;Lille;;;oui;@b:pcf.test;;\n\
         3;Isère;Grenoble;;;oui;@c:pcf.test;;\n"
    );
    let options = PlanOptions { public: public_config(&["nord"]), ..opts() };
    let p = plan(&report(&file), &Recorded::default(), &options);
    let created: BTreeMap<&str, (&RoomKind, Option<&str>, Option<Openness>)> = p
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::CreateRoom { room, kind, parent, open, .. } => {
                Some((room.as_str(), (kind, parent.as_deref(), *open)))
            }
            _ => None,
        })
        .collect();
    use relais_core::config::PublicJoin;
    assert_eq!(created["national.public"], (&RoomKind::PublicSpace, None, Some(Openness::SPACE)));
    assert_eq!(
        created["nord.public"],
        (&RoomKind::PublicSpace, Some("national.public"), Some(Openness::SPACE))
    );
    assert_eq!(
        created["nord.public.accueil"],
        (&RoomKind::Public, Some("nord.public"), Some(Openness { join: PublicJoin::Public, guests: true }))
    );
    assert_eq!(created["nord.public.campagne"].2, Some(Openness { join: PublicJoin::Knock, guests: false }));
    assert!(created.contains_key("national.public.accueil"));
    // Isère asked for nothing public; the members-only rooms keep no public settings.
    assert!(!created.contains_key("isere.public"));
    assert_eq!(created["nord.discussion"].2, None);
    // Nobody is invited or granted into a public room by the file; the federation's office
    // holders moderate its public rooms.
    for action in &p.actions {
        if let Action::Invite { room, .. } | Action::Grant { room, .. } = action {
            assert!(!room.contains("public"), "{action:?}");
        }
    }
    let moderated = p.actions.iter().any(|a| {
        matches!(a, Action::SetModerators { room, moderators }
            if room == "nord.public.accueil" && moderators.iter().any(|u| u == "@a:pcf.test"))
    });
    assert!(moderated);
    // A public space's parent is created before it, in an earlier creation wave.
    let level = |key: &str| {
        let (kind, parent, _) = created[key];
        kind.level(parent.is_some())
    };
    assert!(level("national.public") < level("nord.public"));
    assert!(level("nord.public") < level("nord.public.accueil"));

    // Planned again after it is applied: nothing to do; without [public] the rooms stay.
    let mut recorded = Recorded::default();
    apply_all(&mut recorded, &p);
    assert!(plan(&report(&file), &recorded, &options).actions.is_empty());
    let quiet = plan(&report(&file), &recorded, &opts());
    assert!(quiet.actions.iter().all(|a| !matches!(a, Action::Kick { .. })), "{:#?}", quiet.actions);
}

#[test]
fn the_referents_network_follows_the_files_roles_and_the_national_team() {
    let team = ruma::owned_user_id!("@nadia:pcf.test");
    let options = PlanOptions { national_team: vec![team.clone()], ..opts() };
    let first = format!(
        "{HEADER}1;Nord;Lille;;Référente numérique;oui;@a:pcf.test;;\n\
         2;Isère;Grenoble;;Référent numérique;oui;@b:pcf.test;;\n\
         3;Nord;Lille;;;oui;@c:pcf.test;;\n"
    );
    let mut recorded = Recorded::default();
    let p = plan(&report(&first), &recorded, &options);
    let invited: BTreeSet<&str> = p
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Invite { room, user_id, .. } if room == crate::desired::REFERENTS => {
                Some(user_id.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(invited, BTreeSet::from(["@a:pcf.test", "@b:pcf.test", "@nadia:pcf.test"]));
    let moderators = p.actions.iter().find_map(|a| match a {
        Action::SetModerators { room, moderators } if room == crate::desired::REFERENTS => Some(moderators),
        _ => None,
    });
    assert_eq!(moderators, Some(&vec![team.clone()]));
    apply_all(&mut recorded, &p);

    // b is no longer a referent, the team is emptied: both leave the network, with the reason.
    let second = format!(
        "{HEADER}1;Nord;Lille;;Référente numérique;oui;@a:pcf.test;;\n\
         2;Isère;Grenoble;;;oui;@b:pcf.test;;\n\
         3;Nord;Lille;;;oui;@c:pcf.test;;\n"
    );
    let p = plan(&report(&second), &recorded, &opts());
    let kicked: Vec<(&str, &str)> = p
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Kick { room, user_id, reason, .. } if room == crate::desired::REFERENTS => {
                Some((user_id.as_str(), reason.as_str()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(kicked.len(), 2, "{kicked:?}");
    assert!(kicked.contains(&("@b:pcf.test", reasons::NOT_REFERENT)));
    assert!(kicked.contains(&("@nadia:pcf.test", reasons::NOT_TEAM)));
    // Losing the network counts against the removal guard like any loss of access.
    assert!(p.losing_access >= 1);
}

#[test]
fn a_federations_export_leaves_the_national_team_alone_and_nobody_loses_a_room_they_keep() {
    let team = ruma::owned_user_id!("@nadia:pcf.test");
    let national = PlanOptions { national_team: vec![team.clone()], ..opts() };
    // Nadia is of the national team and a referent of the Nord in the file.
    let file = format!("{HEADER}1;Nord;Lille;;Référente numérique;oui;@nadia:pcf.test;;\n");
    let mut recorded = Recorded::default();
    let first = plan(&report(&file), &recorded, &national);
    apply_all(&mut recorded, &first);
    // She is no longer the Nord's referent: she keeps the network as one of the team.
    let no_role = format!("{HEADER}1;Nord;Lille;;;oui;@nadia:pcf.test;;\n");
    let p = plan(&report(&no_role), &recorded, &national);
    let kicks: Vec<&Action> = p.actions.iter().filter(|a| matches!(a, Action::Kick { .. })).collect();
    assert!(kicks.is_empty(), "{kicks:?}");
    // The Nord's own export, with a configuration that no longer names her: the team is the
    // national import's to change.
    let scoped = PlanOptions { scope: Some("nord".into()), national_team: Vec::new(), ..opts() };
    let p = plan(&report(&file), &recorded, &scoped);
    let touching_team = p.actions.iter().any(|a| match a {
        Action::Kick { member_id, .. } | Action::Invite { member_id, .. } => member_id.starts_with("équipe:"),
        Action::SetModerators { room, .. } => room.starts_with("national"),
        _ => false,
    });
    assert!(!touching_team, "{:#?}", p.actions);
}
