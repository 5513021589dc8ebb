//! The party's policy list: every ban that stands, published as an `m.policy.rule.user` rule in
//! a public room (`#<prefix>bannissements:<server>`, created on the first ban) that the party's
//! other homeservers — or their moderation bots, Draupnir, Mjolnir — may follow. A lifted ban
//! withdraws its rule (empty content). Each ban or unban is marked published once the list
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

/// The rule for `user` given the newest ban that stands, if any: (scope, reason).
pub(crate) fn rule_for(user: &UserId, standing: Option<(String, String)>) -> Rule {
    if user.as_str().contains(['*', '?']) {
        return Rule::Unsafe;
    }
    match standing {
        None => Rule::Lifted,
        Some((scope, reason)) => {
            let from =
                if scope == EVERYWHERE { "national".to_owned() } else { format!("fédération {scope}") };
            Rule::Ban { entity: user.to_string(), reason: format!("{from} : {reason}") }
        }
    }
}

impl Moderation {
    /// Publishes what the list does not reflect yet; returns how many actions it reflects now.
    pub async fn publish_pending(&self) -> Result<usize, ServiceError> {
        let pending = self.store.unpublished().await?;
        if pending.is_empty() {
            return Ok(0);
        }
        let room = self.policy_room().await?;
        for (action_id, target) in &pending {
            match rule_for(target, self.store.standing_ban_of(target).await?) {
                Rule::Ban { entity, reason } => {
                    let rule = PolicyRuleEventContent::new(entity, Recommendation::Ban, reason);
                    let content = PolicyRuleUserEventContent(rule);
                    self.client.send_state(&room, state_key(target).as_str(), &content).await?;
                }
                Rule::Lifted => {
                    let key = state_key(target);
                    self.client.send_state_raw(&room, "m.policy.rule.user", &key, &json!({})).await?;
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
        let localpart = format!("{}bannissements", self.config.appservice.alias_prefix);
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
    fn rules_say_where_the_ban_was_made_and_never_publish_a_pattern() {
        let x = user_id!("@x:pcf.test");
        assert_eq!(
            rule_for(x, Some(("nord".into(), "propos injurieux".into()))),
            Rule::Ban { entity: "@x:pcf.test".into(), reason: "fédération nord : propos injurieux".into() }
        );
        assert_eq!(
            rule_for(x, Some((EVERYWHERE.into(), "spam".into()))),
            Rule::Ban { entity: "@x:pcf.test".into(), reason: "national : spam".into() }
        );
        assert_eq!(rule_for(x, None), Rule::Lifted);
        let glob = UserId::parse("@a*:evil.example").expect("a historical id");
        assert_eq!(rule_for(&glob, Some(("nord".into(), "spam".into()))), Rule::Unsafe);
        assert_eq!(state_key(x), "rule:@x:pcf.test");
    }
}
