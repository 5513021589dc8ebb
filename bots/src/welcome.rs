//! A word of welcome in a member's first room: who they are to Relais, where their federation
//! and section are, and `!aide`. Once per member; spaces are skipped (Element shows no timeline
//! there).

use std::sync::Arc;

use ruma::{RoomId, UserId};
use serde_json::{Value, json};

use relais_appservice::MatrixClient;
use relais_core::{Config, Store};

pub use crate::service::ServiceError as WelcomeError;

#[derive(Debug, Clone)]
pub struct Welcome {
    pub store: Store,
    pub client: MatrixClient,
    pub config: Arc<Config>,
}

/// The text for a member (from their record in the membership file) joining `room_name`.
pub fn text(record: &Value, room_name: &str) -> String {
    let first = record["first_name"].as_str().unwrap_or_default();
    let federation = record["federation"].as_str().unwrap_or_default();
    let mut out = format!("Bienvenue {first} ! Vous êtes dans « {room_name} ».");
    if !federation.is_empty() {
        out.push_str(&format!(
            " Votre fédération : l'espace « Fédération {federation} » (ses salons de discussion et d'annonces)."
        ));
    }
    if let Some(section) = record["section"].as_str() {
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
        let Some((kind, room_name)) = self.store.prov_room_by_id(room_id.as_str()).await? else {
            return Ok(());
        };
        if kind.ends_with("space") {
            return Ok(());
        }
        let Some((member_id, record)) = self.store.member_of_matrix_id(user.as_str()).await? else {
            return Ok(());
        };
        if self.store.welcomed(&member_id).await? {
            return Ok(());
        }
        let record: Value = serde_json::from_str(&record).unwrap_or_default();
        // Marked so the mail bridge does not send one member's welcome to the whole list.
        let content = json!({"msgtype": "m.notice", "body": text(&record, &room_name),
            "m.mentions": {"user_ids": [user.as_str()]}, "fr.pcf.relais.kind": "welcome"});
        let txn = format!("welcome.{}", event_id.trim_start_matches('$'));
        self.client
            .send_raw_event(room_id, "m.room.message", &txn, &content, &self.config.bot_user_id())
            .await?;
        self.store.mark_welcomed(&member_id, room_id.as_str()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn the_welcome_says_where_to_go() {
        let record = json!({"first_name": "Sophie", "federation": "Nord", "section": "Lille"});
        let text = super::text(&record, "Section Lille (Nord)");
        assert!(text.starts_with("Bienvenue Sophie !"));
        assert!(
            text.contains("« Fédération Nord »")
                && text.contains("« Section Lille (Nord) »")
                && text.contains("!aide")
        );
    }
}
