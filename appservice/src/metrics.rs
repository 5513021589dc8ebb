//! Prometheus metrics, kept as plain atomics and rendered in the text exposition format.

use std::{
    fmt::Write,
    sync::atomic::{AtomicU64, Ordering},
};

use crate::queue::QueueStats;

/// A monotonically increasing counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Every counter Relais exports. Gauges (queue depth) are read from the store at scrape time,
/// so they are right whichever worker did the work.
#[derive(Debug, Default)]
pub struct Metrics {
    pub transactions: Counter,
    pub transactions_duplicate: Counter,
    pub events_received: Counter,
    pub events_malformed: Counter,
    pub events_handled: Counter,
    pub event_attempts_failed: Counter,
    pub auth_rejected: Counter,
    pub pings: Counter,
    pub client_requests: Counter,
    pub client_retries: Counter,
    pub client_errors: Counter,
    /// The long-running workers of `relais serve` and their heartbeats.
    pub workers: crate::health::Workers,
}

impl Metrics {
    /// Renders the exposition text, with the queue gauges when the store answered.
    pub fn render(&self, queue: Option<QueueStats>) -> String {
        let counters: [(&str, &str, &Counter); 11] = [
            ("relais_transactions_total", "Transactions received from the homeserver.", &self.transactions),
            (
                "relais_transactions_duplicate_total",
                "Transactions received again and not reprocessed.",
                &self.transactions_duplicate,
            ),
            (
                "relais_events_received_total",
                "New events journaled from transactions.",
                &self.events_received,
            ),
            (
                "relais_events_malformed_total",
                "Events skipped because they were not valid.",
                &self.events_malformed,
            ),
            ("relais_events_handled_total", "Events every handler completed.", &self.events_handled),
            (
                "relais_event_attempts_failed_total",
                "Handler attempts that failed and were rescheduled.",
                &self.event_attempts_failed,
            ),
            (
                "relais_auth_rejected_total",
                "Appservice API calls refused for a missing or wrong token.",
                &self.auth_rejected,
            ),
            ("relais_pings_total", "Appservice pings received from the homeserver.", &self.pings),
            (
                "relais_client_requests_total",
                "Client-server API calls made to the homeserver.",
                &self.client_requests,
            ),
            (
                "relais_client_retries_total",
                "Client-server API calls retried (rate limit or outage).",
                &self.client_retries,
            ),
            (
                "relais_client_errors_total",
                "Client-server API calls that failed for good.",
                &self.client_errors,
            ),
        ];
        let mut out = String::new();
        for (name, help, counter) in counters {
            // Writing to a String cannot fail.
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", counter.get());
        }
        let workers = self.workers.report(relais_core::time::now_ms());
        if !workers.is_empty() {
            let _ = writeln!(
                out,
                "# HELP relais_worker_up Whether a worker is running and beating (1) or stopped or stuck (0)."
            );
            let _ = writeln!(out, "# TYPE relais_worker_up gauge");
            for w in &workers {
                let up = u8::from(w.state == crate::health::WorkerState::Alive);
                let _ = writeln!(out, "relais_worker_up{{worker=\"{}\"}} {up}", w.name);
            }
            let _ =
                writeln!(out, "# HELP relais_worker_heartbeat_age_seconds Seconds since a worker last beat.");
            let _ = writeln!(out, "# TYPE relais_worker_heartbeat_age_seconds gauge");
            for w in &workers {
                let age = w.since_beat_ms as f64 / 1000.0;
                let _ =
                    writeln!(out, "relais_worker_heartbeat_age_seconds{{worker=\"{}\"}} {age:.3}", w.name);
            }
        }
        if let Some(q) = queue {
            let _ = writeln!(out, "# HELP relais_queue_events Events in the intake queue by state.");
            let _ = writeln!(out, "# TYPE relais_queue_events gauge");
            for (state, n) in [("pending", q.pending), ("failed", q.failed), ("done", q.done)] {
                let _ = writeln!(out, "relais_queue_events{{state=\"{state}\"}} {n}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_gauges() {
        let m = Metrics::default();
        m.transactions.add(3);
        let text = m.render(Some(QueueStats { pending: 2, failed: 1, done: 5 }));
        assert!(text.contains("relais_transactions_total 3\n"), "{text}");
        assert!(text.contains("relais_queue_events{state=\"pending\"} 2\n"), "{text}");
        assert!(!m.render(None).contains("relais_queue_events{"));
    }
}
