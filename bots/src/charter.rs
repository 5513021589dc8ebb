//! The charter in the rooms: `!charte` shows it, `!charte accepter` records one's acceptance of
//! the current version (`[public] charter_file`, `charter_version`), and a person who posts in a
//! public room without having accepted that version is reminded of it once, in reply.

use std::sync::Arc;

use ruma::{RoomId, UserId};

use relais_core::{Config, Store};
use relais_provisioning::{directory::Directory, store::ProvisioningStore};

use crate::{messages::charter as text, service::ServiceError, store::BotStore};

/// The longest charter shown whole in a message (characters).
const SHOWN_WHOLE: usize = 4_000;

#[derive(Debug)]
pub struct Charter {
    config: Arc<Config>,
    directory: Directory,
    records: ProvisioningStore,
    store: BotStore,
}

impl Charter {
    pub fn new(store: &Store, config: Arc<Config>) -> Self {
        Self {
            config,
            directory: Directory::new(store.clone()),
            records: ProvisioningStore::new(store.clone()),
            store: BotStore::new(store.clone()),
        }
    }

    /// The charter's text and version, if one is in force.
    fn current(&self) -> Option<(&str, &str)> {
        let public = &self.config.public;
        public.charter.as_deref().map(|text| (text, public.charter_version.as_str()))
    }

    /// `!charte [accepter]`.
    pub async fn command(&self, sender: &UserId, words: &[String]) -> Result<String, ServiceError> {
        let Some((charter, version)) = self.current() else { return Ok(text::none()) };
        let accepting = words.first().is_some_and(|w| relais_core::text::fold(w) == "accepter");
        if !accepting {
            // A message holds a few thousand characters well; a longer charter is read on its page.
            if charter.chars().count() > SHOWN_WHOLE {
                let page =
                    format!("{}/relais/charte", self.config.web.public_url.as_str().trim_end_matches('/'));
                return Ok(text::show_link(version, &page));
            }
            return Ok(text::show(charter, version));
        }
        self.records.accept_charter(sender.as_str(), version).await?;
        Ok(text::accepted(version))
    }

    /// The reminder owed to `sender` for a message in `room`: in a public room, when a charter is
    /// in force that they have not accepted, once per version.
    pub async fn remind(&self, room: &RoomId, sender: &UserId) -> Result<Option<String>, ServiceError> {
        let Some((_, version)) = self.current() else { return Ok(None) };
        if sender.server_name() != self.config.homeserver.server_name
            || !self.directory.room_kind(room).await?.is_some_and(|k| k.is_public())
        {
            return Ok(None);
        }
        if self.records.charter_versions(sender.as_str()).await?.iter().any(|v| v == version) {
            return Ok(None);
        }
        if !self.store.charter_remind_once(sender.as_str(), version).await? {
            return Ok(None);
        }
        Ok(Some(text::reminder(version)))
    }
}
