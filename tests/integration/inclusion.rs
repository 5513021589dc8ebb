//! Nobody left behind, on the real Synapse: a referent gives a member who forgot their
//! password a provisional one from the referents' page (in Chromium); the member's sessions
//! end and they sign in with it (matrix-nio); nobody outside the referent's federation, and no office holder, can be
//! reset that way.

use serde_json::json;

use crate::{
    common::{RelaisOptions, Stack, unique},
    referents::{Browser, redirectless},
};

async fn post(browser: &Browser, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let request = browser.http.post(format!("{}{path}", browser.base)).form(form);
    let response =
        request.header("cookie", browser.cookie.clone().unwrap_or_default()).send().await.expect("post");
    (response.status().as_u16(), response.text().await.expect("text"))
}

/// Provisions the membership file `csv`.
fn provision(stack: &Stack, csv: &str) {
    let file = stack.relais.dir.path().join(format!("{}.csv", unique("members")));
    std::fs::write(&file, csv).expect("csv");
    let (status, out, err) = stack.relais.cli(&["provision", &file.display().to_string()]);
    assert!(status.success(), "{out}{err}");
}

/// The referents' page, signed in as `referent`.
async fn signed_in(stack: &Stack, referent: &crate::common::Member) -> Browser {
    let mut browser = Browser { http: redirectless(), base: stack.relais.web_url.clone(), cookie: None };
    assert_eq!(browser.sign_in(&referent.user_id, &referent.password()).await, 303);
    browser
}

/// The password the page shows, in `<strong id="provisoire">`.
fn shown_password(page: &str) -> String {
    let start =
        page.find("id=\"provisoire\">").map(|i| i + "id=\"provisoire\">".len()).expect("a password shown");
    page[start..].split('<').next().unwrap_or_default().to_owned()
}

async fn login(stack: &Stack, user: &str, password: &str) -> (u16, String) {
    let login = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password});
    let url = format!("{}/_matrix/client/v3/login", stack.synapse.url);
    let response = reqwest::Client::new().post(url).json(&login).send().await.expect("login");
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    (status, body["access_token"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn a_referent_resets_a_members_password_and_the_member_signs_in_with_it() {
    let stack = Stack::start_with_admin(RelaisOptions::default()).await;
    let s = &stack.synapse;
    let (lucie, nadia, marc, paul) = (
        s.register(&unique("lucie")).await,
        s.register(&unique("nadia")).await,
        s.register(&unique("marc")).await,
        s.register(&unique("paul")).await,
    );
    // Sofia has no account yet; Nadia's id is the file's (any import could write it).
    let csv = format!(
        "N° adhérent;Prénom;Nom;Fédération;Section;Responsabilités;Cotisation à jour;Identifiant Matrix\n\
         1;Lucie;Garnier;Nord;Lille;Référente numérique;oui;{}\n\
         2;Sofia;Benali;Nord;Lille;;oui;\n\
         3;Marc;Petit;Nord;Lille;Secrétaire fédéral;oui;{}\n\
         4;Paul;Roux;Paris;Paris 11e;;oui;{}\n\
         5;Nadia;Haddad;Nord;Lille;;oui;{}\n",
        lucie.user_id, marc.user_id, paul.user_id, nadia.user_id
    );
    provision(&stack, &csv);

    let browser = signed_in(&stack, &lucie).await;
    let (_, dashboard) = browser.get("/relais/referent").await;
    assert!(dashboard.contains("Donner un mot de passe provisoire"), "{dashboard}");
    // Sofia's account, made by Relais beside the referent, then forgotten.
    let username = unique("sofia");
    let (status, page) =
        post(&browser, "/relais/referent/compte", &[("membre", "2"), ("nom_utilisateur", &username)]).await;
    assert_eq!(status, 200, "{page}");
    let sofia = format!("@{username}:pcf.test");
    let first = shown_password(&page);
    let (status, token) = login(&stack, &sofia, &first).await;
    assert_eq!(status, 200);

    // In Chromium, Lucie gives Sofia a provisional password.
    let out = crate::browser::artifacts().display().to_string();
    let seen =
        crate::browser::browse(&["reset", &browser.base, &lucie.user_id, &lucie.password(), &sofia, &out])
            .await;
    let password = seen["password"].as_str().unwrap_or_default().trim().to_owned();
    assert_eq!(password.len(), 19, "{seen}");
    // Her sessions are over; the provisional password opens a new one, in which matrix-nio
    // sees her section; the old password no longer opens anything.
    let whoami = format!("{}/_matrix/client/v3/account/whoami", s.url);
    let old = reqwest::Client::new().get(&whoami).bearer_auth(&token).send().await.expect("whoami");
    assert_eq!(old.status().as_u16(), 401, "signed out everywhere");
    let section = lucie.resolve("#relais_nord.s.lille:pcf.test").await;
    let (joined, invited) = crate::public::nio_rooms(&stack, &sofia, &password).await;
    assert!(
        joined.contains(&section) || invited.contains(&section),
        "she signs in with it: {joined:?} {invited:?}"
    );
    let path = "/relais/referent/mot-de-passe";
    assert_eq!(login(&stack, &sofia, &first).await.0, 403);

    // By member number too; never an account the file merely names, another federation's
    // member, an office holder, or oneself.
    assert_eq!(post(&browser, path, &[("membre", "2")]).await.0, 200);
    let (status, page) = post(&browser, path, &[("membre", &nadia.user_id)]).await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("pas été créé par la messagerie"), "{page}");
    assert_eq!(
        login(&stack, &nadia.user_id, &nadia.password()).await.0,
        200,
        "Nadia's password is untouched"
    );
    assert_eq!(post(&browser, path, &[("membre", &paul.user_id)]).await.0, 404);
    let (status, page) = post(&browser, path, &[("membre", &marc.user_id)]).await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("équipe nationale"), "{page}");
    assert_eq!(post(&browser, path, &[("membre", &lucie.user_id)]).await.0, 403, "not her own either");
    let anonymous = reqwest::Client::new().post(format!("{}{path}", browser.base)).form(&[("membre", "2")]);
    assert_eq!(anonymous.send().await.expect("post").status().as_u16(), 401);

    let (status, audit, _) = stack.relais.cli(&["audit", "--json"]);
    assert!(status.success());
    let resets =
        audit.lines().filter(|l| l.contains("\"reset_password\"") && l.contains(&lucie.user_id)).count();
    assert_eq!(resets, 2, "{audit}");
    assert!(!audit.contains(&password), "the password is in no log");
}

/// The right of access and the right to erasure reach the homeserver: the export shows the
/// member's account, display name and rooms; the erasure deactivates and erases the account
/// there, then Relais's records, and says what cannot be erased.
#[tokio::test]
async fn a_members_export_and_erasure_reach_their_account_on_the_homeserver() {
    let stack = Stack::start_with_admin(RelaisOptions::default()).await;
    let sofia = stack.synapse.register(&unique("sofia")).await;
    let csv = format!(
        "N° adhérent;Prénom;Nom;Fédération;Section;Cotisation à jour;Identifiant Matrix\n\
         2;Sofia;Benali;Nord;Lille;oui;{}\n",
        sofia.user_id
    );
    provision(&stack, &csv);
    let discussion = sofia.resolve("#relais_nord.discussion:pcf.test").await;
    assert_eq!(sofia.try_join(&sofia.resolve("#relais_nord:pcf.test").await).await, 200);
    assert_eq!(sofia.try_join(&discussion).await, 200);
    let name = format!("/_matrix/client/v3/profile/{}/displayname", sofia.user_id);
    sofia.put(&name, json!({"displayname": "Sofia B."})).await;

    let (status, out, err) = stack.relais.cli(&["member", "export", "2"]);
    assert!(status.success(), "{err}");
    let export: serde_json::Value = serde_json::from_str(&out).expect("json");
    let account = &export["homeserver"]["accounts"][0];
    assert_eq!(account["user_id"], sofia.user_id.as_str(), "{export}");
    assert_eq!(account["display_name"], "Sofia B.", "{export}");
    assert!(
        account["rooms"].as_array().is_some_and(|r| r.iter().any(|r| r == discussion.as_str())),
        "{export}"
    );

    let (status, out, err) = stack.relais.cli(&["member", "forget", "2"]);
    assert!(status.success(), "{out}{err}");
    assert!(out.contains(&format!("Deactivated and erased on the homeserver: {}", sofia.user_id)), "{out}");
    assert!(out.contains("stay on the devices of those who received them"), "{out}");
    let whoami = format!("{}/_matrix/client/v3/account/whoami", stack.synapse.url);
    let gone = reqwest::Client::new().get(&whoami).bearer_auth(&sofia.token).send().await.expect("whoami");
    assert_eq!(gone.status().as_u16(), 401, "the account's sessions are gone");
    let login = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": sofia.user_id}, "password": sofia.password()});
    let refused = reqwest::Client::new()
        .post(format!("{}/_matrix/client/v3/login", stack.synapse.url))
        .json(&login)
        .send()
        .await
        .expect("login");
    assert_eq!(refused.status().as_u16(), 403, "deactivated");
    // Synapse takes a deactivated account out of its rooms in the background.
    let bot = stack.bot();
    let member =
        crate::common::eventually("out of the rooms", std::time::Duration::from_secs(60), || async {
            let member = bot.state(&discussion, "m.room.member", &sofia.user_id).await;
            (member["membership"] == "leave").then_some(member)
        })
        .await;
    assert!(member.get("displayname").is_none_or(serde_json::Value::is_null), "name erased: {member}");

    let (status, out, _) = stack.relais.cli(&["member", "export", "2"]);
    assert!(status.success());
    let export: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert!(export["member"].is_null() && export["homeserver"]["accounts"] == json!([]), "{export}");
}

/// A member with neither email nor account: in Chromium, the referent prints a letter; its
/// code, typed in any case on `/inscription`, opens the invitation page; the account made there
/// lands in the member's rooms, as matrix-nio sees them.
#[tokio::test]
async fn a_printed_letters_code_makes_the_members_account_and_lets_them_in() {
    let stack = Stack::start(RelaisOptions::default()).await;
    let lucie = stack.synapse.register(&unique("lucie")).await;
    let csv = format!(
        "N° adhérent;Prénom;Nom;Fédération;Section;Responsabilités;Cotisation à jour;Identifiant Matrix\n\
         1;Lucie;Garnier;Nord;Lille;Référente numérique;oui;{}\n\
         7;Jean;Petit;Nord;Lille;;oui;\n",
        lucie.user_id
    );
    provision(&stack, &csv);

    let browser = signed_in(&stack, &lucie).await;
    let (_, dashboard) = browser.get("/relais/referent").await;
    assert!(
        dashboard.contains("Sans adresse de courriel ni compte (1)")
            && dashboard.contains("Lettres de la section Lille"),
        "{dashboard}"
    );
    // At the top: what waits, and each section's reach drawn.
    assert!(dashboard.contains("<strong>1</strong> adhérent(s) sans adresse ni compte"), "{dashboard}");
    assert!(
        dashboard.contains("Lille : 1 sur la messagerie, 0 par courriel, 1 pas encore joints"),
        "{dashboard}"
    );
    // In Chromium: Lucie prints her section's letters; Jean types his code at home, in lower
    // case with spaces, and makes his account.
    let out = crate::browser::artifacts().display().to_string();
    let username = unique("jean");
    let seen = crate::browser::browse(&[
        "letter",
        &browser.base,
        &lucie.user_id,
        &lucie.password(),
        "Lille",
        &username,
        "une-phrase-de-passe",
        &out,
    ])
    .await;
    let letter = seen["letter"].as_str().unwrap_or_default();
    assert!(letter.contains("Bonjour Jean Petit"), "{seen}");
    assert!(!letter.contains("Bonjour Lucie"), "she has an account: no letter");
    let printed = seen["code"].as_str().unwrap_or_default().to_owned();
    assert_eq!(printed.len(), 14, "{printed}");
    assert_eq!(seen["invitation"], format!("/inscription/{}", printed.replace('-', "")), "{seen}");
    let result = seen["result"].as_str().unwrap_or_default();
    assert!(result.contains(&format!("@{username}:pcf.test")), "{result}");
    // Printing the section again voids no letter handed out: nothing new to print.
    let (status, again) = post(&browser, "/relais/referent/lettres", &[("section", "Lille")]).await;
    assert_eq!(status, 404, "{again}");
    let wrong = redirectless().post(format!("{}/inscription", browser.base)).form(&[("code", "pas un code")]);
    let wrong = wrong.send().await.expect("wrong");
    assert_eq!(wrong.status().as_u16(), 422);
    assert!(wrong.text().await.expect("page").contains("12 lettres et chiffres"));

    let user = format!("@{username}:pcf.test");
    let section = lucie.resolve("#relais_nord.s.lille:pcf.test").await;
    let space = lucie.resolve("#relais_nord:pcf.test").await;
    crate::common::eventually("Jean in his rooms", std::time::Duration::from_secs(60), || async {
        let (joined, invited) = crate::public::nio_rooms(&stack, &user, "une-phrase-de-passe").await;
        let rooms: Vec<&String> = joined.iter().chain(invited.iter()).collect();
        (rooms.contains(&&section) && rooms.contains(&&space)).then_some(())
    })
    .await;
    // The code served once.
    let location = seen["invitation"].as_str().unwrap_or_default();
    let again = reqwest::get(format!("{}{location}", browser.base)).await.expect("again");
    assert_eq!(again.status().as_u16(), 410);
}

/// A member beside the referent: the page makes their account, shows a provisional password,
/// and the member lands in their rooms; never twice, never for another federation's member.
#[tokio::test]
async fn a_referent_makes_the_account_of_a_member_beside_them() {
    let stack = Stack::start(RelaisOptions::default()).await;
    let lucie = stack.synapse.register(&unique("lucie")).await;
    let csv = format!(
        "N° adhérent;Prénom;Nom;Fédération;Section;Responsabilités;Cotisation à jour;Identifiant Matrix\n\
         1;Lucie;Garnier;Nord;Lille;Référente numérique;oui;{}\n\
         8;Marie;Blanc;Nord;Lille;;oui;\n\
         9;Paul;Roux;Paris;Paris 11e;;oui;\n",
        lucie.user_id
    );
    provision(&stack, &csv);
    let browser = signed_in(&stack, &lucie).await;
    let (_, dashboard) = browser.get("/relais/referent").await;
    assert!(dashboard.contains("Créer son compte avec lui ou elle"), "{dashboard}");

    let path = "/relais/referent/compte";
    // A name someone holds is refused before the member's invitation is touched.
    let taken = lucie.user_id.trim_start_matches('@').split(':').next().unwrap_or_default().to_owned();
    let (status, page) = post(&browser, path, &[("membre", "8"), ("nom_utilisateur", &taken)]).await;
    assert_eq!(status, 409, "{page}");
    let username = unique("marie");
    let (status, page) = post(&browser, path, &[("membre", "8"), ("nom_utilisateur", &username)]).await;
    assert_eq!(status, 200, "{page}");
    let password = shown_password(&page);
    let user = format!("@{username}:pcf.test");
    assert!(page.contains(&user), "{page}");
    let section = lucie.resolve("#relais_nord.s.lille:pcf.test").await;
    crate::common::eventually("Marie in her rooms", std::time::Duration::from_secs(60), || async {
        let (joined, invited) = crate::public::nio_rooms(&stack, &user, &password).await;
        (joined.iter().chain(invited.iter()).any(|r| *r == section)).then_some(())
    })
    .await;
    let (status, _) = post(&browser, path, &[("membre", "8"), ("nom_utilisateur", &unique("encore"))]).await;
    assert_eq!(status, 404, "she has an account now");
    let (status, _) = post(&browser, path, &[("membre", "9"), ("nom_utilisateur", &unique("paul"))]).await;
    assert_eq!(status, 404, "not a member of her federation");
    let (status, audit, _) = stack.relais.cli(&["audit", "--json"]);
    assert!(status.success());
    assert!(audit.contains("\"account_on_behalf\"") && !audit.contains(&password), "{audit}");
}

/// A member without an account asked their referent to answer a poll for them: on the voter
/// list from the start, answered from the referents' page, counted, and named in the results.
#[tokio::test]
async fn a_referent_carries_the_answer_of_a_member_without_an_account() {
    let stack = Stack::start(RelaisOptions::default()).await;
    let (lucie, paul) =
        (stack.synapse.register(&unique("lucie")).await, stack.synapse.register(&unique("paul")).await);
    let csv = format!(
        "N° adhérent;Prénom;Nom;Fédération;Section;Responsabilités;Cotisation à jour;Identifiant Matrix\n\
         1;Lucie;Garnier;Nord;Lille;Référente numérique;oui;{}\n\
         2;Paul;Durand;Nord;Lille;Secrétaire de section;oui;{}\n\
         7;Jean;Petit;Nord;Lille;;oui;\n",
        lucie.user_id, paul.user_id
    );
    provision(&stack, &csv);
    let section = paul.resolve("#relais_nord.s.lille:pcf.test").await;
    assert_eq!(paul.try_join(&section).await, 200);
    let bot = stack.relais.bot();
    let ask = paul.send_text(&section, "!sondage \"Date de l'AG ?\" \"Le 12\" \"Le 19\"").await;
    let opened = paul.wait_reply(&section, &bot, &ask).await;
    assert!(opened.contains("3 adhérent(s)"), "Lucie, Paul and Jean: {opened}");
    let events = paul.messages(&section, 50).await;
    let poll = events.iter().find(|e| e["type"] == "org.matrix.msc3381.poll.start").expect("the poll");
    let poll = poll["event_id"].as_str().expect("id").to_owned();

    let browser = signed_in(&stack, &lucie).await;
    let (_, dashboard) = browser.get("/relais/referent").await;
    assert!(dashboard.contains("Votes par procuration") && dashboard.contains("Jean Petit"), "{dashboard}");
    let path = "/relais/referent/procuration";
    assert_eq!(post(&browser, path, &[("sondage", &poll), ("membre", "7"), ("choix", "9")]).await.0, 422);
    assert_eq!(
        post(&browser, path, &[("sondage", &poll), ("membre", "2"), ("choix", "1")]).await.0,
        404,
        "Paul votes himself"
    );
    let (status, page) = post(&browser, path, &[("sondage", &poll), ("membre", "7"), ("choix", "2")]).await;
    assert_eq!(status, 200, "{page}");
    let (status, out, _) = stack.relais.cli(&["poll", "results", &poll, "--json"]);
    assert!(status.success());
    let counted: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        (counted["voted"].clone(), counted["answers"][1]["count"].clone()),
        (1.into(), 1.into()),
        "{counted}"
    );

    let close = paul.send_text(&section, "!sondage clore").await;
    paul.wait_reply(&section, &bot, &close).await;
    let ended = crate::common::eventually("the results", std::time::Duration::from_secs(30), || async {
        let events = paul.messages(&section, 50).await;
        events.iter().find(|e| e["type"] == "org.matrix.msc3381.poll.end").cloned()
    })
    .await;
    let text = ended.to_string();
    assert!(text.contains(&format!("Par procuration : Jean Petit (porté par {})", lucie.user_id)), "{text}");
    assert_eq!(
        post(&browser, path, &[("sondage", &poll), ("membre", "7"), ("choix", "1")]).await.0,
        410,
        "closed"
    );
}

/// A session opened with an OpenID token (which any widget the referent approved could replay)
/// changes nothing until the referent confirms with their password: no provisional password,
/// no account, no letters, no room. Confirmed, the same session acts.
#[tokio::test]
async fn a_replayed_openid_token_changes_nothing_until_the_referent_confirms() {
    let stack = Stack::start_with_admin(RelaisOptions::default()).await;
    let s = &stack.synapse;
    let (lucie, nadia) = (s.register(&unique("lucie")).await, s.register(&unique("nadia")).await);
    let csv = format!(
        "N° adhérent;Prénom;Nom;Fédération;Section;Responsabilités;Cotisation à jour;Identifiant Matrix\n\
         1;Lucie;Garnier;Nord;Lille;Référente numérique;oui;{}\n\
         2;Sofia;Benali;Nord;Lille;;oui;\n\
         5;Nadia;Haddad;Nord;Lille;;oui;{}\n",
        lucie.user_id, nadia.user_id
    );
    provision(&stack, &csv);
    let web = &stack.relais.web_url;
    let token = crate::referents::openid(&lucie).await;
    let replayed =
        crate::referents::signed_in(web, crate::referents::openid_sign_in(web, &token, "pcf.test").await);

    let attempts: [(&str, &[(&str, &str)]); 5] = [
        ("/relais/referent/compte", &[("membre", "2"), ("nom_utilisateur", "sofia-by-a-widget")]),
        ("/relais/referent/mot-de-passe", &[("membre", "2")]),
        ("/relais/referent/lettres", &[("membre", "2"), ("section", "")]),
        ("/relais/referent/salons", &[("nom", "Salon d'un widget"), ("acces", "members")]),
        ("/relais/referent/procuration", &[("sondage", "x"), ("membre", "2"), ("choix", "1")]),
    ];
    for (path, form) in attempts {
        let (status, page) = post(&replayed, path, form).await;
        assert_eq!(status, 403, "{path}: {page}");
        assert!(page.contains("Confirmez") && page.contains("name=\"mot_de_passe\""), "{path}: {page}");
        assert!(!page.contains("id=\"provisoire\""), "{path}: {page}");
    }
    let (status, out, _) = stack.relais.cli(&["audit", "--json"]);
    assert!(status.success());
    assert!(!out.contains("account_on_behalf") && !out.contains("print_letter"), "nothing was done: {out}");
    let (_, dashboard) = replayed.get("/relais/referent").await;
    assert!(!dashboard.contains("Salon d'un widget"), "{dashboard}");

    // A wrong password confirms nothing; Lucie's own does, and the session acts.
    let confirm = "/relais/referent/confirmer";
    assert_eq!(post(&replayed, confirm, &[("mot_de_passe", "guess")]).await.0, 401);
    assert_eq!(post(&replayed, "/relais/referent/compte", attempts[0].1).await.0, 403);
    let password = lucie.password();
    let request = replayed.http.post(format!("{web}{confirm}")).form(&[("mot_de_passe", password.as_str())]);
    let response = request.header("cookie", replayed.cookie.clone().unwrap_or_default()).send().await;
    let confirmed = crate::referents::signed_in(web, response.expect("confirm"));
    // The confirmed session has a new token: whoever knew the old one (planted it, replayed
    // it) holds nothing now.
    assert_ne!(confirmed.cookie, replayed.cookie);
    assert_eq!(post(&replayed, "/relais/referent/compte", attempts[0].1).await.0, 401);
    let (status, page) = post(&confirmed, "/relais/referent/compte", attempts[0].1).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"provisoire\""), "{page}");
    // Two session cookies (one planted by a sibling site) name no session.
    let twice = crate::referents::Browser {
        http: redirectless(),
        base: web.clone(),
        cookie: Some(format!(
            "{}; {}",
            confirmed.cookie.clone().unwrap_or_default(),
            replayed.cookie.clone().unwrap_or_default()
        )),
    };
    assert_eq!(post(&twice, "/relais/referent/lettres", attempts[2].1).await.0, 401);
}
