//! The members' directory on both backends: typed members, and an unreadable record refused.

use super::{StoreError, directory::DirectoryMember, provisioning::Effect, testing::on_both};

fn member(id: &str, record: &str, active: bool, matrix_id: Option<&str>) -> Effect {
    Effect::Member {
        member_id: id.into(),
        record: record.into(),
        active,
        matrix_id: matrix_id.map(str::to_owned),
        email: Some(format!("m{id}@example.org")),
    }
}

#[tokio::test]
async fn the_directory_publishes_typed_members_and_refuses_an_unreadable_record() {
    on_both(|store| async move {
        let sophie = r#"{"first_name":"Sophie","last_name":"Martin","federation":"Nord","section":"Lille","roles":[]}"#;
        store
            .prov_seed(&[
                member("1", sophie, true, Some("@sophie:pcf.test")),
                member("2", r#"{"first_name":"Karim"}"#, false, Some("@karim:pcf.test")),
                member("3", "not json", true, Some("@broken:pcf.test")),
                member("4", r#"{"first_name":42}"#, true, None),
            ])
            .await
            .expect("seed");
        let expected = DirectoryMember {
            member_id: "1".into(),
            first_name: "Sophie".into(),
            last_name: "Martin".into(),
            federation: "Nord".into(),
            section: Some("Lille".into()),
            email: Some("m1@example.org".into()),
            active: true,
        };
        assert_eq!(store.directory_member("1").await.expect("by id"), Some(expected.clone()));
        assert_eq!(store.directory_member_by_matrix_id("@sophie:pcf.test").await.expect("by account"), Some(expected));
        assert_eq!(store.directory_member("1").await.expect("1").map(|m| m.full_name()).as_deref(), Some("Sophie Martin"));

        // An older record without some fields: those are empty. A lapsed member has no account.
        let karim = store.directory_member("2").await.expect("2").expect("known");
        assert_eq!((karim.full_name().as_str(), karim.active, karim.section), ("Karim", false, None));
        assert_eq!(store.directory_member_by_matrix_id("@karim:pcf.test").await.expect("lapsed"), None);
        assert_eq!(store.directory_member("9").await.expect("unknown"), None);

        // Unreadable: an error, never a member without a name.
        for broken in [store.directory_member("3").await, store.directory_member("4").await] {
            assert!(matches!(broken, Err(StoreError::Corrupt(_))), "{broken:?}");
        }
        let broken = store.directory_member_by_matrix_id("@broken:pcf.test").await;
        assert!(matches!(broken, Err(StoreError::Corrupt(_))), "{broken:?}");
        // The member's own export gives what is stored, readable or not.
        let export = store.member_export("3").await.expect("export");
        assert_eq!(export["member"]["record"], "not json");
    })
    .await;
}
