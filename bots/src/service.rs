//! What the bot's services share: one error type, configured rooms, power levels, and the keyed
//! hash that lets statistics count members without storing who they are.

use hmac::{Hmac, Mac};
use ruma::{OwnedRoomAliasId, OwnedRoomId, RoomId, UserId};
use sha2::Sha256;

use relais_appservice::{ClientError, MatrixClient};
use relais_core::{Config, store::StoreError};

/// The power level from which a member moderates a room (and may use its team's commands).
pub const MODERATOR: i64 = 50;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Homeserver(#[from] ClientError),
}

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

/// `user`'s power level in `room_id`.
pub async fn power_level(client: &MatrixClient, room_id: &RoomId, user: &UserId) -> Result<i64, ClientError> {
    let levels = client.state(room_id, "m.room.power_levels", "").await?.unwrap_or_default();
    Ok(levels["users"][user.as_str()].as_i64().or_else(|| levels["users_default"].as_i64()).unwrap_or(0))
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
