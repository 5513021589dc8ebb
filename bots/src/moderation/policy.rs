//! The party's policy list: every national ban (made from the national room) that stands,
//! published as an `m.policy.rule.user` rule in a public room (`#<prefix>bannissements.liste`,
//! created on the first one) that the party's other homeservers — or their moderation bots,
//! Draupnir, Mjolnir — may follow. A federation's ban stays the federation's: followers would
//! apply it everywhere. The moderator's free-text reason is never published (it may name
//! people); the rule says only where it comes from. A lifted ban withdraws its rule (empty
//! content). Each ban or unban is marked published once the list
//! reflects it, so the bots' clock finishes what a crash interrupted.

use ruma::{
    OwnedRoomAliasId, OwnedRoomId, UserId,
    events::{
        InitialStateEvent, TimelineEventType,
        policy::rule::{PolicyRuleEventContent, Recommendation, user::PolicyRuleUserEventContent},
        room::{
            guest_access::{GuestAccess, RoomGuestAccessEventContent},
            history_visibility::{HistoryVisibility, RoomHistoryVisibilityEventContent},
            join_rules::{JoinRule, RoomJoinRulesEventContent},
            power_levels::RoomPowerLevelsEventContent,
        },
    },
    int,
    room_version_rules::AuthorizationRules,
};
use serde_json::json;

use relais_appservice::{ClientError, client::rooms::NewRoom};
use relais_provisioning::moderation::EVERYWHERE;

use super::Moderation;
use crate::service::ServiceError;

/// The rule's state key for `user`, as moderation bots write theirs.
fn state_key(user: &UserId) -> String {
    format!("rule:{user}")
}

/// What the list says of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rule {
    /// Banned: the entity and the reason shown to followers.
    Ban { entity: String, reason: String },
    /// No ban stands: the rule is withdrawn.
    Lifted,
    /// The id holds a glob character (`*`, `?`: possible in historical ids of other servers),
    /// which followers would read as a pattern banning others: never published.
    Unsafe,
}

/// The reason every rule gives.
const REASON: &str = "Bannissement national (Relais)";

/// The rule for `user`, given the scopes they are banned from.
pub(crate) fn rule_for(user: &UserId, scopes: Option<&std::collections::BTreeSet<String>>) -> Rule {
    if user.as_str().contains(['*', '?']) {
        return Rule::Unsafe;
    }
    if scopes.is_some_and(|scopes| scopes.contains(EVERYWHERE)) {
        Rule::Ban { entity: user.to_string(), reason: REASON.to_owned() }
    } else {
        Rule::Lifted
    }
}

impl Moderation {
    /// Publishes what the list does not reflect yet; returns how many actions it reflects now.
    pub async fn publish_pending(&self) -> Result<usize, ServiceError> {
        let pending = self.store.unpublished().await?;
        if pending.is_empty() {
            return Ok(0);
        }
        let bans = self.store.bans().await?;
        // Federations' own bans and unbans have nothing to publish: the list is not even made for them.
        let national = self.store.national_targets().await?;
        let mut room = None;
        for (action_id, target) in &pending {
            if !national.contains(target) {
                self.store.mark_published(*action_id).await?;
                continue;
            }
            let room = match &room {
                Some(room) => room,
                None => room.insert(self.policy_room().await?),
            };
            match rule_for(target, bans.get(target)) {
                Rule::Ban { entity, reason } => {
                    let rule = PolicyRuleEventContent::new(entity, Recommendation::Ban, reason);
                    let content = PolicyRuleUserEventContent(rule);
                    self.client.send_state(room, state_key(target).as_str(), &content).await?;
                }
                Rule::Lifted => {
                    let key = state_key(target);
                    self.client.send_state_raw(room, "m.policy.rule.user", &key, &json!({})).await?;
                }
                Rule::Unsafe => {
                    tracing::warn!(action_id, "a ban of an id with glob characters is not published");
                }
            }
            self.store.mark_published(*action_id).await?;
        }
        Ok(pending.len())
    }

    /// The policy list's room, created on first use (found again by its alias).
    async fn policy_room(&self) -> Result<OwnedRoomId, ServiceError> {
        // `.liste`: no federation's rooms end so (their keys end in `.discussion`, `.annonces`…),
        // so no federation named "Bannissements" can hold this alias first.
        let localpart = format!("{}bannissements.liste", self.config.appservice.alias_prefix);
        let alias =
            OwnedRoomAliasId::try_from(format!("#{localpart}:{}", self.config.homeserver.server_name))
                .map_err(|e| ClientError::Request(e.to_string()))?;
        if let Some(room) = self.client.resolve_alias(&alias).await? {
            return Ok(room);
        }
        let room = NewRoom {
            alias_localpart: localpart,
            name: "Liste de bannissement du parti".to_owned(),
            space: false,
            listed: false,
            power_levels: self.policy_levels(),
            initial_state: vec![
                InitialStateEvent::with_empty_state_key(RoomJoinRulesEventContent::new(JoinRule::Public))
                    .to_raw_any(),
                InitialStateEvent::with_empty_state_key(RoomHistoryVisibilityEventContent::new(
                    HistoryVisibility::Shared,
                ))
                .to_raw_any(),
                InitialStateEvent::with_empty_state_key(RoomGuestAccessEventContent::new(
                    GuestAccess::Forbidden,
                ))
                .to_raw_any(),
            ],
        };
        Ok(self.client.create_or_find_room(&room).await?)
    }

    /// Only the bot writes in the list; anyone may join it to follow.
    fn policy_levels(&self) -> RoomPowerLevelsEventContent {
        let mut levels = RoomPowerLevelsEventContent::new(&AuthorizationRules::V10);
        levels.users.insert(self.config.bot_user_id(), int!(100));
        levels.users_default = int!(0);
        levels.events_default = int!(100);
        levels.state_default = int!(100);
        (levels.invite, levels.kick, levels.ban, levels.redact) =
            (int!(100), int!(100), int!(100), int!(100));
        for kind in [TimelineEventType::RoomPowerLevels, TimelineEventType::RoomJoinRules] {
            levels.events.insert(kind, int!(100));
        }
        levels
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruma::user_id;

    #[test]
    fn only_national_bans_are_published_without_their_reason_and_never_a_pattern() {
        let x = user_id!("@x:pcf.test");
        let scopes =
            |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<std::collections::BTreeSet<_>>();
        assert_eq!(
            rule_for(x, Some(&scopes(&["nord", EVERYWHERE]))),
            Rule::Ban { entity: "@x:pcf.test".into(), reason: REASON.into() }
        );
        assert_eq!(rule_for(x, Some(&scopes(&["nord"]))), Rule::Lifted, "a federation's ban stays its own");
        assert_eq!(rule_for(x, None), Rule::Lifted);
        let glob = UserId::parse("@a*:evil.example").expect("a historical id");
        assert_eq!(rule_for(&glob, Some(&scopes(&[EVERYWHERE]))), Rule::Unsafe);
        assert_eq!(state_key(x), "rule:@x:pcf.test");
    }
}
