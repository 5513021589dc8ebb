//! Polls' store tests, on both backends: an answer recorded outside the room (by mail, by
//! proxy) while a poll closes is either counted or refused, never recorded and left out.

use relais_core::store::testing::on_both;

use super::{BotStore, polls::PollRecord};

const POLL: &str = "$ordinary";

async fn open_poll(store: &BotStore) {
    store.poll_create(&PollRecord::open_for_tests(POLL), &[]).await.expect("poll");
}

#[tokio::test]
async fn an_answer_recorded_while_the_poll_closes_is_counted_or_refused() {
    on_both(|store| async move {
        let store = BotStore::new(store);
        open_poll(&store).await;
        // Answers by mail and by proxy race the closing; the tally keeps answers stamped at
        // or before the closing time.
        let answers = (0..24).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let voter = format!("member:{i}");
                if i % 2 == 0 {
                    store.poll_add_mail_response(POLL, &format!("mail.{i}"), &voter, "[\"r1\"]").await
                } else {
                    store.poll_add_proxy_response(POLL, &voter, "@ref:pcf.test", "[\"r1\"]").await
                }
            })
        });
        let answers: Vec<_> = answers.collect();
        tokio::task::yield_now().await;
        let closed_at = store.poll_close(POLL, None).await.expect("close").expect("closed once");
        let mut recorded = 0;
        for answer in answers {
            if answer.await.expect("task").expect("store") {
                recorded += 1;
            }
        }
        let stored = store.poll_responses(POLL).await.expect("responses");
        assert_eq!(stored.len(), recorded, "an answer refused left nothing");
        assert!(
            stored.iter().all(|(_, _, ts)| *ts <= closed_at),
            "every recorded answer counts: {stored:?} after {closed_at}"
        );
        assert!(
            !store.poll_add_mail_response(POLL, "mail.late", "member:99", "[\"r1\"]").await.expect("late")
        );
        assert_eq!(store.poll_close(POLL, None).await.expect("close"), None, "closed once");
    })
    .await;
}
