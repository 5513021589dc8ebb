//! The confirmation codes' limits, on both databases.

use relais_core::{store::testing::on_both, time::now_ms};

use super::{SignInMethod, WebSession, WebStore};

const MINUTE: i64 = 60 * 1000;

#[tokio::test]
async fn concurrent_requests_take_no_more_codes_than_the_burst() {
    on_both(|store| async move {
        let web = WebStore::new(store);
        let asks = (0..20).map(|_| {
            let web = web.clone();
            tokio::spawn(async move { web.code_may_be_sent("@lucie:fed-nord.test", 5, 12 * MINUTE).await })
        });
        let mut granted = 0;
        for ask in asks {
            if ask.await.expect("task").expect("store") {
                granted += 1;
            }
        }
        assert_eq!(granted, 5, "five at once, however many ask together");
        assert!(!web.code_may_be_sent("@lucie:fed-nord.test", 5, 12 * MINUTE).await.expect("store"));
        assert!(
            web.code_may_be_sent("@marc:fed-nord.test", 5, 12 * MINUTE).await.expect("store"),
            "per account"
        );
    })
    .await;
}

#[tokio::test]
async fn codes_come_back_one_interval_at_a_time() {
    on_both(|store| async move {
        let web = WebStore::new(store);
        // An interval of 1 ms: the burst is spent, then one code comes back at each interval.
        for _ in 0..3 {
            assert!(web.code_may_be_sent("@lucie:fed-nord.test", 3, 1).await.expect("store"));
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        assert!(web.code_may_be_sent("@lucie:fed-nord.test", 3, 1).await.expect("store"));
        // An hour-long interval: spent, and not back.
        for _ in 0..2 {
            assert!(web.code_may_be_sent("@marc:fed-nord.test", 2, 60 * MINUTE).await.expect("store"));
        }
        assert!(!web.code_may_be_sent("@marc:fed-nord.test", 2, 60 * MINUTE).await.expect("store"));
    })
    .await;
}

#[tokio::test]
async fn a_session_code_is_refused_once_expired() {
    on_both(|store| async move {
        let web = WebStore::new(store);
        let session = WebSession {
            user_id: "@lucie:fed-nord.test".to_owned(),
            federation: "nord".to_owned(),
            method: SignInMethod::OpenId,
            confirmed_until: 0,
        };
        web.session_create("session", &session, 60 * MINUTE).await.expect("session");
        assert_eq!(web.session_code_try("session").await.expect("try"), None, "no code sent");
        web.session_code_save("session", "hash", now_ms() + 10 * MINUTE).await.expect("save");
        assert_eq!(web.session_code_try("session").await.expect("try").as_deref(), Some("hash"));
        web.session_code_save("session", "hash", now_ms() - 1).await.expect("save");
        assert_eq!(web.session_code_try("session").await.expect("try"), None, "expired");
    })
    .await;
}
