//! `!bannir`, `!débannir`, `!expulser`, `!expurger`: a federation's moderators act on one user
//! (or, purging, on their latest messages) in every room
//! of the federation's space at once; the national room's moderators act on every room Relais
//! provisions. The action is recorded first with its reason (provisioning's moderation record,
//! which imports read: a banned member is never invited back), then carried out room by room;
//! what a crash interrupts, the bots' clock finishes. Bans are published as the party's policy
//! list (`policy`).
//!
//! Who may: a moderator (power level [`MODERATOR`] or more) of the federation's space, or of
//! the national room; never on the bot, on themselves, or on someone whose level in that space
//! is equal or higher (as the homeserver would refuse in each room, had they acted by hand).

mod flood;
mod policy;
mod report;

use std::sync::Arc;

use ruma::{
    EventId, OwnedRoomId, OwnedTransactionId, RoomId, UserId, events::room::power_levels::UserPowerLevel,
};

use relais_appservice::{ClientError, MatrixClient};
use relais_core::{Config, Store};
use relais_provisioning::{
    desired::{NATIONAL, RoomKind},
    directory::Directory,
    moderation::{EVERYWHERE, ModerationKind, room_scope},
    store::moderation::{ModerationStore, NewModeration, PendingRoom},
};

use crate::{
    messages::moderation as text,
    service::{MODERATOR, ServiceError, configured_room},
};

/// The longest reason kept (the rest is cut): it is shown in every room's timeline.
const MAX_REASON_CHARS: usize = 300;

/// Messages a purge redacts in each room when no number is given, and at most.
const PURGE_DEFAULT: u32 = 20;
const PURGE_MAX: u32 = 100;

#[derive(Debug, Clone)]
pub struct Moderation {
    store: ModerationStore,
    /// The bots' own tables (flood windows and mutes).
    bots_store: crate::store::BotStore,
    directory: Directory,
    client: MatrixClient,
    config: Arc<Config>,
}

/// Where an action applies and who decides there.
struct Scope {
    /// A federation's key, or [`EVERYWHERE`].
    key: String,
    /// As the answer names it.
    label: String,
    /// The room whose power levels say who moderates the scope.
    authority: OwnedRoomId,
    rooms: Vec<OwnedRoomId>,
}

impl Moderation {
    pub fn new(store: &Store, client: MatrixClient, config: Arc<Config>) -> Self {
        Self {
            store: ModerationStore::new(store.clone()),
            bots_store: crate::store::BotStore::new(store.clone()),
            directory: Directory::new(store.clone()),
            client,
            config,
        }
    }

    /// Handles one of the commands typed in `room_id`; returns the answer for the room.
    pub async fn command(
        &self,
        kind: ModerationKind,
        room_id: &RoomId,
        sender: &UserId,
        command_event: &EventId,
        words: &[String],
    ) -> Result<String, ServiceError> {
        let Some(target) = words.first().and_then(|w| UserId::parse(w.as_str()).ok()) else {
            return Ok(text::usage(kind));
        };
        let Some(scope) = self.scope(room_id).await? else { return Ok(text::not_here()) };
        if self.config.is_own_user(&target) {
            return Ok(text::not_the_bot());
        }
        if target == sender {
            return Ok(text::not_yourself());
        }
        let levels = match self.client.power_levels(&scope.authority).await {
            Ok(levels) => levels,
            // Unreadable power levels give nobody a moderator's rights.
            Err(ClientError::Response(_)) => return Ok(text::refused()),
            Err(e) => return Err(e.into()),
        };
        let (mine, theirs) = (levels.for_user(sender), levels.for_user(&target));
        if mine < UserPowerLevel::Int(MODERATOR.into()) {
            return Ok(text::refused());
        }
        if theirs >= mine {
            return Ok(text::not_above(target.as_str()));
        }
        if kind == ModerationKind::Unban
            && scope.key != EVERYWHERE
            && self.store.bans().await?.get(&target).is_some_and(|scopes| scopes.contains(EVERYWHERE))
        {
            return Ok(text::banned_nationally(target.as_str()));
        }
        let (amount, rest) = match (kind, words.get(1).map(|w| w.parse::<u32>())) {
            (ModerationKind::Purge, Some(Ok(n))) if (1..=PURGE_MAX).contains(&n) => (n, &words[2..]),
            (ModerationKind::Purge, Some(Ok(_))) => return Ok(text::usage(kind)),
            (ModerationKind::Purge, _) => (PURGE_DEFAULT, &words[1..]),
            _ => (0, &words[1..]),
        };
        let action = NewModeration {
            command_event: command_event.to_string(),
            kind,
            target: target.clone(),
            scope: scope.key,
            reason: reason_of(rest),
            amount: i64::from(amount),
            moderator: sender.to_owned(),
        };
        let id = self.store.record(&action, &scope.rooms).await?;
        tracing::info!(
            action_id = id,
            kind = kind.as_str(),
            rooms = scope.rooms.len(),
            "moderation recorded"
        );
        self.carry_out(Some(id)).await?;
        if matches!(kind, ModerationKind::Ban | ModerationKind::Unban) {
            self.publish_pending().await?;
        }
        let (total, done) = self.store.progress(id).await?;
        Ok(text::carried_out(kind, target.as_str(), done, total, &scope.label))
    }

    /// The scope of a command typed in `room_id`: the national room's is everywhere, a
    /// federation room's is its federation, a moderation room's is the scope it serves;
    /// elsewhere, none.
    async fn scope(&self, room_id: &RoomId) -> Result<Option<Scope>, ServiceError> {
        let national = configured_room(&self.client, self.config.bots.national_room.as_deref()).await?;
        if national.as_deref() == Some(room_id) {
            return Ok(Some(self.everywhere(room_id).await?));
        }
        let in_room = match self.store.scope_of_desk(room_id).await? {
            Some(key) if key == EVERYWHERE => {
                return Ok(match national {
                    Some(national) => Some(self.everywhere(&national).await?),
                    None => None,
                });
            }
            Some(key) => {
                let spaces = self.directory.rooms_of_kinds(&[RoomKind::FederationSpace]).await?;
                match spaces.into_iter().find(|space| space.key == key) {
                    Some(space) => space.room_id,
                    None => return Ok(None),
                }
            }
            None => room_id.to_owned(),
        };
        let Some((space, rooms)) = self.directory.federation_rooms(&in_room).await? else {
            // A national room Relais provisioned (the national public space, the referents'
            // network): the national moderators' scope, everything.
            let national_key =
                self.directory.room_key(&in_room).await?.is_some_and(|k| room_scope(&k) == NATIONAL);
            return Ok(match national {
                Some(national) if national_key => Some(self.everywhere(&national).await?),
                _ => None,
            });
        };
        let name = space.name.strip_prefix("Fédération ").unwrap_or(&space.name);
        Ok(Some(Scope {
            key: room_scope(&space.key).to_owned(),
            label: format!("fédération {name}"),
            authority: space.room_id,
            rooms: rooms.into_iter().map(|r| r.room_id).collect(),
        }))
    }

    /// Every provisioned room, decided from the national room `national`.
    async fn everywhere(&self, national: &RoomId) -> Result<Scope, ServiceError> {
        let rooms = self.directory.rooms_of_kinds(&RoomKind::ALL).await?;
        Ok(Scope {
            key: EVERYWHERE.to_owned(),
            label: "tous les salons".to_owned(),
            authority: national.to_owned(),
            rooms: rooms.into_iter().map(|r| r.room_id).collect(),
        })
    }

    /// Carries out what is still to do (`action`: only that one); returns how many rooms were
    /// done. A room where the homeserver refuses (the user is not there, was not banned, the
    /// bot lost its rights) is recorded with the refusal and not tried again; a homeserver that
    /// cannot be reached stops the round, to be tried again at the next tick.
    pub async fn carry_out(&self, action: Option<i64>) -> Result<usize, ServiceError> {
        let pending = self.store.pending(action).await?;
        for room in &pending {
            let (room_id, target, reason) = (&room.room_id, &room.target, room.reason.as_str());
            let ordered = matches!(room.kind, ModerationKind::Ban | ModerationKind::Unban);
            if ordered && self.store.superseded(room.action_id, target, room_id).await? {
                self.store.room_done(room.action_id, room_id, "superseded").await?;
                continue;
            }
            let result = match room.kind {
                ModerationKind::Ban => self.client.ban(room_id, target, reason).await,
                ModerationKind::Unban => self.client.unban(room_id, target, reason).await,
                ModerationKind::Kick => self.client.kick(room_id, target, reason).await,
                ModerationKind::Purge => self.purge_room(room).await,
            };
            let outcome = match result {
                Ok(()) => "done".to_owned(),
                Err(ClientError::Matrix { status: 400 | 403 | 404, errcode, .. }) => {
                    errcode.map_or_else(|| "refused".to_owned(), |c| c.as_str().to_owned())
                }
                Err(e) => return Err(e.into()),
            };
            self.store.room_done(room.action_id, room_id, &outcome).await?;
        }
        Ok(pending.len())
    }
}

impl Moderation {
    /// Redacts the target's latest messages in one room (a message already gone, or one the
    /// homeserver refuses to redact, is skipped); transaction ids derive from the action and
    /// the message, so a retry never redacts twice.
    async fn purge_room(&self, room: &PendingRoom) -> Result<(), ClientError> {
        let amount = u32::try_from(room.amount.clamp(1, i64::from(PURGE_MAX))).unwrap_or(PURGE_DEFAULT);
        let messages = self.client.latest_messages_of(&room.room_id, &room.target, amount).await?;
        for event in &messages {
            let txn = OwnedTransactionId::from(format!(
                "purge.{}.{}",
                room.action_id,
                event.as_str().trim_start_matches('$')
            ));
            match self.client.redact(&room.room_id, event, &txn, Some(&room.reason)).await {
                Ok(_) | Err(ClientError::Matrix { status: 403 | 404, .. }) => {}
                Err(e) => return Err(e),
            }
        }
        tracing::info!(action_id = room.action_id, redacted = messages.len(), "purge carried out in a room");
        Ok(())
    }
}

/// The reason as typed, bounded; the default when none was given.
fn reason_of(words: &[String]) -> String {
    let typed = words.join(" ");
    let typed = typed.trim();
    if typed.is_empty() {
        return text::DEFAULT_REASON.to_owned();
    }
    typed.chars().take(MAX_REASON_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_kept_bounded_or_defaulted() {
        assert_eq!(reason_of(&[]), text::DEFAULT_REASON);
        assert_eq!(reason_of(&["  ".into()]), text::DEFAULT_REASON);
        assert_eq!(reason_of(&["insultes".into(), "répétées".into()]), "insultes répétées");
        assert_eq!(reason_of(&["é".repeat(1000)]).chars().count(), MAX_REASON_CHARS);
    }
}
