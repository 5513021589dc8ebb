//! The directory on both backends: typed members and rooms, and an unreadable row refused.

use relais_core::{StoreError, store::testing::on_both};
use ruma::{room_id, user_id};

use super::{Directory, DirectoryMember};
use crate::{
    desired::RoomKind,
    store::{Effect, ProvisioningStore, RoomRecord},
};

fn member(id: &str, record: &str, active: bool, matrix_id: Option<&str>, email: bool) -> Effect {
    Effect::Member {
        member_id: id.into(),
        record: record.into(),
        active,
        matrix_id: matrix_id.map(str::to_owned),
        email: email.then(|| format!("m{id}@example.org")),
        rooms: Default::default(),
    }
}

fn room(key: &str, kind: &str, name: &str, parent: Option<&str>, id: &str) -> Effect {
    Effect::Room(RoomRecord {
        key: key.into(),
        kind: kind.into(),
        name: name.into(),
        parent_key: parent.map(str::to_owned),
        room_id: id.into(),
        moderators: "[]".into(),
    })
}

#[tokio::test]
async fn the_directory_publishes_typed_members_and_refuses_an_unreadable_record() {
    on_both(|store| async move {
        let sophie = r#"{"first_name":"Sophie","last_name":"Martin","federation":"Nord","section":"Lille","roles":[]}"#;
        ProvisioningStore::new(store.clone())
            .seed(&[
                member("1", sophie, true, Some("@sophie:pcf.test"), true),
                member("2", r#"{"first_name":"Karim"}"#, false, Some("@karim:pcf.test"), true),
                member("3", "not json", true, Some("@broken:pcf.test"), true),
                member("4", r#"{"first_name":42}"#, true, None, true),
            ])
            .await
            .expect("seed");
        let directory = Directory::new(store.clone());
        let expected = DirectoryMember {
            member_id: "1".into(),
            first_name: "Sophie".into(),
            last_name: "Martin".into(),
            federation: "Nord".into(),
            section: Some("Lille".into()),
            email: Some("m1@example.org".into()),
            active: true,
        };
        assert_eq!(directory.member("1").await.expect("by id"), Some(expected.clone()));
        let sophie = user_id!("@sophie:pcf.test");
        assert_eq!(directory.member_by_matrix_id(sophie).await.expect("by account"), Some(expected));
        assert_eq!(directory.member_id_of(sophie).await.expect("id").as_deref(), Some("1"));
        assert_eq!(directory.member("1").await.expect("1").map(|m| m.full_name()).as_deref(), Some("Sophie Martin"));

        // An older record without some fields: those are empty. A lapsed member has no account.
        let karim = directory.member("2").await.expect("2").expect("known");
        assert_eq!((karim.full_name().as_str(), karim.active, karim.section), ("Karim", false, None));
        assert_eq!(directory.member_by_matrix_id(user_id!("@karim:pcf.test")).await.expect("lapsed"), None);
        assert_eq!(directory.active_email("2").await.expect("lapsed"), None);
        assert_eq!(directory.email("2").await.expect("kept").as_deref(), Some("m2@example.org"));
        assert_eq!(directory.member("9").await.expect("unknown"), None);
        let mut ids = directory.member_ids().await.expect("ids");
        ids.sort();
        assert_eq!(ids, ["1", "2", "3", "4"]);

        // Unreadable: an error, never a member without a name.
        for broken in [directory.member("3").await, directory.member("4").await] {
            assert!(matches!(broken, Err(StoreError::Corrupt(_))), "{broken:?}");
        }
        let broken = directory.member_by_matrix_id(user_id!("@broken:pcf.test")).await;
        assert!(matches!(broken, Err(StoreError::Corrupt(_))), "{broken:?}");
        // In a list, an account that is no Matrix id is left out; the others stay.
        ProvisioningStore::new(store.clone())
            .seed(&[member("5", "{}", true, Some("not an account"), false)])
            .await
            .expect("seed");
        let accounts = directory.members_by_matrix_id().await.expect("accounts");
        let mut accounts: Vec<_> = accounts.iter().map(|(u, m)| (u.as_str(), m.as_str())).collect();
        accounts.sort();
        assert_eq!(accounts, [("@broken:pcf.test", "3"), ("@sophie:pcf.test", "1")]);
        // What needs only the address works beside an unreadable record.
        assert_eq!(directory.email("3").await.expect("address").as_deref(), Some("m3@example.org"));
        // The member's own export gives what is stored, readable or not.
        let export = ProvisioningStore::new(store.clone()).member_export("3").await.expect("export");
        assert_eq!(export["member"]["record"], "not json");
    })
    .await;
}

#[tokio::test]
async fn rooms_come_typed_with_whom_the_file_lets_in_and_an_unknown_kind_is_refused() {
    on_both(|store| async move {
        let nord = r#"{"first_name":"Sophie","federation":"Nord"}"#;
        ProvisioningStore::new(store.clone())
            .seed(&[
                room("national", "national_space", "Parti", None, "!national:pcf.test"),
                room("nord", "federation_space", "Fédération Nord", Some("national"), "!space:pcf.test"),
                room("nord.annonces", "announcements", "Nord — annonces", Some("nord"), "!annonces:pcf.test"),
                room("nord.lille", "section", "Lille", Some("nord"), "!lille:pcf.test"),
                room("nord.x", "thematic", "Un thème", Some("nord"), "!theme:pcf.test"),
                room("nord.bad", "cell", "Bad", Some("nord"), "not a room id"),
                room("nord.c1", "cell", "Cellule 1", Some("nord"), "!c1:pcf.test"),
                member("1", nord, true, Some("@sophie:pcf.test"), true),
                member("2", nord, false, Some("@karim:pcf.test"), true),
                member("3", nord, true, None, true),
                member("4", nord, true, None, false),
                Effect::Grant {
                    room_key: "nord".into(),
                    member_id: "1".into(),
                    user_id: "@sophie:pcf.test".into(),
                },
                Effect::Grant {
                    room_key: "nord".into(),
                    member_id: "2".into(),
                    user_id: "@karim:pcf.test".into(),
                },
                Effect::Subscribe { room_key: "nord.annonces".into(), member_id: "3".into() },
                Effect::Subscribe { room_key: "nord.annonces".into(), member_id: "4".into() },
                Effect::Subscribe { room_key: "nord.annonces".into(), member_id: "1".into() },
            ])
            .await
            .expect("seed");
        let directory = Directory::new(store.clone());
        let annonces = room_id!("!annonces:pcf.test");
        let found = directory.room(annonces).await.expect("room").expect("provisioned");
        assert_eq!(
            (found.kind, found.name.as_str(), found.key.as_str()),
            (RoomKind::Announcements, "Nord — annonces", "nord.annonces")
        );
        assert_eq!(directory.room(room_id!("!elsewhere:pcf.test")).await.expect("other"), None);
        let spaces =
            directory.rooms_of_kinds(&[RoomKind::FederationSpace, RoomKind::Section]).await.expect("kinds");
        let keys: Vec<_> = spaces.iter().map(|r| (r.key.as_str(), r.kind)).collect();
        assert_eq!(keys, [("nord", RoomKind::FederationSpace), ("nord.lille", RoomKind::Section)]);

        assert_eq!(directory.federation_of_room(annonces).await.expect("fed").as_deref(), Some("Nord"));
        assert_eq!(
            directory.federation_of_room(room_id!("!national:pcf.test")).await.expect("national"),
            None
        );
        assert_eq!(directory.federation_of_room(room_id!("!other:pcf.test")).await.expect("other"), None);

        // Entered through the space: the space's list, active members only.
        let members = directory.room_members_by_file(annonces).await.expect("members").expect("provisioned");
        assert_eq!(members, [user_id!("@sophie:pcf.test").to_owned()]);
        assert_eq!(directory.room_members_by_file(room_id!("!other:pcf.test")).await.expect("other"), None);
        // Email-only: subscribed, active, an address and no account.
        let by_mail = directory.room_email_members(annonces).await.expect("email members");
        assert_eq!(by_mail, [("3".to_owned(), "m3@example.org".to_owned())]);

        // A kind this version does not know, or a room id that is none: refused, not guessed.
        for broken in [room_id!("!theme:pcf.test")] {
            let refused = directory.room(broken).await;
            assert!(matches!(refused, Err(StoreError::Corrupt(_))), "{refused:?}");
            let refused = directory.room_members_by_file(broken).await;
            assert!(matches!(refused, Err(StoreError::Corrupt(_))), "{refused:?}");
        }
        // In a list, an unreadable room is left out, never holding up the others.
        let cells = directory.rooms_of_kinds(&[RoomKind::Cell]).await.expect("cells");
        assert_eq!(cells.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), ["nord.c1"]);
        // What needs only the name works beside a kind this version does not know.
        let theme = directory.room_name(room_id!("!theme:pcf.test")).await.expect("name");
        assert_eq!(theme.as_deref(), Some("Un thème"));
        assert_eq!(directory.room_name(room_id!("!elsewhere:pcf.test")).await.expect("other"), None);
    })
    .await;
}

#[test]
fn room_kinds_are_stored_under_their_serde_names() {
    for kind in RoomKind::ALL {
        let serde = serde_json::to_value(kind).expect("serialises");
        assert_eq!(serde.as_str(), Some(kind.as_str()));
        assert_eq!(kind.as_str().parse(), Ok(kind));
    }
    assert!("thematic".parse::<RoomKind>().is_err());
}

/// `directory_access` names, for a member without a Matrix account recorded with their rooms
/// (`MemberRooms`), exactly the rooms the planner puts them in, and their federation's
/// members-only thematic rooms; nothing once they lapse; nothing for a member with an account,
/// who is entitled through the rooms' access lists alone (which leave out a room they were
/// banned from). The view builds the discussion and
/// announcements keys from the federation's: this is the test that keeps the two in step.
#[tokio::test]
async fn the_rooms_of_a_member_without_an_account_are_those_the_planner_gives_them() {
    on_both(|store| async move {
        let records = ProvisioningStore::new(store.clone());
        let row =
            |id: &str, section: Option<&str>, cell: Option<&str>, active: bool| crate::model::MemberRow {
                line: 0,
                member_id: id.into(),
                first_name: "Inès".into(),
                last_name: "Haddad".into(),
                email: Some(format!("m{id}@example.org")),
                federation: "Pas-de-Calais".into(),
                section: section.map(str::to_owned),
                cell: cell.map(str::to_owned),
                roles: vec![],
                active,
                matrix_id: None,
                contact: crate::model::Contact::Email,
            };
        let saved = |row: &crate::model::MemberRow| Effect::Member {
            member_id: row.member_id.clone(),
            record: serde_json::to_string(row).expect("row"),
            active: row.active,
            matrix_id: row.matrix_id.as_ref().map(ToString::to_string),
            email: row.email.clone(),
            rooms: crate::store::MemberRooms::of(row),
        };
        let rows = [
            row("1", Some("Liévin Centre"), Some("Cheminots de Lens"), true),
            row("2", None, None, true),
            row("3", Some("Liévin Centre"), None, false),
            crate::model::MemberRow {
                matrix_id: Some("@ines:pcf.test".try_into().expect("id")),
                ..row("4", Some("Liévin Centre"), None, true)
            },
        ];
        let theme = room("pas-de-calais.t.sante", "theme", "Santé", Some("pas-de-calais"), "!t:pcf.test");
        let mut effects: Vec<Effect> = rows.iter().map(saved).collect();
        effects.push(theme);
        records.seed(&effects).await.expect("seed");
        for row in &rows {
            let found: std::collections::BTreeSet<String> =
                sqlx::query_scalar::<_, String>("SELECT room_key FROM directory_access WHERE member_id = $1")
                    .bind(&row.member_id)
                    .fetch_all(store.pool())
                    .await
                    .expect("access")
                    .into_iter()
                    .collect();
            let mut planned: std::collections::BTreeSet<String> =
                crate::desired::member_rooms(row).into_iter().collect();
            planned.insert("pas-de-calais.t.sante".into());
            if !row.active || row.matrix_id.is_some() {
                planned.clear();
            }
            assert_eq!(found, planned, "member {}", row.member_id);
        }
    })
    .await;
}
