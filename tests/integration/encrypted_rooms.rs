//! The bot in end-to-end-encrypted rooms, against the real Synapse, with a member whose client
//! encrypts (matrix-nio with python-olm, an independent implementation of Olm/Megolm): commands
//! read and answered encrypted, the device and its keys kept across a kill -9, poll answers sent
//! encrypted counted, and secret-ballot messages delivered in encrypted direct rooms.

use crate::common;

use std::time::Duration;

use crate::common::{Member, RelaisOptions, Stack, e2ee::EncryptingMember, eventually, unique};
use serde_json::{Value, json};

const SECTION: &str = "#relais_nord.s.lille:pcf.test";

/// A stack whose bot has an encrypted device kept in `dir`, its store encrypted at rest, and
/// the mail bridge on (no mail is sent in these tests: the SMTP address is never reached).
async fn stack_with_device(dir: &tempfile::TempDir) -> Stack {
    stack_with_device_and(dir, Vec::new()).await
}

/// The same, with more settings.
async fn stack_with_device_and(dir: &tempfile::TempDir, more: Vec<(String, String)>) -> Stack {
    let mut env = vec![
        ("RELAIS_BOTS__E2EE_DIR".to_owned(), dir.path().display().to_string()),
        ("RELAIS_BOTS__E2EE_PASSPHRASE".to_owned(), "une phrase de passe".to_owned()),
        ("RELAIS_MAIL__DOMAIN".to_owned(), "listes.pcf.test".to_owned()),
        ("RELAIS_MAIL__SECRET".to_owned(), "mail-secret-for-this-test-only".to_owned()),
    ];
    env.extend(more);
    Stack::start(RelaisOptions { env, smtp_url: Some("smtp://127.0.0.1:9".to_owned()), ..Default::default() })
        .await
}

/// The bot's device id, from the session Relais saved.
fn saved_device(dir: &tempfile::TempDir) -> String {
    let text = std::fs::read_to_string(dir.path().join("session.json")).expect("session.json");
    let session: Value = serde_json::from_str(&text).expect("session json");
    session["device_id"].as_str().expect("device id").to_owned()
}

/// The bot's devices as the homeserver lists them.
async fn bot_devices(stack: &Stack) -> Vec<String> {
    let devices = stack.bot().get("/_matrix/client/v3/devices").await;
    devices["devices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["device_id"].as_str())
        .map(str::to_owned)
        .collect()
}

/// Whether `member` sees the bot's device signed by the bot's own cross-signing identity.
async fn cross_signed(stack: &Stack, member: &Member, device: &str) -> bool {
    let bot = stack.relais.bot();
    let keys = member.post("/_matrix/client/v3/keys/query", json!({"device_keys": {&bot: []}})).await;
    let Some(self_signing) = keys["self_signing_keys"][&bot]["keys"].as_object() else { return false };
    let signatures = &keys["device_keys"][&bot][device]["signatures"][&bot];
    keys["master_keys"][&bot].is_object() && self_signing.keys().all(|id| signatures.get(id).is_some())
}

/// What the homeserver stores for `event_id`: its type on the wire.
async fn wire_type(stack: &Stack, room: &str, event_id: &str) -> String {
    let event = stack.bot().get(&format!("/_matrix/client/v3/rooms/{room}/event/{event_id}")).await;
    event["type"].as_str().unwrap_or_default().to_owned()
}

/// Provisions the membership file made of the header and `rows`.
fn provision(stack: &Stack, rows: &str) {
    let csv = format!(
        "N° adhérent;Prénom;Nom;Fédération;Section;Responsabilités;Cotisation à jour;Identifiant Matrix\n{rows}"
    );
    let file = stack.relais.dir.path().join("members.csv");
    std::fs::write(&file, csv).expect("csv");
    let (status, out, err) = stack.relais.cli(&["provision", &file.display().to_string()]);
    assert!(status.success(), "{out}{err}");
}

/// Alice, a member whose client encrypts.
async fn alice(stack: &Stack) -> (Member, EncryptingMember) {
    let alice = stack.synapse.register(&unique("alice")).await;
    let nio = EncryptingMember::start(stack, &alice).await;
    (alice, nio)
}

/// Sends `body` and returns the bot's answer as the member's client decrypted it.
async fn ask(stack: &Stack, nio: &mut EncryptingMember, room: &str, body: &str) -> Value {
    let asked = nio.send(room, body).await;
    assert_eq!(wire_type(stack, room, &asked).await, "m.room.encrypted", "the member's client encrypts");
    nio.wait(json!({"room": room, "sender": stack.relais.bot(), "reply_to": asked})).await
}

#[tokio::test]
async fn the_bot_answers_encrypted_commands_and_keeps_its_keys_across_a_kill_9() {
    let dir = tempfile::tempdir().expect("device dir");
    let mut stack = stack_with_device(&dir).await;
    let (alice, mut nio) = alice(&stack).await;
    let bot = stack.relais.bot();
    let room = nio.create_encrypted_room("Réunion chiffrée", &[&bot]).await;
    stack.synapse.wait_joined(&alice, &room, &bot).await;

    let help = ask(&stack, &mut nio, &room, "!aide").await;
    assert_eq!(help["decrypted"], true, "the answer was encrypted for the member's device: {help}");
    assert_eq!(help["source"]["content"]["msgtype"], "m.notice");
    assert!(help["source"]["content"]["body"].as_str().unwrap_or_default().contains("!sondage"), "{help}");
    let answer_id = help["source"]["event_id"].as_str().expect("answer id");
    assert_eq!(
        wire_type(&stack, &room, answer_id).await,
        "m.room.encrypted",
        "the homeserver holds ciphertext only"
    );

    // kill -9, then start again: same device, same keys (the member's next message uses the
    // Megolm session it shared before the crash, and the bot decrypts it with what it kept).
    let device = saved_device(&dir);
    assert_eq!(bot_devices(&stack).await, vec![device.clone()]);
    assert!(cross_signed(&stack, &alice, &device).await, "the bot's device is verified by its owner");
    stack.relais.kill9().await;
    stack.relais.start().await;
    let pong = ask(&stack, &mut nio, &room, "!ping").await;
    assert_eq!(pong["decrypted"], true, "{pong}");
    assert!(pong["source"]["content"]["body"].as_str().unwrap_or_default().starts_with("Pong"), "{pong}");
    assert_eq!(saved_device(&dir), device, "the session was restored, not logged in again");
    assert_eq!(bot_devices(&stack).await, vec![device], "no second device");
    let log = stack.relais.log();
    assert!(!log.contains("syt_"), "the device's access token never reaches the log");
    assert!(!log.contains(&alice.user_id), "nor the members whose keys the device handles");
}

/// Sophie (section secretary) uses an encrypting client; Karim a plain one.
async fn encrypted_section(stack: &Stack) -> (Member, Member, String) {
    let sophie = stack.synapse.register(&unique("sophie")).await;
    let karim = stack.synapse.register(&unique("karim")).await;
    let rows = format!(
        "1;Sophie;Blanc;Nord;Lille;Secrétaire de section;oui;{}\n2;Karim;Benali;Nord;Lille;;oui;{}\n",
        sophie.user_id, karim.user_id
    );
    provision(stack, &rows);
    let room = stack.bot().resolve(SECTION).await;
    // The section turns on end-to-end encryption (as a moderator would in Element).
    let content = json!({"algorithm": "m.megolm.v1.aes-sha2"});
    stack.bot().put(&format!("/_matrix/client/v3/rooms/{room}/state/m.room.encryption/"), content).await;
    assert_eq!(karim.try_join(&room).await, 200);
    (sophie, karim, room)
}

#[tokio::test]
async fn encrypted_poll_answers_count_and_secret_ballots_arrive_in_encrypted_direct_rooms() {
    let dir = tempfile::tempdir().expect("device dir");
    let stack = stack_with_device(&dir).await;
    let (sophie, _karim, room) = encrypted_section(&stack).await;
    let bot = stack.relais.bot();
    let mut nio = EncryptingMember::start(&stack, &sophie).await;
    stack.synapse.wait_joined(&stack.bot(), &room, &sophie.user_id).await;

    let opened = ask(&stack, &mut nio, &room, "!sondage \"Local à repeindre ?\" \"Oui\" \"Non\"").await;
    assert!(
        opened["source"]["content"]["body"].as_str().unwrap_or_default().contains("2 adhérent(s)"),
        "{opened}"
    );
    let start = nio.wait(json!({"room": room, "sender": bot, "type": "org.matrix.msc3381.poll.start"})).await;
    assert_eq!(start["decrypted"], true, "the poll itself is encrypted: {start}");
    let poll = start["source"]["event_id"].as_str().expect("poll id").to_owned();
    let answers = &start["source"]["content"]["org.matrix.msc3381.poll.start"]["answers"];
    let yes = answers[0]["id"].as_str().expect("answer id");
    let response = json!({
        "m.relates_to": {"rel_type": "m.reference", "event_id": poll},
        "org.matrix.msc3381.poll.response": {"answers": [yes]},
    });
    let sent = nio.send_raw(&room, "org.matrix.msc3381.poll.response", response).await;
    assert_eq!(wire_type(&stack, &room, &sent).await, "m.room.encrypted");
    let counted = eventually("the encrypted answer counted", Duration::from_secs(30), || async {
        let (status, out, _) = stack.relais.cli(&["poll", "results", &poll, "--json"]);
        let results: Value = serde_json::from_str(&out).unwrap_or_default();
        (status.success() && results["voted"] == 1).then_some(results)
    })
    .await;
    assert_eq!((counted["eligible"].as_i64(), counted["answers"][0]["count"].as_i64()), (Some(2), Some(1)));

    // A secret ballot: each voter's link comes in a direct room the bot encrypts.
    nio.send(&room, "!sondage \"Trésorier : Karim ?\" \"Pour\" \"Contre\" --secret").await;
    let ballot = nio.wait(json!({"sender": bot, "contains": "/relais/vote/", "timeout": 90})).await;
    assert_eq!(ballot["decrypted"], true, "{ballot}");
    let dm = ballot["room_id"].as_str().expect("dm");
    assert_ne!(dm, room, "in a direct room, not the section's");
    let ballot_id = ballot["source"]["event_id"].as_str().expect("ballot id");
    assert_eq!(wire_type(&stack, dm, ballot_id).await, "m.room.encrypted", "the link never travels in clear");

    // Voting on the page edits the room's announcement with the turnout: encrypted too.
    let body = ballot["source"]["content"]["body"].as_str().expect("ballot text");
    let start = body.find("http").expect("a link");
    let link: String = body[start..].chars().take_while(|c| !c.is_whitespace()).collect();
    let voted = reqwest::Client::new().post(&link).form(&[("choix", "1")]).send().await.expect("vote");
    assert_eq!(voted.status().as_u16(), 200);
    let turnout = nio.wait(json!({"room": room, "sender": bot, "contains": "Participation : 1 sur 2"})).await;
    assert_eq!(turnout["decrypted"], true, "{turnout}");
    let turnout_id = turnout["source"]["event_id"].as_str().expect("turnout id");
    assert_eq!(wire_type(&stack, &room, turnout_id).await, "m.room.encrypted");
}

#[tokio::test]
async fn a_lost_crypto_store_is_replaced_by_a_new_device_that_answers() {
    let dir = tempfile::tempdir().expect("device dir");
    let mut stack = stack_with_device(&dir).await;
    let (alice, mut nio) = alice(&stack).await;
    let bot = stack.relais.bot();
    let before = saved_device(&dir);

    // The operator loses the store (a bad restore): the next start logs a new device in and
    // the old one out, so clients stop encrypting for a device nobody holds.
    stack.relais.terminate().await;
    std::fs::remove_dir_all(dir.path().join(&before)).expect("remove the store");
    stack.relais.start().await;
    let after = saved_device(&dir);
    assert_ne!(after, before);
    assert_eq!(bot_devices(&stack).await, vec![after.clone()], "the lost device is gone from the homeserver");
    assert!(cross_signed(&stack, &alice, &after).await, "a new identity signs the new device");

    let room = nio.create_encrypted_room("Après la perte", &[&bot]).await;
    stack.synapse.wait_joined(&alice, &room, &bot).await;
    let pong = ask(&stack, &mut nio, &room, "!ping").await;
    assert_eq!(pong["decrypted"], true, "{pong}");
}

#[tokio::test]
async fn a_wrong_passphrase_stops_relais_with_a_clear_error_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("device dir");
    let mut stack = stack_with_device(&dir).await;
    let device = saved_device(&dir);
    stack.relais.terminate().await;
    let run = tokio::process::Command::new(common::relais::BIN)
        .arg("--config")
        .arg(stack.relais.config_path())
        .arg("serve")
        .env("RELAIS_BOTS__E2EE_DIR", dir.path())
        .env("RELAIS_BOTS__E2EE_PASSPHRASE", "pas la bonne")
        .env("RELAIS_MAIL__DOMAIN", "listes.pcf.test")
        .env("RELAIS_MAIL__SECRET", "mail-secret-for-this-test-only")
        .kill_on_drop(true)
        .output();
    let out =
        tokio::time::timeout(std::time::Duration::from_secs(120), run).await.expect("exits").expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("e2ee_passphrase"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // The device is intact: the right passphrase opens it again.
    stack.relais.start().await;
    assert_eq!(saved_device(&dir), device);
    assert_eq!(bot_devices(&stack).await, vec![device]);
}

/// Answers `message` with `!diffuser --toutes` (encrypted); returns the bot's answer.
async fn diffuse(stack: &Stack, nio: &mut EncryptingMember, room: &str, message: &str) -> String {
    let reply = json!({"msgtype": "m.text", "body": "!diffuser --toutes",
                       "m.relates_to": {"m.in_reply_to": {"event_id": message}}});
    let asked = nio.send_raw(room, "m.room.message", reply).await;
    let answer = nio.wait(json!({"room": room, "sender": stack.relais.bot(), "reply_to": asked})).await;
    answer["source"]["content"]["body"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_message_of_an_encrypted_national_room_is_broadcast_to_the_federations() {
    let dir = tempfile::tempdir().expect("device dir");
    let alias_local = unique("communication");
    let national = ("RELAIS_BOTS__NATIONAL_ROOM".to_owned(), format!("#{alias_local}:pcf.test"));
    let stack = stack_with_device_and(&dir, vec![national]).await;
    let (nadia, marc) =
        (stack.synapse.register(&unique("nadia")).await, stack.synapse.register(&unique("marc")).await);
    provision(&stack, &format!("1;Marc;Petit;Nord;Lille;;oui;{}\n", marc.user_id));

    // Nadia's national communication room is end-to-end encrypted; the bot reads the message
    // her command answers, and copies it in clear to the federation's announcements (and mail).
    let bot = stack.relais.bot();
    let mut nio = EncryptingMember::start(&stack, &nadia).await;
    let room = nio.create_encrypted_room_with_alias("Communication nationale", &[], Some(&alias_local)).await;
    // A message sent before the bot came in was never encrypted for it: it says so.
    let before = nio.send(&room, "Note interne d'avant l'arrivée du bot").await;
    nio.invite(&room, &bot).await;
    stack.synapse.wait_joined(&nadia, &room, &bot).await;
    assert_eq!(wire_type(&stack, &room, &before).await, "m.room.encrypted");
    let answer = diffuse(&stack, &mut nio, &room, &before).await;
    assert!(answer.contains("n'a pas pu le lire"), "{answer}");

    let appeal = nio.send(&room, "Grande marche pour les salaires samedi 14h !").await;
    let answer = diffuse(&stack, &mut nio, &room, &appeal).await;
    assert!(answer.contains("Diffusé dans 1 salon(s)"), "{answer}");
    let announcements = stack.bot().resolve("#relais_nord.annonces:pcf.test").await;
    let copies = stack.bot().messages(&announcements, 20).await;
    assert!(
        copies.iter().any(|e| e["type"] == "m.room.message"
            && e["content"]["body"].as_str().unwrap_or_default().contains("Grande marche pour les salaires")),
        "{copies:?}"
    );
}
