//! `relais-bench archive`: the lists' web archives and a poll's voter list at national size —
//! a page of a room's archive and a search of it over many rooms' messages, and the members
//! without an account a poll's opening looks up among 50,000.

use std::time::Instant;

use serde_json::json;

use relais_bridge::store::{MailMessage, MailStore, search_words};
use relais_core::{Store, config::DeliveryMode};
use relais_provisioning::{
    directory::Directory,
    model::{Contact, MemberRow},
    store::{Effect, ProvisioningStore, RoomRecord},
};

const WORDS: [&str; 12] = [
    "section",
    "fédération",
    "militants",
    "quartier",
    "samedi",
    "marché",
    "affiches",
    "salle",
    "soirée",
    "débat",
    "cotisations",
    "journal",
];

/// A message of room `room` numbered `n`: ordinary words, "tractage" in one in ten, "réunion" in
/// one in a hundred.
fn body(n: usize) -> String {
    let mut words: Vec<&str> = (0..14).map(|i| WORDS[(n * 7 + i * 5) % WORDS.len()]).collect();
    if n.is_multiple_of(10) {
        words.push("tractage");
    }
    if n.is_multiple_of(100) {
        words.push("réunion");
    }
    words.join(" ")
}

fn seconds(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

pub async fn run(
    messages: usize,
    rooms: usize,
    members: usize,
    database: Option<String>,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url =
        database.unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display()));
    let store = Store::open(&url, 4).await?;
    let mail = MailStore::new(store.clone());
    let started = Instant::now();
    for n in 0..messages {
        let message = MailMessage {
            event_id: format!("$m{n}"),
            room_id: format!("!room{}:pcf.test", n % rooms),
            sender: "@a:pcf.test".into(),
            sender_name: "Anne".into(),
            kind: "text".into(),
            body: body(n / rooms),
            origin_ts: n as i64,
            ..MailMessage::default()
        };
        mail.store_message(&message, DeliveryMode::Daily).await?;
    }
    let stored_s = seconds(started);
    let room = "!room7:pcf.test";
    let started = Instant::now();
    let page = mail.archive_page(room, None, 100).await?;
    let page_s = seconds(started);
    let started = Instant::now();
    let rare = mail.archive_search(room, &search_words("réunion"), 50).await?;
    let rare_s = seconds(started);
    let started = Instant::now();
    let common = mail.archive_search(room, &search_words("tractage samedi"), 50).await?;
    let common_s = seconds(started);
    anyhow::ensure!(page.len() == 100 && !rare.is_empty() && !common.is_empty(), "the archive answers");

    let (voters_s, without) = voter_lookup(&store, members).await?;
    store.close().await;
    let slowest = [page_s, rare_s, common_s, voters_s].into_iter().fold(0.0, f64::max);
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "messages": messages, "rooms": rooms, "store_messages_seconds": stored_s,
            "archive_page_seconds": page_s, "search_rare_word_seconds": rare_s, "rare_hits": rare.len(),
            "search_common_words_seconds": common_s, "common_hits": common.len(),
            "members": members, "members_without_account_in_the_room": without,
            "voter_lookup_seconds": voters_s, "limit_seconds": 1.0, "ratio_to_limit": slowest,
        }))?
    );
    Ok(())
}

/// `members` members in 100 federations, a third without an account; times the lookup of a
/// section's members without an account, as a poll's opening makes it.
async fn voter_lookup(store: &Store, members: usize) -> anyhow::Result<(f64, usize)> {
    let records = ProvisioningStore::new(store.clone());
    let mut effects = vec![Effect::Room(RoomRecord {
        key: "f7.s.s3".into(),
        kind: "section".into(),
        name: "Section".into(),
        parent_key: Some("f7".into()),
        room_id: "!section:pcf.test".into(),
        moderators: "[]".into(),
    })];
    for n in 0..members {
        let account = !n.is_multiple_of(3);
        let row = MemberRow {
            line: 0,
            member_id: n.to_string(),
            first_name: format!("P{n}"),
            last_name: "N".into(),
            email: None,
            federation: format!("F{}", n % 100),
            section: Some(format!("S{}", (n / 100) % 10)),
            cell: None,
            roles: Vec::new(),
            active: true,
            matrix_id: account.then(|| format!("@m{n}:pcf.test").try_into()).transpose()?,
            contact: Contact::Chat,
        };
        effects.push(Effect::Member {
            member_id: row.member_id.clone(),
            record: serde_json::to_string(&row)?,
            active: true,
            matrix_id: row.matrix_id.as_ref().map(ToString::to_string),
            email: None,
            rooms: relais_provisioning::store::MemberRooms::of(&row),
        });
    }
    for chunk in effects.chunks(5_000) {
        records.seed(chunk).await?;
    }
    let directory = Directory::new(store.clone());
    let room = ruma::room_id!("!section:pcf.test");
    let started = Instant::now();
    let without = directory.room_members_without_account(room).await?;
    Ok((seconds(started), without.len()))
}
