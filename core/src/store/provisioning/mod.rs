//! Persistence of provisioning: the recorded state, the action journal and the audit log.
//!
//! The shapes here are the store's: member records and action payloads are JSON text produced
//! and read by the provisioning crate, so this crate stays free of its domain types. `record`
//! holds what was provisioned (read whole for planning), `journal` the runs and their actions,
//! `audit` the log, `erasure` a member's export and erasure across every feature.

mod audit;
mod erasure;
mod journal;
mod record;

pub use journal::{NewRun, PendingAction, RunRecord, RunState};

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
    /// (member id, JSON record).
    pub members: Vec<(String, String)>,
    /// (room key, member id, user id).
    pub access: Vec<(String, String, String)>,
    /// (room key, member id).
    pub subscriptions: Vec<(String, String)>,
    /// Onboarding invitations.
    pub invitations: Vec<super::onboarding::Invitation>,
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
    },
    /// The invitation email of a member without an account went out.
    InvitationSent {
        member_id: String,
    },
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
