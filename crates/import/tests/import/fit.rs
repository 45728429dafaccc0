//! FIT activity files (Garmin, COROS). Expected counts are the facts recorded with the
//! files in `testdata/SOURCES.md`.

use vitalis_import::fit::FitFile;
use vitalis_import::{ImportError, Location};
use vitalis_model::{Metric, Value};

use crate::support::{Collected, collect, options, testdata};

const VIVOACTIVE: &str = testdata!("garmin_fit/20170518-191602-1740899583.fit");
const FENIX2: &str = testdata!("garmin_fit/activity-small-fenix2-run.fit");
const FENIX5: &str = testdata!("garmin_fit/garmin-fenix-5-run.fit");
const COROS: &str = testdata!("garmin_fit/coros-pace-2-cycling-misaligned-fields.fit");

fn read(bytes: &[u8]) -> Collected {
    collect(FitFile::new(bytes, "test.fit", options()))
}

fn count(c: &Collected, metric: Metric) -> usize {
    c.readings.iter().filter(|r| r.metric() == metric).count()
}

/// Heart rate values found, taken or skipped (a value can be out of range).
fn heart_rates(c: &Collected) -> usize {
    count(c, Metric::HeartRate)
        + c.skipped
            .iter()
            .filter(|s| s.detail.starts_with("value: heart_rate"))
            .count()
}

#[test]
fn records_with_heart_rate_match_the_documented_counts() {
    for (path, expected) in [(VIVOACTIVE, 1_641), (COROS, 8_946)] {
        let all = read(&std::fs::read(path).unwrap());
        assert!(all.error.is_none(), "{path}: {:?}", all.error);
        assert_eq!(heart_rates(&all), expected, "{path}");
        // Records are in time order.
        let hr: Vec<i64> = all
            .readings
            .iter()
            .filter(|r| r.metric() == Metric::HeartRate)
            .map(|r| r.t_millis())
            .collect();
        assert!(hr.windows(2).all(|w| w[0] <= w[1]), "{path}");
    }
}

#[test]
fn positions_and_distances() {
    let all = read(&std::fs::read(FENIX2).unwrap());
    // SOURCES.md: 2,809 records. One of them carries no valid heart rate for the
    // decoder, so 2,808 or 2,809 heart rates.
    let hr = heart_rates(&all);
    assert!(hr == 2_809 || hr == 2_808, "{hr}");
    let positions: Vec<_> = all
        .readings
        .iter()
        .filter_map(|r| match r.value() {
            Value::Position(p) => Some(p),
            _ => None,
        })
        .collect();
    assert!(!positions.is_empty());
    assert!(
        positions
            .iter()
            .all(|p| p.lat.abs() <= 90.0 && p.lon.abs() <= 180.0)
    );
    // A run's distance steps are small, and add up to a plausible run.
    let steps: Vec<f64> = all
        .readings
        .iter()
        .filter(|r| r.metric() == Metric::Distance)
        .map(|r| match r.value() {
            Value::Scalar(m) => m,
            other => panic!("{other:?}"),
        })
        .collect();
    let total: f64 = steps.iter().sum();
    assert!(total > 1_000.0 && total < 50_000.0, "{total}");
    assert!(steps.iter().skip(1).all(|m| *m < 100.0));
}

#[test]
fn hrv_intervals_become_rr_readings_in_ms() {
    let all = read(&std::fs::read(FENIX5).unwrap());
    assert!(all.error.is_none(), "{:?}", all.error);
    let rr: Vec<_> = all
        .readings
        .iter()
        .filter(|r| r.metric() == Metric::RrInterval)
        .collect();
    assert!(rr.len() > 50, "{}", rr.len());
    for pair in rr.windows(2) {
        // Each beat is one interval after the previous one.
        let Value::Scalar(ms) = pair[1].value() else {
            panic!()
        };
        assert_eq!(pair[1].t_millis() - pair[0].t_millis(), ms.round() as i64);
    }
}

#[test]
fn same_file_same_readings() {
    let bytes = std::fs::read(FENIX5).unwrap();
    assert_eq!(read(&bytes).readings, read(&bytes).readings);
}

#[test]
fn truncated_copies_yield_a_prefix_then_say_where() {
    for path in [VIVOACTIVE, FENIX5] {
        let bytes = std::fs::read(path).unwrap();
        let full = read(&bytes).readings;
        for cut in [
            0,
            5,
            13,
            500,
            bytes.len() / 3,
            bytes.len() / 2,
            bytes.len() - 1,
        ] {
            let part = read(&bytes[..cut]);
            let Some(ImportError::Truncated { at, .. }) = &part.error else {
                panic!("{path} cut at {cut}: {:?}", part.error);
            };
            if cut > 14 {
                let Location::Message { byte, .. } = *at else {
                    panic!("{at:?}")
                };
                assert!(byte as usize <= cut);
            }
            assert_eq!(
                part.readings[..],
                full[..part.readings.len()],
                "cut at {cut}"
            );
        }
        // Cutting later never loses what an earlier cut gave.
        let half = read(&bytes[..bytes.len() / 2]).readings.len();
        let most = read(&bytes[..bytes.len() - 1]).readings.len();
        assert!(half < most && most <= full.len(), "{path}");
    }
}

#[test]
fn garbage_is_malformed_not_a_panic() {
    let mut bytes = std::fs::read(FENIX5).unwrap();
    for b in &mut bytes[200..260] {
        *b = 0xA5;
    }
    let all = read(&bytes);
    assert!(all.error.is_some());
    assert!(
        read(b"not a fit file at all, but long enough")
            .error
            .is_some()
    );
}
