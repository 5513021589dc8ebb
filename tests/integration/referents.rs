//! The referents' page against the real Synapse: sign-in with a Matrix account, only one's own
//! federation, a dry run shown as a readable diff, then the import applied from the page.

use std::time::Duration;

use crate::common::{Member, RelaisOptions, Stack, eventually, unique};

const HEADER: &str =
    "N° adhérent;Prénom;Nom;Fédération;Section;Responsabilités;Cotisation à jour;Identifiant Matrix\n";

fn row(id: &str, first: &str, fed: &str, roles: &str, active: &str, member: &Member) -> String {
    format!("{id};{first};Test;{fed};Centre;{roles};{active};{}\n", member.user_id)
}

/// The referents' page as a browser without JavaScript sees it (shared with other tests).
pub(crate) struct Browser {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) cookie: Option<String>,
}

impl Browser {
    pub(crate) async fn get(&self, path: &str) -> (u16, String) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        let resp = req.send().await.expect("get");
        (resp.status().as_u16(), resp.text().await.expect("text"))
    }

    pub(crate) async fn sign_in(&mut self, user: &str, password: &str) -> u16 {
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
    let (html, upload) = dry_run(&browser, &nord).await;
    assert!(!html.contains("name=\"mot_de_passe\""), "a password session is not asked again");
    assert!(html.contains("+ Lucas Test : invité·e dans « Fédération Nord »"), "{html}");
    assert!(html.contains("− Karim Test : retiré·e de « Fédération Nord »"), "{html}");
    assert!(html.contains("Je confirme ces retraits"), "1 of 2 active members: the guard asks");
    assert_eq!(karim.try_join("#relais_nord:pcf.test").await, 200, "the dry run changed nothing");
    another_run_in_progress(&stack, &browser, &upload, &file).await;
    // Applied without confirming the removals: the guard refuses it, and the upload comes back
    // to the referent, who confirms the same file.
    assert_eq!(apply(&browser, &[("upload", &upload)]).await, 303);
    eventually("the guard refused the import", Duration::from_secs(60), || async {
        let (_, html) = browser.get("/relais/referent").await;
        (html.contains("refusé : trop de retraits") && !html.contains("Import en cours")).then_some(())
    })
    .await;
    assert_eq!(karim.try_join("#relais_nord:pcf.test").await, 200, "the refused import changed nothing");
    assert_eq!(apply(&browser, &[("upload", &upload), ("confirmer", "oui")]).await, 303);
    eventually("the import applied", Duration::from_secs(60), || async {
        let (_, html) = browser.get("/relais/referent").await;
        (html.contains("appliqué") && !html.contains("Import en cours")).then_some(())
    })
    .await;
    assert_eq!(lucas.try_join("#relais_nord:pcf.test").await, 200, "Lucas is in");
    assert_eq!(karim.try_join("#relais_nord.s.centre:pcf.test").await, 403, "Karim is out");
    assert_eq!(ines.try_join("#relais_paris:pcf.test").await, 200, "Paris untouched");
}

/// While another run holds the provisioning lease (as another node would), the page answers at
/// once and keeps the upload for later; the command line waits, at most `--wait` seconds.
async fn another_run_in_progress(stack: &Stack, browser: &Browser, upload: &str, file: &std::path::Path) {
    let store = relais_core::Store::connect(&stack.relais.database_url(), 1).await.expect("store");
    let holder = "relais serve on another node";
    assert!(store.lease_try_acquire("provisioning", holder, 600_000).await.expect("lease"));
    let (status, html) = apply_page(browser, &[("upload", upload), ("confirmer", "oui")]).await;
    assert_eq!(status, 409, "{html}");
    assert!(html.contains("Une autre mise à jour des adhérents est en cours"), "{html}");
    let (status, stdout, stderr) =
        stack.relais.cli(&["provision", &file.display().to_string(), "--wait", "1"]);
    assert_eq!(status.code(), Some(4), "{stdout}\n{stderr}");
    assert!(stderr.contains(&format!("Another provisioning run is in progress ({holder}")), "{stderr}");
    assert!(stderr.contains("nothing was done"), "{stderr}");
    assert!(store.lease_release("provisioning", holder).await.expect("release"));
    store.close().await;
}

pub(crate) fn redirectless() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// Posts an OpenID token to the referents' sign-in, as the page's form does.
pub(crate) async fn openid_sign_in(web: &str, token: &str, server: &str) -> reqwest::Response {
    let form = [("access_token", token), ("matrix_server_name", server)];
    let url = format!("{web}/relais/connexion/openid");
    redirectless().post(url).form(&form).send().await.expect("post")
}

/// The browser a successful sign-in (303 with its cookie) leaves.
pub(crate) fn signed_in(web: &str, resp: reqwest::Response) -> Browser {
    assert_eq!(resp.status(), 303);
    let cookie = resp.headers().get("set-cookie").and_then(|c| c.to_str().ok()).expect("cookie");
    let cookie = cookie.split(';').next().unwrap_or_default().to_owned();
    Browser { http: redirectless(), base: web.to_owned(), cookie: Some(cookie) }
}

/// What Element obtains for a widget: an OpenID token from the member's own session.
pub(crate) async fn openid(member: &Member) -> String {
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

    let web = &stack.relais.web_url;
    let token = openid(&camille).await;
    assert_eq!(openid_sign_in(web, "not-a-token", "pcf.test").await.status(), 401);
    assert_eq!(openid_sign_in(web, &token, "elsewhere.example").await.status(), 403, "only our homeserver");
    let karim_token = openid(&karim).await;
    assert_eq!(openid_sign_in(web, &karim_token, "pcf.test").await.status(), 403, "not a referent");
    let browser = signed_in(web, openid_sign_in(web, &token, "pcf.test").await);
    let (status, html) = browser.get("/relais/referent").await;
    assert_eq!(status, 200);
    assert!(html.contains("Fédération Nord") && html.contains(&camille.user_id), "{html}");
}

/// Uploads `csv` for a dry run; returns the page and the upload id it offers to apply.
pub(crate) async fn dry_run(browser: &Browser, csv: &str) -> (String, String) {
    let (status, html) = upload_page(browser, csv).await;
    assert_eq!(status, 200, "{html}");
    let upload =
        html.split("name=\"upload\" value=\"").nth(1).and_then(|s| s.split('"').next()).expect("upload id");
    (html.clone(), upload.to_owned())
}

/// Uploads `csv` for a dry run; returns the status and the page.
pub(crate) async fn upload_page(browser: &Browser, csv: &str) -> (u16, String) {
    let part = reqwest::multipart::Part::bytes(csv.as_bytes().to_vec()).file_name("nord.csv");
    let form = reqwest::multipart::Form::new().part("fichier", part);
    let resp = browser
        .http
        .post(format!("{}/relais/referent/import", browser.base))
        .header("cookie", browser.cookie.clone().expect("signed in"))
        .multipart(form)
        .send()
        .await
        .expect("upload");
    (resp.status().as_u16(), resp.text().await.expect("html"))
}

pub(crate) async fn apply(browser: &Browser, form: &[(&str, &str)]) -> u16 {
    apply_page(browser, form).await.0
}

/// Posts the apply form; returns the status and the page.
async fn apply_page(browser: &Browser, form: &[(&str, &str)]) -> (u16, String) {
    let resp = browser
        .http
        .post(format!("{}/relais/referent/appliquer", browser.base))
        .header("cookie", browser.cookie.clone().expect("signed in"))
        .form(form)
        .send()
        .await
        .expect("apply");
    (resp.status().as_u16(), resp.text().await.expect("html"))
}

#[tokio::test]
async fn an_openid_session_reads_and_dry_runs_but_applying_takes_the_password() {
    let stack = Stack::start(RelaisOptions::default()).await;
    let camille_name = unique("camille");
    let (camille, karim, lucas) = (
        stack.synapse.register(&camille_name).await,
        stack.synapse.register(&unique("karim")).await,
        stack.synapse.register(&unique("lucas")).await,
    );
    let national = format!(
        "{HEADER}{}{}",
        row("1", "Camille", "Nord", "Référente numérique", "oui", &camille),
        row("2", "Karim", "Nord", "", "oui", &karim)
    );
    let file = stack.relais.dir.path().join("national.csv");
    std::fs::write(&file, &national).expect("csv");
    let (status, _, stderr) = stack.relais.cli(&["provision", &file.display().to_string()]);
    assert!(status.success(), "{stderr}");

    // Signed in with an OpenID token, as a widget (or anything replaying the token) would.
    let http = redirectless();
    let form = [("access_token", openid(&camille).await), ("matrix_server_name", "pcf.test".to_owned())];
    let resp = http
        .post(format!("{}/relais/connexion/openid", stack.relais.web_url))
        .form(&form)
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 303);
    let cookie = resp.headers().get("set-cookie").and_then(|c| c.to_str().ok()).expect("cookie");
    let cookie = cookie.split(';').next().unwrap_or_default().to_owned();
    let browser = Browser { http, base: stack.relais.web_url.clone(), cookie: Some(cookie) };

    let nord = format!("{}{}", national, row("4", "Lucas", "Nord", "", "oui", &lucas));
    let (html, upload) = dry_run(&browser, &nord).await;
    assert!(html.contains("name=\"mot_de_passe\""), "the plan asks for the password: {html}");
    assert_eq!(apply(&browser, &[("upload", &upload)]).await, 401, "no password: refused");
    assert_eq!(apply(&browser, &[("upload", &upload), ("mot_de_passe", "wrong")]).await, 401);
    assert_eq!(lucas.try_join("#relais_nord:pcf.test").await, 403, "nothing applied");
    let password = format!("pw-{camille_name}-Relais!");
    assert_eq!(apply(&browser, &[("upload", &upload), ("mot_de_passe", &password)]).await, 303);
    eventually("the import applied", Duration::from_secs(60), || async {
        (lucas.try_join("#relais_nord:pcf.test").await == 200).then_some(())
    })
    .await;

    // Camille is no longer a referent in the national file: her open session ends at once.
    let demoted = national.replace("Référente numérique", "");
    std::fs::write(&file, demoted).expect("csv");
    let (status, _, stderr) = stack.relais.cli(&["provision", &file.display().to_string(), "--force"]);
    assert!(status.success(), "{stderr}");
    let (status, html) = browser.get("/relais/referent").await;
    assert_eq!(status, 200);
    assert!(html.contains("Se connecter") && !html.contains("Fédération Nord"), "{html}");
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_account_and_forms_are_small() {
    let stack = Stack::start(RelaisOptions::default()).await;
    let (camille_name, ines_name) = (unique("camille"), unique("ines"));
    let (camille, ines) =
        (stack.synapse.register(&camille_name).await, stack.synapse.register(&ines_name).await);
    let csv = format!(
        "{HEADER}{}{}",
        row("1", "Camille", "Nord", "Référente numérique", "oui", &camille),
        row("3", "Inès", "Paris", "Secrétaire fédérale", "oui", &ines)
    );
    let file = stack.relais.dir.path().join("national.csv");
    std::fs::write(&file, csv).expect("csv");
    let (status, _, stderr) = stack.relais.cli(&["provision", &file.display().to_string()]);
    assert!(status.success(), "{stderr}");

    let mut browser = Browser { http: redirectless(), base: stack.relais.web_url.clone(), cookie: None };
    // Guessing Camille's password: five tries, then refused before reaching the homeserver,
    // even with the right password.
    for _ in 0..5 {
        assert_eq!(browser.sign_in(&camille.user_id, "guess").await, 401);
    }
    assert_eq!(browser.sign_in(&camille.user_id, &format!("pw-{camille_name}-Relais!")).await, 429);
    // Inès, from the same network, still signs in: the attacker did not lock everyone out.
    assert_eq!(browser.sign_in(&ines.user_id, &format!("pw-{ines_name}-Relais!")).await, 303);

    let big = "x".repeat(200 * 1024);
    let resp = browser
        .http
        .post(format!("{}/relais/connexion", browser.base))
        .form(&[("identifiant", big.as_str()), ("mot_de_passe", "x")])
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 413, "a form larger than 64 KiB is refused");
}
