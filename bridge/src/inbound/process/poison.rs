//! Poison mail: a mail whose processing panics, fails on an error, is refused by the homeserver,
//! or never ends (its worker died with it) is not tried forever. Each attempt is counted before
//! it is made and uncounted only when it ends in order (handled, or put off by a homeserver
//! outage); after [`MAX_FAILED_ATTEMPTS`] the mail is held: never tried again, its content
//! erased (no message Relais could not handle is kept), and its sender told once, only if
//! authenticated. A request the homeserver can never take holds the mail at once. A panic is
//! caught per mail, so that one mail never stops the worker.

use std::{future::Future, panic::AssertUnwindSafe};

use mail_parser::MessageParser;
use relais_core::{store::StoreError, time::now_ms};

use relais_maildomain::{auth_results, examine::AuthPolicy, refusal as bounce};

use super::{Inbound, Settled};
use crate::store::InboundItem;

/// Failed attempts after which a mail is held.
pub const MAX_FAILED_ATTEMPTS: i64 = 3;

/// Bytes of a held mail's header read to find whom to tell (the header alone is parsed).
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// The wait before attempt `n + 1` when `n` failed (5 s, doubling, at most 10 minutes).
pub(super) fn backoff_ms(failed: i64) -> i64 {
    (5_000i64 << failed.clamp(0, 8)).min(600_000)
}

impl Inbound {
    /// One attempt at `item`, recorded: counted first, then `settle` run in a task of its own so
    /// that a panic ends this attempt only, then its end written down — handled, put off, failed
    /// (tried again later, or held after [`MAX_FAILED_ATTEMPTS`]) or held. A store error is
    /// returned (the attempt stays counted).
    pub(super) async fn attempt<F, Fut>(&self, item: &InboundItem, settle: F) -> Result<(), StoreError>
    where
        F: FnOnce(Inbound, InboundItem) -> Fut,
        Fut: Future<Output = Result<Settled, StoreError>> + Send + 'static,
    {
        let unfinished = self.store.inbound_started(item.id).await?;
        if unfinished > MAX_FAILED_ATTEMPTS {
            // The previous attempts never ended: the worker died or stalled on this mail.
            return self.hold(item, unfinished - 1, None).await;
        }
        match tokio::spawn(settle(self.clone(), item.clone())).await {
            Ok(settled) => self.record(item, unfinished, settled?).await,
            Err(e) if e.is_panic() => {
                tracing::error!(
                    inbound_id = item.id,
                    attempt = unfinished,
                    "inbound mail: processing panicked"
                );
                self.failed(item, unfinished, None).await
            }
            // Cancelled (the runtime is shutting down): the lease brings the mail back.
            Err(_) => Ok(()),
        }
    }

    /// Writes down how attempt number `unfinished` at `item` ended.
    async fn record(&self, item: &InboundItem, unfinished: i64, settled: Settled) -> Result<(), StoreError> {
        match settled {
            Settled::Done(state, outcome) => {
                tracing::info!(inbound_id = item.id, state, outcome = %outcome, "inbound mail handled");
                self.store.inbound_finish(item.id, state, &outcome).await
            }
            Settled::Retry(error) => {
                tracing::warn!(inbound_id = item.id, error = %error, "cannot post inbound mail yet");
                let next_at = now_ms() + backoff_ms(item.attempts);
                self.store.inbound_retry(item.id, &error, next_at).await
            }
            Settled::Failed(error) => {
                tracing::warn!(inbound_id = item.id, attempt = unfinished, error = %error, "inbound mail refused by the homeserver");
                self.failed(item, unfinished, Some(&error)).await
            }
            Settled::Kept(outcome) => {
                tracing::warn!(inbound_id = item.id, outcome = %outcome, "mail for postmaster kept: read it with `relais mail postmaster`");
                self.store.inbound_keep(item.id, &outcome).await
            }
            Settled::Hopeless(error) => {
                tracing::warn!(inbound_id = item.id, error = %error, "inbound mail can never be posted");
                self.hold(item, unfinished, Some(&error)).await
            }
        }
    }

    /// Attempt number `unfinished` failed (a panic when `error` is `None`): the mail is tried
    /// again after a delay, or held once it has failed [`MAX_FAILED_ATTEMPTS`] times.
    async fn failed(
        &self,
        item: &InboundItem,
        unfinished: i64,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        if unfinished >= MAX_FAILED_ATTEMPTS {
            return self.hold(item, unfinished, error).await;
        }
        let outcome = error.unwrap_or("processing failed (panic)");
        self.store.inbound_failed(item.id, outcome, now_ms() + backoff_ms(unfinished)).await
    }

    /// Holds `item` after `failed` failed attempts (the last one's `error`, if it said one):
    /// erased first, then its sender told once.
    async fn hold(&self, item: &InboundItem, failed: i64, error: Option<&str>) -> Result<(), StoreError> {
        let sender = authenticated_sender(&item.raw, &item.mail_from, &self.policy());
        let attempts = if failed == 1 { "attempt" } else { "attempts" };
        let outcome = match error {
            None => format!("held after {failed} failed {attempts}, content erased"),
            Some(error) => format!("held after {failed} failed {attempts} ({error}), content erased"),
        };
        if !self.store.inbound_hold(item.id, &outcome).await? {
            return Ok(());
        }
        tracing::warn!(inbound_id = item.id, failed, "inbound mail held: it could not be processed");
        let told = match sender {
            None => "sender not told (not authenticated)".to_owned(),
            Some(to) => match self.answer(&to, bounce::SUBJECT, bounce::HELD).await {
                Ok(()) => "sender told".to_owned(),
                Err(e) => format!("sender not told: {e}"),
            },
        };
        self.store.inbound_finish(item.id, "held", &format!("{outcome}; {told}")).await
    }
}

/// The `From` address of a mail when it may be answered: a sender authenticated as
/// [`examine`](relais_maildomain::examine) would judge it, not a bounce or an automatic mail. Reads
/// the header only (at most [`MAX_HEADER_BYTES`]), and answers `None` should that panic.
pub fn authenticated_sender(raw: &[u8], mail_from: &str, policy: &AuthPolicy) -> Option<String> {
    if mail_from.is_empty() {
        return None;
    }
    let head = header_section(&raw[..raw.len().min(MAX_HEADER_BYTES)]);
    std::panic::catch_unwind(AssertUnwindSafe(|| sender_of(head, policy))).ok().flatten()
}

/// The header of a raw mail: up to its first empty line.
fn header_section(raw: &[u8]) -> &[u8] {
    let end = raw
        .windows(2)
        .position(|w| w == b"\n\n")
        .into_iter()
        .chain(raw.windows(4).position(|w| w == b"\r\n\r\n"))
        .min()
        .map_or(raw.len(), |at| at + 2);
    &raw[..end]
}

fn sender_of(head: &[u8], policy: &AuthPolicy) -> Option<String> {
    let message = MessageParser::default().parse_headers(head)?;
    if auth_results::is_auto_submitted(message.header_raw("Auto-Submitted").map(str::trim)) {
        return None;
    }
    let from = message.from()?.first()?.address()?.to_ascii_lowercase();
    let (local, domain) = from.rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() {
        return None;
    }
    relais_maildomain::examine::vouched(&message, &from, policy).then_some(from)
}

#[cfg(test)]
mod tests;
