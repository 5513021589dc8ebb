//! The archives' queries on both backends: a room's pages newest first, and a search that finds
//! words (accents, case and French word forms aside), follows edits and forgets redactions.

use relais_core::{config::DeliveryMode, store::testing::on_both};

use super::{MailEdit, MailMessage, MailStore, search_words};

const ROOM: &str = "!section:pcf.test";

fn message(id: &str, room: &str, body: &str) -> MailMessage {
    MailMessage {
        event_id: id.into(),
        room_id: room.into(),
        sender: "@paul:pcf.test".into(),
        sender_name: "Paul".into(),
        kind: "text".into(),
        body: body.into(),
        origin_ts: 1,
        ..MailMessage::default()
    }
}

fn ids(found: &[MailMessage]) -> Vec<&str> {
    found.iter().map(|m| m.event_id.as_str()).collect()
}

#[tokio::test]
async fn the_archive_pages_and_searches_a_rooms_messages_only() {
    on_both(|store| async move {
        let store = MailStore::new(store);
        for (id, room, body) in [
            ("$1", ROOM, "La réunion de section aura lieu jeudi à 18h."),
            ("$2", ROOM, "Tractage samedi au marché, rendez-vous devant la mairie."),
            ("$3", "!ailleurs:pcf.test", "Une réunion ailleurs."),
            ("$4", ROOM, "Merci pour les tracts !"),
        ] {
            store.store_message(&message(id, room, body), DeliveryMode::Message).await.expect("stored");
        }
        let page = store.archive_page(ROOM, None, 2).await.expect("page");
        assert_eq!(ids(&page), ["$4", "$2"], "newest first, this room only");
        let older = store.archive_page(ROOM, Some(page[1].seq), 10).await.expect("older");
        assert_eq!(ids(&older), ["$1"]);

        let find = |typed: &'static str| {
            let store = store.clone();
            async move {
                ids(&store.archive_search(ROOM, &search_words(typed), 10).await.expect("search")).join(",")
            }
        };
        assert_eq!(find("réunion").await, "$1", "not the other room's");
        assert_eq!(find("RÉUNION").await, "$1");
        assert_eq!(find("marché samedi").await, "$2", "every word");
        assert_eq!(find("marché dimanche").await, "");
        assert_eq!(find("\"); DROP TABLE mail_message; --").await, "", "typed text is words, never syntax");
        assert_eq!(find("").await, "");

        let edit = MailEdit {
            event_id: "$1",
            room_id: ROOM,
            sender: "@paul:pcf.test",
            body: "Assemblée générale vendredi.",
            html: None,
        };
        assert!(store.edit(&edit).await.expect("edit"));
        assert_eq!(find("vendredi").await, "$1", "the edited text is searched");
        assert_eq!(find("jeudi").await, "", "the old one no longer");
        assert!(store.redact("$2").await.expect("redact"));
        assert_eq!(find("marché").await, "", "a redacted message is gone from the archive");
        assert_eq!(ids(&store.archive_page(ROOM, None, 10).await.expect("page")), ["$4", "$1"]);
    })
    .await;
}

#[test]
fn search_words_are_bounded_letters_and_digits() {
    assert_eq!(search_words("  Réunion, 18h; \"jeudi\" "), ["Réunion", "18h", "jeudi"]);
    assert_eq!(search_words(&"mot ".repeat(20)).len(), 8);
    assert_eq!(search_words(&"a".repeat(100))[0].len(), 40);
    assert!(search_words("*:-()\"").is_empty());
}
