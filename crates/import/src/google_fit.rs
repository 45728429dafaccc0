//! Google Fit Takeout activity CSVs: the daily summary (`Daily activity metrics.csv`, one
//! row per `Date`) and the per-day files (`2020-01-01.csv`, one row per interval with
//! `Start time` and `End time`).
//!
//! Columns are found by name, so any subset and order works; columns not listed here are
//! ignored, and an empty cell means "no data" (no reading, nothing skipped).
//!
//! | column | reading |
//! |---|---|
//! | `Step count` | steps |
//! | `Distance (m)` | distance |
//! | `Calories (kcal)` | calories |
//! | `Average heart rate (bpm)` | heart_rate |
//! | `Average weight (kg)` | weight |
//!
//! A daily row is stamped with local midnight of its `Date` (`YYYY-MM-DD`, converted with
//! [`ImportOptions::utc_offset`]); an interval row with its `Start time`
//! (`hh:mm:ss.sss±hh:mm`, which carries its own offset) on the date the caller gives.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate};
use vitalis_model::Metric;

use crate::convert::{ImportOptions, item, local_millis, scalar_reading};
use crate::csv_rows::{CsvRows, field};
use crate::error::{ImportError, Location, Result};
use crate::item::{Item, Skip, SkipReason};
use crate::summary::{Tracker, importer};

/// The columns read, with their metric and unit.
pub const COLUMNS: &[(&str, Metric, &str)] = &[
    ("Step count", Metric::Steps, "{steps}"),
    ("Distance (m)", Metric::Distance, "m"),
    ("Calories (kcal)", Metric::Calories, "kcal"),
    ("Average heart rate (bpm)", Metric::HeartRate, "/min"),
    ("Average weight (kg)", Metric::Weight, "kg"),
];

enum Clock {
    /// Column of `Date`.
    Daily(usize),
    /// Column of `Start time`, and the day of the file.
    Intervals(usize, NaiveDate),
}

/// The readings of one Google Fit activity CSV.
pub struct GoogleFitCsv<R> {
    rows: CsvRows<R>,
    clock: Clock,
    /// (column index, metric, unit) of the columns present.
    columns: Vec<(usize, Metric, &'static str)>,
    width: usize,
    options: ImportOptions,
    source: Arc<str>,
    pending: VecDeque<Item>,
    tracker: Tracker,
}

impl GoogleFitCsv<BufReader<File>> {
    /// Opens a CSV at `path`. A file named like `2020-01-01.csv` is read as that day's
    /// interval file, any other as a daily summary.
    pub fn open(path: impl AsRef<Path>, options: ImportOptions) -> Result<Self> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let day = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok());
        let file = File::open(path).map_err(|source| ImportError::Io {
            file: name.clone(),
            at: Location::Line(1),
            source,
        })?;
        GoogleFitCsv::new(BufReader::new(file), name, day, options)
    }
}

impl<R: Read> GoogleFitCsv<R> {
    /// Reads the header of `input` (named `file` in errors). `day` is the date of a
    /// per-day interval file (from its name); `None` for the daily summary.
    pub fn new(
        input: R,
        file: impl Into<String>,
        day: Option<NaiveDate>,
        options: ImportOptions,
    ) -> Result<Self> {
        let mut rows = CsvRows::new(input, file);
        let header: Vec<String> = match rows.next_row()? {
            Some((record, _)) => (0..record.len())
                .map(|i| field(record, i).to_owned())
                .collect(),
            None => Vec::new(),
        };
        let find = |name: &str| header.iter().position(|h| h == name);
        let (time_column, clock) = match day {
            None => ("Date", find("Date").map(Clock::Daily)),
            Some(day) => (
                "Start time",
                find("Start time").map(|i| Clock::Intervals(i, day)),
            ),
        };
        let Some(clock) = clock else {
            return Err(ImportError::WrongColumn {
                file: rows.file().to_owned(),
                layout: if day.is_some() {
                    "Google Fit day"
                } else {
                    "Google Fit daily summary"
                },
                index: 1,
                expected: time_column,
                found: header.first().cloned().unwrap_or_default(),
            });
        };
        let columns = COLUMNS
            .iter()
            .filter_map(|&(name, metric, unit)| find(name).map(|i| (i, metric, unit)))
            .collect();
        Ok(GoogleFitCsv {
            rows,
            clock,
            columns,
            width: header.len(),
            source: options.source_label("google_fit", None),
            options,
            pending: VecDeque::new(),
            tracker: Tracker::default(),
        })
    }

    fn next_item(&mut self) -> Option<Result<Item>> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(Ok(item));
            }
            let (record, line) = match self.rows.next_row() {
                Ok(Some(row)) => row,
                Ok(None) => return None,
                Err(err) => return Some(Err(err)),
            };
            let at = Location::Line(line);
            let skip =
                |detail: String| Item::Skipped(Skip::new(SkipReason::Unparsable, at, detail));
            if record.len() != self.width {
                let detail = format!("expected {} fields, found {}", self.width, record.len());
                self.pending.push_back(skip(detail));
                continue;
            }
            let t = match self.clock {
                Clock::Daily(i) => {
                    let text = field(record, i);
                    NaiveDate::parse_from_str(text, "%Y-%m-%d")
                        .ok()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                        .map(|local| local_millis(local, self.options.utc_offset))
                        .ok_or_else(|| format!("Date {text:?} is not YYYY-MM-DD"))
                }
                Clock::Intervals(i, day) => {
                    let text = field(record, i);
                    DateTime::parse_from_str(&format!("{day}T{text}"), "%Y-%m-%dT%H:%M:%S%.f%:z")
                        .map(|t| t.timestamp_millis())
                        .map_err(|_| format!("Start time {text:?} is not hh:mm:ss.sss±hh:mm"))
                }
            };
            let t = match t {
                Ok(t) => t,
                Err(detail) => {
                    self.pending.push_back(skip(detail));
                    continue;
                }
            };
            for &(column, metric, unit) in &self.columns {
                let text = field(record, column);
                if text.is_empty() {
                    continue;
                }
                let item = match text.parse::<f64>() {
                    Ok(v) => item(
                        scalar_reading(metric, t, v, unit, self.options.now),
                        &self.source,
                        None,
                        at,
                    ),
                    Err(_) => skip(format!("{metric} value {text:?} is not a number")),
                };
                self.pending.push_back(item);
            }
        }
    }
}

importer!(GoogleFitCsv<R: Read>);
