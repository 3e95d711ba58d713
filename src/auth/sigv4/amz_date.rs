//! Request timestamps: the ISO 8601 basic form of `X-Amz-Date` (`20150830T123600Z`), the RFC 1123
//! form of the HTTP `Date` header, and conversion to and from Unix seconds (proleptic Gregorian, UTC).
//!
//! Pure arithmetic on strings the caller hands in: nothing here reads the clock.

/// A request timestamp as it enters the string to sign: always the ISO 8601 basic form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmzDate {
    /// Seconds since the Unix epoch.
    unix: i64,
    /// `YYYYMMDD'T'HHMMSS'Z'`.
    iso: String,
}

const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

impl AmzDate {
    /// Parses `YYYYMMDD'T'HHMMSS'Z'` strictly (16 bytes, a real calendar date, seconds 00..=59).
    pub fn parse_iso8601_basic(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return None;
        }
        let year = digits(&b[0..4])?;
        let month = digits(&b[4..6])?;
        let day = digits(&b[6..8])?;
        let hour = digits(&b[9..11])?;
        let minute = digits(&b[11..13])?;
        let second = digits(&b[13..15])?;
        Self::from_fields(year, month, day, hour, minute, second)
    }

    /// Parses an 8-digit `YYYYMMDD` day (a credential scope date) as midnight UTC of that day.
    pub fn parse_day(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if b.len() != 8 {
            return None;
        }
        Self::from_fields(digits(&b[0..4])?, digits(&b[4..6])?, digits(&b[6..8])?, 0, 0, 0)
    }

    /// Parses the RFC 1123 form of the HTTP `Date` header: `Sun, 06 Nov 1994 08:49:37 GMT`.
    pub fn parse_rfc1123(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if b.len() != 29
            || &b[3..5] != b", "
            || b[7] != b' '
            || b[11] != b' '
            || b[16] != b' '
            || b[19] != b':'
            || b[22] != b':'
            || &b[25..29] != b" GMT"
        {
            return None;
        }
        if !WEEKDAYS.iter().any(|w| w.as_bytes() == &b[0..3]) {
            return None;
        }
        let month = MONTHS.iter().position(|m| m.as_bytes() == &b[8..11])?;
        let month = u32::try_from(month + 1).ok()?;
        Self::from_fields(
            digits(&b[12..16])?,
            month,
            digits(&b[5..7])?,
            digits(&b[17..19])?,
            digits(&b[20..22])?,
            digits(&b[23..25])?,
        )
    }

    /// The timestamp of a Unix time (any `i64`; years outside 0..=9999 print oddly but never panic).
    pub fn from_unix(unix: i64) -> Self {
        let days = unix.div_euclid(86_400);
        let secs = unix.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let iso = format!(
            "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
            secs / 3600,
            (secs % 3600) / 60,
            secs % 60
        );
        Self { unix, iso }
    }

    /// Seconds since the Unix epoch.
    pub fn unix_secs(&self) -> i64 {
        self.unix
    }

    /// The ISO 8601 basic form, `YYYYMMDD'T'HHMMSS'Z'`.
    pub fn as_str(&self) -> &str {
        &self.iso
    }

    /// The day, `YYYYMMDD` (what the credential scope date must equal).
    pub fn day(&self) -> &str {
        self.iso.get(..8).unwrap_or(&self.iso)
    }

    fn from_fields(year: u32, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> Option<Self> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let days = days_from_civil(i64::from(year), month, day);
        let unix = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
        Some(Self::from_unix(unix))
    }
}

/// All-ASCII-digit field to a number (at most 4 digits are ever passed).
fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
}

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_basic_round_trips() {
        let d = AmzDate::parse_iso8601_basic("20150830T123600Z").expect("valid");
        assert_eq!(d.unix_secs(), 1_440_938_160);
        assert_eq!(d.as_str(), "20150830T123600Z");
        assert_eq!(d.day(), "20150830");
        assert_eq!(AmzDate::from_unix(0).as_str(), "19700101T000000Z");
        assert_eq!(AmzDate::from_unix(-1).as_str(), "19691231T235959Z");
        assert_eq!(
            AmzDate::parse_iso8601_basic("20240229T235959Z").map(|d| d.unix_secs()),
            Some(1_709_251_199)
        );
    }

    #[test]
    fn iso_basic_is_strict() {
        for bad in [
            "",
            "20150830T123600",
            "20150830t123600Z",
            "2015-08-30T12:36:00Z",
            "20151330T123600Z",
            "20150230T123600Z",
            "20230229T000000Z",
            "20150830T243600Z",
            "20150830T126000Z",
            "20150830T123660Z",
            "2015083OT123600Z",
            "+0150830T123600Z",
            "２0150830T12360Z",
        ] {
            assert!(AmzDate::parse_iso8601_basic(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn rfc1123_parses() {
        let d = AmzDate::parse_rfc1123("Sun, 30 Aug 2015 12:36:00 GMT").expect("valid");
        assert_eq!(d.as_str(), "20150830T123600Z");
        assert!(AmzDate::parse_rfc1123("Sun, 30 Aug 2015 12:36:00 UTC").is_none());
        assert!(AmzDate::parse_rfc1123("Xyz, 30 Aug 2015 12:36:00 GMT").is_none());
        assert!(AmzDate::parse_rfc1123("Sun, 31 Sep 2015 12:36:00 GMT").is_none());
        assert!(AmzDate::parse_rfc1123("Sunday, 30-Aug-15 12:36:00 GMT").is_none());
    }

    #[test]
    fn days_match_known_dates() {
        assert_eq!(AmzDate::parse_day("20000301").map(|d| d.unix_secs()), Some(951_868_800));
        assert_eq!(
            AmzDate::parse_day("99991231").map(|d| d.as_str().to_owned()).as_deref(),
            Some("99991231T000000Z")
        );
        assert!(AmzDate::parse_day("2015083").is_none());
        // Extreme Unix times format without panicking.
        let _ = AmzDate::from_unix(i64::MAX).as_str().len();
        let _ = AmzDate::from_unix(i64::MIN).as_str().len();
    }
}
