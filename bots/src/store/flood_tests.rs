//! Flood windows and mutes on both backends.

use relais_core::store::testing::on_both;
use ruma::{room_id, user_id};

use super::BotStore;

#[tokio::test]
async fn windows_count_then_restart_and_a_mute_runs_once_until_lifted() {
    on_both(|store| async move {
        let store = BotStore::new(store);
        let (room, user) = (room_id!("!r:pcf.test"), user_id!("@x:pcf.test"));
        let counts: Vec<i64> = {
            let mut counts = Vec::new();
            for at in [1_000, 2_000, 3_000, 20_000, 21_000] {
                counts.push(store.flood_count(room, user, at, 10_000).await.expect("count"));
            }
            counts
        };
        assert_eq!(counts, [1, 2, 3, 1, 2], "a new window opens 10 s after the last one's start");
        assert_eq!(store.flood_count(room, user_id!("@y:pcf.test"), 21_000, 10_000).await.expect("y"), 1);

        assert!(store.flood_mute(room, user, 21_000, 30_000).await.expect("mute"));
        assert!(!store.flood_mute(room, user, 22_000, 31_000).await.expect("again"), "one mute at a time");
        assert!(store.flood_mutes_due(29_999).await.expect("not yet").is_empty());
        let due = store.flood_mutes_due(30_000).await.expect("due");
        assert_eq!(due.len(), 1);
        store.flood_lifted(&due[0], 30_000, 21_500).await.expect("lifted");
        assert!(store.flood_mutes_due(40_000).await.expect("none").is_empty());
        assert_eq!(
            store.flood_count(room, user, 22_000, 10_000).await.expect("forgotten"),
            1,
            "old windows forgotten"
        );
    })
    .await;
}
