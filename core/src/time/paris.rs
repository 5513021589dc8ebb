//! Local time in Europe/Paris (the party's time zone) without a time zone database: EU rules,
//! summer time from the last Sunday of March 01:00 UTC to the last Sunday of October 01:00 UTC.

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

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

fn last_sunday(year: i64, month: u32) -> i64 {
    let last = days_from_civil(year, month, 31);
    last - i64::from(weekday(last) % 7)
}

/// Offset of Paris from UTC at instant `utc_ms`, in minutes (60 or 120).
pub fn paris_offset_minutes(utc_ms: i64) -> i64 {
    let (year, _, _) = civil_from_days(utc_ms.div_euclid(DAY_MS));
    let start = last_sunday(year, 3) * DAY_MS + 3_600_000;
    let end = last_sunday(year, 10) * DAY_MS + 3_600_000;
    if (start..end).contains(&utc_ms) { 120 } else { 60 }
}

/// Local wall-clock (ms since the local epoch) of an instant.
pub fn paris_local_ms(utc_ms: i64) -> i64 {
    utc_ms + paris_offset_minutes(utc_ms) * 60_000
}

/// The instant (UTC ms) of a Paris wall-clock time given as local ms since the local epoch.
/// Within the autumn changeover hour, the first (summer) reading is taken.
pub fn paris_to_utc(local_ms: i64) -> i64 {
    let summer = local_ms - 120 * 60_000;
    if paris_offset_minutes(summer) == 120 { summer } else { local_ms - 60 * 60_000 }
}

/// Parses `YYYY-MM-DD HH:MM` (Paris time) to UTC ms.
pub fn parse_paris(text: &str) -> Option<i64> {
    let (date, time) = text.trim().split_once([' ', 'T'])?;
    let mut d = date.split('-');
    let (y, m, day): (i64, u32, u32) =
        (d.next()?.parse().ok()?, d.next()?.parse().ok()?, d.next()?.parse().ok()?);
    let (h, mi) = time.trim().split_once(':')?;
    let (h, mi): (i64, i64) = (h.parse().ok()?, mi.parse().ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || !(0..24).contains(&h) || !(0..60).contains(&mi) {
        return None;
    }
    let days = days_from_civil(y, m, day);
    if civil_from_days(days) != (y, m, day) {
        return None;
    }
    Some(paris_to_utc(days * DAY_MS + h * 3_600_000 + mi * 60_000))
}

/// `"lun. 23/11 à 18:02"`-style local time for digests.
pub fn format_paris(utc_ms: i64) -> String {
    let local = paris_local_ms(utc_ms);
    let days = local.div_euclid(DAY_MS);
    let (_, month, day) = civil_from_days(days);
    let minutes = local.rem_euclid(DAY_MS) / 60_000;
    let name = ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."][(weekday(days) - 1) as usize];
    format!("{name} {day:02}/{month:02} à {:02}:{:02}", minutes / 60, minutes % 60)
}

/// The most recent instant (UTC ms) at or before `now` when a digest was due: local time
/// `minutes` after midnight, every day (`weekday` None) or on that weekday.
pub fn last_due(now_ms: i64, minutes: u32, weekday_due: Option<u32>) -> i64 {
    let local_now = paris_local_ms(now_ms);
    let mut day = local_now.div_euclid(DAY_MS);
    for _ in 0..8 {
        let local = day * DAY_MS + i64::from(minutes) * 60_000;
        // Convert back: the offset at that local time (off by one hour only within the
        // changeover hour, where either reading is acceptable for a digest).
        let utc = local - paris_offset_minutes(local - 60 * 60_000) * 60_000;
        if utc <= now_ms && weekday_due.is_none_or(|w| weekday(day) == w) {
            return utc;
        }
        day -= 1;
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
