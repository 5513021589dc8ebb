//! The moderation record on both backends: an action once per command, each room done once,
//! and the bans that stand read back typed.

use relais_core::store::testing::on_both;
use ruma::{owned_room_id, owned_user_id, user_id};

use super::moderation::{ModerationStore, NewModeration};
use crate::moderation::{ModerationKind, is_banned_in};

fn action(command: &str, kind: ModerationKind, scope: &str) -> NewModeration {
    NewModeration {
        command_event: command.into(),
        kind,
        target: owned_user_id!("@x:pcf.test"),
        scope: scope.into(),
        reason: "insultes".into(),
        amount: 0,
        moderator: owned_user_id!("@mona:pcf.test"),
    }
}

#[tokio::test]
async fn actions_are_recorded_once_and_carried_out_room_by_room() {
    on_both(|store| async move {
        let store = ModerationStore::new(store);
        let rooms = [owned_room_id!("!a:pcf.test"), owned_room_id!("!b:pcf.test")];
        let ban = action("$ban", ModerationKind::Ban, "nord");
        let id = store.record(&ban, &rooms).await.expect("record");
        assert_eq!(store.record(&ban, &rooms[..1]).await.expect("again"), id, "the same command");
        let pending = store.pending(Some(id)).await.expect("pending");
        assert_eq!(pending.len(), 2);
        assert_eq!((pending[0].kind, pending[0].target.as_str()), (ModerationKind::Ban, "@x:pcf.test"));
        assert_eq!(pending[0].reason, "insultes");
        store.room_done(id, &rooms[0], "done").await.expect("a");
        store.room_done(id, &rooms[1], "M_FORBIDDEN").await.expect("b");
        store.room_done(id, &rooms[1], "done").await.expect("b again: kept as first recorded");
        assert!(store.pending(None).await.expect("none").is_empty());
        assert_eq!(store.progress(id).await.expect("progress"), (2, 1));

        let bans = store.bans().await.expect("bans");
        assert!(is_banned_in(&bans, user_id!("@x:pcf.test"), "nord.s.lille"));
        store.record(&action("$kick", ModerationKind::Kick, "paris"), &rooms).await.expect("kick");
        let unban =
            store.record(&action("$unban", ModerationKind::Unban, "nord"), &rooms).await.expect("unban");
        let x = user_id!("@x:pcf.test");
        assert!(store.superseded(id, x, &rooms[0]).await.expect("older"), "the ban came before the unban");
        assert!(!store.superseded(unban, x, &rooms[0]).await.expect("newest"));
        assert!(store.bans().await.expect("bans").is_empty(), "lifted, and a kick is no ban");
    })
    .await;
}
