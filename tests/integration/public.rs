//! The open half on the real Synapse: public campaign spaces provisioned beside the
//! members-only rooms, a sympathiser signing up in Chromium, confirming by mail and landing in
//! the public spaces only (as matrix-nio sees it), listed for the referent's follow-up, then
//! named in the membership file and let into the members' rooms without a second account.

use serde_json::Value;

use crate::{
    browser::{artifacts, browse},
    common::{Member, RelaisOptions, Stack, eventually, smtp::SmtpSink, synapse::python, unique},
    referents::{Browser, redirectless},
};

const HEADER: &str = "N° adhérent;Prénom;Nom;Courriel;Fédération;Section;Responsabilités;Cotisation à jour;Identifiant Matrix\n";

fn public_toml(charter: &std::path::Path) -> String {
    format!(
        r#"[public]
national = true
federations = ["Nord"]
signup = true
charter_file = "{}"
charter_version = "2026-1"
[[public.rooms]]
slug = "accueil"
name = "Accueil"
guests = true
[[public.rooms]]
slug = "campagne"
name = "Campagne"
join = "knock"
"#,
        charter.display()
    )
}

fn provision(stack: &Stack, csv: &str) -> String {
    let file = stack.relais.dir.path().join(format!("{}.csv", unique("f")));
    std::fs::write(&file, csv).expect("csv");
    let (status, stdout, stderr) = stack.relais.cli(&["provision", &file.display().to_string()]);
    assert!(status.success(), "{stdout}\n{stderr}");
    stdout
}

/// The rooms `user` joined and is invited to, as matrix-nio sees them after signing in.
pub(crate) async fn nio_rooms(stack: &Stack, user: &str, password: &str) -> (Vec<String>, Vec<String>) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/nio_rooms.py");
    let out = tokio::process::Command::new(python())
        .arg(script)
        .args([stack.synapse.url.as_str(), user, password])
        .output()
        .await
        .expect("run nio");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "nio: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let seen: Value = serde_json::from_str(stdout.trim()).expect("nio output");
    let ids = |key: &str| -> Vec<String> {
        seen[key].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect()
    };
    (ids("joined"), ids("invited"))
}

#[tokio::test]
async fn a_sympathiser_signs_up_lands_in_the_public_spaces_only_and_later_becomes_a_member() {
    let charter_dir = tempfile::tempdir().expect("dir");
    let charter = charter_dir.path().join("charte.txt");
    std::fs::write(&charter, "Respect des personnes.\n\nNi insulte, ni harcèlement, ni spam.\n")
        .expect("charter");
    let smtp = SmtpSink::start().await;
    let options =
        RelaisOptions { smtp_url: Some(smtp.url()), toml: public_toml(&charter), ..Default::default() };
    let stack = Stack::start(options).await;
    let referent = stack.synapse.register(&unique("camille")).await;
    let karim = stack.synapse.register(&unique("karim")).await;
    let members = format!(
        "{HEADER}1;Camille;Test;;Nord;Lille;Référente numérique;oui;{}\n2;Karim;Test;;Nord;Lille;;oui;{}\n",
        referent.user_id, karim.user_id
    );
    provision(&stack, &members);

    let rooms = public_rooms_stand_apart(&stack, &referent, &karim).await;
    let Rooms { national_public, national_accueil, nord_public, accueil, campagne, members_only } = rooms;

    // A sympathiser of the Nord signs up in Chromium: refused once without consent (in French,
    // what they typed kept), then sent a link.
    let address = format!("{}@example.org", unique("lea"));
    let out = artifacts().display().to_string();
    let seen = browse(&["signup", &stack.relais.web_url, "Léa", "Roux", &address, "59000", &out]).await;
    assert!(seen["charter"].as_str().unwrap_or_default().contains("Ni insulte"), "{seen}");
    assert!(seen["refused"].as_str().unwrap_or_default().contains("Cochez la case d'accord"), "{seen}");
    assert_eq!(seen["kept"], "Léa");
    assert!(seen["sent"].as_str().unwrap_or_default().contains(&address), "{seen}");
    let mail = smtp.wait_for(&address).await;
    let start = mail.find(&format!("{}/relais/rejoindre/", stack.relais.web_url)).expect("link in the mail");
    let link: String =
        mail[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || ":/._-".contains(*c)).collect();
    let username = unique("lea");
    let password = "une-phrase-de-passe";
    let made = browse(&["onboarding", &link, &username, password, &out, "signup-4"]).await;
    let result = made["result"].as_str().unwrap_or_default();
    let lea = format!("@{username}:pcf.test");
    assert!(result.contains(&lea) && result.contains("Accueil (Nord)"), "{result}");

    // matrix-nio, signed in as her: in the public spaces and their open rooms, nowhere else.
    let (joined, invited) = nio_rooms(&stack, &lea, password).await;
    for public in [&national_public, &national_accueil, &nord_public, &accueil] {
        assert!(joined.contains(public), "{public} not among {joined:?}");
    }
    assert!(!joined.contains(&campagne), "a knock room is asked, never joined at once");
    for private in &members_only {
        assert!(!joined.contains(private) && !invited.contains(private), "{private}");
    }
    let link_again = reqwest::get(&link).await.expect("get");
    assert_eq!(link_again.status(), 410, "the link served once");

    // The referent sees her to follow up.
    let mut browser = Browser { http: redirectless(), base: stack.relais.web_url.clone(), cookie: None };
    assert_eq!(browser.sign_in(&referent.user_id, &referent.password()).await, 303);
    let (_, dashboard) = browser.get("/relais/referent").await;
    assert!(dashboard.contains("Sympathisants à recontacter (1)"), "{dashboard}");
    assert!(dashboard.contains("Léa Roux") && dashboard.contains(&address) && dashboard.contains("aider"));

    // She joins the party: the file names her by her address, without a Matrix id. Her account
    // is let into the Nord's rooms; no invitation to make a second one is mailed.
    let to_her = || smtp.messages().iter().filter(|m| m.contains(&address)).count();
    let mails_before = to_her();
    let joined_file = format!("{members}3;Léa;Roux;{address};Nord;Lille;;oui;\n");
    provision(&stack, &joined_file);
    let invited = eventually("the new member's invitations", std::time::Duration::from_secs(30), || async {
        let (_, invited) = nio_rooms(&stack, &lea, password).await;
        (invited.contains(&members_only[0]) && invited.contains(&members_only[3])).then_some(invited)
    })
    .await;
    assert!(invited.contains(&members_only[0]), "{invited:?}");
    assert_eq!(to_her(), mails_before, "no second account offered");
    let (_, dashboard) = browser.get("/relais/referent").await;
    assert!(dashboard.contains("Sympathisants à recontacter (0)"), "{dashboard}");
    for shot in ["signup-1-form.png", "signup-2-refused.png", "signup-3-sent.png", "signup-4-2-done.png"] {
        assert!(std::fs::metadata(artifacts().join(shot)).map(|m| m.len() > 1000).unwrap_or(false), "{shot}");
    }
}

struct Rooms {
    national_public: String,
    national_accueil: String,
    nord_public: String,
    accueil: String,
    campagne: String,
    /// The Nord's space, discussion, announcements and Lille section rooms.
    members_only: Vec<String>,
}

/// The public spaces exist apart: listed in the directory, open to anyone (or by knocking),
/// guests where configured, the federation's referent among their moderators.
async fn public_rooms_stand_apart(stack: &Stack, referent: &Member, karim: &Member) -> Rooms {
    let bot = stack.bot();
    let alias = |key: &str| format!("#relais_{key}:pcf.test");
    let id = async |key: &str| bot.resolve(&alias(key)).await;
    let (national_public, nord_public) = (id("national.public").await, id("nord.public").await);
    let (accueil, campagne) = (id("nord.public.accueil").await, id("nord.public.campagne").await);
    let national_accueil = id("national.public.accueil").await;
    let mut members_only = Vec::new();
    for key in ["nord", "nord.discussion", "nord.annonces", "nord.s.lille"] {
        members_only.push(id(key).await);
    }
    let rule = async |room: &str| bot.state(room, "m.room.join_rules", "").await["join_rule"].clone();
    assert_eq!(rule(&accueil).await, "public");
    assert_eq!(rule(&campagne).await, "knock");
    assert_eq!(rule(&members_only[1]).await, "restricted");
    assert_eq!(bot.state(&accueil, "m.room.guest_access", "").await["guest_access"], "can_join");
    assert_eq!(bot.state(&campagne, "m.room.guest_access", "").await["guest_access"], "forbidden");
    let levels = bot.state(&accueil, "m.room.power_levels", "").await;
    assert_eq!(levels["users"][&referent.user_id], 50, "{levels}");
    let directory = karim.get("/_matrix/client/v3/publicRooms?limit=100").await;
    let listed: Vec<&str> =
        directory["chunk"].as_array().into_iter().flatten().filter_map(|r| r["room_id"].as_str()).collect();
    for public in [&national_public, &nord_public, &accueil, &campagne] {
        assert!(listed.contains(&public.as_str()), "{public} not in {listed:?}");
    }
    for private in &members_only {
        assert!(!listed.contains(&private.as_str()), "{private} is listed");
    }
    Rooms { national_public, national_accueil, nord_public, accueil, campagne, members_only }
}
