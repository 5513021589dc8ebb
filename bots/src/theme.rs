//! `!salon`: a federation's moderators (its secretaries and digital referents, at moderator level
//! in its space) make thematic rooms in their federation's space and choose their moderators.
//! The room is recorded in provisioning's record first ([`relais_provisioning::theme`]), then
//! made at once by a provisioning pass under the provisioning lease; when an import holds the
//! lease, the bots' clock makes it right after ([`Themes::realize_pending`]).

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use ruma::{OwnedUserId, RoomId, UserId};

use relais_appservice::MatrixClient;
use relais_core::{Config, Store, config::PublicJoin, store::lease::Lease};
use relais_provisioning::{
    apply::{Applier, LEASE},
    directory::{Directory, DirectoryRoom},
    store::{
        ProvisioningStore,
        theme::{NewTheme, ThemeCreated},
    },
    theme::{MAX_CHOSEN_MODERATORS, Theme, ThemeAccess, check_name, theme_key},
};

use crate::{
    messages::theme as text,
    service::{ServiceError, is_moderator},
};

/// How long a command waits for an import to finish before answering that the room comes after.
const PATIENCE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct Themes {
    store: Store,
    records: ProvisioningStore,
    directory: Directory,
    client: MatrixClient,
    config: Arc<Config>,
}

/// What a provisioning pass did with the pending thematic rooms.
enum Realized {
    Done,
    /// An import holds the lease: the clock makes it after.
    Later,
    Failed,
}

impl Themes {
    pub fn new(store: &Store, client: MatrixClient, config: Arc<Config>) -> Self {
        Self {
            store: store.clone(),
            records: ProvisioningStore::new(store.clone()),
            directory: Directory::new(store.clone()),
            client,
            config,
        }
    }

    /// `!salon créer|modérateurs|liste` typed in `room` by `sender`.
    pub async fn command(
        &self,
        room: &RoomId,
        sender: &UserId,
        words: &[String],
    ) -> Result<String, ServiceError> {
        let Some(space) = self.federation_space(room).await? else { return Ok(text::not_here()) };
        let sub = words.first().map(|w| relais_core::text::fold(w));
        if sub.as_deref() == Some("liste") {
            let mut themes = self.records.themes(Some(&space.key)).await?;
            // Where anyone may read, the members-only rooms' names are not said.
            if self.directory.room_kind(room).await?.is_some_and(|k| k.is_public()) {
                themes.retain(|t| t.access != ThemeAccess::Members);
            }
            return Ok(text::list(&themes));
        }
        if !is_moderator(&self.client, &space.room_id, sender).await? {
            return Ok(text::refused());
        }
        match sub.as_deref() {
            Some("creer") => self.create(&space, sender, &words[1..]).await,
            Some("moderateurs") => self.moderators(&space, sender, &words[1..]).await,
            _ => Ok(text::usage()),
        }
    }

    /// The federation space of a room of the federation (its space included); `None` elsewhere.
    async fn federation_space(&self, room: &RoomId) -> Result<Option<DirectoryRoom>, ServiceError> {
        Ok(self.directory.federation_rooms(room).await?.map(|(space, _)| space))
    }

    async fn create(
        &self,
        space: &DirectoryRoom,
        sender: &UserId,
        words: &[String],
    ) -> Result<String, ServiceError> {
        let mut access = ThemeAccess::Members;
        let mut name = None;
        for word in words {
            match word.as_str() {
                "--public" => access = ThemeAccess::Open(PublicJoin::Public),
                "--sur-demande" => access = ThemeAccess::Open(PublicJoin::Knock),
                option if option.starts_with("--") => {
                    return Ok(crate::messages::unknown_option(&option[2..]));
                }
                _ if name.is_some() => return Ok(text::usage()),
                _ => name = Some(word.as_str()),
            }
        }
        let Some(name) = name else { return Ok(text::usage()) };
        let (name, slug) = match check_name(name) {
            Ok(checked) => checked,
            Err(why) => return Ok(text::bad_name(&why.to_string())),
        };
        let key = theme_key(&space.key, &slug);
        let theme = NewTheme { key: &key, federation: &space.key, name: &name, access, created_by: sender };
        match self.records.create_theme(&theme).await? {
            ThemeCreated::Created => {}
            ThemeCreated::Exists => return Ok(text::exists(&name)),
            ThemeCreated::Full => return Ok(text::full()),
        }
        tracing::info!(room = %key, "thematic room recorded");
        Ok(match self.realize(Some(PATIENCE)).await {
            Realized::Done if self.records.room_id(&key).await?.is_some() => {
                text::created(&name, access, &self.alias(&key))
            }
            Realized::Later => text::recorded(&name),
            Realized::Done | Realized::Failed => text::failed(&name),
        })
    }

    async fn moderators(
        &self,
        space: &DirectoryRoom,
        sender: &UserId,
        words: &[String],
    ) -> Result<String, ServiceError> {
        let Some((name, users)) = words.split_first() else { return Ok(text::usage()) };
        let Some(theme) = self.find(&space.key, name).await? else { return Ok(text::unknown(name)) };
        if users.len() > MAX_CHOSEN_MODERATORS {
            return Ok(text::too_many_moderators());
        }
        let mut chosen: BTreeSet<OwnedUserId> = BTreeSet::new();
        let mut refused = Vec::new();
        for word in users {
            match UserId::parse(word.as_str()) {
                Ok(user) if self.is_member_of(&user, &space.key).await? => {
                    chosen.insert(user);
                }
                // Named back only as typed, cut short: it is the sender's own text.
                _ => refused.push(word.chars().take(80).collect()),
            }
        }
        if !refused.is_empty() {
            return Ok(text::not_members(&refused));
        }
        self.records.set_theme_moderators(&theme.key, &chosen, sender).await?;
        let applied = !matches!(self.realize(Some(PATIENCE)).await, Realized::Later);
        Ok(text::moderators_set(&theme.name, chosen.len(), applied))
    }

    /// The thematic room of the federation `federation` that `typed` names (its name, or its
    /// slug).
    async fn find(&self, federation: &str, typed: &str) -> Result<Option<Theme>, ServiceError> {
        let Ok((_, slug)) = check_name(typed) else { return Ok(None) };
        let key = theme_key(federation, &slug);
        Ok(self.records.themes(Some(federation)).await?.into_iter().find(|t| t.key == key))
    }

    /// Whether `user` is an active member of the federation `federation` (by key).
    async fn is_member_of(&self, user: &UserId, federation: &str) -> Result<bool, ServiceError> {
        let member = self.directory.member_by_matrix_id(user).await?;
        Ok(member.is_some_and(|m| relais_provisioning::desired::federation_key(&m.federation) == federation))
    }

    fn alias(&self, key: &str) -> String {
        format!("#{}{key}:{}", self.config.appservice.alias_prefix, self.config.homeserver.server_name)
    }

    /// Makes what referents recorded and no pass made yet (the bots' clock calls it): only when
    /// something is pending and the provisioning lease is free.
    pub async fn realize_pending(&self) -> Result<(), ServiceError> {
        if self.records.pending_themes().await?.is_empty() {
            return Ok(());
        }
        self.realize(None).await;
        Ok(())
    }

    /// A provisioning pass over the pending thematic rooms, waiting at most `patience` for the
    /// lease (`None`: not at all).
    async fn realize(&self, patience: Option<Duration>) -> Realized {
        let applier =
            match Applier::for_deployment(&self.config, &self.store, "bots:salon".into(), Default::default())
            {
                Ok(applier) => applier,
                Err(error) => {
                    tracing::error!(%error, "cannot make thematic rooms");
                    return Realized::Failed;
                }
            };
        let ttl = Duration::from_secs(u64::from(self.config.provisioning.lease_seconds));
        let lease = match patience {
            Some(patience) => {
                Lease::acquire(&self.store, LEASE, "bots:salon", ttl, Some(patience), |_| {}).await
            }
            None => Lease::try_acquire(&self.store, LEASE, "bots:salon", ttl).await,
        };
        let lease = match lease {
            Ok(Some(lease)) => lease,
            Ok(None) => return Realized::Later,
            Err(error) => {
                tracing::warn!(%error, "cannot take the provisioning lease for thematic rooms");
                return Realized::Later;
            }
        };
        let outcome = relais_provisioning::run::realize_themes(
            &applier,
            &self.config.provisioning,
            &self.config.public,
            &lease,
        )
        .await;
        lease.release_or_expire().await;
        match outcome {
            Ok(Some(report)) if !report.failed.is_empty() => {
                tracing::warn!(failed = report.failed.len(), "some thematic rooms could not be made");
                Realized::Failed
            }
            Ok(_) => Realized::Done,
            Err(error) => {
                tracing::warn!(%error, "thematic rooms: will try again");
                Realized::Failed
            }
        }
    }
}
