//! Broadcasts from the national communication room to federations' announcements rooms, read by
//! a member with matrix-nio (an independent client), now and at a set time; refusals.

use crate::common;

use std::time::Duration;

use crate::common::{Member, RelaisOptions, Stack, eventually, unique};
use serde_json::{Value, json};

/// The referents' page as Lucie sees it, signed in with an OpenID token of her Matrix session.
async fn referent_page(stack: &Stack, member: &Member) -> String {
    let path = format!("/_matrix/client/v3/user/{}/openid/request_token", member.user_id);
    let token = member.post(&path, json!({})).await["access_token"].as_str().expect("token").to_owned();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("http");
    let form = [("access_token", token.as_str()), ("matrix_server_name", "pcf.test")];
    let resp = http
        .post(format!("{}/relais/connexion/openid", stack.relais.web_url))
        .form(&form)
        .send()
        .await
        .expect("post");
    let cookie =
        resp.headers().get("set-cookie").and_then(|c| c.to_str().ok()).expect("signed in").to_owned();
    let cookie = cookie.split(';').next().unwrap_or_default().to_owned();
    let page =
        http.get(format!("{}/relais/referent", stack.relais.web_url)).header("cookie", cookie).send().await;
    page.expect("page").text().await.expect("html")
}

/// A stack whose `[bots] national_room` is the alias (local part returned) of a room to create.
async fn with_national_room() -> (Stack, String) {
    let alias_local = unique("communication");
    let env = vec![("RELAIS_BOTS__NATIONAL_ROOM".to_owned(), format!("#{alias_local}:pcf.test"))];
    (Stack::start(RelaisOptions { env, ..Default::default() }).await, alias_local)
}

#[tokio::test]
async fn the_national_team_broadcasts_to_chosen_federations() {
    let (stack, alias_local) = with_national_room().await;
    let (nadia, lucie, marc, tom) = (
        stack.synapse.register(&unique("nadia")).await,
        stack.synapse.register(&unique("lucie")).await,
        stack.synapse.register(&unique("marc")).await,
        stack.synapse.register(&unique("tom")).await,
    );
    let csv = format!(
        "N° adhérent;Prénom;Nom;Fédération;Section;Responsabilités;Cotisation à jour;Identifiant Matrix\n\
         1;Lucie;Garnier;Nord;Lille;Référente numérique;oui;{}\n2;Marc;Petit;Paris;Paris 11e;;oui;{}\n\
         3;Tom;Leroy;Rhône;Lyon 7e;;oui;{}\n",
        lucie.user_id, marc.user_id, tom.user_id
    );
    let file = stack.relais.dir.path().join("members.csv");
    std::fs::write(&file, csv).expect("csv");
    let (status, out, err) = stack.relais.cli(&["provision", &file.display().to_string()]);
    assert!(status.success(), "{out}{err}");

    // Nadia runs the national communication room (its creator, so a moderator); Lucie is in it
    // as a plain member.
    let room: Value = nadia
        .post(
            "/_matrix/client/v3/createRoom",
            json!({"name": "Communication nationale", "room_alias_name": alias_local,
            "invite": [stack.relais.bot(), lucie.user_id]}),
        )
        .await;
    let room = room["room_id"].as_str().expect("room").to_owned();
    stack.synapse.wait_joined(&nadia, &room, &stack.relais.bot()).await;
    assert_eq!(lucie.try_join(&room).await, 200);

    let appeal =
        nadia.send_text(&room, "Grande marche pour les salaires samedi 14h : mobilisez vos sections !").await;
    let reply = |body: &str| json!({"msgtype": "m.text", "body": body, "m.relates_to": {"m.in_reply_to": {"event_id": appeal}}});
    let refused = lucie.send_content(&room, reply("!diffuser --toutes")).await;
    assert!(lucie.wait_reply(&room, &stack.relais.bot(), &refused).await.contains("Seuls les modérateurs"));
    let help = lucie.send_text(&room, "!aide").await;
    assert!(
        !lucie.wait_reply(&room, &stack.relais.bot(), &help).await.contains("!diffuser"),
        "not for Lucie"
    );
    let help = nadia.send_text(&room, "!aide").await;
    assert!(nadia.wait_reply(&room, &stack.relais.bot(), &help).await.contains("!diffuser"), "Nadia may");
    let typo = nadia.send_content(&room, reply("!diffuser --toute")).await;
    assert!(
        nadia.wait_reply(&room, &stack.relais.bot(), &typo).await.contains("Usage"),
        "explained, not sent"
    );
    let typo = nadia.send_content(&room, reply("!diffuser --federation Nord")).await;
    assert!(
        nadia.wait_reply(&room, &stack.relais.bot(), &typo).await.contains("Option inconnue : --federation")
    );
    let unknown = nadia.send_content(&room, reply("!diffuser --fédérations Nord,Atlantide")).await;
    assert!(nadia.wait_reply(&room, &stack.relais.bot(), &unknown).await.contains("Atlantide"));
    let now = nadia.send_content(&room, reply("!diffuser --fédérations Nord,Paris")).await;
    assert!(nadia.wait_reply(&room, &stack.relais.bot(), &now).await.contains("Diffusé dans 2 salon(s)"));

    let lucie_reads = common::nio::read(&stack, &lucie, "#relais_nord.annonces:pcf.test").await;
    assert!(lucie_reads.iter().any(|b| b.starts_with("Grande marche pour les salaires")), "{lucie_reads:?}");
    let marc_reads = common::nio::read(&stack, &marc, "#relais_paris.annonces:pcf.test").await;
    assert!(marc_reads.iter().any(|b| b.starts_with("Grande marche")), "{marc_reads:?}");
    let tom_reads = common::nio::read(&stack, &tom, "#relais_rhone.annonces:pcf.test").await;
    assert!(
        !tom_reads.iter().any(|b| b.starts_with("Grande marche")),
        "Rhône was not targeted: {tom_reads:?}"
    );
    let page = referent_page(&stack, &lucie).await;
    assert!(
        page.contains("Diffusions nationales reçues")
            && page.contains("Grande marche pour les salaires")
            && page.contains("<th>Lecteurs</th>"),
        "{page}"
    );

    // A broadcast at a set time goes out by itself, once.
    let later = nadia.send_text(&room, "Rappel : tractage demain matin.").await;
    let scheduled = json!({"msgtype": "m.text", "body": "!diffuser --toutes --à 5s", "m.relates_to": {"m.in_reply_to": {"event_id": later}}});
    let ask = nadia.send_content(&room, scheduled).await;
    assert!(nadia.wait_reply(&room, &stack.relais.bot(), &ask).await.contains("Diffusion programmée"));
    let tom_later = eventually("the scheduled broadcast", Duration::from_secs(60), || async {
        let bodies = common::nio::read(&stack, &tom, "#relais_rhone.annonces:pcf.test").await;
        bodies.iter().any(|b| b.starts_with("Rappel : tractage")).then_some(bodies)
    })
    .await;
    assert_eq!(tom_later.iter().filter(|b| b.starts_with("Rappel : tractage")).count(), 1, "{tom_later:?}");
}

/// Delivered copies of the newest broadcast, as `relais stats --csv` counts them.
fn delivered(stack: &Stack) -> usize {
    let (_, out, _) = stack.relais.cli(&["stats", "--csv", "--limit", "1"]);
    out.lines().nth(1).and_then(|l| l.split(';').nth(4)).and_then(|n| n.parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn kill_9_during_a_broadcast_neither_loses_nor_repeats_a_copy() {
    const FEDERATIONS: usize = 30;
    let (mut stack, alias_local) = with_national_room().await;
    let nadia = stack.synapse.register(&unique("nadia")).await;
    let mut csv = String::from("N° adhérent;Prénom;Nom;Fédération;Section;Cotisation à jour;Courriel\n");
    for n in 0..FEDERATIONS {
        csv.push_str(&format!("{n};P{n};N{n};Fédé {n:02};Section {n};oui;m{n}@example.org\n"));
    }
    let file = stack.relais.dir.path().join("members.csv");
    std::fs::write(&file, csv).expect("csv");
    let (status, out, err) = stack.relais.cli(&["provision", &file.display().to_string()]);
    assert!(status.success(), "{out}{err}");
    let room = national_room(&stack, &nadia, &alias_local).await;

    let appeal = nadia.send_text(&room, "Appel unique : rassemblement dimanche.").await;
    let ask = json!({"msgtype": "m.text", "body": "!diffuser --toutes", "m.relates_to": {"m.in_reply_to": {"event_id": appeal}}});
    nadia.send_content(&room, ask).await;
    // Killed as soon as the first copies are recorded (or, on a fast machine, once all are).
    let at_kill = eventually("the first copies", Duration::from_secs(60), || async {
        let n = delivered(&stack);
        (n > 0).then_some(n)
    })
    .await;
    stack.relais.kill9().await;
    println!("killed with {at_kill} of {FEDERATIONS} copies recorded");
    stack.relais.start().await;
    eventually("every copy recorded", Duration::from_secs(120), || async {
        (delivered(&stack) == FEDERATIONS).then_some(())
    })
    .await;
    one_copy_each(&stack.bot(), FEDERATIONS, "Appel unique").await;
}

/// Every one of the `federations` "Fédé NN" announcements rooms holds exactly one message
/// starting with `text`, as the bot reads them.
pub(crate) async fn one_copy_each(bot_view: &Member, federations: usize, text: &str) {
    for n in 0..federations {
        let room = bot_view.resolve(&format!("#relais_fede-{n:02}.annonces:pcf.test")).await;
        let bodies: Vec<String> = bot_view
            .messages(&room, 100)
            .await
            .iter()
            .filter_map(|e| e["content"]["body"].as_str().map(str::to_owned))
            .collect();
        let copies = bodies.iter().filter(|b| b.starts_with(text)).count();
        assert_eq!(copies, 1, "federation {n}: {bodies:?}");
    }
}

/// Nadia's national communication room (she created it, so she moderates it), with the bot in it.
async fn national_room(stack: &Stack, nadia: &Member, alias_local: &str) -> String {
    let bot = stack.relais.bot();
    let room: Value = nadia
        .post(
            "/_matrix/client/v3/createRoom",
            json!({"name": "Communication nationale", "room_alias_name": alias_local, "invite": [bot]}),
        )
        .await;
    let room = room["room_id"].as_str().expect("room").to_owned();
    stack.synapse.wait_joined(nadia, &room, &bot).await;
    room
}

#[tokio::test]
async fn an_edited_then_redacted_broadcast_changes_every_copy() {
    let (stack, alias_local) = with_national_room().await;
    let (nadia, lucie, marc) = (
        stack.synapse.register(&unique("nadia")).await,
        stack.synapse.register(&unique("lucie")).await,
        stack.synapse.register(&unique("marc")).await,
    );
    let csv = format!(
        "N° adhérent;Prénom;Nom;Fédération;Section;Cotisation à jour;Identifiant Matrix\n\
         1;Lucie;Garnier;Nord;Lille;oui;{}\n2;Marc;Petit;Paris;Paris 11e;oui;{}\n",
        lucie.user_id, marc.user_id
    );
    let file = stack.relais.dir.path().join("members.csv");
    std::fs::write(&file, csv).expect("csv");
    let (status, out, err) = stack.relais.cli(&["provision", &file.display().to_string()]);
    assert!(status.success(), "{out}{err}");
    let room = national_room(&stack, &nadia, &alias_local).await;
    let bot = stack.relais.bot();

    let appeal = nadia.send_text(&room, "Rassemblement samedi à 14h devant la préfecture.").await;
    let ask = json!({"msgtype": "m.text", "body": "!diffuser --fédérations Nord,Paris",
                     "m.relates_to": {"m.in_reply_to": {"event_id": appeal}}});
    let ask = nadia.send_content(&room, ask).await;
    assert!(nadia.wait_reply(&room, &bot, &ask).await.contains("Diffusé dans 2 salon(s)"));
    let readers = [(&lucie, "#relais_nord.annonces:pcf.test"), (&marc, "#relais_paris.annonces:pcf.test")];
    for (member, alias) in readers {
        let shown = common::nio::shown(&stack, member, alias).await;
        assert!(shown.iter().any(|t| t.starts_with("Rassemblement samedi à 14h")), "{shown:?}");
    }

    // Nadia corrects the time in her original, as any client edits a message.
    let edit = json!({"msgtype": "m.text", "body": "* Rassemblement samedi à 15h devant la préfecture.",
        "m.new_content": {"msgtype": "m.text", "body": "Rassemblement samedi à 15h devant la préfecture."},
        "m.relates_to": {"rel_type": "m.replace", "event_id": appeal}});
    nadia.send_content(&room, edit).await;
    for (member, alias) in readers {
        let shown = eventually("the copy edited", Duration::from_secs(60), || async {
            let shown = common::nio::shown(&stack, member, alias).await;
            shown.iter().any(|t| t.starts_with("Rassemblement samedi à 15h")).then_some(shown)
        })
        .await;
        assert!(!shown.iter().any(|t| t.contains("à 14h")), "the old time is gone: {shown:?}");
    }

    // Then she withdraws it: every copy is redacted.
    nadia.redact(&room, &appeal).await;
    for (member, alias) in readers {
        eventually("the copy withdrawn", Duration::from_secs(60), || async {
            let shown = common::nio::shown(&stack, member, alias).await;
            (!shown.iter().any(|t| t.starts_with("Rassemblement"))).then_some(())
        })
        .await;
    }
    let stats = nadia.send_text(&room, "!stats").await;
    let stats = nadia.wait_reply(&room, &bot, &stats).await;
    assert!(stats.contains("modifié 1 fois") && stats.contains("retiré le"), "{stats}");
}

/// The bodies of the messages `member` reads in the rooms the bot invited them to directly
/// (joining each first).
async fn direct_messages(member: &Member, bot: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    for room in member.invites().await {
        if member.try_join(&room).await != 200 {
            continue;
        }
        for event in member.messages(&room, 20).await {
            if event["sender"] == bot && event["type"] == "m.room.message" {
                bodies.extend(event["content"]["body"].as_str().map(str::to_owned));
            }
        }
    }
    bodies
}

#[tokio::test]
async fn a_broadcast_aimed_at_an_office_or_sections_reaches_exactly_those_members() {
    let (stack, alias_local) = with_national_room().await;
    let [nadia, lucie, marc, tom, ana] = [
        stack.synapse.register(&unique("nadia")).await,
        stack.synapse.register(&unique("lucie")).await,
        stack.synapse.register(&unique("marc")).await,
        stack.synapse.register(&unique("tom")).await,
        stack.synapse.register(&unique("ana")).await,
    ];
    let csv = format!(
        "N° adhérent;Prénom;Nom;Fédération;Section;Responsabilités;Cotisation à jour;Identifiant Matrix\n\
         1;Lucie;Garnier;Nord;Lille;Référente numérique;oui;{}\n2;Marc;Petit;Nord;Roubaix;;oui;{}\n\
         3;Tom;Leroy;Rhône;Lyon 7e;Référent numérique;oui;{}\n4;Ana;Costa;Isère;Grenoble;Secrétaire fédérale;oui;{}\n\
         5;Zoé;Martin;Nord;Lille;Référente numérique;oui;\n",
        lucie.user_id, marc.user_id, tom.user_id, ana.user_id
    );
    let file = stack.relais.dir.path().join("members.csv");
    std::fs::write(&file, csv).expect("csv");
    let (status, out, err) = stack.relais.cli(&["provision", &file.display().to_string()]);
    assert!(status.success(), "{out}{err}");
    let room = national_room(&stack, &nadia, &alias_local).await;
    let bot = stack.relais.bot();
    let reply = |body: &str, to: &str| json!({"msgtype": "m.text", "body": body, "m.relates_to": {"m.in_reply_to": {"event_id": to}}});

    // To the digital referents of Nord and Rhône: Lucie and Tom, in their direct rooms with the
    // bot; Zoé has no account yet, and the answer says so; Marc and Ana are not referents.
    let memo = nadia.send_text(&room, "Note aux référents : formation Element jeudi.").await;
    let ask =
        nadia.send_content(&room, reply("!diffuser --rôle référent --fédérations Nord,Rhône", &memo)).await;
    let answer = nadia.wait_reply(&room, &bot, &ask).await;
    assert!(answer.contains("Envoyé en message privé à 2 personne(s) sur 2"), "{answer}");
    assert!(answer.contains("1 titulaire(s) de ce rôle sans compte Matrix"), "{answer}");
    for (member, reached) in [(&lucie, true), (&tom, true), (&marc, false), (&ana, false)] {
        let bodies = direct_messages(member, &bot).await;
        let got = bodies.iter().any(|b| b.starts_with("Note aux référents"));
        assert_eq!(got, reached, "{}: {bodies:?}", member.user_id);
    }
    let typo = nadia.send_content(&room, reply("!diffuser --rôle trésorier --toutes", &memo)).await;
    assert!(nadia.wait_reply(&room, &bot, &typo).await.contains("Rôle inconnu : trésorier"));

    // To Nord's Roubaix section only: its room, not Lille's nor the announcements.
    let local = nadia.send_text(&room, "Réunion de section à Roubaix samedi.").await;
    let ask =
        nadia.send_content(&room, reply("!diffuser --fédérations Nord --sections Roubaix", &local)).await;
    assert!(nadia.wait_reply(&room, &bot, &ask).await.contains("Diffusé dans 1 salon(s)"));
    let bot_view = stack.bot();
    for (alias, reached) in [
        ("#relais_nord.s.roubaix:pcf.test", true),
        ("#relais_nord.s.lille:pcf.test", false),
        ("#relais_nord.annonces:pcf.test", false),
    ] {
        let room = bot_view.resolve(alias).await;
        let bodies: Vec<String> = bot_view
            .messages(&room, 50)
            .await
            .iter()
            .filter_map(|e| e["content"]["body"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(
            bodies.iter().any(|b| b.starts_with("Réunion de section")),
            reached,
            "{alias}: {bodies:?}"
        );
    }
    let unknown =
        nadia.send_content(&room, reply("!diffuser --fédérations Nord --sections Atlantis", &local)).await;
    assert!(
        nadia
            .wait_reply(&room, &bot, &unknown)
            .await
            .contains("Section(s) inconnue(s) dans ces fédérations : Atlantis")
    );
}
