//! Content flowing up and back down: a federation proposes a message, the national team keeps it
//! with 👍 and publishes the selection to every federation (read by matrix-nio, credited, its
//! link counted through Relais's redirect), another federation adds a local note, and the
//! statistics count readers, reactions, clicks and notes; refusals on the way.

use crate::common;

use std::time::Duration;

use crate::common::{Member, RelaisOptions, Stack, eventually, unique};
use serde_json::{Value, json};

const NORD_SECTION: &str = "#relais_nord.s.lille:pcf.test";
const PARIS_ANNOUNCEMENTS: &str = "#relais_paris.annonces:pcf.test";

fn reply_to(event_id: &str, body: &str) -> Value {
    json!({"msgtype": "m.text", "body": body, "m.relates_to": {"m.in_reply_to": {"event_id": event_id}}})
}

/// The event in `room` whose body contains `needle`, as `member` sees it.
async fn find(member: &Member, room: &str, needle: &str) -> Value {
    eventually(&format!("a message with {needle:?}"), Duration::from_secs(60), || async {
        let events = member.messages(room, 200).await;
        events.into_iter().find(|e| e["content"]["body"].as_str().is_some_and(|b| b.contains(needle)))
    })
    .await
}

struct People {
    nadia: Member,
    lucie: Member,
    paul: Member,
    marc: Member,
}

/// Lucie is the Nord digital referent (moderates Nord's rooms), Paul the Paris federation
/// secretary, Marc a Paris member; Nadia runs the national selection room.
async fn provision(stack: &Stack) -> People {
    let people = People {
        nadia: stack.synapse.register(&unique("nadia")).await,
        lucie: stack.synapse.register(&unique("lucie")).await,
        paul: stack.synapse.register(&unique("paul")).await,
        marc: stack.synapse.register(&unique("marc")).await,
    };
    let csv = format!(
        "N° adhérent;Prénom;Nom;Fédération;Section;Responsabilités;Cotisation à jour;Identifiant Matrix\n\
         1;Lucie;Garnier;Nord;Lille;Référente numérique;oui;{}\n2;Paul;Roux;Paris;Paris 11e;Secrétaire fédéral;oui;{}\n\
         3;Marc;Petit;Paris;Paris 11e;;oui;{}\n",
        people.lucie.user_id, people.paul.user_id, people.marc.user_id
    );
    let file = stack.relais.dir.path().join("members.csv");
    std::fs::write(&file, csv).expect("csv");
    let (status, out, err) = stack.relais.cli(&["provision", &file.display().to_string()]);
    assert!(status.success(), "{out}{err}");
    people
}

/// Lucie proposes a message of her section; Marc, a plain member, may not propose.
async fn propose(stack: &Stack, lucie: &Member, marc: &Member) {
    let bot = stack.relais.bot();
    assert_eq!(lucie.try_join(NORD_SECTION).await, 200);
    let section = lucie.resolve(NORD_SECTION).await;
    let party =
        lucie.send_text(&section, "Fête de la section de Lille le 12 : https://pcf-nord.test/fete").await;
    let ask = lucie.send_content(&section, reply_to(&party, "!proposer")).await;
    assert!(lucie.wait_reply(&section, &bot, &ask).await.contains("Proposition transmise"));
    assert_eq!(marc.try_join(PARIS_ANNOUNCEMENTS.replace(".annonces", "").as_str()).await, 200);
    let marc_section = marc.resolve("#relais_paris.s.paris-11e:pcf.test").await;
    assert_eq!(marc.try_join(&marc_section).await, 200);
    let own = marc.send_text(&marc_section, "Notre tract").await;
    let refused = marc.send_content(&marc_section, reply_to(&own, "!proposer")).await;
    assert!(marc.wait_reply(&marc_section, &bot, &refused).await.contains("Seuls les modérateurs"));
}

/// In the selection room: the copy and the bot's notice; Lucie may not keep, Nadia's 👍 does;
/// Nadia publishes.
async fn keep_and_publish(stack: &Stack, nadia: &Member, lucie: &Member, selection: &str) {
    let (bot, selection) = (stack.relais.bot(), selection.to_owned());
    let copy = find(nadia, &selection, "Fête de la section de Lille").await;
    let copy_id = copy["event_id"].as_str().expect("copy id").to_owned();
    let notice = find(nadia, &selection, "Proposition de la fédération Nord").await;
    assert_eq!(notice["content"]["m.relates_to"]["m.in_reply_to"]["event_id"], copy_id.as_str());
    let lucie_keeps = lucie.send_content(&selection, reply_to(&copy_id, "!retenir")).await;
    assert!(lucie.wait_reply(&selection, &bot, &lucie_keeps).await.contains("Seuls les modérateurs"));
    let help = lucie.send_text(&selection, "!aide").await;
    assert!(!lucie.wait_reply(&selection, &bot, &help).await.contains("!sélection"), "not for Lucie");
    nadia
        .send_content_of(
            &selection,
            "m.reaction",
            json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": copy_id, "key": "👍"}}),
        )
        .await;
    eventually("the 👍 answered", Duration::from_secs(60), || async {
        let replies = nadia.replies_to(&selection, &bot, &copy_id).await;
        replies
            .iter()
            .any(|e| e["content"]["body"].as_str().is_some_and(|b| b.contains("retenue")))
            .then_some(())
    })
    .await;
    let listed = nadia.send_text(&selection, "!sélection").await;
    assert!(nadia.wait_reply(&selection, &bot, &listed).await.contains("Nord — Fête de la section"));
    let publish = nadia.send_text(&selection, "!selection publier").await;
    let published = nadia.wait_reply(&selection, &bot, &publish).await;
    assert!(published.contains("Sélection publiée : 1 proposition(s) dans 2 salon(s)"), "{published}");
}

/// Marc reads the selection in Paris with matrix-nio, credited, and follows its link through
/// Relais's redirect.
async fn read_and_click(stack: &Stack, marc: &Member) {
    let bodies = common::nio::read(stack, marc, PARIS_ANNOUNCEMENTS).await;
    assert!(bodies.iter().any(|b| b.starts_with("Sélection nationale : 1 contribution")), "{bodies:?}");
    let item = bodies.iter().find(|b| b.starts_with("Fête de la section de Lille")).expect("the item");
    assert!(item.ends_with("— Proposé par la fédération Nord"), "{item}");
    assert!(!item.contains("pcf-nord.test"), "the link is rewritten: {item}");
    let prefix = format!("{}/relais/lien/", stack.relais.web_url);
    let start = item.find(&prefix).expect("redirect link");
    let link: String = item[start..].chars().take_while(|c| !c.is_whitespace()).collect();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("http");
    assert_eq!(http.head(&link).send().await.expect("head").status(), 302, "answered, not counted");
    let resp = http.get(&link).send().await.expect("click");
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.headers()["location"], "https://pcf-nord.test/fete");
    assert_eq!(http.get(format!("{prefix}00ff")).send().await.expect("unknown").status(), 404);
}

/// Paul adds a Paris note; Marc reads the copy (a read receipt); Paul reacts.
async fn note_read_react(stack: &Stack, paul: &Member, marc: &Member) {
    let bot = stack.relais.bot();
    assert_eq!(paul.try_join(PARIS_ANNOUNCEMENTS.replace(".annonces", "").as_str()).await, 200);
    assert_eq!(paul.try_join(PARIS_ANNOUNCEMENTS).await, 200);
    let paris = paul.resolve(PARIS_ANNOUNCEMENTS).await;
    let received = find(paul, &paris, "Proposé par la fédération Nord").await;
    let received_id = received["event_id"].as_str().expect("id").to_owned();
    let note = paul.send_content(&paris, reply_to(&received_id, "!compléter \"Départ en car à 9 h\"")).await;
    let note_event = find(paul, &paris, "Note de la fédération Paris : Départ en car à 9 h").await;
    assert_eq!(note_event["content"]["m.relates_to"]["m.in_reply_to"]["event_id"], received_id.as_str());
    assert!(paul.replies_to(&paris, &bot, &note).await.is_empty(), "the note is the answer");
    marc.post(&format!("/_matrix/client/v3/rooms/{paris}/receipt/m.read/{received_id}"), json!({})).await;
    paul.send_content_of(
        &paris,
        "m.reaction",
        json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": received_id, "key": "❤️"}}),
    )
    .await;
}

#[tokio::test]
async fn a_federation_proposes_the_nation_selects_and_every_federation_receives() {
    let selection_alias = unique("selection");
    let env = vec![("RELAIS_BOTS__SELECTION_ROOM".to_owned(), format!("#{selection_alias}:pcf.test"))];
    let stack = Stack::start(RelaisOptions { env, ..Default::default() }).await;
    let People { nadia, lucie, paul, marc } = provision(&stack).await;
    let bot = stack.relais.bot();
    let created = nadia
        .post(
            "/_matrix/client/v3/createRoom",
            json!({"name": "Sélection nationale", "room_alias_name": selection_alias, "invite": [bot, lucie.user_id]}),
        )
        .await;
    let selection = created["room_id"].as_str().expect("room").to_owned();
    stack.synapse.wait_joined(&nadia, &selection, &bot).await;
    assert_eq!(lucie.try_join(&selection).await, 200);

    propose(&stack, &lucie, &marc).await;
    keep_and_publish(&stack, &nadia, &lucie, &selection).await;
    read_and_click(&stack, &marc).await;
    note_read_react(&stack, &paul, &marc).await;

    let csv = eventually("the reader and the reaction counted", Duration::from_secs(60), || async {
        let (status, out, err) = stack.relais.cli(&["stats", "--csv"]);
        assert!(status.success(), "{err}");
        let line = out.lines().find(|l| l.contains("Fête de la section"))?.to_owned();
        let fields: Vec<&str> = line.split(';').collect();
        (fields[5] != "0" && fields[6] != "0").then_some(line)
    })
    .await;
    let fields: Vec<&str> = csv.split(';').collect();
    // rooms targeted;delivered;readers;reactions;clicks;mails;notes;edits;withdrawn_at;unsubscribes
    assert_eq!(&fields[3..], ["2", "2", "1", "1", "1", "0", "1", "0", "", "0"], "{csv}");
    let stats = nadia.send_text(&selection, "!stats").await;
    let answer = nadia.wait_reply(&selection, &bot, &stats).await;
    assert!(answer.contains("« Fête de la section de Lille"), "{answer}");
    assert!(answer.contains("2/2 salon(s), 1 lecteur(s), 1 réaction(s), 1 clic(s)"), "{answer}");
}
