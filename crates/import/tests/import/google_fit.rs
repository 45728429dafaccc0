//! Google Fit Takeout activity CSVs (hand-made files in the Takeout layout).

use chrono::NaiveDate;
use vitalis_import::google_fit::GoogleFitCsv;
use vitalis_import::{ImportError, Location, SkipReason};
use vitalis_model::{Metric, Value};

use crate::support::{Collected, collect, options};

const DAILY: &str = "Date,Move Minutes count,Calories (kcal),Distance (m),Heart Points,\
Average heart rate (bpm),Max heart rate (bpm),Min heart rate (bpm),Step count,Average weight (kg)\n\
2021-03-01,42,1905.5,5230.1,20,71.2,140,52,7012,\n\
2021-03-02,10,1800,,5,,,,1500,70.4\n\
2021-03-03,10,1800,x,5,,,,1500,\n";

fn daily(text: &str) -> Result<Collected, ImportError> {
    let pst = options().with_utc_offset_seconds(-8 * 3600).unwrap();
    GoogleFitCsv::new(text.as_bytes(), "Daily activity metrics.csv", None, pst).map(collect)
}

#[test]
fn daily_summary_columns() {
    let all = daily(DAILY).unwrap();
    assert!(all.error.is_none(), "{:?}", all.error);
    let first: Vec<(Metric, Value)> = all
        .readings
        .iter()
        .filter(|r| r.at == Location::Line(2))
        .map(|r| (r.metric(), r.value()))
        .collect();
    assert_eq!(
        first,
        [
            (Metric::Steps, Value::Scalar(7012.0)),
            (Metric::Distance, Value::Scalar(5230.1)),
            (Metric::Calories, Value::Scalar(1905.5)),
            (Metric::HeartRate, Value::Scalar(71.2)),
        ]
    );
    // Local midnight at UTC-8 is 08:00 UTC.
    assert_eq!(all.readings[0].t_millis(), 1_614_585_600_000);
    // Empty cells are no data; "x" is a bad number.
    assert_eq!(all.readings.len(), 4 + 3 + 2);
    assert_eq!(all.summary.skipped(SkipReason::Unparsable), 1);
    assert_eq!(&*all.readings[0].source, "google_fit");
}

#[test]
fn per_day_interval_file() {
    let text = "Start time,End time,Move Minutes count,Calories (kcal),Distance (m),Step count\n\
                00:00:00.000+01:00,00:15:00.000+01:00,,10.5,,\n\
                08:15:00.000+01:00,08:30:00.000+01:00,5,20.1,800.5,1100\n";
    let day = NaiveDate::from_ymd_opt(2021, 3, 1).unwrap();
    let all = collect(
        GoogleFitCsv::new(text.as_bytes(), "2021-03-01.csv", Some(day), options()).unwrap(),
    );
    assert!(all.error.is_none(), "{:?}", all.error);
    assert_eq!(all.readings.len(), 4);
    // 00:00 at UTC+1 is 23:00 UTC the day before.
    assert_eq!(all.readings[0].t_millis(), 1_614_553_200_000);
}

#[test]
fn missing_date_column_is_named() {
    let err = daily("Day,Step count\n2021-03-01,5\n").unwrap_err();
    assert!(err.to_string().contains("\"Date\""), "{err}");
}

#[test]
fn truncated_copy_names_the_line() {
    let cut = DAILY.len() - 10;
    let all = daily(&DAILY[..cut]).unwrap();
    assert!(matches!(
        all.error,
        Some(ImportError::Truncated {
            at: Location::Line(4),
            ..
        })
    ));
    assert_eq!(all.readings.len(), 4 + 3);
}
