//! Shared conversions: building model readings from parsed values, parsing the date
//! formats the exports use, and reusing repeated labels.

use std::sync::Arc;

use chrono::{FixedOffset, NaiveDate, NaiveDateTime};
use vitalis_model::{ErrorCode, Metric, Reading, ReadingError, Timestamp, Value};

use crate::error::Location;
use crate::item::{ImportedReading, Item, Skip, SkipReason};

/// Options every importer takes.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// The importer's clock: readings more than the model's clock skew after it are
    /// refused, like on ingest. The crate reads no clock itself.
    pub now: Timestamp,
    /// Offset of the wearer's local time from UTC, for formats that write local times
    /// without an offset (Fitbit, Google Fit dates). Ignored by the others.
    pub utc_offset: FixedOffset,
    /// Replaces the format name at the start of every reading's `source` label.
    pub source: Option<String>,
}

impl ImportOptions {
    /// Options with local time = UTC and the format's own source label.
    pub fn new(now: Timestamp) -> ImportOptions {
        ImportOptions {
            now,
            utc_offset: FixedOffset::east_opt(0).expect("zero offset is valid"),
            source: None,
        }
    }

    /// Sets the local time offset, in seconds east of UTC (`-7 * 3600` for UTC-07:00).
    /// Offsets of a day or more are refused (`None`).
    pub fn with_utc_offset_seconds(mut self, seconds: i32) -> Option<ImportOptions> {
        self.utc_offset = FixedOffset::east_opt(seconds)?;
        Some(self)
    }

    /// Sets the source label.
    pub fn with_source(mut self, source: impl Into<String>) -> ImportOptions {
        self.source = Some(source.into());
        self
    }

    /// The label for readings of `format`, with `origin` (an app or device) if known.
    pub(crate) fn source_label(&self, format: &str, origin: Option<&str>) -> Arc<str> {
        let base = self.source.as_deref().unwrap_or(format);
        match origin {
            Some(origin) if !origin.is_empty() => format!("{base}:{origin}").into(),
            _ => base.into(),
        }
    }
}

/// Builds a reading the way ingest does: unit conversion from the metric's catalog
/// entry, then [`Reading::new`]'s checks (finite, plausible, not from the future).
pub(crate) fn scalar_reading(
    metric: Metric,
    t_ms: i64,
    value: f64,
    unit: &str,
    now: Timestamp,
) -> Result<Reading, ReadingError> {
    let spec = metric.spec();
    let conversion = spec.conversion(unit).ok_or_else(|| {
        ReadingError::new(
            ErrorCode::UnknownUnit,
            "unit",
            format!("unit {unit:?} is not accepted for {metric}"),
        )
    })?;
    let t = Timestamp::new(t_ms)?;
    Reading::new(
        metric,
        t,
        Value::Scalar(value * conversion.scale + conversion.offset),
        now,
    )
}

/// The skip reason for a reading the model refused.
pub(crate) fn skip_reason(err: &ReadingError) -> SkipReason {
    match err.code {
        ErrorCode::OutOfRange | ErrorCode::NotFinite => SkipReason::OutOfRange,
        ErrorCode::FutureTimestamp | ErrorCode::InvalidTimestamp => SkipReason::InvalidTimestamp,
        ErrorCode::UnknownMetric => SkipReason::UnknownType,
        ErrorCode::UnknownUnit => SkipReason::UnknownUnit,
        ErrorCode::InvalidValue => SkipReason::Unparsable,
    }
}

/// Turns a model result into an item.
pub(crate) fn item(
    result: Result<Reading, ReadingError>,
    source: &Arc<str>,
    subject: Option<&Arc<str>>,
    at: Location,
) -> Item {
    match result {
        Ok(reading) => Item::Reading(ImportedReading {
            reading,
            source: Arc::clone(source),
            subject: subject.cloned(),
            at,
        }),
        Err(err) => Item::Skipped(Skip::new(skip_reason(&err), at, err.to_string())),
    }
}

/// Reuses the last `Arc<str>` while the same label repeats (a Fitbit `Id`, an Apple
/// `sourceName`), so a long run of rows shares one allocation.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    last: Option<Arc<str>>,
}

impl Interner {
    pub(crate) fn get(&mut self, s: &str) -> Arc<str> {
        match &self.last {
            Some(last) if &**last == s => Arc::clone(last),
            _ => {
                let new: Arc<str> = s.into();
                self.last = Some(Arc::clone(&new));
                new
            }
        }
    }
}

/// Milliseconds since the epoch of a local time at `offset`.
pub(crate) fn local_millis(local: NaiveDateTime, offset: FixedOffset) -> i64 {
    local.and_utc().timestamp_millis() - i64::from(offset.local_minus_utc()) * 1000
}

fn number<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses Fitbit's `M/D/YYYY h:mm:ss AM` (or a bare `M/D/YYYY`, read as midnight).
pub(crate) fn parse_us_datetime(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    let (date, time) = match s.split_once(' ') {
        Some((date, time)) => (date, Some(time.trim())),
        None => (s, None),
    };
    let mut parts = date.split('/');
    let month = number(parts.next()?)?;
    let day = number(parts.next()?)?;
    let year = number(parts.next()?)?;
    if parts.next().is_some() {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let Some(time) = time else {
        return date.and_hms_opt(0, 0, 0);
    };
    let (clock, meridiem) = time.split_once(' ')?;
    let mut parts = clock.split(':');
    let hour: u32 = number(parts.next()?)?;
    let minute = number(parts.next()?)?;
    let second = match parts.next() {
        Some(s) => number(s)?,
        None => 0,
    };
    if parts.next().is_some() || !(1..=12).contains(&hour) {
        return None;
    }
    let hour = match meridiem.trim() {
        "AM" | "am" => hour % 12,
        "PM" | "pm" => hour % 12 + 12,
        _ => return None,
    };
    date.and_hms_opt(hour, minute, second)
}

/// Parses Apple Health's `2018-09-10 02:28:55 -0700` into UTC milliseconds.
pub(crate) fn parse_apple_datetime(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 25 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[19] != b' ' {
        return None;
    }
    let local = NaiveDateTime::parse_from_str(s.get(..19)?, "%Y-%m-%d %H:%M:%S").ok()?;
    let sign = match b[20] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hours: i64 = number(s.get(21..23)?)?;
    let minutes: i64 = number(s.get(23..25)?)?;
    if minutes >= 60 {
        return None;
    }
    let offset_s = sign * (hours * 3600 + minutes * 60);
    Some(local.and_utc().timestamp_millis() - offset_s * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_datetimes() {
        let t = parse_us_datetime("4/12/2016 12:00:00 AM").unwrap();
        assert_eq!(t.to_string(), "2016-04-12 00:00:00");
        let t = parse_us_datetime("4/12/2016 12:30:05 PM").unwrap();
        assert_eq!(t.to_string(), "2016-04-12 12:30:05");
        let t = parse_us_datetime("5/2/2016 11:59:59 PM").unwrap();
        assert_eq!(t.to_string(), "2016-05-02 23:59:59");
        let t = parse_us_datetime("4/12/2016").unwrap();
        assert_eq!(t.to_string(), "2016-04-12 00:00:00");
        for bad in [
            "",
            "4/31/2016",
            "13/1/2016 1:00:00 AM",
            "4/12/2016 13:00:00 PM",
            "4/12/2016 0:00:00 AM",
            "4/12/2016 1:00:00",
            "4/12/2016 1:00:00 XM",
            "+4/12/2016",
            "4/12/2016/1",
        ] {
            assert_eq!(parse_us_datetime(bad), None, "{bad}");
        }
    }

    #[test]
    fn apple_datetimes() {
        // 02:28:55 at UTC-7 is 09:28:55 UTC.
        let ms = parse_apple_datetime("2018-09-10 02:28:55 -0700").unwrap();
        let utc = NaiveDateTime::parse_from_str("2018-09-10 09:28:55", "%Y-%m-%d %H:%M:%S")
            .unwrap()
            .and_utc()
            .timestamp_millis();
        assert_eq!(ms, utc);
        assert_eq!(
            parse_apple_datetime("2014-09-13 10:27:54 +0100").unwrap(),
            utc_of("2014-09-13 09:27:54")
        );
        for bad in [
            "2018-09-10 02:28:55",
            "2018-09-10T02:28:55 -0700",
            "2018-09-10 02:28:55 -07:0",
            "2018-09-10 02:28:55 -0790",
            "2018-02-30 02:28:55 -0700",
            "2018-09-10 02:28:55 -0é0",
        ] {
            assert_eq!(parse_apple_datetime(bad), None, "{bad}");
        }
    }

    fn utc_of(s: &str) -> i64 {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
            .unwrap()
            .and_utc()
            .timestamp_millis()
    }

    #[test]
    fn local_time_offsets() {
        let local = parse_us_datetime("4/12/2016 1:00:00 AM").unwrap();
        let pdt = FixedOffset::east_opt(-7 * 3600).unwrap();
        assert_eq!(local_millis(local, pdt), utc_of("2016-04-12 08:00:00"));
    }
}
