//! Store tests of core itself: the schema.

use super::{
    provisioning::{AuditEntry, Effect},
    testing::on_both,
};

#[tokio::test]
async fn migrations_apply_twice_and_health_pings() {
    on_both(|store| async move {
        store.migrate().await.expect("second migrate is a no-op");
        store.ping().await.expect("ping");
    })
    .await;
}

#[tokio::test]
async fn a_member_can_be_exported_then_forgotten() {
    on_both(|store| async move {
        let journal =
            vec![(None, "{\"member_id\":\"007\"}".to_owned()), (Some("nord".into()), "{}".to_owned())];
        let run = store.prov_start_run("test", "members.csv", "{}", "[]", &journal).await.expect("run");
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
        };
        let grant =
            Effect::Grant { room_key: "nord".into(), member_id: "007".into(), user_id: "@j:pcf.test".into() };
        let sub = Effect::Subscribe { room_key: "nord.annonces".into(), member_id: "007".into() };
        store
            .prov_complete(&[
                (run, 0, Some(member), audit("member 007")),
                (run, 1, Some(grant), audit("room nord member 007")),
            ])
            .await
            .expect("complete");
        store
            .prov_complete(&[(run, 1, Some(sub), audit("room nord.annonces member 0077"))])
            .await
            .expect("sub");
        let export = store.member_export("007").await.expect("export");
        assert_eq!(export["member"]["record"]["first_name"], "Jeanne");
        assert_eq!(export["rooms"][0]["room"], "nord");
        assert_eq!(export["email_subscriptions"][0], "nord.annonces");
        assert_eq!(export["audit"].as_array().map(Vec::len), Some(2), "not the lines of member 0077");

        assert_eq!(store.member_forget("007", "test").await.expect("forget"), 3);
        let export = store.member_export("007").await.expect("export");
        assert!(export["member"].is_null() && export["rooms"] == serde_json::json!([]), "{export}");
        assert_eq!(export["audit"], serde_json::json!([]));
        let log = store.audit(10).await.expect("audit");
        assert_eq!(log[0].action, "forget_member");
        assert!(log.iter().all(|e| !e.target.ends_with("member 007")));
        assert_eq!(store.member_forget("007", "test").await.expect("again"), 0);
    })
    .await;
}
