//! Local time in Europe/Paris (the party's time zone), from the time zone database bundled with
//! jiff: every machine reads the same rules, and whatever the EU decides about summer time
//! arrives with the database, not as a change of code. Instants are UTC milliseconds, as the
//! store keeps them.

use std::sync::LazyLock;

use jiff::{Timestamp, Zoned, civil, tz::TimeZone};

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

static PARIS: LazyLock<TimeZone> = LazyLock::new(|| {
    // The database is compiled in (jiff's `tzdb-bundle-always`): the lookup cannot fail.
    TimeZone::get("Europe/Paris").expect("Europe/Paris is in the bundled time zone database")
});

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day number.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if month <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, month, day)
}

/// 1 = Monday … 7 = Sunday.
pub fn weekday(days: i64) -> u32 {
    ((days + 3).rem_euclid(7) + 1) as u32
}

/// The instant in Paris, or `None` outside jiff's range (years -9999 to 9999).
fn zoned(utc_ms: i64) -> Option<Zoned> {
    Some(Timestamp::from_millisecond(utc_ms).ok()?.to_zoned(PARIS.clone()))
}

/// Offset of Paris from UTC at instant `utc_ms`, in minutes (60 or 120 under today's rules).
pub fn paris_offset_minutes(utc_ms: i64) -> i64 {
    Timestamp::from_millisecond(utc_ms).map_or(60, |at| i64::from(PARIS.to_offset(at).seconds() / 60))
}

/// Local wall-clock (ms since the local epoch) of an instant.
pub fn paris_local_ms(utc_ms: i64) -> i64 {
    utc_ms + paris_offset_minutes(utc_ms) * 60_000
}

/// The civil date and time of local ms since the local epoch, if in range.
fn civil_of(local_ms: i64) -> Option<civil::DateTime> {
    let (year, month, day) = civil_from_days(local_ms.div_euclid(DAY_MS));
    let date = civil::Date::new(i16::try_from(year).ok()?, month as i8, day as i8).ok()?;
    let millis = local_ms.rem_euclid(DAY_MS);
    let time = civil::Time::new(
        (millis / 3_600_000) as i8,
        (millis / 60_000 % 60) as i8,
        (millis / 1000 % 60) as i8,
        (millis % 1000 * 1_000_000) as i32,
    )
    .ok()?;
    Some(date.to_datetime(time))
}

/// The instant (UTC ms) of a Paris wall-clock time given as local ms since the local epoch.
/// Within the autumn changeover hour, the first (summer) reading is taken; a time skipped in
/// spring is read after the change.
pub fn paris_to_utc(local_ms: i64) -> i64 {
    civil_of(local_ms)
        .and_then(|at| PARIS.to_ambiguous_timestamp(at).compatible().ok())
        .map_or(local_ms - 60 * 60_000, |at| at.as_millisecond())
}

/// Parses `YYYY-MM-DD HH:MM` (Paris time) to UTC ms.
pub fn parse_paris(text: &str) -> Option<i64> {
    let (date, time) = text.trim().split_once([' ', 'T'])?;
    let mut d = date.split('-');
    let (y, m, day): (i16, i8, i8) =
        (d.next()?.parse().ok()?, d.next()?.parse().ok()?, d.next()?.parse().ok()?);
    let (h, mi) = time.trim().split_once(':')?;
    let (h, mi): (i8, i8) = (h.parse().ok()?, mi.parse().ok()?);
    let at = civil::Date::new(y, m, day).ok()?.to_datetime(civil::Time::new(h, mi, 0, 0).ok()?);
    Some(PARIS.to_ambiguous_timestamp(at).compatible().ok()?.as_millisecond())
}

/// `"lun. 23/11 à 18:02"`-style local time for digests.
pub fn format_paris(utc_ms: i64) -> String {
    let Some(at) = zoned(utc_ms) else { return String::from("?") };
    let names = ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."];
    let name = names[usize::from(at.weekday().to_monday_zero_offset().unsigned_abs())];
    format!("{name} {:02}/{:02} à {:02}:{:02}", at.day(), at.month(), at.hour(), at.minute())
}

/// The most recent instant (UTC ms) at or before `now` when a digest was due: local time
/// `minutes` after midnight, every day (`weekday` None) or on that weekday (1 = Monday).
pub fn last_due(now_ms: i64, minutes: u32, weekday_due: Option<u32>) -> i64 {
    let (Some(now), Ok(time)) =
        (zoned(now_ms), civil::Time::new((minutes / 60 % 24) as i8, (minutes % 60) as i8, 0, 0))
    else {
        return now_ms;
    };
    let mut date = now.date();
    for _ in 0..8 {
        let due = PARIS.to_ambiguous_timestamp(date.to_datetime(time)).compatible();
        let on_day =
            weekday_due.is_none_or(|w| u32::from(date.weekday().to_monday_one_offset().unsigned_abs()) == w);
        if let Ok(due) = due
            && due <= now.timestamp()
            && on_day
        {
            return due.as_millisecond();
        }
        let Ok(before) = date.yesterday() else { break };
        date = before;
    }
    now_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i64, mo: u32, d: u32, h: i64, mi: i64) -> i64 {
        days_from_civil(y, mo, d) * DAY_MS + h * 3_600_000 + mi * 60_000
    }

    #[test]
    fn paris_summer_and_winter_time() {
        assert_eq!(paris_offset_minutes(utc(2026, 1, 15, 12, 0)), 60);
        assert_eq!(paris_offset_minutes(utc(2026, 7, 1, 12, 0)), 120);
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(paris_offset_minutes(utc(2026, 3, 29, 0, 59)), 60);
        assert_eq!(paris_offset_minutes(utc(2026, 3, 29, 1, 0)), 120);
        assert_eq!(paris_offset_minutes(utc(2026, 10, 25, 0, 59)), 120);
        assert_eq!(paris_offset_minutes(utc(2026, 10, 25, 1, 0)), 60);
        assert_eq!(format_paris(utc(2026, 11, 23, 17, 2)), "lun. 23/11 à 18:02");
        assert_eq!(civil_from_days(days_from_civil(2028, 2, 29)), (2028, 2, 29));
        assert_eq!(parse_paris("2026-11-23 18:02"), Some(utc(2026, 11, 23, 17, 2)));
        assert_eq!(parse_paris("2026-07-01 08:00"), Some(utc(2026, 7, 1, 6, 0)));
        assert_eq!(parse_paris("2026-02-30 08:00"), None);
    }

    #[test]
    fn changeover_hours_read_as_people_mean_them() {
        // 25 October 2026, 02:30 happens twice: the first (summer) reading.
        assert_eq!(parse_paris("2026-10-25 02:30"), Some(utc(2026, 10, 25, 0, 30)));
        // 29 March 2026, 02:30 never happens: read after the change (03:30 summer time).
        assert_eq!(parse_paris("2026-03-29 02:30"), Some(utc(2026, 3, 29, 1, 30)));
        // Other years' dates come from the database: 28 March and 31 October 2027.
        assert_eq!(paris_offset_minutes(utc(2027, 3, 28, 0, 59)), 60);
        assert_eq!(paris_offset_minutes(utc(2027, 3, 28, 1, 0)), 120);
        assert_eq!(paris_offset_minutes(utc(2027, 10, 31, 1, 0)), 60);
        let now = utc(2026, 11, 30, 17, 0);
        assert_eq!(paris_to_utc(paris_local_ms(now)), now);
        assert_eq!(format_paris(utc(2027, 7, 14, 20, 30)), "mer. 14/07 à 22:30");
        // Out of range: said, never a panic.
        assert_eq!(format_paris(i64::MAX), "?");
        assert_eq!(last_due(i64::MIN, 7 * 60, None), i64::MIN);
    }

    #[test]
    fn digests_fall_due_at_local_time() {
        // 07:00 Paris in November is 06:00 UTC.
        let now = utc(2026, 11, 24, 6, 30);
        assert_eq!(last_due(now, 7 * 60, None), utc(2026, 11, 24, 6, 0));
        let early = utc(2026, 11, 24, 5, 0);
        assert_eq!(last_due(early, 7 * 60, None), utc(2026, 11, 23, 6, 0));
        // In July, 07:00 Paris is 05:00 UTC.
        assert_eq!(last_due(utc(2026, 7, 2, 9, 0), 7 * 60, None), utc(2026, 7, 2, 5, 0));
        // Weekly on Monday: 23 November 2026 is a Monday.
        assert_eq!(last_due(utc(2026, 11, 26, 9, 0), 7 * 60, Some(1)), utc(2026, 11, 23, 6, 0));
    }
}
