//! Counting a poll: the frozen voter list, each voter's latest valid response, responses from
//! anyone else or after closing counted apart, quorum and majority. Pure.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::spec::{Majority, Quorum};

/// One response event, in the order the room received them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub voter: String,
    /// Answer ids as sent.
    pub answers: Vec<String>,
    /// `origin_server_ts` of the response.
    pub ts: i64,
}

/// The poll being counted.
#[derive(Debug, Clone)]
pub struct Ballot<'a> {
    /// (id, text) in the poll's order.
    pub answers: &'a [(String, String)],
    pub max_selections: u32,
    pub eligible: &'a HashSet<String>,
    /// Responses after this instant are ignored.
    pub closed_at: Option<i64>,
    pub quorum: Option<Quorum>,
    pub majority: Majority,
    /// Congress mode: each voter's mandates (own and by proxy); `None`: one voice each.
    pub weights: Option<&'a HashMap<String, u64>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnswerCount {
    pub id: String,
    pub text: String,
    pub count: u64,
}

/// The result, as `relais poll results --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PollResult {
    pub eligible: u64,
    /// Eligible voters with a counted response (a response without a valid answer is a blank
    /// ballot: it counts for turnout, not for an answer).
    pub voted: u64,
    /// Responses from people not on the voter list, after closing, or naming no answer of the
    /// poll twice over; each response counts once.
    pub ignored: u64,
    pub answers: Vec<AnswerCount>,
    pub quorum_reached: bool,
    pub majority_reached: bool,
    /// The winning answer's text, when the majority rule is met.
    pub winner: Option<String>,
    /// Congress mode: the same count in mandates; quorum and majority are then reckoned in mandates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mandates: Option<MandateTurnout>,
    /// Secret ballots: every receipt with the answers it carries, so each voter can check theirs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub receipts: Vec<ReceiptLine>,
}

/// Mandates of the eligible voters and of those who voted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MandateTurnout {
    pub eligible: u64,
    pub voted: u64,
}

/// A secret ballot as published: its receipt and its answers' texts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceiptLine {
    pub receipt: String,
    pub answers: Vec<String>,
}

/// Counts `responses` (arrival order) for `ballot`.
pub fn tally<'r>(ballot: &Ballot<'_>, responses: impl IntoIterator<Item = &'r Response>) -> PollResult {
    let known: HashSet<&str> = ballot.answers.iter().map(|(id, _)| id.as_str()).collect();
    let mut latest: HashMap<&str, (i64, Vec<&str>)> = HashMap::new();
    let mut ignored = 0u64;
    for response in responses {
        if !ballot.eligible.contains(&response.voter) || ballot.closed_at.is_some_and(|c| response.ts > c) {
            ignored += 1;
            continue;
        }
        let mut chosen: Vec<&str> = Vec::new();
        for id in &response.answers {
            if known.contains(id.as_str()) && !chosen.contains(&id.as_str()) {
                chosen.push(id);
            }
        }
        chosen.truncate(ballot.max_selections.max(1) as usize);
        match latest.get(response.voter.as_str()) {
            // An older response arriving late does not replace a newer one.
            Some((ts, _)) if *ts > response.ts => {}
            _ => {
                latest.insert(&response.voter, (response.ts, chosen));
            }
        }
    }
    let weight = |voter: &str| ballot.weights.map_or(1, |w| w.get(voter).copied().unwrap_or(0));
    let mut counts: HashMap<&str, u64> = HashMap::new();
    let mut ballots = 0u64;
    for (voter, (_, chosen)) in &latest {
        if !chosen.is_empty() {
            ballots += weight(voter);
        }
        for id in chosen {
            *counts.entry(id).or_default() += weight(voter);
        }
    }
    let answers: Vec<AnswerCount> = ballot
        .answers
        .iter()
        .map(|(id, text)| AnswerCount {
            id: id.clone(),
            text: text.clone(),
            count: counts.get(id.as_str()).copied().unwrap_or(0),
        })
        .collect();
    let eligible = ballot.eligible.len() as u64;
    let voted = latest.len() as u64;
    let mandates = ballot.weights.map(|_| MandateTurnout {
        eligible: ballot.eligible.iter().map(|v| weight(v)).sum(),
        voted: latest.keys().map(|v| weight(v)).sum(),
    });
    let quorum_reached = match mandates {
        Some(m) => ballot.quorum.is_none_or(|q| q.reached(m.voted, m.eligible)),
        None => ballot.quorum.is_none_or(|q| q.reached(voted, eligible)),
    };
    let (winner, majority_reached) = decide(&answers, ballots, ballot.majority);
    PollResult {
        eligible,
        voted,
        ignored,
        answers,
        quorum_reached,
        majority_reached: majority_reached && quorum_reached,
        winner: winner.filter(|_| majority_reached && quorum_reached),
        mandates,
        receipts: Vec::new(),
    }
}

/// The top answer and whether it meets `majority` over `ballots` non-blank ballots.
fn decide(answers: &[AnswerCount], ballots: u64, majority: Majority) -> (Option<String>, bool) {
    let mut sorted: Vec<&AnswerCount> = answers.iter().collect();
    sorted.sort_by_key(|a| std::cmp::Reverse(a.count));
    let Some(top) = sorted.first().filter(|t| t.count > 0) else { return (None, false) };
    let unique = sorted.get(1).is_none_or(|second| second.count < top.count);
    let met = unique
        && match majority {
            Majority::Simple => true,
            Majority::Absolute => top.count * 2 > ballots,
            Majority::TwoThirds => top.count * 3 >= ballots * 2,
        };
    (Some(top.text.clone()), met)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers() -> Vec<(String, String)> {
        vec![("a".into(), "Pour".into()), ("b".into(), "Contre".into()), ("c".into(), "Abstention".into())]
    }

    fn r(voter: &str, answers: &[&str], ts: i64) -> Response {
        Response { voter: voter.into(), answers: answers.iter().map(|s| (*s).to_owned()).collect(), ts }
    }

    #[test]
    fn latest_valid_response_counts_and_others_are_set_apart() {
        let answers = answers();
        let eligible: HashSet<String> = ["@a", "@b", "@c", "@d"].iter().map(|s| (*s).to_owned()).collect();
        let ballot = Ballot {
            answers: &answers,
            max_selections: 1,
            eligible: &eligible,
            closed_at: Some(100),
            quorum: Some(Quorum::Percent(50)),
            majority: Majority::Absolute,
            weights: None,
        };
        let responses = [
            r("@a", &["b"], 1),
            r("@a", &["a"], 2),      // changed vote
            r("@b", &["a", "b"], 3), // two choices where one is allowed: the first counts
            r("@intrus", &["b"], 4),
            r("@c", &["zz"], 5),  // no valid answer: blank ballot
            r("@d", &["b"], 101), // after closing
        ];
        let result = tally(&ballot, &responses);
        assert_eq!((result.eligible, result.voted, result.ignored), (4, 3, 2));
        let counts: Vec<u64> = result.answers.iter().map(|a| a.count).collect();
        assert_eq!(counts, [2, 0, 0]);
        assert!(result.quorum_reached && result.majority_reached);
        assert_eq!(result.winner.as_deref(), Some("Pour"));
    }

    #[test]
    fn quorum_and_majority_rules() {
        let answers = answers();
        let eligible: HashSet<String> = (0..10).map(|i| format!("@{i}")).collect();
        let mut ballot = Ballot {
            answers: &answers,
            max_selections: 1,
            eligible: &eligible,
            closed_at: None,
            quorum: Some(Quorum::Count(5)),
            majority: Majority::TwoThirds,
            weights: None,
        };
        let votes = [r("@0", &["a"], 1), r("@1", &["a"], 1), r("@2", &["a"], 1), r("@3", &["b"], 1)];
        let result = tally(&ballot, &votes);
        assert!(!result.quorum_reached && result.winner.is_none(), "4 of 5 needed");
        ballot.quorum = None;
        let result = tally(&ballot, &votes);
        assert!(result.majority_reached, "3 of 4 is at least two thirds");
        let tie = [r("@0", &["a"], 1), r("@1", &["b"], 1)];
        ballot.majority = Majority::Simple;
        assert!(!tally(&ballot, &tie).majority_reached, "a tie has no winner");
    }

    #[test]
    fn congress_counts_mandates() {
        let answers = answers();
        let eligible: HashSet<String> =
            ["@paul", "@sophie", "@luc"].iter().map(|s| (*s).to_owned()).collect();
        let weights: HashMap<String, u64> =
            [("@paul".to_owned(), 3), ("@sophie".to_owned(), 3), ("@luc".to_owned(), 4)]
                .into_iter()
                .collect();
        let ballot = Ballot {
            answers: &answers,
            max_selections: 1,
            eligible: &eligible,
            closed_at: None,
            quorum: Some(Quorum::Percent(60)),
            majority: Majority::Absolute,
            weights: Some(&weights),
        };
        let votes = [r("@paul", &["a"], 1), r("@sophie", &["b"], 1), r("@intrus", &["a"], 1)];
        let result = tally(&ballot, &votes);
        let counts: Vec<u64> = result.answers.iter().map(|a| a.count).collect();
        assert_eq!(counts, [3, 3, 0]);
        assert_eq!((result.voted, result.ignored), (2, 1));
        assert_eq!(result.mandates, Some(MandateTurnout { eligible: 10, voted: 6 }));
        assert!(result.quorum_reached, "6 of 10 mandates");
        assert!(!result.majority_reached, "3 of 6 is not more than half");
    }
}
