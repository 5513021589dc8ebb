//! Secret ballots (`!sondage … --secret`). The room sees an announcement and the turnout; each
//! eligible member gets a personal one-time link to Relais's ballot page — by a direct message
//! from the bot, or by mail for email-only members — and gets a random receipt when voting. At
//! closing, the room gets the count and every receipt with its choice, so anyone can check that
//! their ballot was counted as cast. The store keeps keyed nonces of the tokens that voted and
//! receipt→choice rows, written apart from anything about the voter and shuffled in batches
//! (see docs/secret-ballot.md for what this protects against and what it does not).

use std::collections::{HashMap, HashSet};

use ruma::{RoomId, UserId};
use serde_json::{Value, json};

use relais_appservice::ClientError;
use relais_core::{
    ballot,
    time::{format_paris, now_ms},
};

use super::{
    events,
    service::{PollError, Polls, opened_record, spec_of},
    spec::PollSpec,
    tally::{Ballot, PollResult, ReceiptLine, Response, tally},
};
use crate::{
    messages::secret_ballot as text,
    store::{polls::PollRecord, secret_ballot::Cast},
};

/// The outbox's kind for the mail carrying an email-only member's ballot (rendered by
/// [`crate::poll::ballot_mail`]).
pub const BALLOT_MAIL: &str = "ballot";

/// Ballots sent per tick of the bots' clock (the rest follow at the next ticks).
const NOTIFY_BATCH: i64 = 100;

/// How long a ballot that could not be sent waits before its next try: as long as a direct
/// room that could not be made (`service::DIRECT_ROOM_GAP_MS`), short enough for a poll of an
/// assembly.
const BALLOT_RETRY_MS: i64 = 10 * 60 * 1000;

/// Pending ballots of a poll that the clock moves out of the ballot box together, in random
/// order (fewer wait for the next ones, or for the closing): see docs/secret-ballot.md.
const FLUSH_BATCH: i64 = 10;

/// The link of `voter`'s ballot in poll `poll_id`: a token only Relais's key derives.
pub fn ballot_link(config: &relais_core::Config, poll_id: &str, voter: &str) -> String {
    let secret = config.key(relais_core::KeyPurpose::BallotLinks);
    format!(
        "{}/relais/vote/{}",
        config.web.public_url.as_str().trim_end_matches('/'),
        ballot::token(secret.expose(), poll_id, voter)
    )
}

/// The voter an email-only member is in a secret poll's list.
pub fn voter_of_member(member_id: &str) -> String {
    format!("member:{member_id}")
}

/// A ballot as the page submits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CastOutcome {
    Recorded {
        receipt: String,
    },
    AlreadyVoted,
    Closed,
    Unknown,
    /// Not a valid choice for this poll (none, too many, unknown answer).
    Invalid(String),
}

/// The ballot page's view of a token.
#[derive(Debug, Clone)]
pub struct BallotView {
    pub poll: PollRecord,
    pub spec: PollSpec,
    pub voted: bool,
}

impl Polls {
    /// The key ballot tokens derive from (never the appservice token: see `relais_core::keys`).
    fn secret(&self) -> relais_core::Secret {
        self.config.key(relais_core::KeyPurpose::BallotLinks)
    }

    /// The link of `voter`'s ballot.
    pub fn ballot_link(&self, poll_id: &str, voter: &str) -> String {
        ballot_link(&self.config, poll_id, voter)
    }

    /// Opens a secret poll: the announcement, the voter list with each token's hash, the
    /// ballots sent. Returns the notice for the room.
    pub async fn open_secret(
        &self,
        room_id: &RoomId,
        author: &UserId,
        command_event: &str,
        spec: PollSpec,
        now: i64,
    ) -> Result<String, PollError> {
        let matrix = self.eligible(room_id).await?;
        let by_mail: Vec<String> =
            self.directory.room_email_members(room_id).await?.into_iter().map(|(m, _)| m).collect();
        let voters: Vec<(String, i64)> = if spec.congress {
            let mut weighted = self.congress_voters(&matrix).await?;
            weighted.extend(self.congress_mail_voters(&by_mail).await?);
            if weighted.is_empty() {
                return Ok(crate::messages::no_mandates());
            }
            weighted
        } else {
            matrix.into_iter().chain(by_mail.iter().map(|m| voter_of_member(m))).map(|v| (v, 1)).collect()
        };
        let mail_voters = voters.iter().filter(|(v, _)| v.starts_with("member:")).count();
        let deadline = spec.deadline.map(format_paris);
        let body = text::announcement(&spec, voters.len(), 0, deadline.as_deref());
        let txn = format!("poll.{}", command_event.trim_start_matches('$'));
        let content = json!({"msgtype": "m.notice", "body": body, "fr.pcf.relais.kind": "secret_poll"});
        let poll_id = self
            .client
            .send_raw_event(room_id, "m.room.message", &txn, &content, &self.config.bot_user_id())
            .await?;
        let record = opened_record(poll_id.clone(), room_id, author, &spec, now);
        self.store.poll_create(&record, &[]).await?;
        let secret = self.secret();
        let hashed: Vec<(String, String, i64)> = voters
            .iter()
            .map(|(v, w)| (v.clone(), ballot::token_hash(&ballot::token(secret.expose(), &poll_id, v)), *w))
            .collect();
        self.store.secret_voters_create(&poll_id, &hashed).await?;
        self.notify_voters().await?;
        Ok(text::opened(voters.len(), mail_voters))
    }

    /// Sends the ballots not sent yet: a direct message to Matrix members, a mail (through the
    /// mail bridge's outbox) to email-only members. Returns how many went out.
    pub async fn notify_voters(&self) -> Result<usize, PollError> {
        let pending = self.store.secret_voters_to_notify(NOTIFY_BATCH).await?;
        for (poll_id, voter) in &pending {
            let Some(poll) = self.store.poll(poll_id).await? else { continue };
            let Some(spec) = spec_of(&poll) else { continue };
            if let Some(member_id) = voter.strip_prefix("member:") {
                if self.config.mail.bridge_enabled() {
                    // One statement: a member erased or lapsed meanwhile gets nothing.
                    self.outbox.outbox_enqueue_member(BALLOT_MAIL, poll_id, member_id).await?;
                }
            } else if let Ok(user) = UserId::parse(voter) {
                match self.send_ballot_dm(&poll, &spec, &user).await {
                    Ok(()) => {}
                    Err(PollError::Store(error)) => return Err(PollError::Store(error)),
                    // Unreachable for now (their server refuses, or the room just made did not
                    // serve): they wait, and hold up nobody.
                    Err(error) => {
                        tracing::warn!(%error, "a ballot could not be sent: next try in ten minutes");
                        self.store
                            .secret_voter_retry_later(poll_id, voter, now_ms() + BALLOT_RETRY_MS)
                            .await?;
                        continue;
                    }
                }
            }
            self.store.secret_voter_notified(poll_id, voter).await?;
        }
        Ok(pending.len())
    }

    async fn send_ballot_dm(
        &self,
        poll: &PollRecord,
        spec: &PollSpec,
        user: &UserId,
    ) -> Result<(), PollError> {
        let bot = self.config.bot_user_id();
        let room_id = crate::service::private_direct_room(&self.store, &self.client, &bot, user).await?;
        let room_name = self.directory.room_name(&poll.room_id).await?;
        let link = self.ballot_link(&poll.poll_id, user.as_str());
        let deadline = spec.deadline.map(format_paris);
        let body = text::ballot_dm(&spec.question, room_name.as_deref(), &link, deadline.as_deref());
        let content = json!({"msgtype": "m.text", "body": body});
        let key = relais_core::text::slug(&format!("{}{}", poll.poll_id, user.as_str()));
        let txn = format!("ballot.{key}");
        self.client
            .send_raw_event(&room_id, "m.room.message", &txn, &content, &self.config.bot_user_id())
            .await?;
        Ok(())
    }

    /// What the ballot page shows for `token`.
    pub async fn ballot_view(&self, token: &str) -> Result<Option<BallotView>, PollError> {
        let nonce = ballot::nonce(token);
        let Some((poll_id, voted)) = self.store.secret_token(&ballot::token_hash(token), &nonce).await?
        else {
            return Ok(None);
        };
        let Some(poll) = self.store.poll(&poll_id).await? else { return Ok(None) };
        let Some(spec) = spec_of(&poll) else { return Ok(None) };
        Ok(Some(BallotView { poll, spec, voted }))
    }

    /// Casts the ballot of `token` for the answers numbered `choices` (1-based), then shows the
    /// new turnout in the room.
    pub async fn cast(&self, token: &str, choices: &[usize]) -> Result<CastOutcome, PollError> {
        let Some(view) = self.ballot_view(token).await? else { return Ok(CastOutcome::Unknown) };
        let ids = events::answer_ids(&view.spec);
        let mut picked: Vec<String> = Vec::new();
        for n in choices {
            match ids.get(n.wrapping_sub(1)) {
                Some((id, _)) if !picked.contains(id) => picked.push(id.clone()),
                _ => return Ok(CastOutcome::Invalid(text::invalid_choice())),
            }
        }
        if picked.is_empty() || picked.len() > view.spec.max_selections as usize {
            return Ok(CastOutcome::Invalid(text::choice_count(view.spec.max_selections)));
        }
        let answers = serde_json::to_string(&picked).unwrap_or_else(|_| "[]".into());
        let (token_hash, nonce) = (ballot::token_hash(token), ballot::nonce(token));
        let cast = self.store.secret_cast(&token_hash, &nonce, &answers, now_ms()).await?;
        Ok(match cast {
            Cast::Recorded { poll_id, receipt } => {
                if let Err(e) = self.show_turnout(&poll_id, &view).await {
                    tracing::warn!(error = %e, "cannot show the turnout of a secret poll");
                }
                CastOutcome::Recorded { receipt }
            }
            Cast::AlreadyVoted => CastOutcome::AlreadyVoted,
            Cast::Closed => CastOutcome::Closed,
            Cast::Unknown => CastOutcome::Unknown,
        })
    }

    /// Moves the pending ballots of polls holding at least [`FLUSH_BATCH`] of them out of the
    /// ballot box (closing moves the rest). Returns how many moved.
    pub async fn flush_ballots(&self) -> Result<usize, PollError> {
        Ok(self.store.secret_flush(FLUSH_BATCH).await?)
    }

    /// Edits the room's announcement with the turnout (counts only).
    async fn show_turnout(&self, poll_id: &str, view: &BallotView) -> Result<(), PollError> {
        let (eligible, voted) = self.store.secret_turnout(poll_id).await?;
        let deadline = view.spec.deadline.map(format_paris);
        let body = text::announcement(&view.spec, eligible as usize, voted as usize, deadline.as_deref());
        let room_id = RoomId::parse(&view.poll.room_id).map_err(|e| ClientError::Request(e.to_string()))?;
        let content = json!({
            "msgtype": "m.notice",
            "body": format!("* {body}"),
            "m.new_content": {"msgtype": "m.notice", "body": body},
            "m.relates_to": {"rel_type": "m.replace", "event_id": poll_id},
        });
        let txn = format!("turnout.{}.{voted}", poll_id.trim_start_matches('$'));
        self.client
            .send_raw_event(&room_id, "m.room.message", &txn, &content, &self.config.bot_user_id())
            .await?;
        Ok(())
    }

    /// The count of a secret poll: ballots by receipt, turnout from the voter flags.
    pub async fn count_secret(&self, poll: &PollRecord, spec: &PollSpec) -> Result<PollResult, PollError> {
        let (eligible, _) = self.store.secret_turnout(&poll.poll_id).await?;
        let ballots = self.store.secret_ballots(&poll.poll_id).await?;
        let ids = events::answer_ids(spec);
        let mut responses = Vec::with_capacity(ballots.len());
        let mut receipts = Vec::with_capacity(ballots.len());
        let mut weights: HashMap<String, u64> = HashMap::new();
        for (receipt, answers, weight) in ballots {
            weights.insert(receipt.clone(), u64::try_from(weight).unwrap_or(0));
            let answers = super::service::stored_answers(&poll.poll_id, &answers)?;
            let texts =
                answers.iter().filter_map(|a| ids.iter().find(|(id, _)| id == a).map(|(_, t)| t.clone()));
            receipts.push(ReceiptLine { receipt: receipt.clone(), answers: texts.collect() });
            responses.push(Response { voter: receipt, answers, ts: 0 });
        }
        // The tally checks voters against the list: here, the receipts, padded to the number of
        // eligible members so that turnout and quorum are right.
        let mut voters: HashSet<String> = responses.iter().map(|r| r.voter.clone()).collect();
        // In congress mode the abstainers' mandates go to the first padding entry: the total of
        // mandates is known, not who abstained.
        let all_mandates: u64 = self
            .store
            .secret_weights(&poll.poll_id)
            .await?
            .iter()
            .map(|w| u64::try_from(*w).unwrap_or(0))
            .sum();
        let mut abstained = all_mandates.saturating_sub(weights.values().sum());
        for n in 0..usize::try_from(eligible).unwrap_or(0).saturating_sub(voters.len()) {
            let name = format!("(abstention {n})");
            weights.insert(name.clone(), std::mem::take(&mut abstained));
            voters.insert(name);
        }
        let weights = spec.congress.then_some(weights);
        let ballot = Ballot {
            answers: &ids,
            max_selections: spec.max_selections,
            eligible: &voters,
            closed_at: None,
            quorum: spec.quorum,
            majority: spec.majority,
            weights: weights.as_ref(),
        };
        Ok(PollResult { receipts, ..tally(&ballot, &responses) })
    }

    /// Posts the results of a closed secret poll with every receipt (idempotent).
    pub async fn publish_secret(&self, poll: &PollRecord, spec: &PollSpec) -> Result<String, PollError> {
        let result = self.count_secret(poll, spec).await?;
        let mut body = events::results_text(&spec.question, &result);
        body.push_str(&text::receipts(&result.receipts));
        let room_id = RoomId::parse(&poll.room_id).map_err(|e| ClientError::Request(e.to_string()))?;
        let content: Value = json!({"msgtype": "m.notice", "body": body,
            "m.relates_to": {"m.in_reply_to": {"event_id": poll.poll_id}}});
        let txn = format!("poll-end.{}", poll.poll_id.trim_start_matches('$'));
        let end = self
            .client
            .send_raw_event(&room_id, "m.room.message", &txn, &content, &self.config.bot_user_id())
            .await?;
        self.store
            .poll_set_result(&poll.poll_id, &serde_json::to_string(&result).unwrap_or_default())
            .await?;
        if spec.congress {
            self.post_minutes(poll, spec, &result).await?;
        }
        self.store.poll_set_end_event(&poll.poll_id, &end).await?;
        Ok(body)
    }
}
