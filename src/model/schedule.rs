//! [`CronSchedule`]: the Quartz cron expressions of the KVS Edge Agent's `ScheduleConfig`
//! (`ScheduleExpression`), parsed once and evaluated against epoch seconds (UTC).
//!
//! Owns the syntax and the "when does the next window start / is a window open" arithmetic. It
//! must not read clocks: callers pass the time. Supported: the six or seven Quartz fields
//! `seconds minutes hours day-of-month month day-of-week [year]`, each `*`, `?`, a number, a
//! range `a-b`, a step `x/n` (`*/n`, `a/n`, `a-b/n`), or a comma list of those; month names
//! `JAN`..`DEC` and day names `SUN`..`SAT` (Quartz numbers days 1 = Sunday .. 7 = Saturday).
//! Not supported (refused with a message): `L`, `W` and `#`.

use super::ValidationError;

/// Seconds in a day.
const DAY: i64 = 86_400;
/// How far ahead [`CronSchedule::next_start`] looks without a year field: 28 years, the longest
/// cycle of days of the week against dates (29 February on a Monday comes back within it).
const HORIZON_DAYS: i64 = 366 * 28;
/// 2200-01-01, the end of the years the year field admits.
const LAST_DAY: i64 = 84_006;

/// A parsed Quartz cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    seconds: u64,
    minutes: u64,
    hours: u32,
    days_of_month: u32,
    months: u16,
    /// Bit 0 = Sunday.
    days_of_week: u8,
    /// Whether day-of-month was `?` or `*` (then only day-of-week restricts days).
    dom_any: bool,
    /// Whether day-of-week was `?` or `*`.
    dow_any: bool,
    /// Allowed years (1970..=2199 as offsets from 1970), `None` = any.
    years: Option<Vec<i32>>,
}

fn err(expr: &str, why: &str) -> ValidationError {
    ValidationError::new(format!(
        "The schedule expression '{expr}' is not a valid Quartz cron expression: {why}"
    ))
}

const MONTHS: [&str; 12] =
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Parses one field into the list of allowed values within `min..=max`.
fn field(
    expr: &str,
    text: &str,
    min: u32,
    max: u32,
    names: &[&str],
    name_base: u32,
) -> Result<(Vec<u32>, bool), ValidationError> {
    let value = |s: &str| -> Result<u32, ValidationError> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            return Ok(i as u32 + name_base);
        }
        let v: u32 = s.parse().map_err(|_| err(expr, &format!("'{s}' is not a number")))?;
        if v < min || v > max {
            return Err(err(expr, &format!("{v} is outside {min}-{max}")));
        }
        Ok(v)
    };
    if text == "?" || text == "*" {
        return Ok(((min..=max).collect(), true));
    }
    if text.contains(['L', 'W', '#']) && !names.iter().any(|n| text.eq_ignore_ascii_case(n)) {
        let named = names.iter().any(|n| text.to_ascii_uppercase().contains(n));
        if !named {
            return Err(err(expr, "L, W and # are not supported"));
        }
    }
    let mut out = Vec::new();
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s.parse().map_err(|_| err(expr, &format!("bad step '{s}'")))?;
                if step == 0 {
                    return Err(err(expr, "a step must be at least 1"));
                }
                (r, step)
            }
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" || range == "?" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let v = value(range)?;
            (v, if part.contains('/') { max } else { v })
        };
        if lo > hi {
            return Err(err(expr, &format!("range {lo}-{hi} is reversed")));
        }
        out.extend((lo..=hi).step_by(step as usize));
    }
    Ok((out, false))
}

impl CronSchedule {
    /// Parses a Quartz expression (six or seven whitespace-separated fields).
    pub fn parse(expr: &str) -> Result<Self, ValidationError> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        if fields.len() != 6 && fields.len() != 7 {
            return Err(err(
                expr,
                "expected 6 or 7 fields: seconds minutes hours day-of-month month day-of-week [year]",
            ));
        }
        let bits64 = |v: &[u32]| v.iter().fold(0u64, |acc, &x| acc | (1u64 << x));
        let (sec, _) = field(expr, fields[0], 0, 59, &[], 0)?;
        let (min, _) = field(expr, fields[1], 0, 59, &[], 0)?;
        let (hour, _) = field(expr, fields[2], 0, 23, &[], 0)?;
        let (dom, dom_any) = field(expr, fields[3], 1, 31, &[], 0)?;
        let (month, _) = field(expr, fields[4], 1, 12, &MONTHS, 1)?;
        let (dow, dow_any) = field(expr, fields[5], 1, 7, &DAYS, 1)?;
        let years = match fields.get(6) {
            None => None,
            Some(y) => {
                let (ys, any) = field(expr, y, 1970, 2199, &[], 0)?;
                (!any).then(|| ys.into_iter().map(|v| v as i32).collect())
            }
        };
        let schedule = CronSchedule {
            seconds: bits64(&sec),
            minutes: bits64(&min),
            hours: bits64(&hour) as u32,
            days_of_month: bits64(&dom) as u32,
            months: bits64(&month) as u16,
            days_of_week: dow.iter().fold(0u8, |acc, &d| acc | (1 << (d - 1))),
            dom_any,
            dow_any,
            years,
        };
        Ok(schedule)
    }

    fn day_matches(&self, days_since_epoch: i64) -> bool {
        let (y, m, d) = civil_from_days(days_since_epoch);
        if self.years.as_ref().is_some_and(|ys| !ys.contains(&(y as i32))) {
            return false;
        }
        if self.months & (1 << m) == 0 {
            return false;
        }
        // 1970-01-01 was a Thursday (bit 4 with Sunday = bit 0).
        let weekday = (days_since_epoch + 4).rem_euclid(7) as u8;
        let dom_ok = self.days_of_month & (1 << d) != 0;
        let dow_ok = self.days_of_week & (1 << weekday) != 0;
        match (self.dom_any, self.dow_any) {
            (true, true) => true,
            (true, false) => dow_ok,
            (false, true) => dom_ok,
            (false, false) => dom_ok && dow_ok,
        }
    }

    /// The first second at or after `from` (epoch seconds, UTC) that the expression names, if any
    /// (within its last year, or within 28 years without a year field).
    pub fn next_start(&self, from: i64) -> Option<i64> {
        let first_day = from.div_euclid(DAY);
        let last_day = match &self.years {
            Some(years) => {
                let last_year = i64::from(years.iter().copied().max()?);
                // Days from the epoch to 1 January of the year after the last one.
                let end = days_from_civil(last_year + 1);
                if end <= first_day {
                    return None;
                }
                end.min(LAST_DAY)
            }
            None => first_day + HORIZON_DAYS,
        };
        for day in first_day..last_day {
            if !self.day_matches(day) {
                continue;
            }
            let day_start = day * DAY;
            for h in 0..24i64 {
                if self.hours & (1 << h) == 0 || day_start + (h + 1) * 3600 <= from {
                    continue;
                }
                for m in 0..60i64 {
                    if self.minutes & (1 << m) == 0 || day_start + h * 3600 + (m + 1) * 60 <= from {
                        continue;
                    }
                    for s in 0..60i64 {
                        let t = day_start + h * 3600 + m * 60 + s;
                        if self.seconds & (1 << s) != 0 && t >= from {
                            return Some(t);
                        }
                    }
                }
            }
        }
        None
    }

    /// If a window of `duration_secs` that started at a matching second contains `now`, when that
    /// window ends (epoch seconds); `None` when no window is open.
    pub fn open_window_end(&self, now: i64, duration_secs: i64) -> Option<i64> {
        let mut start = self.next_start(now - duration_secs + 1)?;
        if start > now {
            return None;
        }
        // The latest start inside the window: windows that overlap run from the last one.
        while let Some(next) = self.next_start(start + 1).filter(|&n| n <= now) {
            start = next;
        }
        Some(start + duration_secs)
    }
}

/// Days since 1970-01-01 of 1 January of `year`.
fn days_from_civil(year: i64) -> i64 {
    let y = year - 1;
    365 * (y - 1969) + y.div_euclid(4) - 492 - (y.div_euclid(100) - 19) + (y.div_euclid(400) - 4)
}

/// Days since 1970-01-01 → (year, month 1..=12, day 1..=31), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-04T10:15:30Z, a Friday.
    const T: i64 = 1_796_379_330;

    #[test]
    fn every_hour_on_the_hour() {
        let c = CronSchedule::parse("0 0 * * * ?").unwrap();
        assert_eq!(c.next_start(T), Some(1_796_382_000)); // 11:00:00
        assert_eq!(c.open_window_end(T, 3600), Some(1_796_382_000));
        assert_eq!(c.open_window_end(T, 60), None);
    }

    #[test]
    fn steps_ranges_lists_and_names() {
        let c = CronSchedule::parse("0/20 * 9-17 ? * MON-FRI").unwrap();
        assert_eq!(c.next_start(T), Some(T + 10)); // 10:15:40
        let weekend = CronSchedule::parse("0 0 12 ? * SAT,SUN").unwrap();
        assert_eq!(weekend.next_start(T), Some(1_796_472_000)); // Saturday 12:00
        let jan = CronSchedule::parse("0 0 0 1 JAN ? 2027").unwrap();
        assert_eq!(jan.next_start(T), Some(1_798_761_600)); // 2027-01-01T00:00:00Z
        assert_eq!(CronSchedule::parse("0 0 0 1 JAN ? 2025").unwrap().next_start(T), None);
        // Far years are found (2099-01-01T00:00:00Z).
        assert_eq!(CronSchedule::parse("0 0 0 1 1 ? 2099").unwrap().next_start(T), Some(4_070_908_800));
    }

    #[test]
    fn bad_expressions_say_why() {
        for bad in
            ["* * * * *", "61 * * * * ?", "0 0 L * * ?", "0 0 * * * 2#1", "a b c d e f", "0 0/0 * * * ?"]
        {
            assert!(CronSchedule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(T / DAY), (2026, 12, 4));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        for year in [1970, 2000, 2026, 2099, 2100, 2199] {
            assert_eq!(civil_from_days(days_from_civil(year)), (year, 1, 1), "{year}");
        }
    }
}
