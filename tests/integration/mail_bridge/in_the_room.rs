//! A room read and answered by mail: messages, replies, images, edits and redactions, and what
//! members and moderators manage from the room.

use super::*;

#[tokio::test]
async fn a_section_reads_by_mail_and_answers_into_the_room() {
    let world = world(&[]).await;
    let first = world.paul.send_text(&world.room, "Réunion de section jeudi à 18h au local.").await;

    // Email-only members default to the daily digest.
    let digest = digest_until(&world, JEANNE, "Réunion de section").await;
    assert!(digest.subject.contains("Résumé quotidien"), "{}", digest.subject);
    assert!(digest.text.contains("Paul Durand"), "{}", digest.text);
    assert_eq!(digest.header("List-Unsubscribe-Post").as_deref(), Some("List-Unsubscribe=One-Click"));
    assert!(digest.header("X-MailFrom").is_some_and(|f| f.starts_with("bounces+")), "VERP");
    assert!(digest.html.contains("Réunion de section"), "HTML part");
    assert_eq!(mails_to(&world.smtp, MARC).len(), 1, "Marc has his digest too");

    // Jeanne chooses each message on her preferences page.
    let prefs = digest.link(&format!("{}/relais/courriel/", world.stack.relais.web_url));
    let http = reqwest::Client::new();
    let page = http.get(&prefs).send().await.expect("prefs").text().await.expect("html");
    assert!(page.contains("Section Lille (Nord)") && page.contains("un résumé par jour"), "{page}");
    let saved = http
        .post(&prefs)
        .form(&[("l-nord-annonces", "message"), ("l-nord-lille", "message"), ("action", "enregistrer")])
        .send()
        .await
        .expect("post");
    assert_eq!(saved.status(), 200);
    assert!(saved.text().await.expect("html").contains("Vos préférences sont enregistrées"));
    let forged = prefs.replace("/relais/courriel/1002.", "/relais/courriel/1003.");
    assert_eq!(http.get(&forged).send().await.expect("forged").status(), 404, "a forged link is refused");

    let second = world.paul.send_text(&world.room, "Qui peut apporter des tracts samedi ?").await;
    let mail = wait_mail(&world.smtp, JEANNE, "Qui peut apporter").await;
    assert!(mail.subject.starts_with("[Section Lille (Nord)]"), "{}", mail.subject);
    assert_eq!(mail.from(), ("Paul Durand (via Relais)".to_owned(), format!("nord-lille@{DOMAIN}")));
    assert_eq!(mail.header("Precedence").as_deref(), Some("list"));
    assert!(mail.header("List-Id").is_some_and(|v| v.contains(&format!("nord-lille.{DOMAIN}"))));
    assert!(mail.header("Message-ID").is_some_and(|v| v.contains(second.trim_start_matches('$').split(':').next().unwrap_or_default())));
    let reply_to = mail.reply_to();
    assert!(reply_to.starts_with("nord-lille+r.") && reply_to.ends_with(DOMAIN), "{reply_to}");
    assert!(
        mails_to(&world.smtp, MARC).iter().all(|m| !m.text.contains("Qui peut apporter")),
        "Marc stays on digests"
    );
    let _ = first;

    // Jeanne answers from her mail client, quoting the message as Gmail does.
    let body = "Moi, j'en ai 200 à la maison.\n\nLe mar. 24 nov. 2026 à 09:12, Paul Durand (via Relais) <x@listes.pcf.test> a écrit :\n> Qui peut apporter des tracts samedi ?\n";
    let message_id = mail.header("Message-ID").expect("id");
    let raw = mail::reply(
        GOOD_AUTH,
        &format!("Jeanne Martin <{JEANNE}>"),
        &reply_to,
        &format!("Re: {}", mail.subject),
        &format!("In-Reply-To: {message_id}\r\n"),
        body,
    );
    assert_eq!(mail::send(world.inbound, JEANNE, &reply_to, &raw), "accepted");
    let ghost = "@courriel_1002:pcf.test";
    let posted =
        common::eventually("Jeanne's reply in the room", std::time::Duration::from_secs(60), || async {
            ghost_messages(&world, ghost).await.into_iter().next()
        })
        .await;
    assert_eq!(posted["content"]["body"], "Moi, j'en ai 200 à la maison.", "quote stripped: {posted}");
    assert_eq!(posted["content"]["m.relates_to"]["m.in_reply_to"]["event_id"], second.as_str());
    let profile = world.paul.get(&format!("/_matrix/client/v3/profile/{ghost}/displayname")).await;
    assert_eq!(profile["displayname"], "Jeanne Martin (courriel)");

    // "STOP" by reply unsubscribes her, with a confirmation.
    let stop = mail::reply(GOOD_AUTH, JEANNE, &reply_to, "Re: tracts", "", "STOP");
    assert_eq!(mail::send(world.inbound, JEANNE, &reply_to, &stop), "accepted");
    wait_mail(&world.smtp, JEANNE, "Désabonnement confirmé").await;
    world.paul.send_text(&world.room, "Collage d'affiches dimanche.").await;
    digest_until(&world, MARC, "Collage d'affiches").await;
    assert!(
        mails_to(&world.smtp, JEANNE).iter().all(|m| !m.text.contains("Collage d'affiches")),
        "Jeanne unsubscribed gets nothing more"
    );
}

/// Refusals post nothing; the sender is told why only when the MTA authenticated the address
/// the answer goes to, and a few times an hour at most: anything else would be backscatter.
#[tokio::test]
async fn refused_mail_posts_nothing_and_explains_only_to_authenticated_senders() {
    let world = world(&[
        ("RELAIS_MAIL__DEFAULT_MODE", "message"),
        ("RELAIS_MAIL__MAX_INBOUND_BYTES", "100000"),
        ("RELAIS_MAIL__ANSWERS_PER_HOUR", "1"),
    ])
    .await;
    world.paul.send_text(&world.room, "Assemblée générale le 12.").await;
    let mail = wait_mail(&world.smtp, JEANNE, "Assemblée générale").await;
    let jeanne_key = mail.reply_to();
    let marc_key = wait_mail(&world.smtp, MARC, "Assemblée générale").await.reply_to();
    let inbound = world.inbound;

    // A tampered reply address, or an address that is no list, is refused during the SMTP
    // dialogue: the sending server answers, not Relais.
    let tampered = jeanne_key.replace("+r.", "+r.9");
    let answer =
        mail::send(inbound, JEANNE, &tampered, &mail::reply(GOOD_AUTH, JEANNE, &tampered, "Re", "", "x"));
    assert!(answer.starts_with("refused 550"), "{answer}");
    let nowhere = format!("pas-une-liste@{DOMAIN}");
    let answer =
        mail::send(inbound, JEANNE, &nowhere, &mail::reply(GOOD_AUTH, JEANNE, &nowhere, "Hello", "", "x"));
    assert!(answer.starts_with("refused 550 5.1.1"), "{answer}");
    // Too big: refused at the end of DATA.
    let big = mail::reply(GOOD_AUTH, JEANNE, &jeanne_key, "Re", "", &"x".repeat(150_000));
    let answer = mail::send(inbound, JEANNE, &jeanne_key, &big);
    assert!(answer.starts_with("refused 552"), "{answer}");

    // Accepted, then refused without an answer: spoofed (DMARC fails); a forged envelope sender
    // (SPF fails for it) on a mail from Marc with Jeanne's key; an auto-reply.
    let spoof_auth = "mx.pcf.test; spf=fail smtp.mailfrom=evil.example; dmarc=fail header.from=example.org";
    let spoofed = mail::reply(spoof_auth, JEANNE, &jeanne_key, "Re", "", "Je suis Jeanne, vraiment.");
    assert_eq!(mail::send(inbound, "spoofer@evil.example", &jeanne_key, &spoofed), "accepted");
    let victim_auth = "mx.pcf.test; spf=fail smtp.mailfrom=victime.example; dkim=pass header.d=example.org; \
        dmarc=pass header.from=example.org";
    let forged = mail::reply(victim_auth, MARC, &jeanne_key, "Re", "", "Pour la victime");
    assert_eq!(mail::send(inbound, "victime@victime.example", &jeanne_key, &forged), "accepted");
    // Refused with an explanation to an authenticated sender: Jeanne's key used by Marc, broken
    // mail (explained once: one answer an hour per address here, the second is not).
    let other = mail::reply(GOOD_AUTH, MARC, &jeanne_key, "Re", "", "Marc avec la clé de Jeanne");
    assert_eq!(mail::send(inbound, MARC, &jeanne_key, &other), "accepted");
    let broken = "Authentication-Results: mx.pcf.test; spf=pass smtp.mailfrom=example.net\r\n\
        Subject: \u{fffd}\r\nContent-Type: multipart/mixed; boundary=\"nope\"\r\n\r\n--nope\r\ngarbage";
    for _ in 0..2 {
        assert_eq!(mail::send(inbound, "broken@example.net", &marc_key, broken), "accepted");
    }
    let auto = mail::reply(
        GOOD_AUTH,
        MARC,
        &marc_key,
        "Absence",
        "Auto-Submitted: auto-replied\r\n",
        "Je suis absent.",
    );
    assert_eq!(mail::send(inbound, MARC, &marc_key, &auto), "accepted");
    // A good reply last: once it is posted, everything before it has been handled.
    let good = mail::reply(GOOD_AUTH, MARC, &marc_key, "Re", "", "Présent le 12.");
    assert_eq!(mail::send(inbound, MARC, &marc_key, &good), "accepted");

    let explained = wait_mail(&world.smtp, MARC, "ne correspond pas").await;
    assert_eq!(explained.header("Auto-Submitted").as_deref(), Some("auto-replied"));
    wait_mail(&world.smtp, "broken@example.net", "n'a pas pu être lu").await;
    let posted = common::eventually("Marc's reply", std::time::Duration::from_secs(60), || async {
        let mine = ghost_messages(&world, "@courriel_1003:pcf.test").await;
        (!mine.is_empty()).then_some(mine)
    })
    .await;
    let bodies: Vec<_> = posted.iter().map(|e| e["content"]["body"].as_str().unwrap_or_default()).collect();
    assert_eq!(bodies, ["Présent le 12."], "only the good reply is posted");
    assert!(ghost_messages(&world, "@courriel_1002:pcf.test").await.is_empty(), "nothing as Jeanne");
    assert!(mails_to(&world.smtp, "spoofer@evil.example").is_empty(), "no backscatter to a spoofer");
    assert!(mails_to(&world.smtp, "victime@victime.example").is_empty(), "none to a forged sender");
    assert_eq!(mails_to(&world.smtp, "broken@example.net").len(), 1, "one answer an hour");
    let log = world.stack.relais.log();
    for outcome in ["not explained: sender not authenticated", "not explained: hourly answer limit reached"] {
        assert!(log.contains(outcome), "the silent drop is recorded: {outcome}");
    }
    assert!(
        mails_to(&world.smtp, MARC)
            .iter()
            .all(|m| !m.subject.contains("n'a pas été publié") || m.text.contains("ne correspond pas")),
        "the auto-reply got no answer"
    );
}

#[tokio::test]
async fn redacted_messages_are_never_mailed_and_one_click_unsubscribes() {
    let world = world(&[]).await;
    let oops = world.paul.send_text(&world.room, "Code de la porte : 4589").await;
    world.paul.redact(&world.room, &oops).await;
    world.paul.send_text(&world.room, "Ordre du jour de jeudi : élections.").await;
    let digest = digest_until(&world, MARC, "Ordre du jour").await;
    assert!(!digest.text.contains("4589") && !digest.html.contains("4589"), "redacted text is gone");

    let unsubscribe = digest.header("List-Unsubscribe").expect("List-Unsubscribe");
    let url = unsubscribe.split(['<', '>']).find(|p| p.starts_with("http")).expect("https link").to_owned();
    let http = reqwest::Client::new();
    let get = http.get(&url).send().await.expect("get").text().await.expect("html");
    assert!(get.contains("Me désabonner"), "a GET only asks: {get}");
    let post = http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .expect("one-click");
    assert_eq!(post.status(), 200);
    world.paul.send_text(&world.room, "Dernières nouvelles.").await;
    digest_until(&world, JEANNE, "Dernières nouvelles").await;
    assert!(mails_to(&world.smtp, MARC).iter().all(|m| !m.text.contains("Dernières nouvelles")));
}

#[tokio::test]
async fn images_go_out_attached_or_linked_and_attachments_come_back() {
    let world =
        world(&[("RELAIS_MAIL__DEFAULT_MODE", "message"), ("RELAIS_MAIL__MAX_ATTACHMENT_BYTES", "4000")])
            .await;
    let small: Vec<u8> = (0..1500u32).map(|i| (i * 7 % 251) as u8).collect();
    let big: Vec<u8> = (0..9000u32).map(|i| (i * 13 % 253) as u8).collect();
    for (data, name) in [(&small, "affiche.png"), (&big, "grande-affiche.png")] {
        let mxc = world.paul.upload(data.clone(), "image/png", name).await;
        let content = serde_json::json!({"msgtype": "m.image", "body": name, "url": mxc,
            "info": {"mimetype": "image/png", "size": data.len()}});
        world.paul.send_content(&world.room, content).await;
    }
    let attached = wait_mail(&world.smtp, JEANNE, "[Image : affiche.png]").await;
    assert!(attached.text.contains("en pièce jointe"), "{}", attached.text);
    let parsed = mail_parser::MessageParser::default().parse(attached.raw.as_bytes()).expect("mail");
    let part = parsed.attachments().next().expect("an attachment");
    assert_eq!(part.contents(), small.as_slice(), "the image itself is attached");

    let linked = wait_mail(&world.smtp, JEANNE, "[Image : grande-affiche.png]").await;
    let url = linked.link(&format!("{}/relais/courriel/media/", world.stack.relais.web_url));
    let fetched = reqwest::get(&url).await.expect("media page");
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.bytes().await.expect("bytes").to_vec(), big, "too large: linked, served by Relais");

    // A reply with a photo: the text and the photo reach the room.
    let reply_to = attached.reply_to();
    let boundary = "b0undary";
    let raw = format!(
        "Authentication-Results: {GOOD_AUTH}\r\nFrom: Jeanne Martin <{JEANNE}>\r\nTo: {reply_to}\r\nSubject: Re: affiche\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n\
         --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nVoici la mienne.\r\n\
         --{boundary}\r\nContent-Type: image/png; name=\"photo.png\"\r\nContent-Disposition: attachment; filename=\"photo.png\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgoAAAANSUhEUg==\r\n--{boundary}--\r\n"
    );
    assert_eq!(mail::send(world.inbound, JEANNE, &reply_to, &raw), "accepted");
    let posted =
        common::eventually("Jeanne's photo in the room", std::time::Duration::from_secs(60), || async {
            let mine = ghost_messages(&world, "@courriel_1002:pcf.test").await;
            (mine.len() >= 2).then_some(mine)
        })
        .await;
    assert_eq!(posted[0]["content"]["body"], "Voici la mienne.");
    assert_eq!(posted[1]["content"]["msgtype"], "m.image");
    let mxc = posted[1]["content"]["url"].as_str().expect("url");
    assert_eq!(
        world.paul.download(mxc).await,
        [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, b'I', b'H', b'D', b'R']
    );
}

/// Sophie, a chat member of the section, provisioned beside the others and in the room.
async fn sophie_joins(world: &World) -> Member {
    let sophie = world.stack.synapse.register(&common::unique("sophie")).await;
    let csv = format!(
        "{HEADER}1001;Paul;Durand;paul@example.org;Nord;Lille;oui;{};messagerie\n\
         1002;Jeanne;Martin;{JEANNE};Nord;Lille;oui;;courriel\n1003;Marc;Petit;{MARC};Nord;Lille;oui;;courriel\n\
         1004;Sophie;Blanc;sophie@example.org;Nord;Lille;oui;{};messagerie\n",
        world.paul.user_id, sophie.user_id
    );
    let file = world.stack.relais.dir.path().join("members2.csv");
    std::fs::write(&file, csv).expect("csv");
    let (status, out, err) = world.stack.relais.cli(&["provision", &file.display().to_string()]);
    assert!(status.success(), "{out}{err}");
    assert_eq!(sophie.try_join(SECTION).await, 200);
    sophie
}

/// The bot's notice answering `event_id`, as a member reads it.
async fn bot_answer(world: &World, member: &Member, room: &str, event_id: &str) -> String {
    member.wait_reply(room, &world.stack.relais.bot(), event_id).await
}

#[tokio::test]
async fn members_and_moderators_manage_mail_from_the_room() {
    let world = world(&[]).await;
    let sophie = sophie_joins(&world).await;

    // A chat member asks for the section's messages by mail.
    let ask = sophie.send_text(&world.room, "!courriel abonner chaque").await;
    let answer = bot_answer(&world, &sophie, &world.room, &ask).await;
    assert!(
        answer.contains("chaque message") && answer.contains(&format!("nord-lille@{DOMAIN}")),
        "{answer}"
    );
    world.paul.send_text(&world.room, "Le car part à 7h.").await;
    wait_mail(&world.smtp, "sophie@example.org", "Le car part").await;

    // Paul's own room becomes a list; only a moderator may do that.
    let own = world.paul.create_room("Comité des fêtes", &[&world.stack.relais.bot(), &sophie.user_id]).await;
    world.stack.synapse.wait_joined(&world.paul, &own, &world.stack.relais.bot()).await;
    assert_eq!(sophie.try_join(&own).await, 200);
    let refused = sophie.send_text(&own, "!courriel activer").await;
    assert!(bot_answer(&world, &sophie, &own, &refused).await.contains("Seuls les modérateurs"));
    let enable = world.paul.send_text(&own, "!courriel activer").await;
    let enabled = bot_answer(&world, &world.paul, &own, &enable).await;
    assert!(enabled.contains(&format!("comite-des-fetes@{DOMAIN}")), "{enabled}");
    let sub = sophie.send_text(&own, "!email subscribe").await;
    bot_answer(&world, &sophie, &own, &sub).await;
    world.paul.send_text(&own, "Buvette : qui tient le stand ?").await;
    let mail = wait_mail(&world.smtp, "sophie@example.org", "Buvette").await;
    assert!(mail.subject.starts_with("[Comité des fêtes]"), "{}", mail.subject);

    // Unsubscribing from the room works the same way.
    let stop = sophie.send_text(&own, "!courriel désabonner").await;
    assert!(bot_answer(&world, &sophie, &own, &stop).await.contains("ne recevrez plus"));
}

#[tokio::test]
async fn a_crafted_media_url_never_fetches_anything_else() {
    let world = world(&[("RELAIS_MAIL__DEFAULT_MODE", "message")]).await;
    // A room only Paul and the bot are in, holding a secret.
    let secret = world.paul.create_room("Bureau", &[&world.stack.relais.bot()]).await;
    world.stack.synapse.wait_joined(&world.paul, &secret, &world.stack.relais.bot()).await;
    world.paul.send_text(&secret, "Code du coffre : 7731").await;

    // An image whose url climbs out of the media API to read that room as the appservice.
    let crafted =
        format!("mxc://pcf.test/../../../../../../_matrix/client/v3/rooms/{secret}/messages?dir=b&x=");
    let content = serde_json::json!({"msgtype": "m.image", "body": "plan.png", "url": crafted,
        "info": {"mimetype": "image/png", "size": 100}});
    world.paul.send_content(&world.room, content).await;

    let mail = wait_mail(&world.smtp, JEANNE, "plan.png").await;
    let parsed = mail_parser::MessageParser::default().parse(mail.raw.as_bytes()).expect("mail");
    assert_eq!(parsed.attachments().count(), 0, "nothing attached: {}", mail.text);
    assert!(!mail.text.contains("7731") && !mail.html.contains("7731"), "{}", mail.text);
    assert!(!mail.text.contains("/relais/courriel/media/"), "no media link either: {}", mail.text);
}

#[tokio::test]
async fn only_the_author_edits_the_mail_copy_of_a_message() {
    let world = world(&[]).await;
    let sophie = sophie_joins(&world).await;

    let edit = |target: &str, text: &str| {
        serde_json::json!({"msgtype": "m.text", "body": format!("* {text}"),
            "m.new_content": {"msgtype": "m.text", "body": text},
            "m.relates_to": {"rel_type": "m.replace", "event_id": target}})
    };
    let meeting = world.paul.send_text(&world.room, "Rendez-vous jeudi à 18h au local.").await;
    // Sophie rewrites Paul's message: Element would not show it, and the mail must not either.
    sophie.send_content(&world.room, edit(&meeting, "Réunion annulée, restez chez vous.")).await;
    let tracts = world.paul.send_text(&world.room, "Apportez des tracts.").await;
    world.paul.send_content(&world.room, edit(&tracts, "Apportez des tracts et des affiches.")).await;
    world.paul.send_text(&world.room, "Fin des annonces.").await;
    // Events are handled in order: once the bot answers this, every message and edit before it
    // is stored, so the next digest holds them all as they stand.
    let ping = world.paul.send_text(&world.room, "!ping").await;
    bot_answer(&world, &world.paul, &world.room, &ping).await;

    let digest = digest_until(&world, MARC, "Fin des annonces").await;
    assert!(digest.text.contains("Rendez-vous jeudi à 18h"), "{}", digest.text);
    assert!(!digest.text.contains("annulée") && !digest.html.contains("annulée"), "{}", digest.text);
    assert!(
        digest.text.contains("Apportez des tracts et des affiches."),
        "the author's edit: {}",
        digest.text
    );
}

/// An email-only member takes, from their preferences page, another list of their federation
/// that a moderator turned on (the discussion room), and reads it by mail; a member who did not
/// take it gets nothing from it.
#[tokio::test]
async fn an_email_only_member_takes_another_list_of_their_federation_from_the_preferences_page() {
    let world = world(&[("RELAIS_MAIL__DEFAULT_MODE", "message")]).await;
    // Paul becomes the federation's secretary: he moderates its discussion room.
    let csv = format!(
        "N° adhérent;Prénom;Nom;Courriel;Fédération;Section;Cotisation à jour;Identifiant Matrix;Préférence de contact;Responsabilités\n\
         1001;Paul;Durand;paul@example.org;Nord;Lille;oui;{};messagerie;secrétaire fédéral\n\
         1002;Jeanne;Martin;{JEANNE};Nord;Lille;oui;;courriel;\n\
         1003;Marc;Petit;{MARC};Nord;Lille;oui;;courriel;\n",
        world.paul.user_id
    );
    let file = world.stack.relais.dir.path().join("members-roles.csv");
    std::fs::write(&file, csv).expect("csv");
    let (status, stdout, stderr) = world.stack.relais.cli(&["provision", &file.display().to_string()]);
    assert!(status.success(), "{stdout}\n{stderr}");
    assert_eq!(world.paul.try_join("#relais_nord:pcf.test").await, 200, "the federation space");
    let discussion = world.paul.resolve("#relais_nord.discussion:pcf.test").await;
    assert_eq!(world.paul.try_join(&discussion).await, 200, "the discussion room");
    let enable = world.paul.send_text(&discussion, "!courriel activer").await;
    let enabled = bot_answer(&world, &world.paul, &discussion, &enable).await;
    assert!(enabled.contains(&format!("@{DOMAIN}")), "{enabled}");

    // Jeanne's preferences page, from a mail of her section, offers the discussion room.
    world.paul.send_text(&world.room, "Collage d'affiches samedi.").await;
    let mail = wait_mail(&world.smtp, JEANNE, "Collage").await;
    let prefs = mail.link(&format!("{}/relais/courriel/", world.stack.relais.web_url));
    let http = reqwest::Client::new();
    let page = http.get(&prefs).send().await.expect("prefs").text().await.expect("html");
    let offered = page.split("Autres salons").nth(1).unwrap_or_default();
    assert!(offered.contains("Nord — discussion"), "{page}");
    let saved = http
        .post(&prefs)
        .form(&[("o-nord-discussion", "message"), ("action", "enregistrer")])
        .send()
        .await
        .expect("post")
        .text()
        .await
        .expect("html");
    assert!(saved.contains("Vos préférences sont enregistrées"), "{saved}");
    assert!(!saved.contains("Autres salons"), "taken, no longer offered: {saved}");

    world.paul.send_text(&discussion, "Qui vient au congrès départemental ?").await;
    let mail = wait_mail(&world.smtp, JEANNE, "congrès départemental").await;
    assert!(mail.subject.starts_with("[Nord — discussion]"), "{}", mail.subject);
    // Marc, who took nothing, still gets his section's mail but not this.
    world.paul.send_text(&world.room, "Réunion mardi.").await;
    wait_mail(&world.smtp, MARC, "Réunion mardi").await;
    assert!(mails_to(&world.smtp, MARC).iter().all(|m| !m.text.contains("congrès départemental")));
}
