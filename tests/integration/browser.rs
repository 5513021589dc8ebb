//! Relais's pages in a real browser: Debian's Chromium driven by playwright-core
//! (tests/browser/pages.mjs): the invitation page, the referents' page and the mail preferences
//! page, on a phone-sized screen, with a screenshot of every step kept in
//! test-artifacts/screenshots/.

use crate::common;

use std::path::PathBuf;

use crate::common::{Member, RelaisOptions, Stack, smtp::SmtpSink, unique};

pub(crate) fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-artifacts/screenshots");
    std::fs::create_dir_all(&dir).expect("artefacts dir");
    dir
}

/// Runs the browser script; returns what it printed as JSON.
pub(crate) async fn browse(args: &[&str]) -> serde_json::Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/pages.mjs");
    assert!(
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/node_modules/playwright-core"))
            .exists(),
        "playwright-core is not installed: run scripts/test.sh (npm ci --prefix tests/browser)"
    );
    let out = tokio::process::Command::new("node").arg(script).args(args).output().await.expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "browser: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("browser output is not JSON ({e}): {stdout}"))
}

fn provision(stack: &Stack, csv: &str) {
    let file = stack.relais.dir.path().join(format!("{}.csv", unique("f")));
    std::fs::write(&file, csv).expect("csv");
    let (status, stdout, stderr) = stack.relais.cli(&["provision", &file.display().to_string()]);
    assert!(status.success(), "{stdout}\n{stderr}");
}

#[tokio::test]
async fn onboarding_in_chromium() {
    let smtp = SmtpSink::start().await;
    let stack = Stack::start(RelaisOptions { smtp_url: Some(smtp.url()), ..Default::default() }).await;
    let address = format!("{}@example.org", unique("lea"));
    provision(
        &stack,
        &format!(
            "N° adhérent;Prénom;Nom;Courriel;Fédération;Section;Cotisation à jour\n51;Léa;Roux;{address};Nord;Lille;oui\n"
        ),
    );
    let mail = smtp.wait_for(&address).await;
    let start = mail.find(&format!("{}/inscription/", stack.relais.web_url)).expect("link in the mail");
    let link: String =
        mail[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || ":/._-".contains(*c)).collect();
    let username = unique("lea");
    let out = artifacts().display().to_string();
    let seen = browse(&["onboarding", &link, &username, "une-phrase-de-passe", &out]).await;
    assert_eq!(seen["title"], "Créer votre compte");
    let result = seen["result"].as_str().unwrap_or_default();
    assert!(result.contains("Votre compte") && result.contains(&format!("@{username}:pcf.test")), "{result}");
    // The account made in the browser logs in with the password typed there.
    let login = serde_json::json!({"type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": username}, "password": "une-phrase-de-passe"});
    let resp = reqwest::Client::new()
        .post(format!("{}/_matrix/client/v3/login", stack.synapse.url))
        .json(&login)
        .send()
        .await
        .expect("login");
    assert!(resp.status().is_success(), "login: {}", resp.status());
    for shot in ["onboarding-1-form.png", "onboarding-2-done.png"] {
        assert!(std::fs::metadata(artifacts().join(shot)).map(|m| m.len() > 1000).unwrap_or(false), "{shot}");
    }
}

#[tokio::test]
async fn referents_page_in_chromium() {
    let stack = Stack::start(RelaisOptions::default()).await;
    let (referent_name, other_name) = (unique("camille"), unique("karim"));
    let referent: Member = stack.synapse.register(&referent_name).await;
    let other: Member = stack.synapse.register(&other_name).await;
    let header =
        "N° adhérent;Prénom;Nom;Fédération;Section;Responsabilités;Cotisation à jour;Identifiant Matrix\n";
    provision(
        &stack,
        &format!("{header}1;Camille;Martin;Nord;Lille;Référente numérique;oui;{}\n", referent.user_id),
    );
    let export = stack.relais.dir.path().join("nord.csv");
    let csv = format!(
        "{header}1;Camille;Martin;Nord;Lille;Référente numérique;oui;{}\n2;Karim;Benali;Nord;Lille;;oui;{}\n",
        referent.user_id, other.user_id
    );
    std::fs::write(&export, csv).expect("csv");
    let out = artifacts().display().to_string();
    let password = format!("pw-{referent_name}-Relais!");
    let seen = browse(&[
        "referent",
        &stack.relais.web_url,
        &referent.user_id,
        &password,
        &export.display().to_string(),
        &out,
    ])
    .await;
    assert_eq!(seen["dashboard"], "Fédération Nord");
    let dry_run = seen["dryRun"].as_str().unwrap_or_default();
    assert!(dry_run.contains("+ Karim Benali : invité·e dans « Section Lille (Nord) »"), "{dry_run}");
    assert!(seen["after"].as_str().unwrap_or_default().contains("appliqué"));
    assert_eq!(other.try_join("#relais_nord:pcf.test").await, 200, "applied from the browser");
    for shot in ["referent-1-login", "referent-2-dashboard", "referent-3-dry-run", "referent-4-applied"] {
        let path = artifacts().join(format!("{shot}.png"));
        assert!(std::fs::metadata(&path).map(|m| m.len() > 1000).unwrap_or(false), "{}", path.display());
    }
}

/// The referents' page as an Element widget: the member's session hands an OpenID token through
/// the widget API (a stand-in for Element answers it), no password typed.
#[tokio::test]
async fn referents_page_as_an_element_widget() {
    let stack = Stack::start(RelaisOptions::default()).await;
    let referent: Member = stack.synapse.register(&unique("camille")).await;
    provision(
        &stack,
        &format!(
            "N° adhérent;Prénom;Nom;Fédération;Section;Responsabilités;Cotisation à jour;Identifiant Matrix\n\
             1;Camille;Martin;Paris;Paris 11e;Secrétaire fédéral;oui;{}\n",
            referent.user_id
        ),
    );
    let path = format!("/_matrix/client/v3/user/{}/openid/request_token", referent.user_id);
    let openid = referent.post(&path, serde_json::json!({})).await;
    let out = artifacts().display().to_string();
    let seen = browse(&["widget", &stack.relais.web_url, &openid.to_string(), &out]).await;
    assert_eq!(seen["dashboard"], "Fédération Paris", "{seen}");
    let actions: Vec<&str> =
        seen["seen"].as_array().into_iter().flatten().filter_map(|a| a.as_str()).collect();
    assert!(actions.contains(&"get_openid") && actions.contains(&"content_loaded"), "{actions:?}");
    let shot = artifacts().join("widget-1-dashboard.png");
    assert!(std::fs::metadata(&shot).map(|m| m.len() > 1000).unwrap_or(false));
}

#[tokio::test]
async fn mail_preferences_in_chromium() {
    let smtp = SmtpSink::start().await;
    let env = vec![
        ("RELAIS_MAIL__DOMAIN".to_owned(), "listes.pcf.test".to_owned()),
        ("RELAIS_MAIL__SECRET".to_owned(), "browser-test-mail-secret".to_owned()),
    ];
    let stack = Stack::start(RelaisOptions { smtp_url: Some(smtp.url()), env, ..Default::default() }).await;
    let paul: Member = stack.synapse.register(&unique("paul")).await;
    let address = format!("{}@example.org", unique("ines"));
    provision(
        &stack,
        &format!(
            "N° adhérent;Prénom;Nom;Courriel;Fédération;Section;Cotisation à jour;Identifiant Matrix;Préférence de contact\n\
             61;Paul;Durand;paul@example.org;Nord;Lille;oui;{};messagerie\n62;Inès;Haddad;{address};Nord;Lille;oui;;courriel\n",
            paul.user_id
        ),
    );
    assert_eq!(paul.try_join("#relais_nord.s.lille:pcf.test").await, 200);
    let room = paul.resolve("#relais_nord.s.lille:pcf.test").await;
    paul.send_text(&room, "Bienvenue dans la section !").await;
    // The digest carries the preferences link.
    let digest = common::eventually("Inès's digest", std::time::Duration::from_secs(60), || async {
        let (status, stdout, stderr) = stack.relais.cli(&["mail", "digest", "--now"]);
        assert!(status.success(), "{stdout}\n{stderr}");
        common::mail::mails_to(&smtp, &address).into_iter().next()
    })
    .await;
    let link = digest.link(&format!("{}/relais/courriel/", stack.relais.web_url));
    let out = artifacts().display().to_string();
    let seen = browse(&["preferences", &link, &out]).await;
    let before = seen["before"].as_str().unwrap_or_default();
    assert!(before.contains("Section Lille (Nord)") && before.contains("Nord — annonces"), "{before}");
    assert!(seen["saved"].as_str().unwrap_or_default().contains("enregistrées"), "{seen}");
    assert_eq!(seen["checked"], true, "each message is now chosen");
    assert!(seen["nothing"].as_str().unwrap_or_default().contains("plus aucun courriel"), "{seen}");
    assert_eq!(seen["none"], true);
    for shot in ["preferences-1-lists", "preferences-2-saved", "preferences-3-nothing"] {
        let path = artifacts().join(format!("{shot}.png"));
        assert!(std::fs::metadata(&path).map(|m| m.len() > 1000).unwrap_or(false), "{}", path.display());
    }
}

/// The help, terms and privacy pages Element's links open, in Chromium on a phone-sized screen.
#[tokio::test]
async fn help_terms_and_privacy_pages_in_chromium() {
    let env = vec![("RELAIS_WEB__PRIVACY_CONTACT".to_owned(), "donnees@pcf.test".to_owned())];
    let stack = Stack::start(RelaisOptions { env, ..Default::default() }).await;
    let out = artifacts().display().to_string();
    let seen = browse(&["help", &stack.relais.web_url, &out]).await;
    let text = |page: &str| seen[page]["text"].as_str().unwrap_or_default().to_owned();
    assert!(text("aide").contains("Trouver l'espace de sa fédération"), "{seen}");
    assert!(text("aide").contains("!salon"), "the bot's commands, from its own table: {seen}");
    assert!(text("conditions").contains("!signaler"), "{seen}");
    assert!(text("confidentialite").contains("donnees@pcf.test"), "the configured contact: {seen}");
    assert_eq!(seen["anchor"], "#mot-de-passe");
    assert_eq!(seen["anchorVisible"], true);
    // The pictures of Relais's own pages are served and drawn.
    let pictures = seen["pictures"].as_array().cloned().unwrap_or_default();
    assert_eq!(pictures.len(), 4, "{seen}");
    for picture in &pictures {
        assert!(picture["width"].as_u64().unwrap_or_default() > 300, "{picture} is drawn");
    }
    let unknown = reqwest::get(format!("{}/aide/images/../../relais.toml", stack.relais.web_url)).await;
    assert_eq!(unknown.expect("get").status().as_u16(), 404);
    for shot in ["help-aide", "help-conditions", "help-confidentialite"] {
        assert!(artifacts().join(format!("{shot}.png")).exists(), "{shot}");
    }
}
