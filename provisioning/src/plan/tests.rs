use std::{collections::BTreeSet, path::Path};

use super::*;
use crate::reader::read;

const NATIONAL: &str = "PCF — national";

fn opts() -> PlanOptions {
    PlanOptions { national_name: NATIONAL.into(), invitations: true, now_ms: 1_000, scope: None }
}

fn report(text: &str) -> ReadReport {
    read(text.as_bytes()).expect("reads")
}

fn apply_all(recorded: &mut Recorded, plan: &Plan) {
    for action in &plan.actions {
        apply_to_record(recorded, action);
    }
}

/// Compares `value` with the golden file `name`; `UPDATE_GOLDEN=1` rewrites it.
fn golden(name: &str, value: &serde_json::Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
    let text = serde_json::to_string_pretty(value).expect("json") + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &text).expect("write golden");
    }
    let expected =
        std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("missing golden file {}", path.display()));
    if let Some((n, (got, want))) = text.lines().zip(expected.lines()).enumerate().find(|(_, (a, b))| a != b)
    {
        panic!(
            "plan differs from {} at line {}: `{got}` instead of `{want}` (UPDATE_GOLDEN=1 to accept)",
            path.display(),
            n + 1
        );
    }
    assert_eq!(text.lines().count(), expected.lines().count(), "plan length differs from {}", path.display());
}

const SAMPLE: &str = include_str!("../../../tests/data/members.csv");

#[test]
fn first_import_of_the_sample_matches_the_golden_plan() {
    let plan = plan(&report(SAMPLE), &Recorded::default(), &opts());
    let json = serde_json::json!({ "summary": plan.summary(), "actions": plan.actions });
    golden("sample-first-import.json", &json);
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
    let scoped = scope_report(report(&nord), " nord ");
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
