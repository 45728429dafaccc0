//! Calendar days in a fixed UTC offset, without a time-zone database or a clock.
//!
//! A [`Day`] is a count of days since 1970-01-01 in the wearer's local calendar; which
//! instants belong to it depends on the [`UtcOffset`] it is read in. Conversions between
//! day numbers and civil dates use the proleptic Gregorian algorithms of H. Hinnant,
//! "chrono-Compatible Low-Level Date Algorithms" (`days_from_civil`, `civil_from_days`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{AnalyticsError, Result};

/// Milliseconds in a minute.
pub const MINUTE_MS: i64 = 60_000;
/// Milliseconds in an hour.
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
/// Milliseconds in a day (a fixed offset has no daylight-saving days of 23 or 25 hours).
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// A fixed offset from UTC, in whole minutes east (UTC+02:00 is `120`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "i32", into = "i32")]
pub struct UtcOffset(i32);

impl UtcOffset {
    /// UTC itself.
    pub const UTC: UtcOffset = UtcOffset(0);

    /// An offset of `minutes` east of UTC; at most ±18 hours.
    pub fn from_minutes(minutes: i32) -> Result<UtcOffset> {
        if minutes.abs() > 18 * 60 {
            return Err(AnalyticsError::InvalidOffset { minutes });
        }
        Ok(UtcOffset(minutes))
    }

    /// Minutes east of UTC.
    pub fn minutes(self) -> i32 {
        self.0
    }

    /// Milliseconds east of UTC.
    pub fn millis(self) -> i64 {
        i64::from(self.0) * MINUTE_MS
    }
}

impl TryFrom<i32> for UtcOffset {
    type Error = AnalyticsError;
    fn try_from(minutes: i32) -> Result<UtcOffset> {
        UtcOffset::from_minutes(minutes)
    }
}

impl From<UtcOffset> for i32 {
    fn from(offset: UtcOffset) -> i32 {
        offset.0
    }
}

/// A local calendar day: days since 1970-01-01 (day 0), in some [`UtcOffset`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Day(i64);

impl Day {
    /// The day with this number (days since 1970-01-01).
    pub const fn from_number(days: i64) -> Day {
        Day(days)
    }

    /// The day a civil date names, or `None` for a month outside 1–12 or a day outside
    /// the month.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Day> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Day(days_from_civil(
            i64::from(year),
            i64::from(month),
            i64::from(day),
        )))
    }

    /// The local day, in `offset`, that contains the instant `t_ms` (Unix ms, UTC).
    pub fn containing(t_ms: i64, offset: UtcOffset) -> Day {
        Day(t_ms.saturating_add(offset.millis()).div_euclid(DAY_MS))
    }

    /// Days since 1970-01-01.
    pub fn number(self) -> i64 {
        self.0
    }

    /// The first instant of the day in `offset` (Unix ms, UTC).
    pub fn start_ms(self, offset: UtcOffset) -> i64 {
        self.0
            .saturating_mul(DAY_MS)
            .saturating_sub(offset.millis())
    }

    /// The day after.
    pub fn next(self) -> Day {
        Day(self.0.saturating_add(1))
    }

    /// The day `n` days later (earlier for negative `n`).
    pub fn plus(self, n: i64) -> Day {
        Day(self.0.saturating_add(n))
    }

    /// Whole days from `earlier` to `self`.
    pub fn days_since(self, earlier: Day) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// The civil date: (year, month 1–12, day 1–31).
    pub fn ymd(self) -> (i64, u32, u32) {
        civil_from_days(self.0)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Day number of a proleptic Gregorian date (Hinnant's `days_from_civil`): years are
/// counted from March so that the leap day is the last day of the counted year, and
/// whole 400-year eras of 146,097 days are split off first.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`] (Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // month is 1..=12 and day 1..=31 by construction.
    (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(Day::from_ymd(1970, 1, 1), Some(Day(0)));
        assert_eq!(Day::from_ymd(2000, 3, 1), Some(Day(11_017)));
        assert_eq!(
            Day::from_ymd(2016, 4, 12).unwrap().to_string(),
            "2016-04-12"
        );
        assert_eq!(Day(-1).to_string(), "1969-12-31");
        assert_eq!(Day::from_ymd(2023, 2, 29), None);
        assert_eq!(
            Day::from_ymd(2024, 2, 29).unwrap().next().ymd(),
            (2024, 3, 1)
        );
    }

    #[test]
    fn round_trip_over_four_centuries() {
        for n in -150_000..150_000 {
            let (y, m, d) = Day(n).ymd();
            assert_eq!(Day::from_ymd(y as i32, m, d), Some(Day(n)));
        }
    }

    #[test]
    fn offsets_move_the_day_boundary() {
        let plus2 = UtcOffset::from_minutes(120).unwrap();
        // 2016-04-12T23:00Z is already 2016-04-13 at UTC+2.
        let t = Day::from_ymd(2016, 4, 12).unwrap().start_ms(UtcOffset::UTC) + 23 * HOUR_MS;
        assert_eq!(Day::containing(t, UtcOffset::UTC).to_string(), "2016-04-12");
        assert_eq!(Day::containing(t, plus2).to_string(), "2016-04-13");
        assert_eq!(Day::containing(t, plus2).start_ms(plus2), t - HOUR_MS);
        assert!(UtcOffset::from_minutes(19 * 60).is_err());
        // Extreme instants saturate instead of overflowing.
        let _ = Day::containing(i64::MIN, plus2).start_ms(plus2);
        let _ = Day::containing(i64::MAX, plus2).next().start_ms(plus2);
    }
}
