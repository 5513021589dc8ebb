//! The mail bridge's records: lists, members' choices, mirrored messages, the outbox, digests,
//! inbound mail and address health. Only this crate reads or writes these tables; other
//! features queue their notices through [`MailStore::outbox_enqueue_member`].
//!
//! Subscribers are never copied: a list's subscribers are computed from what provisioning
//! publishes (the `directory_member` and `directory_subscription` views; the queries keep the
//! active members with an address) plus opt-ins, so a lapse or a move in the membership file changes who gets mail at
//! the next message. No query here reads provisioning's tables themselves.

mod archive;
#[cfg(test)]
mod archive_tests;
pub use archive::search_words;
mod erasure;
mod inbound;
mod lists;
mod messages;
mod outbox;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

use sqlx::{Row, any::AnyRow};

use relais_core::{Store, config::DeliveryMode};

/// The mail bridge's tables over the shared pool; cheap to clone.
#[derive(Debug, Clone)]
pub struct MailStore {
    store: Store,
}

impl MailStore {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    fn pool(&self) -> &sqlx::AnyPool {
        self.store.pool()
    }

    /// The shared store underneath, for tests that seed other features' tables.
    #[cfg(test)]
    pub(crate) fn core(&self) -> &Store {
        &self.store
    }
}

/// A room mirrored to a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailList {
    pub room_id: String,
    pub localpart: String,
    pub name: String,
    pub room_key: Option<String>,
    pub enabled: bool,
}

/// A room message kept for mail.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailMessage {
    pub seq: i64,
    pub event_id: String,
    pub room_id: String,
    /// The Matrix user who sent it: only they may edit it.
    pub sender: String,
    pub sender_name: String,
    /// The member who wrote it, when known (their own mail is not sent back to them).
    pub author_member: Option<String>,
    /// `text`, `notice`, `emote`, `image`, `file`, `poll`.
    pub kind: String,
    pub body: String,
    pub html: Option<String>,
    pub reply_to: Option<String>,
    pub thread_root: Option<String>,
    /// An image or file: `mxc://` URI, content type, size in bytes.
    pub media_url: Option<String>,
    pub media_type: Option<String>,
    pub media_size: Option<i64>,
    pub origin_ts: i64,
    pub redacted: bool,
}

/// An edit of a mirrored message, as the room event states it.
#[derive(Debug, Clone, Copy)]
pub struct MailEdit<'a> {
    pub event_id: &'a str,
    pub room_id: &'a str,
    pub sender: &'a str,
    pub body: &'a str,
    pub html: Option<&'a str>,
}

/// One delivery to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub id: i64,
    /// `message` (ref: event id) or `digest` (ref: digest id).
    pub kind: String,
    pub reference: String,
    pub member_id: String,
    pub email: String,
    pub attempts: i64,
}

/// One mail received by the listener.
#[derive(Debug, Clone)]
pub struct InboundItem {
    pub id: i64,
    pub rcpt: String,
    pub mail_from: String,
    pub raw: Vec<u8>,
    pub attempts: i64,
}

/// A list as a member sees it on the preferences page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberList {
    pub list: MailList,
    pub mode: DeliveryMode,
}

/// A digest run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    pub digest_id: i64,
    pub mode: DeliveryMode,
    pub seq_from: i64,
    pub seq_to: i64,
}

/// Outbox counts by state, for `/metrics` and `relais mail status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxStats {
    pub pending: i64,
    pub sent: i64,
    pub failed: i64,
    pub cancelled: i64,
    pub inbound_pending: i64,
    /// Inbound mail that could not be processed, held with its content erased.
    pub inbound_held: i64,
    /// Mail to postmaster kept whole for an operator (`relais mail postmaster`).
    pub inbound_postmaster: i64,
}

/// A mail to postmaster kept for an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostmasterMail {
    pub id: i64,
    pub received_at: i64,
    pub rcpt: String,
    /// Empty for the null sender.
    pub mail_from: String,
    pub raw: Vec<u8>,
}

/// Whether the opt-in `o` to list `l` holds: the member may still be in the room per the
/// membership file (a move or a lapse ends it), or the room is public, or Relais does not
/// provision it — the room found by its id, whatever key the list was enabled with.
macro_rules! opt_in_holds {
    () => {
        "NOT EXISTS (SELECT 1 FROM directory_room r WHERE r.room_id = l.room_id) \
         OR EXISTS (SELECT 1 FROM directory_room r WHERE r.room_id = l.room_id AND r.open = 1) \
         OR EXISTS (SELECT 1 FROM directory_room r JOIN directory_access a ON a.room_key = r.room_key \
                    WHERE r.room_id = l.room_id AND a.member_id = o.member_id)"
    };
}

/// Members subscribed to list `$1` with their mode (`$2`: the default mode), excluding lapsed
/// members, members without an address and disabled addresses.
const SUBSCRIBERS: &str = concat!(
    "SELECT m.member_id AS member_id, m.email AS email, COALESCE(p.mode, $2) AS mode \
     FROM directory_member m \
     LEFT JOIN mail_pref p ON p.member_id = m.member_id AND p.room_id = $1 \
     LEFT JOIN mail_address a ON a.email = m.email \
     WHERE m.active = 1 AND m.email IS NOT NULL AND a.disabled_at IS NULL AND ( \
       EXISTS (SELECT 1 FROM directory_subscription s JOIN mail_list l ON l.room_key = s.room_key \
               WHERE l.room_id = $1 AND l.enabled = 1 AND s.member_id = m.member_id) \
       OR EXISTS (SELECT 1 FROM mail_optin o JOIN mail_list l ON l.room_id = o.room_id \
               WHERE o.room_id = $1 AND l.enabled = 1 AND o.member_id = m.member_id AND (",
    opt_in_holds!(),
    ")))"
);

/// (list, member) pairs of every enabled list.
const LIST_MEMBERS: &str = concat!(
    "SELECT l.room_id AS room_id, s.member_id AS member_id FROM mail_list l \
       JOIN directory_subscription s ON s.room_key = l.room_key WHERE l.enabled = 1 \
     UNION SELECT o.room_id AS room_id, o.member_id AS member_id FROM mail_optin o \
       JOIN mail_list l ON l.room_id = o.room_id WHERE l.enabled = 1 AND (",
    opt_in_holds!(),
    ")"
);

fn list_from_row(row: &AnyRow) -> Result<MailList, sqlx::Error> {
    Ok(MailList {
        room_id: row.try_get("room_id")?,
        localpart: row.try_get("localpart")?,
        name: row.try_get("name")?,
        room_key: row.try_get("room_key")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
    })
}

fn message_from_row(row: &AnyRow) -> Result<MailMessage, sqlx::Error> {
    Ok(MailMessage {
        seq: row.try_get("seq")?,
        event_id: row.try_get("event_id")?,
        room_id: row.try_get("room_id")?,
        sender: row.try_get::<Option<String>, _>("sender")?.unwrap_or_default(),
        sender_name: row.try_get("sender_name")?,
        author_member: row.try_get("author_member")?,
        kind: row.try_get("kind")?,
        body: row.try_get("body")?,
        html: row.try_get("html")?,
        reply_to: row.try_get("reply_to")?,
        thread_root: row.try_get("thread_root")?,
        media_url: row.try_get("media_url")?,
        media_type: row.try_get("media_type")?,
        media_size: row.try_get("media_size")?,
        origin_ts: row.try_get("origin_ts")?,
        redacted: row.try_get::<i64, _>("redacted")? != 0,
    })
}

const LIST_COLUMNS: &str = "room_id, localpart, name, room_key, enabled";
const MESSAGE_COLUMNS: &str = "seq, event_id, room_id, sender, sender_name, author_member, kind, body, html, \
     reply_to, thread_root, media_url, media_type, media_size, origin_ts, redacted";

fn mode_of(text: &str, default: DeliveryMode) -> DeliveryMode {
    DeliveryMode::parse(text).unwrap_or(default)
}

#[cfg(test)]
mod tests;
