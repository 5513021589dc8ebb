//! Wall-clock helpers; the store keeps times as milliseconds since the Unix epoch.

mod paris;

use std::time::{SystemTime, UNIX_EPOCH};

pub use paris::{
    DAY_MS, civil_from_days, days_from_civil, format_paris, last_due, paris_local_ms, paris_offset_minutes,
    paris_to_utc, parse_paris, weekday,
};

/// Milliseconds since the Unix epoch, saturating instead of failing on a clock before 1970.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
