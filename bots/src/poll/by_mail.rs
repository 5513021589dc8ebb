//! Ordinary polls answered from a mail: an email-only member is on the poll's frozen voter list
//! as `member:ID` (when the mail bridge runs), the mail carries one signed link per answer
//! (`relais_bridge::outbound::poll_links`), and the page it opens asks to confirm. Confirming
//! records a response exactly as a Matrix response is recorded — the latest counts, changeable
//! until the close —; opening the page records nothing. Refused once the poll is closed, and
//! for anyone not on its voter list.

use relais_core::time::now_ms;

use super::{
    events::answer_ids,
    secret_ballot::voter_of_member,
    service::{PollError, Polls, spec_of},
    spec::PollSpec,
};
use crate::store::polls::PollRecord;

/// An open poll as a member's link shows it.
#[derive(Debug, Clone)]
pub struct OpenVote {
    pub poll: PollRecord,
    pub spec: PollSpec,
    /// The answers (1-based) the member chose last, if any.
    pub current: Vec<usize>,
}

/// What the page shows for a member's link.
#[derive(Debug, Clone)]
pub enum MailVote {
    Open(Box<OpenVote>),
    /// Closed (or past its deadline): its question.
    Closed {
        question: String,
    },
    /// No such poll for this member: not on its voter list, a secret ballot (its own page), or
    /// a poll Relais did not open.
    Unknown,
}

/// What confirming did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailVoteOutcome {
    Recorded,
    /// Not a valid choice (none, too many, not an answer of the poll): nothing recorded.
    Invalid,
    Closed,
    Unknown,
}

impl Polls {
    /// What the link of `member_id` for poll `poll_id` opens.
    pub async fn mail_vote(&self, poll_id: &str, member_id: &str) -> Result<MailVote, PollError> {
        let Some(poll) = self.store.poll(poll_id).await? else { return Ok(MailVote::Unknown) };
        let Some(spec) = spec_of(&poll).filter(|s| !s.secret) else { return Ok(MailVote::Unknown) };
        let voter = voter_of_member(member_id);
        // A member who lapsed or was erased since the mail left votes no more, as a Matrix
        // member who left the room cannot.
        let active = self.directory.member(member_id).await?.is_some_and(|m| m.active);
        if !active || !self.store.poll_is_voter(poll_id, &voter).await? {
            return Ok(MailVote::Unknown);
        }
        if poll.closed_at.is_some() || poll.deadline.is_some_and(|d| d <= now_ms()) {
            return Ok(MailVote::Closed { question: spec.question });
        }
        let ids = answer_ids(&spec);
        let last = self.store.poll_responses(poll_id).await?.into_iter().rfind(|(v, _, _)| *v == voter);
        let current = match last {
            Some((_, answers, _)) => {
                let answers: Vec<String> = serde_json::from_str(&answers).unwrap_or_default();
                answers.iter().filter_map(|a| ids.iter().position(|(id, _)| id == a).map(|i| i + 1)).collect()
            }
            None => Vec::new(),
        };
        Ok(MailVote::Open(Box::new(OpenVote { poll, spec, current })))
    }

    /// Records the answers numbered `choices` (1-based) of `member_id` in poll `poll_id`.
    pub async fn cast_by_mail(
        &self,
        poll_id: &str,
        member_id: &str,
        choices: &[usize],
    ) -> Result<MailVoteOutcome, PollError> {
        let OpenVote { poll, spec, .. } = match self.mail_vote(poll_id, member_id).await? {
            MailVote::Open(open) => *open,
            MailVote::Closed { .. } => return Ok(MailVoteOutcome::Closed),
            MailVote::Unknown => return Ok(MailVoteOutcome::Unknown),
        };
        let Some(answers) = picked_answers(&spec, choices) else { return Ok(MailVoteOutcome::Invalid) };
        // A response of its own, as a Matrix response is one event: the latest counts.
        let response_id = format!("mail.{}", relais_provisioning::onboarding::new_token());
        let voter = voter_of_member(member_id);
        // Closed between the page's check and now: said so, nothing recorded (recorded answers
        // all count: see `BotStore::poll_close`).
        if !self.store.poll_add_mail_response(&poll.poll_id, &response_id, &voter, &answers).await? {
            return Ok(MailVoteOutcome::Closed);
        }
        Ok(MailVoteOutcome::Recorded)
    }
}

/// The answers numbered `choices` (1-based) of `spec`, as the stored JSON of answer ids; `None`
/// for none, too many, a repeated or an unknown one.
pub(super) fn picked_answers(spec: &PollSpec, choices: &[usize]) -> Option<String> {
    let ids = answer_ids(spec);
    let mut picked: Vec<String> = Vec::new();
    for n in choices {
        match ids.get(n.wrapping_sub(1)) {
            Some((id, _)) if !picked.contains(id) => picked.push(id.clone()),
            _ => return None,
        }
    }
    if picked.is_empty() || picked.len() > spec.max_selections as usize {
        return None;
    }
    serde_json::to_string(&picked).ok()
}
