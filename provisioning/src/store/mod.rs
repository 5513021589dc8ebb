//! Provisioning's data: the recorded state, the action journal, onboarding invitations and the
//! audit log. Only this crate writes these tables; the other features read members and rooms
//! through the [`Directory`](crate::directory::Directory).
//!
//! `record` holds what was provisioned (read whole for planning), `journal` the runs and their
//! actions, `onboarding` the invitations, `audit` the log, `erasure` a member's export and
//! erasure across every feature. Every write is fenced by the provisioning [`LEASE`].

mod audit;
mod batch;
mod erasure;
mod journal;
pub mod moderation;
#[cfg(test)]
mod moderation_tests;
pub mod onboarding;
mod record;
mod referents;
pub mod sympathiser;
#[cfg(test)]
mod sympathiser_tests;
pub mod theme;
#[cfg(test)]
mod theme_tests;

pub use erasure::{EraseFuture, MemberEraser};
pub use journal::{NewRun, PendingAction, RunRecord, RunState};

use relais_core::Store;

/// Provisioning's tables over the shared pool; cheap to clone.
#[derive(Debug, Clone)]
pub struct ProvisioningStore {
    store: Store,
}

impl ProvisioningStore {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    fn pool(&self) -> &sqlx::AnyPool {
        self.store.pool()
    }

    /// The shared store underneath, for tests that take the lease.
    #[cfg(test)]
    fn core(&self) -> &Store {
        &self.store
    }
}

/// The name of the lease held by whoever plans or applies provisioning (or erases a member):
/// every write to the journal and the record is fenced by it.
pub const LEASE: &str = "provisioning";

/// A provisioned room as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomRecord {
    pub key: String,
    pub kind: String,
    pub name: String,
    pub parent_key: Option<String>,
    pub room_id: String,
    /// JSON array of user ids.
    pub moderators: String,
}

/// Everything recorded, loaded at once for planning.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub rooms: Vec<RoomRecord>,
    /// (member id, JSON record, whether its rooms are recorded).
    pub members: Vec<(String, String, bool)>,
    /// (room key, member id, user id).
    pub access: Vec<(String, String, String)>,
    /// (room key, member id).
    pub subscriptions: Vec<(String, String)>,
    /// Onboarding invitations.
    pub invitations: Vec<onboarding::Invitation>,
    /// The moderators' bans that stand.
    pub bans: crate::moderation::Bans,
    /// The federations' thematic rooms.
    pub themes: Vec<crate::theme::Theme>,
}

/// The change to the record that completing an action makes.
#[derive(Debug, Clone)]
pub enum Effect {
    Room(RoomRecord),
    Rename {
        key: String,
        name: String,
    },
    Moderators {
        key: String,
        moderators: String,
    },
    Grant {
        room_key: String,
        member_id: String,
        user_id: String,
    },
    Revoke {
        room_key: String,
        member_id: String,
        user_id: String,
    },
    Subscribe {
        room_key: String,
        member_id: String,
    },
    Unsubscribe {
        room_key: String,
        member_id: String,
    },
    Member {
        member_id: String,
        record: String,
        active: bool,
        matrix_id: Option<String>,
        email: Option<String>,
        /// The rooms the file puts the member in (`MemberRooms::default()`: none recorded).
        rooms: MemberRooms,
    },
    /// The invitation email of a member without an account went out.
    InvitationSent {
        member_id: String,
    },
}

/// The keys of the rooms the membership file puts a member in, recorded with the member so that
/// the other features know what a member without a Matrix account is entitled to
/// (`directory_access`): the federation space (whose discussion and announcements rooms and
/// members-only thematic rooms follow), the section and the cell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberRooms {
    pub federation: Option<String>,
    pub section: Option<String>,
    pub cell: Option<String>,
}

impl MemberRooms {
    pub fn of(row: &crate::model::MemberRow) -> Self {
        use crate::desired::{cell_key, federation_key, section_key};
        Self {
            federation: Some(federation_key(&row.federation)),
            section: row.section.as_deref().map(|s| section_key(&row.federation, s)),
            cell: row.cell.as_deref().map(|c| cell_key(&row.federation, row.section.as_deref(), c)),
        }
    }
}

/// One line of the audit log.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

#[cfg(test)]
mod tests;
