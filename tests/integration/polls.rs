//! Polls against the real Synapse, answered the way Element does by matrix-nio (an independent
//! client): a voter list frozen from the membership file, an ineligible guest, a changed vote, a
//! deadline with its reminder, quorum, a late vote, `relais poll results`, and refusals.

use std::time::Duration;

use crate::common::{Member, RelaisOptions, Stack, eventually, synapse::python, unique};
use serde_json::Value;

const SECTION: &str = "#relais_nord.s.lille:pcf.test";

/// Votes with matrix-nio; each answer after the first changes the vote.
async fn vote(stack: &Stack, member: &Member, room: &str, poll: &str, answers: &[&str]) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/nio_voter.py");
    let out = tokio::process::Command::new(python())
        .arg(script)
        .args([stack.synapse.url.as_str(), member.user_id.as_str(), &member.password(), room, poll])
        .args(answers)
        .output()
        .await
        .expect("run nio");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "nio: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.trim()).expect("nio output")
}

/// Events of `kind` sent by the bot in `room`, oldest first.
async fn bot_events(stack: &Stack, member: &Member, room: &str, kind: &str) -> Vec<Value> {
    let bot = stack.relais.bot();
    member
        .messages(room, 200)
        .await
        .into_iter()
        .filter(|e| e["sender"] == bot.as_str() && e["type"] == kind)
        .collect()
}

/// The bot's welcome notices in `room`.
async fn welcomes(stack: &Stack, member: &Member, room: &str) -> Vec<String> {
    let notices = bot_events(stack, member, room, "m.room.message").await;
    notices
        .iter()
        .filter_map(|e| e["content"]["body"].as_str())
        .filter(|b| b.starts_with("Bienvenue"))
        .map(str::to_owned)
        .collect()
}

fn results(stack: &Stack, poll: &str) -> Value {
    let (status, out, err) = stack.relais.cli(&["poll", "results", poll, "--json"]);
    assert!(status.success(), "{out}{err}");
    serde_json::from_str(&out).expect("results json")
}

struct Section {
    paul: Member,
    sophie: Member,
    karim: Member,
    guest: Member,
    room: String,
}

/// Paul (section secretary, a moderator), Sophie and Karim in the Lille section room, and a
/// guest Paul let in who is not on the membership file.
async fn section(stack: &Stack) -> Section {
    let paul = stack.synapse.register(&unique("paul")).await;
    let sophie = stack.synapse.register(&unique("sophie")).await;
    let karim = stack.synapse.register(&unique("karim")).await;
    let guest = stack.synapse.register(&unique("invite")).await;
    let csv = format!(
        "N° adhérent;Prénom;Nom;Fédération;Section;Responsabilités;Cotisation à jour;Identifiant Matrix\n\
         1;Paul;Durand;Nord;Lille;Secrétaire de section;oui;{}\n2;Sophie;Blanc;Nord;Lille;;oui;{}\n\
         3;Karim;Benali;Nord;Lille;;oui;{}\n",
        paul.user_id, sophie.user_id, karim.user_id
    );
    let file = stack.relais.dir.path().join("members.csv");
    std::fs::write(&file, csv).expect("csv");
    let (status, out, err) = stack.relais.cli(&["provision", &file.display().to_string()]);
    assert!(status.success(), "{out}{err}");
    for member in [&paul, &sophie, &karim] {
        assert_eq!(member.try_join(SECTION).await, 200);
    }
    let room = paul.resolve(SECTION).await;
    paul.post(
        &format!("/_matrix/client/v3/rooms/{room}/invite"),
        serde_json::json!({"user_id": guest.user_id}),
    )
    .await;
    assert_eq!(guest.try_join(&room).await, 200);
    Section { paul, sophie, karim, guest, room }
}

#[tokio::test]
async fn a_poll_counts_the_files_members_once_each_until_its_deadline() {
    let stack = Stack::start(RelaisOptions::default()).await;
    let Section { paul, sophie, karim, guest, room } = section(&stack).await;
    // Each member is welcomed once, in their first room, with where to find the rest.
    let welcomed = eventually("the welcome notices", Duration::from_secs(30), || async {
        let bodies = welcomes(&stack, &paul, &room).await;
        (bodies.len() >= 3).then_some(bodies)
    })
    .await;
    assert!(
        welcomed.iter().any(|b| b.starts_with("Bienvenue Sophie !") && b.contains("« Fédération Nord »"))
    );
    let bad = paul.send_text(&room, "!sondage \"Une seule réponse ?\" \"Oui\"").await;
    assert!(paul.wait_reply(&room, &stack.relais.bot(), &bad).await.contains("au moins deux réponses"));

    let ask = paul
        .send_text(&room, "!sondage \"Date de l'AG ?\" \"Le 12\" \"Le 19\" --jusqu'à 25s --quorum 50%")
        .await;
    let opened = paul.wait_reply(&room, &stack.relais.bot(), &ask).await;
    assert!(opened.contains("3 adhérent(s)"), "Paul, Sophie, Karim — not the guest: {opened}");
    let poll = bot_events(&stack, &paul, &room, "org.matrix.msc3381.poll.start").await;
    let poll = poll.first().and_then(|e| e["event_id"].as_str()).expect("poll start event").to_owned();

    let seen = vote(&stack, &sophie, &room, &poll, &["Le 12", "Le 19"]).await;
    assert_eq!(seen["question"], "Date de l'AG ?");
    vote(&stack, &karim, &room, &poll, &["Le 19"]).await;
    vote(&stack, &guest, &room, &poll, &["Le 12"]).await;
    let so_far = eventually("three responses recorded", Duration::from_secs(30), || async {
        let r = results(&stack, &poll);
        (r["ignored"] == 1 && r["voted"] == 2).then_some(r)
    })
    .await;
    assert_eq!(so_far["answers"][1]["count"], 2, "Sophie's changed vote and Karim's: {so_far}");

    // The deadline: a reminder, then the native end event with the results.
    let reminder = eventually("the reminder", Duration::from_secs(60), || async {
        let notices = bot_events(&stack, &paul, &room, "m.room.message").await;
        notices.into_iter().find_map(|e| {
            e["content"]["body"].as_str().filter(|b| b.starts_with("Rappel")).map(str::to_owned)
        })
    })
    .await;
    assert!(reminder.contains("Date de l'AG ?"), "{reminder}");
    let end = eventually("the poll closed at its deadline", Duration::from_secs(60), || async {
        bot_events(&stack, &paul, &room, "org.matrix.msc3381.poll.end").await.into_iter().next()
    })
    .await;
    assert_eq!(end["content"]["m.relates_to"]["event_id"], poll.as_str());
    let text = end["content"]["org.matrix.msc1767.text"].as_str().unwrap_or_default();
    assert!(
        text.contains("Le 19 : 2")
            && text.contains("Participation : 2 sur 3")
            && text.contains("Quorum atteint"),
        "{text}"
    );

    // A vote after closing is set apart.
    vote(&stack, &karim, &room, &poll, &["Le 12"]).await;
    let last = eventually("the late vote recorded", Duration::from_secs(30), || async {
        let r = results(&stack, &poll);
        (r["ignored"] == 2).then_some(r)
    })
    .await;
    assert_eq!((last["eligible"].as_u64(), last["voted"].as_u64()), (Some(3), Some(2)));
    assert_eq!(last["answers"][1]["count"], 2, "the closed count stands: {last}");
    assert_eq!(last["quorum_reached"], true);
    assert_eq!(last["winner"], "Le 19");

    // Closing by command: refused to a member, done by the author.
    let second = paul.send_text(&room, "!sondage \"Covoiturage ?\" \"Oui\" \"Non\"").await;
    paul.wait_reply(&room, &stack.relais.bot(), &second).await;
    let refused = sophie.send_text(&room, "!sondage clore").await;
    assert!(sophie.wait_reply(&room, &stack.relais.bot(), &refused).await.contains("Seuls l'auteur"));
    let close = paul.send_text(&room, "!poll close").await;
    assert!(paul.wait_reply(&room, &stack.relais.bot(), &close).await.contains("Sondage clos"));
    let ends = bot_events(&stack, &paul, &room, "org.matrix.msc3381.poll.end").await;
    assert_eq!(ends.len(), 2, "one end event per poll");
    assert_eq!(welcomes(&stack, &paul, &room).await.len(), 3, "once each; the guest is not on the file");
}
