//! The bot's contacts with members: whom it welcomed (once each), and its direct room with each
//! member it wrote to privately; a member's erasure removes their welcome.

use relais_core::{StoreError, time::now_ms};
use relais_provisioning::store::{EraseFuture, MemberEraser};
use sqlx::{AnyConnection, Row};

use super::BotStore;

impl BotStore {
    /// Whether `member_id` was welcomed already.
    pub async fn welcomed(&self, member_id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 AS one FROM bot_welcome WHERE member_id = $1")
            .bind(member_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.is_some())
    }

    pub async fn mark_welcomed(&self, member_id: &str, room_id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO bot_welcome (member_id, room_id, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(member_id)
        .bind(room_id)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Notes that `user_id` is reminded of charter `version` now: `true` the first time only.
    pub async fn charter_remind_once(&self, user_id: &str, version: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO charter_reminder (user_id, version, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(version)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The bot's direct-message room with `user_id`, if it made one.
    pub async fn bot_dm(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT room_id FROM bot_dm WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("room_id")).transpose()?)
    }

    /// Claims the making of a new direct room for `user_id`, or a new invitation to it, unless
    /// one claimed in the last `gap_ms` did not succeed (one that did ends its claim:
    /// [`BotStore::end_bot_dm_claim`]); returns whether it may go. One statement: two nodes
    /// cannot both claim.
    pub async fn claim_bot_dm_making(&self, user_id: &str, gap_ms: i64) -> Result<bool, StoreError> {
        let now = now_ms();
        sqlx::query("DELETE FROM bot_dm_made WHERE made_at < $1")
            .bind(now - gap_ms)
            .execute(self.pool())
            .await?;
        let claimed = sqlx::query(
            "INSERT INTO bot_dm_made (user_id, made_at) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE \
             SET made_at = $3 WHERE bot_dm_made.made_at < $4 RETURNING made_at",
        )
        .bind(user_id)
        .bind(now)
        .bind(now)
        .bind(now - gap_ms)
        .fetch_optional(self.pool())
        .await?;
        Ok(claimed.is_some())
    }

    /// Ends the claim of `user_id`'s direct room: made, and its member invited.
    pub async fn end_bot_dm_claim(&self, user_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM bot_dm_made WHERE user_id = $1").bind(user_id).execute(self.pool()).await?;
        Ok(())
    }

    pub async fn set_bot_dm(&self, user_id: &str, room_id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO bot_dm (user_id, room_id) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET room_id = $2",
        )
        .bind(user_id)
        .bind(room_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

impl MemberEraser for BotStore {
    fn erase_member<'a>(
        &'a self,
        tx: &'a mut AnyConnection,
        member_id: &'a str,
        _email: Option<&'a str>,
    ) -> EraseFuture<'a> {
        Box::pin(async move {
            let mut removed = sqlx::query("DELETE FROM bot_welcome WHERE member_id = $1")
                .bind(member_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            // Their answers from the mail, and their place on voter lists as an email-only member
            // (a Matrix member's answers are the room's events, which the homeserver keeps).
            let voter = crate::poll::secret_ballot::voter_of_member(member_id);
            for sql in [
                "DELETE FROM poll_response WHERE voter = $1",
                "DELETE FROM poll_voter WHERE user_id = $1",
                "DELETE FROM poll_proxy WHERE voter = $1",
            ] {
                removed += sqlx::query(sql).bind(&voter).execute(&mut *tx).await?.rows_affected();
            }
            Ok(removed)
        })
    }
}

#[cfg(test)]
mod tests {
    use relais_core::store::testing::{fence, on_both};
    use relais_provisioning::store::{Effect, LEASE, ProvisioningStore};

    use super::BotStore;

    #[tokio::test]
    async fn a_direct_room_that_could_not_be_made_is_not_tried_again_within_the_gap() {
        on_both(|store| async move {
            let bots = BotStore::new(store);
            // Made and remembered: the next may be made at once (the member left, or let
            // someone in).
            assert!(bots.claim_bot_dm_making("@lucie:pcf.test", 600_000).await.expect("claim"));
            bots.end_bot_dm_claim("@lucie:pcf.test").await.expect("made and invited");
            // A making that failed holds the next one back for the gap.
            assert!(bots.claim_bot_dm_making("@lucie:pcf.test", 600_000).await.expect("claim"));
            assert!(!bots.claim_bot_dm_making("@lucie:pcf.test", 600_000).await.expect("claim"), "not twice");
            assert!(bots.claim_bot_dm_making("@marc:pcf.test", 600_000).await.expect("claim"), "per member");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            assert!(
                bots.claim_bot_dm_making("@lucie:pcf.test", 1).await.expect("claim"),
                "once the gap is past"
            );
        })
        .await;
    }

    #[tokio::test]
    async fn a_member_is_welcomed_once_and_their_welcome_goes_with_their_erasure() {
        on_both(|store| async move {
            let bots = BotStore::new(store.clone());
            let records = ProvisioningStore::new(store.clone());
            let member = Effect::Member {
                member_id: "7".into(),
                record: "{}".into(),
                active: true,
                matrix_id: Some("@j:pcf.test".into()),
                email: None,
                rooms: Default::default(),
            };
            records.seed(&[member]).await.expect("seed");
            assert!(!bots.welcomed("7").await.expect("not yet"));
            bots.mark_welcomed("7", "!room:pcf.test").await.expect("welcome");
            bots.mark_welcomed("7", "!other:pcf.test").await.expect("twice is once");
            assert!(bots.welcomed("7").await.expect("welcomed"));
            // Their answer from the mail, on a poll's voter list as an email-only member.
            let poll = crate::store::polls::PollRecord::open_for_tests("$poll");
            bots.poll_create(&poll, &["member:7".to_owned(), "member:8".to_owned()]).await.expect("poll");
            bots.poll_add_response("$poll", "mail.x", "member:7", "[\"r1\"]", 1).await.expect("answer");
            let carried = bots.poll_add_proxy_response("$poll", "member:7", "@ref:pcf.test", "[\"r2\"]");
            assert!(carried.await.expect("proxy"), "an open poll");
            assert_eq!(bots.poll_proxies("$poll").await.expect("proxies").len(), 1);

            let fence = fence(&store, LEASE).await;
            let removed = records.member_forget(&fence, "7", "test", &[&bots]).await.expect("forget");
            assert_eq!(
                removed, 6,
                "the welcome, two answers, the place on the list, the proxy and the record"
            );
            assert!(!bots.welcomed("7").await.expect("erased"));
            assert_eq!(bots.poll_voters("$poll").await.expect("voters"), ["member:8"]);
            assert!(bots.poll_responses("$poll").await.expect("answers").is_empty());
            assert!(bots.poll_proxies("$poll").await.expect("proxies").is_empty());
        })
        .await;
    }
}
