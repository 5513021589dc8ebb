//! A secret ballot against the real Synapse and a real SMTP server: Matrix members get their
//! personal link by direct message from the bot, an email-only member by mail; each votes on
//! Relais's page and gets a receipt; the room sees only the turnout until closing, then the
//! count and every receipt with its choice. The database is then read row by row to prove that
//! nothing links a voter to a choice.

use std::time::Duration;

use crate::common::{
    Member, RelaisOptions, Stack, eventually, free_port, mail::wait_mail, smtp::SmtpSink, synapse::python,
    unique,
};
use serde_json::Value;

pub(crate) const HEADER: &str = "N° adhérent;Prénom;Nom;Courriel;Fédération;Section;Responsabilités;Cotisation à jour;Identifiant Matrix;Préférence de contact\n";
pub(crate) const SECTION: &str = "#relais_nord.s.lille:pcf.test";
pub(crate) const JEANNE: &str = "jeanne.martin@example.org";

/// The ballot link the bot sent `member` in a direct message (joining the DM first).
async fn ballot_link_by_dm(member: &Member, prefix: &str) -> String {
    ballot_dm(member, prefix).await.1
}

/// The direct room the bot invited `member` to (joined), and the ballot link in it.
async fn ballot_dm(member: &Member, prefix: &str) -> (String, String) {
    let dm = eventually("the bot's direct message", Duration::from_secs(60), || async {
        let sync = member.get("/_matrix/client/v3/sync?timeout=0").await;
        let invites = sync["rooms"]["invite"].as_object()?.clone();
        invites.into_iter().find_map(|(room, invite)| {
            let state = invite["invite_state"]["events"].as_array()?.clone();
            let direct = state.iter().any(|e| {
                e["type"] == "m.room.member"
                    && e["state_key"] == member.user_id.as_str()
                    && e["content"]["is_direct"] == true
            });
            direct.then_some(room)
        })
    })
    .await;
    assert_eq!(member.try_join(&dm).await, 200);
    let link = eventually("the ballot link", Duration::from_secs(60), || async {
        links_in(member, &dm, prefix).await.into_iter().next()
    })
    .await;
    (dm, link)
}

/// Every ballot link `member` can read in `room`.
async fn links_in(member: &Member, room: &str, prefix: &str) -> Vec<String> {
    let messages = member.messages(room, 50).await;
    messages
        .iter()
        .filter_map(|e| {
            let body = e["content"]["body"].as_str()?;
            let start = body.find(prefix)?;
            Some(body[start..].split_whitespace().next()?.to_owned())
        })
        .collect()
}

/// Votes for the answers numbered `choices` on the ballot page: (status, page).
async fn vote(link: &str, choices: &[u32]) -> (u16, String) {
    let form: Vec<(&str, String)> = choices.iter().map(|c| ("choix", c.to_string())).collect();
    let resp = reqwest::Client::new().post(link).form(&form).send().await.expect("vote");
    (resp.status().as_u16(), resp.text().await.expect("page"))
}

fn receipt_of(page: &str) -> String {
    let start = page.find("id=\"recu\">").expect("a receipt") + "id=\"recu\">".len();
    page[start..start + 9].to_owned()
}

/// Every row of every table of the SQLite database, as text.
fn dump(db: &std::path::Path) -> Vec<(String, String)> {
    let script = "import sqlite3, sys, json\n\
        c = sqlite3.connect(sys.argv[1])\n\
        out = []\n\
        for (t,) in c.execute(\"SELECT name FROM sqlite_master WHERE type='table'\"):\n\
        \x20   for row in c.execute('SELECT * FROM \"%s\"' % t):\n\
        \x20       out.append([t, json.dumps([str(v) for v in row], ensure_ascii=False)])\n\
        print(json.dumps(out, ensure_ascii=False))\n";
    let out = std::process::Command::new(python()).args(["-c", script]).arg(db).output().expect("python");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice::<Vec<(String, String)>>(&out.stdout).expect("dump")
}

/// No row anywhere holds both someone who voted and a receipt or a choice.
fn assert_unlinked(db: &std::path::Path, voters: &[&str], receipts: &[&str]) {
    let rows = dump(db);
    assert!(rows.iter().any(|(t, _)| t == "secret_ballot") && rows.iter().any(|(t, _)| t == "secret_voter"));
    for (table, row) in &rows {
        let names = voters.iter().any(|v| row.contains(v));
        let choice =
            receipts.iter().any(|r| row.contains(r)) || (table == "secret_ballot" && row.contains("\"r"));
        assert!(!(names && choice), "{table} links a voter to a choice: {row}");
    }
}

pub(crate) struct Voters {
    pub(crate) paul: Member,
    pub(crate) sophie: Member,
    pub(crate) karim: Member,
}

pub(crate) async fn provision(stack: &Stack) -> Voters {
    let voters = Voters {
        paul: stack.synapse.register(&unique("paul")).await,
        sophie: stack.synapse.register(&unique("sophie")).await,
        karim: stack.synapse.register(&unique("karim")).await,
    };
    let csv = format!(
        "{HEADER}1001;Paul;Durand;paul@example.org;Nord;Lille;Secrétaire de section;oui;{};messagerie\n\
         1002;Jeanne;Martin;{JEANNE};Nord;Lille;;oui;;courriel\n\
         1003;Sophie;Blanc;sophie@example.org;Nord;Lille;;oui;{};messagerie\n\
         1004;Karim;Benali;karim@example.org;Nord;Lille;;oui;{};messagerie\n",
        voters.paul.user_id, voters.sophie.user_id, voters.karim.user_id
    );
    let file = stack.relais.dir.path().join("members.csv");
    std::fs::write(&file, csv).expect("csv");
    let (status, out, err) = stack.relais.cli(&["provision", &file.display().to_string()]);
    assert!(status.success(), "{out}{err}");
    for member in [&voters.paul, &voters.sophie, &voters.karim] {
        assert_eq!(member.try_join(SECTION).await, 200);
    }
    voters
}

#[tokio::test]
async fn a_secret_ballot_counts_every_vote_and_links_no_voter_to_a_choice() {
    let smtp = SmtpSink::start().await;
    let env = vec![
        ("RELAIS_MAIL__DOMAIN".to_owned(), "listes.pcf.test".to_owned()),
        ("RELAIS_MAIL__INBOUND_BIND".to_owned(), format!("127.0.0.1:{}", free_port())),
        ("RELAIS_MAIL__SECRET".to_owned(), "mail-secret-for-this-test-only".to_owned()),
        ("RELAIS_MAIL__AUTHSERV_ID".to_owned(), "mx.pcf.test".to_owned()),
    ];
    let stack = Stack::start(RelaisOptions { smtp_url: Some(smtp.url()), env, ..Default::default() }).await;
    let Voters { paul, sophie, karim } = provision(&stack).await;
    let bot = stack.relais.bot();
    let room = paul.resolve(SECTION).await;

    let ask = paul
        .send_text(&room, "!sondage \"Adopter le budget ?\" \"Pour\" \"Contre\" \"Abstention\" --secret")
        .await;
    let opened = paul.wait_reply(&room, &bot, &ask).await;
    assert!(opened.contains("Vote secret ouvert : 4 votant(s), dont 1 par courriel"), "{opened}");

    let prefix = format!("{}/relais/vote/", stack.relais.web_url);
    let sophie_link = ballot_link_by_dm(&sophie, &prefix).await;
    let karim_link = ballot_link_by_dm(&karim, &prefix).await;
    let paul_link = ballot_link_by_dm(&paul, &prefix).await;
    let jeanne_link = wait_mail(&smtp, JEANNE, "Votre bulletin de vote").await.link(&prefix);
    assert!(
        reqwest::get(&sophie_link)
            .await
            .expect("page")
            .text()
            .await
            .expect("html")
            .contains("Adopter le budget ?")
    );

    let (status, page) = vote(&sophie_link, &[9]).await;
    assert_eq!(status, 422, "{page}");
    let (status, page) = vote(&sophie_link, &[1, 2]).await;
    assert!(status == 422 && page.contains("Choisissez une réponse"), "{page}");
    let sophie_receipt = receipt_of(&vote(&sophie_link, &[1]).await.1);
    let karim_receipt = receipt_of(&vote(&karim_link, &[2]).await.1);
    let jeanne_receipt = receipt_of(&vote(&jeanne_link, &[1]).await.1);
    assert_eq!(vote(&karim_link, &[1]).await.0, 409, "one ballot per voter");
    assert_eq!(reqwest::get(format!("{prefix}0123")).await.expect("unknown").status(), 404);

    // Until closing, the room sees the turnout and nothing else.
    let announcement = eventually("the turnout", Duration::from_secs(60), || async {
        let events = paul.messages(&room, 100).await;
        let edited = events.iter().any(|e| {
            e["content"]["m.new_content"]["body"]
                .as_str()
                .is_some_and(|b| b.contains("Participation : 3 sur 4"))
        });
        let start = events.iter().find(|e| {
            e["sender"] == bot.as_str()
                && e["content"]["body"].as_str().is_some_and(|b| b.starts_with("Vote à bulletin secret"))
        });
        edited.then(|| start.and_then(|e| e["event_id"].as_str()).map(str::to_owned)).flatten()
    })
    .await;
    let seen: Vec<String> = paul.messages(&room, 100).await.iter().map(|e| e.to_string()).collect();
    assert!(!seen.iter().any(|e| e.contains(&sophie_receipt)), "no receipt before closing");

    let close = paul.send_text(&room, "!sondage clore").await;
    assert!(paul.wait_reply(&room, &bot, &close).await.contains("Sondage clos"));
    let results = paul.wait_reply(&room, &bot, &announcement).await;
    assert!(results.contains("• Pour : 2") && results.contains("• Contre : 1"), "{results}");
    assert!(results.contains("Participation : 3 sur 4"), "{results}");
    for (receipt, choice) in
        [(&sophie_receipt, "Pour"), (&karim_receipt, "Contre"), (&jeanne_receipt, "Pour")]
    {
        assert!(results.contains(&format!("{receipt} : {choice}")), "{receipt} in {results}");
    }
    assert_eq!(vote(&paul_link, &[3]).await.0, 410, "closed");

    let (status, out, err) = stack.relais.cli(&["poll", "results", &announcement, "--json"]);
    assert!(status.success(), "{err}");
    let json: Value = serde_json::from_str(&out).expect("json");
    assert_eq!((json["eligible"].as_u64(), json["voted"].as_u64()), (Some(4), Some(3)), "{json}");
    assert_eq!(json["receipts"].as_array().map(Vec::len), Some(3));

    let voters = [sophie.user_id.as_str(), karim.user_id.as_str(), JEANNE];
    let receipts = [sophie_receipt.as_str(), karim_receipt.as_str(), jeanne_receipt.as_str()];
    assert_unlinked(&stack.relais.dir.path().join("relais.db"), &voters, &receipts);
    let log = stack.relais.log();
    assert!(!receipts.iter().any(|r| log.contains(r)), "receipts never reach the log");
}

/// A ballot link is a vote: it goes only where the member alone reads it. Sophie let someone
/// into her direct room with the bot, Karim left his: the next ballots come in new rooms, and
/// Sophie's guest reads none of them.
#[tokio::test]
async fn a_ballot_goes_only_where_the_member_alone_reads_it() {
    let stack = Stack::start(RelaisOptions::default()).await;
    let Voters { paul, sophie, karim } = provision(&stack).await;
    let eve = stack.synapse.register(&unique("eve")).await;
    let bot = stack.relais.bot();
    let room = paul.resolve(SECTION).await;
    let prefix = format!("{}/relais/vote/", stack.relais.web_url);
    let secret = |question: &str| format!("!sondage \"{question}\" \"Pour\" \"Contre\" --secret");

    let ask = paul.send_text(&room, &secret("Adopter le budget ?")).await;
    paul.wait_reply(&room, &bot, &ask).await;
    let (sophie_dm, _) = ballot_dm(&sophie, &prefix).await;
    let (karim_dm, _) = ballot_dm(&karim, &prefix).await;
    sophie
        .post(
            &format!("/_matrix/client/v3/rooms/{sophie_dm}/invite"),
            serde_json::json!({"user_id": eve.user_id}),
        )
        .await;
    assert_eq!(eve.try_join(&sophie_dm).await, 200);
    karim.leave(&karim_dm).await;
    let close = paul.send_text(&room, "!sondage clore").await;
    paul.wait_reply(&room, &bot, &close).await;

    let ask = paul.send_text(&room, &secret("Adopter le rapport ?")).await;
    paul.wait_reply(&room, &bot, &ask).await;
    let (sophie_new, sophie_link) = ballot_dm(&sophie, &prefix).await;
    let (karim_new, karim_link) = ballot_dm(&karim, &prefix).await;
    assert!(sophie_new != sophie_dm && karim_new != karim_dm, "new direct rooms");
    assert!(
        reqwest::get(&sophie_link)
            .await
            .expect("page")
            .text()
            .await
            .expect("html")
            .contains("Adopter le rapport ?")
    );
    assert_eq!(vote(&karim_link, &[1]).await.0, 200, "Karim votes from his new room");
    assert_eq!(
        links_in(&eve, &sophie_dm, &prefix).await.len(),
        1,
        "Eve reads only the ballot sent before she came"
    );
    assert!(!eve.joined_rooms().await.contains(&sophie_new));
}
