//! Mail bridge: rooms mirrored to mailing lists, digests, and email replies posted back.
//!
//! Outgoing: [`handler::BridgeHandler`] stores each message of a list room and queues it, in the
//! same transaction, for the members who receive every message; digests are opened on schedule
//! ([`digest`]); the [`outbound::worker::Outbox`] renders and sends. Incoming: the SMTP/LMTP
//! listener ([`inbound::smtp`]) stores mail before answering 250; [`inbound::process`] checks
//! and posts it as the member's ghost user.

pub mod digest;
pub mod event;
pub mod handler;
pub mod inbound;
pub mod keys;
pub mod lists;
pub mod messages;
pub mod outbound;
pub mod store;

pub use handler::BridgeHandler;
