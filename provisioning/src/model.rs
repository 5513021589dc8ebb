//! The membership file's rows, as the reader validates them.

use ruma::OwnedUserId;
use serde::{Deserialize, Serialize};

/// An office that grants moderation rights.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Secrétaire fédéral(e): moderator of the federation's rooms.
    FederationSecretary,
    /// Référent(e) numérique: moderator of the federation's rooms.
    DigitalReferent,
    /// Secrétaire de section: moderator of the section room.
    SectionSecretary,
    /// Any other office, kept as written; grants nothing.
    Other(String),
}

/// How a member wants to be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Contact {
    Chat,
    Email,
    None,
}

/// One valid row of the membership file. Columns not listed here are never kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRow {
    /// Physical line where the row starts (the header is line 1).
    pub line: u64,
    /// As text: leading zeros matter.
    pub member_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub federation: String,
    pub section: Option<String>,
    pub cell: Option<String>,
    pub roles: Vec<Role>,
    pub active: bool,
    pub matrix_id: Option<OwnedUserId>,
    pub contact: Contact,
}

impl MemberRow {
    /// Whether the mail bridge, rather than the chat, reaches this member.
    pub fn is_email_subscriber(&self) -> bool {
        self.email.is_some()
            && (self.contact == Contact::Email || self.matrix_id.is_none())
            && self.contact != Contact::None
    }
}

/// A row that is not applied, and why (in French: referents read it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    pub line: u64,
    pub message: String,
}
