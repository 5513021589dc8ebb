//! What the bot's services share: one error type, configured rooms, power levels, and the keyed
//! hash that lets statistics count members without storing who they are.

use hmac::{Hmac, Mac};
use ruma::{Int, OwnedRoomAliasId, OwnedRoomId, RoomId, UserId, events::room::power_levels::UserPowerLevel};
use sha2::Sha256;

use relais_appservice::{ClientError, MatrixClient};
use relais_core::{Config, store::StoreError};

/// The power level from which a member moderates a room (and may use its team's commands).
pub const MODERATOR: u32 = 50;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Homeserver(#[from] ClientError),
    /// A direct room for this member could not be made minutes ago: not tried again yet.
    #[error("a direct room for this member could not be made minutes ago")]
    DirectRoomTooSoon,
}

/// How long after a direct room could not be made for a member the bot tries again.
const DIRECT_ROOM_GAP_MS: i64 = 10 * 60 * 1000;

/// The room a `[bots]` key names (room id, or alias resolved on the homeserver).
pub async fn configured_room(
    client: &MatrixClient,
    configured: Option<&str>,
) -> Result<Option<OwnedRoomId>, ClientError> {
    let Some(configured) = configured else { return Ok(None) };
    if let Ok(id) = OwnedRoomId::try_from(configured) {
        return Ok(Some(id));
    }
    match OwnedRoomAliasId::try_from(configured) {
        Ok(alias) => client.resolve_alias(&alias).await,
        Err(_) => Ok(None),
    }
}

/// Whether `user` moderates `room_id`: a power level of [`MODERATOR`] or more, as the room's
/// version reads its power levels (from version 12, its creators are above every level).
/// A room whose power levels cannot be read gives nobody a moderator's rights (and says so).
pub async fn is_moderator(
    client: &MatrixClient,
    room_id: &RoomId,
    user: &UserId,
) -> Result<bool, ClientError> {
    match client.power_levels(room_id).await {
        Ok(levels) => Ok(levels.for_user(user) >= UserPowerLevel::Int(Int::from(MODERATOR))),
        Err(ClientError::Response(why)) => {
            tracing::warn!(%why, "a room's power levels are unreadable: no moderator there");
            Ok(false)
        }
        Err(other) => Err(other),
    }
}

/// The bot's direct room with `user` (ballots, broadcasts by office), made on first need and
/// remembered.
pub async fn direct_room(
    store: &crate::store::BotStore,
    client: &MatrixClient,
    user: &UserId,
) -> Result<OwnedRoomId, ServiceError> {
    if let Some(room) = store.bot_dm(user.as_str()).await? {
        return OwnedRoomId::try_from(room).map_err(|_| {
            ServiceError::Store(StoreError::Corrupt("a direct room id that is not one".into()))
        });
    }
    make_direct_room(store, client, user).await
}

/// A new direct room with `user`, remembered, then `user` invited. A room whose invitation
/// failed is remembered: a later call invites again there. After a failure to make one or to
/// invite, not tried again for [`DIRECT_ROOM_GAP_MS`]: the bot cannot be made to make rooms or
/// send invitations without end.
async fn make_direct_room(
    store: &crate::store::BotStore,
    client: &MatrixClient,
    user: &UserId,
) -> Result<OwnedRoomId, ServiceError> {
    claim(store, user).await?;
    let room = client.create_direct(&crate::messages::secret_ballot::dm_room_name()).await?;
    store.set_bot_dm(user.as_str(), room.as_str()).await?;
    invite(store, client, &room, user).await?;
    Ok(room)
}

/// Claims a new direct room or invitation for `user`: not again within
/// [`DIRECT_ROOM_GAP_MS`] of one that failed.
async fn claim(store: &crate::store::BotStore, user: &UserId) -> Result<(), ServiceError> {
    match store.claim_bot_dm_making(user.as_str(), DIRECT_ROOM_GAP_MS).await? {
        true => Ok(()),
        false => Err(ServiceError::DirectRoomTooSoon),
    }
}

/// Invites `user` to their direct room `room` under a claim, which a success ends (a failure
/// keeps it: the next try waits).
async fn invite(
    store: &crate::store::BotStore,
    client: &MatrixClient,
    room: &RoomId,
    user: &UserId,
) -> Result<(), ServiceError> {
    client.invite_direct(room, user).await?;
    store.end_bot_dm_claim(user.as_str()).await?;
    Ok(())
}

/// The bot's direct room with `user` where they alone will read what is sent (a ballot link,
/// a confirmation code): the remembered one while they are in it or invited and nobody but the
/// bot is (invited again there if their invitation never went out); a new one (remembered
/// instead; the bot leaves the old one) once they left it, or let someone else in. One more
/// request than [`direct_room`].
pub async fn private_direct_room(
    store: &crate::store::BotStore,
    client: &MatrixClient,
    bot: &UserId,
    user: &UserId,
) -> Result<OwnedRoomId, ServiceError> {
    let room = direct_room(store, client, user).await?;
    let state = match client.member_events(&room).await {
        Ok(members) => direct_state(&members, bot, user),
        // The bot is no longer in it (the member removed it, or the room is gone).
        Err(ClientError::Matrix { status: 403 | 404, .. }) => DirectState::Replace,
        Err(other) => return Err(other.into()),
    };
    match state {
        DirectState::Private => Ok(room),
        DirectState::Uninvited => {
            claim(store, user).await?;
            invite(store, client, &room, user).await?;
            Ok(room)
        }
        DirectState::Replace => {
            let new = make_direct_room(store, client, user).await?;
            if let Err(error) = client.leave(&room).await {
                tracing::debug!(%error, "could not leave a direct room it replaced");
            }
            Ok(new)
        }
    }
}

/// What a direct room's `m.room.member` events say of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DirectState {
    /// The bot joined, the member joined or invited, nobody else in it or on the way in.
    Private,
    /// The bot joined, alone: the member's invitation never went out.
    Uninvited,
    /// The member left, or someone else is in, or the bot is not: a new room.
    Replace,
}

/// Reads `members` (the room's `m.room.member` events). An event that cannot be read, or a
/// membership this code does not know, counts as someone else.
fn direct_state(members: &[serde_json::Value], bot: &UserId, user: &UserId) -> DirectState {
    let (mut user_in, mut user_seen, mut bot_in) = (false, false, false);
    for event in members {
        let membership = event["content"]["membership"].as_str();
        match (event["state_key"].as_str(), membership) {
            (Some(who), _) if who == user.as_str() => {
                user_seen = true;
                user_in = matches!(membership, Some("join" | "invite"));
            }
            (Some(who), Some("join")) if who == bot.as_str() => bot_in = true,
            (Some(who), _) if who == bot.as_str() => {}
            (Some(_), Some("leave" | "ban")) => {}
            _ => return DirectState::Replace,
        }
    }
    match (bot_in, user_in, user_seen) {
        (true, true, _) => DirectState::Private,
        (true, false, false) => DirectState::Uninvited,
        _ => DirectState::Replace,
    }
}

/// Where rewritten links point: Relais's redirect, followed by a token.
pub fn redirect_base(config: &Config) -> String {
    format!("{}/relais/lien/", config.web.public_url.as_str().trim_end_matches('/'))
}

/// A keyed hash of a member for statistics: the same member counts once, and the stored value
/// cannot be turned back into a Matrix id without the statistics key.
pub fn member_key(config: &Config, user: &str) -> String {
    keyed_hash(config.key(relais_core::KeyPurpose::StatsMembers).expose(), user)
}

fn keyed_hash(secret: &str, user: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        // HMAC accepts keys of any length.
        Err(_) => return String::new(),
    };
    mac.update(b"relais.stats.member\n");
    mac.update(user.as_bytes());
    mac.finalize().into_bytes().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(who: &str, membership: &str) -> serde_json::Value {
        serde_json::json!({"type": "m.room.member", "state_key": who, "content": {"membership": membership}})
    }

    #[test]
    fn a_direct_room_is_private_only_with_the_member_in_it_and_nobody_else() {
        use DirectState::{Private, Replace, Uninvited};
        let bot = <&UserId>::try_from("@relais:pcf.test").expect("id");
        let user = <&UserId>::try_from("@lucie:fed-nord.test").expect("id");
        let state = |events: &[serde_json::Value]| direct_state(events, bot, user);
        let both = [member(bot.as_str(), "join"), member(user.as_str(), "join")];
        assert_eq!(state(&both), Private);
        assert_eq!(state(&[member(bot.as_str(), "join"), member(user.as_str(), "invite")]), Private);
        assert_eq!(state(&[member(bot.as_str(), "join"), member(user.as_str(), "leave")]), Replace);
        assert_eq!(state(&[member(bot.as_str(), "join")]), Uninvited, "the invitation never went out");
        assert_eq!(
            state(&[member(bot.as_str(), "leave"), member(user.as_str(), "join")]),
            Replace,
            "the bot left"
        );
        assert_eq!(state(&[member(bot.as_str(), "join"), member(user.as_str(), "knock")]), Replace);
        for someone in ["join", "invite", "knock"] {
            let three = [both[0].clone(), both[1].clone(), member("@eve:pcf.test", someone)];
            assert_eq!(state(&three), Replace, "{someone}");
        }
        let alone_with_eve = [member(bot.as_str(), "join"), member("@eve:pcf.test", "invite")];
        assert_eq!(state(&alone_with_eve), Replace);
        let gone = [both[0].clone(), both[1].clone(), member("@eve:pcf.test", "leave")];
        assert_eq!(state(&gone), Private, "who left reads nothing new");
        let unreadable =
            [both[0].clone(), both[1].clone(), serde_json::json!({"content": {"membership": "join"}})];
        assert_eq!(state(&unreadable), Replace);
    }

    #[test]
    fn member_keys_are_stable_distinct_and_not_the_id() {
        let a = keyed_hash("secret", "@lucie:pcf.test");
        assert_eq!(a, keyed_hash("secret", "@lucie:pcf.test"));
        assert_ne!(a, keyed_hash("secret", "@marc:pcf.test"));
        assert_ne!(a, keyed_hash("other secret", "@lucie:pcf.test"));
        assert_eq!(a.len(), 32);
        assert!(!a.contains("lucie"));
    }
}
