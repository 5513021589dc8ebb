//! A member without a Matrix account: provisioning emails an invitation through a real SMTP
//! server; the link opens the account page; the account is created on the real Synapse, and the
//! member finds their federation space and section room.

use crate::common::{Member, RelaisOptions, Stack, smtp::SmtpSink, unique};

const HEADER: &str = "N° adhérent;Prénom;Nom;Courriel;Fédération;Section;Cotisation à jour;Identifiant Matrix;Préférence de contact\n";

/// The invitation link in a raw email.
fn link(mail: &str, web_url: &str) -> String {
    let start = mail.find(&format!("{web_url}/inscription/")).expect("the mail has the link");
    mail[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || ":/._-".contains(*c)).collect()
}

async fn login(stack: &Stack, user: &str, password: &str) -> Member {
    let body = serde_json::json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password});
    let resp = reqwest::Client::new()
        .post(format!("{}/_matrix/client/v3/login", stack.synapse.url))
        .json(&body)
        .send()
        .await
        .expect("login");
    assert!(resp.status().is_success(), "login {user}: {}", resp.status());
    let json: serde_json::Value = resp.json().await.expect("login json");
    Member::new(
        &stack.synapse.url,
        json["user_id"].as_str().expect("user_id"),
        json["access_token"].as_str().expect("token"),
    )
}

#[tokio::test]
async fn an_invited_member_creates_an_account_and_finds_their_rooms() {
    let smtp = SmtpSink::start().await;
    let stack = Stack::start(RelaisOptions { smtp_url: Some(smtp.url()), ..Default::default() }).await;
    let address = format!("{}@example.org", unique("lucie"));
    let csv = format!("{HEADER}041;Lucie;Garnier;{address};Nord;Lille;oui;;messagerie\n");
    let file = stack.relais.dir.path().join("members.csv");
    std::fs::write(&file, &csv).expect("csv");
    let file = file.display().to_string();
    let (status, stdout, stderr) = stack.relais.cli(&["provision", &file, "--json"]);
    assert!(status.success(), "{stdout}\n{stderr}");
    let out: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(out["summary"]["send_invitation"], 1, "{out}");

    let mail = smtp.wait_for(&address).await;
    assert!(mail.contains("Subject: Votre invitation") || mail.contains("Subject: =?utf-8?"), "{mail}");
    let url = link(&mail, &stack.relais.web_url);
    let http = reqwest::Client::new();
    let page = http.get(&url).send().await.expect("page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("Créer votre compte") && html.contains("lucie.garnier"), "{html}");

    let username = unique("lucie");
    let mismatch = [
        ("nom_utilisateur", username.as_str()),
        ("mot_de_passe", "correct-horse-1"),
        ("confirmation", "correct-horse-2"),
    ];
    let resp = http.post(&url).form(&mismatch).send().await.expect("post");
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.expect("html").contains("ne sont pas identiques"));

    let form = [
        ("nom_utilisateur", username.as_str()),
        ("mot_de_passe", "correct-horse-1"),
        ("confirmation", "correct-horse-1"),
    ];
    let resp = http.post(&url).form(&form).send().await.expect("post");
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.expect("html");
    assert!(html.contains("Compte créé") && html.contains(&format!("@{username}:pcf.test")), "{html}");

    let lucie = login(&stack, &username, "correct-horse-1").await;
    assert_eq!(lucie.try_join("#relais_nord:pcf.test").await, 200, "invited into the federation space");
    assert_eq!(lucie.try_join("#relais_nord.discussion:pcf.test").await, 200);
    assert_eq!(lucie.try_join("#relais_nord.s.lille:pcf.test").await, 200, "and into her section");

    assert_eq!(http.get(&url).send().await.expect("again").status(), 410, "the link works once");
    let (status, stdout, _) = stack.relais.cli(&["provision", &file, "--json"]);
    assert!(status.success());
    let out: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert!(out["summary"]["send_invitation"].is_null(), "no second invitation: {out}");
    assert!(out["summary"]["kick"].is_null(), "her linked account keeps its access: {out}");
    assert_eq!(smtp.messages().len(), 1);
}

#[tokio::test]
async fn one_link_posted_in_parallel_creates_one_account() {
    let smtp = SmtpSink::start().await;
    let stack = Stack::start(RelaisOptions { smtp_url: Some(smtp.url()), ..Default::default() }).await;
    let address = format!("{}@example.org", unique("marc"));
    let file = stack.relais.dir.path().join("members.csv");
    std::fs::write(&file, format!("{HEADER}042;Marc;Petit;{address};Nord;Lille;oui;;messagerie\n"))
        .expect("csv");
    let (status, stdout, stderr) = stack.relais.cli(&["provision", &file.display().to_string()]);
    assert!(status.success(), "{stdout}\n{stderr}");
    let url = link(&smtp.wait_for(&address).await, &stack.relais.web_url);

    // Eight posts of the same link at once, each asking for its own account.
    let names: Vec<String> = (0..8).map(|_| unique("marc")).collect();
    let http = reqwest::Client::new();
    let posts = names.iter().map(|name| {
        let (http, url) = (http.clone(), url.clone());
        let form = [
            ("nom_utilisateur", name.clone()),
            ("mot_de_passe", "correct-horse-1".into()),
            ("confirmation", "correct-horse-1".into()),
        ];
        async move { http.post(&url).form(&form).send().await.expect("post").status().as_u16() }
    });
    let statuses = futures_util::future::join_all(posts).await;
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| [200, 409, 410].contains(s)), "{statuses:?}");

    // Only one of the names exists on the homeserver.
    let mut created = 0;
    for name in &names {
        let body = serde_json::json!({"type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": name}, "password": "correct-horse-1"});
        let resp =
            http.post(format!("{}/_matrix/client/v3/login", stack.synapse.url)).json(&body).send().await;
        created += usize::from(resp.expect("login").status().is_success());
    }
    assert_eq!(created, 1, "one account per link");
}
