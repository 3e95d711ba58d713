//! ISO 8601 text for the playlist builders: UTC date-times with millisecond precision
//! (`2023-05-17T13:48:35.994Z`, used by HLS `#EXT-X-PROGRAM-DATE-TIME` and the DASH MPD's
//! `availabilityStartTime` / `publishTime`) and second-based durations (`PT20.04S`, DASH).
//!
//! Pure arithmetic on integers: it must not read clocks, do I/O, allocate beyond the returned
//! `String`, or depend on anything outside `std`. The calendar conversion is the proleptic Gregorian
//! "civil from days" algorithm, written here rather than pulled from a date crate.

use std::fmt::Write as _;

/// The smallest epoch-millisecond value [`utc_millis`] formats: 1970-01-01T00:00:00.000Z.
pub const MIN_UTC_MILLIS: i64 = 0;

/// The largest epoch-millisecond value [`utc_millis`] formats: 9999-12-31T23:59:59.999Z (the last
/// instant with a four-digit year, which is all ISO 8601 allows without an agreed expansion).
pub const MAX_UTC_MILLIS: i64 = 253_402_300_799_999;

const MILLIS_PER_DAY: i64 = 86_400_000;

/// Formats milliseconds since the Unix epoch as `YYYY-MM-DDThh:mm:ss.sssZ` (UTC).
///
/// Returns `None` outside [`MIN_UTC_MILLIS`]`..=`[`MAX_UTC_MILLIS`] (negative times are
/// pre-1970 and never come from a KVS timestamp; later than year 9999 cannot be written in four
/// digits); callers omit the tag or clamp with [`utc_millis_clamped`].
pub fn utc_millis(ms: i64) -> Option<String> {
    if !(MIN_UTC_MILLIS..=MAX_UTC_MILLIS).contains(&ms) {
        return None;
    }
    let days = ms.div_euclid(MILLIS_PER_DAY);
    let in_day = ms.rem_euclid(MILLIS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute) = (in_day / 3_600_000, in_day / 60_000 % 60);
    let (second, milli) = (in_day / 1000 % 60, in_day % 1000);
    Some(format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z"))
}

/// [`utc_millis`] with `ms` first clamped into the formattable range, for attributes that must be
/// present (a dynamic MPD's `availabilityStartTime`).
pub fn utc_millis_clamped(ms: i64) -> String {
    let clamped = ms.clamp(MIN_UTC_MILLIS, MAX_UTC_MILLIS);
    utc_millis(clamped).unwrap_or_default()
}

/// Formats a duration in milliseconds as an ISO 8601 duration in seconds only: `PT0S`, `PT2S`,
/// `PT20.04S`, `PT12.345S`, `PT3600S` (no hour or minute fields; every DASH parser accepts the
/// seconds-only form). Trailing zeros of the fraction are dropped.
pub fn duration_millis(ms: u64) -> String {
    let mut out = String::with_capacity(16);
    out.push_str("PT");
    push_decimal_millis(&mut out, ms);
    out.push('S');
    out
}

/// Appends `ms / 1000` as a decimal number with at most three fractional digits and no trailing
/// zeros (`2680` → `2.68`, `2000` → `2`, `0` → `0`). Shared by the HLS `#EXTINF` writer.
pub fn push_decimal_millis(out: &mut String, ms: u64) {
    let (whole, frac) = (ms / 1000, ms % 1000);
    // Writing into a String never fails.
    let _ = write!(out, "{whole}");
    if frac != 0 {
        let digits = format!("{frac:03}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

/// Days since 1970-01-01 → (year, month 1..=12, day 1..=31) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`: shift to eras of 400 years starting on March 1st so the leap
/// day is the last day of the shifted year).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097); // 0..=146096
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100); // 0..=365
    let shifted_month = (5 * day_of_year + 2) / 153; // 0 = March .. 11 = February
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both values are bounded by construction (1..=31, 1..=12).
    (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = MILLIS_PER_DAY;

    #[test]
    fn epoch_and_real_kvs_timestamp() {
        assert_eq!(utc_millis(0).as_deref(), Some("1970-01-01T00:00:00.000Z"));
        assert_eq!(utc_millis(1_684_331_315_994).as_deref(), Some("2023-05-17T13:48:35.994Z"));
        assert_eq!(utc_millis(1_684_331_318_656).as_deref(), Some("2023-05-17T13:48:38.656Z"));
        assert_eq!(utc_millis(999).as_deref(), Some("1970-01-01T00:00:00.999Z"));
        assert_eq!(utc_millis(DAY - 1).as_deref(), Some("1970-01-01T23:59:59.999Z"));
    }

    #[test]
    fn leap_years() {
        // 2024-02-28T00:00:00Z = 19781 days after the epoch.
        let feb28 = 19_781 * DAY;
        assert_eq!(utc_millis(feb28).as_deref(), Some("2024-02-28T00:00:00.000Z"));
        assert_eq!(utc_millis(feb28 + DAY + 1).as_deref(), Some("2024-02-29T00:00:00.001Z"));
        assert_eq!(utc_millis(feb28 + 2 * DAY).as_deref(), Some("2024-03-01T00:00:00.000Z"));
        assert_eq!(utc_millis(feb28 + 307 * DAY).as_deref(), Some("2024-12-31T00:00:00.000Z"));
        assert_eq!(utc_millis(feb28 + 308 * DAY).as_deref(), Some("2025-01-01T00:00:00.000Z"));
        // 2023 is not a leap year: Feb 28 is followed by Mar 1.
        assert_eq!(utc_millis((19_781 - 365) * DAY).as_deref(), Some("2023-02-28T00:00:00.000Z"));
        assert_eq!(utc_millis((19_782 - 365) * DAY).as_deref(), Some("2023-03-01T00:00:00.000Z"));
        // 2000 is a leap year (divisible by 400), 2100 is not (divisible by 100).
        assert_eq!(utc_millis(11_016 * DAY).as_deref(), Some("2000-02-29T00:00:00.000Z"));
        assert_eq!(utc_millis(47_540 * DAY).as_deref(), Some("2100-02-28T00:00:00.000Z"));
        assert_eq!(utc_millis(47_541 * DAY).as_deref(), Some("2100-03-01T00:00:00.000Z"));
    }

    #[test]
    fn every_day_round_trips_through_a_simple_calendar() {
        let is_leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let (mut year, mut month, mut day) = (1970_i64, 1_u32, 1_u32);
        for days in 0..=(MAX_UTC_MILLIS / DAY) {
            assert_eq!(civil_from_days(days), (year, month, day), "day {days}");
            let month_len = match month {
                2 if is_leap(year) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            day += 1;
            if day > month_len {
                (day, month) = (1, month + 1);
                if month > 12 {
                    (month, year) = (1, year + 1);
                }
            }
        }
        assert_eq!((year, month, day), (10_000, 1, 1));
    }

    #[test]
    fn out_of_range() {
        assert_eq!(utc_millis(-1), None);
        assert_eq!(utc_millis(i64::MIN), None);
        assert_eq!(utc_millis(MAX_UTC_MILLIS).as_deref(), Some("9999-12-31T23:59:59.999Z"));
        assert_eq!(utc_millis(MAX_UTC_MILLIS + 1), None);
        assert_eq!(utc_millis(i64::MAX), None);
        assert_eq!(utc_millis_clamped(-5), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc_millis_clamped(i64::MAX), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn durations() {
        assert_eq!(duration_millis(0), "PT0S");
        assert_eq!(duration_millis(20_040), "PT20.04S");
        assert_eq!(duration_millis(12_345), "PT12.345S");
        assert_eq!(duration_millis(2_000), "PT2S");
        assert_eq!(duration_millis(1), "PT0.001S");
        assert_eq!(duration_millis(100), "PT0.1S");
        assert_eq!(duration_millis(3_600_000), "PT3600S");
        assert_eq!(duration_millis(u64::MAX), "PT18446744073709551.615S");
    }
}
