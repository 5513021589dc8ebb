//! The bot's direct rooms with members (ballot links, broadcasts by office, confirmation
//! codes): one someone else was let into is replaced and left; a homeserver that refuses a new
//! one is not asked again at every tick.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use relais_appservice::{MatrixClient, Metrics};
use relais_bots::{
    service::{ServiceError, private_direct_room},
    store::BotStore,
};
use relais_core::Config;
use ruma::user_id;
use serde_json::json;

use super::bot;

const CREATE: &str = "/_matrix/client/v3/createRoom";

fn client(bot: &super::Bot) -> MatrixClient {
    let config = Config::for_tests(&bot.homeserver.url(), "");
    MatrixClient::new(&config, Arc::new(Metrics::default())).expect("client")
}

fn created(bot: &super::Bot) -> usize {
    bot.homeserver.requests().iter().filter(|r| r.method == Method::POST && r.path == CREATE).count()
}

fn member(who: &str, membership: &str) -> serde_json::Value {
    json!({"type": "m.room.member", "state_key": who, "sender": who, "event_id": format!("$m{who}"),
           "origin_server_ts": 1, "room_id": "!old:pcf.test", "content": {"membership": membership}})
}

#[tokio::test]
async fn a_direct_room_someone_else_was_let_into_is_replaced_and_left() {
    let bot = bot().await;
    let store = BotStore::new(bot.store.clone());
    let (relais, lucie) = (user_id!("@relais:pcf.test"), user_id!("@lucie:pcf.test"));
    store.set_bot_dm(lucie.as_str(), "!old:pcf.test").await.expect("remembered");
    let chunk = json!({"chunk": [member(relais.as_str(), "join"), member(lucie.as_str(), "join"), member("@eve:pcf.test", "join")]});
    bot.homeserver.answer(
        Method::GET,
        "/_matrix/client/v3/rooms/!old:pcf.test/members",
        StatusCode::OK,
        chunk,
    );
    bot.homeserver.answer(Method::POST, CREATE, StatusCode::OK, json!({"room_id": "!new:pcf.test"}));

    let room = private_direct_room(&store, &client(&bot), relais, lucie).await.expect("a room");
    assert_eq!(room.as_str(), "!new:pcf.test");
    assert_eq!(store.bot_dm(lucie.as_str()).await.expect("dm").as_deref(), Some("!new:pcf.test"));
    let left = bot
        .homeserver
        .requests()
        .iter()
        .any(|r| r.method == Method::POST && r.path.ends_with("/rooms/!old:pcf.test/leave"));
    assert!(left, "the bot leaves the room it replaced");
}

#[tokio::test]
async fn a_refused_direct_room_is_not_asked_for_again_at_once() {
    let bot = bot().await;
    let store = BotStore::new(bot.store.clone());
    let refusal = json!({"errcode": "M_FORBIDDEN", "error": "the remote server refused the invitation"});
    bot.homeserver.answer(Method::POST, CREATE, StatusCode::FORBIDDEN, refusal);
    let (relais, lucie) = (user_id!("@relais:pcf.test"), user_id!("@lucie:fed-nord.test"));
    let client = client(&bot);
    let first = private_direct_room(&store, &client, relais, lucie).await;
    assert!(matches!(first, Err(ServiceError::Homeserver(_))), "{first:?}");
    for _ in 0..3 {
        let again = private_direct_room(&store, &client, relais, lucie).await;
        assert!(matches!(again, Err(ServiceError::DirectRoomTooSoon)), "{again:?}");
    }
    assert_eq!(created(&bot), 1, "asked once, not at every try");
}

#[tokio::test]
async fn a_refused_invitation_is_sent_again_in_the_same_room() {
    let bot = bot().await;
    let store = BotStore::new(bot.store.clone());
    let (relais, lucie) = (user_id!("@relais:pcf.test"), user_id!("@lucie:fed-nord.test"));
    let invite = format!("/_matrix/client/v3/rooms/!created1:pcf.test/state/m.room.member/{lucie}");
    let refusal = json!({"errcode": "M_FORBIDDEN", "error": "fed-nord.test refused the invitation"});
    bot.homeserver.answer(Method::PUT, &invite, StatusCode::FORBIDDEN, refusal);
    let client = client(&bot);
    let first = private_direct_room(&store, &client, relais, lucie).await;
    assert!(matches!(first, Err(ServiceError::Homeserver(_))), "{first:?}");
    assert_eq!(
        store.bot_dm(lucie.as_str()).await.expect("dm").as_deref(),
        Some("!created1:pcf.test"),
        "remembered"
    );

    // The bot alone in it: not again at once…
    let chunk = json!({"chunk": [member(relais.as_str(), "join")]});
    bot.homeserver.answer(
        Method::GET,
        "/_matrix/client/v3/rooms/!created1:pcf.test/members",
        StatusCode::OK,
        chunk.clone(),
    );
    let again = private_direct_room(&store, &client, relais, lucie).await;
    assert!(matches!(again, Err(ServiceError::DirectRoomTooSoon)), "{again:?}");
    // … then, the gap past (its claim dropped, as ten minutes would), the invitation is sent
    // again there, marked direct; no other room.
    store.end_bot_dm_claim(lucie.as_str()).await.expect("the gap past");
    bot.homeserver.answer(
        Method::GET,
        "/_matrix/client/v3/rooms/!created1:pcf.test/members",
        StatusCode::OK,
        chunk,
    );
    bot.homeserver.answer(Method::PUT, &invite, StatusCode::OK, json!({"event_id": "$invite"}));
    let room = private_direct_room(&store, &client, relais, lucie).await.expect("invited");
    assert_eq!(room.as_str(), "!created1:pcf.test");
    assert_eq!(created(&bot), 1, "one room made");
    let invites: Vec<_> = bot.homeserver.requests().into_iter().filter(|r| r.path == invite).collect();
    assert_eq!(invites.len(), 2);
    assert_eq!(invites[1].body, json!({"membership": "invite", "is_direct": true}));
}
