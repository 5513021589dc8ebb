//! Personal notices: mail a feature queues in the outbox under its own kind (the bots' secret
//! ballots, for one) and renders itself. The outbox delivers them like its own mail — one
//! recipient, a bounce address naming the delivery, a stable `Message-ID`, retries — and never
//! reads the feature's data: it asks the feature's [`NoticeKind`] for the words.

use std::{future::Future, pin::Pin};

/// What a notice says; the outbox adds the envelope and the headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub subject: String,
    pub text: String,
    /// Built by the feature from escaped parts only.
    pub html: String,
}

/// The future a [`NoticeKind`] answers with: the notice, `Ok(None)` when nothing is left to
/// send (the poll closed meanwhile), or an error to retry later.
pub type NoticeFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<Notice>, String>> + Send + 'a>>;

/// A feature's kind of notice, registered with the outbox.
pub trait NoticeKind: Send + Sync + std::fmt::Debug {
    /// The outbox kind it renders (unique among the registered ones; not `message` nor `digest`).
    fn kind(&self) -> &'static str;

    /// The notice about `reference` (as queued) for `member_id`.
    fn render<'a>(&'a self, reference: &'a str, member_id: &'a str) -> NoticeFuture<'a>;
}
