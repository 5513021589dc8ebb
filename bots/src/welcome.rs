//! A word of welcome in a member's first room: who they are to Relais, where their federation
//! and section are, and `!aide`. Once per member; spaces are skipped (Element shows no timeline
//! there).

use std::sync::Arc;

use ruma::{RoomId, UserId};
use serde_json::json;

use relais_appservice::MatrixClient;
use relais_core::{Config, Store};
use relais_provisioning::directory::{Directory, DirectoryMember};

use crate::store::BotStore;

pub use crate::service::ServiceError as WelcomeError;

#[derive(Debug, Clone)]
pub struct Welcome {
    pub store: BotStore,
    pub directory: Directory,
    pub client: MatrixClient,
    pub config: Arc<Config>,
}

impl Welcome {
    pub fn new(store: &Store, client: MatrixClient, config: Arc<Config>) -> Self {
        Self { store: BotStore::new(store.clone()), directory: Directory::new(store.clone()), client, config }
    }
}

/// The text for `member` joining `room_name`.
pub fn text(member: &DirectoryMember, room_name: &str) -> String {
    let (first, federation) = (&member.first_name, &member.federation);
    let mut out = format!("Bienvenue {first} ! Vous êtes dans « {room_name} ».");
    if !federation.is_empty() {
        out.push_str(&format!(
            " Votre fédération : l'espace « Fédération {federation} » (ses salons de discussion et d'annonces)."
        ));
    }
    if let Some(section) = &member.section {
        out.push_str(&format!(" Votre section : « Section {section} ({federation}) »."));
    }
    out.push_str(" Tapez !aide pour voir ce que le robot Relais peut faire pour vous.");
    out
}

impl Welcome {
    /// Welcomes `user` who just joined `room_id`, if this is their first provisioned room.
    pub async fn joined(&self, room_id: &RoomId, user: &UserId, event_id: &str) -> Result<(), WelcomeError> {
        if self.config.is_own_user(user) {
            return Ok(());
        }
        let room = match self.directory.room(room_id).await {
            Ok(Some(room)) => room,
            Ok(None) => return Ok(()),
            // A room of a kind this version does not know: no welcome there, the next room has one.
            Err(relais_core::StoreError::Corrupt(why)) => {
                tracing::warn!(%why, "a provisioned room is unreadable: no welcome in it");
                return Ok(());
            }
            Err(other) => return Err(other.into()),
        };
        if room.kind.is_space() {
            return Ok(());
        }
        let Some(member_id) = self.directory.member_id_of(user).await? else {
            return Ok(());
        };
        if self.store.welcomed(&member_id).await? {
            return Ok(());
        }
        let Some(member) = self.directory.member(&member_id).await? else { return Ok(()) };
        // Marked so the mail bridge does not send one member's welcome to the whole list.
        let content = json!({"msgtype": "m.notice", "body": text(&member, &room.name),
            "m.mentions": {"user_ids": [user.as_str()]}, "fr.pcf.relais.kind": "welcome"});
        let txn = format!("welcome.{}", event_id.trim_start_matches('$'));
        self.client
            .send_raw_event(room_id, "m.room.message", &txn, &content, &self.config.bot_user_id())
            .await?;
        self.store.mark_welcomed(&member.member_id, room_id.as_str()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use relais_provisioning::directory::DirectoryMember;

    #[test]
    fn the_welcome_says_where_to_go() {
        let member = DirectoryMember {
            member_id: "1".into(),
            first_name: "Sophie".into(),
            last_name: "Martin".into(),
            federation: "Nord".into(),
            section: Some("Lille".into()),
            email: None,
            active: true,
        };
        let text = super::text(&member, "Section Lille (Nord)");
        assert!(text.starts_with("Bienvenue Sophie !"));
        assert!(
            text.contains("« Fédération Nord »")
                && text.contains("« Section Lille (Nord) »")
                && text.contains("!aide")
        );
    }
}
