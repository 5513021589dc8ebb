//! Proposals and broadcast statistics on both backends.

use relais_core::store::testing::on_both;

use relais_provisioning::store::{Effect, ProvisioningStore, RoomRecord};

use super::{
    BotStore,
    broadcasts::{BroadcastOrigin, NewBroadcast},
    proposals::NewProposal,
};

const ANNOUNCEMENTS: &str = "!annonces:pcf.test";

async fn seed(store: &BotStore) {
    let room = |key: &str, kind: &str, name: &str, id: &str| {
        Effect::Room(RoomRecord {
            key: key.into(),
            kind: kind.into(),
            name: name.into(),
            parent_key: None,
            room_id: id.into(),
            moderators: "[]".into(),
        })
    };
    let effects = [
        room("nord", "federation_space", "Fédération Nord", "!space:pcf.test"),
        room("nord.annonces", "announcements", "Nord — annonces", ANNOUNCEMENTS),
        room("national", "national_space", "Parti", "!national:pcf.test"),
    ];
    ProvisioningStore::new(store.core().clone()).seed(&effects).await.expect("seed");
}

fn proposal(command: &str) -> NewProposal {
    NewProposal {
        command_event: command.into(),
        federation: "Nord".into(),
        source_room: ANNOUNCEMENTS.into(),
        source_event: "$source".into(),
        proposer: "@lucie:pcf.test".into(),
        content: r#"{"msgtype":"m.text","body":"Fête"}"#.into(),
    }
}

#[tokio::test]
async fn proposals_are_recorded_once_kept_once_published_once() {
    on_both(|store| async move {
        let store = BotStore::new(store);
        seed(&store).await;

        let first = store.proposal_create(&proposal("$cmd1")).await.expect("create");
        let again = store.proposal_create(&proposal("$cmd1")).await.expect("again");
        assert_eq!(first.proposal_id, again.proposal_id, "the same command is one proposal");
        store.proposal_shown(first.proposal_id, "$copy", "$notice").await.expect("shown");
        let by_notice = store.proposal_by_event("$notice").await.expect("by event").expect("found");
        assert_eq!(by_notice.proposal_id, first.proposal_id);
        assert!(store.proposal_by_event("$nothing").await.expect("none").is_none());

        assert!(store.proposals_to_publish().await.expect("none kept").is_empty());
        assert!(store.proposal_keep(first.proposal_id, "@nadia:pcf.test").await.expect("keep"));
        assert!(!store.proposal_keep(first.proposal_id, "@other:pcf.test").await.expect("kept already"));
        let waiting = store.proposals_to_publish().await.expect("waiting");
        assert_eq!(waiting.len(), 1);
        assert_eq!(waiting[0].kept_by.as_deref(), Some("@nadia:pcf.test"));
        store.proposals_published(&[first.proposal_id], "$publish").await.expect("published");
        assert!(store.proposals_to_publish().await.expect("after").is_empty());
    })
    .await;
}

#[tokio::test]
async fn reach_reactions_clicks_and_notes_are_counted_without_names() {
    on_both(|store| async move {
        let store = BotStore::new(store);
        seed(&store).await;
        let id = store
            .broadcast_create(&NewBroadcast {
                origin: BroadcastOrigin::Copy,
                command_event: "$cmd".into(),
                source_room: "!national:pcf.test".into(),
                source_event: "$src".into(),
                sender: "@nadia:pcf.test".into(),
                content: r#"{"msgtype":"m.text","body":"Appel"}"#.into(),
                send_at: 1_000,
                targets: vec![
                    (ANNOUNCEMENTS.into(), "Nord — annonces".into()),
                    ("!b:pcf.test".into(), "B".into()),
                ],
                links: vec![("abc123".into(), "https://pcf.fr/petition".into())],
            })
            .await
            .expect("broadcast");
        // Nothing is reached before the copy arrives.
        assert_eq!(store.broadcast_record_read(ANNOUNCEMENTS, "k1", 5_000).await.expect("early"), 0);
        store.broadcast_delivered(id, ANNOUNCEMENTS, "$copy", 0).await.expect("delivered");
        let delivered_at = relais_core::time::now_ms();
        assert_eq!(
            store.broadcast_of_copy("$copy").await.expect("copy"),
            Some((id, ANNOUNCEMENTS.to_owned()))
        );
        assert_eq!(
            store.broadcast_record_read(ANNOUNCEMENTS, "k1", delivered_at + 10).await.expect("read"),
            1
        );
        assert_eq!(
            store.broadcast_record_read(ANNOUNCEMENTS, "k1", delivered_at + 20).await.expect("again"),
            0
        );
        assert_eq!(
            store.broadcast_record_read(ANNOUNCEMENTS, "k2", delivered_at + 30).await.expect("other"),
            1
        );
        assert_eq!(
            store.broadcast_record_read(ANNOUNCEMENTS, "k3", delivered_at - 60_000).await.expect("old"),
            0
        );
        store.broadcast_record_reaction(id, ANNOUNCEMENTS, "k1", "👍").await.expect("reaction");
        store.broadcast_record_reaction(id, ANNOUNCEMENTS, "k1", "👍").await.expect("twice");
        assert_eq!(
            store.link_follow("abc123").await.expect("click").as_deref(),
            Some("https://pcf.fr/petition")
        );
        store.link_follow("abc123").await.expect("second click");
        assert_eq!(store.link_follow("ffff").await.expect("unknown"), None);
        assert!(store.note_create("$note", id, ANNOUNCEMENTS).await.expect("note"));
        assert!(!store.note_create("$note", id, ANNOUNCEMENTS).await.expect("note again"));

        let all = store.broadcast_stats(None, 10).await.expect("stats");
        assert_eq!(all.len(), 1);
        let s = &all[0];
        assert_eq!((s.rooms_targeted, s.rooms_delivered), (2, 1));
        assert_eq!((s.readers, s.reactions, s.clicks, s.notes, s.mails), (2, 1, 2, 1, 0));
        let here = store.broadcast_stats(Some("!b:pcf.test"), 10).await.expect("room");
        assert_eq!((here[0].rooms_targeted, here[0].rooms_delivered, here[0].readers), (1, 0, 0));
    })
    .await;
}

#[tokio::test]
async fn secret_ballots_are_cast_once_apart_from_the_voter_and_never_after_closing() {
    use super::{polls::PollRecord, secret_ballot::Cast};
    on_both(|store| async move {
        let store = BotStore::new(store);
        let poll = PollRecord {
            room_id: ruma::RoomId::parse(ANNOUNCEMENTS).expect("room id"),
            ..PollRecord::open_for_tests("$vote")
        };
        store.poll_create(&poll, &[]).await.expect("poll");
        let voters = [
            ("@a:pcf.test".to_owned(), "hash-a".to_owned(), 3),
            ("member:7".to_owned(), "hash-b".to_owned(), 1),
        ];
        store.secret_voters_create("$vote", &voters).await.expect("voters");
        assert_eq!(
            store.secret_token("hash-a", "nonce-a").await.expect("token"),
            Some(("$vote".to_owned(), false))
        );
        let cast = store.secret_cast("hash-a", "nonce-a", r#"["r1"]"#, 10).await.expect("cast");
        let Cast::Recorded { poll_id, receipt } = cast else { panic!("not recorded: {cast:?}") };
        assert_eq!(poll_id, "$vote");
        assert_eq!(
            store.secret_token("hash-a", "nonce-a").await.expect("token"),
            Some(("$vote".to_owned(), true))
        );
        assert_eq!(
            store.secret_cast("hash-a", "nonce-a", r#"["r2"]"#, 11).await.expect("again"),
            Cast::AlreadyVoted
        );
        assert_eq!(
            store.secret_cast("nope", "nonce-x", r#"["r2"]"#, 11).await.expect("unknown"),
            Cast::Unknown
        );
        assert_eq!(store.secret_turnout("$vote").await.expect("turnout"), (2, 1));
        assert_eq!(
            store.secret_ballots("$vote").await.expect("ballots"),
            [(receipt, r#"["r1"]"#.to_owned(), 3)],
            "the ballot carries the voter's weight, not the voter"
        );
        assert!(store.poll_close("$vote", Some(20)).await.expect("close").is_some());
        assert_eq!(
            store.secret_cast("hash-b", "nonce-b", r#"["r1"]"#, 21).await.expect("closed"),
            Cast::Closed
        );
        assert_eq!(store.secret_ballots("$vote").await.expect("ballots").len(), 1);
    })
    .await;
}
