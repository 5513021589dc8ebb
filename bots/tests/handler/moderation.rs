//! `!bannir`, `!débannir`, `!expulser` against the double: who may, on whom, and in which rooms
//! the bot then acts.

use axum::http::Method;
use relais_appservice::EventHandler;
use relais_provisioning::{
    moderation::is_banned_in,
    store::{Effect, ProvisioningStore, RoomRecord, moderation::ModerationStore},
};
use serde_json::json;

use super::{Bot, bot, text, text_in};

/// Nord's space and two of its rooms, and Paris's space; in Nord's space Nadia moderates (50),
/// Bruno is above her (100), Karim is a member.
async fn federations(bot: &Bot) {
    let room = |key: &str, kind: &str, id: &str| {
        Effect::Room(RoomRecord {
            key: key.into(),
            kind: kind.into(),
            name: if kind == "federation_space" {
                format!("Fédération {}", key.to_uppercase())
            } else {
                key.into()
            },
            parent_key: None,
            room_id: id.into(),
            moderators: "[]".into(),
        })
    };
    let effects = [
        room("nord", "federation_space", "!nord:pcf.test"),
        room("nord.discussion", "discussion", "!nord-discussion:pcf.test"),
        room("nord.s.lille", "section", "!lille:pcf.test"),
        room("paris", "federation_space", "!paris:pcf.test"),
    ];
    ProvisioningStore::new(bot.store.clone()).seed(&effects).await.expect("rooms");
    let levels =
        json!({ "users": { "@relais:pcf.test": 100, "@bruno:pcf.test": 100, "@nadia:pcf.test": 50 } });
    bot.homeserver.set_power_levels("!nord:pcf.test", "@relais:pcf.test", levels);
}

/// A public room `key` of id `room_id`, as provisioning records it.
async fn public_room(bot: &Bot, key: &str, room_id: &str) {
    let room = Effect::Room(RoomRecord {
        key: key.into(),
        kind: "public".into(),
        name: key.into(),
        parent_key: None,
        room_id: room_id.into(),
        moderators: "[]".into(),
    });
    ProvisioningStore::new(bot.store.clone()).seed(&[room]).await.expect("room");
}

/// The rooms the bot banned `user` from, by their ids.
fn bans_of(bot: &Bot, user: &str) -> Vec<String> {
    let mut rooms: Vec<String> = bot
        .homeserver
        .requests()
        .into_iter()
        .filter(|r| r.method == Method::POST && r.path.ends_with("/ban") && r.body["user_id"] == user)
        .filter_map(|r| r.path.split('/').nth(5).map(str::to_owned))
        .collect();
    rooms.sort();
    rooms
}

fn answer_to(bot: &Bot, room: &str, command: &str) -> String {
    let sent = bot.homeserver.messages_to(room);
    let answer = sent.iter().find(|m| m["m.relates_to"]["m.in_reply_to"]["event_id"] == command);
    answer.and_then(|m| m["body"].as_str()).unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_federation_moderator_bans_from_every_room_of_the_space_and_no_one_else_can() {
    let bot = bot().await;
    federations(&bot).await;
    let lille = "!lille:pcf.test";

    let tries = [
        ("$karim", "@karim:pcf.test", "!bannir @x:pcf.test", "Seuls les modérateurs"),
        ("$above", "@nadia:pcf.test", "!bannir @bruno:pcf.test", "égal ou supérieur"),
        ("$bot", "@nadia:pcf.test", "!bannir @relais:pcf.test", "lui-même"),
        ("$self", "@nadia:pcf.test", "!bannir @nadia:pcf.test", "vous-même"),
        ("$name", "@nadia:pcf.test", "!bannir Jean Dupont", "Usage"),
        ("$many", "@nadia:pcf.test", "!expurger @x:pcf.test 5000", "100 au plus"),
        ("$none", "@nadia:pcf.test", "!expurger @x:pcf.test 0", "Usage"),
    ];
    for (id, sender, command, expected) in tries {
        bot.handler.handle(&text_in(lille, id, sender, command)).await.expect("answered");
        let answer = answer_to(&bot, lille, id);
        assert!(answer.contains(expected), "{command}: {answer}");
    }
    assert!(bans_of(&bot, "@x:pcf.test").is_empty() && bans_of(&bot, "@bruno:pcf.test").is_empty());

    bot.handler
        .handle(&text_in(lille, "$ban", "@nadia:pcf.test", "!bannir @x:pcf.test insultes répétées"))
        .await
        .expect("banned");
    assert_eq!(
        bans_of(&bot, "@x:pcf.test"),
        ["!lille:pcf.test", "!nord-discussion:pcf.test", "!nord:pcf.test"]
    );
    let reasons: Vec<String> = bot
        .homeserver
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/ban"))
        .map(|r| r.body["reason"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(reasons.iter().all(|r| r == "insultes répétées"), "{reasons:?}");
    assert!(
        answer_to(&bot, lille, "$ban").contains("3 salon(s) sur 3 (fédération NORD)"),
        "{}",
        answer_to(&bot, lille, "$ban")
    );
    let bans = ModerationStore::new(bot.store.clone()).bans().await.expect("bans");
    assert!(is_banned_in(&bans, ruma::user_id!("@x:pcf.test"), "nord.s.lille"));
    assert!(!is_banned_in(&bans, ruma::user_id!("@x:pcf.test"), "paris"), "Paris is not Nord's to decide");
    let policy = |bot: &Bot| -> Vec<serde_json::Value> {
        bot.homeserver
            .requests()
            .into_iter()
            .filter(|r| {
                r.method == Method::PUT && r.path.ends_with("/state/m.policy.rule.user/rule:@x:pcf.test")
            })
            .map(|r| r.body)
            .collect()
    };
    assert!(policy(&bot).is_empty(), "a federation's ban stays off the party's list");

    // The same command again (redelivered after a crash): recorded once, nothing redone.
    bot.handler
        .handle(&text_in(lille, "$ban", "@nadia:pcf.test", "!bannir @x:pcf.test insultes répétées"))
        .await
        .expect("again");
    assert_eq!(bans_of(&bot, "@x:pcf.test").len(), 3);

    // A room Relais did not provision is no federation's.
    bot.handler
        .handle(&text("$elsewhere", "@nadia:pcf.test", "!bannir @y:pcf.test"))
        .await
        .expect("answered");
    assert!(answer_to(&bot, super::ROOM, "$elsewhere").contains("salon d'une fédération"));
}

#[tokio::test]
async fn a_report_from_an_encrypted_room_never_copies_its_text() {
    let bot = bot().await;
    federations(&bot).await;
    let lille = "!lille:pcf.test";
    bot.homeserver.set_state(
        lille,
        "m.room.encryption",
        "",
        "@relais:pcf.test",
        json!({ "algorithm": "m.megolm.v1.aes-sha2" }),
    );
    bot.homeserver.answer(
        Method::GET,
        &format!("/_matrix/client/v3/rooms/{lille}/event/$insult"),
        axum::http::StatusCode::OK,
        json!({ "type": "m.room.message", "event_id": "$insult", "room_id": lille, "sender": "@x:pcf.test",
                "content": { "msgtype": "m.text", "body": "secret injurieux" } }),
    );
    let report = super::event(
        "m.room.message",
        "$report",
        "@sofia:pcf.test",
        json!({ "room_id": lille, "content": { "msgtype": "m.text", "body": "!signaler",
                "m.relates_to": { "m.in_reply_to": { "event_id": "$insult" } } } }),
    );
    bot.handler.handle(&report).await.expect("reported");
    let posted: Vec<String> = bot
        .homeserver
        .requests()
        .into_iter()
        .filter(|r| r.method == Method::PUT && r.path.contains("/send/m.room.message/report."))
        .map(|r| r.body["body"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert!(posted[0].contains("@x:pcf.test") && posted[0].contains("salon chiffré"), "{}", posted[0]);
    assert!(!posted[0].contains("secret injurieux"), "{}", posted[0]);
    assert!(
        bot.homeserver.requests().iter().any(|r| r.is_redaction_of(lille, "$report")),
        "the command is hidden"
    );
}

#[tokio::test]
async fn a_national_ban_is_published_on_the_policy_list_without_its_reason() {
    let bot = super::bot_with(|config| config.bots.national_room = Some("!national:pcf.test".into())).await;
    federations(&bot).await;
    let levels = json!({ "users": { "@relais:pcf.test": 100, "@nadia:pcf.test": 100 } });
    bot.homeserver.set_power_levels("!national:pcf.test", "@relais:pcf.test", levels);
    let ban = text_in(
        "!national:pcf.test",
        "$national",
        "@nadia:pcf.test",
        "!bannir @x:pcf.test Jean D. harcèle Marie",
    );
    bot.handler.handle(&ban).await.expect("banned");
    assert_eq!(bans_of(&bot, "@x:pcf.test").len(), 4, "every provisioned room");
    let rules: Vec<serde_json::Value> = bot
        .homeserver
        .requests()
        .into_iter()
        .filter(|r| r.method == Method::PUT && r.path.ends_with("/state/m.policy.rule.user/rule:@x:pcf.test"))
        .map(|r| r.body)
        .collect();
    assert_eq!(
        rules,
        [
            json!({ "entity": "@x:pcf.test", "recommendation": "m.ban", "reason": "Bannissement national (Relais)" })
        ]
    );
}

#[tokio::test]
async fn in_the_national_public_space_the_national_moderators_act_and_no_one_else() {
    let bot = super::bot_with(|config| config.bots.national_room = Some("!national:pcf.test".into())).await;
    federations(&bot).await;
    public_room(&bot, "national.public.accueil", "!accueil:pcf.test").await;
    let national = json!({ "users": { "@relais:pcf.test": 100, "@nadia:pcf.test": 50 } });
    bot.homeserver.set_power_levels("!national:pcf.test", "@relais:pcf.test", national);
    let levels =
        json!({ "users": { "@relais:pcf.test": 100, "@nadia:pcf.test": 50, "@bruno:pcf.test": 50 } });
    bot.homeserver.set_power_levels("!accueil:pcf.test", "@relais:pcf.test", levels);

    // Bruno moderates the room but not the national room: the national scope is not his.
    let by_bruno = text_in("!accueil:pcf.test", "$bruno", "@bruno:pcf.test", "!bannir @x:pcf.test spam");
    bot.handler.handle(&by_bruno).await.expect("refused");
    assert!(bans_of(&bot, "@x:pcf.test").is_empty());
    // Nadia, a national moderator: everywhere, the public room included.
    let by_nadia = text_in("!accueil:pcf.test", "$nadia", "@nadia:pcf.test", "!bannir @x:pcf.test spam");
    bot.handler.handle(&by_nadia).await.expect("banned");
    let banned = bans_of(&bot, "@x:pcf.test");
    assert!(banned.contains(&"!accueil:pcf.test".to_owned()) && banned.len() == 5, "{banned:?}");
}

#[tokio::test]
async fn no_poll_opens_in_a_public_room() {
    let bot = bot().await;
    public_room(&bot, "nord.public.accueil", "!accueil:pcf.test").await;
    let levels = json!({ "users": { "@relais:pcf.test": 100, "@nadia:pcf.test": 50 } });
    bot.homeserver.set_power_levels("!accueil:pcf.test", "@relais:pcf.test", levels);
    let poll = text_in(
        "!accueil:pcf.test",
        "$poll",
        "@nadia:pcf.test",
        "!sondage \"Quelle date ?\" samedi dimanche",
    );
    bot.handler.handle(&poll).await.expect("answered");
    assert!(answer_to(&bot, "!accueil:pcf.test", "$poll").contains("entre adhérents"));
    let started = bot.homeserver.requests().into_iter().any(|r| r.path.contains("poll.start"));
    assert!(!started, "no poll was sent");
}

#[tokio::test]
async fn the_charter_is_shown_accepted_and_recalled_once_in_public_rooms_only() {
    let bot = super::bot_with(|config| {
        config.public.charter = Some("Respect des personnes.\n\nNi spam ni insulte.".into());
        config.public.charter_version = "2026-2".into();
    })
    .await;
    federations(&bot).await;
    public_room(&bot, "nord.public.accueil", "!accueil:pcf.test").await;
    let say = async |room: &str, id: &str, who: &str, body: &str| {
        bot.handler.handle(&text_in(room, id, who, body)).await.expect("handled");
        answer_to(&bot, room, id)
    };
    // Karim has not accepted this version: reminded once, in reply, in the public room only.
    assert!(say("!accueil:pcf.test", "$k1", "@karim:pcf.test", "bonjour").await.contains("version 2026-2"));
    assert_eq!(say("!accueil:pcf.test", "$k2", "@karim:pcf.test", "encore").await, "");
    assert_eq!(say("!nord-discussion:pcf.test", "$k3", "@lea:pcf.test", "salut").await, "");
    // Someone of another server is not ours to remind.
    assert_eq!(say("!accueil:pcf.test", "$r1", "@x:ailleurs.test", "hello").await, "");
    // Léa reads it and accepts it: recorded, and never reminded.
    assert!(
        say("!accueil:pcf.test", "$l1", "@lea:pcf.test", "!charte").await.contains("Ni spam ni insulte.")
    );
    assert!(
        say("!accueil:pcf.test", "$l2", "@lea:pcf.test", "!charte accepter").await.contains("enregistrée")
    );
    let versions = ProvisioningStore::new(bot.store.clone()).charter_versions("@lea:pcf.test").await;
    assert_eq!(versions.expect("versions"), ["2026-2"]);
    assert_eq!(say("!accueil:pcf.test", "$l3", "@lea:pcf.test", "merci").await, "");
}
