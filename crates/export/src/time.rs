//! UTC instants as text and as spreadsheet dates: ISO 8601 / RFC 3339 formatting and
//! parsing, and Excel's date serial numbers.
//!
//! The calendar arithmetic is Howard Hinnant's `days_from_civil` and `civil_from_days`
//! ("chrono-Compatible Low-Level Date Algorithms"), exact for the proleptic Gregorian
//! calendar, so no date library is needed to write one timestamp per row.

use vitalis_model::Timestamp;

const MS_PER_DAY: i64 = 86_400_000;

/// Days from 1899-12-30 (Excel's day 0 in the 1900 date system, as corrected for its
/// 1900 leap-year bug) to 1970-01-01.
const EXCEL_UNIX_EPOCH: f64 = 25_569.0;

/// Length of [`iso8601`]'s output: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub const ISO8601_LEN: usize = 24;

/// The civil date (year, month 1–12, day 1–31) of a count of days since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a civil date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// `t` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (ISO 8601, UTC, millisecond precision; also a
/// valid RFC 3339 and FHIR `dateTime`/`instant`). Years past 9999 do not occur for a
/// [`Timestamp`] the model accepts; they would print with more digits.
pub fn iso8601(t: Timestamp) -> String {
    let mut out = String::with_capacity(ISO8601_LEN);
    push_iso8601(&mut out, t);
    out
}

/// Appends [`iso8601`]'s text to `out` without allocating.
pub fn push_iso8601(out: &mut String, t: Timestamp) {
    use std::fmt::Write as _;
    let ms = t.millis();
    let (year, month, day) = civil_from_days(ms.div_euclid(MS_PER_DAY));
    let of_day = ms.rem_euclid(MS_PER_DAY);
    let (h, m, s, milli) = (
        of_day / 3_600_000,
        of_day / 60_000 % 60,
        of_day / 1000 % 60,
        of_day % 1000,
    );
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z"
    );
}

/// `t` as an Excel date serial number (days since 1899-12-30, fraction = time of day),
/// which a cell with a date number format shows as a date and time.
pub fn excel_serial(t: Timestamp) -> f64 {
    EXCEL_UNIX_EPOCH + t.millis() as f64 / MS_PER_DAY as f64
}

fn number(text: &str, digits: usize) -> Option<u32> {
    (text.len() == digits && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// Reads an instant given on a command line or in a query: milliseconds since the Unix
/// epoch (`1459497240000`), a date (`2016-04-01`, midnight UTC) or a UTC date and time
/// (`2016-04-01T07:54:00Z`, seconds and fraction optional, `Z` required).
pub fn parse_instant(text: &str) -> Result<Timestamp, String> {
    let text = text.trim();
    let expected = || {
        format!(
            "{text:?} is not a time: give milliseconds since the Unix epoch, \
             YYYY-MM-DD, or YYYY-MM-DDTHH:MM[:SS[.fff]]Z (UTC)"
        )
    };
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let ms: i64 = text.parse().map_err(|_| expected())?;
        return Timestamp::new(ms).map_err(|e| e.message);
    }
    let (date, time) = match text.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let (Some(y), Some(mo), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(expected());
    };
    let (year, month, day) = (
        i64::from(number(y, 4).ok_or_else(expected)?),
        number(mo, 2).ok_or_else(expected)?,
        number(d, 2).ok_or_else(expected)?,
    );
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(format!("{text:?} is not a calendar date"));
    }
    let mut ms = days_from_civil(year, month, day) * MS_PER_DAY;
    if let Some(time) = time {
        let time = time.strip_suffix('Z').ok_or_else(expected)?;
        let (clock, fraction) = match time.split_once('.') {
            Some((clock, fraction)) => (clock, Some(fraction)),
            None => (time, None),
        };
        let fields: Vec<&str> = clock.split(':').collect();
        let (h, m, s) = match fields.as_slice() {
            [h, m] => (number(h, 2), number(m, 2), Some(0)),
            [h, m, s] => (number(h, 2), number(m, 2), number(s, 2)),
            _ => return Err(expected()),
        };
        let (Some(h), Some(m), Some(s)) = (h, m, s) else {
            return Err(expected());
        };
        if h > 23 || m > 59 || s > 59 {
            return Err(format!("{text:?} is not a time of day"));
        }
        ms += i64::from(h * 3_600_000 + m * 60_000 + s * 1000);
        if let Some(fraction) = fraction {
            if fraction.is_empty()
                || fraction.len() > 9
                || !fraction.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(expected());
            }
            // Milliseconds: the first three digits, padded.
            let milli: String = fraction.chars().chain("00".chars()).take(3).collect();
            ms += i64::from(number(&milli, 3).ok_or_else(expected)?);
        }
    }
    Timestamp::new(ms).map_err(|e| e.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(ms: i64) -> Timestamp {
        Timestamp::new(ms).unwrap()
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(iso8601(ts(0)), "1970-01-01T00:00:00.000Z");
        // 2016-04-01T07:54:05Z, a Fitbit sample time read as UTC.
        assert_eq!(iso8601(ts(1_459_497_245_000)), "2016-04-01T07:54:05.000Z");
        // A leap day and milliseconds.
        assert_eq!(iso8601(ts(951_782_400_123)), "2000-02-29T00:00:00.123Z");
        assert_eq!(iso8601(ts(1_763_900_000_000)), "2025-11-23T12:13:20.000Z");
    }

    #[test]
    fn excel_serials_match_the_1900_system() {
        assert_eq!(excel_serial(ts(0)), 25_569.0);
        // 2016-04-01 12:00 UTC is serial 42461.5.
        assert_eq!(excel_serial(ts(1_459_512_000_000)), 42_461.5);
    }

    #[test]
    fn parses_what_it_formats_and_the_short_forms() {
        for ms in [0, 951_782_400_123, 1_459_497_245_000, 4_102_444_799_999] {
            assert_eq!(parse_instant(&iso8601(ts(ms))).unwrap(), ts(ms));
        }
        assert_eq!(
            parse_instant("1459497245000").unwrap(),
            ts(1_459_497_245_000)
        );
        assert_eq!(parse_instant("2016-04-01").unwrap(), ts(1_459_468_800_000));
        assert_eq!(
            parse_instant("2016-04-01T07:54Z").unwrap(),
            ts(1_459_497_240_000)
        );
        assert_eq!(
            parse_instant("2016-04-01T07:54:05.5Z").unwrap(),
            ts(1_459_497_245_500)
        );
        for bad in [
            "",
            "yesterday",
            "2016-02-30",
            "2016-13-01",
            "2016-04-01T07:54:05",
            "2016-04-01T24:00Z",
            "2016-4-1",
            "-5",
            "2016-04-01T07:54:05.Z",
        ] {
            assert!(parse_instant(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn calendar_round_trips_over_centuries() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert!(d >= 1 && d <= days_in_month(y, m));
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
