//! Store tests of core itself: the schema.

use super::testing::on_both;

#[tokio::test]
async fn migrations_apply_twice_and_health_pings() {
    on_both(|store| async move {
        store.migrate().await.expect("second migrate is a no-op");
        store.ping().await.expect("ping");
    })
    .await;
}
