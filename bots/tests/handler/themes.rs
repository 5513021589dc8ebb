//! `!salon` against the double: who may make a thematic room, where, what the homeserver is
//! asked to make, and the moderators a referent may choose.

use axum::http::Method;
use relais_appservice::EventHandler;
use relais_provisioning::{
    model::{Contact, MemberRow},
    store::{Effect, ProvisioningStore, RoomRecord},
};
use serde_json::{Value, json};

use super::{Bot, bot, bot_with, text_in};

const DISCUSSION: &str = "!nord-discussion:pcf.test";

fn member(id: &str, federation: &str, user: &str) -> Effect {
    let row = MemberRow {
        line: 0,
        member_id: id.into(),
        first_name: id.into(),
        last_name: "Martin".into(),
        email: None,
        federation: federation.into(),
        section: None,
        cell: None,
        roles: Vec::new(),
        active: true,
        matrix_id: Some(user.try_into().expect("user")),
        contact: Contact::Chat,
    };
    Effect::Member {
        member_id: id.into(),
        record: serde_json::to_string(&row).expect("row"),
        active: true,
        matrix_id: Some(user.into()),
        email: None,
        rooms: relais_provisioning::store::MemberRooms::of(&row),
    }
}

fn room(key: &str, kind: &str, id: &str, parent: Option<&str>) -> Effect {
    Effect::Room(RoomRecord {
        key: key.into(),
        kind: kind.into(),
        name: if kind == "federation_space" { "Fédération Nord".into() } else { key.into() },
        parent_key: parent.map(str::to_owned),
        room_id: id.into(),
        moderators: "[]".into(),
    })
}

/// Nord's space (Nadia moderates it) and discussion room, its public room; Paris's space; Nadia
/// and Anna of Nord, Iris of Paris.
async fn nord(bot: &Bot) {
    let effects = [
        room("national", "national_space", "!national:pcf.test", None),
        room("nord", "federation_space", "!nord:pcf.test", Some("national")),
        room("nord.discussion", "discussion", DISCUSSION, Some("nord")),
        room("nord.public", "public_space", "!nord-public:pcf.test", None),
        room("nord.public.accueil", "public", "!accueil:pcf.test", Some("nord.public")),
        room("paris", "federation_space", "!paris:pcf.test", Some("national")),
        member("1", "Nord", "@nadia:pcf.test"),
        member("2", "Nord", "@anna:pcf.test"),
        member("3", "Paris", "@iris:pcf.test"),
    ];
    ProvisioningStore::new(bot.store.clone()).seed(&effects).await.expect("seed");
    let levels = json!({ "users": { "@relais:pcf.test": 100, "@nadia:pcf.test": 50 } });
    bot.homeserver.set_power_levels("!nord:pcf.test", "@relais:pcf.test", levels);
}

async fn say(bot: &Bot, room: &str, id: &str, sender: &str, body: &str) -> String {
    bot.handler.handle(&text_in(room, id, sender, body)).await.expect("handled");
    let sent = bot.homeserver.messages_to(room);
    let answer = sent.iter().find(|m| m["m.relates_to"]["m.in_reply_to"]["event_id"] == id);
    answer.and_then(|m| m["body"].as_str()).unwrap_or_default().to_owned()
}

fn created_rooms(bot: &Bot) -> Vec<Value> {
    bot.homeserver
        .requests()
        .into_iter()
        .filter(|r| r.method == Method::POST && r.path.ends_with("/createRoom"))
        .map(|r| r.body)
        .collect()
}

fn join_rule(create: &Value) -> Value {
    let state = create["initial_state"].as_array().cloned().unwrap_or_default();
    state
        .into_iter()
        .find(|e| e["type"] == "m.room.join_rules")
        .map(|e| e["content"].clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_federation_moderator_makes_a_members_only_thematic_room_in_its_space_and_nobody_else_can() {
    let bot = bot().await;
    nord(&bot).await;
    let refused = say(&bot, DISCUSSION, "$a", "@anna:pcf.test", "!salon créer \"Commission santé\"").await;
    assert!(refused.starts_with("Seuls les modérateurs"), "{refused}");
    let elsewhere = say(&bot, "!ailleurs:pcf.test", "$b", "@nadia:pcf.test", "!salon créer \"Santé\"").await;
    assert!(elsewhere.contains("salon de votre fédération"), "{elsewhere}");
    assert!(created_rooms(&bot).is_empty());

    let made = say(&bot, DISCUSSION, "$c", "@nadia:pcf.test", "!salon créer \"Commission  santé\"").await;
    assert!(made.contains("Salon « Commission santé » créé"), "{made}");
    assert!(made.contains("#relais_nord.t.commission-sante:pcf.test"), "{made}");
    let created = created_rooms(&bot);
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["name"], "Commission santé");
    assert_eq!(created[0]["room_alias_name"], "relais_nord.t.commission-sante");
    assert_eq!(join_rule(&created[0])["join_rule"], "restricted");
    assert_eq!(join_rule(&created[0])["allow"][0]["room_id"], "!nord:pcf.test");
    assert_ne!(created[0]["visibility"], "public", "not listed in the directory");
    let attached =
        bot.homeserver.requests().into_iter().any(|r| {
            r.method == Method::PUT && r.path.contains("!nord:pcf.test/state/m.space.child/!created")
        });
    assert!(attached, "the room is a child of the federation space");

    let again = say(&bot, DISCUSSION, "$d", "@nadia:pcf.test", "!salon créer \"commission sante\"").await;
    assert!(again.contains("déjà un salon"), "{again}");
    assert_eq!(created_rooms(&bot).len(), 1);
    let bad = say(&bot, DISCUSSION, "$e", "@nadia:pcf.test", "!salon créer \"***\"").await;
    assert!(bad.starts_with("Nom refusé"), "{bad}");
}

#[tokio::test]
async fn a_referent_chooses_moderators_among_the_federations_members_only() {
    let bot = bot().await;
    nord(&bot).await;
    say(&bot, DISCUSSION, "$a", "@nadia:pcf.test", "!salon créer Santé").await;
    let room = created_rooms(&bot).len();
    assert_eq!(room, 1);
    let cmd = "!salon modérateurs Santé @anna:pcf.test @iris:pcf.test";
    let refused = say(&bot, DISCUSSION, "$b", "@nadia:pcf.test", cmd).await;
    assert!(refused.contains("@iris:pcf.test") && refused.contains("Rien n'a été changé"), "{refused}");
    let set = say(&bot, DISCUSSION, "$c", "@nadia:pcf.test", "!salon modérateurs Santé @anna:pcf.test").await;
    assert_eq!(set, "Salon « Santé » : 1 modérateur choisi.");
    let levels = bot
        .homeserver
        .requests()
        .into_iter()
        .rfind(|r| r.method == Method::PUT && r.path.contains("/state/m.room.power_levels"))
        .expect("levels set");
    assert_eq!(levels.body["users"]["@anna:pcf.test"], 50, "{}", levels.body);
    assert!(levels.body["users"].get("@iris:pcf.test").is_none());
    let by_anna = say(&bot, DISCUSSION, "$d", "@anna:pcf.test", "!salon modérateurs Santé").await;
    assert!(by_anna.starts_with("Seuls les modérateurs"), "a chosen moderator does not choose: {by_anna}");
}

#[tokio::test]
async fn a_public_thematic_room_is_listed_and_the_public_list_hides_the_members_only_ones() {
    // Nord has a public space: the public thematic room goes beside it.
    let bot = bot_with(|config| config.public.federations = vec!["Nord".into()]).await;
    nord(&bot).await;
    say(&bot, DISCUSSION, "$a", "@nadia:pcf.test", "!salon créer \"Préparation interne\"").await;
    say(&bot, DISCUSSION, "$b", "@nadia:pcf.test", "!salon créer \"Vélo en ville\" --public").await;
    let created = created_rooms(&bot);
    assert_eq!(created.len(), 2);
    assert_eq!(join_rule(&created[1])["join_rule"], "public");
    assert_eq!(created[1]["visibility"], "public");
    let attached =
        bot.homeserver.requests().into_iter().any(|r| {
            r.method == Method::PUT && r.path.contains("!nord-public:pcf.test/state/m.space.child/")
        });
    assert!(attached, "beside the federation's public space");
    let members = say(&bot, DISCUSSION, "$c", "@anna:pcf.test", "!salon liste").await;
    assert!(members.contains("Préparation interne") && members.contains("Vélo en ville"), "{members}");
    let public = say(&bot, "!accueil:pcf.test", "$d", "@someone:pcf.test", "!salon liste").await;
    assert!(public.contains("Vélo en ville") && !public.contains("Préparation"), "{public}");
    let unknown = say(&bot, DISCUSSION, "$e", "@nadia:pcf.test", "!salon créer X --secret").await;
    assert!(unknown.contains("Option inconnue : --secret"), "{unknown}");
}

#[tokio::test]
async fn a_room_asked_for_during_an_import_is_made_by_the_clock_right_after() {
    let bot = bot().await;
    nord(&bot).await;
    // An import holds the provisioning lease.
    let ttl = std::time::Duration::from_secs(60);
    let import = relais_core::store::lease::Lease::try_acquire(&bot.store, "provisioning", "import", ttl)
        .await
        .expect("store")
        .expect("free");
    let waiting = say(&bot, DISCUSSION, "$a", "@nadia:pcf.test", "!salon créer Santé").await;
    assert!(waiting.contains("enregistré : un import est en cours"), "{waiting}");
    assert!(created_rooms(&bot).is_empty());
    let config = std::sync::Arc::new(relais_core::Config::for_tests(&bot.homeserver.url(), ""));
    let client = relais_appservice::MatrixClient::new(
        &config,
        std::sync::Arc::new(relais_appservice::Metrics::default()),
    )
    .expect("client");
    let clock = relais_bots::theme::Themes::new(&bot.store, client, config);
    clock.realize_pending().await.expect("tick");
    assert!(created_rooms(&bot).is_empty(), "not while the import holds the lease");
    import.release().await.expect("released");
    clock.realize_pending().await.expect("tick");
    assert_eq!(created_rooms(&bot).len(), 1, "made once the lease is free");
    clock.realize_pending().await.expect("tick");
    assert_eq!(created_rooms(&bot).len(), 1, "and only once");
}

#[tokio::test]
async fn a_room_the_homeserver_would_not_make_is_said_so_and_made_when_asked_again() {
    let bot = bot().await;
    nord(&bot).await;
    let create = "/_matrix/client/v3/createRoom";
    let refusal = json!({ "errcode": "M_UNKNOWN", "error": "out of order" });
    bot.homeserver.answer(Method::POST, create, axum::http::StatusCode::FORBIDDEN, refusal);
    let failed = say(&bot, DISCUSSION, "$a", "@nadia:pcf.test", "!salon créer Santé").await;
    assert!(failed.contains("n'a pas pu le créer"), "{failed}");
    // Another room's pass does not make this one's failure anyone else's.
    bot.homeserver.answer(
        Method::POST,
        create,
        axum::http::StatusCode::OK,
        json!({ "room_id": "!made:pcf.test" }),
    );
    let other = say(&bot, DISCUSSION, "$b", "@nadia:pcf.test", "!salon créer Vélo").await;
    assert!(other.contains("Salon « Vélo » créé"), "{other}");
    // Asked again, the first is made (not answered "already exists").
    let again = say(&bot, DISCUSSION, "$c", "@nadia:pcf.test", "!salon créer Santé").await;
    assert!(again.contains("Salon « Santé » créé"), "{again}");
    assert_eq!(created_rooms(&bot).len(), 3, "one refused, then two made");
}
