//! Relais against a real Synapse: the registration loads, pings go both ways, the bot joins and
//! answers, resent transactions are handled once, and a kill -9 loses no event.

use std::time::Duration;

use crate::common::{Member, RelaisOptions, Stack, eventually, unique};
use serde_json::json;

/// A room where `member` and the bot are both joined.
async fn room_with_bot(stack: &Stack, member: &Member) -> String {
    let bot = stack.relais.bot();
    let room = member.create_room("Section test", &[&bot]).await;
    stack.synapse.wait_joined(member, &room, &bot).await;
    room
}

#[tokio::test]
async fn synapse_loads_the_registration_and_pings_reach_relais() {
    let stack = Stack::start(RelaisOptions::default()).await;
    // `relais serve` has the homeserver ping it once at start (its self-check).
    eventually("the start-up self-check", Duration::from_secs(30), || async {
        stack.relais.log().contains("the homeserver reaches this appservice").then_some(())
    })
    .await;
    assert_eq!(stack.relais.metric("relais_pings_total").await, Some(1.0));
    let (status, body) = stack.synapse.ping_appservice("relais", &stack.relais.as_token).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["duration_ms"].is_number(), "{body}");
    assert_eq!(stack.relais.metric("relais_pings_total").await, Some(2.0));

    let (status, stdout, stderr) = stack.relais.cli(&["ping"]);
    assert!(status.success(), "relais ping: {stderr}");
    assert!(stdout.contains("The homeserver reached Relais"), "{stdout}");

    // A wrong as_token is refused by Synapse itself.
    let (status, _) = stack.synapse.ping_appservice("relais", "wrong-token-0123456789").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn bot_joins_on_invitation_and_answers_commands_in_french() {
    let stack = Stack::start(RelaisOptions::default()).await;
    let alice = stack.synapse.register(&unique("alice")).await;
    let room = room_with_bot(&stack, &alice).await;
    let bot = stack.relais.bot();

    let ping = alice.send_text(&room, "!ping").await;
    assert!(alice.wait_reply(&room, &bot, &ping).await.starts_with("Pong"));
    let help = alice.send_text(&room, "!aide").await;
    let text = alice.wait_reply(&room, &bot, &help).await;
    assert!(text.contains("Commandes disponibles") && text.contains("!ping"), "{text}");
    let unknown = alice.send_text(&room, "!inconnue").await;
    let text = alice.wait_reply(&room, &bot, &unknown).await;
    assert!(text.contains("Tapez !aide"), "{text}");

    let notices = alice.replies_to(&room, &bot, &ping).await;
    assert_eq!(notices[0]["content"]["msgtype"], "m.notice", "bot replies are notices");
}

#[tokio::test]
async fn the_same_transaction_or_event_twice_is_handled_once() {
    let stack = Stack::start(RelaisOptions::default()).await;
    let alice = stack.synapse.register(&unique("alice")).await;
    let room = room_with_bot(&stack, &alice).await;
    let bot = stack.relais.bot();

    // Replay what Synapse does on a retry: the same transaction id, then the same event in a
    // new transaction.
    let event_id = format!("${}", unique("replayed"));
    let body = json!({"events": [{
        "event_id": event_id, "room_id": room, "sender": alice.user_id, "type": "m.room.message",
        "content": {"msgtype": "m.text", "body": "!ping"}, "origin_server_ts": 1
    }]});
    let http = reqwest::Client::new();
    for txn in ["replay-1", "replay-1", "replay-2"] {
        let resp = http
            .put(format!("{}/_matrix/app/v1/transactions/{txn}", stack.relais.as_url))
            .bearer_auth(&stack.relais.hs_token)
            .json(&body)
            .send()
            .await
            .expect("put transaction");
        assert_eq!(resp.status().as_u16(), 200);
    }
    assert_eq!(stack.relais.metric("relais_transactions_duplicate_total").await, Some(1.0));
    alice.wait_reply(&room, &bot, &event_id).await;

    // A later command is answered only after the replay was dispatched (the queue is ordered),
    // so by then any second answer to the replayed event would be visible.
    let sentinel = alice.send_text(&room, "!ping").await;
    alice.wait_reply(&room, &bot, &sentinel).await;
    assert_eq!(alice.replies_to(&room, &bot, &event_id).await.len(), 1, "answered exactly once");
}

/// Sends `n` commands and returns their event ids.
async fn send_commands(member: &Member, room: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(member.send_text(room, &format!("!ping {i}")).await);
    }
    ids
}

/// Waits until every command has a reply, then checks none has two.
async fn assert_each_answered_once(stack: &Stack, member: &Member, room: &str, ids: &[String]) {
    let bot = stack.relais.bot();
    for id in ids {
        member.wait_reply(room, &bot, id).await;
    }
    let sentinel = member.send_text(room, "!ping").await;
    member.wait_reply(room, &bot, &sentinel).await;
    for id in ids {
        assert_eq!(member.replies_to(room, &bot, id).await.len(), 1, "{id} answered once");
    }
}

#[tokio::test]
async fn kill_9_after_acknowledging_loses_no_event() {
    let options = RelaisOptions {
        env: vec![("RELAIS_DISPATCH__LEASE_SECONDS".into(), "2".into())],
        ..Default::default()
    };
    let mut stack = Stack::start(options).await;
    let alice = stack.synapse.register(&unique("alice")).await;
    let room = room_with_bot(&stack, &alice).await;

    // An intake-only node acknowledges and journals but does not handle.
    stack.relais.kill9().await;
    stack.relais.start_with(&[("RELAIS_DISPATCH__ENABLED", "false")]).await;
    let journaled = send_commands(&alice, &room, 5).await;
    eventually("5 events journaled", Duration::from_secs(60), || async {
        let pending = stack.relais.metric("relais_queue_events{state=\"pending\"}").await?;
        (pending >= 5.0).then_some(())
    })
    .await;
    stack.relais.kill9().await;

    // Killed mid-dispatch: some commands answered, some leased, some not yet delivered.
    stack.relais.start().await;
    let bot = stack.relais.bot();
    let in_flight = send_commands(&alice, &room, 20).await;
    alice.wait_reply(&room, &bot, &in_flight[0]).await;
    stack.relais.kill9().await;

    stack.relais.start().await;
    let all: Vec<String> = journaled.into_iter().chain(in_flight).collect();
    assert_each_answered_once(&stack, &alice, &room, &all).await;
}
