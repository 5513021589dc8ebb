//! Corrections of broadcasts on both backends: revisions and withdrawals reach each copy once,
//! a selection never follows its command, and broadcasts from before migration 0022 are told
//! apart.

use relais_core::store::testing::{on_both, on_both_at};
use serde_json::json;

use super::{
    BotStore,
    broadcasts::{BroadcastOrigin, NewBroadcast},
    corrections::{CopyAction, Correction},
};

fn broadcast(origin: BroadcastOrigin, command_event: &str, source_event: &str) -> NewBroadcast {
    NewBroadcast {
        origin,
        command_event: command_event.into(),
        source_room: "!national:pcf.test".into(),
        source_event: source_event.into(),
        sender: "@nadia:pcf.test".into(),
        content: json!({"msgtype": "m.text", "body": "v0"}).to_string(),
        send_at: 0,
        targets: vec![("!a:pcf.test".into(), "A".into()), ("!b:pcf.test".into(), "B".into())],
        links: Vec::new(),
    }
}

#[tokio::test]
async fn an_edit_reaches_each_copy_once_and_a_withdrawal_stops_the_rest() {
    on_both(|store| async move {
        let store = BotStore::new(store);
        let id =
            store.broadcast_create(&broadcast(BroadcastOrigin::Copy, "$cmd", "$src")).await.expect("create");
        store.broadcast_create(&broadcast(BroadcastOrigin::Selection, "$sel#0", "$src")).await.expect("sel");
        let of_source = store.broadcasts_of_source("!national:pcf.test", "$src").await.expect("of source");
        assert_eq!(of_source.iter().map(|b| b.broadcast_id).collect::<Vec<_>>(), [id], "not the selection");
        assert!(store.broadcasts_of_source("!other:pcf.test", "$src").await.expect("room").is_empty());

        store.broadcast_delivered(id, "!a:pcf.test", "$copy-a", 0).await.expect("a sent");
        let v1 = json!({"msgtype": "m.text", "body": "v1"}).to_string();
        let links = [("t1".to_owned(), "https://pcf.fr/".to_owned())];
        let edit = Correction::Edit { content: &v1, links: &links };
        assert!(store.broadcast_correct("$e1", id, &edit).await.expect("edit"));
        assert!(!store.broadcast_correct("$e1", id, &edit).await.expect("again"), "recorded once");
        assert_eq!(store.link_target("t1").await.expect("link").as_deref(), Some("https://pcf.fr/"));

        let due = store.broadcast_corrections_due().await.expect("due");
        assert_eq!(due.len(), 1, "only the copy sent: {due:?}");
        assert_eq!((due[0].room_id.as_str(), due[0].copy_event.as_str()), ("!a:pcf.test", "$copy-a"));
        assert_eq!(
            due[0].action,
            CopyAction::Revise { revision: 1, content: json!({"msgtype": "m.text", "body": "v1"}) }
        );
        store.broadcast_copy_revised(id, "!a:pcf.test", 1).await.expect("revised");
        assert!(store.broadcast_corrections_due().await.expect("due").is_empty());
        // The copy still to send leaves with the new text, as revision 1.
        let pending = store.broadcast_due(1).await.expect("pending");
        let b = pending.iter().find(|d| d.broadcast_id == id).expect("b pending");
        assert_eq!((b.content["body"].as_str(), b.revision), (Some("v1"), 1));

        assert!(store.broadcast_correct("$r", id, &Correction::Withdrawal).await.expect("withdraw"));
        assert!(!store.broadcast_correct("$e2", id, &edit).await.expect("late edit"), "withdrawn: no edit");
        assert!(store.broadcasts_of_source("!national:pcf.test", "$src").await.expect("gone").is_empty());
        let due = store.broadcast_corrections_due().await.expect("due");
        assert_eq!(due.len(), 1, "{due:?}");
        assert_eq!(due[0].action, CopyAction::Withdraw);
        assert!(store.broadcast_due(1).await.expect("pending").iter().all(|d| d.broadcast_id != id));
        store.broadcast_copy_withdrawn(id, "!a:pcf.test").await.expect("withdrawn");
        assert!(store.broadcast_corrections_due().await.expect("due").is_empty());

        let stats = store.broadcast_stats(None, 5).await.expect("stats");
        let s = stats.iter().find(|s| s.broadcast_id == id).expect("stats of the broadcast");
        assert_eq!(s.edits, 1);
        assert!(s.withdrawn_at.is_some());
    })
    .await;
}

/// Broadcasts recorded before migration 0022: a selection's (its markers carry `#`) never
/// follows an edit of its command; a copy's does.
#[tokio::test]
async fn broadcasts_from_before_corrections_keep_their_origin() {
    on_both_at(Some(21), |store| async move {
        for (command, source) in [("$cmd", "$src"), ("$sel#0", "$sel"), ("$sel#7", "$sel")] {
            sqlx::query(
                "INSERT INTO broadcast (command_event, source_room, source_event, sender, content, send_at, created_at) \
                 VALUES ($1, '!national:pcf.test', $2, '@nadia:pcf.test', '{}', 0, 0)",
            )
            .bind(command)
            .bind(source)
            .execute(store.pool())
            .await
            .expect("old broadcast");
        }
        store.migrate().await.expect("0022 applies on this data");
        let store = BotStore::new(store);
        assert_eq!(store.broadcasts_of_source("!national:pcf.test", "$src").await.expect("copy").len(), 1);
        assert!(store.broadcasts_of_source("!national:pcf.test", "$sel").await.expect("selection").is_empty());
    })
    .await;
}
