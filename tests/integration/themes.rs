//! Thematic rooms on the real Synapse: Nord's digital referent makes a members-only commission
//! with `!salon créer`; a member of Nord walks in through the space, a member of Paris cannot;
//! she chooses a moderator among Nord's members; a public campaign room lets anyone in; and
//! when a member lapses, the next import takes him out of the commission with the space.

use crate::{
    common::unique,
    moderation::Nord,
    referents::{Browser, redirectless},
};

/// Lucie on the referents' page: Nord's rooms by theme listed, one more made there (on
/// request), and its moderator chosen.
async fn the_referents_page_lists_and_makes_them(n: &Nord) {
    let Nord { stack, lucie, sofia, .. } = n;
    let mut browser = Browser { http: redirectless(), base: stack.relais.web_url.clone(), cookie: None };
    assert_eq!(browser.sign_in(&lucie.user_id, &lucie.password()).await, 303);
    let (status, html) = browser.get("/relais/referent").await;
    assert_eq!(status, 200);
    assert!(html.contains("Salons thématiques (2)") && html.contains("Commission santé"), "{html}");
    assert!(html.contains("#relais_nord.t.velo-en-ville:pcf.test"), "{html}");
    let post = |path: &'static str, form: Vec<(&'static str, String)>| {
        let request = browser.http.post(format!("{}{path}", browser.base)).form(&form);
        let request = request.header("cookie", browser.cookie.clone().unwrap_or_default());
        async move {
            let response = request.send().await.expect("post");
            (response.status().as_u16(), response.text().await.expect("text"))
        }
    };
    let (status, html) = post("/relais/referent/salons", vec![("nom", String::new())]).await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("Choisissez qui peut entrer"), "in French, not the framework's text: {html}");
    let form = vec![("nom", "Groupe jeunes".to_owned()), ("acces", "knock".to_owned())];
    let (status, html) = post("/relais/referent/salons", form).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Salon « Groupe jeunes » créé"), "{html}");
    let jeunes = lucie.resolve("#relais_nord.t.groupe-jeunes:pcf.test").await;
    let rule = stack.bot().state(&jeunes, "m.room.join_rules", "").await;
    assert_eq!(rule["join_rule"], "knock", "{rule}");
    let form = vec![("salon", "groupe-jeunes".to_owned()), ("moderateurs", sofia.user_id.clone())];
    let (status, html) = post("/relais/referent/salons/moderateurs", form).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("1 modérateur choisi"), "{html}");
    let levels = stack.bot().state(&jeunes, "m.room.power_levels", "").await;
    assert_eq!(levels["users"][sofia.user_id.as_str()], 50, "{levels}");
    // Signed out, nothing is made.
    let anonymous = reqwest::Client::new().post(format!("{}/relais/referent/salons", browser.base));
    let response = anonymous.form(&[("nom", "Intrus"), ("acces", "public")]).send().await.expect("post");
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(lucie.try_resolve("#relais_nord.t.intrus:pcf.test").await, None);
}

#[tokio::test]
async fn a_referent_makes_thematic_rooms_that_follow_the_membership_file() {
    let n = Nord::provisioned(&[]).await;
    let Nord { stack, lucie, marc, paul, sofia, discussion, bot, .. } = &n;

    let attempt = marc.send_text(discussion, "!salon créer \"Ma commission\"").await;
    assert!(marc.wait_reply(discussion, bot, &attempt).await.starts_with("Seuls les modérateurs"));

    let create = lucie.send_text(discussion, "!salon créer \"Commission santé\"").await;
    let answer = lucie.wait_reply(discussion, bot, &create).await;
    assert!(answer.contains("#relais_nord.t.commission-sante:pcf.test"), "{answer}");
    let commission = lucie.resolve("#relais_nord.t.commission-sante:pcf.test").await;
    let space = &n.rooms[0];
    let listed = sofia.hierarchy(space).await;
    assert!(listed.iter().any(|r| r["room_id"] == commission.as_str()), "in Nord's space: {listed:?}");
    assert_eq!(sofia.try_join(&commission).await, 200, "a member of Nord enters through the space");
    assert_eq!(marc.try_join(&commission).await, 200);
    assert_eq!(paul.try_join(&commission).await, 403, "a member of Paris does not");

    let choose = lucie
        .send_text(discussion, &format!("!salon modérateurs \"Commission santé\" {}", sofia.user_id))
        .await;
    let chosen = lucie.wait_reply(discussion, bot, &choose).await;
    assert_eq!(chosen, "Salon « Commission santé » : 1 modérateur choisi.");
    let levels = stack.bot().state(&commission, "m.room.power_levels", "").await;
    assert_eq!(levels["users"][sofia.user_id.as_str()], 50, "{levels}");
    assert_eq!(levels["users"][lucie.user_id.as_str()], 50, "the referent moderates it anyway: {levels}");
    let refuse = lucie
        .send_text(discussion, &format!("!salon modérateurs \"Commission santé\" {}", paul.user_id))
        .await;
    assert!(lucie.wait_reply(discussion, bot, &refuse).await.contains("Rien n'a été changé"));

    let open = lucie.send_text(discussion, "!salon créer \"Vélo en ville\" --public").await;
    assert!(lucie.wait_reply(discussion, bot, &open).await.contains("ouvert à tous"));
    let velo = paul.resolve("#relais_nord.t.velo-en-ville:pcf.test").await;
    assert_eq!(paul.try_join(&velo).await, 200, "a public room: anyone joins");

    the_referents_page_lists_and_makes_them(&n).await;

    // Marc lapses: the next import takes him out of Nord's space and of its commission, not of
    // the public room.
    let lapsed = n.file("Lille").replace(
        &format!("2;Marc;Petit;Nord;Lille;;oui;{}", marc.user_id),
        &format!("2;Marc;Petit;Nord;Lille;;non;{}", marc.user_id),
    );
    assert_ne!(lapsed, n.file("Lille"));
    assert_eq!(marc.try_join(&velo).await, 200);
    // One member of four lapsing trips the removal guard: the referent confirms.
    let file = stack.relais.dir.path().join(format!("{}.csv", unique("lapsed")));
    std::fs::write(&file, &lapsed).expect("csv");
    let (status, out, err) =
        stack.relais.cli(&["provision", &file.display().to_string(), "--json", "--force"]);
    assert!(status.success(), "{out}{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(plan["applied"]["failed"].as_array().map(Vec::len).unwrap_or(0), 0, "{plan}");
    // What the rooms' own passes made is what the import would make: nothing to redo there.
    let redone = plan["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|a| a["room"].as_str().is_some_and(|r| r.starts_with("nord.t.")) && a["type"] != "kick");
    assert!(!redone, "{plan}");
    let bot_view = stack.bot();
    let membership = bot_view.state(&commission, "m.room.member", &marc.user_id).await;
    assert_eq!(membership["membership"], "leave", "{membership}");
    assert_eq!(marc.try_join(&commission).await, 403, "and cannot walk back in");
    let velo_membership = bot_view.state(&velo, "m.room.member", &marc.user_id).await;
    assert_eq!(velo_membership["membership"], "join", "{velo_membership}");
    let sofia_still = bot_view.state(&commission, "m.room.member", &sofia.user_id).await;
    assert_eq!(sofia_still["membership"], "join");
}
