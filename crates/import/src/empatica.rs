//! Empatica E4 session folders: `HR.csv`, `TEMP.csv` and `IBI.csv`.
//!
//! `HR.csv` and `TEMP.csv` start with two rows: the session start (Unix time, s, UTC) and
//! the sample rate (Hz); sample `i` after them is at `start + i / rate`. `IBI.csv` starts
//! with `start, IBI`; each further row is `offset, interval` in seconds, the beat at
//! `start + offset` closing an R-R interval of that length.
//!
//! | file | reading |
//! |---|---|
//! | `HR.csv` | heart_rate (the device's average over the preceding seconds) |
//! | `TEMP.csv` | body_temperature; this is skin temperature at the wrist, and values below the catalog's 25 °C are skipped as out of range |
//! | `IBI.csv` | rr_interval |
//!
//! The E4's other files (`ACC.csv`, `BVP.csv`, `EDA.csv`, `tags.csv`) have no catalog
//! metric and are not read.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use vitalis_model::Metric;

use crate::convert::{ImportOptions, item, scalar_reading};
use crate::csv_rows::{CsvRows, field};
use crate::error::{ImportError, Location, Result};
use crate::item::{Item, Skip, SkipReason};
use crate::summary::{Tracker, importer};

/// The E4 files this module reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum E4Signal {
    /// `HR.csv`: heart rate, 1 Hz.
    HeartRate,
    /// `TEMP.csv`: skin temperature, 4 Hz.
    Temperature,
    /// `IBI.csv`: inter-beat intervals.
    InterBeat,
}

impl E4Signal {
    /// Every signal, in the order a folder is read.
    pub const ALL: [E4Signal; 3] = [
        E4Signal::HeartRate,
        E4Signal::InterBeat,
        E4Signal::Temperature,
    ];

    /// The file name in a session folder.
    pub fn file_name(self) -> &'static str {
        match self {
            E4Signal::HeartRate => "HR.csv",
            E4Signal::Temperature => "TEMP.csv",
            E4Signal::InterBeat => "IBI.csv",
        }
    }

    fn metric(self) -> (Metric, &'static str) {
        match self {
            E4Signal::HeartRate => (Metric::HeartRate, "/min"),
            E4Signal::Temperature => (Metric::BodyTemperature, "Cel"),
            E4Signal::InterBeat => (Metric::RrInterval, "s"),
        }
    }
}

/// The readings of one E4 CSV file.
pub struct EmpaticaCsv<R> {
    rows: CsvRows<R>,
    signal: E4Signal,
    start_ms: f64,
    /// Samples per second (`None` for `IBI.csv`).
    rate: Option<f64>,
    sample: u64,
    options: ImportOptions,
    source: Arc<str>,
    tracker: Tracker,
}

impl EmpaticaCsv<BufReader<File>> {
    /// Opens the file at `path`.
    pub fn open(path: impl AsRef<Path>, signal: E4Signal, options: ImportOptions) -> Result<Self> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| ImportError::Io {
            file: name.clone(),
            at: Location::Line(1),
            source,
        })?;
        EmpaticaCsv::new(BufReader::new(file), name, signal, options)
    }
}

impl<R: Read> EmpaticaCsv<R> {
    /// Reads the preamble of `input` (named `file` in errors).
    pub fn new(
        input: R,
        file: impl Into<String>,
        signal: E4Signal,
        options: ImportOptions,
    ) -> Result<Self> {
        let mut rows = CsvRows::new(input, file);
        let file = rows.file().to_owned();
        let malformed = |line: u64, detail: String| ImportError::Malformed {
            file: file.clone(),
            at: Location::Line(line),
            detail,
        };
        let (start_ms, first_width, second) = match rows.next_row()? {
            Some((record, line)) => {
                let text = field(record, 0);
                let start = text
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .ok_or_else(|| {
                        malformed(line, format!("start time {text:?} is not Unix seconds"))
                    })?;
                (start * 1000.0, record.len(), field(record, 1).to_owned())
            }
            None => return Err(malformed(1, "empty file: no start time".to_owned())),
        };
        let rate = match signal {
            E4Signal::InterBeat => {
                if first_width != 2 || second != "IBI" {
                    return Err(ImportError::WrongColumn {
                        file,
                        layout: "E4 IBI.csv",
                        index: 2,
                        expected: "IBI",
                        found: second,
                    });
                }
                None
            }
            E4Signal::HeartRate | E4Signal::Temperature => {
                if first_width != 1 {
                    return Err(malformed(
                        1,
                        format!("expected the start time alone, found {first_width} fields"),
                    ));
                }
                let Some((record, line)) = rows.next_row()? else {
                    return Err(malformed(2, "no sample rate".to_owned()));
                };
                let text = field(record, 0);
                let rate = text
                    .parse::<f64>()
                    .ok()
                    .filter(|r| r.is_finite() && *r > 0.0 && *r <= 1.0e6)
                    .ok_or_else(|| {
                        malformed(
                            line,
                            format!("sample rate {text:?} is not a positive number of Hz"),
                        )
                    })?;
                Some(rate)
            }
        };
        Ok(EmpaticaCsv {
            rows,
            signal,
            start_ms,
            rate,
            sample: 0,
            source: options.source_label("empatica_e4", None),
            options,
            tracker: Tracker::default(),
        })
    }

    fn next_item(&mut self) -> Option<Result<Item>> {
        let (record, line) = match self.rows.next_row() {
            Ok(Some(row)) => row,
            Ok(None) => return None,
            Err(err) => return Some(Err(err)),
        };
        let at = Location::Line(line);
        let skip = |detail: String| {
            Some(Ok(Item::Skipped(Skip::new(
                SkipReason::Unparsable,
                at,
                detail,
            ))))
        };
        let number = |i: usize| {
            field(record, i)
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
        };
        let (metric, unit) = self.signal.metric();
        let (t, value) = match self.rate {
            Some(rate) => {
                let i = self.sample;
                self.sample += 1;
                if record.len() != 1 {
                    return skip(format!("expected 1 field, found {}", record.len()));
                }
                let Some(value) = number(0) else {
                    return skip(format!("sample {:?} is not a number", field(record, 0)));
                };
                (self.start_ms + i as f64 * 1000.0 / rate, value)
            }
            None => {
                if record.len() != 2 {
                    return skip(format!("expected 2 fields, found {}", record.len()));
                }
                let (Some(offset), Some(interval)) = (number(0), number(1)) else {
                    return skip(format!(
                        "offset {:?} or interval {:?} is not a number",
                        field(record, 0),
                        field(record, 1)
                    ));
                };
                (self.start_ms + offset * 1000.0, interval)
            }
        };
        let result = scalar_reading(metric, t.round() as i64, value, unit, self.options.now);
        Some(Ok(item(result, &self.source, None, at)))
    }
}

importer!(EmpaticaCsv<R: Read>);

/// The readings of an E4 session folder: `HR.csv`, then `IBI.csv`, then `TEMP.csv`,
/// each if present.
pub struct EmpaticaFolder {
    queue: Vec<(PathBuf, E4Signal)>,
    current: Option<EmpaticaCsv<BufReader<File>>>,
    options: ImportOptions,
    tracker: Tracker,
}

impl EmpaticaFolder {
    /// Looks for the E4 files in `dir`; fails if there is none.
    pub fn open(dir: impl AsRef<Path>, options: ImportOptions) -> Result<Self> {
        let dir = dir.as_ref();
        let mut queue: Vec<(PathBuf, E4Signal)> = E4Signal::ALL
            .iter()
            .map(|&s| (dir.join(s.file_name()), s))
            .filter(|(path, _)| path.is_file())
            .collect();
        if queue.is_empty() {
            return Err(ImportError::MissingEntry {
                archive: dir.display().to_string(),
                entry: "HR.csv, IBI.csv or TEMP.csv".to_owned(),
            });
        }
        queue.reverse();
        Ok(EmpaticaFolder {
            queue,
            current: None,
            options,
            tracker: Tracker::default(),
        })
    }

    fn next_item(&mut self) -> Option<Result<Item>> {
        loop {
            if let Some(current) = &mut self.current {
                match current.next() {
                    Some(next) => return Some(next),
                    None => self.current = None,
                }
            }
            let (path, signal) = self.queue.pop()?;
            match EmpaticaCsv::open(&path, signal, self.options.clone()) {
                Ok(csv) => self.current = Some(csv),
                Err(err) => return Some(Err(err)),
            }
        }
    }
}

importer!(EmpaticaFolder);
