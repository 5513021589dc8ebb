//! Thematic rooms in the plan: where they go, who moderates them, and that whoever leaves the
//! federation leaves them too.

use std::collections::BTreeSet;

use relais_core::config::{PublicConfig, PublicJoin};
use ruma::{OwnedUserId, owned_user_id};

use super::*;
use crate::{
    reader::read,
    theme::{Theme, ThemeAccess},
};

const FILE: &str = "id;federation;section;roles;active;matrix_id\n\
    1;Nord;Lille;Référent numérique;oui;@ref:pcf.test\n\
    2;Nord;Lille;;oui;@anna:pcf.test\n\
    3;Nord;Roubaix;;oui;@bruno:pcf.test\n\
    4;Isère;Grenoble;;oui;@iris:pcf.test\n";

fn options(public: PublicConfig) -> PlanOptions {
    PlanOptions {
        national_name: "N".into(),
        invitations: false,
        now_ms: 0,
        scope: None,
        public,
        national_team: Vec::new(),
    }
}

fn theme(key: &str, access: ThemeAccess, moderators: &[&str]) -> Theme {
    Theme {
        key: key.into(),
        federation: key.split('.').next().expect("federation").into(),
        name: format!("Salon {key}"),
        access,
        moderators: moderators.iter().map(|u| OwnedUserId::try_from(*u).expect("user")).collect(),
    }
}

fn recorded_with(themes: Vec<Theme>, public: &PublicConfig) -> Recorded {
    let mut recorded = Recorded { themes, ..Recorded::default() };
    let first = plan(&read(FILE.as_bytes()).expect("reads"), &recorded, &options(public.clone()));
    for action in &first.actions {
        apply_to_record(&mut recorded, action);
    }
    recorded
}

#[test]
fn thematic_rooms_go_under_their_federation_and_are_moderated_by_its_office_holders_and_the_chosen() {
    let public = PublicConfig { federations: vec!["Nord".into()], ..PublicConfig::default() };
    let themes = vec![
        // Anna is of Nord: chosen, she moderates; Iris is of Isère: chosen, she does not.
        theme("nord.t.sante", ThemeAccess::Members, &["@anna:pcf.test", "@iris:pcf.test"]),
        theme("nord.t.campagne", ThemeAccess::Open(PublicJoin::Knock), &[]),
        theme("isere.t.velo", ThemeAccess::Open(PublicJoin::Public), &[]),
        // A federation the file does not have: nothing is made.
        theme("gers.t.x", ThemeAccess::Members, &[]),
    ];
    let recorded = recorded_with(themes, &public);
    let room = |key: &str| recorded.rooms.get(key).cloned();
    let sante = room("nord.t.sante").expect("made");
    assert_eq!((sante.kind, sante.parent.as_deref(), sante.open), (RoomKind::Theme, Some("nord"), None));
    let campagne = room("nord.t.campagne").expect("made");
    assert_eq!(campagne.kind, RoomKind::PublicTheme);
    assert_eq!(campagne.parent.as_deref(), Some("nord.public"), "beside the federation's public space");
    let velo = room("isere.t.velo").expect("made");
    assert_eq!(velo.parent.as_deref(), Some("isere"), "Isère has no public space: its federation space");
    assert!(room("gers.t.x").is_none());
    let moderators = |key: &str| recorded.moderators.get(key).cloned().unwrap_or_default();
    let expected: BTreeSet<OwnedUserId> =
        [owned_user_id!("@ref:pcf.test"), owned_user_id!("@anna:pcf.test")].into();
    assert_eq!(moderators("nord.t.sante"), expected);
    assert_eq!(moderators("nord.t.campagne"), [owned_user_id!("@ref:pcf.test")].into());
    assert!(moderators("isere.t.velo").is_empty());
    // Nobody is invited or granted anything in them: one enters through the space, or at will.
    assert!(recorded.access.keys().all(|(room, _)| !crate::theme::is_theme_key(room)));
}

#[test]
fn leaving_the_federation_means_leaving_its_members_only_thematic_rooms_and_a_chosen_moderator_lapses() {
    let public = PublicConfig::default();
    let themes = vec![
        theme("nord.t.sante", ThemeAccess::Members, &["@anna:pcf.test"]),
        theme("nord.t.ouvert", ThemeAccess::Open(PublicJoin::Public), &[]),
    ];
    let recorded = recorded_with(themes, &public);
    // Anna lapses; Bruno moves to Isère; the others stay.
    let next = "id;federation;section;roles;active;matrix_id\n\
        1;Nord;Lille;Référent numérique;oui;@ref:pcf.test\n\
        2;Nord;Lille;;non;@anna:pcf.test\n\
        3;Isère;Grenoble;;oui;@bruno:pcf.test\n\
        4;Isère;Grenoble;;oui;@iris:pcf.test\n";
    let plan = plan(&read(next.as_bytes()).expect("reads"), &recorded, &options(public));
    let kicks: BTreeSet<(&str, &str)> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Kick { room, user_id, .. } if crate::theme::is_theme_key(room) => {
                Some((room.as_str(), user_id.as_str()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        kicks,
        [("nord.t.sante", "@anna:pcf.test"), ("nord.t.sante", "@bruno:pcf.test")].into(),
        "out of the members-only room, never of the public one"
    );
    let moderators = plan.actions.iter().find_map(|a| match a {
        Action::SetModerators { room, moderators } if room == "nord.t.sante" => Some(moderators.clone()),
        _ => None,
    });
    assert_eq!(moderators, Some(vec![owned_user_id!("@ref:pcf.test")]), "a lapsed member moderates nothing");
}

#[test]
fn replanning_with_themes_changes_nothing() {
    let public = PublicConfig { federations: vec!["*".into()], ..PublicConfig::default() };
    let themes = vec![
        theme("nord.t.sante", ThemeAccess::Members, &["@anna:pcf.test"]),
        theme("isere.t.velo", ThemeAccess::Open(PublicJoin::Public), &[]),
    ];
    let recorded = recorded_with(themes, &public);
    let again = plan(&read(FILE.as_bytes()).expect("reads"), &recorded, &options(public));
    assert!(again.actions.is_empty(), "{:#?}", again.actions);
}
