//! `relais bench poll`: counting a poll of 50,000 voters, pure and from the store.

use std::{collections::HashSet, time::Instant};

use serde_json::json;

use relais_bots::poll::{
    spec::{Majority, Quorum},
    tally::{Ballot, Response, tally},
};
use relais_bots::store::{BotStore, polls::PollRecord};
use relais_core::Store;

/// Every voter answers once, one in ten changes their vote, and 5 % of responses come from
/// people not on the list.
fn responses(voters: usize) -> Vec<Response> {
    let mut responses = Vec::new();
    for i in 0..voters {
        let voter = format!("@membre{i}:pcf.test");
        responses.push(Response {
            voter: voter.clone(),
            answers: vec![format!("r{}", i % 4 + 1)],
            ts: i as i64,
        });
        if i % 10 == 0 {
            responses.push(Response { voter, answers: vec!["r1".into()], ts: (voters + i) as i64 });
        }
        if i % 20 == 0 {
            responses.push(Response {
                voter: format!("@invite{i}:pcf.test"),
                answers: vec!["r2".into()],
                ts: i as i64,
            });
        }
    }
    responses
}

pub async fn run(voters: usize) -> anyhow::Result<()> {
    let answers: Vec<(String, String)> = (1..=4).map(|i| (format!("r{i}"), format!("Réponse {i}"))).collect();
    let eligible: HashSet<String> = (0..voters).map(|i| format!("@membre{i}:pcf.test")).collect();
    let responses = responses(voters);
    let ballot = Ballot {
        answers: &answers,
        max_selections: 1,
        eligible: &eligible,
        closed_at: None,
        quorum: Some(Quorum::Percent(25)),
        majority: Majority::Absolute,
        weights: None,
    };
    let start = Instant::now();
    let result = tally(&ballot, &responses);
    let pure_s = start.elapsed().as_secs_f64();
    anyhow::ensure!(result.voted as usize == voters, "every voter counted once");

    let (from_store, store_s) = through_store(&ballot, &eligible, &responses).await?;
    anyhow::ensure!(from_store == result, "the store count matches");
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "voters": voters, "responses": responses.len(), "ignored": result.ignored,
            "tally_seconds": pure_s, "load_and_tally_seconds": store_s, "limit_seconds": 1.0,
            "ratio_to_limit": store_s,
        }))?
    );
    Ok(())
}

/// Records the poll, its voters and responses in a SQLite store, then times loading and counting.
async fn through_store(
    ballot: &Ballot<'_>,
    eligible: &HashSet<String>,
    responses: &[Response],
) -> anyhow::Result<(relais_bots::poll::tally::PollResult, f64)> {
    let dir = tempfile::tempdir()?;
    let store =
        Store::open(&format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display()), 4).await?;
    let spec = json!({"question": "Q", "answers": ["Réponse 1", "Réponse 2", "Réponse 3", "Réponse 4"],
        "max_selections": 1, "deadline": null, "secret": false, "quorum": {"percent": 25}, "majority": "absolute"});
    let poll = PollRecord {
        poll_id: "$bench".into(),
        room_id: ruma::room_id!("!r:pcf.test").to_owned(),
        author: ruma::user_id!("@a:pcf.test").to_owned(),
        spec: spec.to_string(),
        created_at: 0,
        deadline: None,
        reminded_at: None,
        closed_at: None,
        result: None,
    };
    let bots = BotStore::new(store.clone());
    bots.poll_create(&poll, &eligible.iter().cloned().collect::<Vec<_>>()).await?;
    for (n, r) in responses.iter().enumerate() {
        bots.poll_add_response(
            "$bench",
            &format!("$e{n}"),
            &r.voter,
            &serde_json::to_string(&r.answers)?,
            r.ts,
        )
        .await?;
    }
    let start = Instant::now();
    let loaded_voters: HashSet<String> = bots.poll_voters("$bench").await?.into_iter().collect();
    let loaded: Vec<Response> = bots
        .poll_responses("$bench")
        .await?
        .into_iter()
        .map(|(voter, answers, ts)| Response {
            voter,
            answers: serde_json::from_str(&answers).unwrap_or_default(),
            ts,
        })
        .collect();
    let result = tally(&Ballot { eligible: &loaded_voters, ..ballot.clone() }, &loaded);
    let seconds = start.elapsed().as_secs_f64();
    store.close().await;
    Ok((result, seconds))
}
