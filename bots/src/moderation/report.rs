//! `!signaler`, as a reply to a message: the message, its room, its author and the reporter go to
//! the moderation room of the federation (or the national one, from the national room), made by
//! the bot on the first report with the moderators of the federation's space in it (and
//! without those who stopped moderating it, at each report), who may act
//! there with `!bannir`, `!expulser`, `!expurger`. The reporter's command is redacted, so what
//! was reported does not stay in the room for all to see; the text of a message of an encrypted
//! room is never copied into the (unencrypted) moderation room.

use ruma::{
    EventId, OwnedRoomId, OwnedTransactionId, RoomId, UserId,
    events::{
        InitialStateEvent,
        room::{
            encryption::RoomEncryptionEventContent,
            guest_access::{GuestAccess, RoomGuestAccessEventContent},
            member::MembershipState,
            message::RoomMessageEventContent,
            power_levels::RoomPowerLevelsEventContent,
        },
    },
    int,
    room_version_rules::AuthorizationRules,
};
use serde_json::Value;

use relais_appservice::{ClientError, client::rooms::NewRoom};
use relais_provisioning::{moderation::EVERYWHERE, store::moderation::NewReport};

use super::{Moderation, Scope};
use crate::{
    messages::moderation as text,
    service::{MODERATOR, ServiceError},
};

/// The longest excerpt of a reported message copied into the moderation room.
const MAX_EXCERPT_CHARS: usize = 500;

/// What a report shows of a message's content: its text, bounded; a media, encrypted or empty
/// message is named as such.
pub(crate) fn excerpt(content: &Value) -> String {
    match content.get("body").and_then(Value::as_str).map(str::trim) {
        Some(body) if !body.is_empty() => {
            // On one line: a crafted message cannot fake lines of the report.
            let mut out: String =
                body.chars().take(MAX_EXCERPT_CHARS).map(|c| if c.is_control() { ' ' } else { c }).collect();
            if body.chars().count() > MAX_EXCERPT_CHARS {
                out.push('…');
            }
            out
        }
        _ => text::NO_TEXT.to_owned(),
    }
}

impl Moderation {
    /// Handles `!signaler` typed by `reporter` in `room_id` as a reply to `reply_to`. Once the
    /// report is sent the room is told without a reply to the command; `Err` is the answer to
    /// the reporter when nothing was sent.
    pub async fn report(
        &self,
        room_id: &RoomId,
        reporter: &UserId,
        command_event: &EventId,
        reply_to: Option<&str>,
    ) -> Result<Result<(), String>, ServiceError> {
        let Some(reported_event) = reply_to.and_then(|id| EventId::parse(id).ok()) else {
            return Ok(Err(text::report_not_a_reply()));
        };
        let Some(scope) = self.scope(room_id).await? else { return Ok(Err(text::not_here())) };
        let reported = match self.client.room_event(room_id, reported_event.as_str()).await {
            Ok(event) => event,
            Err(ClientError::Matrix { status: 403 | 404, .. }) => return Ok(Err(text::report_not_found())),
            Err(e) => return Err(e.into()),
        };
        let Some(author) = reported.get("sender").and_then(Value::as_str).and_then(|s| UserId::parse(s).ok())
        else {
            return Ok(Err(text::report_not_found()));
        };
        // Hidden first: what was reported, and by whom, leaves the room before anything else.
        let hide = OwnedTransactionId::from(format!(
            "report-hide.{}",
            command_event.as_str().trim_start_matches('$')
        ));
        match self.client.redact(room_id, command_event, &hide, Some(text::REPORT_HIDDEN)).await {
            Ok(_) | Err(ClientError::Matrix { status: 403 | 404, .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let report = NewReport {
            command_event: command_event.to_string(),
            scope: scope.key.clone(),
            room_id: room_id.to_owned(),
            reported_event: reported_event.to_string(),
        };
        self.store.report_record(&report).await?;
        let desk = self.desk(&scope).await?;
        let room_name = self.directory.room_name(room_id).await?.unwrap_or_else(|| room_id.to_string());
        let link = format!("https://matrix.to/#/{room_id}/{reported_event}");
        // The moderation room is not encrypted: what was said in an encrypted room stays there.
        let encrypted = self.client.state_content::<RoomEncryptionEventContent>(room_id, "").await?.is_some();
        let shown = if encrypted { text::ENCRYPTED_ROOM.to_owned() } else { excerpt(&reported["content"]) };
        let body = text::report(reporter.as_str(), author.as_str(), &room_name, &shown, &link);
        let txn =
            OwnedTransactionId::from(format!("report.{}", command_event.as_str().trim_start_matches('$')));
        let posted =
            self.client.send_message(&desk, &txn, &RoomMessageEventContent::notice_plain(body), None).await?;
        self.store.report_posted(command_event.as_str(), posted.as_str()).await?;
        // Said in the room without replying to the command, so no client shows who reported.
        let thanks = OwnedTransactionId::from(format!(
            "report-sent.{}",
            command_event.as_str().trim_start_matches('$')
        ));
        self.client
            .send_message(room_id, &thanks, &RoomMessageEventContent::notice_plain(text::report_sent()), None)
            .await?;
        Ok(Ok(()))
    }

    /// The moderation room of `scope`, made on first use; the scope's moderators are invited
    /// each time (a new referent finds the room at the next report).
    pub(super) async fn desk(&self, scope: &Scope) -> Result<OwnedRoomId, ServiceError> {
        let levels = self.client.power_levels(&scope.authority).await?;
        let bot = self.config.bot_user_id();
        let moderators: Vec<_> = levels
            .users
            .iter()
            .filter(|(user, level)| **user != bot && **level >= ruma::Int::from(MODERATOR))
            .collect();
        let room = match self.store.desk(&scope.key).await? {
            Some(room) => room,
            None => {
                let created =
                    self.create_desk(scope, moderators.iter().map(|(user, _)| (*user).clone())).await?;
                self.store.set_desk(&scope.key, &created).await?
            }
        };
        for (user, _) in &moderators {
            match self.client.invite(&room, user).await {
                // Already in the room (or invited): nothing to do.
                Ok(()) | Err(ClientError::Matrix { status: 403, .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // Who no longer moderates the scope no longer reads its reports.
        let members = match self.client.room_members(&room).await {
            Ok(members) => members,
            // The bot no longer reads the room: nobody to remove from it here.
            Err(ClientError::Matrix { status: 403 | 404, .. }) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        for member in members {
            let present = matches!(member.membership, MembershipState::Join | MembershipState::Invite);
            let Ok(user) = UserId::parse(member.user_id.as_str()) else { continue };
            if present && user != bot && !moderators.iter().any(|(m, _)| **m == user) {
                match self.client.kick(&room, &user, text::NO_LONGER_MODERATOR).await {
                    Ok(()) | Err(ClientError::Matrix { status: 403 | 404, .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(room)
    }

    async fn create_desk(
        &self,
        scope: &Scope,
        moderators: impl Iterator<Item = ruma::OwnedUserId>,
    ) -> Result<OwnedRoomId, ServiceError> {
        // Federation keys hold no `.`: `moderation.national` is no federation's room.
        let key = if scope.key == EVERYWHERE {
            "moderation.national".to_owned()
        } else {
            format!("{}.moderation", scope.key)
        };
        let localpart = format!("{}{key}", self.config.appservice.alias_prefix);
        let mut levels = RoomPowerLevelsEventContent::new(&AuthorizationRules::V10);
        levels.users.insert(self.config.bot_user_id(), int!(100));
        for user in moderators {
            levels.users.insert(user, MODERATOR.into());
        }
        (levels.state_default, levels.invite, levels.kick, levels.ban, levels.redact) =
            (int!(100), MODERATOR.into(), MODERATOR.into(), MODERATOR.into(), MODERATOR.into());
        let room = NewRoom {
            alias_localpart: localpart.clone(),
            name: format!("Modération — {}", scope.label),
            space: false,
            listed: false,
            power_levels: levels,
            // Invite-only; no guest, whatever the server's preset says.
            initial_state: vec![
                InitialStateEvent::with_empty_state_key(RoomGuestAccessEventContent::new(
                    GuestAccess::Forbidden,
                ))
                .to_raw_any(),
            ],
        };
        Ok(self.client.create_or_find_room(&room).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn excerpts_are_bounded_and_say_when_there_is_no_text() {
        assert_eq!(excerpt(&json!({"msgtype": "m.text", "body": "  insulte  "})), "insulte");
        assert_eq!(excerpt(&json!({"body": "a\nSignalement de @admin"})), "a Signalement de @admin");
        let long = excerpt(&json!({"body": "a".repeat(2000)}));
        assert_eq!(long.chars().count(), MAX_EXCERPT_CHARS + 1);
        assert!(long.ends_with('…'));
        assert_eq!(excerpt(&json!({})), text::NO_TEXT);
        assert_eq!(excerpt(&json!({"body": 12})), text::NO_TEXT);
    }
}
