//! Closing a poll: closed first, then counted and posted. A homeserver that will not take the
//! results leaves the poll closed, the command answered, and the clock posting them later —
//! never a retried `!sondage clore` closing the poll before it.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use relais_appservice::{EventHandler, MatrixClient, Metrics};
use relais_bots::{poll::service::Polls, store::BotStore};
use relais_core::Config;
use relais_provisioning::store::{Effect, ProvisioningStore, RoomRecord};
use ruma::room_id;
use serde_json::json;

use super::{bot, text_in};

const LILLE: &str = "!lille:pcf.test";

async fn open(bot: &super::Bot, id: &str, question: &str) -> String {
    let ask = text_in(LILLE, id, "@paul:pcf.test", &format!("!sondage \"{question}\" oui non"));
    bot.handler.handle(&ask).await.expect("opened");
    let store = BotStore::new(bot.store.clone());
    let latest = store.poll_latest_open(room_id!("!lille:pcf.test")).await.expect("store");
    latest.expect("the poll").poll_id
}

#[tokio::test]
async fn results_the_homeserver_refuses_leave_the_poll_closed_and_the_one_before_it_open() {
    let bot = bot().await;
    let section = Effect::Room(RoomRecord {
        key: "nord.s.lille".into(),
        kind: "section".into(),
        name: "Section Lille".into(),
        parent_key: None,
        room_id: LILLE.into(),
        moderators: "[]".into(),
    });
    ProvisioningStore::new(bot.store.clone()).seed(&[section]).await.expect("room");
    let first = open(&bot, "$ask1", "Date de l'AG ?").await;
    let second = open(&bot, "$ask2", "Lieu de l'AG ?").await;
    assert_ne!(first, second);
    let end = format!(
        "/_matrix/client/v3/rooms/{LILLE}/send/org.matrix.msc3381.poll.end/poll-end.{}",
        second.trim_start_matches('$')
    );
    let outage = json!({"errcode": "M_UNKNOWN", "error": "try later"});
    bot.homeserver.answer(Method::PUT, &end, StatusCode::BAD_GATEWAY, outage);

    let close = text_in(LILLE, "$close", "@paul:pcf.test", "!sondage clore");
    bot.handler.handle(&close).await.expect("answered, not a failure to retry");
    let store = BotStore::new(bot.store.clone());
    let latest = store.poll_latest_open(room_id!("!lille:pcf.test")).await.expect("store");
    assert_eq!(latest.map(|p| p.poll_id), Some(first.clone()), "the poll before it stays open");
    let closed = store.poll(&second).await.expect("store").expect("poll");
    assert!(closed.closed_at.is_some(), "closed before its results were posted");

    // The homeserver is back: the clock posts the results of the closed poll.
    bot.homeserver.answer(Method::PUT, &end, StatusCode::OK, json!({"event_id": "$end"}));
    let config = Config::for_tests(&bot.homeserver.url(), "");
    let client = MatrixClient::new(&config, Arc::new(Metrics::default())).expect("client");
    let polls = Polls::new(&bot.store, client, Arc::new(config));
    polls.tick(relais_core::time::now_ms()).await.expect("tick");
    assert!(store.polls_closed_unpublished().await.expect("store").is_empty(), "posted");
    let open_still = store.poll_latest_open(room_id!("!lille:pcf.test")).await.expect("store");
    assert_eq!(open_still.map(|p| p.poll_id), Some(first));
}
