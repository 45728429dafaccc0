//! Empatica E4 session files (PhysioNet exam-stress data set, student S2).

use vitalis_import::empatica::{E4Signal, EmpaticaCsv, EmpaticaFolder};
use vitalis_import::{ImportError, Location, SkipReason};
use vitalis_model::{Metric, Value};

use crate::support::{Collected, collect, options, testdata};

const DIR: &str = testdata!("physionet_wearable_exam_stress/Data/S2/Final");

fn lines(name: &str) -> Vec<String> {
    std::fs::read_to_string(format!("{DIR}/{name}"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn read(bytes: &[u8], signal: E4Signal) -> Result<Collected, ImportError> {
    EmpaticaCsv::new(bytes, signal.file_name(), signal, options()).map(collect)
}

#[test]
fn heart_rate_samples_follow_start_and_rate() {
    let text = lines("HR.csv");
    let start: f64 = text[0].parse().unwrap();
    let all = collect(
        EmpaticaCsv::open(format!("{DIR}/HR.csv"), E4Signal::HeartRate, options()).unwrap(),
    );
    assert!(all.error.is_none());
    assert_eq!(all.readings.len() + all.skipped.len(), text.len() - 2);
    assert_eq!(all.readings[0].t_millis(), (start * 1000.0) as i64);
    assert_eq!(
        all.readings[0].value(),
        Value::Scalar(text[2].parse().unwrap())
    );
    // 1 Hz.
    assert_eq!(
        all.readings[1].t_millis() - all.readings[0].t_millis(),
        1000
    );
}

#[test]
fn inter_beat_intervals() {
    let text = lines("IBI.csv");
    let all = collect(
        EmpaticaCsv::open(format!("{DIR}/IBI.csv"), E4Signal::InterBeat, options()).unwrap(),
    );
    assert!(all.error.is_none());
    assert_eq!(all.readings.len() + all.skipped.len(), text.len() - 1);
    let (offset, interval) = text[1].split_once(',').unwrap();
    let start: f64 = text[0].split(',').next().unwrap().parse().unwrap();
    let first = &all.readings[0];
    assert_eq!(first.metric(), Metric::RrInterval);
    let expected_t = ((start + offset.parse::<f64>().unwrap()) * 1000.0).round() as i64;
    assert_eq!(first.t_millis(), expected_t);
    let Value::Scalar(ms) = first.value() else {
        panic!()
    };
    assert!((ms - interval.parse::<f64>().unwrap() * 1000.0).abs() < 1e-6);
}

#[test]
fn folder_reads_all_three_and_skin_temperature_below_range_is_counted() {
    let samples =
        lines("HR.csv").len() - 2 + lines("IBI.csv").len() - 1 + lines("TEMP.csv").len() - 2;
    let cold = lines("TEMP.csv")[2..]
        .iter()
        .filter(|l| l.parse::<f64>().unwrap() < 25.0)
        .count();
    let all = collect(EmpaticaFolder::open(DIR, options()).unwrap());
    assert!(all.error.is_none());
    assert_eq!(all.readings.len() + all.skipped.len(), samples);
    assert!(all.summary.skipped(SkipReason::OutOfRange) as usize >= cold);
}

#[test]
fn truncated_and_wrong_preambles() {
    let bytes = std::fs::read(format!("{DIR}/TEMP.csv")).unwrap();
    let cut = bytes.len() / 2 + 3;
    let part = read(&bytes[..cut], E4Signal::Temperature).unwrap();
    let line = bytes[..cut].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    if bytes[cut - 1] != b'\n' {
        assert!(
            matches!(part.error, Some(ImportError::Truncated { at, .. }) if at == Location::Line(line))
        );
    }
    let err = read(b"1544027344.0, HR\n1.0\n", E4Signal::InterBeat).unwrap_err();
    assert!(err.to_string().contains("\"HR\""), "{err}");
    assert!(read(b"yesterday\n1.0\n", E4Signal::HeartRate).is_err());
    assert!(read(b"1544027344.0\n0\n", E4Signal::HeartRate).is_err());
    assert!(read(b"", E4Signal::Temperature).is_err());
}
