//! Outgoing mail: rendering (pure) and the outbox worker that hands it to SMTP.

pub mod html;
pub mod notice;
pub mod poll_links;
pub mod render;
pub mod sent_journal;
pub mod worker;
