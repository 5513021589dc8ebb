//! The bridge's event handler in-process: events as the dispatcher hands them over, a fresh
//! SQLite store seeded with one section mirrored as a list, and a recording homeserver double —
//! what goes to the subscribers' mailboxes, and what the bot says in the room.

use std::sync::Arc;

use relais_appservice::{
    DispatchedEvent, EventHandler, MatrixClient, Metrics,
    queue::{DECRYPTED_PREFIX, QueuedEvent},
    testing::RecordingHomeserver,
};
use relais_bridge::{
    BridgeHandler,
    store::{
        MailStore,
        testing::{SeedMember, lille, seed_list},
    },
};
use relais_core::{Config, Store};
use serde_json::{Value, json};

const ROOM: &str = "!section:pcf.test";
const MAIL: &str =
    "[mail]\ndomain = \"listes.pcf.test\"\nsmtp_url = \"smtp://127.0.0.1:9\"\ndefault_mode = \"message\"\n";

struct Bridge {
    homeserver: RecordingHomeserver,
    handler: BridgeHandler,
    mail: MailStore,
    _dir: tempfile::TempDir,
}

async fn bridge() -> Bridge {
    let homeserver = RecordingHomeserver::start().await.expect("double");
    let config = Arc::new(Config::for_tests(&homeserver.url(), MAIL));
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(&format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display()), 2)
        .await
        .expect("store");
    let mail = MailStore::new(store.clone());
    let paul = SeedMember {
        matrix_id: Some("@paul:pcf.test".into()),
        record: json!({ "first_name": "Paul", "last_name": "Durand" }).to_string(),
        ..SeedMember::new("1", "paul@example.org")
    };
    let lapsed = SeedMember { active: false, ..SeedMember::new("3", "ancien@example.org") };
    let jeanne = SeedMember {
        matrix_id: Some("@jeanne:pcf.test".into()),
        ..SeedMember::new("2", "jeanne@example.org")
    };
    seed_list(&mail, &lille(ROOM), &[paul, jeanne, lapsed]).await;
    let client = MatrixClient::new(&config, Arc::new(Metrics::default())).expect("client");
    Bridge { homeserver, handler: BridgeHandler::new(store, client, config), mail, _dir: dir }
}

fn message(event_id: &str, sender: &str, content: Value) -> DispatchedEvent {
    let body = json!({
        "type": "m.room.message", "event_id": event_id, "sender": sender, "room_id": ROOM,
        "origin_server_ts": 1_795_000_000_000_i64, "content": content,
    });
    DispatchedEvent::decode(QueuedEvent {
        seq: 1,
        event_id: event_id.into(),
        room_id: ROOM.into(),
        sender: sender.into(),
        event_type: "m.room.message".into(),
        body: body.to_string(),
        attempts: 0,
    })
}

fn text(event_id: &str, sender: &str, body: &str) -> DispatchedEvent {
    message(event_id, sender, json!({ "msgtype": "m.text", "body": body }))
}

#[tokio::test]
async fn a_members_message_goes_to_the_active_subscribers_under_their_name() {
    let b = bridge().await;
    b.handler.handle(&text("$m1", "@paul:pcf.test", "Réunion jeudi à 18 h")).await.expect("handled");
    let stored = b.mail.message("$m1").await.expect("store").expect("stored for mail");
    assert_eq!(stored.sender_name, "Paul Durand");
    assert_eq!(stored.author_member.as_deref(), Some("1"));
    assert_eq!(stored.body, "Réunion jeudi à 18 h");
    // Jeanne gets it; Paul, who wrote it, and the lapsed member do not.
    let outbox = b.mail.outbox_stats().await.expect("stats");
    assert_eq!(outbox.pending, 1, "{outbox:?}");

    // The same event handed over again after a crash: still one mail.
    b.handler.handle(&text("$m1", "@paul:pcf.test", "Réunion jeudi à 18 h")).await.expect("handled again");
    assert_eq!(b.mail.outbox_stats().await.expect("stats").pending, 1);
    // Jeanne's own message goes to Paul only.
    b.handler.handle(&text("$m2", "@jeanne:pcf.test", "J'y serai")).await.expect("handled");
    assert_eq!(b.mail.outbox_stats().await.expect("stats").pending, 2);
    assert!(b.homeserver.messages_to(ROOM).is_empty(), "nothing said in the room");
}

#[tokio::test]
async fn commands_to_the_bots_and_a_forged_media_url_are_not_mailed() {
    let b = bridge().await;
    b.handler
        .handle(&text("$cmd", "@paul:pcf.test", "!sondage \"Qui vient ?\" Oui Non"))
        .await
        .expect("handled");
    assert!(b.mail.message("$cmd").await.expect("store").is_none());
    let image = json!({ "msgtype": "m.image", "body": "tract.png", "url": "https://evil.example/x.png" });
    b.handler.handle(&message("$img", "@paul:pcf.test", image)).await.expect("handled");
    let stored = b.mail.message("$img").await.expect("store").expect("the text part is mailed");
    assert_eq!(stored.media_url, None, "only mxc:// media is ever fetched");
}

#[tokio::test]
async fn a_command_in_an_encrypted_room_is_answered_and_nothing_is_mirrored() {
    let b = bridge().await;
    let id = format!("{DECRYPTED_PREFIX}abc");
    b.handler.handle(&text(&id, "@paul:pcf.test", "!courriel abonner")).await.expect("handled");
    b.handler
        .handle(&text(&format!("{DECRYPTED_PREFIX}def"), "@paul:pcf.test", "Secret"))
        .await
        .expect("handled");
    let said = b.homeserver.messages_to(ROOM);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0]["body"].as_str().is_some_and(|t| t.contains("chiffré de bout en bout")), "{said:?}");
    assert_eq!(b.mail.outbox_stats().await.expect("stats").pending, 0);
}

#[tokio::test]
async fn only_a_moderator_turns_mail_off_for_a_room() {
    let b = bridge().await;
    let levels = json!({ "users": { "@relais:pcf.test": 100, "@nadia:pcf.test": 50 } });
    b.homeserver.set_power_levels(ROOM, "@relais:pcf.test", levels);
    b.handler.handle(&text("$k", "@paul:pcf.test", "!courriel désactiver")).await.expect("handled");
    assert!(b.mail.list(ROOM).await.expect("store").expect("list").enabled, "a member cannot");
    b.handler.handle(&text("$n", "@nadia:pcf.test", "!courriel désactiver")).await.expect("handled");
    assert!(!b.mail.list(ROOM).await.expect("store").expect("list").enabled, "a moderator can");
    let said: Vec<String> =
        b.homeserver.messages_to(ROOM).iter().map(|m| m["body"].as_str().unwrap_or("").to_owned()).collect();
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(said[0].contains("Seuls les modérateurs"), "{said:?}");
    assert!(said[1].to_lowercase().contains("désactivée"), "{said:?}");
}
