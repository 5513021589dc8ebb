//! Secret-ballot store tests, on both backends: casting, retries, closing, and that nothing in
//! the database — column, row order, or PostgreSQL's system columns — joins a voter to a choice.

use std::collections::HashSet;

use relais_core::store::{
    Backend,
    testing::{on_both, on_both_at},
};
use sqlx::Row;

use super::{BotStore, polls::PollRecord, secret_ballot::Cast};

const POLL: &str = "$secret";

/// A secret poll with `voters` voters, each notified (as when their ballot is sent): their
/// (token hash, nonce).
async fn open_poll(store: &BotStore, voters: usize) -> Vec<(String, String)> {
    store.poll_create(&PollRecord::open_for_tests(POLL), &[]).await.expect("poll");
    let list: Vec<(String, String, i64)> =
        (0..voters).map(|i| (format!("@v{i}:pcf.test"), format!("hash-{i:02}"), 1)).collect();
    store.secret_voters_create(POLL, &list).await.expect("voters");
    for (voter, _, _) in &list {
        store.secret_voter_notified(POLL, voter).await.expect("notified");
    }
    (0..voters).map(|i| (format!("hash-{i:02}"), format!("nonce-{i:02}"))).collect()
}

async fn cast(store: &BotStore, (hash, nonce): &(String, String), answer: usize) -> Cast {
    store.secret_cast(hash, nonce, &format!("[\"r{answer}\"]"), 10).await.expect("cast")
}

fn receipt(cast: Cast) -> String {
    match cast {
        Cast::Recorded { receipt, .. } => receipt,
        other => panic!("not recorded: {other:?}"),
    }
}

async fn count(store: &BotStore, table: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM {table}")))
        .fetch_one(store.pool())
        .await
        .expect("count")
        .try_get("n")
        .expect("n")
}

/// The rows of `table` in physical order, each as (xmin, key), on PostgreSQL; on SQLite, in
/// the table's own order (rowid, or key for tables without rowid), with no transaction id.
async fn physical(store: &BotStore, table: &str, key: &str) -> Vec<(Option<u64>, String)> {
    let sql = match store.core().backend() {
        Backend::Postgres => format!(
            "SELECT xmin::text AS x, {key} AS k FROM {table} \
             ORDER BY (ctid::text::point)[0], (ctid::text::point)[1]"
        ),
        Backend::Sqlite => format!("SELECT NULL AS x, {key} AS k FROM {table}"),
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(store.pool()).await.expect("physical rows");
    rows.iter()
        .map(|r| {
            let x: Option<String> = r.try_get("x").expect("xmin");
            (x.map(|x| x.parse().expect("xid")), r.try_get("k").expect("key"))
        })
        .collect()
}

/// No voter row has the transaction id of its voter's ballot row, or one next to it; ballot
/// rows do not lie in the order of the casts.
async fn assert_unlinked(store: &BotStore, voters: &[(String, String)], receipts: &[String]) {
    let voter_rows = physical(store, "secret_voter", "token_hash").await;
    let ballot_rows = physical(store, "secret_ballot", "receipt").await;
    for (i, (hash, _)) in voters.iter().enumerate() {
        let (vx, _) = voter_rows.iter().find(|(_, k)| k == hash).expect("voter row");
        let (bx, _) = ballot_rows.iter().find(|(_, k)| *k == receipts[i]).expect("ballot row");
        if let (Some(vx), Some(bx)) = (vx, bx) {
            assert!(vx.abs_diff(*bx) > 1, "voter {i}: voter row xmin {vx}, ballot row xmin {bx}");
        }
    }
    let stored: Vec<&String> = ballot_rows.iter().map(|(_, k)| k).filter(|k| receipts.contains(k)).collect();
    let cast_order: Vec<&String> = receipts.iter().collect();
    assert_ne!(stored, cast_order, "ballot rows are stored in the order of the casts");
    if store.core().backend() == Backend::Postgres {
        let xids: HashSet<u64> = ballot_rows.iter().filter_map(|(x, _)| *x).collect();
        assert!(xids.len() < ballot_rows.len(), "each ballot row has a transaction id of its own: {xids:?}");
    }
}

#[tokio::test]
async fn no_transaction_id_or_row_order_joins_a_voter_to_their_ballot() {
    on_both(|store| async move {
        let store = BotStore::new(store);
        let voters = open_poll(&store, 24).await;
        // Voter i casts i-th, for answer i; the clock flushes a first batch while the poll is
        // open, the closing the rest.
        let before = physical(&store, "secret_voter", "token_hash").await;
        let mut receipts = Vec::new();
        for (i, voter) in voters.iter().enumerate().take(12) {
            receipts.push(receipt(cast(&store, voter, i).await));
            assert_eq!(store.secret_flush(100).await.expect("no batch yet"), 0);
        }
        assert_eq!(
            physical(&store, "secret_voter", "token_hash").await,
            before,
            "casting writes nothing about its voter: same rows, same transaction ids, same places"
        );
        assert_eq!(store.secret_flush(10).await.expect("flush"), 12);
        assert_eq!(count(&store, "secret_ballot_box").await, 0);
        assert_unlinked(&store, &voters[..12], &receipts).await;
        for (i, voter) in voters.iter().enumerate().skip(12) {
            receipts.push(receipt(cast(&store, voter, i).await));
        }
        assert_eq!(count(&store, "secret_ballot_box").await, 12, "below the batch: still in the box");
        assert!(store.poll_close(POLL, Some(20)).await.expect("close").is_some());
        assert_eq!(store.secret_ballots(POLL).await.expect("ballots").len(), 24);
        assert_eq!(count(&store, "secret_ballot_box").await, 0);
        assert_eq!(count(&store, "secret_nonce").await, 0, "the nonces go at closing");
        assert_unlinked(&store, &voters, &receipts).await;
        assert_eq!(physical(&store, "secret_voter", "token_hash").await, before, "nor does closing");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_casts_of_one_token_store_exactly_one_ballot() {
    on_both(|store| async move {
        let store = BotStore::new(store);
        let voters = open_poll(&store, 3).await;
        let mut tasks = Vec::new();
        for n in 0..8 {
            let (store, voter) = (store.clone(), voters[0].clone());
            tasks.push(tokio::spawn(async move { cast(&store, &voter, n).await }));
        }
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.expect("task"));
        }
        let recorded: Vec<&Cast> = outcomes.iter().filter(|c| matches!(c, Cast::Recorded { .. })).collect();
        assert_eq!(recorded.len(), 1, "{outcomes:?}");
        assert_eq!(outcomes.iter().filter(|c| **c == Cast::AlreadyVoted).count(), 7, "{outcomes:?}");
        let ballots = store.secret_ballots(POLL).await.expect("ballots");
        assert_eq!(ballots.len(), 1);
        assert_eq!(recorded[0], &Cast::Recorded { poll_id: POLL.into(), receipt: ballots[0].0.clone() });
        assert_eq!(store.secret_turnout(POLL).await.expect("turnout"), (3, 1));
    })
    .await;
}

#[tokio::test]
async fn a_cast_killed_or_unacknowledged_is_retried_without_a_second_ballot() {
    on_both(|store| async move {
        let store = BotStore::new(store);
        let voters = open_poll(&store, 3).await;
        // Killed mid-cast: the nonce is written, the transaction never commits (kill -9 or a
        // dropped connection rolls it back). The retry casts.
        {
            let mut tx = store.pool().begin().await.expect("begin");
            sqlx::query("INSERT INTO secret_nonce (poll_id, nonce) VALUES ($1, $2)")
                .bind(POLL)
                .bind(&voters[0].1)
                .execute(&mut *tx)
                .await
                .expect("nonce");
        }
        assert_eq!(
            store.secret_token(&voters[0].0, &voters[0].1).await.expect("token"),
            Some((POLL.into(), false))
        );
        let first = receipt(cast(&store, &voters[0], 1).await);
        // Committed, but the receipt never reached the voter (killed after commit, before the
        // page): the retry is told the ballot is already cast, and stores no other.
        assert_eq!(cast(&store, &voters[0], 2).await, Cast::AlreadyVoted);
        assert_eq!(
            store.secret_token(&voters[0].0, &voters[0].1).await.expect("token"),
            Some((POLL.into(), true))
        );
        // Killed between the cast and the flush: the ballot waits in the box, is counted, and
        // the closing moves it.
        assert_eq!(
            store.secret_ballots(POLL).await.expect("ballots"),
            [(first.clone(), "[\"r1\"]".into(), 1)]
        );
        assert!(store.poll_close(POLL, Some(20)).await.expect("close").is_some());
        assert_eq!(store.secret_ballots(POLL).await.expect("ballots"), [(first, "[\"r1\"]".into(), 1)]);
        assert_eq!(count(&store, "secret_ballot").await, 1);
        assert_eq!(cast(&store, &voters[0], 2).await, Cast::Closed);
    })
    .await;
}

#[tokio::test]
async fn batches_leave_the_box_whole_and_closing_flushes_the_rest() {
    on_both(|store| async move {
        let store = BotStore::new(store);
        let voters = open_poll(&store, 6).await;
        for (i, voter) in voters.iter().enumerate().take(3) {
            receipt(cast(&store, voter, i).await);
        }
        assert_eq!(store.secret_flush(4).await.expect("flush"), 0, "three wait for a fourth");
        receipt(cast(&store, &voters[3], 3).await);
        assert_eq!(store.secret_flush(4).await.expect("flush"), 4);
        assert_eq!(store.secret_flush(1).await.expect("flush"), 0);
        receipt(cast(&store, &voters[4], 4).await);
        assert_eq!(store.secret_turnout(POLL).await.expect("turnout"), (6, 5));
        assert!(store.poll_close(POLL, Some(20)).await.expect("close").is_some());
        assert!(store.poll_close(POLL, Some(21)).await.expect("closed once").is_none());
        assert_eq!((count(&store, "secret_ballot").await, count(&store, "secret_ballot_box").await), (5, 0));
        assert_eq!(cast(&store, &voters[5], 5).await, Cast::Closed);
        assert_eq!(store.secret_turnout(POLL).await.expect("turnout"), (6, 5));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn closing_during_casts_counts_exactly_the_acknowledged_ballots() {
    on_both(|store| async move {
        let store = BotStore::new(store);
        let voters = open_poll(&store, 30).await;
        let mut tasks = Vec::new();
        for (i, voter) in voters.into_iter().enumerate() {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                if i == 15 {
                    assert!(store.poll_close(POLL, Some(20)).await.expect("close").is_some());
                    return None;
                }
                if i % 4 == 0 {
                    store.secret_flush(2).await.expect("flush");
                }
                Some(cast(&store, &voter, i).await)
            }));
        }
        let mut acknowledged = Vec::new();
        for t in tasks {
            match t.await.expect("task") {
                Some(Cast::Recorded { receipt, .. }) => acknowledged.push(receipt),
                Some(Cast::Closed) | None => {}
                Some(other) => panic!("{other:?}"),
            }
        }
        acknowledged.sort();
        let counted: Vec<String> =
            store.secret_ballots(POLL).await.expect("ballots").into_iter().map(|(r, _, _)| r).collect();
        assert_eq!(counted, acknowledged, "every acknowledged ballot, and no other");
        assert_eq!(count(&store, "secret_ballot_box").await, 0, "nothing left in the box after closing");
    })
    .await;
}

/// Before migration 0017 a cast marked its voter and stored the ballot in one transaction, and
/// ballots lay in the order of the casts. A database from then keeps its ballots, its voters
/// still cannot vote twice, and (on PostgreSQL) the migration leaves no transaction id or row
/// order to join them.
#[tokio::test]
async fn ballots_cast_before_the_ballot_box_keep_counting_and_their_voters_stay_unlinked() {
    on_both_at(Some(16), |store| async move {
        let store = BotStore::new(store);
        let voters = open_poll(&store, 6).await;
        // Receipts are random: here in an order unlike the casts'.
        let old_receipts = ["r-c", "r-a", "r-b"];
        for (i, (hash, _)) in voters.iter().enumerate().take(3) {
            let mut tx = store.pool().begin().await.expect("begin");
            sqlx::query("UPDATE secret_voter SET voted = $1 WHERE token_hash = $2")
                .bind(5_i64)
                .bind(hash)
                .execute(&mut *tx)
                .await
                .expect("old cast: voter");
            sqlx::query(
                "INSERT INTO secret_ballot (poll_id, receipt, answers, weight) VALUES ($1, $2, $3, 1)",
            )
            .bind(POLL)
            .bind(old_receipts[i])
            .bind(format!("[\"r{i}\"]"))
            .execute(&mut *tx)
            .await
            .expect("old cast: ballot");
            tx.commit().await.expect("commit");
        }
        store.core().migrate().await.expect("the later migrations apply on this data");

        for voter in &voters[..3] {
            assert!(matches!(cast(&store, voter, 9).await, Cast::AlreadyVoted), "voted before the migration");
        }
        for (i, voter) in voters.iter().enumerate().skip(3) {
            receipt(cast(&store, voter, i).await);
        }
        assert!(store.poll_close(POLL, Some(20)).await.expect("close").is_some());
        assert_eq!(store.secret_ballots(POLL).await.expect("ballots").len(), 6, "old and new ballots count");

        if store.core().backend() == Backend::Postgres {
            let voter_rows = physical(&store, "secret_voter", "token_hash").await;
            let ballot_rows = physical(&store, "secret_ballot", "receipt").await;
            let old: Vec<&(Option<u64>, String)> =
                ballot_rows.iter().filter(|(_, k)| old_receipts.contains(&k.as_str())).collect();
            let migrated = old[0].0;
            assert!(
                old.iter().all(|(x, _)| *x == migrated),
                "old ballots share the migration's transaction id"
            );
            for (hash, _) in &voters[..3] {
                let (x, _) = voter_rows.iter().find(|(_, k)| k == hash).expect("voter row");
                assert_eq!(*x, migrated, "old voters too: no voter's own transaction id is left");
            }
            let order: Vec<&str> = old.iter().map(|(_, k)| k.as_str()).collect();
            assert_eq!(order, ["r-a", "r-b", "r-c"], "old ballots lie in receipt order, not cast order");
        }
    })
    .await;
}

#[tokio::test]
async fn a_ballot_that_could_not_be_sent_waits_and_holds_up_nobody() {
    on_both(|store| async move {
        let store = BotStore::new(store);
        open_poll(&store, 0).await;
        let list: Vec<(String, String, i64)> =
            (0..3).map(|i| (format!("@v{i}:pcf.test"), format!("hash-{i:02}"), 1)).collect();
        store.secret_voters_create(POLL, &list).await.expect("voters");
        let later = relais_core::time::now_ms() + 3_600_000;
        store.secret_voter_retry_later(POLL, "@v0:pcf.test", later).await.expect("later");
        let pending = store.secret_voters_to_notify(1).await.expect("pending");
        assert_eq!(pending, [(POLL.to_owned(), "@v1:pcf.test".to_owned())], "the next voter goes first");
        let all: Vec<String> =
            store.secret_voters_to_notify(10).await.expect("pending").into_iter().map(|p| p.1).collect();
        assert_eq!(all, ["@v1:pcf.test", "@v2:pcf.test"]);
        store.secret_voter_retry_later(POLL, "@v0:pcf.test", 0).await.expect("due");
        assert_eq!(store.secret_voters_to_notify(10).await.expect("pending").len(), 3, "its hour is up");
    })
    .await;
}
