//! What reaches mailboxes, and what the bridge does when a mail server, a mailbox or the
//! homeserver fails: nothing is lost.

use super::*;

#[tokio::test]
async fn a_fan_out_killed_midway_loses_nothing() {
    let smtp = SmtpSink::start().await;
    let env = vec![
        ("RELAIS_MAIL__DOMAIN".to_owned(), DOMAIN.to_owned()),
        ("RELAIS_MAIL__DEFAULT_MODE".to_owned(), "message".to_owned()),
        ("RELAIS_MAIL__SMTP_CONCURRENCY".to_owned(), "4".to_owned()),
    ];
    let mut stack =
        Stack::start(RelaisOptions { smtp_url: Some(smtp.url()), env, ..Default::default() }).await;
    let paul = stack.synapse.register(&common::unique("paul")).await;
    let count = 1000;
    let mut csv =
        format!("{HEADER}1001;Paul;Durand;paul@example.org;Nord;Lille;oui;{};messagerie\n", paul.user_id);
    for i in 0..count {
        csv.push_str(&format!("{};Membre;N{i};membre{i}@example.org;Nord;Lille;oui;;courriel\n", 5000 + i));
    }
    let file = stack.relais.dir.path().join("members.csv");
    std::fs::write(&file, csv).expect("csv");
    let (status, stdout, stderr) = stack.relais.cli(&["provision", &file.display().to_string()]);
    assert!(status.success(), "{stdout}\n{stderr}");
    assert_eq!(paul.try_join(SECTION).await, 200);
    let room = paul.resolve(SECTION).await;
    paul.send_text(&room, "Appel à la mobilisation de samedi.").await;

    // Kill relais once part of the fan-out is out, then start it again.
    common::eventually("the fan-out under way", std::time::Duration::from_secs(60), || async {
        (smtp.messages().len() >= 50).then_some(())
    })
    .await;
    stack.relais.kill9().await;
    let at_kill = smtp.messages().len();
    stack.relais.start().await;

    let per_recipient =
        common::eventually("every member's mail", std::time::Duration::from_secs(120), || async {
            let mut seen = std::collections::HashMap::<String, usize>::new();
            for raw in smtp.messages() {
                if let Some(to) = raw.lines().find_map(|l| l.strip_prefix("X-RcptTo: ")) {
                    *seen.entry(to.trim().to_owned()).or_default() += 1;
                }
            }
            (seen.len() >= count).then_some(seen)
        })
        .await;
    assert!(at_kill < count, "relais was killed mid-fan-out ({at_kill} of {count} sent)");
    assert_eq!(per_recipient.len(), count, "no member lost");
    let duplicates: usize = per_recipient.values().map(|n| n - 1).sum();
    // The journal of accepted deliveries records, at restart, what the killed process sent but
    // had not recorded. What no client can know is whether a mail whose end of data was on the
    // wire at the kill was accepted: only those (at most one per SMTP session) may go twice,
    // with the same Message-ID.
    assert!(duplicates <= 4, "{duplicates} mails sent twice");
    eprintln!("fan-out killed after {at_kill} of {count} mails; {duplicates} sent twice");
}

/// A delivery status notification as a receiving MTA sends it (RFC 3464), from the null sender.
fn dsn(verp: &str, status: &str) -> String {
    format!(
        "From: MAILER-DAEMON@mx.example.org\r\nTo: {verp}\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n\
         --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n\
         Final-Recipient: rfc822; {MARC}\r\nAction: failed\r\nStatus: {status}\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n--b--\r\n"
    )
}

#[tokio::test]
async fn bounces_disable_a_dead_address_once_counted() {
    let world = world(&[("RELAIS_MAIL__DEFAULT_MODE", "message")]).await;
    world.paul.send_text(&world.room, "Premier message.").await;
    world.paul.send_text(&world.room, "Deuxième message.").await;
    let first = wait_mail(&world.smtp, MARC, "Premier message").await;
    let second = wait_mail(&world.smtp, MARC, "Deuxième message").await;
    let verps: Vec<String> =
        [&first, &second].iter().map(|m| m.header("X-MailFrom").expect("VERP")).collect();
    assert_ne!(verps[0], verps[1], "one return path per delivery");
    // The first bounce arrives twice: it counts once (2 points of 4), the address stays on.
    for _ in 0..2 {
        assert_eq!(mail::send(world.inbound, "", &verps[0], &dsn(&verps[0], "5.1.1")), "accepted");
    }
    common::eventually("the bounces handled", std::time::Duration::from_secs(60), || async {
        let (_, out, _) = world.stack.relais.cli(&["mail", "lists"]);
        out.contains("inbound: 0 pending").then_some(())
    })
    .await;
    let (_, audit, _) = world.stack.relais.cli(&["audit", "--limit", "20"]);
    assert!(!audit.contains("disable_address"), "one bounce counted once does not disable: {audit}");
    assert_eq!(mail::send(world.inbound, "", &verps[1], &dsn(&verps[1], "5.1.1")), "accepted");
    common::eventually("the address disabled", std::time::Duration::from_secs(60), || async {
        let (_, out, _) = world.stack.relais.cli(&["audit", "--limit", "20"]);
        out.contains("disable_address").then_some(())
    })
    .await;
    world.paul.send_text(&world.room, "Troisième message.").await;
    wait_mail(&world.smtp, JEANNE, "Troisième message").await;
    assert!(
        mails_to(&world.smtp, MARC).iter().all(|m| !m.text.contains("Troisième")),
        "no more mail to a dead address"
    );
    assert!(mails_to(&world.smtp, "mailer-daemon").is_empty(), "a bounce is never answered");
    // Once Marc's mailbox works again, his referent turns mail back on.
    let (status, out, err) = world.stack.relais.cli(&["mail", "reactivate", "1003"]);
    assert!(status.success(), "{out}{err}");
    world.paul.send_text(&world.room, "Quatrième message.").await;
    wait_mail(&world.smtp, MARC, "Quatrième message").await;
}

#[tokio::test]
async fn outages_of_the_mail_server_and_the_homeserver_lose_nothing() {
    let mut world = world(&[("RELAIS_MAIL__DEFAULT_MODE", "message")]).await;
    // The mail server goes away; a message is posted meanwhile.
    let port = world.smtp_port;
    drop(std::mem::replace(&mut world.smtp, SmtpSink::start().await));
    world.paul.send_text(&world.room, "Message pendant la panne du serveur de courriel.").await;
    common::eventually("the delivery deferred", std::time::Duration::from_secs(60), || async {
        world.stack.relais.log().contains("mail deferred, will retry").then_some(())
    })
    .await;
    // Back on the same port: the deferred mails go out.
    world.smtp = SmtpSink::start_on(port).await;
    let mail = wait_mail(&world.smtp, JEANNE, "pendant la panne").await;

    // The homeserver goes away; Jeanne answers meanwhile.
    world.stack.synapse.kill();
    let reply_to = mail.reply_to();
    let raw = mail::reply(GOOD_AUTH, JEANNE, &reply_to, "Re: panne", "", "Bien reçu malgré la panne.");
    assert_eq!(
        mail::send(world.inbound, JEANNE, &reply_to, &raw),
        "accepted",
        "accepted while Synapse is down"
    );
    common::eventually("the reply waiting", std::time::Duration::from_secs(60), || async {
        let (_, out, _) = world.stack.relais.cli(&["mail", "lists"]);
        out.contains("inbound: 1 pending").then_some(())
    })
    .await;
    world.stack.synapse.restart().await;
    let posted = common::eventually(
        "the reply posted after the outage",
        std::time::Duration::from_secs(120),
        || async { ghost_messages(&world, "@courriel_1002:pcf.test").await.into_iter().next() },
    )
    .await;
    assert_eq!(posted["content"]["body"], "Bien reçu malgré la panne.");
}

/// A reply the homeserver refuses for good (the room no longer lets the ghost post) is not
/// retried forever: after its attempts it is held, erased, and its authenticated sender told.
#[tokio::test]
async fn a_reply_the_homeserver_refuses_is_held_after_its_attempts() {
    let world = world(&[
        ("RELAIS_MAIL__DEFAULT_MODE", "message"),
        ("RELAIS_PROVISIONING__DRIFT_INTERVAL_MINUTES", "0"),
    ])
    .await;
    world.paul.send_text(&world.room, "Qui tient le stand dimanche ?").await;
    let mail = wait_mail(&world.smtp, JEANNE, "Qui tient le stand").await;
    // The room is restricted: only moderators may post now, which Jeanne's ghost is not.
    let bot = world.stack.bot();
    let mut levels = bot.state(&world.room, "m.room.power_levels", "").await;
    levels["events_default"] = 50.into();
    let room: String = url::form_urlencoded::byte_serialize(world.room.as_bytes()).collect();
    bot.put(&format!("/_matrix/client/v3/rooms/{room}/state/m.room.power_levels/"), levels).await;

    let reply_to = mail.reply_to();
    let raw = mail::reply(GOOD_AUTH, JEANNE, &reply_to, "Re: stand", "", "Moi, de 10h à midi.");
    assert_eq!(mail::send(world.inbound, JEANNE, &reply_to, &raw), "accepted");
    // Three attempts, 10 s then 20 s apart.
    common::eventually("the refused reply held", std::time::Duration::from_secs(120), || async {
        world.stack.relais.log().contains("inbound mail held").then_some(())
    })
    .await;
    let (_, lists, _) = world.stack.relais.cli(&["mail", "lists"]);
    assert!(lists.contains("inbound: 0 pending, 1 held"), "{lists}");
    let told = wait_mail(&world.smtp, JEANNE, "n'a pas pu être traité").await;
    assert_eq!(told.header("Auto-Submitted").as_deref(), Some("auto-replied"));
    assert!(
        mails_to(&world.smtp, JEANNE).iter().all(|m| !m.text.contains("abonné")),
        "not told she is no subscriber: she is one"
    );
    assert!(ghost_messages(&world, "@courriel_1002:pcf.test").await.is_empty(), "nothing posted");
    let log = world.stack.relais.log();
    assert_eq!(log.matches("inbound mail refused by the homeserver").count(), 3, "{log}");
    assert!(log.contains("M_FORBIDDEN (HTTP 403)"), "{log}");
    assert!(!log.contains("de 10h"), "the reply's text is never logged");
}

/// RFC 5321 §4.5.1: postmaster of the list domain takes mail, and a person reads it, never a
/// list: kept for `relais mail postmaster` while `[mail] postmaster` is unset, sent there once set.
#[tokio::test]
async fn mail_to_postmaster_reaches_a_person() {
    let mut world = world(&[]).await;
    let postmaster = format!("PostMaster@{DOMAIN}");
    let auth = "mx.pcf.test; spf=pass smtp.mailfrom=fai.example";
    let report = mail::reply(
        auth,
        "abuse@fai.example",
        &postmaster,
        "Plainte",
        "",
        "Votre serveur nous envoie du spam.",
    );
    assert_eq!(mail::send(world.inbound, "abuse@fai.example", &postmaster, &report), "accepted");
    common::eventually("the mail kept", std::time::Duration::from_secs(60), || async {
        world.stack.relais.log().contains("mail for postmaster kept").then_some(())
    })
    .await;
    let (status, out, err) = world.stack.relais.cli(&["mail", "postmaster"]);
    assert!(status.success(), "{out}{err}");
    assert!(out.contains(&format!("from abuse@fai.example for {postmaster}")), "{out}");
    assert!(out.contains("Votre serveur nous envoie du spam."), "{out}");
    let (_, lists, _) = world.stack.relais.cli(&["mail", "lists"]);
    assert!(lists.contains("1 for postmaster"), "{lists}");
    let (_, out, _) = world.stack.relais.cli(&["mail", "postmaster", "--erase"]);
    assert!(out.contains("1 mail(s) erased"), "{out}");
    let (_, out, _) = world.stack.relais.cli(&["mail", "postmaster"]);
    assert!(out.contains("no mail kept for postmaster"), "{out}");

    // With an operator's address: a bounce to the bare `<postmaster>` goes there, attached.
    assert!(world.stack.relais.terminate().await.success());
    world.stack.relais.start_with(&[("RELAIS_MAIL__POSTMASTER", "Exploitation <ops@example.net>")]).await;
    let bounce = "From: MAILER-DAEMON@mx.example.net\r\nTo: postmaster\r\nSubject: Undelivered\r\n\r\n\
        550 5.1.1 <x@example.net>: unknown user\r\n";
    assert_eq!(mail::send(world.inbound, "", "postmaster", bounce), "accepted");
    let forwarded = wait_mail(&world.smtp, "ops@example.net", "postmaster").await;
    assert_eq!(forwarded.subject, format!("Courriel pour postmaster@{DOMAIN}"));
    assert!(
        forwarded.raw.contains("message/rfc822") && forwarded.raw.contains("unknown user"),
        "{}",
        forwarded.raw
    );
    assert!(mails_to(&world.smtp, "abuse@fai.example").is_empty(), "the sender is never answered");
    assert!(ghost_messages(&world, "@courriel_1002:pcf.test").await.is_empty());
}
