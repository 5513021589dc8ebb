//! Runs cut short — killed, the homeserver down, two at once — are finished by the next one,
//! each action applied once.

use super::*;

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

/// A node that keeps running takes over a run another process left (a killed CLI here; a
/// killed node is the same to it) once that run's lease expired, without being restarted.
#[tokio::test]
async fn a_running_serve_finishes_a_run_another_process_left() {
    let stack = Stack::start(RelaisOptions::default()).await;
    let mut users = Vec::new();
    for _ in 0..12 {
        users.push(stack.synapse.register(&unique("s")).await);
    }
    let csv: String = std::iter::once(HEADER.to_owned())
        .chain(
            users
                .iter()
                .enumerate()
                .map(|(i, u)| row(&format!("{i:03}"), "Nord", "Roubaix", "", "oui", &u.user_id)),
        )
        .collect();
    let file = stack.relais.dir.path().join("left.csv");
    std::fs::write(&file, &csv).expect("write csv");
    // 36 store-only records (12 members, 24 grants) come first: wait for homeserver actions too.
    let mut child = provision_until(&stack, &file, &[], 42).await;
    child.kill().await.expect("kill -9 provision");
    eventually("the left run finished by the running relais serve", Duration::from_secs(60), || async {
        stack.relais.log().contains("finished an interrupted provisioning run").then_some(())
    })
    .await;
    for user in &users {
        assert_eq!(user.try_join(&alias("nord.s.roubaix")).await, 200, "{}", user.user_id);
    }
    let (_, again) = provision(&stack, &csv, &[]);
    assert_eq!(again["actions"], serde_json::json!([]), "nothing left: {again}");
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
