//! MSC3381 poll events as Element sends and renders them (the unstable `org.matrix.msc3381.*`
//! types Element Web uses; stable `m.poll.*` responses are read too). Pure JSON in and out.

use serde_json::{Value, json};

use super::{spec::PollSpec, tally::PollResult};

pub const START: &str = "org.matrix.msc3381.poll.start";
pub const RESPONSE: &str = "org.matrix.msc3381.poll.response";
pub const END: &str = "org.matrix.msc3381.poll.end";
pub const STABLE_RESPONSE: &str = "m.poll.response";

/// The answer ids Relais gives a poll's answers.
pub fn answer_ids(spec: &PollSpec) -> Vec<(String, String)> {
    spec.answers.iter().enumerate().map(|(i, text)| (format!("r{}", i + 1), text.clone())).collect()
}

/// The text shown by clients that do not render polls.
fn fallback(spec: &PollSpec) -> String {
    let mut text = spec.question.clone();
    for (i, answer) in spec.answers.iter().enumerate() {
        text.push_str(&format!("\n{}. {answer}", i + 1));
    }
    text
}

/// The content of the poll start event.
pub fn start_content(spec: &PollSpec) -> Value {
    let answers: Vec<Value> = answer_ids(spec)
        .into_iter()
        .map(|(id, text)| json!({"id": id, "org.matrix.msc1767.text": text}))
        .collect();
    json!({
        START: {
            "kind": if spec.secret { "org.matrix.msc3381.poll.undisclosed" } else { "org.matrix.msc3381.poll.disclosed" },
            "max_selections": spec.max_selections,
            "question": {"org.matrix.msc1767.text": spec.question, "body": spec.question, "msgtype": "m.text"},
            "answers": answers,
        },
        "org.matrix.msc1767.text": fallback(spec),
    })
}

/// The content of the poll end event, carrying the results as text.
pub fn end_content(poll_event_id: &str, results_text: &str) -> Value {
    json!({
        "m.relates_to": {"rel_type": "m.reference", "event_id": poll_event_id},
        END: {},
        "org.matrix.msc1767.text": results_text,
        "body": results_text,
    })
}

/// A response event: (poll event id, voter, answer ids, timestamp).
pub fn parse_response(raw: &Value) -> Option<(String, String, Vec<String>, i64)> {
    let kind = raw.get("type")?.as_str()?;
    if kind != RESPONSE && kind != STABLE_RESPONSE {
        return None;
    }
    let content = raw.get("content")?;
    let relation = content.get("m.relates_to")?;
    if relation.get("rel_type")?.as_str()? != "m.reference" {
        return None;
    }
    let poll = relation.get("event_id")?.as_str()?.to_owned();
    let answers = content
        .get(RESPONSE)
        .and_then(|r| r.get("answers"))
        .or_else(|| content.get("m.selections"))
        .and_then(Value::as_array)?
        .iter()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    let voter = raw.get("sender")?.as_str()?.to_owned();
    // Every event carries its timestamp; one without is not a vote to count.
    let ts = raw.get("origin_server_ts")?.as_i64()?;
    Some((poll, voter, answers, ts))
}

/// The results as the room reads them (French).
pub fn results_text(spec_question: &str, result: &PollResult) -> String {
    let mut text = format!("Résultats — {spec_question}\n");
    for answer in &result.answers {
        text.push_str(&format!("• {} : {}\n", answer.text, answer.count));
    }
    let turnout = (result.voted * 100).checked_div(result.eligible).unwrap_or(0);
    text.push_str(&format!("Participation : {} sur {} ({turnout} %).", result.voted, result.eligible));
    if result.ignored > 0 {
        text.push_str(&format!(" Réponses non comptées (hors liste ou hors délai) : {}.", result.ignored));
    }
    text.push_str(if result.quorum_reached { " Quorum atteint." } else { " Quorum non atteint." });
    match &result.winner {
        Some(winner) => text.push_str(&format!(" Adopté : « {winner} ».")),
        None => text.push_str(" Aucune réponse n'obtient la majorité requise."),
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::poll::spec::Majority;

    fn spec() -> PollSpec {
        PollSpec {
            question: "Date ?".into(),
            answers: vec!["Le 12".into(), "Le 19".into()],
            max_selections: 1,
            deadline: None,
            secret: false,
            quorum: None,
            majority: Majority::Simple,
            congress: false,
        }
    }

    #[test]
    fn start_and_responses_as_element_sends_them() {
        let content = start_content(&spec());
        assert_eq!(content[START]["answers"][1]["id"], "r2");
        assert_eq!(content[START]["kind"], "org.matrix.msc3381.poll.disclosed");
        assert_eq!(content["org.matrix.msc1767.text"], "Date ?\n1. Le 12\n2. Le 19");
        let unstable = json!({"type": RESPONSE, "sender": "@a:x", "origin_server_ts": 5, "content": {
            "m.relates_to": {"rel_type": "m.reference", "event_id": "$p"}, RESPONSE: {"answers": ["r2"]}}});
        assert_eq!(parse_response(&unstable), Some(("$p".into(), "@a:x".into(), vec!["r2".into()], 5)));
        let stable = json!({"type": STABLE_RESPONSE, "sender": "@b:x", "origin_server_ts": 6, "content": {
            "m.relates_to": {"rel_type": "m.reference", "event_id": "$p"}, "m.selections": ["r1"]}});
        assert_eq!(parse_response(&stable).map(|r| r.2), Some(vec!["r1".to_owned()]));
        assert_eq!(parse_response(&json!({"type": "m.room.message", "content": {}})), None);
    }
}
