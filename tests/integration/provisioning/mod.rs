//! `relais provision` against a real Synapse: who can and cannot enter what after a first
//! import, after a second export with moves, lapses and departures, after a truncated export,
//! and after a kill -9 in the middle of applying.

use crate::common;

use std::time::Duration;

use crate::common::{Member, RelaisOptions, Stack, eventually, mail::mails_to, smtp::SmtpSink, unique};
use serde_json::Value;

const HEADER: &str = "N° adhérent;Prénom;Nom;Courriel;Téléphone;Fédération;Section;Responsabilités;Cotisation à jour;Identifiant Matrix;Préférence de contact\n";

fn row(id: &str, fed: &str, section: &str, roles: &str, active: &str, user: &str) -> String {
    format!(
        "{id};Prénom{id};Nom{id};m{id}@example.org;0600000000;{fed};{section};{roles};{active};{user};messagerie\n"
    )
}

fn alias(key: &str) -> String {
    format!("#relais_{key}:pcf.test")
}

/// Runs a `relais` command that prints JSON; returns (exit code, JSON).
fn relais_json(stack: &Stack, args: &[&str]) -> (i32, Value) {
    let (status, stdout, stderr) = stack.relais.cli(args);
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("relais {args:?} did not print JSON ({e}): {stdout}\n{stderr}"));
    (status.code().unwrap_or(-1), json)
}

/// Runs `relais provision FILE --json` on `csv`.
fn provision(stack: &Stack, csv: &str, extra: &[&str]) -> (i32, Value) {
    let file = stack.relais.dir.path().join(format!("{}.csv", unique("members")));
    std::fs::write(&file, csv).expect("write csv");
    let file = file.display().to_string();
    let mut args = vec!["provision", file.as_str(), "--json"];
    args.extend_from_slice(extra);
    relais_json(stack, &args)
}

/// Starts `relais provision FILE --json` in the background, with extra environment `env`.
fn spawn_provision(stack: &Stack, file: &std::path::Path, env: &[(&str, &str)]) -> tokio::process::Child {
    tokio::process::Command::new(common::relais::BIN)
        .arg("--config")
        .arg(stack.relais.config_path())
        .args(["provision", &file.display().to_string(), "--json"])
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn provision")
}

/// Starts `relais provision FILE --json` in the background (extra environment in `env`) and
/// returns once the audit log holds `lines` entries, i.e. in the middle of applying.
async fn provision_until(
    stack: &Stack,
    file: &std::path::Path,
    env: &[(&str, &str)],
    lines: usize,
) -> tokio::process::Child {
    let child = spawn_provision(stack, file, env);
    eventually("some homeserver actions applied", Duration::from_secs(60), || async {
        let (_, stdout, _) = stack.relais.cli(&["audit", "--limit", "1000", "--json"]);
        (stdout.lines().count() >= lines).then_some(())
    })
    .await;
    child
}

struct People {
    a: Member,
    b: Member,
    c: Member,
    d: Member,
}

async fn people(stack: &Stack) -> People {
    let s = &stack.synapse;
    People {
        a: s.register(&unique("a")).await,
        b: s.register(&unique("b")).await,
        c: s.register(&unique("c")).await,
        d: s.register(&unique("d")).await,
    }
}

mod interrupted;

#[tokio::test]
async fn first_import_then_moves_lapses_departures_and_a_guarded_truncation() {
    let stack = Stack::start(RelaisOptions::default()).await;
    let p = people(&stack).await;
    let first = format!(
        "{HEADER}{}{}{}{}",
        row("001", "Nord", "Lille", "Secrétaire de section", "oui", &p.a.user_id),
        row("002", " nord ", "Lille", "", "OUI", &p.b.user_id),
        row("003", "Nord", "Roubaix", "", "oui", &p.c.user_id),
        row("004", "Paris", "Paris 11e", "Secrétaire fédéral", "oui", &p.d.user_id),
    );
    let (code, out) = provision(&stack, &first, &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["errors"], serde_json::json!([]));
    assert_eq!(out["applied"]["failed"], serde_json::json!([]), "{out}");
    check_first_import(&p).await;

    // The same file again: nothing to do.
    let (code, out) = provision(&stack, &first, &[]);
    assert_eq!(code, 0);
    assert_eq!(out["actions"], serde_json::json!([]), "{out}");
    check_second_export(&stack, &p).await;
}

/// a: federation space, its rooms, their section — nothing else.
async fn check_first_import(p: &People) {
    let nord = p.a.resolve(&alias("nord")).await;
    assert!(p.a.invites().await.contains(&nord));
    assert_eq!(p.a.try_join(&nord).await, 200);
    assert_eq!(
        p.a.try_join(&alias("nord.discussion")).await,
        200,
        "restricted room, entered through the space"
    );
    assert_eq!(p.a.try_join(&alias("nord.annonces")).await, 200);
    assert_eq!(p.a.try_join(&alias("nord.s.lille")).await, 200);
    assert_eq!(p.a.try_join(&alias("nord.s.roubaix")).await, 403, "another section's room");
    assert_eq!(p.a.try_join(&alias("paris")).await, 403, "another federation's space");
    assert_eq!(p.d.try_join(&alias("nord.discussion")).await, 403);
    // a moderates their section; plain members cannot post announcements.
    let lille = p.a.resolve(&alias("nord.s.lille")).await;
    let levels = p.a.state(&lille, "m.room.power_levels", "").await;
    assert_eq!(levels["users"][&p.a.user_id], 50, "{levels}");
    assert_eq!(levels["users"]["@relais:pcf.test"], 100);
    assert_eq!(levels["invite"], 50, "only moderators invite");
    assert_eq!(p.b.try_join(&nord).await, 200);
    assert_eq!(p.b.try_join(&alias("nord.annonces")).await, 200);
    assert_eq!(p.b.try_send_text(&alias_room(&p.b, "nord.annonces").await, "hello").await, 403);
    let join_rules = p.a.state(&alias_room(&p.a, "nord.discussion").await, "m.room.join_rules", "").await;
    assert_eq!(join_rules["join_rule"], "restricted");
}

async fn check_second_export(stack: &Stack, p: &People) {
    let nord = p.a.resolve(&alias("nord")).await;
    let lille = p.a.resolve(&alias("nord.s.lille")).await;
    // a moves to Roubaix, b lapses, c leaves the file: 2 of 4 active members removed.
    // …and e joins the party.
    let e = stack.synapse.register(&unique("e")).await;
    let second = format!(
        "{HEADER}{}{}{}{}",
        row("001", "Nord", "Roubaix", "", "oui", &p.a.user_id),
        row("002", "Nord", "Lille", "", "non", &p.b.user_id),
        row("004", "Paris", "Paris 11e", "Secrétaire fédéral", "oui", &p.d.user_id),
        row("005", "Paris", "Paris 11e", "", "oui", &e.user_id),
    );
    let (code, out) = provision(stack, &second, &[]);
    assert_eq!(code, 2, "refused by the guard: {out}");
    assert_eq!(out["refused"], true);
    assert_eq!(p.b.try_join(&nord).await, 200, "nothing changed: b still has access");

    let (code, out) = provision(stack, &second, &["--force"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(p.a.try_join(&alias("nord.s.roubaix")).await, 200, "a was invited to the new section");
    assert_eq!(p.a.try_join(&lille).await, 403, "a was removed from the old one");
    assert_eq!(p.b.try_join(&nord).await, 403, "b lapsed: out of the federation space");
    assert_eq!(p.b.try_join(&alias("nord.discussion")).await, 403);
    assert_eq!(p.c.try_join(&alias("nord.s.roubaix")).await, 403, "c left the file");
    assert_eq!(e.try_join(&alias("paris")).await, 200, "the new member is in their federation space");
    assert_eq!(e.try_join(&alias("paris.s.paris-11e")).await, 200, "and their section");
    let paris = alias_room(&p.d, "paris").await;
    assert_eq!(p.d.try_join(&paris).await, 200);
    let levels = p.d.state(&paris, "m.room.power_levels", "").await;
    assert_eq!(levels["users"][&p.d.user_id], 50, "d is a federation moderator");

    // b renews: back in.
    let third = second.replace(";non;", ";oui;");
    let (code, out) = provision(stack, &third, &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(p.b.try_join(&nord).await, 200);
    assert_eq!(p.b.try_join(&alias("nord.s.lille")).await, 200);
}

async fn alias_room(member: &Member, key: &str) -> String {
    member.resolve(&alias(key)).await
}

#[tokio::test]
async fn bad_rows_are_reported_and_a_dry_run_changes_nothing() {
    let stack = Stack::start(RelaisOptions::default()).await;
    let p = people(&stack).await;
    let csv = format!(
        "{HEADER}{}{}{}",
        row("010", "Nord", "Lille", "", "oui", &p.a.user_id),
        row("011", "", "Lille", "", "oui", &p.b.user_id),
        row("012", "Nord", "Lille", "", "oui", "pas-un-identifiant"),
    );
    let (code, out) = provision(&stack, &csv, &["--dry-run"]);
    assert_eq!(code, 0, "{out}");
    let lines: Vec<u64> =
        out["errors"].as_array().expect("errors").iter().map(|e| e["line"].as_u64().expect("line")).collect();
    assert_eq!(lines, [3, 4]);
    assert!(out["errors"][0]["message"].as_str().expect("message").contains("fédération"));
    assert!(!out["actions"].as_array().expect("actions").is_empty());
    assert!(out["applied"].is_null());
    assert_eq!(p.a.try_join(&alias("nord")).await, 404, "dry run: the space does not exist");
}

#[tokio::test]
async fn drift_repair_undoes_manual_changes_and_respects_choices() {
    let stack = Stack::start(RelaisOptions::default()).await;
    let p = people(&stack).await;
    let csv = format!(
        "{HEADER}{}{}{}{}",
        row("021", "Nord", "Lille", "Secrétaire de section", "oui", &p.a.user_id),
        row("022", "Nord", "Lille", "", "oui", &p.b.user_id),
        row("023", "Nord", "Roubaix", "", "oui", &p.c.user_id),
        row("024", "Nord", "Lille", "", "oui", &p.d.user_id),
    );
    let (code, out) = provision(&stack, &csv, &[]);
    assert_eq!(code, 0, "{out}");
    let lille = p.a.resolve(&alias("nord.s.lille")).await;
    assert_eq!(p.a.try_join(&lille).await, 200);
    assert_eq!(p.d.try_join(&lille).await, 200);
    // By hand, the section secretary lets in c (another section) and withdraws b's invitation;
    // d leaves by themselves.
    p.a.post(
        &format!("/_matrix/client/v3/rooms/{lille}/invite"),
        serde_json::json!({"user_id": p.c.user_id}),
    )
    .await;
    p.a.post(&format!("/_matrix/client/v3/rooms/{lille}/kick"), serde_json::json!({"user_id": p.b.user_id}))
        .await;
    p.d.post(&format!("/_matrix/client/v3/rooms/{lille}/leave"), serde_json::json!({})).await;

    let (code, out) = drift(&stack, &["--dry-run"]);
    assert_eq!(code, 0, "{out}");
    let kinds: Vec<(&str, &str)> = out["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| (a["type"].as_str().unwrap_or_default(), a["member_id"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(kinds, [("invite", "022"), ("kick", "023")], "{out}");
    assert_eq!(out["respected"], 1, "d left by themselves");
    assert_eq!(p.c.try_join(&lille).await, 200, "dry run changed nothing");

    let (code, out) = drift(&stack, &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(p.c.try_join(&lille).await, 403, "c was removed");
    assert_eq!(p.b.try_join(&lille).await, 200, "b was invited again");
    let (_, out) = drift(&stack, &[]);
    assert_eq!(out["actions"], serde_json::json!([]), "nothing left to repair: {out}");
}

fn drift(stack: &Stack, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["drift", "--json"];
    args.extend_from_slice(extra);
    relais_json(stack, &args)
}

#[tokio::test]
async fn a_federation_export_cannot_take_over_others_and_a_broken_export_is_refused() {
    let stack = Stack::start(RelaisOptions::default()).await;
    let p = people(&stack).await;
    let national = format!(
        "{HEADER}{}{}{}",
        row("001", "Nord", "Lille", "", "oui", &p.a.user_id),
        row("002", "Nord", "Lille", "", "oui", &p.b.user_id),
        row("004", "Paris", "Paris 11e", "Secrétaire fédéral", "oui", &p.d.user_id),
    );
    let (code, out) = provision(&stack, &national, &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(p.d.try_join(&alias("paris")).await, 200);

    // Nord's own export claims Paris's secretary, now with the account of someone Nord chose.
    let intruder = &p.c;
    let nord = format!(
        "{HEADER}{}{}{}",
        row("001", "Nord", "Lille", "", "oui", &p.a.user_id),
        row("002", "Nord", "Lille", "", "oui", &p.b.user_id),
        row("004", "Nord", "Lille", "Secrétaire fédéral", "oui", &intruder.user_id),
    );
    let (code, out) = provision(&stack, &nord, &["--federation", "Nord"]);
    assert_eq!(code, 0, "{out}");
    let errors = out["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{out}");
    assert_eq!(errors[0]["line"], 4);
    assert!(errors[0]["message"].as_str().is_some_and(|m| m.contains("fédération Paris")), "{out}");
    assert_eq!(out["actions"], serde_json::json!([]), "nothing planned for anyone: {out}");
    let paris = alias_room(&p.d, "paris").await;
    assert_eq!(p.d.try_join(&paris).await, 200, "Paris's secretary keeps their access");
    let levels = p.d.state(&paris, "m.room.power_levels", "").await;
    assert_eq!(levels["users"][&p.d.user_id], 50, "and their moderator right");
    assert_eq!(intruder.try_join(&alias("paris")).await, 403);
    assert_eq!(intruder.try_join(&alias("nord")).await, 403);

    // A national export whose "Identifiant Matrix" column was renamed: refused before any plan.
    let renamed = national.replace(";Identifiant Matrix;", ";Matrix ID (ancien);");
    let file = stack.relais.dir.path().join("renamed-column.csv");
    std::fs::write(&file, renamed).expect("csv");
    let (status, stdout, stderr) = stack.relais.cli(&["provision", &file.display().to_string()]);
    assert!(!status.success(), "{stdout}");
    assert!(stderr.contains("Identifiant Matrix"), "{stderr}");
    assert_eq!(p.a.try_join(&alias("nord")).await, 200, "nobody was removed");

    // A renamed section: nobody lapses, but two of three active members would lose their room.
    let (code, out) = provision(&stack, &national.replace(";Lille;", ";Lile;"), &[]);
    assert_eq!(code, 2, "refused by the guard: {out}");
    assert_eq!((out["losing_access"].as_u64(), out["removed_active"].as_u64()), (Some(2), Some(0)), "{out}");
    assert_eq!(p.b.try_join(&alias("nord.s.lille")).await, 200, "b keeps the section room");
}
