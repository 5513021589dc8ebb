//! Thematic rooms' record on both backends: one room per key, a bounded number per federation,
//! chosen moderators replaced as a whole, changes pending until carried out, and a member's
//! erasure taking their account out of it.

use std::collections::BTreeSet;

use relais_core::config::PublicJoin;
use relais_core::store::testing::{self, on_both};
use ruma::{OwnedUserId, owned_user_id};

use super::{
    Effect, LEASE, NewRun, ProvisioningStore,
    theme::{NewTheme, PendingTheme, ThemeCreated},
};
use crate::theme::{MAX_PER_FEDERATION, ThemeAccess, theme_key};

fn new<'a>(key: &'a str, federation: &'a str, by: &'a ruma::UserId) -> NewTheme<'a> {
    NewTheme { key, federation, name: "Commission santé", access: ThemeAccess::Members, created_by: by }
}

#[tokio::test]
async fn a_thematic_room_is_recorded_once_its_moderators_replaced_and_its_changes_pending_until_done() {
    on_both(|store| async move {
        let store = ProvisioningStore::new(store);
        let referent = owned_user_id!("@ref:pcf.test");
        let created = store.create_theme(&new("nord.t.sante", "nord", &referent)).await.expect("create");
        assert_eq!(created, ThemeCreated::Created);
        let again = store.create_theme(&new("nord.t.sante", "nord", &referent)).await.expect("again");
        assert_eq!(again, ThemeCreated::Exists);
        let open = NewTheme {
            access: ThemeAccess::Open(PublicJoin::Knock),
            ..new("isere.t.velo", "isere", &referent)
        };
        store.create_theme(&open).await.expect("isère");

        let chosen: BTreeSet<OwnedUserId> =
            [owned_user_id!("@a:pcf.test"), owned_user_id!("@b:pcf.test")].into();
        assert!(store.set_theme_moderators("nord.t.sante", &chosen, &referent).await.expect("set"));
        let fewer: BTreeSet<OwnedUserId> = [owned_user_id!("@b:pcf.test")].into();
        assert!(store.set_theme_moderators("nord.t.sante", &fewer, &referent).await.expect("replace"));
        assert!(!store.set_theme_moderators("nord.t.rien", &fewer, &referent).await.expect("none"));

        let nord = store.themes(Some("nord")).await.expect("nord");
        assert_eq!(nord.len(), 1);
        assert_eq!(
            (nord[0].name.as_str(), nord[0].access, &nord[0].moderators),
            ("Commission santé", ThemeAccess::Members, &fewer)
        );
        let all = store.themes(None).await.expect("all");
        assert_eq!(all.iter().map(|t| t.key.as_str()).collect::<Vec<_>>(), ["isere.t.velo", "nord.t.sante"]);
        assert_eq!(all[0].access, ThemeAccess::Open(PublicJoin::Knock));

        let now = relais_core::time::now_ms();
        let pending = store.pending_themes(now).await.expect("pending");
        assert_eq!(pending.len(), 2);
        // A change made while the pass ran stays pending.
        store.set_theme_moderators("nord.t.sante", &chosen, &referent).await.expect("meanwhile");
        for done in &pending {
            store.theme_realized(done).await.expect("realized");
        }
        let left = store.pending_themes(now).await.expect("left");
        assert_eq!(left, [PendingTheme { key: "nord.t.sante".into(), revision: 4 }]);
        // A pass that failed puts it off; a retry asked for brings it back at once.
        store.theme_failed("nord.t.sante", now + 60_000).await.expect("failed");
        assert!(store.pending_themes(now).await.expect("later").is_empty());
        assert_eq!(store.pending_themes(now + 60_000).await.expect("then").len(), 1);
        store.retry_theme("nord.t.sante").await.expect("retry");
        assert_eq!(store.pending_themes(now).await.expect("again").len(), 1);
        store.theme_realized(&left[0]).await.expect("done");
        assert!(store.pending_themes(now).await.expect("none").is_empty());
        let log = store.audit(10).await.expect("audit");
        assert_eq!(log.iter().filter(|e| e.action == "create_theme").count(), 2);
        assert_eq!(log[0].action, "theme_moderators");
    })
    .await;
}

#[tokio::test]
async fn a_federation_has_a_bounded_number_of_thematic_rooms() {
    on_both(|store| async move {
        let store = ProvisioningStore::new(store);
        let referent = owned_user_id!("@ref:pcf.test");
        for n in 0..MAX_PER_FEDERATION {
            let key = theme_key("nord", &format!("salon-{n}"));
            assert_eq!(
                store.create_theme(&new(&key, "nord", &referent)).await.expect("create"),
                ThemeCreated::Created
            );
        }
        let key = theme_key("nord", "un-de-trop");
        assert_eq!(
            store.create_theme(&new(&key, "nord", &referent)).await.expect("full"),
            ThemeCreated::Full
        );
        let elsewhere = theme_key("isere", "premier");
        let created = store.create_theme(&new(&elsewhere, "isere", &referent)).await.expect("isère");
        assert_eq!(created, ThemeCreated::Created, "another federation's count is its own");
    })
    .await;
}

#[tokio::test]
async fn an_erased_member_is_no_longer_a_thematic_rooms_moderator_or_creator() {
    on_both(|store| async move {
        let store = ProvisioningStore::new(store);
        let fence = testing::fence(store.core(), LEASE).await;
        let run = store
            .start_run(&fence, &NewRun::new("test", "f.csv"), &[(None, "{}".into())])
            .await
            .expect("run");
        let member = Effect::Member {
            member_id: "007".into(),
            record: "{}".into(),
            active: true,
            matrix_id: Some("@j_100%:pcf.test".into()),
            email: None,
            rooms: Default::default(),
        };
        let audit = super::AuditEntry {
            at: 1,
            actor: "test".into(),
            action: "save_member".into(),
            target: "member 007".into(),
            detail: String::new(),
        };
        store.complete(&fence, &[(run, 0, Some(member), audit)]).await.expect("member");
        let jeanne = OwnedUserId::try_from("@j_100%:pcf.test").expect("a historical id");
        // Another member whose id the first's matches as a LIKE pattern if unescaped.
        let other = OwnedUserId::try_from("@jx100x:pcf.test").expect("other");
        store.create_theme(&new("nord.t.sante", "nord", &jeanne)).await.expect("create");
        let chosen: BTreeSet<OwnedUserId> = [jeanne.clone(), owned_user_id!("@b:pcf.test")].into();
        store.set_theme_moderators("nord.t.sante", &chosen, &jeanne).await.expect("set");
        store.create_theme(&new("nord.t.velo", "nord", &other)).await.expect("other's");

        let export = store.member_export("007").await.expect("export");
        let rooms = &export["thematic_rooms"];
        assert_eq!(
            rooms,
            &serde_json::json!([{"room": "nord.t.sante", "made_it": true, "chosen_moderator": true}])
        );
        assert!(store.member_forget(&fence, "007", "test", &[]).await.expect("forget") >= 2);
        let themes = store.themes(Some("nord")).await.expect("themes");
        let sante = themes.iter().find(|t| t.key == "nord.t.sante").expect("sante");
        assert_eq!(sante.moderators, [owned_user_id!("@b:pcf.test")].into());
        let creators = store.theme_creators().await.expect("creators");
        assert_eq!(
            creators,
            [
                ("nord.t.sante".to_owned(), "[erased]".to_owned()),
                ("nord.t.velo".to_owned(), other.to_string())
            ]
        );
        let log = store.audit(10).await.expect("audit");
        assert!(log.iter().all(|e| !e.actor.contains("@j_") && !e.detail.contains("@j_")), "{log:?}");
        assert!(log.iter().any(|e| e.actor == other.as_str()), "another member's lines stay: {log:?}");
        assert!(log.iter().any(|e| e.action == "theme_moderators" && e.detail.contains("@b:pcf.test")));
    })
    .await;
}
