//! Fitbit (Fitabase layout) CSV exports.

use std::collections::BTreeSet;

use vitalis_import::fitbit::{FitbitCsv, FitbitLayout};
use vitalis_import::{ImportError, Location, SkipReason};
use vitalis_model::{Metric, Value};

use crate::support::{Collected, collect, options, testdata};

const HOURLY: &str = testdata!("fitbit_mturk_2016/hourlySteps_merged.csv");
const DAILY: &str = testdata!("fitbit_mturk_2016/dailyActivity_merged.csv");
const SLEEP: &str = testdata!("fitbit_mturk_2016/sleepDay_merged.csv");
const WEIGHT: &str = testdata!("fitbit_mturk_2016/weightLogInfo_merged.csv");
const HEART: &str = testdata!(
    "fitbit_mturk_2016/heartrate_seconds_subsets/weronikakr_Real-Time-Analysis/heartrate_seconds_merged.csv"
);

/// Data rows (lines after the header) and distinct `Id`s, by a plain scan.
fn scan(path: &str) -> (usize, usize) {
    let text = std::fs::read_to_string(path).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).filter(|l| !l.is_empty()).collect();
    let ids: BTreeSet<&str> = rows.iter().map(|l| l.split(',').next().unwrap()).collect();
    (rows.len(), ids.len())
}

fn read(path: &str) -> (FitbitLayout, Collected) {
    let csv = FitbitCsv::open(path, options()).unwrap();
    (csv.layout(), collect(csv))
}

fn read_bytes(bytes: &[u8]) -> Result<Collected, ImportError> {
    FitbitCsv::new(bytes, "test.csv", options()).map(collect)
}

fn subjects(c: &Collected) -> usize {
    let ids: BTreeSet<&str> = c
        .readings
        .iter()
        .map(|r| &**r.subject.as_ref().unwrap())
        .collect();
    ids.len()
}

#[test]
fn hourly_steps_one_reading_per_row() {
    let (rows, ids) = scan(HOURLY);
    let (layout, all) = read(HOURLY);
    assert_eq!(layout, FitbitLayout::HourlySteps);
    assert!(all.error.is_none(), "{:?}", all.error);
    assert_eq!(all.readings.len(), rows);
    assert_eq!(subjects(&all), ids);
    assert!(all.readings.iter().all(|r| r.metric() == Metric::Steps));
    // 1503960366,4/12/2016 12:00:00 AM,373 — local midnight at UTC-7 is 07:00 UTC.
    let pdt = options().with_utc_offset_seconds(-7 * 3600).unwrap();
    let first = FitbitCsv::open(HOURLY, pdt)
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let vitalis_import::Item::Reading(first) = first else {
        panic!()
    };
    assert_eq!(first.t_millis(), 1_460_444_400_000);
    assert_eq!(first.value(), Value::Scalar(373.0));
    assert_eq!(first.subject.as_deref(), Some("1503960366"));
    assert_eq!(first.at, Location::Line(2));
}

#[test]
fn daily_activity_steps_distance_calories() {
    let (rows, ids) = scan(DAILY);
    let (layout, all) = read(DAILY);
    assert_eq!(layout, FitbitLayout::DailyActivity);
    assert!(all.error.is_none(), "{:?}", all.error);
    for metric in [Metric::Steps, Metric::Distance, Metric::Calories] {
        let n = all.readings.iter().filter(|r| r.metric() == metric).count();
        let skipped = all.skipped.len();
        assert!(n + skipped >= rows && n <= rows, "{metric}: {n} of {rows}");
    }
    assert_eq!(all.readings.len() + all.skipped.len(), 3 * rows);
    assert_eq!(subjects(&all), ids);
    // 8.5 km on the first row.
    let d = all
        .readings
        .iter()
        .find(|r| r.metric() == Metric::Distance)
        .unwrap();
    assert_eq!(d.value(), Value::Scalar(8500.0));
}

#[test]
fn heart_rate_weight_and_sleep() {
    let (rows, _) = scan(HEART);
    let (layout, all) = read(HEART);
    assert_eq!(layout, FitbitLayout::HeartrateSeconds);
    assert_eq!(all.readings.len() + all.skipped.len(), rows);
    assert!(all.readings.iter().all(|r| r.metric() == Metric::HeartRate));

    let (rows, ids) = scan(WEIGHT);
    let (layout, all) = read(WEIGHT);
    assert_eq!(layout, FitbitLayout::WeightLogInfo);
    assert_eq!(all.readings.len(), rows);
    assert_eq!(subjects(&all), ids);

    // Sleep totals have no catalog metric: every row is skipped, none silently.
    let (rows, _) = scan(SLEEP);
    let (layout, all) = read(SLEEP);
    assert_eq!(layout, FitbitLayout::SleepDay);
    assert!(all.error.is_none());
    assert_eq!(all.readings.len(), 0);
    assert_eq!(all.summary.skipped(SkipReason::UnknownType) as usize, rows);
}

#[test]
fn truncated_file_yields_complete_lines_then_names_the_cut_line() {
    let bytes = std::fs::read(HOURLY).unwrap();
    for cut in [100, 5_000, bytes.len() / 2, bytes.len() - 2] {
        let part = read_bytes(&bytes[..cut]).unwrap();
        let cut_line = bytes[..cut].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        let Some(ImportError::Truncated { at, .. }) = &part.error else {
            panic!("cut at {cut}: {:?}", part.error);
        };
        assert_eq!(*at, Location::Line(cut_line), "cut at {cut}");
        // Every line before the cut one, but the header, is a reading.
        assert_eq!(part.readings.len() as u64, cut_line - 2, "cut at {cut}");
    }
}

#[test]
fn wrong_header_names_the_column() {
    let err = read_bytes(b"Id,ActivityHour,Steps\r\n1,4/12/2016 1:00:00 AM,5\r\n").unwrap_err();
    let ImportError::WrongColumn {
        index,
        expected,
        found,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(
        (*index, *expected, found.as_str()),
        (3, "StepTotal", "Steps")
    );
    assert!(err.to_string().contains("\"Steps\""), "{err}");

    let err = read_bytes(b"when,what\n1,2\n").unwrap_err();
    assert!(matches!(err, ImportError::UnknownLayout { .. }), "{err}");
}

#[test]
fn bad_rows_are_skipped_with_a_reason() {
    let csv = "Id,ActivityMinute,Steps\n\
               1,4/12/2016 1:00:00 AM,5\n\
               1,4/12/2016 1:01:00 AM,many\n\
               1,4/31/2016 1:02:00 AM,5\n\
               1,4/12/2016 1:03:00 AM,200000\n\
               1,4/12/2016 1:04:00 AM\n";
    let all = read_bytes(csv.as_bytes()).unwrap();
    assert_eq!(all.readings.len(), 1);
    assert_eq!(all.summary.skipped(SkipReason::Unparsable), 3);
    assert_eq!(all.summary.skipped(SkipReason::OutOfRange), 1);
    let lines: Vec<Location> = all.skipped.iter().map(|s| s.at).collect();
    assert_eq!(lines, [3, 4, 5, 6].map(Location::Line));
}

#[test]
fn minute_steps_wide_has_sixty_readings_a_row() {
    let mut header = String::from("Id,ActivityHour");
    let mut row = String::from("7,4/13/2016 2:00:00 PM");
    for m in 0..60 {
        header.push_str(&format!(",Steps{m:02}"));
        row.push_str(&format!(",{m}"));
    }
    let all = read_bytes(format!("{header}\n{row}\n").as_bytes()).unwrap();
    assert_eq!(all.readings.len(), 60);
    let t0 = all.readings[0].t_millis();
    assert_eq!(all.readings[59].t_millis() - t0, 59 * 60_000);
    assert_eq!(all.readings[59].value(), Value::Scalar(59.0));
}
