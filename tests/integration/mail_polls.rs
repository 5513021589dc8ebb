//! Email-only members at parity, on the real Synapse and a real SMTP server: they answer an
//! ordinary poll from the mail (one personal link per answer; opening one records nothing;
//! confirming it in Chromium records the answer, counted like a Matrix vote by `relais poll results`;
//! changeable until the close, refused after it), and read and search the list's archive.

use std::time::Duration;

use serde_json::Value;

use crate::{
    common::{RelaisOptions, Stack, eventually, free_port, mail::wait_mail, smtp::SmtpSink},
    referents::{Browser, redirectless},
    secret_ballot::{HEADER, JEANNE, SECTION, Voters, provision},
};

fn results(stack: &Stack, poll: &str) -> Value {
    let (status, out, err) = stack.relais.cli(&["poll", "results", poll, "--json"]);
    assert!(status.success(), "{out}{err}");
    serde_json::from_str(&out).expect("results json")
}

/// A stack whose mail bridge sends each message as it comes, to a real SMTP server.
async fn mail_stack() -> (SmtpSink, Stack) {
    let smtp = SmtpSink::start().await;
    let env = vec![
        ("RELAIS_MAIL__DOMAIN".to_owned(), "listes.pcf.test".to_owned()),
        ("RELAIS_MAIL__INBOUND_BIND".to_owned(), format!("127.0.0.1:{}", free_port())),
        ("RELAIS_MAIL__SECRET".to_owned(), "mail-secret-for-this-test-only".to_owned()),
        ("RELAIS_MAIL__AUTHSERV_ID".to_owned(), "mx.pcf.test".to_owned()),
        ("RELAIS_MAIL__DEFAULT_MODE".to_owned(), "message".to_owned()),
    ];
    let stack = Stack::start(RelaisOptions { smtp_url: Some(smtp.url()), env, ..Default::default() }).await;
    (smtp, stack)
}

async fn confirm(link: &str, choice: &str) -> (u16, String) {
    let base = link.split('?').next().unwrap_or(link);
    let response = reqwest::Client::new().post(base).form(&[("choix", choice)]).send().await.expect("post");
    (response.status().as_u16(), response.text().await.expect("page"))
}

#[tokio::test]
async fn an_email_only_member_votes_from_the_mail_and_is_counted_like_everyone() {
    let (smtp, stack) = mail_stack().await;
    let Voters { paul, .. } = provision(&stack).await;
    let bot = stack.relais.bot();
    let room = paul.resolve(SECTION).await;
    let ask = paul.send_text(&room, "!sondage \"Date de l'AG ?\" \"Le 12\" \"Le 19\"").await;
    let opened = paul.wait_reply(&room, &bot, &ask).await;
    assert!(opened.contains("4 adhérent(s)"), "Paul, Sophie, Karim and Jeanne by mail: {opened}");

    let mail = wait_mail(&smtp, JEANNE, "Sondage : Date de l'AG ?").await;
    let prefix = format!("{}/relais/sondage/", stack.relais.web_url);
    let link_of = |n: u32| {
        let line = mail.text.lines().find(|l| l.contains(&prefix) && l.ends_with(&format!("?choix={n}")));
        let line = line.unwrap_or_else(|| panic!("no link for answer {n} in:\n{}", mail.text));
        line[line.find(&prefix).expect("link")..].to_owned()
    };
    let (first, second) = (link_of(1), link_of(2));
    let poll = {
        let events = paul.messages(&room, 50).await;
        let start = events.iter().find(|e| e["type"] == "org.matrix.msc3381.poll.start").expect("the poll");
        start["event_id"].as_str().expect("id").to_owned()
    };

    // Opening the link (what a mail scanner does) records nothing.
    let page = reqwest::get(&second).await.expect("page");
    assert_eq!(page.status().as_u16(), 200);
    let page = page.text().await.expect("html");
    assert!(page.contains("Date de l'AG ?") && page.contains("Confirmer ma réponse"), "{page}");
    assert!(page.contains("value=\"2\" id=\"choix2\" checked"), "the link's answer is chosen: {page}");
    assert_eq!(results(&stack, &poll)["voted"], 0);

    // In Chromium, Jeanne follows the link and confirms.
    let out = crate::browser::artifacts().display().to_string();
    let seen = crate::browser::browse(&["vote", &second, &out]).await;
    assert_eq!(seen["chosen"], "2", "{seen}");
    assert!(seen["text"].as_str().unwrap_or_default().contains("Votre réponse est enregistrée"), "{seen}");
    let counted = results(&stack, &poll);
    assert_eq!(
        (counted["voted"].clone(), counted["answers"][1]["count"].clone()),
        (1.into(), 1.into()),
        "{counted}"
    );
    // Changed until the close: the latest counts.
    assert_eq!(confirm(&first, "1").await.0, 200);
    let counted = results(&stack, &poll);
    assert_eq!(counted["answers"][0]["count"], 1, "{counted}");
    assert_eq!(counted["answers"][1]["count"], 0, "{counted}");
    assert_eq!(confirm(&first, "7").await.0, 422, "not an answer");
    // A link altered by hand opens nothing.
    let forged = first.replacen("choix=1", "", 1).replace(".1002.", ".1003.");
    assert_eq!(reqwest::get(&forged).await.expect("forged").status().as_u16(), 404);

    let close = paul.send_text(&room, "!sondage clore").await;
    paul.wait_reply(&room, &bot, &close).await;
    eventually("closed", Duration::from_secs(30), || async {
        (confirm(&second, "2").await.0 == 410).then_some(())
    })
    .await;
    let final_count = results(&stack, &poll);
    assert_eq!(final_count["voted"], 1, "{final_count}");
    assert_eq!(final_count["answers"][0]["count"], 1, "Jeanne's last answer stands: {final_count}");
}

/// Sophie, on the chat, signs in to the archives with her Matrix account and reaches her
/// section's; a wrong password or an account of no member opens nothing.
async fn chat_member_signs_in_to_the_archives(stack: &Stack, sophie: &crate::common::Member, out: &str) {
    let form = format!("{}/relais/archives", stack.relais.web_url);
    let seen = crate::browser::browse(&["url", &form, out, "archives-sign-in"]).await;
    assert!(seen["text"].as_str().unwrap_or_default().contains("Voir mes archives"), "{seen}");
    let http = reqwest::Client::new();
    let sign_in = |id: String, password: String| {
        let http = http.clone();
        let url = format!("{}/relais/archives", stack.relais.web_url);
        async move {
            let answer = http
                .post(url)
                .form(&[("identifiant", id), ("mot_de_passe", password)])
                .send()
                .await
                .expect("sign in");
            (answer.status().as_u16(), answer.text().await.expect("html"))
        }
    };
    let (status, wrong) = sign_in(sophie.user_id.clone(), "not her password".into()).await;
    assert_eq!(status, 401, "{wrong}");
    assert!(wrong.contains("Identifiant ou mot de passe incorrect"), "{wrong}");
    let stranger = stack.synapse.register(&crate::common::unique("stranger")).await;
    let (status, refused) = sign_in(stranger.user_id.clone(), stranger.password()).await;
    assert_eq!(status, 403, "an account of no member: {refused}");
    let (status, mine) = sign_in(sophie.user_id.clone(), sophie.password()).await;
    assert_eq!(status, 200, "{mine}");
    let link = mine
        .split("href=\"")
        .filter_map(|part| part.split_once("\">Section Lille (Nord)<").map(|(href, _)| href))
        .find(|href| href.starts_with("/relais/archives/"))
        .unwrap_or_else(|| panic!("a link to her section's archive: {mine}"));
    let page = reqwest::get(format!("{}{link}", stack.relais.web_url)).await.expect("archive");
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.expect("html").contains("J'apporte les tracts"), "her own archive opens");
}

/// The list's web archive, reached from the mail's `List-Archive`: the thread with its author
/// and date, and a search that finds a word; another member's or a forged link opens nothing.
#[tokio::test]
async fn an_email_only_member_reads_and_searches_the_lists_archive() {
    let (smtp, stack) = mail_stack().await;
    let Voters { paul, sophie, .. } = provision(&stack).await;
    let room = paul.resolve(SECTION).await;
    let root = paul.send_text(&room, "La réunion de section aura lieu jeudi à 18h.").await;
    let reply = serde_json::json!({"msgtype": "m.text", "body": "J'apporte les tracts.",
        "m.relates_to": {"m.in_reply_to": {"event_id": root}}});
    sophie.send_content(&room, reply).await;
    let mail = wait_mail(&smtp, JEANNE, "J'apporte les tracts").await;
    let archive = mail.header("List-Archive").expect("List-Archive");
    let archive = archive.trim_start_matches('<').trim_end_matches('>').to_owned();
    assert!(archive.starts_with(&format!("{}/relais/archives/", stack.relais.web_url)), "{archive}");
    assert!(mail.text.contains(&format!("Archives de la liste : {archive}")), "{}", mail.text);

    // The root's copy may be stored a moment after the reply's mail left (each event is
    // handled on its own, a retried one later): the archive shows both once they are.
    let page = crate::common::eventually(
        "the thread in the archive",
        std::time::Duration::from_secs(30),
        || async {
            let page = reqwest::get(&archive).await.expect("archive");
            assert_eq!(page.status().as_u16(), 200);
            let page = page.text().await.expect("html");
            page.contains("La réunion de section").then_some(page)
        },
    )
    .await;
    let (thread, answer) = (
        page.find("La réunion de section").expect("the root"),
        page.find("J'apporte les tracts").expect("the reply"),
    );
    assert!(thread < answer, "the thread in order: {page}");
    assert!(page.contains("Paul Durand") && page.contains("Sophie Blanc"), "the authors by name: {page}");
    let found =
        reqwest::get(format!("{archive}?q=R%C3%89UNION")).await.expect("search").text().await.expect("html");
    assert!(found.contains("1 message(s) trouvé(s)") && found.contains("La réunion de section"), "{found}");
    let none =
        reqwest::get(format!("{archive}?q=banquet")).await.expect("search").text().await.expect("html");
    assert!(none.contains("0 message(s) trouvé(s)"), "{none}");
    let forged = archive.replacen(".1002.", ".1003.", 1);
    assert_eq!(reqwest::get(&forged).await.expect("forged").status().as_u16(), 404);
    let out = crate::browser::artifacts().display().to_string();
    let seen =
        crate::browser::browse(&["url", &format!("{archive}?q=réunion"), &out, "archive-search"]).await;
    assert!(seen["text"].as_str().unwrap_or_default().contains("La réunion de section"), "{seen}");
    crate::browser::browse(&["url", &archive, &out, "archive-threads"]).await;

    chat_member_signs_in_to_the_archives(&stack, &sophie, &out).await;

    // A referent prints the week of the section for a member who reads on paper.
    let lucie = stack.synapse.register(&crate::common::unique("lucie")).await;
    let (paul_id, sophie_id) = (paul.user_id.clone(), sophie.user_id.clone());
    let csv = format!(
        "{HEADER}1001;Paul;Durand;paul@example.org;Nord;Lille;Secrétaire de section;oui;{paul_id};messagerie\n\
         1002;Jeanne;Martin;{JEANNE};Nord;Lille;;oui;;courriel\n\
         1003;Sophie;Blanc;sophie@example.org;Nord;Lille;;oui;{sophie_id};messagerie\n\
         1005;Lucie;Garnier;lucie@example.org;Nord;Lille;Référente numérique;oui;{};messagerie\n",
        lucie.user_id
    );
    let file = stack.relais.dir.path().join("with-lucie.csv");
    std::fs::write(&file, csv).expect("csv");
    let (status, out, err) = stack.relais.cli(&["provision", &file.display().to_string(), "--force"]);
    assert!(status.success(), "{out}{err}");
    let mut browser = Browser { http: redirectless(), base: stack.relais.web_url.clone(), cookie: None };
    assert_eq!(browser.sign_in(&lucie.user_id, &lucie.password()).await, 303);
    let (_, dashboard) = browser.get("/relais/referent").await;
    assert!(dashboard.contains("Résumés à imprimer") && dashboard.contains("papier?salon="), "{dashboard}");
    let (status, week) = browser.get("/relais/referent/papier?salon=nord-lille").await;
    assert_eq!(status, 200, "{week}");
    assert!(week.contains("La réunion de section") && week.contains("Sophie Blanc"), "{week}");
    let (status, _) = browser.get("/relais/referent/papier?salon=paris-11e").await;
    assert_eq!(status, 404, "not a list of her federation");
}
