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
async fn a_kill_during_apply_is_finished_by_the_next_run_without_duplicates() {
    let stack = Stack::start(RelaisOptions::default()).await;
    let mut users = Vec::new();
    for _ in 0..24 {
        users.push(stack.synapse.register(&unique("m")).await);
    }
    let csv: String = std::iter::once(HEADER.to_owned())
        .chain(users.iter().enumerate().map(|(i, u)| {
            let section = format!("Section {}", i % 6);
            row(
                &format!("{i:03}"),
                if i % 2 == 0 { "Nord" } else { "Paris" },
                &section,
                "",
                "oui",
                &u.user_id,
            )
        }))
        .collect();
    let file = stack.relais.dir.path().join("big.csv");
    std::fs::write(&file, &csv).expect("write csv");

    // 72 store-only records (24 members, 48 grants) come first: wait for homeserver actions too.
    let mut child = provision_until(&stack, &file, &[], 85).await;
    child.kill().await.expect("kill -9 provision");

    let (code, out) = provision(&stack, &csv, &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["applied"]["failed"], serde_json::json!([]), "{out}");
    let (code, again) = provision(&stack, &csv, &[]);
    assert_eq!(code, 0);
    assert_eq!(again["actions"], serde_json::json!([]), "all done: {again}");
    for (i, user) in users.iter().enumerate() {
        let fed = if i % 2 == 0 { "nord" } else { "paris" };
        assert_eq!(user.try_join(&alias(fed)).await, 200, "{} into {fed}", user.user_id);
        assert_eq!(user.try_join(&alias(&format!("{fed}.s.section-{}", i % 6))).await, 200);
    }
    // One room per alias: the space lists each of its rooms once.
    let nord = users[0].resolve(&alias("nord")).await;
    let hierarchy = users[0].hierarchy(&nord).await;
    let mut names: Vec<String> =
        hierarchy.iter().filter_map(|r| r["name"].as_str().map(str::to_owned)).collect();
    let total = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), total, "no duplicated room: {names:?}");
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
async fn a_homeserver_outage_during_apply_is_finished_by_the_next_run() {
    let mut stack = Stack::start(RelaisOptions::default()).await;
    let mut users = Vec::new();
    for _ in 0..16 {
        users.push(stack.synapse.register(&unique("o")).await);
    }
    let csv: String = std::iter::once(HEADER.to_owned())
        .chain(users.iter().enumerate().map(|(i, u)| {
            row(&format!("{i:03}"), "Nord", &format!("Section {}", i % 4), "", "oui", &u.user_id)
        }))
        .collect();
    let file = stack.relais.dir.path().join("outage.csv");
    std::fs::write(&file, &csv).expect("write csv");

    // 48 store-only records (16 members, 32 grants) come first: wait for homeserver actions too.
    let child = provision_until(&stack, &file, &[("RELAIS_HOMESERVER__MAX_RETRY_SECONDS", "2")], 60).await;
    stack.synapse.kill();
    let output = child.wait_with_output().await.expect("provision ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        // The run was fast enough to finish before the outage: nothing to resume, still valid.
        eprintln!("provisioning finished before the homeserver went down");
    } else {
        assert!(stderr.contains("run the same command again"), "a clear message: {stderr}");
    }

    stack.synapse.restart().await;
    let (code, out) = provision(&stack, &csv, &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["applied"]["failed"], serde_json::json!([]), "{out}");
    let (_, again) = provision(&stack, &csv, &[]);
    assert_eq!(again["actions"], serde_json::json!([]), "all done: {again}");
    for (i, user) in users.iter().enumerate() {
        assert_eq!(user.try_join(&alias("nord")).await, 200, "{}", user.user_id);
        assert_eq!(user.try_join(&alias(&format!("nord.s.section-{}", i % 4))).await, 200);
    }
    let nord = users[0].resolve(&alias("nord")).await;
    let rooms = users[0].hierarchy(&nord).await;
    let children = rooms[0]["children_state"].as_array().map_or(0, Vec::len);
    assert_eq!(children, 2 + 4, "the space lists its 6 rooms, none created twice");
}

#[tokio::test]
async fn relais_serve_finishes_a_run_cut_short_by_a_crash() {
    let mut stack = Stack::start(RelaisOptions::default()).await;
    let mut users = Vec::new();
    for _ in 0..16 {
        users.push(stack.synapse.register(&unique("r")).await);
    }
    let csv: String = std::iter::once(HEADER.to_owned())
        .chain(
            users
                .iter()
                .enumerate()
                .map(|(i, u)| row(&format!("{i:03}"), "Nord", "Lille", "", "oui", &u.user_id)),
        )
        .collect();
    let file = stack.relais.dir.path().join("crash.csv");
    std::fs::write(&file, &csv).expect("write csv");
    // 48 store-only records (16 members, 32 grants) come first: wait for homeserver actions too.
    let mut child = provision_until(&stack, &file, &[], 55).await;
    child.kill().await.expect("kill -9 provision");
    // The service restarts (as after a host crash) and finishes the run by itself.
    stack.relais.kill9().await;
    stack.relais.start().await;
    eventually("the interrupted run finished by relais serve", Duration::from_secs(60), || async {
        stack.relais.log().contains("finished an interrupted provisioning run").then_some(())
    })
    .await;
    for user in &users {
        assert_eq!(user.try_join(&alias("nord.s.lille")).await, 200, "{}", user.user_id);
    }
    let (_, again) = provision(&stack, &csv, &[]);
    assert_eq!(again["actions"], serde_json::json!([]), "nothing left: {again}");
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

/// The audit log, oldest first, as JSON lines.
fn audit(stack: &Stack) -> Vec<Value> {
    let (status, stdout, stderr) = stack.relais.cli(&["audit", "--limit", "100000", "--json"]);
    assert!(status.success(), "{stderr}");
    let mut lines: Vec<Value> =
        stdout.lines().map(|l| serde_json::from_str(l).expect("an audit line is JSON")).collect();
    lines.reverse();
    lines
}

#[tokio::test]
async fn two_runs_started_at_once_apply_each_pending_action_once() {
    let smtp = SmtpSink::start().await;
    let stack = Stack::start(RelaisOptions { smtp_url: Some(smtp.url()), ..Default::default() }).await;
    let mut users = Vec::new();
    for _ in 0..12 {
        users.push(stack.synapse.register(&unique("w")).await);
    }
    let without_account: Vec<String> = (0..2).map(|_| format!("{}@example.org", unique("sans"))).collect();
    let csv: String = std::iter::once(HEADER.to_owned())
        .chain(users.iter().enumerate().map(|(i, u)| {
            let fed = if i % 2 == 0 { "Nord" } else { "Paris" };
            row(&format!("{i:03}"), fed, &format!("Section {}", i % 3), "", "oui", &u.user_id)
        }))
        .chain(without_account.iter().enumerate().map(|(i, address)| {
            format!("{:03};Prénom;Nom;{address};0600000000;Nord;Section 0;;oui;;messagerie\n", 100 + i)
        }))
        .collect();
    let file = stack.relais.dir.path().join("twice.csv");
    std::fs::write(&file, &csv).expect("write csv");

    // Journaled while the homeserver is unreachable: every homeserver action and every
    // invitation mail is left pending.
    let unreachable =
        [("RELAIS_HOMESERVER__URL", "http://127.0.0.1:9"), ("RELAIS_HOMESERVER__MAX_RETRY_SECONDS", "1")];
    let output = spawn_provision(&stack, &file, &unreachable).wait_with_output().await.expect("first run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("run the same command again"), "{stderr}");
    let recorded = audit(&stack).len();

    // Two runs of the same file at once (two operators, or a node and the CLI): both find the
    // same journal.
    let (first, second) = (spawn_provision(&stack, &file, &[]), spawn_provision(&stack, &file, &[]));
    let (first, second) = tokio::join!(first.wait_with_output(), second.wait_with_output());
    let (mut resumed, mut waited) = (Vec::new(), 0);
    for output in [first.expect("first"), second.expect("second")] {
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stdout}\n{stderr}");
        waited += usize::from(stderr.contains("Another provisioning run is in progress"));
        let out: Value = serde_json::from_str(&stdout).expect("JSON");
        assert_eq!(out["actions"], serde_json::json!([]), "the journal holds the whole plan: {out}");
        resumed.push(out["resumed"]["done"].as_u64().unwrap_or(0));
    }

    // Each pending action was executed once: once in the audit log, one mail per invitation.
    let lines = audit(&stack);
    let applied: Vec<String> = lines[recorded..]
        .iter()
        .map(|l| format!("{} {} {}", l["action"], l["target"], l["detail"]))
        .collect();
    let mut distinct = applied.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), applied.len(), "an action was executed twice: {applied:#?}");
    assert_eq!(resumed.iter().sum::<u64>(), applied.len() as u64, "runs' reports: {resumed:?}");
    assert!(resumed.contains(&0), "one run found nothing left to do: {resumed:?}");
    assert_eq!(waited, 1, "one run waited for the other, saying so");
    assert!(applied.iter().any(|a| a.starts_with("\"invite\"")), "{applied:#?}");
    for address in &without_account {
        assert_eq!(mails_to(&smtp, address).len(), 1, "one invitation mail to {address}");
    }
    for (i, user) in users.iter().enumerate() {
        let fed = if i % 2 == 0 { "nord" } else { "paris" };
        assert_eq!(
            user.try_join(&alias(&format!("{fed}.s.section-{}", i % 3))).await,
            200,
            "{}",
            user.user_id
        );
    }
    let nord = users[0].resolve(&alias("nord")).await;
    let children = users[0].hierarchy(&nord).await[0]["children_state"].as_array().map_or(0, Vec::len);
    assert_eq!(children, 2 + 3, "the space lists its 5 rooms, none created twice");
}
