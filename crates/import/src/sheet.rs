//! Rows of a spreadsheet (CSV or a workbook's first sheet) kept by hand or by an older
//! logging system, turned into validated readings one row at a time.
//!
//! The original layout has a header row with `Time` (an Excel serial date: days since
//! 1899-12-30, the fraction being the time of day, in the wearer's local time),
//! cumulative `Steps` and `Heart Rate`, and one row every 5 minutes. Other layouts name
//! their columns with a [`ColumnMap`] (`time=Col,heart_rate=Col,steps=Col`, any
//! number-valued metric of the catalog by its wire name).
//!
//! Cumulative steps become per-row deltas, stamped with the row's time: the first row's
//! count is its own delta (the counter starts at zero), and a value lower than the one
//! before is a reset, so it starts a new count and is its own delta too.
//!
//! A [`SheetReader`] reads the rows of one pass over the sheet from the top, because a
//! row's steps depend on the row before. Each [`SheetRow`] carries a
//! [`hash`](SheetRow::hash) of its cells and of what was made of them, so a caller that
//! re-reads a growing sheet can tell new and changed rows from those it has seen.
//! Nothing here touches a file or a clock.

use std::fmt;

use chrono::NaiveDateTime;
use vitalis_model::{Metric, Reading, ValueKind};

use crate::convert::{ImportOptions, scalar_reading};

/// Days between the Excel epoch (1899-12-30, which absorbs Lotus 1-2-3's missing
/// 1900-02-29) and the Unix epoch.
const EXCEL_UNIX_EPOCH_DAYS: f64 = 25_569.0;
const MILLIS_PER_DAY: f64 = 86_400_000.0;

/// Why a sheet's header or a column mapping cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SheetError {
    /// A `--map` entry is not `key=Column`, or its key is neither `time` nor a metric.
    #[error("column mapping {entry:?}: {detail}")]
    BadMapping {
        /// The entry as written.
        entry: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The header lacks a column the mapping names.
    #[error("no column {column:?} (for {key}); the columns are {found:?}")]
    MissingColumn {
        /// `time` or the metric's wire name.
        key: String,
        /// The column looked for.
        column: String,
        /// The header as found.
        found: Vec<String>,
    },
}

/// How a steps column counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepsCounting {
    /// A running total: readings are the differences between rows.
    Cumulative,
    /// Each row holds the steps of its own interval.
    PerRow,
}

/// Which column holds the time and which hold each metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMap {
    time: String,
    metrics: Vec<(Metric, String)>,
    steps: StepsCounting,
}

impl ColumnMap {
    /// The original layout: `Time`, cumulative `Steps`, `Heart Rate`.
    pub fn original() -> ColumnMap {
        ColumnMap {
            time: "Time".to_owned(),
            metrics: vec![
                (Metric::HeartRate, "Heart Rate".to_owned()),
                (Metric::Steps, "Steps".to_owned()),
            ],
            steps: StepsCounting::Cumulative,
        }
    }

    /// Parses `time=Col,heart_rate=Col,steps=Col,…`: `time` is required, every other key
    /// is a number-valued metric's wire name. Column names are matched exactly after
    /// trimming spaces. Steps are read as cumulative, as in the original layout.
    pub fn parse(spec: &str) -> Result<ColumnMap, SheetError> {
        let mut time = None;
        let mut metrics: Vec<(Metric, String)> = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = |detail: String| SheetError::BadMapping {
                entry: entry.to_owned(),
                detail,
            };
            let Some((key, column)) = entry.split_once('=') else {
                return Err(bad("write it as key=Column".to_owned()));
            };
            let (key, column) = (key.trim(), column.trim());
            if column.is_empty() {
                return Err(bad("the column name is empty".to_owned()));
            }
            if key == "time" {
                if time.replace(column.to_owned()).is_some() {
                    return Err(bad("time is mapped twice".to_owned()));
                }
                continue;
            }
            let metric: Metric = key.parse().map_err(|_| {
                bad(format!(
                    "{key:?} is neither time nor a metric (metrics: {})",
                    scalar_metric_names()
                ))
            })?;
            if metric.spec().kind != ValueKind::Scalar {
                return Err(bad(format!(
                    "{key} is not a single number; number metrics: {}",
                    scalar_metric_names()
                )));
            }
            if metrics.iter().any(|(m, _)| *m == metric) {
                return Err(bad(format!("{key} is mapped twice")));
            }
            metrics.push((metric, column.to_owned()));
        }
        let Some(time) = time else {
            return Err(SheetError::BadMapping {
                entry: spec.to_owned(),
                detail: "map the time column: time=Column".to_owned(),
            });
        };
        if metrics.is_empty() {
            return Err(SheetError::BadMapping {
                entry: spec.to_owned(),
                detail: "map at least one metric, e.g. heart_rate=Column".to_owned(),
            });
        }
        Ok(ColumnMap {
            time,
            metrics,
            steps: StepsCounting::Cumulative,
        })
    }

    /// Sets how the steps column counts.
    pub fn with_steps(mut self, steps: StepsCounting) -> ColumnMap {
        self.steps = steps;
        self
    }

    /// Finds the mapped columns in `header`, or names the first one missing together
    /// with the columns found.
    pub fn resolve<S: AsRef<str>>(&self, header: &[S]) -> Result<SheetLayout, SheetError> {
        // A sheet saved as "CSV UTF-8" starts with a byte-order mark.
        let name = |h: &S| h.as_ref().trim_start_matches('\u{feff}').trim().to_owned();
        let found = || header.iter().map(name).collect();
        let find = |key: &str, column: &str| {
            header
                .iter()
                .position(|h| name(h) == column)
                .ok_or_else(|| SheetError::MissingColumn {
                    key: key.to_owned(),
                    column: column.to_owned(),
                    found: found(),
                })
        };
        let time = find("time", &self.time)?;
        let columns = self
            .metrics
            .iter()
            .map(|(metric, column)| Ok((find(metric.name(), column)?, *metric)))
            .collect::<Result<_, SheetError>>()?;
        Ok(SheetLayout {
            time,
            columns,
            steps: self.steps,
        })
    }
}

fn scalar_metric_names() -> String {
    vitalis_model::CATALOG
        .iter()
        .filter(|spec| spec.kind == ValueKind::Scalar)
        .map(|spec| spec.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The column positions of one sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetLayout {
    time: usize,
    columns: Vec<(usize, Metric)>,
    steps: StepsCounting,
}

/// One cell as read.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Nothing there.
    Empty,
    /// A number (workbooks keep dates as serial numbers).
    Number(f64),
    /// Text (every cell of a CSV; numbers in it are recognised).
    Text(String),
}

impl Cell {
    /// A CSV field: empty, a number, or text.
    pub fn from_text(text: &str) -> Cell {
        let text = text.trim();
        if text.is_empty() {
            Cell::Empty
        } else if let Ok(n) = text.parse::<f64>() {
            Cell::Number(n)
        } else {
            Cell::Text(text.to_owned())
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Cell::Number(n) => Some(*n),
            Cell::Text(t) => t.replace(',', "").parse().ok(),
            Cell::Empty => None,
        }
    }

    fn hash_into(&self, hash: &mut Fnv) {
        match self {
            Cell::Empty => hash.write(&[0]),
            Cell::Number(n) => {
                hash.write(&[1]);
                hash.write(&n.to_bits().to_le_bytes());
            }
            Cell::Text(t) => {
                hash.write(&[2]);
                hash.write(&(t.len() as u64).to_le_bytes());
                hash.write(t.as_bytes());
            }
        }
    }
}

/// A sheet's rows, each with its row number as the spreadsheet shows it (from 1).
pub type Rows = Vec<(u64, Vec<Cell>)>;

/// The cells of a worksheet read by calamine, numbered as the spreadsheet shows them and
/// padded with empty cells left of the used range, so column letters keep their places.
pub fn rows_of_range(range: &calamine::Range<calamine::Data>) -> Rows {
    use calamine::Data;
    let first_row = u64::from(range.start().map_or(0, |(row, _)| row));
    let first_column = range.start().map_or(0, |(_, column)| column) as usize;
    range
        .rows()
        .enumerate()
        .map(|(i, cells)| {
            let mut row: Vec<Cell> = vec![Cell::Empty; first_column];
            row.extend(cells.iter().map(|cell| match cell {
                Data::Empty => Cell::Empty,
                Data::Float(f) => Cell::Number(*f),
                Data::Int(i) => Cell::Number(*i as f64),
                Data::DateTime(d) => Cell::Number(d.as_f64()),
                Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::from_text(s),
                Data::Bool(b) => Cell::Text(b.to_string()),
                Data::Error(e) => Cell::Text(format!("#{e:?}")),
            }));
            (first_row + i as u64 + 1, row)
        })
        .collect()
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Empty => f.write_str("(empty)"),
            Cell::Number(n) => write!(f, "{n}"),
            Cell::Text(t) => write!(f, "{t:?}"),
        }
    }
}

/// What one row gave.
#[derive(Debug, Clone, PartialEq)]
pub struct SheetRow {
    /// The row's number in the sheet, from 1 (the header is row 1).
    pub row: u64,
    /// FNV-1a over the row's cells and readings: changes when either does.
    pub hash: u64,
    /// Its valid readings.
    pub readings: Vec<Reading>,
    /// Why some of its values were left out, one sentence each.
    pub problems: Vec<String>,
}

/// Reads the rows of one pass over a sheet, in order from the top.
#[derive(Debug, Clone)]
pub struct SheetReader {
    layout: SheetLayout,
    options: ImportOptions,
    last_steps: Option<f64>,
}

impl SheetReader {
    /// A reader of rows in `layout`; times are local at `options.utc_offset` and
    /// readings are checked against `options.now`.
    pub fn new(layout: SheetLayout, options: ImportOptions) -> SheetReader {
        SheetReader {
            layout,
            options,
            last_steps: None,
        }
    }

    /// Reads row number `row` (`cells` in sheet order). A row with no cells filled gives
    /// nothing and no problem.
    pub fn row(&mut self, row: u64, cells: &[Cell]) -> SheetRow {
        let mut hash = Fnv::new();
        for cell in cells {
            cell.hash_into(&mut hash);
        }
        let mut out = SheetRow {
            row,
            hash: 0,
            readings: Vec::new(),
            problems: Vec::new(),
        };
        let cell = |i: usize| cells.get(i).unwrap_or(&Cell::Empty);
        if cells.iter().all(|c| *c == Cell::Empty) {
            out.hash = hash.finish();
            return out;
        }
        let time = cell(self.layout.time);
        let t = match excel_or_text_time(time, &self.options) {
            Some(t) => Some(t),
            None => {
                out.problems.push(format!(
                    "row {row}: time {time} is neither an Excel serial date nor a \
                     date-time (YYYY-MM-DD HH:MM[:SS])"
                ));
                None
            }
        };
        for &(column, metric) in &self.layout.columns {
            let value = cell(column);
            if *value == Cell::Empty {
                continue;
            }
            let Some(mut number) = value.number() else {
                out.problems
                    .push(format!("row {row}: {metric} {value} is not a number"));
                continue;
            };
            if metric == Metric::Steps && self.layout.steps == StepsCounting::Cumulative {
                let total = number;
                number = match self.last_steps {
                    Some(last) if total >= last => total - last,
                    _ => total,
                };
                self.last_steps = Some(total);
            }
            let Some(t) = t else { continue };
            match scalar_reading(metric, t, number, metric.spec().unit, self.options.now) {
                Ok(reading) => {
                    hash.write(metric.name().as_bytes());
                    hash.write(&t.to_le_bytes());
                    hash.write(&number.to_bits().to_le_bytes());
                    out.readings.push(reading);
                }
                Err(err) => out.problems.push(format!("row {row}: {err}")),
            }
        }
        out.hash = hash.finish();
        out
    }
}

/// UTC milliseconds of a time cell: an Excel serial date, or `YYYY-MM-DD HH:MM[:SS]`
/// (also with `T`), both in local time.
fn excel_or_text_time(cell: &Cell, options: &ImportOptions) -> Option<i64> {
    let local_ms = match cell {
        Cell::Number(serial) => excel_serial_millis(*serial)?,
        Cell::Text(text) => {
            let text = text.trim();
            [
                "%Y-%m-%d %H:%M:%S",
                "%Y-%m-%d %H:%M",
                "%Y-%m-%dT%H:%M:%S",
                "%Y-%m-%dT%H:%M",
            ]
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())?
            .and_utc()
            .timestamp_millis()
        }
        Cell::Empty => return None,
    };
    Some(local_ms - i64::from(options.utc_offset.local_minus_utc()) * 1000)
}

/// An Excel serial date (days since 1899-12-30, fractional) as milliseconds since the
/// Unix epoch, rounded to the millisecond (serials carry float noise, e.g. 5 minutes is
/// 0.003472…). Serials before 1970 or beyond year 9999 are refused.
pub fn excel_serial_millis(serial: f64) -> Option<i64> {
    if !serial.is_finite() || !(EXCEL_UNIX_EPOCH_DAYS..2_958_466.0).contains(&serial) {
        return None;
    }
    Some(((serial - EXCEL_UNIX_EPOCH_DAYS) * MILLIS_PER_DAY).round() as i64)
}

/// Only to keep `local_millis` and this module's arithmetic in agreement in tests.
#[cfg(test)]
fn via_chrono(local: NaiveDateTime, options: &ImportOptions) -> i64 {
    crate::convert::local_millis(local, options.utc_offset)
}

/// 64-bit FNV-1a: small, stable across versions and platforms (the hashes are kept in a
/// state file between runs).
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vitalis_model::{Timestamp, Value};

    fn options() -> ImportOptions {
        ImportOptions::new(Timestamp::new(1_767_225_600_000).unwrap())
    }

    fn csv_row(fields: &[&str]) -> Vec<Cell> {
        fields.iter().map(|f| Cell::from_text(f)).collect()
    }

    fn values(row: &SheetRow, metric: Metric) -> Vec<f64> {
        row.readings
            .iter()
            .filter(|r| r.metric() == metric)
            .map(|r| match r.value() {
                Value::Scalar(v) => v,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn excel_serials_are_days_since_1899_12_30() {
        // 45658 is 2025-01-01; .5 is noon.
        assert_eq!(excel_serial_millis(45_658.0), Some(1_735_689_600_000));
        assert_eq!(excel_serial_millis(45_658.5), Some(1_735_732_800_000));
        // 5 minutes past midnight, with the float noise a sheet stores.
        assert_eq!(
            excel_serial_millis(45_658.0 + 5.0 / 1440.0),
            Some(1_735_689_900_000)
        );
        assert_eq!(excel_serial_millis(25_569.0), Some(0));
        for bad in [f64::NAN, f64::INFINITY, -1.0, 100.0, 3_000_000.0] {
            assert_eq!(excel_serial_millis(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_original_layout_gives_heart_rate_and_step_deltas() {
        let header = ["Time", "Steps", "Heart Rate"];
        let layout = ColumnMap::original().resolve(&header).unwrap();
        let mut reader = SheetReader::new(layout, options());
        let rows: Vec<SheetRow> = [
            ["45658", "100", "70"],
            ["45658.003472222222", "250", "72"],
            ["45658.006944444444", "250", ""],
            // The counter was reset: a new count starts.
            ["45658.010416666667", "30", "75"],
        ]
        .iter()
        .enumerate()
        .map(|(i, r)| reader.row(i as u64 + 2, &csv_row(r)))
        .collect();
        let steps: Vec<f64> = rows.iter().flat_map(|r| values(r, Metric::Steps)).collect();
        assert_eq!(steps, [100.0, 150.0, 0.0, 30.0]);
        let hr: Vec<f64> = rows
            .iter()
            .flat_map(|r| values(r, Metric::HeartRate))
            .collect();
        assert_eq!(hr, [70.0, 72.0, 75.0]);
        let times: Vec<i64> = rows.iter().map(|r| r.readings[0].t().millis()).collect();
        assert_eq!(
            times,
            [
                1_735_689_600_000,
                1_735_689_900_000,
                1_735_690_200_000,
                1_735_690_500_000
            ]
        );
        assert!(rows.iter().all(|r| r.problems.is_empty()));
    }

    #[test]
    fn local_times_are_shifted_to_utc() {
        let layout = ColumnMap::parse("time=Time,heart_rate=Heart Rate")
            .unwrap()
            .resolve(&["Heart Rate", "Time"])
            .unwrap();
        let options = options().with_utc_offset_seconds(2 * 3600).unwrap();
        let mut reader = SheetReader::new(layout, options.clone());
        let row = reader.row(2, &csv_row(&["60", "2025-01-01 02:00"]));
        let local = NaiveDateTime::parse_from_str("2025-01-01 02:00", "%Y-%m-%d %H:%M").unwrap();
        assert_eq!(row.readings[0].t().millis(), via_chrono(local, &options));
        assert_eq!(row.readings[0].t().millis(), 1_735_689_600_000);
        // The same instant as an Excel serial.
        let row = reader.row(
            3,
            &[Cell::Number(61.0), Cell::Number(45_658.0 + 2.0 / 24.0)],
        );
        assert_eq!(row.readings[0].t().millis(), 1_735_689_600_000);
    }

    #[test]
    fn bad_values_are_named_by_row_and_the_rest_of_the_row_is_kept() {
        let layout = ColumnMap::original()
            .resolve(&["Time", "Steps", "Heart Rate"])
            .unwrap();
        let mut reader = SheetReader::new(layout, options());
        let row = reader.row(7, &csv_row(&["45658", "10", "400"]));
        assert_eq!(values(&row, Metric::Steps), [10.0]);
        assert_eq!(row.problems.len(), 1);
        assert!(
            row.problems[0].starts_with("row 7: ") && row.problems[0].contains("400"),
            "{:?}",
            row.problems
        );
        let row = reader.row(8, &csv_row(&["yesterday", "20", "x"]));
        assert!(row.readings.is_empty());
        assert_eq!(row.problems.len(), 2, "{:?}", row.problems);
        assert!(row.problems[0].contains("row 8: time \"yesterday\""));
        assert!(row.problems[1].contains("heart_rate \"x\" is not a number"));
        // A blank row is nothing at all.
        let row = reader.row(9, &csv_row(&["", " ", ""]));
        assert!(row.readings.is_empty() && row.problems.is_empty());
    }

    #[test]
    fn hashes_change_with_the_row_or_what_came_of_it() {
        let layout = ColumnMap::original()
            .resolve(&["Time", "Steps", "Heart Rate"])
            .unwrap();
        let first = |rows: &[[&str; 3]]| {
            let mut reader = SheetReader::new(layout.clone(), options());
            rows.iter()
                .enumerate()
                .map(|(i, r)| reader.row(i as u64 + 2, &csv_row(r)).hash)
                .collect::<Vec<_>>()
        };
        let a = first(&[["45658", "100", "70"], ["45658.1", "150", "70"]]);
        let b = first(&[["45658", "100", "70"], ["45658.1", "150", "70"]]);
        assert_eq!(a, b);
        // Changing row 2 changes row 3's delta, so both hashes change.
        let c = first(&[["45658", "120", "70"], ["45658.1", "150", "70"]]);
        assert_ne!(a[0], c[0]);
        assert_ne!(a[1], c[1]);
    }

    #[test]
    fn mappings_name_what_is_wrong() {
        let map = ColumnMap::parse("time=Timestamp, heart_rate=HR ,spo2=SpO2").unwrap();
        let layout = map.resolve(&["SpO2", "HR", "Timestamp"]).unwrap();
        let mut reader = SheetReader::new(layout, options());
        let row = reader.row(2, &csv_row(&["97", "65", "2025-01-01T00:00:00"]));
        assert_eq!(values(&row, Metric::Spo2), [97.0]);
        assert_eq!(values(&row, Metric::HeartRate), [65.0]);

        assert!(map.resolve(&["\u{feff}SpO2", "HR", "Timestamp"]).is_ok());
        let err = map.resolve(&["Timestamp", "Pulse", "SpO2"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no column \"HR\" (for heart_rate); the columns are [\"Timestamp\", \"Pulse\", \"SpO2\"]"
        );
        for (spec, needle) in [
            ("heart_rate=HR", "map the time column"),
            ("time=T", "map at least one metric"),
            ("time=T,pulse=P", "\"pulse\" is neither time nor a metric"),
            ("time=T,location=L", "location is not a single number"),
            ("time=T,heart_rate", "key=Column"),
            (
                "time=T,heart_rate=A,heart_rate=B",
                "heart_rate is mapped twice",
            ),
        ] {
            let err = ColumnMap::parse(spec).unwrap_err().to_string();
            assert!(err.contains(needle), "{spec}: {err}");
        }
    }

    #[test]
    fn per_row_steps_are_taken_as_they_are() {
        let layout = ColumnMap::parse("time=T,steps=S")
            .unwrap()
            .with_steps(StepsCounting::PerRow)
            .resolve(&["T", "S"])
            .unwrap();
        let mut reader = SheetReader::new(layout, options());
        let a = reader.row(2, &csv_row(&["45658", "100"]));
        let b = reader.row(3, &csv_row(&["45658.1", "40"]));
        assert_eq!(values(&a, Metric::Steps), [100.0]);
        assert_eq!(values(&b, Metric::Steps), [40.0]);
    }
}
