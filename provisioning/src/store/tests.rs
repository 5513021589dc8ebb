//! Provisioning's store on both backends: a member's export and erasure, and a run that lost
//! the lease writes nothing.

use relais_core::store::testing::{self, on_both};

use super::{AuditEntry, Effect, LEASE, NewRun, ProvisioningStore, RunState};

#[tokio::test]
async fn a_member_can_be_exported_then_forgotten() {
    on_both(|store| async move {
        let store = ProvisioningStore::new(store);
        let fence = testing::fence(store.core(), LEASE).await;
        let journal = vec![
            (None, "{\"member_id\":\"007\"}".to_owned()),
            (Some("nord".into()), "{}".to_owned()),
            (Some("nord.annonces".into()), "{}".to_owned()),
        ];
        let run = store.start_run(&fence, &NewRun::new("test", "members.csv"), &journal).await.expect("run");
        let audit = |target: &str| AuditEntry {
            at: 1,
            actor: "test".into(),
            action: "x".into(),
            target: target.into(),
            detail: "d".into(),
        };
        let member = Effect::Member {
            member_id: "007".into(),
            record: "{\"first_name\":\"Jeanne\"}".into(),
            active: true,
            matrix_id: Some("@j:pcf.test".into()),
            email: Some("j@example.org".into()),
            rooms: Default::default(),
        };
        let grant =
            Effect::Grant { room_key: "nord".into(), member_id: "007".into(), user_id: "@j:pcf.test".into() };
        let sub = Effect::Subscribe { room_key: "nord.annonces".into(), member_id: "007".into() };
        store
            .complete(
                &fence,
                &[
                    (run, 0, Some(member), audit("member 007")),
                    (run, 1, Some(grant), audit("room nord member 007")),
                ],
            )
            .await
            .expect("complete");
        store
            .complete(&fence, &[(run, 2, Some(sub), audit("room nord.annonces member 0077"))])
            .await
            .expect("sub");
        let export = store.member_export("007").await.expect("export");
        assert_eq!(export["member"]["record"]["first_name"], "Jeanne");
        assert_eq!(export["rooms"][0]["room"], "nord");
        assert_eq!(export["email_subscriptions"][0], "nord.annonces");
        assert_eq!(export["audit"].as_array().map(Vec::len), Some(2), "not the lines of member 0077");

        assert_eq!(store.member_forget(&fence, "007", "test", &[]).await.expect("forget"), 3);
        let export = store.member_export("007").await.expect("export");
        assert!(export["member"].is_null() && export["rooms"] == serde_json::json!([]), "{export}");
        assert_eq!(export["audit"], serde_json::json!([]));
        let log = store.audit(10).await.expect("audit");
        assert_eq!(log[0].action, "forget_member");
        assert!(log.iter().all(|e| !e.target.ends_with("member 007")));
        assert_eq!(store.member_forget(&fence, "007", "test", &[]).await.expect("again"), 0);
    })
    .await;
}

#[tokio::test]
async fn a_run_that_lost_the_provisioning_lease_writes_nothing_and_no_effect_applies_twice() {
    on_both(|store| async move {
        let store = ProvisioningStore::new(store);
        let audit = |target: &str| AuditEntry {
            at: 1,
            actor: "test".into(),
            action: "x".into(),
            target: target.into(),
            detail: String::new(),
        };
        let grant = || Effect::Grant {
            room_key: "nord".into(),
            member_id: "007".into(),
            user_id: "@j:pcf.test".into(),
        };
        // A run stalled past its lease (a suspended VM); another took over.
        assert!(store.core().lease_try_acquire(super::LEASE, "stalled", -1).await.expect("stalled"));
        let stalled = relais_core::store::lease::Fence::new(LEASE, "stalled");
        let journal = vec![(Some("nord".into()), "{}".to_owned())];
        let lost = store.start_run(&stalled, &NewRun::new("stalled", "old.csv"), &journal).await;
        assert!(matches!(lost, Err(relais_core::StoreError::LeaseLost(_))), "{lost:?}");
        assert!(store.runs(10).await.expect("runs").is_empty(), "nothing journaled");

        let fence = testing::fence(store.core(), LEASE).await;
        let run = store.start_run(&fence, &NewRun::new("next", "new.csv"), &journal).await.expect("run");
        // The stalled run wakes up and records the action it had executed: refused, nothing written.
        let lost = store.complete(&stalled, &[(run, 0, Some(grant()), audit("stalled"))]).await;
        assert!(matches!(lost, Err(relais_core::StoreError::LeaseLost(_))), "{lost:?}");
        let lost = store.fail(&stalled, run, 0, "stalled").await;
        assert!(matches!(lost, Err(relais_core::StoreError::LeaseLost(_))), "{lost:?}");
        assert!(store.member_export("007").await.expect("export")["rooms"] == serde_json::json!([]));
        assert_eq!(store.pending_actions().await.expect("pending").len(), 1, "still pending");

        // The holder completes it; completing it again (a resumed queue) applies nothing twice.
        store.complete(&fence, &[(run, 0, Some(grant()), audit("first"))]).await.expect("done");
        store.complete(&fence, &[(run, 0, Some(grant()), audit("again"))]).await.expect("again");
        store.fail(&fence, run, 0, "late failure").await.expect("fail after done");
        let log = store.audit(10).await.expect("audit");
        assert_eq!(log.iter().map(|e| e.target.as_str()).collect::<Vec<_>>(), ["first"]);
        assert!(store.failed_actions(run).await.expect("failed").is_empty(), "a done action stays done");
        store.close_finished_runs(&fence).await.expect("close");
        assert_eq!(store.runs(10).await.expect("runs")[0].state, RunState::Done);
    })
    .await;
}

/// Completing a first import's worth of actions in one call — more rows than one statement
/// takes, a member saved twice, actions of two runs, some done already — records each effect
/// and audit line exactly once, in order, and the record reads back whole.
#[tokio::test]
async fn a_large_completion_is_written_in_batches_and_each_action_counts_once() {
    on_both(|store| async move {
        let store = ProvisioningStore::new(store);
        let fence = testing::fence(store.core(), LEASE).await;
        // Three runs of one kind each (members, access, subscriptions), longer than a statement.
        let (n, third) = (1_800_usize, 600_usize);
        let journal: Vec<_> = (0..n).map(|i| (Some("nord".to_owned()), format!("{{\"i\":{i}}}"))).collect();
        let first = store.start_run(&fence, &NewRun::new("test", "a.csv"), &journal).await.expect("run");
        let second =
            store.start_run(&fence, &NewRun::new("test", "b.csv"), &journal[..2]).await.expect("run");
        assert_eq!(store.pending_actions().await.expect("pending").len(), n + 2);
        let audit = |i: usize| AuditEntry {
            at: i64::try_from(i).expect("small"),
            actor: "test".into(),
            action: "x".into(),
            target: format!("t{i}"),
            detail: String::new(),
        };
        let member = |id: String, active: bool| Effect::Member {
            member_id: id,
            record: "{}".into(),
            active,
            matrix_id: None,
            email: None,
            rooms: super::MemberRooms { federation: Some("nord".into()), section: None, cell: None },
        };
        // Action 0 is done before (a resumed queue's), the rest now.
        store.complete(&fence, &[(first, 0, Some(member("m0".into(), true)), audit(0))]).await.expect("one");
        let mut done: Vec<_> = (0..n)
            .map(|i| {
                let effect = match i / third {
                    0 => member(format!("m{i}"), true),
                    1 => Effect::Grant {
                        room_key: "nord".into(),
                        member_id: format!("m{}", i - third),
                        user_id: format!("@u{i}:pcf.test"),
                    },
                    _ => Effect::Subscribe {
                        room_key: "nord.annonces".into(),
                        member_id: format!("m{}", i - 2 * third),
                    },
                };
                (first, i64::try_from(i).expect("small"), Some(effect), audit(i))
            })
            .collect();
        // The same member saved twice in one call: the later row wins.
        done.push((second, 0, Some(member("m3".into(), false)), audit(n)));
        done.push((second, 1, None, audit(n + 1)));
        store.complete(&fence, &done).await.expect("complete");
        assert!(store.pending_actions().await.expect("pending").is_empty());
        let log = store.audit(10_000).await.expect("audit");
        assert_eq!(log.len(), n + 2, "each action's line once");
        let mut targets: Vec<String> = log.into_iter().rev().map(|e| e.target).collect();
        assert_eq!(targets.remove(0), "t0", "the earlier completion first");
        assert_eq!(targets, (1..n + 2).map(|i| format!("t{i}")).collect::<Vec<_>>(), "in order");
        let snapshot = store.snapshot().await.expect("snapshot");
        assert_eq!(snapshot.members.len(), third);
        assert!(snapshot.members.iter().all(|(_, _, keyed)| *keyed), "their rooms recorded");
        assert_eq!(snapshot.access.len(), third);
        assert_eq!(snapshot.subscriptions.len(), third);
        let m3: i64 = sqlx::query_scalar("SELECT active FROM prov_member WHERE member_id = 'm3'")
            .fetch_one(store.pool())
            .await
            .expect("m3");
        assert_eq!(m3, 0, "the later row wins");
    })
    .await;
}
