//! Points in time as debroot reads and writes them: seconds since 1970 (UTC), the snapshot form
//! `YYYYMMDDTHHMMSSZ`, and the RFC 2822 form of a `Release` file's `Date` (`Sat, 21 Nov 2026
//! 09:15:44 UTC`).
//!
//! Pure and small on purpose: the civil-date arithmetic is Howard Hinnant's `days_from_civil`,
//! exact for every date debroot can meet, and nothing here reads the clock.

use std::fmt;

/// Seconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

/// Why a text is not a timestamp in the expected form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {form} `{}`: {reason}", crate::debian::escape(.text.as_bytes()))]
pub struct TimestampError {
    pub form: &'static str,
    pub text: String,
    pub reason: &'static str,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Checks a civil date and time and turns it into a timestamp.
fn from_civil(
    year: i64,
    month: u32,
    day: u32,
    (hour, minute, second): (u32, u32, u32),
) -> Result<Timestamp, &'static str> {
    if !(1..=12).contains(&month) {
        return Err("month out of range");
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err("day out of range");
    }
    // 60 allows a leap second, which RFC 2822 permits; it reads as the next second.
    if hour > 23 || minute > 59 || second > 60 {
        return Err("time of day out of range");
    }
    let days = days_from_civil(year, month, day);
    Ok(Timestamp(
        days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second),
    ))
}

fn digits(text: &str) -> Option<u32> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

impl Timestamp {
    /// Parses the snapshot form `YYYYMMDDTHHMMSSZ` (snapshot.debian.org's URL form).
    pub fn parse_snapshot(text: &str) -> Result<Self, TimestampError> {
        let fail = |reason| TimestampError {
            form: "snapshot timestamp (expected YYYYMMDDTHHMMSSZ)",
            text: text.to_owned(),
            reason,
        };
        let b = text.as_bytes();
        if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return Err(fail("wrong shape"));
        }
        let field = |range: std::ops::Range<usize>| digits(&text[range]);
        let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
            field(0..4),
            field(4..6),
            field(6..8),
            field(9..11),
            field(11..13),
            field(13..15),
        ) else {
            return Err(fail("wrong shape"));
        };
        if second > 59 {
            return Err(fail("time of day out of range"));
        }
        from_civil(i64::from(year), month, day, (hour, minute, second)).map_err(fail)
    }

    /// Parses a `Release` file's `Date` or `Valid-Until`: `Sat, 21 Nov 2026 09:15:44 UTC`
    /// (RFC 2822 with the zone `UTC`, `GMT`, `Z` or `+0000`). Other zones are refused: Debian's
    /// archive always writes UTC, and apt rejects the rest.
    pub fn parse_release_date(text: &str) -> Result<Self, TimestampError> {
        let fail = |reason| TimestampError {
            form: "date (expected `Sat, 21 Nov 2026 09:15:44 UTC`)",
            text: text.to_owned(),
            reason,
        };
        let text = text.trim();
        let body = match text.split_once(',') {
            Some((weekday, rest)) => {
                if !WEEKDAYS.contains(&weekday.trim()) {
                    return Err(fail("unknown weekday"));
                }
                rest
            }
            None => text,
        };
        let parts: Vec<&str> = body.split_ascii_whitespace().collect();
        let [day, month, year, time, zone] = parts[..] else {
            return Err(fail("wrong shape"));
        };
        if !matches!(zone, "UTC" | "GMT" | "Z" | "+0000") {
            return Err(fail("time zone is not UTC"));
        }
        let month = MONTHS
            .iter()
            .position(|m| *m == month)
            .ok_or_else(|| fail("unknown month"))? as u32
            + 1;
        let (Some(day), Some(year)) = (digits(day), digits(year)) else {
            return Err(fail("wrong shape"));
        };
        let clock: Vec<&str> = time.split(':').collect();
        let [Some(hour), Some(minute), Some(second)] = [
            clock.first().copied().and_then(digits),
            clock.get(1).copied().and_then(digits),
            clock.get(2).copied().and_then(digits),
        ] else {
            return Err(fail("wrong time of day"));
        };
        if clock.len() != 3 {
            return Err(fail("wrong time of day"));
        }
        from_civil(i64::from(year), month, day, (hour, minute, second)).map_err(fail)
    }

    /// `YYYYMMDDTHHMMSSZ`.
    pub fn snapshot_form(self) -> String {
        let (year, month, day, hour, minute, second) = self.civil();
        format!("{year:04}{month:02}{day:02}T{hour:02}{minute:02}{second:02}Z")
    }

    /// `Sat, 21 Nov 2026 09:15:44 UTC`, the form of a `Release` file.
    pub fn release_form(self) -> String {
        let (year, month, day, hour, minute, second) = self.civil();
        let weekday = WEEKDAYS[self.0.div_euclid(86_400).rem_euclid(7) as usize];
        let month = MONTHS[(month - 1) as usize];
        format!("{weekday}, {day:02} {month} {year} {hour:02}:{minute:02}:{second:02} UTC")
    }

    /// `2026-11-21T09:15:44Z` (RFC 3339), for JSON and logs.
    pub fn rfc3339(self) -> String {
        let (year, month, day, hour, minute, second) = self.civil();
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
    }

    fn civil(self) -> (i64, u32, u32, u32, u32, u32) {
        let (year, month, day) = civil_from_days(self.0.div_euclid(86_400));
        let seconds = self.0.rem_euclid(86_400) as u32;
        (
            year,
            month,
            day,
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60,
        )
    }

    /// The timestamp of a `SystemTime` (whole seconds; before 1970 counts negative).
    pub fn from_system(time: std::time::SystemTime) -> Self {
        match time.duration_since(std::time::UNIX_EPOCH) {
            Ok(after) => Timestamp(after.as_secs() as i64),
            Err(before) => Timestamp(-(before.duration().as_secs() as i64)),
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_form_round_trips() {
        let t = Timestamp::parse_snapshot("20261120T000000Z").unwrap();
        assert_eq!(t.snapshot_form(), "20261120T000000Z");
        assert_eq!(t.rfc3339(), "2026-11-20T00:00:00Z");
        assert_eq!(
            Timestamp::parse_snapshot("19700101T000001Z").unwrap(),
            Timestamp(1)
        );
        assert_eq!(
            Timestamp::parse_snapshot("20240229T235959Z")
                .unwrap()
                .rfc3339(),
            "2024-02-29T23:59:59Z"
        );
    }

    #[test]
    fn snapshot_form_is_strict() {
        for bad in [
            "2024-13-45",
            "20241345T000000Z",
            "20230229T000000Z",
            "20240101T240000Z",
            "20240101T000060Z",
            "20240101T000000",
            "2024010lT000000Z",
            "+2024101T000000Z",
            "",
        ] {
            assert!(Timestamp::parse_snapshot(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn release_dates() {
        let t = Timestamp::parse_release_date("Sat, 21 Nov 2026 09:15:44 UTC").unwrap();
        assert_eq!(t.rfc3339(), "2026-11-21T09:15:44Z");
        assert_eq!(t.release_form(), "Sat, 21 Nov 2026 09:15:44 UTC");
        assert_eq!(
            Timestamp::parse_release_date("Sat,  1 Jun 2024 9:05:00 +0000")
                .unwrap()
                .rfc3339(),
            "2024-06-01T09:05:00Z"
        );
        for bad in [
            "Sat, 21 Nov 2026 09:15:44 CET",
            "Sat, 21 Nov 2026 09:15:44 +0100",
            "Sat, 21 Foo 2026 09:15:44 UTC",
            "Sat, 31 Nov 2026 09:15:44 UTC",
            "Sat, 21 Nov 2026 09:15 UTC",
            "Sat, 21 Nov 2026 09:15:44:00 UTC",
            "yesterday",
            "",
        ] {
            assert!(Timestamp::parse_release_date(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn civil_round_trip_over_centuries() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
