//! The mail bridge against the real Synapse and a real SMTP server (aiosmtpd): a section room
//! mirrored to a list, a daily digest, the preferences page, each-message mail with list
//! headers, a reply by email (sent with smtplib) posted into the room by the member's ghost,
//! refusals that post nothing (and answer only authenticated senders), redactions, and one-click
//! unsubscribe.

use crate::common;

use crate::common::{
    Member, RelaisOptions, Stack, free_port,
    mail::{self, Received, mails_to, wait_mail},
    smtp::SmtpSink,
};

const HEADER: &str = "N° adhérent;Prénom;Nom;Courriel;Fédération;Section;Cotisation à jour;Identifiant Matrix;Préférence de contact\n";
const DOMAIN: &str = "listes.pcf.test";
const SECTION: &str = "#relais_nord.s.lille:pcf.test";
const JEANNE: &str = "jeanne.martin@example.org";
const MARC: &str = "marc.petit@example.org";
const GOOD_AUTH: &str = "mx.pcf.test; spf=pass smtp.mailfrom=example.org; dkim=pass header.d=example.org; \
    dmarc=pass header.from=example.org";

struct World {
    smtp: SmtpSink,
    smtp_port: u16,
    stack: Stack,
    inbound: u16,
    paul: Member,
    room: String,
}

async fn world(extra_env: &[(&str, &str)]) -> World {
    let smtp = SmtpSink::start().await;
    let inbound = free_port();
    let mut env = vec![
        ("RELAIS_MAIL__DOMAIN".to_owned(), DOMAIN.to_owned()),
        ("RELAIS_MAIL__INBOUND_BIND".to_owned(), format!("127.0.0.1:{inbound}")),
        ("RELAIS_MAIL__AUTHSERV_ID".to_owned(), "mx.pcf.test".to_owned()),
        ("RELAIS_MAIL__SECRET".to_owned(), "mail-secret-for-this-test-only".to_owned()),
    ];
    env.extend(extra_env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let stack = Stack::start(RelaisOptions { smtp_url: Some(smtp.url()), env, ..Default::default() }).await;
    let paul = stack.synapse.register(&common::unique("paul")).await;
    let csv = format!(
        "{HEADER}1001;Paul;Durand;paul@example.org;Nord;Lille;oui;{};messagerie\n\
         1002;Jeanne;Martin;{JEANNE};Nord;Lille;oui;;courriel\n\
         1003;Marc;Petit;{MARC};Nord;Lille;oui;;courriel\n",
        paul.user_id
    );
    let file = stack.relais.dir.path().join("members.csv");
    std::fs::write(&file, csv).expect("csv");
    let (status, stdout, stderr) = stack.relais.cli(&["provision", &file.display().to_string()]);
    assert!(status.success(), "{stdout}\n{stderr}");
    assert_eq!(paul.try_join(SECTION).await, 200, "Paul joins his section room");
    let room = paul.resolve(SECTION).await;
    World { smtp_port: smtp.port, smtp, stack, inbound, paul, room }
}

/// Opens and sends digests until `to` has one with `needle` (the bridge stores room messages
/// asynchronously, so the first attempts may find nothing new).
async fn digest_until(world: &World, to: &str, needle: &str) -> Received {
    common::eventually(
        &format!("a digest to {to} with {needle:?}"),
        std::time::Duration::from_secs(60),
        || async {
            let (status, stdout, stderr) = world.stack.relais.cli(&["mail", "digest", "--now"]);
            assert!(status.success(), "{stdout}\n{stderr}");
            mails_to(&world.smtp, to)
                .into_iter()
                .find(|m| m.subject.contains("Résumé") && m.text.contains(needle))
        },
    )
    .await
}

/// The ghost's messages in the room, as Paul reads them.
async fn ghost_messages(world: &World, ghost: &str) -> Vec<serde_json::Value> {
    let messages = world.paul.messages(&world.room, 100).await;
    messages.into_iter().filter(|e| e["sender"] == ghost && e["type"] == "m.room.message").collect()
}

mod delivery;
mod in_the_room;
