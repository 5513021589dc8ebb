//! Polls at work: opening (voter list frozen from the membership file), recording responses,
//! closing by command or deadline with the native end event, reminders, results.

use std::{collections::HashSet, sync::Arc};

use ruma::{RoomId, UserId};
use serde_json::Value;

use relais_appservice::{ClientError, MatrixClient};
use relais_bridge::store::MailStore;
use relais_core::{
    Config, Store, StoreError,
    time::{format_paris, now_ms},
};
use relais_provisioning::directory::Directory;

use crate::{
    service::is_moderator,
    store::{BotStore, polls::PollRecord},
};

use super::{
    events,
    spec::{self, PollSpec},
    tally::{Ballot, PollResult, Response, tally},
};

/// Why a poll operation failed (the bots' one error type).
pub use crate::service::ServiceError as PollError;

#[derive(Debug, Clone)]
pub struct Polls {
    pub store: BotStore,
    pub directory: Directory,
    /// The mail outbox, where email-only voters' ballots are queued.
    pub outbox: MailStore,
    pub client: MatrixClient,
    pub config: Arc<Config>,
}

impl Polls {
    pub fn new(store: &Store, client: MatrixClient, config: Arc<Config>) -> Self {
        Self {
            store: BotStore::new(store.clone()),
            directory: Directory::new(store.clone()),
            outbox: MailStore::new(store.clone()),
            client,
            config,
        }
    }
}

/// The record of a poll just opened (its start event is `poll_id`).
pub(super) fn opened_record(
    poll_id: String,
    room_id: &RoomId,
    author: &UserId,
    spec: &PollSpec,
    now: i64,
) -> PollRecord {
    PollRecord {
        poll_id,
        room_id: room_id.to_owned(),
        author: author.to_owned(),
        spec: serde_json::to_string(spec).unwrap_or_default(),
        created_at: now,
        deadline: spec.deadline,
        reminded_at: None,
        closed_at: None,
        result: None,
    }
}

/// The answers of one stored response or ballot. One that cannot be read fails the count: it is
/// never counted as a blank vote.
pub(super) fn stored_answers(poll_id: &str, json: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(json).map_err(|_| {
        StoreError::Corrupt(format!("an answer of poll {poll_id} cannot be read: the count stops"))
    })
}

/// A stored poll's specification (written by [`Polls::open`]); `None` when it cannot be read,
/// which is logged with the poll's id each time: such a poll is
/// neither counted nor closed until its record is repaired, and never taken for an empty one.
pub fn spec_of(poll: &PollRecord) -> Option<PollSpec> {
    serde_json::from_str(&poll.spec)
        .inspect_err(|e| {
            let error = relais_core::json::error_without_data(e);
            tracing::error!(poll_id = %poll.poll_id, %error, "a poll's record is unreadable: it is left as it is");
        })
        .ok()
}

impl Polls {
    /// Opens the poll `words` describe; returns the notice for the room.
    pub async fn open(
        &self,
        room_id: &RoomId,
        author: &UserId,
        command_event: &str,
        words: &[String],
    ) -> Result<String, PollError> {
        let now = now_ms();
        let spec = match spec::parse(words, now) {
            Ok(spec) => spec,
            Err(e) => return Ok(format!("{e}\n{}", crate::messages::poll_usage())),
        };
        // A public room's people are not the membership file's: no vote is theirs to hold.
        if self
            .directory
            .room_kind(room_id)
            .await?
            .is_some_and(relais_provisioning::desired::RoomKind::is_public)
        {
            return Ok(crate::messages::no_poll_in_public_rooms());
        }
        if spec.secret {
            return self.open_secret(room_id, author, command_event, spec, now).await;
        }
        let mut voters = self.eligible(room_id).await?;
        let mut weighted = Vec::new();
        if spec.congress {
            weighted = self.congress_voters(&voters).await?;
            if weighted.is_empty() {
                return Ok(crate::messages::no_mandates());
            }
            voters = weighted.iter().map(|(v, _)| v.clone()).collect();
        } else {
            // Members without an account vote where they can: from the mail when they receive
            // this room's list (the bridge running), or through a proxy their referent records
            // when they have no address at all (or no mail runs). Others are not counted.
            let bridge = self.config.mail.bridge_enabled();
            let by_mail: HashSet<String> = if bridge {
                self.directory.room_email_members(room_id).await?.into_iter().map(|(m, _)| m).collect()
            } else {
                HashSet::new()
            };
            for (member, has_address) in self.directory.room_members_without_account(room_id).await? {
                if by_mail.contains(&member) || !has_address || !bridge {
                    voters.push(super::secret_ballot::voter_of_member(&member));
                }
            }
        }
        let bot = self.config.bot_user_id();
        let txn = format!("poll.{}", command_event.trim_start_matches('$'));
        let content = events::start_content(&spec);
        let poll_id = self.client.send_raw_event(room_id, events::START, &txn, &content, &bot).await?;
        let record = opened_record(poll_id, room_id, author, &spec, now);
        self.store.poll_create(&record, &voters).await?;
        self.store.poll_set_weights(&record.poll_id, &weighted).await?;
        Ok(crate::messages::poll_opened(voters.len(), spec.deadline.map(format_paris).as_deref()))
    }

    /// The voter list: active members of the room per the membership file, or — for a room
    /// provisioning does not manage — its joined members other than Relais's own users.
    pub(super) async fn eligible(&self, room_id: &RoomId) -> Result<Vec<String>, PollError> {
        if let Some(members) = self.directory.room_members_by_file(room_id).await? {
            return Ok(members.into_iter().map(String::from).collect());
        }
        let events = self.client.member_events(room_id).await?;
        Ok(events
            .iter()
            .filter(|e| e["content"]["membership"] == "join")
            .filter_map(|e| e["state_key"].as_str())
            .filter(|u| UserId::parse(u).is_ok_and(|u| !self.config.is_own_user(&u)))
            .map(str::to_owned)
            .collect())
    }

    /// Keeps a response event.
    pub async fn record_response(&self, raw: &Value) -> Result<(), PollError> {
        let Some((poll, voter, answers, ts)) = events::parse_response(raw) else { return Ok(()) };
        let Some(event_id) = raw.get("event_id").and_then(Value::as_str) else { return Ok(()) };
        let answers = serde_json::to_string(&answers).unwrap_or_else(|_| "[]".into());
        self.store.poll_add_response(&poll, event_id, &voter, &answers, ts).await?;
        Ok(())
    }

    /// Counts a poll now (closed polls: at their closing time).
    pub async fn count(&self, poll: &PollRecord) -> Result<Option<(PollSpec, PollResult)>, PollError> {
        let Some(spec) = spec_of(poll) else { return Ok(None) };
        if spec.secret {
            let result = self.count_secret(poll, &spec).await?;
            return Ok(Some((spec, result)));
        }
        let eligible: HashSet<String> = self.store.poll_voters(&poll.poll_id).await?.into_iter().collect();
        let responses: Vec<Response> = self
            .store
            .poll_responses(&poll.poll_id)
            .await?
            .into_iter()
            .map(|(voter, answers, ts)| {
                Ok(Response { voter, answers: stored_answers(&poll.poll_id, &answers)?, ts })
            })
            .collect::<Result<_, StoreError>>()?;
        let answers = events::answer_ids(&spec);
        let weights = self.weights_of(poll, &spec).await?;
        let ballot = Ballot {
            answers: &answers,
            max_selections: spec.max_selections,
            eligible: &eligible,
            closed_at: poll.closed_at,
            quorum: spec.quorum,
            majority: spec.majority,
            weights: weights.as_ref(),
        };
        let result = tally(&ballot, &responses);
        Ok(Some((spec, result)))
    }

    /// Closes `poll` now, then counts it and posts the results. `false` when another worker
    /// closed it first.
    pub async fn close(&self, poll: &PollRecord) -> Result<bool, PollError> {
        // Closed first, so that nothing is recorded after the count (an answer by mail or by
        // proxy waits for the closing, or sees it); the results follow, posted again by the
        // clock if a crash or the homeserver comes in between.
        let Some(closed_at) = self.store.poll_close(&poll.poll_id, poll.closed_at).await? else {
            return Ok(false);
        };
        let closed = PollRecord { closed_at: Some(closed_at), ..poll.clone() };
        // Closed now: posting the results is the clock's to retry, never the command's (a
        // `!sondage clore` tried again would close the poll before this one).
        if let Err(error) = self.publish_any(&closed).await {
            tracing::warn!(poll_id = %closed.poll_id, %error, "a closed poll's results could not be posted: tried again");
        }
        Ok(true)
    }

    /// Counts a closed poll, ordinary or secret, and posts its results.
    async fn publish_any(&self, closed: &PollRecord) -> Result<(), PollError> {
        match spec_of(closed).filter(|s| s.secret) {
            Some(spec) => self.publish_secret(closed, &spec).await.map(drop),
            None => self.publish(closed).await.map(drop),
        }
    }

    /// Counts a closed ordinary poll, posts the native end event with its results, and stores
    /// them. Returns the results text.
    async fn publish(&self, closed: &PollRecord) -> Result<Option<String>, PollError> {
        let Some((spec, result)) = self.count(closed).await? else { return Ok(None) };
        let result_json = serde_json::to_string(&result).unwrap_or_default();
        let text =
            events::results_text(&spec.question, &result) + &self.proxies_line(&closed.poll_id).await?;
        let room_id = RoomId::parse(&closed.room_id).map_err(|e| ClientError::Request(e.to_string()))?;
        // A transaction id of its own: if two workers publish at once, or a crash comes before
        // the record, the homeserver keeps one end event.
        let txn = format!("poll-end.{}", closed.poll_id.trim_start_matches('$'));
        let content = events::end_content(&closed.poll_id, &text);
        let end = self
            .client
            .send_raw_event(&room_id, events::END, &txn, &content, &self.config.bot_user_id())
            .await?;
        self.store.poll_set_result(&closed.poll_id, &result_json).await?;
        // The end event's id last: until it is kept, the clock posts again what is missing
        // (the homeserver keeps one of each, by transaction id).
        if spec.congress {
            self.post_minutes(closed, &spec, &result).await?;
        }
        self.store.poll_set_end_event(&closed.poll_id, &end).await?;
        Ok(Some(text))
    }

    /// `!sondage clore`: the newest open poll of the room, by its author or a moderator.
    pub async fn close_latest(&self, room_id: &RoomId, sender: &UserId) -> Result<String, PollError> {
        let Some(poll) = self.store.poll_latest_open(room_id).await? else {
            return Ok(crate::messages::no_open_poll());
        };
        if poll.author != sender.as_str() && !is_moderator(&self.client, room_id, sender).await? {
            return Ok(crate::messages::poll_close_refused());
        }
        Ok(match self.close(&poll).await? {
            true => crate::messages::poll_closed(),
            false => crate::messages::no_open_poll(),
        })
    }

    /// Closes polls past their deadline and reminds rooms before it (a fifth of the poll's
    /// duration, at most an hour, before closing).
    pub async fn tick(&self, now: i64) -> Result<(), PollError> {
        // One poll that cannot be closed (the homeserver refuses its end event) holds up none
        // of the others, nor the ballots and reminders below: it is tried again next tick.
        for poll in self.store.polls_due(now).await? {
            if let Err(error) = self.close(&poll).await {
                tracing::warn!(poll_id = %poll.poll_id, %error, "a poll could not be closed: tried again");
            }
        }
        for poll in self.store.polls_closed_unpublished().await? {
            if let Err(error) = self.publish_any(&poll).await {
                tracing::warn!(poll_id = %poll.poll_id, %error, "a closed poll's results could not be posted: tried again");
            }
        }
        self.notify_voters().await?;
        self.flush_ballots().await?;
        for poll in self.store.polls_unreminded().await? {
            let Some(deadline) = poll.deadline else { continue };
            let lead = ((deadline - poll.created_at) / 5).min(3_600_000);
            if now < deadline - lead {
                continue;
            }
            let Some(spec) = spec_of(&poll) else { continue };
            let room_id = RoomId::parse(&poll.room_id).map_err(|e| ClientError::Request(e.to_string()))?;
            let text = crate::messages::poll_reminder(&spec.question, &format_paris(deadline));
            let content = serde_json::json!({"msgtype": "m.notice", "body": text});
            let txn = format!("poll-reminder.{}", poll.poll_id.trim_start_matches('$'));
            self.client
                .send_raw_event(&room_id, "m.room.message", &txn, &content, &self.config.bot_user_id())
                .await?;
            self.store.poll_mark_reminded(&poll.poll_id).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::stored_answers;

    #[test]
    fn an_unreadable_answer_stops_the_count_instead_of_counting_blank() {
        assert_eq!(stored_answers("$p", r#"["r0","r2"]"#).expect("readable"), ["r0", "r2"]);
        assert_eq!(stored_answers("$p", "[]").expect("a blank vote is stored as such"), Vec::<String>::new());
        for broken in ["", "{", "\"r0\"", "[1]", "null"] {
            let error = stored_answers("$p", broken).expect_err(broken);
            assert!(error.to_string().contains("cannot be read"), "{error}");
        }
    }
}
