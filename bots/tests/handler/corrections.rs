//! Corrections of broadcasts against the double: only the original's author edits, only its
//! author or a moderator withdraws, each copy follows once.

use axum::http::{Method, StatusCode};
use relais_appservice::{DispatchedEvent, EventHandler};
use relais_bots::store::{
    BotStore,
    broadcasts::{BroadcastOrigin, NewBroadcast},
};
use serde_json::{Value, json};

use super::{Bot, bot, event};

const NATIONAL: &str = "!national:pcf.test";

/// Nadia's appeal in the national room, broadcast to Nord and Paris (sent) and to Rhône (in an
/// hour); the double knows the appeal and the room's power levels (Nadia 100, Mona 50).
async fn broadcast_sent(bot: &Bot) -> i64 {
    let store = BotStore::new(bot.store.clone());
    let now = relais_core::time::now_ms();
    let content = json!({ "msgtype": "m.text", "body": "Marche à 14h", "fr.pcf.relais.broadcast": "$cmd" });
    let targets = [("!nord:pcf.test", "Nord"), ("!paris:pcf.test", "Paris"), ("!rhone:pcf.test", "Rhône")];
    let id = store
        .broadcast_create(&NewBroadcast {
            origin: BroadcastOrigin::Copy,
            command_event: "$cmd".into(),
            source_room: NATIONAL.into(),
            source_event: "$appeal".into(),
            sender: "@nadia:pcf.test".into(),
            content: content.to_string(),
            send_at: now + 3_600_000,
            targets: targets.iter().map(|(r, f)| ((*r).to_owned(), (*f).to_owned())).collect(),
            links: Vec::new(),
        })
        .await
        .expect("broadcast");
    store.broadcast_delivered(id, "!nord:pcf.test", "$copy-nord", 0).await.expect("nord");
    store.broadcast_delivered(id, "!paris:pcf.test", "$copy-paris", 0).await.expect("paris");
    bot.homeserver.answer(
        Method::GET,
        &format!("/_matrix/client/v3/rooms/{NATIONAL}/event/$appeal"),
        StatusCode::OK,
        json!({ "type": "m.room.message", "event_id": "$appeal", "room_id": NATIONAL, "sender": "@nadia:pcf.test",
                "content": { "msgtype": "m.text", "body": "Marche à 14h" } }),
    );
    let levels =
        json!({ "users": { "@relais:pcf.test": 100, "@nadia:pcf.test": 100, "@mona:pcf.test": 50 } });
    bot.homeserver.set_power_levels(NATIONAL, "@relais:pcf.test", levels);
    id
}

fn edit_of_appeal(event_id: &str, sender: &str, body: &str) -> DispatchedEvent {
    event(
        "m.room.message",
        event_id,
        sender,
        json!({ "room_id": NATIONAL, "content": { "msgtype": "m.text", "body": format!("* {body}"),
            "m.new_content": { "msgtype": "m.text", "body": body },
            "m.relates_to": { "rel_type": "m.replace", "event_id": "$appeal" } } }),
    )
}

fn redaction_of_appeal(event_id: &str, sender: &str) -> DispatchedEvent {
    event(
        "m.room.redaction",
        event_id,
        sender,
        json!({ "room_id": NATIONAL, "redacts": "$appeal", "content": {} }),
    )
}

/// The requests that changed something (sends and redactions), as (path, body).
fn writes(bot: &Bot) -> Vec<(String, Value)> {
    bot.homeserver
        .requests()
        .into_iter()
        .filter(|r| r.method == Method::PUT)
        .map(|r| (r.path, r.body))
        .collect()
}

#[tokio::test]
async fn an_edit_of_a_broadcast_by_its_author_edits_every_copy_and_the_ones_still_to_send() {
    let bot = bot().await;
    broadcast_sent(&bot).await;

    // Karim is not the appeal's author: clients would not show his edit, nor does the bot.
    bot.handler.handle(&edit_of_appeal("$forged", "@karim:pcf.test", "Annulé")).await.expect("ignored");
    assert!(writes(&bot).is_empty(), "{:?}", writes(&bot));

    bot.handler.handle(&edit_of_appeal("$edit", "@nadia:pcf.test", "Marche à 15h")).await.expect("edited");
    let edits = writes(&bot);
    assert_eq!(edits.len(), 2, "the two copies sent: {edits:?}");
    for (room, copy) in [("!nord:pcf.test", "$copy-nord"), ("!paris:pcf.test", "$copy-paris")] {
        let (_, body) = edits.iter().find(|(path, _)| path.contains(room)).expect("an edit in each room");
        assert_eq!(body["m.relates_to"], json!({ "rel_type": "m.replace", "event_id": copy }));
        assert_eq!(body["m.new_content"]["body"], "Marche à 15h");
        assert_eq!(
            body["m.new_content"]["fr.pcf.relais.broadcast"], "$cmd",
            "still counted as the broadcast"
        );
        assert_eq!(body["body"], "* Marche à 15h");
    }

    // The same edit again (a crash before it was acknowledged): nothing more is sent.
    bot.handler.handle(&edit_of_appeal("$edit", "@nadia:pcf.test", "Marche à 15h")).await.expect("again");
    assert_eq!(writes(&bot).len(), 2);

    // Rhône's copy, due in an hour, leaves with the new text and needs no edit.
    let later = relais_core::time::now_ms() + 2 * 3_600_000;
    assert_eq!(bot.broadcasts.deliver_due(later).await.expect("delivered"), 1);
    let sent = bot.homeserver.messages_to("!rhone:pcf.test");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["body"], "Marche à 15h");
    assert_eq!(bot.broadcasts.correct_due().await.expect("nothing due"), 0);
}

#[tokio::test]
async fn a_redaction_of_a_broadcast_by_someone_allowed_withdraws_every_copy_once() {
    let bot = bot().await;
    let id = broadcast_sent(&bot).await;

    // Karim may not redact others' messages in the national room: his redaction (which the
    // homeserver keeps without applying) withdraws nothing.
    bot.handler.handle(&redaction_of_appeal("$r1", "@karim:pcf.test")).await.expect("ignored");
    assert!(writes(&bot).is_empty(), "{:?}", writes(&bot));
    // Two targets that disagree (one per room version's field): read as neither.
    let ambiguous = event(
        "m.room.redaction",
        "$r2",
        "@mona:pcf.test",
        json!({ "room_id": NATIONAL, "redacts": "$other", "content": { "redacts": "$appeal" } }),
    );
    bot.handler.handle(&ambiguous).await.expect("ignored");
    assert!(writes(&bot).is_empty(), "{:?}", writes(&bot));

    // Mona moderates the room (50, the redact level): the copies sent are redacted.
    bot.handler.handle(&redaction_of_appeal("$r3", "@mona:pcf.test")).await.expect("withdrawn");
    let requests = bot.homeserver.requests();
    assert!(requests.iter().any(|r| r.is_redaction_of("!nord:pcf.test", "$copy-nord")), "{requests:?}");
    assert!(requests.iter().any(|r| r.is_redaction_of("!paris:pcf.test", "$copy-paris")), "{requests:?}");
    assert_eq!(writes(&bot).len(), 2, "{:?}", writes(&bot));

    // Rhône's copy never leaves; a later edit changes nothing; a second redaction neither.
    let later = relais_core::time::now_ms() + 2 * 3_600_000;
    assert_eq!(bot.broadcasts.deliver_due(later).await.expect("nothing due"), 0);
    bot.handler.handle(&edit_of_appeal("$late", "@nadia:pcf.test", "Finalement si")).await.expect("ignored");
    bot.handler.handle(&redaction_of_appeal("$r4", "@nadia:pcf.test")).await.expect("ignored");
    assert_eq!(writes(&bot).len(), 2, "{:?}", writes(&bot));
    let stats = BotStore::new(bot.store.clone()).broadcast_stats(None, 1).await.expect("stats");
    assert_eq!((stats[0].broadcast_id, stats[0].edits), (id, 0));
    assert!(stats[0].withdrawn_at.is_some(), "{stats:?}");
}

#[tokio::test]
async fn the_author_who_no_longer_moderates_cannot_change_an_approved_broadcast() {
    let bot = bot().await;
    broadcast_sent(&bot).await;
    // Nadia wrote the appeal, but no longer moderates the national room.
    let levels = json!({ "users": { "@relais:pcf.test": 100, "@mona:pcf.test": 50 } });
    bot.homeserver.set_power_levels(NATIONAL, "@relais:pcf.test", levels);
    bot.handler.handle(&edit_of_appeal("$late", "@nadia:pcf.test", "Lien piégé")).await.expect("ignored");
    bot.handler.handle(&redaction_of_appeal("$gone", "@nadia:pcf.test")).await.expect("ignored");
    assert!(writes(&bot).is_empty(), "{:?}", writes(&bot));
}
