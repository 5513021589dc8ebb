//! Mail store tests on both backends: subscribers follow provisioning, fan-out, redactions,
//! digests, leases, bounces, erasure.

use relais_core::{
    config::DeliveryMode,
    store::testing::{self, on_both},
};
use sqlx::Row;

use relais_provisioning::store::{LEASE, ProvisioningStore};

use super::{MailEdit, MailList, MailMessage, MailStore, testing::SeedMember};

const ROOM: &str = "!section:pcf.test";

async fn seed(store: &MailStore) {
    let members: Vec<SeedMember> = [("1", true), ("2", true), ("3", false)]
        .into_iter()
        .map(|(id, active)| SeedMember { active, ..SeedMember::new(id, &format!("m{id}@example.org")) })
        .collect();
    let list = MailList { name: "Section Lille".into(), ..super::testing::lille(ROOM) };
    super::testing::seed_list(store, &list, &members).await;
}

fn message(id: &str, author: Option<&str>) -> MailMessage {
    MailMessage {
        event_id: id.into(),
        room_id: ROOM.into(),
        sender: "@paul:pcf.test".into(),
        sender_name: "Paul".into(),
        author_member: author.map(str::to_owned),
        kind: "text".into(),
        body: format!("texte {id}"),
        origin_ts: 1,
        ..MailMessage::default()
    }
}

#[tokio::test]
async fn fan_out_follows_subscribers_modes_and_redactions() {
    on_both(|store| async move {
        let store = MailStore::new(store);
        seed(&store).await;
        // Default "message": members 1 and 2 (3 has lapsed); the author gets no copy.
        assert_eq!(
            store.store_message(&message("$a", Some("1")), DeliveryMode::Message).await.expect("a"),
            1
        );
        assert_eq!(store.store_message(&message("$a", None), DeliveryMode::Message).await.expect("again"), 0);
        store.set_mode("2", ROOM, DeliveryMode::Weekly).await.expect("mode");
        assert_eq!(store.store_message(&message("$b", None), DeliveryMode::Message).await.expect("b"), 1);
        let items = store.claim_outbox("w", 10, 60_000).await.expect("claim");
        assert_eq!(items.len(), 1, "member 2's mail of $a was cancelled when they chose weekly");
        assert!(
            store.claim_outbox("w", 10, 60_000).await.expect("leased").is_empty(),
            "leases are exclusive"
        );
        store.redact("$b").await.expect("redact");
        assert!(store.message("$b").await.expect("b").is_some_and(|m| m.redacted && m.body.is_empty()));
        store.outbox_finish(items[0].id, "sent", None).await.expect("finish");
        let stats = store.outbox_stats().await.expect("stats");
        assert_eq!((stats.sent, stats.pending), (1, 0), "the redacted message's pending mail is cancelled");

        // Weekly digest: only member 2, only unredacted messages.
        let (digest, queued) = store
            .create_digest(DeliveryMode::Weekly, DeliveryMode::Message)
            .await
            .expect("digest")
            .expect("new");
        assert_eq!(queued, 1);
        let messages = store.messages_between(digest.seq_from, digest.seq_to).await.expect("window");
        assert_eq!(messages.iter().map(|m| m.event_id.as_str()).collect::<Vec<_>>(), ["$a"]);
        assert!(
            store.create_digest(DeliveryMode::Weekly, DeliveryMode::Message).await.expect("none").is_none()
        );
    })
    .await;
}

#[tokio::test]
async fn only_the_sender_edits_a_message_in_its_own_room() {
    on_both(|store| async move {
        let store = MailStore::new(store);
        seed(&store).await;
        store.store_message(&message("$m", None), DeliveryMode::Daily).await.expect("m");
        let edit = |sender, room_id, body| MailEdit { event_id: "$m", room_id, sender, body, html: None };
        for (sender, room) in [("@sophie:pcf.test", ROOM), ("@paul:pcf.test", "!other:pcf.test"), ("", ROOM)]
        {
            assert!(!store.edit(&edit(sender, room, "falsifié")).await.expect("forged"), "{sender} {room}");
        }
        assert_eq!(store.message("$m").await.expect("m").expect("kept").body, "texte $m");
        assert!(store.edit(&edit("@paul:pcf.test", ROOM, "corrigé")).await.expect("own edit"));
        let kept = store.message("$m").await.expect("m").expect("edited");
        assert_eq!((kept.body.as_str(), kept.sender.as_str()), ("corrigé", "@paul:pcf.test"));
    })
    .await;
}

#[tokio::test]
async fn bounces_disable_an_address_and_erasure_removes_mail_data() {
    on_both(|store| async move {
        let store = MailStore::new(store);
        seed(&store).await;
        assert!(!store.bounce("m1@example.org", 2, 4).await.expect("1"));
        assert!(store.bounce("m1@example.org", 2, 4).await.expect("2"), "disabled at the limit");
        assert!(!store.bounce("m1@example.org", 2, 4).await.expect("3"), "disabled once");
        let subs = store.subscribers(ROOM, DeliveryMode::Daily, DeliveryMode::Daily).await.expect("subs");
        assert_eq!(subs, [("2".to_owned(), "m2@example.org".to_owned())], "disabled and lapsed excluded");
        store.opt_in(ROOM, "2", Some(DeliveryMode::Message)).await.expect("opt in");
        store.store_message(&message("$c", None), DeliveryMode::Daily).await.expect("c");
        let id = store.inbound_store("x@y", "z@w", b"raw mail").await.expect("inbound");
        assert_eq!(store.claim_inbound(5, 60_000).await.expect("claim")[0].raw, b"raw mail");
        store.inbound_finish(id, "posted", "ok").await.expect("finish");
        assert!(!store.bounce("m2@example.org", 1, 4).await.expect("a soft bounce of member 2"));
        let fence = testing::fence(store.core(), LEASE).await;
        let removed = ProvisioningStore::new(store.core().clone())
            .member_forget(&fence, "2", "test", &[&store])
            .await
            .expect("forget");
        assert!(removed >= 4, "the address, the opt-in, the delivery and the record: {removed}");
        assert!(store.member_lists("2", DeliveryMode::Daily).await.expect("lists").is_empty());
        assert_eq!(store.outbox_stats().await.expect("stats").pending, 0, "their queued mail is gone");
        let health: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM mail_address WHERE email = 'm2@example.org'")
                .fetch_one(store.pool())
                .await
                .expect("count")
                .try_get("n")
                .expect("n");
        assert_eq!(health, 0, "their address's bounces are erased with them");
    })
    .await;
}

#[tokio::test]
async fn automatic_answers_are_counted_per_address_and_hour() {
    on_both(|store| async move {
        let store = MailStore::new(store);
        let hour = 3_600_000 * 500_000;
        for n in 0..3 {
            let allowed = store.answer_allowed("Jeanne@example.org", 2, hour + n).await.expect("count");
            assert_eq!(allowed, n < 2, "answer {n}");
        }
        assert!(store.answer_allowed("marc@example.org", 2, hour + 10).await.expect("count"), "per address");
        assert!(!store.answer_allowed("jeanne@EXAMPLE.org", 2, hour + 20).await.expect("count"), "any case");
        assert!(
            store.answer_allowed("jeanne@example.org", 2, hour + 3_600_000).await.expect("count"),
            "next hour"
        );
        assert!(!store.answer_allowed("x@example.org", 0, hour + 3_600_000).await.expect("count"), "0: none");
    })
    .await;
}

#[tokio::test]
async fn inbound_mail_whose_attempts_never_end_is_held_and_erased() {
    on_both(|store| async move {
        let store = MailStore::new(store);
        let id = store.inbound_store("r@listes.test", "s@example.org", b"raw mail").await.expect("store");
        let other = store.inbound_store("r@listes.test", "t@example.org", b"fine").await.expect("store");
        // Attempts that panic, or whose worker dies with the lease (-1: expired at once), stay
        // counted.
        for expected in 1..=3 {
            let items = store.claim_inbound(1, -1).await.expect("claim");
            assert_eq!(items.iter().map(|i| i.id).collect::<Vec<_>>(), [id]);
            assert_eq!(store.inbound_started(id).await.expect("started"), expected);
            if expected == 2 {
                store.inbound_failed(id, "processing failed", 0).await.expect("failed");
            }
        }
        // A temporary failure ends its attempt: the homeserver being down is no fault of the mail.
        assert_eq!(store.inbound_started(id).await.expect("started"), 4);
        store.inbound_retry(id, "homeserver unreachable", 0).await.expect("retry");
        assert_eq!(store.inbound_started(id).await.expect("started"), 4);

        assert!(store.inbound_hold(id, "held after 3 failed attempts").await.expect("hold"));
        assert!(!store.inbound_hold(id, "again").await.expect("hold twice"), "held once");
        let row = sqlx::query("SELECT state, raw, rcpt, mail_from FROM mail_inbound WHERE id = $1")
            .bind(id)
            .fetch_one(store.pool())
            .await
            .expect("row");
        let state: String = row.try_get("state").expect("state");
        let raw: Vec<u8> = row.try_get("raw").expect("raw");
        let addresses: (String, String) =
            (row.try_get("rcpt").expect("rcpt"), row.try_get("mail_from").expect("mail_from"));
        assert_eq!((state.as_str(), raw.len(), addresses), ("held", 0, (String::new(), String::new())));
        // Never claimed again; the other mail is, its own count untouched.
        let items = store.claim_inbound(5, 60_000).await.expect("claim");
        assert_eq!(items.iter().map(|i| i.id).collect::<Vec<_>>(), [other]);
        assert_eq!(store.inbound_started(other).await.expect("started"), 1);
        let stats = store.outbox_stats().await.expect("stats");
        assert_eq!((stats.inbound_pending, stats.inbound_held), (1, 1));
        // A finished mail is not held afterwards.
        store.inbound_finish(other, "posted", "ok").await.expect("finish");
        assert!(!store.inbound_hold(other, "late").await.expect("hold"));
    })
    .await;
}

#[tokio::test]
async fn mail_for_postmaster_is_kept_whole_until_an_operator_erases_it() {
    on_both(|store| async move {
        let store = MailStore::new(store);
        let raw = b"Subject: Blocage\r\n\r\nVotre serveur nous envoie du spam.\r\n";
        let kept = store.inbound_store("postmaster", "ops@example.net", raw).await.expect("store");
        let later = store.inbound_store("Postmaster@listes.pcf.test", "", b"x").await.expect("store");
        store.inbound_started(kept).await.expect("started");
        store.inbound_keep(kept, "kept for relais mail postmaster").await.expect("keep");
        store.inbound_keep(later, "kept").await.expect("keep");
        // Kept: never claimed again, its content whole.
        assert!(store.claim_inbound(5, 60_000).await.expect("claim").is_empty());
        let mails = store.postmaster(10).await.expect("list");
        assert_eq!(mails.len(), 2);
        assert_eq!(
            (mails[0].id, mails[0].mail_from.as_str(), mails[0].raw.as_slice()),
            (kept, "ops@example.net", &raw[..])
        );
        assert_eq!((mails[1].id, mails[1].mail_from.as_str()), (later, ""));
        assert_eq!(store.outbox_stats().await.expect("stats").inbound_postmaster, 2);
        assert_eq!(store.postmaster(1).await.expect("list").len(), 1, "a limit");
        // Erasing what was read leaves what came since.
        assert_eq!(store.postmaster_erase(kept).await.expect("erase"), 1);
        let left: Vec<i64> = store.postmaster(10).await.expect("list").iter().map(|m| m.id).collect();
        assert_eq!(left, [later]);
    })
    .await;
}

#[tokio::test]
async fn old_mail_data_is_pruned_unless_a_pending_mail_or_digest_still_needs_it() {
    on_both(|store| async move {
        let store = MailStore::new(store);
        seed(&store).await;
        // Three old messages: one mailed and digested already, one waiting in a digest not yet
        // sent, one whose mail is still to go (member 1 gets each message, member 2 digests).
        store.set_mode("2", ROOM, DeliveryMode::Weekly).await.expect("mode");
        let finish = |kind: &'static str| {
            let store = store.clone();
            async move {
                for item in store.claim_outbox("w", 100, 60_000).await.expect("claim") {
                    if item.kind == kind {
                        store.outbox_finish(item.id, "sent", None).await.expect("finish");
                    } else {
                        store.outbox_retry(item.id, "not yet", 0).await.expect("release");
                    }
                }
            }
        };
        store.store_message(&message("$sent", None), DeliveryMode::Message).await.expect("sent");
        finish("message").await;
        store.create_digest(DeliveryMode::Weekly, DeliveryMode::Message).await.expect("digest").expect("new");
        finish("digest").await;
        store.store_message(&message("$digest", None), DeliveryMode::Message).await.expect("digest");
        store.create_digest(DeliveryMode::Weekly, DeliveryMode::Message).await.expect("digest").expect("new");
        finish("message").await;
        store.store_message(&message("$pending", None), DeliveryMode::Message).await.expect("pending");
        let old_inbound = store.inbound_store("r@listes.test", "s@example.org", b"x").await.expect("in");
        store.inbound_finish(old_inbound, "posted", "ok").await.expect("finish");
        let waiting = store.inbound_store("r@listes.test", "t@example.org", b"y").await.expect("in");

        // The messages are from 1970; the mail records from now: an hour's retention drops the
        // message nothing needs any more, and no record.
        assert_eq!(store.prune(3_600_000).await.expect("prune"), 1);
        assert!(store.message("$sent").await.expect("read").is_none(), "mailed and digested: dropped");
        assert!(store.message("$digest").await.expect("read").is_some(), "its digest is still to go");
        assert!(store.message("$pending").await.expect("read").is_some(), "its mail is still to go");
        // With a retention of nothing at all, the finished records go too.
        store.prune(-1).await.expect("prune");
        assert!(store.message("$digest").await.expect("read").is_some());
        assert!(store.message("$pending").await.expect("read").is_some());
        let inbound: Vec<i64> = sqlx::query("SELECT id FROM mail_inbound")
            .fetch_all(store.pool())
            .await
            .expect("inbound")
            .iter()
            .map(|r| r.try_get("id").expect("id"))
            .collect();
        assert_eq!(inbound, [waiting], "finished inbound mail goes, pending stays");
        let left: Vec<(String, String, Option<i64>)> =
            sqlx::query("SELECT kind, state, sent_at FROM mail_outbox WHERE state = 'sent'")
                .fetch_all(store.pool())
                .await
                .expect("outbox")
                .iter()
                .map(|r| {
                    (
                        r.try_get("kind").expect("k"),
                        r.try_get("state").expect("s"),
                        r.try_get("sent_at").expect("t"),
                    )
                })
                .collect();
        assert!(left.is_empty(), "delivery records of sent mail go: {left:?}");
    })
    .await;
}

#[tokio::test]
async fn a_notice_is_queued_once_and_only_for_an_active_member_with_an_address() {
    on_both(|store| async move {
        let store = MailStore::new(store);
        seed(&store).await;
        assert!(store.outbox_enqueue_member("ballot", "$poll", "1").await.expect("1"));
        assert!(!store.outbox_enqueue_member("ballot", "$poll", "1").await.expect("again"), "queued once");
        assert!(!store.outbox_enqueue_member("ballot", "$poll", "3").await.expect("lapsed"), "lapsed");
        assert!(!store.outbox_enqueue_member("ballot", "$poll", "9").await.expect("unknown"), "unknown");
        let claimed = store.claim_outbox("w", 10, 60_000).await.expect("claim");
        let ballots: Vec<_> =
            claimed.iter().map(|i| (i.kind.as_str(), i.member_id.as_str(), i.email.as_str())).collect();
        assert_eq!(ballots, [("ballot", "1", "m1@example.org")]);
    })
    .await;
}

/// A room member's opt-in (`!courriel abonner`) holds while the membership file lets them into
/// the room: a move or a lapse ends the mail with the access.
#[tokio::test]
async fn an_opt_in_holds_only_while_the_file_lets_the_member_in() {
    on_both(|store| async move {
        let store = MailStore::new(store);
        seed(&store).await;
        let records = ProvisioningStore::new(store.core().clone());
        let karim = relais_provisioning::store::Effect::Member {
            member_id: "9".into(),
            record: "{}".into(),
            active: true,
            matrix_id: Some("@karim:pcf.test".into()),
            email: Some("karim@example.org".into()),
            rooms: Default::default(),
        };
        let access = relais_provisioning::store::Effect::Grant {
            room_key: "nord.s.lille".into(),
            member_id: "9".into(),
            user_id: "@karim:pcf.test".into(),
        };
        records.seed(&[karim, access]).await.expect("karim, in the room");
        store.opt_in(ROOM, "9", Some(DeliveryMode::Message)).await.expect("opt in");
        let receives = |store: MailStore| async move {
            let subs =
                store.subscribers(ROOM, DeliveryMode::Message, DeliveryMode::Daily).await.expect("subs");
            subs.iter().any(|(member, _)| member == "9")
        };
        assert!(receives(store.clone()).await, "in the room: mail");
        assert_eq!(store.member_lists("9", DeliveryMode::Daily).await.expect("lists").len(), 1);
        let moved = relais_provisioning::store::Effect::Revoke {
            room_key: "nord.s.lille".into(),
            member_id: "9".into(),
            user_id: "@karim:pcf.test".into(),
        };
        records.seed(&[moved]).await.expect("moved to another section");
        assert!(!receives(store.clone()).await, "out of the room: no more mail");
        assert!(store.member_lists("9", DeliveryMode::Daily).await.expect("lists").is_empty());
        // A list turned on by hand carries no room key: the room is still known by its id.
        sqlx::query("UPDATE mail_list SET room_key = NULL WHERE room_id = $1")
            .bind(ROOM)
            .execute(store.pool())
            .await
            .expect("a list turned on by hand");
        assert!(!receives(store.clone()).await, "still out of the room");
    })
    .await;
}

/// A member without a Matrix account is offered the other lists of the rooms the file puts
/// them in, not another federation's; an opt-in to one brings its mail, until they lapse.
#[tokio::test]
async fn a_member_without_an_account_may_take_the_other_lists_of_their_rooms() {
    use relais_provisioning::store::{Effect, MemberRooms, RoomRecord};
    on_both(|store| async move {
        let store = MailStore::new(store);
        let row = |active: bool| relais_provisioning::model::MemberRow {
            line: 0,
            member_id: "5".into(),
            first_name: "Inès".into(),
            last_name: "Haddad".into(),
            email: Some("ines@example.org".into()),
            federation: "Nord".into(),
            section: Some("Lille".into()),
            cell: None,
            roles: vec![],
            active,
            matrix_id: None,
            contact: relais_provisioning::model::Contact::Email,
        };
        let saved = |row: relais_provisioning::model::MemberRow| Effect::Member {
            member_id: row.member_id.clone(),
            record: serde_json::to_string(&row).expect("row"),
            active: row.active,
            matrix_id: None,
            email: row.email.clone(),
            rooms: MemberRooms::of(&row),
        };
        let room = |key: &str, id: &str| {
            Effect::Room(RoomRecord {
                key: key.into(),
                kind: "discussion".into(),
                name: key.into(),
                parent_key: None,
                room_id: id.into(),
                moderators: "[]".into(),
            })
        };
        let records = ProvisioningStore::new(store.core().clone());
        records
            .seed(&[
                saved(row(true)),
                room("nord.discussion", "!nord:pcf.test"),
                room("isere.discussion", "!isere:pcf.test"),
            ])
            .await
            .expect("seed");
        for (id, localpart, name, key) in [
            ("!nord:pcf.test", "nord-discussion", "Nord — discussion", "nord.discussion"),
            ("!isere:pcf.test", "isere-discussion", "Isère — discussion", "isere.discussion"),
        ] {
            let list = MailList {
                room_id: id.into(),
                localpart: localpart.into(),
                name: name.into(),
                room_key: Some(key.into()),
                enabled: true,
            };
            store.list_upsert(&list).await.expect("list");
        }
        let offered = store.entitled_lists("5").await.expect("offered");
        assert_eq!(offered.iter().map(|l| l.localpart.as_str()).collect::<Vec<_>>(), ["nord-discussion"]);
        assert!(
            !store.is_subscriber("!nord:pcf.test", "5", DeliveryMode::Daily).await.expect("not yet"),
            "offered, not subscribed"
        );
        store.opt_in("!nord:pcf.test", "5", Some(DeliveryMode::Message)).await.expect("opt in");
        assert!(store.entitled_lists("5").await.expect("offered").is_empty(), "taken: no longer offered");
        let subs = store.subscribers("!nord:pcf.test", DeliveryMode::Message, DeliveryMode::Daily).await;
        assert_eq!(subs.expect("subs"), [("5".to_owned(), "ines@example.org".to_owned())]);
        // An opt-in to another federation's list does not hold.
        store.opt_in("!isere:pcf.test", "5", Some(DeliveryMode::Message)).await.expect("opt in");
        assert!(!store.is_subscriber("!isere:pcf.test", "5", DeliveryMode::Daily).await.expect("isère"));
        records.seed(&[saved(row(false))]).await.expect("lapsed");
        assert!(!store.is_subscriber("!nord:pcf.test", "5", DeliveryMode::Daily).await.expect("lapsed"));
        assert!(store.entitled_lists("5").await.expect("offered").is_empty());
    })
    .await;
}
