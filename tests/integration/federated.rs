//! A federation on its own homeserver: the party's Synapse (`pcf.test`, Relais registered) and
//! the Nord federation's (`fed-nord.test`) federate over TLS with verified certificates
//! (`common/federation.rs`). The national membership file names Nord's members by their ids on
//! their own server: Relais invites them across federation, they join from their server, their
//! secretary gets the moderator's power level, and a lapse removes a member from the rooms.
//! Nord's referent signs in to the referents' page with an OpenID token from fed-nord.test
//! (`[other_homeservers]`), and the mail bridge mails what Nord's members say to the section's
//! email-only members.

use std::time::Duration;

use serde_json::Value;

use crate::{
    common::{
        Member, Relais, RelaisOptions, Synapse, eventually,
        federation::{LocalCa, Resolver, federation_port, synapse_config},
        mail::mails_to,
        smtp::SmtpSink,
        synapse::SynapseOptions,
        unique,
    },
    referents::{Browser, apply, dry_run, openid, openid_sign_in, signed_in, upload_page},
};

const HEADER: &str = "N° adhérent;Prénom;Nom;Courriel;Fédération;Section;Responsabilités;Cotisation à jour;\
    Identifiant Matrix;Préférence de contact\n";
const SECTION: &str = "#relais_nord.s.lille:pcf.test";

/// The national homeserver with Relais, and Nord's, federating.
struct Network {
    relais: Relais,
    national: Synapse,
    nord: Synapse,
    smtp: SmtpSink,
    _ca: LocalCa,
}

async fn network() -> Network {
    let ca = LocalCa::new();
    let resolver = Resolver::start();
    let smtp = SmtpSink::start().await;
    // Relais asks fed-nord.test about its OpenID tokens, trusting the party's CA, through the
    // proxy that stands in for DNS.
    let toml = format!(
        "[other_homeservers]\nservers = {{ \"fed-nord.test\" = \"https://fed-nord.test\" }}\n\
         ca_file = \"{}\"\nhttps_proxy = \"http://127.0.0.1:{}\"\n",
        ca.cert().display(),
        resolver.port
    );
    let env = [
        ("RELAIS_MAIL__DOMAIN", "listes.pcf.test"),
        ("RELAIS_MAIL__SECRET", "mail-secret-for-this-test-only"),
    ];
    let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let mut relais = Relais::prepare(RelaisOptions { env, smtp_url: Some(smtp.url()), toml });
    let national = SynapseOptions {
        extra: Some(synapse_config(&ca, &resolver, "pcf.test", federation_port(), true)),
        ..Default::default()
    };
    let national = Synapse::start_with(&relais.registration(), national).await;
    let nord = SynapseOptions {
        server_name: Some("fed-nord.test".to_owned()),
        extra: Some(synapse_config(&ca, &resolver, "fed-nord.test", federation_port(), false)),
        ..Default::default()
    };
    let nord = Synapse::start_with("", nord).await;
    relais.point_at(&national);
    relais.start().await;
    Network { relais, national, nord, smtp, _ca: ca }
}

impl Network {
    fn bot(&self) -> Member {
        Member::new(&self.national.url, &self.relais.bot(), &self.relais.as_token)
    }

    /// Runs `relais provision` on `rows` (`extra`: more arguments).
    fn provision(&self, rows: &str, extra: &[&str]) {
        let file = self.relais.dir.path().join(format!("{}.csv", unique("members")));
        std::fs::write(&file, format!("{HEADER}{rows}")).expect("csv");
        let file = file.display().to_string();
        let (status, out, err) = self.relais.cli(&[&["provision", file.as_str()], extra].concat());
        assert!(status.success(), "{out}{err}");
    }

    /// `user`'s membership in `room` as the national server sees it.
    async fn membership(&self, room: &str, user: &str) -> String {
        let state = self.bot().state(room, "m.room.member", user).await;
        state["membership"].as_str().unwrap_or_default().to_owned()
    }
}

/// The room and the code of the bot's direct messages to `member` (joined from their own
/// server), once it came: the one after `skip` earlier codes in the rooms they are in or
/// invited to, in the order they were sent.
async fn code_from_the_bot(member: &Member, skip: usize) -> (String, String) {
    eventually(&format!("a code for {}", member.user_id), Duration::from_secs(60), || async {
        codes_of(member).await.get(skip).map(|(_, room, code)| (room.clone(), code.clone()))
    })
    .await
}

/// Every code the bot sent `member` in the rooms they are in or invited to: (time, room, code),
/// oldest first.
async fn codes_of(member: &Member) -> Vec<(i64, String, String)> {
    let mut codes = Vec::new();
    for room in member.invites().await.into_iter().chain(member.joined_rooms().await) {
        // Joining twice is harmless; the provisioned rooms hold no code.
        if member.try_join(&room).await != 200 {
            continue;
        }
        for event in &member.messages(&room, 20).await {
            let body = event["content"]["body"].as_str().unwrap_or_default();
            let code = body.strip_prefix("Code pour ").and_then(|rest| rest.split(" : ").nth(1));
            let code = code.and_then(|c| c.lines().next()).map(str::to_owned);
            if let (Some(code), Some(ts)) = (code, event["origin_server_ts"].as_i64()) {
                codes.push((ts, room.clone(), code));
            }
        }
    }
    codes.sort();
    codes.dedup();
    codes
}

/// Asks for the code that applies `upload`, as the dry run's "Recevoir le code" button does.
async fn ask_code(browser: &Browser, upload: &str) -> (u16, String) {
    let request =
        browser.http.post(format!("{}/relais/referent/code", browser.base)).form(&[("upload", upload)]);
    let response = request.header("cookie", browser.cookie.clone().unwrap_or_default()).send().await;
    let response = response.expect("post");
    (response.status().as_u16(), response.text().await.expect("text"))
}

/// Waits for `member`'s invitation to `room` (it crosses federation), then joins from their
/// own server.
async fn join_from_home(member: &Member, room: &str) {
    eventually(&format!("{} invited to {room}", member.user_id), Duration::from_secs(60), || async {
        member.invites().await.contains(&room.to_owned()).then_some(())
    })
    .await;
    assert_eq!(member.try_join(room).await, 200, "{} joins from their server", member.user_id);
}

#[tokio::test]
async fn members_on_their_federations_homeserver_are_provisioned_across_federation() {
    let net = network().await;
    let jeanne = net.nord.register(&unique("jeanne")).await;
    let paul = net.nord.register(&unique("paul")).await;
    let marc = net.national.register(&unique("marc")).await;
    assert!(jeanne.user_id.ends_with(":fed-nord.test"));
    let rows = |paul_paid: &str| {
        format!(
            "1;Jeanne;Martin;;Nord;Lille;Secrétaire de section;oui;{};messagerie\n\
             2;Paul;Leroy;;Nord;Lille;;{paul_paid};{};messagerie\n3;Marc;Petit;;Nord;Lille;;oui;{};messagerie\n",
            jeanne.user_id, paul.user_id, marc.user_id
        )
    };
    net.provision(&rows("oui"), &[]);
    let section = net.bot().resolve(SECTION).await;

    // Nord's members take their invitations on their own server; the room is the same.
    join_from_home(&jeanne, &section).await;
    join_from_home(&paul, &section).await;
    assert_eq!(marc.try_join(&section).await, 200);
    for user in [&jeanne.user_id, &paul.user_id] {
        eventually(&format!("{user} joined, seen from pcf.test"), Duration::from_secs(60), || async {
            (net.membership(&section, user).await == "join").then_some(())
        })
        .await;
    }

    // The secretary on fed-nord.test holds the moderator's level, set by Relais on pcf.test, and
    // her server agrees.
    let levels = net.bot().state(&section, "m.room.power_levels", "").await;
    let level = |l: &Value, user: &str| l["users"][user].as_i64().unwrap_or_default();
    assert_eq!(level(&levels, &jeanne.user_id), 50, "{levels}");
    assert_eq!(level(&levels, &paul.user_id), 0, "{levels}");
    let seen_at_home = jeanne.state(&section, "m.room.power_levels", "").await;
    assert_eq!(level(&seen_at_home, &jeanne.user_id), 50, "{seen_at_home}");

    // A message from fed-nord.test reaches the room's local members.
    let said = jeanne.send_text(&section, "Réunion de section jeudi").await;
    eventually("Jeanne's message on pcf.test", Duration::from_secs(60), || async {
        marc.messages(&section, 50).await.iter().any(|e| e["event_id"] == said.as_str()).then_some(())
    })
    .await;

    // Paul's membership lapses: the next import removes him, on both servers (one of three
    // members is above the removal guard's limit: the secretary confirms).
    net.provision(&rows("non"), &["--force"]);
    assert_eq!(net.membership(&section, &paul.user_id).await, "leave");
    eventually("Paul's server saw him removed", Duration::from_secs(60), || async {
        (paul.try_send_text(&section, "encore là ?").await == 403).then_some(())
    })
    .await;
}

#[tokio::test]
async fn nords_referent_signs_in_from_their_server_and_the_bridge_mails_nords_members() {
    let net = network().await;
    let lucie = net.nord.register(&unique("lucie")).await;
    let jeanne = net.nord.register(&unique("jeanne")).await;
    net.provision(
        &format!(
            "1;Lucie;Caron;;Nord;Lille;Référente numérique;oui;{};messagerie\n\
             2;Jeanne;Martin;;Nord;Lille;;oui;{};messagerie\n\
             3;Odile;Roux;odile.roux@example.org;Nord;Lille;;oui;;courriel\n",
            lucie.user_id, jeanne.user_id
        ),
        &[],
    );

    // Lucie's token comes from her own server: Relais checks it there, not on pcf.test.
    let web = &net.relais.web_url;
    let token = openid(&lucie).await;
    let refused = openid_sign_in(web, &token, "pcf.test").await.status();
    assert_eq!(refused, 401, "pcf.test does not know Nord's tokens");
    assert_eq!(openid_sign_in(web, "not-a-token", "fed-nord.test").await.status(), 401);
    let jeanne_token = openid(&jeanne).await;
    assert_eq!(openid_sign_in(web, &jeanne_token, "fed-nord.test").await.status(), 403, "not a referent");
    let browser = signed_in(web, openid_sign_in(web, &token, "fed-nord.test").await);
    let (status, html) = browser.get("/relais/referent").await;
    assert_eq!(status, 200);
    assert!(html.contains("Fédération Nord") && html.contains(&lucie.user_id), "{html}");

    // What Jeanne says from fed-nord.test reaches Odile, who reads by mail.
    let section = net.bot().resolve(SECTION).await;
    join_from_home(&jeanne, &section).await;
    jeanne.send_text(&section, "Collage d'affiches samedi matin").await;
    let digest = eventually("Odile's digest", Duration::from_secs(60), || async {
        let (status, out, err) = net.relais.cli(&["mail", "digest", "--now"]);
        assert!(status.success(), "{out}{err}");
        mails_to(&net.smtp, "odile.roux@example.org")
            .into_iter()
            .find(|m| m.text.contains("Collage d'affiches"))
    })
    .await;
    assert!(digest.text.contains("Jeanne Martin"), "the author by name: {}", digest.text);
}

#[tokio::test]
async fn nords_referent_confirms_an_import_with_the_code_the_bot_sends_to_their_server() {
    let net = network().await;
    let lucie = net.nord.register(&unique("lucie")).await;
    let paul = net.nord.register(&unique("paul")).await;
    let lucie_row =
        format!("1;Lucie;Caron;;Nord;Lille;Référente numérique;oui;{};messagerie\n", lucie.user_id);
    net.provision(&lucie_row, &[]);
    let web = &net.relais.web_url;
    let browser = signed_in(web, openid_sign_in(web, &openid(&lucie).await, "fed-nord.test").await);

    // Her password is on fed-nord.test, out of Relais's reach: applying takes a code, which
    // the bot sends her across federation when she asks for it.
    let nord = format!("{HEADER}{lucie_row}2;Paul;Leroy;;Nord;Lille;;oui;{};messagerie\n", paul.user_id);
    let (html, upload) = dry_run(&browser, &nord).await;
    assert!(html.contains("Recevoir le code") && !html.contains("mot_de_passe"), "{html}");
    let (status, page) = ask_code(&browser, &upload).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("name=\"code\"") && page.contains(&upload), "{page}");
    let (direct, code) = code_from_the_bot(&lucie, 0).await;
    assert_eq!(code.len(), 14, "three groups of four: {code}");

    // A replayed token alone applies nothing: no code, a password, a wrong code.
    assert_eq!(apply(&browser, &[("upload", &upload)]).await, 401);
    assert_eq!(apply(&browser, &[("upload", &upload), ("mot_de_passe", "anything")]).await, 401);
    assert_eq!(apply(&browser, &[("upload", &upload), ("code", "ABCD-EFGH-JKMN")]).await, 401);
    assert!(paul.invites().await.is_empty(), "nothing applied");
    // The code as Lucie types it (lower case, spaces) applies the import.
    let typed = code.to_lowercase().replace('-', " ");
    assert_eq!(apply(&browser, &[("upload", &upload), ("code", &typed)]).await, 303);
    let section = net.bot().resolve(SECTION).await;
    join_from_home(&paul, &section).await;
    // The dashboard refreshes itself while the import runs; it is done when it no longer does.
    eventually("the first import done", Duration::from_secs(60), || async {
        (!browser.get("/relais/referent").await.1.contains("http-equiv=\"refresh\"")).then_some(())
    })
    .await;

    // A second upload gets its own code, and five wrong tries spend it: even the right code is
    // refused then.
    let again = format!("{nord}3;Jeanne;Martin;;Nord;Lille;;oui;@jeanne:fed-nord.test;messagerie\n");
    // Lucie left the bot's direct room meanwhile: the next code comes in a new one.
    lucie.leave(&direct).await;
    eventually("Lucie's leaving seen on pcf.test", Duration::from_secs(60), || async {
        (net.membership(&direct, &lucie.user_id).await == "leave").then_some(())
    })
    .await;
    let (_, second) = dry_run(&browser, &again).await;
    assert_eq!(ask_code(&browser, &second).await.0, 200);
    let (other, code) = code_from_the_bot(&lucie, 0).await;
    assert_ne!(other, direct, "a new direct room");
    assert_eq!(
        apply(&browser, &[("upload", &upload), ("code", &code)]).await,
        401,
        "the first upload's is spent"
    );
    for _ in 0..5 {
        assert_eq!(apply(&browser, &[("upload", &second), ("code", "ABCD-EFGH-JKMN")]).await, 401);
    }
    assert_eq!(apply(&browser, &[("upload", &second), ("code", &code)]).await, 401, "tries used up");

    the_session_confirms_by_code(&net, &browser, &lucie, &again).await;
}

/// Anything else Lucie's OpenID session would change waits for it to be confirmed, by a code
/// too; dry runs send none, and a sixth code in minutes is not sent.
async fn the_session_confirms_by_code(net: &Network, browser: &Browser, lucie: &Member, again: &str) {
    let web = &net.relais.web_url;
    let post = |path: &str, form: Vec<(&'static str, String)>| {
        let request = browser.http.post(format!("{}{path}", browser.base)).form(&form);
        let request = request.header("cookie", browser.cookie.clone().unwrap_or_default());
        async move {
            let response = request.send().await.expect("post");
            (response.status().as_u16(), response.text().await.expect("text"))
        }
    };
    let theme = || vec![("nom", "Commission santé".to_owned()), ("acces", "members".to_owned())];
    let (status, page) = post("/relais/referent/salons", theme()).await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("Recevoir un code") && !page.contains("mot_de_passe"), "{page}");
    let (_, dashboard) = browser.get("/relais/referent").await;
    assert!(
        dashboard.contains("Confirmer que c'est vous") && dashboard.contains("Recevoir un code"),
        "{dashboard}"
    );
    // Trying imports sends no code; asking for two more makes four, the session's five.
    let (_, third) = dry_run(browser, again).await;
    dry_run(browser, again).await;
    assert_eq!(ask_code(browser, &third).await.0, 200);
    assert_eq!(ask_code(browser, &third).await.0, 200);
    let (status, page) = post("/relais/referent/code", Vec::new()).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("name=\"code\""), "{page}");
    let (_, code) = code_from_the_bot(lucie, 3).await;
    // A sixth is not sent, for an upload or for the session; a dry run is still shown.
    let (status, page) = upload_page(browser, again).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Jeanne Martin") && page.contains("Recevoir le code"), "{page}");
    let (status, page) = ask_code(browser, &third).await;
    assert_eq!(status, 401, "{page}");
    assert!(page.contains("Trop de codes"), "{page}");
    let (status, page) = post("/relais/referent/code", Vec::new()).await;
    assert_eq!(status, 401, "{page}");
    assert_eq!(
        codes_of(lucie).await.len(),
        4,
        "in her new direct room: the second upload's, two, the session's"
    );
    assert_eq!(post("/relais/referent/confirmer", vec![("code", "ABCD-EFGH-JKMN".to_owned())]).await.0, 401);
    let request = browser.http.post(format!("{web}/relais/referent/confirmer")).form(&[("code", code)]);
    let response = request.header("cookie", browser.cookie.clone().unwrap_or_default()).send().await;
    let confirmed = signed_in(web, response.expect("confirm"));
    let request = confirmed.http.post(format!("{web}/relais/referent/salons")).form(&theme());
    let response = request.header("cookie", confirmed.cookie.clone().unwrap_or_default()).send().await;
    let response = response.expect("post");
    let (status, page) = (response.status().as_u16(), response.text().await.expect("text"));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Commission santé"), "{page}");
    let (_, dashboard) = confirmed.get("/relais/referent").await;
    assert!(!dashboard.contains("Confirmer que c'est vous"), "{dashboard}");
}
