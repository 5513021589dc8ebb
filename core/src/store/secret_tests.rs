//! Secret-ballot store tests, on both backends: casting, retries, closing, and that nothing in
//! the database — column, row order, or PostgreSQL's system columns — joins a voter to a choice.

use sqlx::Row;

use super::{Backend, Store, polls::PollRecord, secret::Cast, tests::on_both};

const POLL: &str = "$secret";

async fn open_poll(store: &Store, voters: usize) -> Vec<(String, String)> {
    let poll = PollRecord {
        poll_id: POLL.into(),
        room_id: "!room:pcf.test".into(),
        author: "@paul:pcf.test".into(),
        spec: "{}".into(),
        created_at: 1,
        deadline: None,
        reminded_at: None,
        closed_at: None,
        result: None,
    };
    store.poll_create(&poll, &[]).await.expect("poll");
    let list: Vec<(String, String, i64)> =
        (0..voters).map(|i| (format!("@v{i}:pcf.test"), format!("hash-{i:02}"), 1)).collect();
    store.secret_voters_create(POLL, &list).await.expect("voters");
    for (voter, _, _) in &list {
        // Each voter row gets a transaction of its own, as when the ballots are sent.
        store.secret_voter_notified(POLL, voter).await.expect("notified");
    }
    list.into_iter().map(|(v, h, _)| (v, h)).collect()
}

/// The rows of `table` in physical order, each as (xmin, key), on PostgreSQL; on SQLite, in
/// rowid order (or key order for tables without rowid), with no transaction id.
async fn physical(store: &Store, table: &str, key: &str) -> Vec<(Option<u64>, String)> {
    let sql = match store.backend() {
        Backend::Postgres => format!(
            "SELECT xmin::text AS x, ctid::text AS c, {key} AS k FROM {table} \
             ORDER BY (ctid::text::point)[0], (ctid::text::point)[1]"
        ),
        Backend::Sqlite => format!("SELECT NULL AS x, '' AS c, {key} AS k FROM {table}"),
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(store.pool()).await.expect("physical rows");
    rows.iter()
        .map(|r| {
            let x: Option<String> = r.try_get("x").expect("xmin");
            (x.map(|x| x.parse().expect("xid")), r.try_get("k").expect("key"))
        })
        .collect()
}

#[tokio::test]
async fn no_transaction_id_or_row_order_joins_a_voter_to_their_ballot() {
    on_both(|store| async move {
        let voters = open_poll(&store, 12).await;
        // Voter i casts i-th, for answer i, under a random receipt.
        let mut receipts = Vec::new();
        for (i, (_, hash)) in voters.iter().enumerate() {
            let receipt = crate::ballot::receipt();
            let cast = store.secret_cast(hash, &format!("[\"r{i}\"]"), &receipt, 10).await.expect("cast");
            assert!(matches!(cast, Cast::Recorded { .. }), "{cast:?}");
            receipts.push(receipt);
        }
        assert!(store.poll_close(POLL, 20, "").await.expect("close"));
        assert_eq!(store.secret_ballots(POLL).await.expect("ballots").len(), 12);

        let voter_rows = physical(&store, "secret_voter", "token_hash").await;
        let ballot_rows = physical(&store, "secret_ballot", "receipt").await;
        for (i, (_, hash)) in voters.iter().enumerate() {
            let (vx, _) = voter_rows.iter().find(|(_, k)| k == hash).expect("voter row");
            let (bx, _) = ballot_rows.iter().find(|(_, k)| *k == receipts[i]).expect("ballot row");
            if let (Some(vx), Some(bx)) = (vx, bx) {
                assert!(vx.abs_diff(*bx) > 1, "voter {i}: voter row xmin {vx}, ballot row xmin {bx}");
            }
        }
        let order: Vec<&String> = ballot_rows.iter().map(|(_, k)| k).collect();
        let cast_order: Vec<&String> = receipts.iter().collect();
        assert_ne!(order, cast_order, "ballot rows are stored in the order of the casts");
        if store.backend() == Backend::Postgres {
            let xids: Vec<u64> = ballot_rows.iter().filter_map(|(x, _)| *x).collect();
            let mut sorted = xids.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert!(sorted.len() < xids.len(), "each ballot row has a transaction id of its own: {xids:?}");
        }
    })
    .await;
}
