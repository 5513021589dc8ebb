//! A member without an account asked their referent to answer a poll for them: an ordinary
//! proxy (apart from congress mandates), recorded from the referents' page by a referent of the
//! poll's federation. The answer counts like the member's own (the latest counts until the
//! close); who carried it is kept (`poll_proxy`) and named in the results.

use ruma::UserId;

use relais_core::time::now_ms;

use super::{
    by_mail::picked_answers,
    secret_ballot::voter_of_member,
    service::{PollError, Polls, spec_of},
};

/// Proxies named one by one in the results (the end event stays well under the homeserver's
/// size limit); the others are counted.
const NAMED_PROXIES: usize = 30;

/// What recording a proxy's answer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyOutcome {
    Recorded,
    /// Not a valid choice: nothing recorded.
    Invalid,
    Closed,
    /// The member answered from the mail themselves.
    AnsweredThemselves,
    /// Not an open ordinary poll of that member's, or the member is not active.
    Unknown,
}

/// A member whose answer a referent may carry in a poll: their id, name, and whether an answer
/// of theirs is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyVoter {
    pub member_id: String,
    pub name: String,
    pub answered: bool,
}

impl Polls {
    /// The members without an account on the voter list of the open poll `poll_id`.
    pub async fn proxy_voters(&self, poll_id: &str) -> Result<Vec<ProxyVoter>, PollError> {
        let answered: std::collections::HashSet<String> =
            self.store.poll_responses(poll_id).await?.into_iter().map(|(voter, _, _)| voter).collect();
        let mut voters = Vec::new();
        for voter in self.store.poll_voters(poll_id).await? {
            let Some(member_id) = voter.strip_prefix("member:") else { continue };
            let Some(member) = self.directory.member(member_id).await?.filter(|m| m.active) else { continue };
            voters.push(ProxyVoter {
                member_id: member_id.to_owned(),
                name: member.full_name(),
                answered: answered.contains(&voter),
            });
        }
        voters.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(voters)
    }

    /// Records the answers numbered `choices` (1-based) of `member_id` in poll `poll_id`,
    /// carried by `holder` — whose right to (a referent of the poll's federation) the caller
    /// checked.
    pub async fn cast_by_proxy(
        &self,
        poll_id: &str,
        member_id: &str,
        holder: &UserId,
        choices: &[usize],
    ) -> Result<ProxyOutcome, PollError> {
        let Some(poll) = self.store.poll(poll_id).await? else { return Ok(ProxyOutcome::Unknown) };
        let Some(spec) = spec_of(&poll).filter(|s| !s.secret && !s.congress) else {
            return Ok(ProxyOutcome::Unknown);
        };
        let voter = voter_of_member(member_id);
        let active = self.directory.member(member_id).await?.is_some_and(|m| m.active);
        if !active || !self.store.poll_is_voter(poll_id, &voter).await? {
            return Ok(ProxyOutcome::Unknown);
        }
        if poll.closed_at.is_some() || poll.deadline.is_some_and(|d| d <= now_ms()) {
            return Ok(ProxyOutcome::Closed);
        }
        let Some(answers) = picked_answers(&spec, choices) else { return Ok(ProxyOutcome::Invalid) };
        // A member who answered from the mail answered themselves: a proxy does not replace it.
        if self
            .store
            .poll_latest_response_id(poll_id, &voter)
            .await?
            .is_some_and(|id| id.starts_with("mail."))
        {
            return Ok(ProxyOutcome::AnsweredThemselves);
        }
        if !self.store.poll_add_proxy_response(poll_id, &voter, holder.as_str(), &answers).await? {
            return Ok(ProxyOutcome::Closed);
        }
        Ok(ProxyOutcome::Recorded)
    }

    /// The results' line naming the proxies of poll `poll_id` that were counted (the member's
    /// latest answer is the one carried), at most [`NAMED_PROXIES`] by name; empty without any.
    pub(super) async fn proxies_line(&self, poll_id: &str) -> Result<String, PollError> {
        let counted = self.store.poll_counted_proxies(poll_id).await?;
        let more = counted.len().saturating_sub(NAMED_PROXIES);
        let mut named = Vec::new();
        for (voter, holder) in counted.into_iter().take(NAMED_PROXIES) {
            let member_id = voter.strip_prefix("member:").unwrap_or(&voter);
            let name = match self.directory.member(member_id).await? {
                Some(member) => member.full_name(),
                None => "un adhérent".to_owned(),
            };
            named.push(format!("{name} (porté par {holder})"));
        }
        if more > 0 {
            named.push(format!("et {more} autre(s)"));
        }
        Ok(if named.is_empty() {
            String::new()
        } else {
            format!("\nPar procuration : {}.", named.join(", "))
        })
    }
}
