//! Digest scheduling: a daily and a weekly digest open at `[mail] digest_time` (Europe/Paris),
//! each over the messages stored since the previous digest of its kind.

use relais_core::{
    config::{DeliveryMode, MailConfig},
    store::StoreError,
    time::{last_due, now_ms},
};

use crate::store::{Digest, MailStore};

/// Opens the digests that are due at `now` and not opened yet; returns them with the number of
/// mails queued.
pub async fn open_due(
    store: &MailStore,
    mail: &MailConfig,
    now: i64,
) -> Result<Vec<(Digest, u64)>, StoreError> {
    let minutes = mail.digest_minutes().unwrap_or(7 * 60);
    let mut opened = Vec::new();
    for (mode, weekday) in [(DeliveryMode::Daily, None), (DeliveryMode::Weekly, Some(mail.weekly_day))] {
        let due = last_due(now, minutes, weekday);
        let last = store.last_digest_at(mode).await?;
        if last.is_some_and(|at| at >= due) {
            continue;
        }
        if let Some(digest) = store.create_digest(mode, mail.default_mode).await? {
            opened.push(digest);
        }
    }
    Ok(opened)
}

/// Opens a daily and a weekly digest at once (`relais mail digest --now`).
pub async fn open_now(store: &MailStore, mail: &MailConfig) -> Result<Vec<(Digest, u64)>, StoreError> {
    let mut opened = Vec::new();
    for mode in [DeliveryMode::Daily, DeliveryMode::Weekly] {
        if let Some(digest) = store.create_digest(mode, mail.default_mode).await? {
            opened.push(digest);
        }
    }
    Ok(opened)
}

/// How often what the bridge no longer needs is dropped ([`MailStore::prune`]).
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Checks every minute whether a digest is due, and every hour drops what is older than
/// `[mail] retention_days`; runs until `shutdown`.
pub async fn run(
    store: MailStore,
    mail: MailConfig,
    shutdown: tokio_util::sync::CancellationToken,
    heartbeat: relais_appservice::health::Heartbeat,
) {
    let mut pruned_at: Option<std::time::Instant> = None;
    loop {
        heartbeat.beat();
        if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            pruned_at = Some(std::time::Instant::now());
            let keep_ms = i64::from(mail.retention_days) * 24 * 3600 * 1000;
            match store.prune(keep_ms).await {
                Ok(pruned) => tracing::debug!(pruned, "old mail data dropped"),
                Err(e) => tracing::warn!(error = %e, "cannot drop old mail data, retrying in an hour"),
            }
        }
        match open_due(&store, &mail, now_ms()).await {
            Ok(opened) => {
                for (digest, queued) in opened {
                    tracing::info!(mode = digest.mode.as_str(), queued, "digest opened");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot open digests, retrying in a minute"),
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => {}
            () = shutdown.cancelled() => return,
        }
    }
}
