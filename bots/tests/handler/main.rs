//! The bot's event handler in-process: events as the dispatcher hands them over, a fresh SQLite
//! store, and a recording homeserver double instead of Synapse — what the bot would have said
//! in the room, and what it would have done, read from the requests it made.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use relais_appservice::{
    DispatchedEvent, EventHandler, MatrixClient, Metrics, queue::QueuedEvent, testing::RecordingHomeserver,
};
use relais_bots::{BotHandler, broadcast::Broadcasts};
use relais_core::{Config, Store};
use serde_json::{Value, json};

mod corrections;
mod direct_rooms;
mod moderation;
mod polls;
mod themes;

const ROOM: &str = "!section:pcf.test";

struct Bot {
    homeserver: RecordingHomeserver,
    handler: BotHandler,
    store: Store,
    broadcasts: Broadcasts,
    _dir: tempfile::TempDir,
}

async fn bot() -> Bot {
    bot_with(|_| {}).await
}

/// [`bot`] with its configuration changed by `change`.
async fn bot_with(change: impl FnOnce(&mut Config)) -> Bot {
    let homeserver = RecordingHomeserver::start().await.expect("double");
    let mut config = Config::for_tests(&homeserver.url(), "");
    change(&mut config);
    let config = Arc::new(config);
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(&format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display()), 2)
        .await
        .expect("store");
    let client = MatrixClient::new(&config, Arc::new(Metrics::default())).expect("client");
    let broadcasts = Broadcasts::new(&store, client.clone(), config.clone());
    Bot { homeserver, handler: BotHandler::new(client, config, store.clone()), store, broadcasts, _dir: dir }
}

fn event(event_type: &str, event_id: &str, sender: &str, body: Value) -> DispatchedEvent {
    let mut json = body;
    json["type"] = json!(event_type);
    json["event_id"] = json!(event_id);
    json["sender"] = json!(sender);
    json["room_id"] = json!(json.get("room_id").cloned().unwrap_or(json!(ROOM)));
    json["origin_server_ts"] = json!(1_795_000_000_000_i64);
    DispatchedEvent::decode(QueuedEvent {
        seq: 1,
        event_id: event_id.into(),
        room_id: json["room_id"].as_str().unwrap_or(ROOM).into(),
        sender: sender.into(),
        event_type: event_type.into(),
        body: json.to_string(),
        attempts: 0,
    })
}

/// A text message in `room`.
fn text_in(room: &str, event_id: &str, sender: &str, body: &str) -> DispatchedEvent {
    let content = json!({ "room_id": room, "content": { "msgtype": "m.text", "body": body } });
    event("m.room.message", event_id, sender, content)
}

fn text(event_id: &str, sender: &str, body: &str) -> DispatchedEvent {
    event("m.room.message", event_id, sender, json!({ "content": { "msgtype": "m.text", "body": body } }))
}

#[tokio::test]
async fn a_members_ping_is_answered_in_reply_once_per_event() {
    let bot = bot().await;
    let ping = text("$ping", "@karim:pcf.test", "!ping");
    bot.handler.handle(&ping).await.expect("handled");
    let sent = bot.homeserver.messages_to(ROOM);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0]["body"].as_str().is_some_and(|b| b.starts_with("Pong")), "{sent:?}");
    assert_eq!(sent[0]["msgtype"], "m.notice");
    assert_eq!(sent[0]["m.relates_to"]["m.in_reply_to"]["event_id"], "$ping");

    // The same event again (a crash after the reply, before completion): the same transaction
    // id, which the homeserver de-duplicates.
    bot.handler.handle(&ping).await.expect("handled again");
    let paths: Vec<String> =
        bot.homeserver.requests().into_iter().filter(|r| r.is_message_to(ROOM)).map(|r| r.path).collect();
    assert_eq!(paths.len(), 2);
    assert_eq!(paths[0], paths[1], "one transaction id per command");
}

#[tokio::test]
async fn edits_its_own_notices_and_malformed_messages_get_no_answer() {
    let bot = bot().await;
    let edit = event(
        "m.room.message",
        "$edit",
        "@karim:pcf.test",
        json!({ "content": { "msgtype": "m.text", "body": "* !ping", "m.new_content": { "msgtype": "m.text", "body": "!ping" },
            "m.relates_to": { "rel_type": "m.replace", "event_id": "$ping" } } }),
    );
    let own = text("$own", "@relais:pcf.test", "!ping");
    let no_body =
        event("m.room.message", "$bad", "@karim:pcf.test", json!({ "content": { "msgtype": "m.text" } }));
    let forged_sender = text("$forged", "pas-un-identifiant", "!ping");
    for quiet in [edit, own, no_body, forged_sender] {
        bot.handler.handle(&quiet).await.expect("ignored, not failed");
    }
    assert!(bot.homeserver.requests().is_empty(), "{:?}", bot.homeserver.requests());
}

#[tokio::test]
async fn help_shows_a_moderator_the_moderators_commands_and_a_member_only_theirs() {
    let bot = bot().await;
    // As some clients write levels: strings.
    let levels = json!({ "users": { "@relais:pcf.test": 100, "@nadia:pcf.test": "50" } });
    bot.homeserver.set_power_levels(ROOM, "@relais:pcf.test", levels);
    bot.handler.handle(&text("$m", "@nadia:pcf.test", "!aide")).await.expect("handled");
    bot.handler.handle(&text("$k", "@karim:pcf.test", "!aide")).await.expect("handled");
    let sent = bot.homeserver.messages_to(ROOM);
    assert_eq!(sent.len(), 2, "{sent:?}");
    let (moderator, member) =
        (sent[0]["body"].as_str().unwrap_or(""), sent[1]["body"].as_str().unwrap_or(""));
    assert!(moderator.contains("!stats") && moderator.contains("!ping"), "{moderator}");
    assert!(!member.contains("!stats") && member.contains("!ping"), "{member}");
}

#[tokio::test]
async fn help_with_unreadable_power_levels_gives_no_rights() {
    let bot = bot().await;
    bot.homeserver.set_power_levels(ROOM, "@relais:pcf.test", json!({ "users": "pas une table" }));
    bot.handler.handle(&text("$m", "@nadia:pcf.test", "!aide")).await.expect("handled");
    let sent = bot.homeserver.messages_to(ROOM);
    let help = sent.first().and_then(|m| m["body"].as_str()).unwrap_or("");
    assert!(help.contains("!ping") && !help.contains("!stats"), "{help}");
}

#[tokio::test]
async fn the_bot_joins_rooms_of_its_own_server_only() {
    let bot = bot().await;
    let invite = |room: &str, sender: &str| {
        event(
            "m.room.member",
            &format!("$invite-{sender}"),
            sender,
            json!({ "room_id": room, "state_key": "@relais:pcf.test", "content": { "membership": "invite" } }),
        )
    };
    bot.handler.handle(&invite("!spam:evil.example", "@spam:evil.example")).await.expect("ignored");
    bot.handler.handle(&invite("!r:evil.example", "@karim:pcf.test")).await.expect("ignored");
    assert!(bot.homeserver.requests().is_empty(), "{:?}", bot.homeserver.requests());

    bot.handler.handle(&invite("!nord:pcf.test", "@nadia:pcf.test")).await.expect("joined");
    let joins: Vec<String> =
        bot.homeserver.requests().into_iter().filter(|r| r.method == Method::POST).map(|r| r.path).collect();
    assert_eq!(joins.len(), 1, "{joins:?}");
    assert!(joins[0].contains("!nord:pcf.test") && joins[0].ends_with("/join"), "{joins:?}");

    // An invitation withdrawn before the bot could join: nothing left to do, not a failure.
    bot.homeserver.answer(
        Method::POST,
        "/_matrix/client/v3/rooms/!parti:pcf.test/join",
        StatusCode::FORBIDDEN,
        json!({ "errcode": "M_FORBIDDEN", "error": "not invited" }),
    );
    bot.handler.handle(&invite("!parti:pcf.test", "@nadia:pcf.test")).await.expect("not a failure");
}
