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
    theme::{MAX_CHOSEN_MODERATORS, MAX_NAME_CHARS, Theme, ThemeAccess, check_name, theme_key},
};

use crate::{
    messages::theme as text,
    service::{ServiceError, is_moderator},
};

/// How long a command waits for the provisioning lease (another pass may be ending) before
/// answering that the room comes right after: short, the command holds up the bot's events.
const PATIENCE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub struct Themes {
    store: Store,
    records: ProvisioningStore,
    directory: Directory,
    client: MatrixClient,
    config: Arc<Config>,
}

/// What asking for a thematic room led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Creation {
    /// Made: its alias.
    Created {
        alias: String,
    },
    /// Recorded; an import holds the lease, the bots' clock makes it right after.
    Later,
    /// Recorded; the homeserver refused or failed, the next import tries again.
    Failed,
    /// The federation has a room of that name (or one that folds alike).
    Exists,
    /// The federation has as many as it may.
    Full,
    BadName(relais_provisioning::theme::NameError),
}

/// What choosing a thematic room's moderators led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// Recorded (and `applied` unless an import holds the lease).
    Set {
        name: String,
        count: usize,
        applied: bool,
    },
    Unknown,
    TooMany,
    /// Not active members of the federation with an account, as typed: nothing changed.
    NotMembers(Vec<String>),
}

/// What a provisioning pass did with the pending thematic rooms.
enum Realized {
    Pass(relais_provisioning::run::ThemesPass),
    /// Another run holds the lease: the clock makes them after.
    Later,
    /// The pass itself failed (the store, the homeserver): the clock tries again.
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
        Ok(self.directory.federation_space(room).await?)
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
        let (name, creation) = self.create_theme(&space.key, name, access, sender).await?;
        Ok(match creation {
            Creation::Created { alias } => text::created(&name, access, &alias),
            Creation::Later => text::recorded(&name),
            Creation::Failed => text::failed(&name),
            Creation::Exists => text::exists(&name),
            Creation::Full => text::full(),
            Creation::BadName(why) => text::bad_name(&why.to_string()),
        })
    }

    /// Records the thematic room `name` of the federation `federation` (its key) asked for by
    /// `by` — whose right to it the caller checked —, then makes it at once unless an import
    /// holds the provisioning lease. Returns the name as the room shows it, and what happened.
    pub async fn create_theme(
        &self,
        federation: &str,
        name: &str,
        access: ThemeAccess,
        by: &UserId,
    ) -> Result<(String, Creation), ServiceError> {
        let (name, slug) = match check_name(name) {
            Ok(checked) => checked,
            Err(why) => return Ok((name.chars().take(MAX_NAME_CHARS).collect(), Creation::BadName(why))),
        };
        let key = theme_key(federation, &slug);
        let theme = NewTheme { key: &key, federation, name: &name, access, created_by: by };
        match self.records.create_theme(&theme).await? {
            ThemeCreated::Created => tracing::info!(room = %key, "thematic room recorded"),
            // Recorded before and never made (the homeserver failed): tried again now.
            ThemeCreated::Exists if self.records.room_id(&key).await?.is_none() => {
                self.records.retry_theme(&key).await?;
            }
            ThemeCreated::Exists => return Ok((name, Creation::Exists)),
            ThemeCreated::Full => return Ok((name, Creation::Full)),
        }
        let creation = match self.realize(Some(PATIENCE)).await {
            Realized::Pass(pass) if pass.done.contains(&key) => Creation::Created { alias: self.alias(&key) },
            Realized::Later => Creation::Later,
            Realized::Pass(pass) if pass.busy => Creation::Later,
            Realized::Pass(_) | Realized::Failed => Creation::Failed,
        };
        Ok((name, creation))
    }

    async fn moderators(
        &self,
        space: &DirectoryRoom,
        sender: &UserId,
        words: &[String],
    ) -> Result<String, ServiceError> {
        let Some((name, users)) = words.split_first() else { return Ok(text::usage()) };
        Ok(match self.choose_moderators(&space.key, name, users, sender).await? {
            Choice::Set { name, count, applied } => text::moderators_set(&name, count, applied),
            Choice::Unknown => text::unknown(name),
            Choice::TooMany => text::too_many_moderators(),
            Choice::NotMembers(refused) => text::not_members(&refused),
        })
    }

    /// Replaces the moderators chosen for the thematic room `theme` (its name or slug) of the
    /// federation `federation` with `users` (Matrix ids as typed), each an active member of the
    /// federation, as `by` asked — whose right to it the caller checked.
    pub async fn choose_moderators(
        &self,
        federation: &str,
        theme: &str,
        users: &[String],
        by: &UserId,
    ) -> Result<Choice, ServiceError> {
        let Some(theme) = self.find(federation, theme).await? else { return Ok(Choice::Unknown) };
        if users.len() > MAX_CHOSEN_MODERATORS {
            return Ok(Choice::TooMany);
        }
        let mut chosen: BTreeSet<OwnedUserId> = BTreeSet::new();
        let mut refused = Vec::new();
        for word in users {
            match UserId::parse(word.as_str()) {
                Ok(user) if self.is_member_of(&user, federation).await? => {
                    chosen.insert(user);
                }
                // Named back only as typed, cut short: it is the sender's own text.
                _ => refused.push(word.chars().take(80).collect()),
            }
        }
        if !refused.is_empty() {
            return Ok(Choice::NotMembers(refused));
        }
        self.records.set_theme_moderators(&theme.key, &chosen, by).await?;
        let applied = matches!(self.realize(Some(PATIENCE)).await, Realized::Pass(pass) if pass.done.contains(&theme.key));
        Ok(Choice::Set { name: theme.name, count: chosen.len(), applied })
    }

    /// The federation's thematic rooms, each with its alias (for the referents' page).
    pub async fn of_federation(&self, federation: &str) -> Result<Vec<(Theme, String)>, ServiceError> {
        let themes = self.records.themes(Some(federation)).await?;
        Ok(themes.into_iter().map(|t| (self.alias(&t.key), t)).map(|(alias, t)| (t, alias)).collect())
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
        if self.records.pending_themes(relais_core::time::now_ms()).await?.is_empty() {
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
        let outcome = relais_provisioning::run::realize_themes(&applier, &lease).await;
        lease.release_or_expire().await;
        match outcome {
            Ok(pass) => {
                if !pass.failed.is_empty() {
                    tracing::warn!(
                        failed = pass.failed.len(),
                        "some thematic rooms could not be made; tried again later"
                    );
                }
                Realized::Pass(pass)
            }
            Err(error) => {
                tracing::warn!(%error, "thematic rooms: will try again");
                Realized::Failed
            }
        }
    }
}
