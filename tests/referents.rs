//! The referents' page against the real Synapse: sign-in with a Matrix account, only one's own
//! federation, a dry run shown as a readable diff, then the import applied from the page.

mod common;

use std::time::Duration;

use common::{Member, RelaisOptions, Stack, eventually, unique};

const HEADER: &str =
    "N° adhérent;Prénom;Nom;Fédération;Section;Responsabilités;Cotisation à jour;Identifiant Matrix\n";

fn row(id: &str, first: &str, fed: &str, roles: &str, active: &str, member: &Member) -> String {
    format!("{id};{first};Test;{fed};Centre;{roles};{active};{}\n", member.user_id)
}

struct Browser {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

impl Browser {
    async fn get(&self, path: &str) -> (u16, String) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        let resp = req.send().await.expect("get");
        (resp.status().as_u16(), resp.text().await.expect("text"))
    }

    async fn sign_in(&mut self, user: &str, password: &str) -> u16 {
        let form = [("identifiant", user), ("mot_de_passe", password)];
        let resp =
            self.http.post(format!("{}/relais/connexion", self.base)).form(&form).send().await.expect("post");
        if let Some(set) = resp.headers().get("set-cookie") {
            let cookie = set.to_str().expect("cookie").split(';').next().unwrap_or_default().to_owned();
            self.cookie = Some(cookie);
        }
        resp.status().as_u16()
    }
}

#[tokio::test]
async fn a_referent_runs_an_import_of_their_federation_from_the_page() {
    let stack = Stack::start(RelaisOptions::default()).await;
    let s = &stack.synapse;
    let (camille_name, karim_name, ines_name, lucas_name) =
        (unique("camille"), unique("karim"), unique("ines"), unique("lucas"));
    let (camille, karim, ines, lucas) = (
        s.register(&camille_name).await,
        s.register(&karim_name).await,
        s.register(&ines_name).await,
        s.register(&lucas_name).await,
    );
    let national = format!(
        "{HEADER}{}{}{}",
        row("1", "Camille", "Nord", "Référente numérique", "oui", &camille),
        row("2", "Karim", "Nord", "", "oui", &karim),
        row("3", "Inès", "Paris", "Secrétaire fédérale", "oui", &ines),
    );
    let file = stack.relais.dir.path().join("national.csv");
    std::fs::write(&file, national).expect("csv");
    let (status, _, stderr) = stack.relais.cli(&["provision", &file.display().to_string()]);
    assert!(status.success(), "{stderr}");

    let mut browser = Browser { http: redirectless(), base: stack.relais.web_url.clone(), cookie: None };
    let (status, html) = browser.get("/relais/referent").await;
    assert_eq!(status, 200);
    assert!(html.contains("Espace référents") && html.contains("Se connecter"));
    assert_eq!(
        browser.sign_in(&karim.user_id, &format!("pw-{karim_name}-Relais!")).await,
        403,
        "not a referent"
    );
    assert_eq!(browser.sign_in(&camille.user_id, "wrong-password").await, 401);
    assert_eq!(browser.sign_in(&camille.user_id, &format!("pw-{camille_name}-Relais!")).await, 303);
    let (status, html) = browser.get("/relais/referent").await;
    assert_eq!(status, 200);
    assert!(html.contains("Fédération Nord"), "{html}");
    assert!(!html.contains("Inès"), "only their own federation");

    // Nord's own export: Karim lapsed, Lucas joined.
    let nord = format!(
        "{HEADER}{}{}{}",
        row("1", "Camille", "Nord", "Référente numérique", "oui", &camille),
        row("2", "Karim", "Nord", "", "non", &karim),
        row("4", "Lucas", "Nord", "", "oui", &lucas),
    );
    let part = reqwest::multipart::Part::bytes(nord.into_bytes()).file_name("nord.csv");
    let form = reqwest::multipart::Form::new().part("fichier", part);
    let resp = browser
        .http
        .post(format!("{}/relais/referent/import", browser.base))
        .header("cookie", browser.cookie.clone().expect("signed in"))
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.expect("html");
    assert!(html.contains("+ Lucas Test : invité·e dans « Fédération Nord »"), "{html}");
    assert!(html.contains("− Karim Test : retiré·e de « Fédération Nord »"), "{html}");
    assert!(html.contains("Je confirme ces retraits"), "1 of 2 active members: the guard asks");
    assert_eq!(karim.try_join("#relais_nord:pcf.test").await, 200, "the dry run changed nothing");
    let upload =
        html.split("name=\"upload\" value=\"").nth(1).and_then(|s| s.split('"').next()).expect("upload id");

    let form = [("upload", upload), ("confirmer", "oui")];
    let resp = browser
        .http
        .post(format!("{}/relais/referent/appliquer", browser.base))
        .header("cookie", browser.cookie.clone().expect("signed in"))
        .form(&form)
        .send()
        .await
        .expect("apply");
    assert_eq!(resp.status(), 303);
    eventually("the import applied", Duration::from_secs(60), || async {
        let (_, html) = browser.get("/relais/referent").await;
        (html.contains("appliqué") && !html.contains("Import en cours")).then_some(())
    })
    .await;
    assert_eq!(lucas.try_join("#relais_nord:pcf.test").await, 200, "Lucas is in");
    assert_eq!(karim.try_join("#relais_nord.s.centre:pcf.test").await, 403, "Karim is out");
    assert_eq!(ines.try_join("#relais_paris:pcf.test").await, 200, "Paris untouched");
}

fn redirectless() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// What Element obtains for a widget: an OpenID token from the member's own session.
async fn openid(member: &Member) -> String {
    let path = format!("/_matrix/client/v3/user/{}/openid/request_token", member.user_id);
    member.post(&path, serde_json::json!({})).await["access_token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn a_referent_signs_in_with_an_openid_token_from_their_matrix_session() {
    let stack = Stack::start(RelaisOptions::default()).await;
    let (camille, karim) =
        (stack.synapse.register(&unique("camille")).await, stack.synapse.register(&unique("karim")).await);
    let csv = format!(
        "{HEADER}{}{}",
        row("1", "Camille", "Nord", "Référente numérique", "oui", &camille),
        row("2", "Karim", "Nord", "", "oui", &karim)
    );
    let file = stack.relais.dir.path().join("national.csv");
    std::fs::write(&file, csv).expect("csv");
    let (status, _, stderr) = stack.relais.cli(&["provision", &file.display().to_string()]);
    assert!(status.success(), "{stderr}");

    let http = redirectless();
    let url = format!("{}/relais/connexion/openid", stack.relais.web_url);
    let post = |token: String, server: &'static str| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let form = [("access_token", token.as_str()), ("matrix_server_name", server)];
            http.post(&url).form(&form).send().await.expect("post")
        }
    };
    let token = openid(&camille).await;
    assert_eq!(post("not-a-token".into(), "pcf.test").await.status(), 401);
    assert_eq!(post(token.clone(), "elsewhere.example").await.status(), 403, "only our homeserver");
    let karim_token = openid(&karim).await;
    assert_eq!(post(karim_token, "pcf.test").await.status(), 403, "not a referent");
    let resp = post(token, "pcf.test").await;
    assert_eq!(resp.status(), 303);
    let cookie = resp.headers().get("set-cookie").and_then(|c| c.to_str().ok()).expect("cookie");
    let cookie = cookie.split(';').next().unwrap_or_default().to_owned();
    let browser = Browser { http, base: stack.relais.web_url.clone(), cookie: Some(cookie) };
    let (status, html) = browser.get("/relais/referent").await;
    assert_eq!(status, 200);
    assert!(html.contains("Fédération Nord") && html.contains(&camille.user_id), "{html}");
}
