//! Fitbit CSV exports in the Fitabase layout (`dailyActivity_merged.csv`,
//! `heartrate_seconds_merged.csv`, `minuteStepsNarrow_merged.csv`,
//! `minuteStepsWide_merged.csv`, `hourlySteps_merged.csv`, `sleepDay_merged.csv`,
//! `weightLogInfo_merged.csv`).
//!
//! The layout is recognised from the header. Every file starts with `Id`, the Fitbit
//! user, which becomes each reading's [`subject`](crate::ImportedReading::subject) so the
//! caller can map one Fitbit user to one patient. Times are `M/D/YYYY h:mm:ss AM/PM` (or
//! a bare `M/D/YYYY`) in the wearer's local time, converted with
//! [`ImportOptions::utc_offset`]. Interval values (hourly steps, daily totals) are stamped
//! with the start of their interval.
//!
//! | layout | columns read | readings |
//! |---|---|---|
//! | dailyActivity | `TotalSteps`, `TotalDistance` (km), `Calories` | steps, distance, calories at local midnight |
//! | heartrate_seconds | `Value` | heart_rate |
//! | minuteStepsNarrow | `Steps` | steps per minute |
//! | minuteStepsWide | `Steps00` … `Steps59` | steps per minute of `ActivityHour` |
//! | hourlySteps | `StepTotal` | steps per hour |
//! | sleepDay | — | none: the catalog has no sleep-total metric; each row is skipped as `unknown_type` |
//! | weightLogInfo | `WeightKg` | weight (`BMI` and `Fat` have no catalog metric) |

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use vitalis_model::Metric;

use crate::convert::{
    ImportOptions, Interner, item, local_millis, parse_us_datetime, scalar_reading,
};
use crate::csv_rows::{CsvRows, field};
use crate::error::{ImportError, Location, Result};
use crate::item::{Item, Skip, SkipReason};
use crate::summary::{Tracker, importer};

/// The Fitabase file layouts this module reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FitbitLayout {
    /// `dailyActivity_merged.csv`: daily totals.
    DailyActivity,
    /// `heartrate_seconds_merged.csv`: heart rate every few seconds.
    HeartrateSeconds,
    /// `minuteStepsNarrow_merged.csv`: steps per minute, one row each.
    MinuteStepsNarrow,
    /// `minuteStepsWide_merged.csv`: steps per minute, one row per hour.
    MinuteStepsWide,
    /// `hourlySteps_merged.csv`: steps per hour.
    HourlySteps,
    /// `sleepDay_merged.csv`: nightly sleep totals.
    SleepDay,
    /// `weightLogInfo_merged.csv`: weight log.
    WeightLogInfo,
}

const DAILY_ACTIVITY: &[&str] = &[
    "Id",
    "ActivityDate",
    "TotalSteps",
    "TotalDistance",
    "TrackerDistance",
    "LoggedActivitiesDistance",
    "VeryActiveDistance",
    "ModeratelyActiveDistance",
    "LightActiveDistance",
    "SedentaryActiveDistance",
    "VeryActiveMinutes",
    "FairlyActiveMinutes",
    "LightlyActiveMinutes",
    "SedentaryMinutes",
    "Calories",
];

/// `Steps00` … `Steps59`, the minute columns of the wide layout.
const MINUTE_COLUMNS: [&str; 60] = {
    const DIGITS: [&str; 60] = [
        "Steps00", "Steps01", "Steps02", "Steps03", "Steps04", "Steps05", "Steps06", "Steps07",
        "Steps08", "Steps09", "Steps10", "Steps11", "Steps12", "Steps13", "Steps14", "Steps15",
        "Steps16", "Steps17", "Steps18", "Steps19", "Steps20", "Steps21", "Steps22", "Steps23",
        "Steps24", "Steps25", "Steps26", "Steps27", "Steps28", "Steps29", "Steps30", "Steps31",
        "Steps32", "Steps33", "Steps34", "Steps35", "Steps36", "Steps37", "Steps38", "Steps39",
        "Steps40", "Steps41", "Steps42", "Steps43", "Steps44", "Steps45", "Steps46", "Steps47",
        "Steps48", "Steps49", "Steps50", "Steps51", "Steps52", "Steps53", "Steps54", "Steps55",
        "Steps56", "Steps57", "Steps58", "Steps59",
    ];
    DIGITS
};

impl FitbitLayout {
    /// Every layout, in the order header detection tries them.
    pub const ALL: [FitbitLayout; 7] = [
        FitbitLayout::DailyActivity,
        FitbitLayout::HeartrateSeconds,
        FitbitLayout::MinuteStepsNarrow,
        FitbitLayout::MinuteStepsWide,
        FitbitLayout::HourlySteps,
        FitbitLayout::SleepDay,
        FitbitLayout::WeightLogInfo,
    ];

    /// The Fitabase name of the layout (`hourlySteps`, ...).
    pub fn name(self) -> &'static str {
        match self {
            FitbitLayout::DailyActivity => "dailyActivity",
            FitbitLayout::HeartrateSeconds => "heartrate_seconds",
            FitbitLayout::MinuteStepsNarrow => "minuteStepsNarrow",
            FitbitLayout::MinuteStepsWide => "minuteStepsWide",
            FitbitLayout::HourlySteps => "hourlySteps",
            FitbitLayout::SleepDay => "sleepDay",
            FitbitLayout::WeightLogInfo => "weightLogInfo",
        }
    }

    /// The header columns, in order.
    pub fn columns(self) -> Vec<&'static str> {
        match self {
            FitbitLayout::DailyActivity => DAILY_ACTIVITY.to_vec(),
            FitbitLayout::HeartrateSeconds => vec!["Id", "Time", "Value"],
            FitbitLayout::MinuteStepsNarrow => vec!["Id", "ActivityMinute", "Steps"],
            FitbitLayout::MinuteStepsWide => {
                let mut columns = vec!["Id", "ActivityHour"];
                columns.extend(MINUTE_COLUMNS);
                columns
            }
            FitbitLayout::HourlySteps => vec!["Id", "ActivityHour", "StepTotal"],
            FitbitLayout::SleepDay => vec![
                "Id",
                "SleepDay",
                "TotalSleepRecords",
                "TotalMinutesAsleep",
                "TotalTimeInBed",
            ],
            FitbitLayout::WeightLogInfo => vec![
                "Id",
                "Date",
                "WeightKg",
                "WeightPounds",
                "Fat",
                "BMI",
                "IsManualReport",
                "LogId",
            ],
        }
    }

    /// Recognises the layout of `header`, or names the first column that differs from
    /// the closest layout.
    pub fn detect(header: &[&str], file: &str) -> Result<FitbitLayout> {
        let mut best: Option<(FitbitLayout, (usize, bool))> = None;
        for layout in FitbitLayout::ALL {
            let columns = layout.columns();
            let matching = columns
                .iter()
                .zip(header)
                .take_while(|(want, got)| *want == *got)
                .count();
            if matching == columns.len() && header.len() == columns.len() {
                return Ok(layout);
            }
            // On a tie, the layout with as many columns as the header is the likelier.
            let score = (matching, columns.len() == header.len());
            if best.is_none_or(|(_, best)| score > best) {
                best = Some((layout, score));
            }
        }
        match best {
            // `Id` and the time column identify the layout; a later column is then wrong.
            Some((layout, (matching, _))) if matching >= 2 => {
                let columns = layout.columns();
                let index = matching;
                Err(ImportError::WrongColumn {
                    file: file.to_owned(),
                    layout: layout.name(),
                    index: index + 1,
                    expected: columns.get(index).copied().unwrap_or("(end of header)"),
                    found: header.get(index).map_or(String::new(), |s| (*s).to_owned()),
                })
            }
            _ => Err(ImportError::UnknownLayout {
                file: file.to_owned(),
                header: header.join(","),
                supported: "dailyActivity, heartrate_seconds, minuteStepsNarrow, \
                            minuteStepsWide, hourlySteps, sleepDay, weightLogInfo",
            }),
        }
    }
}

/// The readings of one Fitabase CSV file, row by row.
pub struct FitbitCsv<R> {
    rows: CsvRows<R>,
    layout: FitbitLayout,
    width: usize,
    options: ImportOptions,
    source: Arc<str>,
    subjects: Interner,
    pending: VecDeque<Item>,
    tracker: Tracker,
}

impl FitbitCsv<BufReader<File>> {
    /// Opens the file at `path` and reads its header.
    pub fn open(path: impl AsRef<Path>, options: ImportOptions) -> Result<Self> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| ImportError::Io {
            file: name.clone(),
            at: Location::Line(1),
            source,
        })?;
        FitbitCsv::new(BufReader::new(file), name, options)
    }
}

impl<R: Read> FitbitCsv<R> {
    /// Reads the header of `input` (named `file` in errors) and recognises its layout.
    pub fn new(input: R, file: impl Into<String>, options: ImportOptions) -> Result<Self> {
        let mut rows = CsvRows::new(input, file);
        let header: Vec<String> = match rows.next_row()? {
            Some((record, _)) => (0..record.len())
                .map(|i| field(record, i).to_owned())
                .collect(),
            None => Vec::new(),
        };
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let layout = FitbitLayout::detect(&header, rows.file())?;
        Ok(FitbitCsv {
            rows,
            layout,
            width: header.len(),
            source: options.source_label("fitbit", None),
            options,
            subjects: Interner::default(),
            pending: VecDeque::new(),
            tracker: Tracker::default(),
        })
    }

    /// The layout recognised from the header.
    pub fn layout(&self) -> FitbitLayout {
        self.layout
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
            if record.len() != self.width {
                self.pending.push_back(Item::Skipped(Skip::new(
                    SkipReason::Unparsable,
                    at,
                    format!("expected {} fields, found {}", self.width, record.len()),
                )));
                continue;
            }
            let subject = self.subjects.get(field(record, 0));
            let time_text = field(record, 1);
            let Some(local) = parse_us_datetime(time_text) else {
                self.pending.push_back(Item::Skipped(Skip::new(
                    SkipReason::Unparsable,
                    at,
                    format!("time {time_text:?} is not M/D/YYYY h:mm:ss AM/PM"),
                )));
                continue;
            };
            let t = local_millis(local, self.options.utc_offset);
            let mut value = |column: usize, metric: Metric, unit: &str, offset_ms: i64| {
                let text = field(record, column);
                let item = match text.parse::<f64>() {
                    Ok(v) => item(
                        scalar_reading(metric, t + offset_ms, v, unit, self.options.now),
                        &self.source,
                        Some(&subject),
                        at,
                    ),
                    Err(_) => Item::Skipped(Skip::new(
                        SkipReason::Unparsable,
                        at,
                        format!("column {} value {text:?} is not a number", column + 1),
                    )),
                };
                self.pending.push_back(item);
            };
            match self.layout {
                FitbitLayout::DailyActivity => {
                    value(2, Metric::Steps, "{steps}", 0);
                    value(3, Metric::Distance, "km", 0);
                    value(14, Metric::Calories, "kcal", 0);
                }
                FitbitLayout::HeartrateSeconds => value(2, Metric::HeartRate, "/min", 0),
                FitbitLayout::MinuteStepsNarrow | FitbitLayout::HourlySteps => {
                    value(2, Metric::Steps, "{steps}", 0);
                }
                FitbitLayout::MinuteStepsWide => {
                    for minute in 0..60 {
                        value(2 + minute, Metric::Steps, "{steps}", minute as i64 * 60_000);
                    }
                }
                FitbitLayout::WeightLogInfo => value(2, Metric::Weight, "kg", 0),
                FitbitLayout::SleepDay => self.pending.push_back(Item::Skipped(Skip::new(
                    SkipReason::UnknownType,
                    at,
                    format!(
                        "sleep totals (TotalMinutesAsleep {:?}, TotalTimeInBed {:?}) have no \
                         metric in the catalog",
                        field(record, 3),
                        field(record, 4)
                    ),
                ))),
            }
        }
    }
}

importer!(FitbitCsv<R: Read>);
