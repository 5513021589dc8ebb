//! Broadcasts on both backends: an unreadable record is never sent empty, and the mails that
//! carried a copy are counted.

use relais_bridge::store::{MailList, MailMessage, MailStore};
use relais_core::{Store, StoreError, config::DeliveryMode, store::testing::on_both};

use relais_provisioning::store::{Effect, ProvisioningStore, RoomRecord};

use super::{
    BotStore,
    broadcasts::{BroadcastOrigin, NewBroadcast},
    proposals::NewProposal,
};

const ROOM: &str = "!section:pcf.test";

/// A section list with two members receiving it (1 and 2) and a lapsed one.
async fn seed(store: &Store) {
    let mut effects = vec![Effect::Room(RoomRecord {
        key: "nord.s.lille".into(),
        kind: "section".into(),
        name: "Section Lille".into(),
        parent_key: None,
        room_id: ROOM.into(),
        moderators: "[]".into(),
    })];
    for (id, active) in [("1", true), ("2", true), ("3", false)] {
        effects.push(Effect::Member {
            member_id: id.into(),
            record: "{}".into(),
            active,
            matrix_id: None,
            email: Some(format!("m{id}@example.org")),
            rooms: Default::default(),
        });
        effects.push(Effect::Subscribe { room_key: "nord.s.lille".into(), member_id: id.into() });
    }
    ProvisioningStore::new(store.clone()).seed(&effects).await.expect("seed");
    let list = MailList {
        room_id: ROOM.into(),
        localpart: "nord-lille".into(),
        name: "Section Lille".into(),
        room_key: Some("nord.s.lille".into()),
        enabled: true,
    };
    MailStore::new(store.clone()).list_upsert(&list).await.expect("list");
}

fn message(id: &str) -> MailMessage {
    MailMessage {
        event_id: id.into(),
        room_id: ROOM.into(),
        sender: "@paul:pcf.test".into(),
        sender_name: "Paul".into(),
        kind: "text".into(),
        body: format!("texte {id}"),
        origin_ts: 1,
        ..MailMessage::default()
    }
}

#[tokio::test]
async fn an_unreadable_message_content_is_never_sent_empty_and_never_holds_up_the_others() {
    on_both(|store| async move {
        let store = BotStore::new(store);
        // A row damaged in the database (a bad restore, a hand edit) beside a sound one.
        let broken = "{\"msgtype\":\"m.text\",\"body\":\"Appel";
        let sound = r#"{"msgtype":"m.text","body":"Manifestation"}"#;
        for (n, content) in [(1, broken), (2, sound)] {
            store
                .broadcast_create(&NewBroadcast {
                    origin: BroadcastOrigin::Copy,
                    command_event: format!("$cmd{n}"),
                    source_room: "!national:pcf.test".into(),
                    source_event: format!("$src{n}"),
                    sender: "@nadia:pcf.test".into(),
                    content: content.into(),
                    send_at: 1_000,
                    targets: vec![("!a:pcf.test".into(), "A".into())],
                    links: vec![],
                })
                .await
                .expect("broadcast");
        }
        let due = store.broadcast_due(2_000).await.expect("due");
        assert_eq!(due.len(), 1, "only the sound one: {due:?}");
        assert_eq!(due[0].content["body"], "Manifestation");
        let stats = store.broadcast_stats(None, 10).await.expect("stats");
        let mut contents: Vec<_> = stats.iter().map(|s| s.content.clone()).collect();
        contents.sort_by_key(Option::is_some);
        assert_eq!(contents.len(), 2);
        assert_eq!(contents[0], None, "the broken one is said unreadable");

        for (n, content) in [(1, broken), (2, sound)] {
            let proposal = store
                .proposal_create(&NewProposal {
                    command_event: format!("$p{n}"),
                    federation: "Nord".into(),
                    source_room: "!nord:pcf.test".into(),
                    source_event: format!("$s{n}"),
                    proposer: "@karim:pcf.test".into(),
                    content: content.into(),
                })
                .await;
            if n == 1 {
                let proposal = proposal.map(|_| ());
                assert!(
                    matches!(proposal, Err(StoreError::Corrupt(ref m)) if !m.contains("Appel")),
                    "{proposal:?}"
                );
            } else {
                let id = proposal.expect("sound proposal").proposal_id;
                assert!(store.proposal_keep(id, "@nadia:pcf.test").await.expect("keep"));
            }
        }
        sqlx::query("UPDATE proposal SET kept_by = '@nadia:pcf.test', kept_at = 1")
            .execute(store.pool())
            .await
            .expect("keep all");
        let kept = store.proposals_to_publish().await.expect("kept");
        assert_eq!(kept.len(), 1, "the unreadable proposal is left out");
        assert_eq!(kept[0].content["body"], "Manifestation");
    })
    .await;
}

#[tokio::test]
async fn a_broadcast_copy_counts_the_mails_that_carried_it() {
    on_both(|core| async move {
        seed(&core).await;
        let store = BotStore::new(core.clone());
        let core = MailStore::new(core);
        let id = store
            .broadcast_create(&NewBroadcast {
                origin: BroadcastOrigin::Copy,
                command_event: "$cmd".into(),
                source_room: "!national:pcf.test".into(),
                source_event: "$src".into(),
                sender: "@nadia:pcf.test".into(),
                content: "{}".into(),
                send_at: 0,
                targets: vec![(ROOM.into(), "Lille".into())],
                links: Vec::new(),
            })
            .await
            .expect("broadcast");
        store.broadcast_delivered(id, ROOM, "$copy", 0).await.expect("delivered");
        // Member 1 gets each message, member 2 the weekly digest.
        core.set_mode("2", ROOM, DeliveryMode::Weekly).await.expect("mode");
        core.store_message(&message("$copy"), DeliveryMode::Message).await.expect("copy");
        core.store_message(&message("$other"), DeliveryMode::Message).await.expect("other");
        let mails =
            |store: BotStore| async move { store.broadcast_stats(None, 1).await.expect("stats")[0].mails };
        assert_eq!(mails(store.clone()).await, 0, "queued is not sent");
        for item in core.claim_outbox("w", 10, 60_000).await.expect("claim") {
            core.outbox_finish(item.id, "sent", None).await.expect("sent");
        }
        assert_eq!(mails(store.clone()).await, 1, "member 1's mail of the copy, not of the other message");
        core.create_digest(DeliveryMode::Weekly, DeliveryMode::Message).await.expect("digest");
        for item in core.claim_outbox("w", 10, 60_000).await.expect("claim") {
            core.outbox_finish(item.id, "sent", None).await.expect("sent");
        }
        assert_eq!(mails(store.clone()).await, 2, "and member 2's weekly digest");
    })
    .await;
}

#[tokio::test]
async fn unsubscribes_count_against_the_rooms_latest_broadcast_never_twice_and_never_who() {
    on_both(|core| async move {
        let store = BotStore::new(core.clone());
        let mail = MailStore::new(core.clone());
        let broadcast = |event: &'static str| NewBroadcast {
            origin: BroadcastOrigin::Copy,
            command_event: format!("$cmd{event}"),
            source_room: "!national:pcf.test".into(),
            source_event: format!("$src{event}"),
            sender: "@nadia:pcf.test".into(),
            content: "{}".into(),
            send_at: 0,
            targets: vec![(ROOM.into(), "Lille".into())],
            links: Vec::new(),
        };
        let day = 24 * 3_600_000;
        let now = relais_core::time::now_ms();
        let older = store.broadcast_create(&broadcast("1")).await.expect("older");
        let newer = store.broadcast_create(&broadcast("2")).await.expect("newer");
        for (id, copy, at) in [(older, "$c1", now - 3 * day), (newer, "$c2", now - day)] {
            store.broadcast_delivered(id, ROOM, copy, 0).await.expect("delivered");
            sqlx::query("UPDATE broadcast_delivery SET delivered_at = $1 WHERE event_id = $2")
                .bind(at)
                .bind(copy)
                .execute(core.pool())
                .await
                .expect("backdate");
        }
        mail.set_mode("2", ROOM, DeliveryMode::Weekly).await.expect("weekly");
        mail.set_mode("2", ROOM, DeliveryMode::None).await.expect("stops");
        mail.set_mode("2", ROOM, DeliveryMode::None).await.expect("stops again: not counted twice");
        mail.set_mode("3", ROOM, DeliveryMode::None).await.expect("another stops");
        mail.set_mode("4", "!elsewhere:pcf.test", DeliveryMode::None).await.expect("another room");
        let stats = store.broadcast_stats(None, 10).await.expect("stats");
        let of = |id: i64| stats.iter().find(|s| s.broadcast_id == id).expect("listed").unsubscribes;
        assert_eq!((of(newer), of(older)), (2, 0), "the room's latest broadcast before them");
        // Only the room and the hour are kept.
        let columns: Vec<String> = sqlx::query("SELECT * FROM mail_unsubscribe")
            .fetch_all(core.pool())
            .await
            .expect("rows")
            .first()
            .map(|row| sqlx::Row::columns(row).iter().map(|c| sqlx::Column::name(c).to_owned()).collect())
            .unwrap_or_default();
        assert_eq!(columns, ["unsubscribe_id", "room_id", "at"]);
    })
    .await;
}
