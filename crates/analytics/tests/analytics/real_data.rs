//! Tests on real public wearable data (`testdata/`, attribution in `testdata/SOURCES.md`).
//! Expected values come from the other export of the same data, or from a plain
//! computation written out here, never from the crate's own output.
//!
//! The Garmin fenix 5 R-R file (`garmin_fit/garmin-fenix-5-run.fit`) is not used: it is a
//! binary FIT file, and decoding FIT belongs to the importers, not to this pure crate.

use std::collections::HashMap;

use vitalis_analytics::{
    ArtefactFilter, Day, HeartRateReserve, RestingHrConfig, Sample, UtcOffset,
    daily_resting_heart_rate, daily_steps, hrv_from_beats, time_in_zones,
};

const FITBIT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/fitbit_mturk_2016"
);
const IBI: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/physionet_wearable_exam_stress/Data/S2/Final/IBI.csv"
);

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// "4/12/2016" → the day.
fn fitbit_date(s: &str) -> Day {
    let p: Vec<u32> = s.split('/').map(|x| x.parse().unwrap()).collect();
    Day::from_ymd(p[2] as i32, p[0], p[1]).unwrap()
}

/// "4/12/2016 1:05:30 PM" → Unix ms, reading the wearer's local time as UTC.
fn fitbit_time(s: &str) -> i64 {
    let mut parts = s.split(' ');
    let (date, time, half) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let hms: Vec<i64> = time.split(':').map(|x| x.parse().unwrap()).collect();
    let hour = hms[0] % 12 + if half == "PM" { 12 } else { 0 };
    fitbit_date(date).start_ms(UtcOffset::UTC) + ((hour * 60 + hms[1]) * 60 + hms[2]) * 1000
}

/// Fitbit's daily `TotalSteps` against the sum of the same user's `hourlySteps` that
/// day, through `daily_steps`. The two are separate exports of the tracker's data.
///
/// Observed on this file: of the 934 user-days in both, the hourly sum is never larger
/// than the daily total; 775 (83.0 %) agree exactly and 878 (94.0 %) within 1 %. The
/// disagreements are days on which the daily total holds steps the hourly export lacks:
/// hours missing from the hourly file (the last day of most users has only 10–17 hourly
/// rows), and whole-day totals above a fully recorded hourly sum (steps added to the
/// day after the hourly data was exported, or logged manually). So the test asserts
/// that the hourly sum never exceeds the daily total, that at least 80 % of days agree
/// exactly and at least 93 % within 1 %, and that on days with all 24 hours recorded at
/// least 95 % agree within 1 % (observed 96.5 %).
#[test]
fn fitbit_daily_totals_match_the_hourly_export() {
    let mut daily: HashMap<(String, Day), f64> = HashMap::new();
    for line in read(&format!("{FITBIT}/dailyActivity_merged.csv"))
        .lines()
        .skip(1)
    {
        let f: Vec<&str> = line.split(',').collect();
        daily.insert((f[0].to_owned(), fitbit_date(f[1])), f[2].parse().unwrap());
    }
    let mut hourly: HashMap<String, Vec<Sample>> = HashMap::new();
    let mut plain: HashMap<(String, Day), (f64, usize)> = HashMap::new();
    for line in read(&format!("{FITBIT}/hourlySteps_merged.csv"))
        .lines()
        .skip(1)
    {
        let f: Vec<&str> = line.split(',').collect();
        let t = fitbit_time(f[1]);
        let steps: f64 = f[2].parse().unwrap();
        hourly
            .entry(f[0].to_owned())
            .or_default()
            .push(Sample::new(t, steps));
        let e = plain
            .entry((
                f[0].to_owned(),
                fitbit_date(f[1].split(' ').next().unwrap()),
            ))
            .or_default();
        e.0 += steps;
        e.1 += 1;
    }

    let (mut both, mut exact, mut within_1pct) = (0, 0, 0);
    let (mut complete, mut complete_within) = (0, 0);
    for (user, samples) in &hourly {
        for d in daily_steps(samples, UtcOffset::UTC) {
            let key = (user.clone(), d.day);
            // The crate's total is the plain sum of that day's rows.
            assert_eq!((d.steps, d.readings), plain[&key], "{key:?}");
            let Some(&total) = daily.get(&key) else {
                continue;
            };
            both += 1;
            assert!(
                d.steps <= total,
                "{key:?}: hourly {} > daily {total}",
                d.steps
            );
            exact += usize::from(d.steps == total);
            let close = total - d.steps <= 0.01 * total;
            within_1pct += usize::from(close);
            if d.readings == 24 {
                complete += 1;
                complete_within += usize::from(close);
            }
        }
    }
    let rate = |k: usize, n: usize| k as f64 / n as f64;
    eprintln!(
        "fitbit steps: {both} user-days in both exports; exact {exact} ({:.1} %), within 1 % {within_1pct} ({:.1} %); \
         complete days {complete}, within 1 % {complete_within} ({:.1} %)",
        100.0 * rate(exact, both),
        100.0 * rate(within_1pct, both),
        100.0 * rate(complete_within, complete),
    );
    assert_eq!(both, 934);
    assert!(rate(exact, both) >= 0.80);
    assert!(rate(within_1pct, both) >= 0.93);
    assert!(rate(complete_within, complete) >= 0.95);
}

/// RMSSD of the Empatica E4 inter-beat intervals (PhysioNet Wearable Exam Stress, S2,
/// final exam): first row the Unix start time, then `offset s, interval s` per beat.
#[test]
fn empatica_rmssd_matches_a_plain_computation() {
    let text = read(IBI);
    let mut lines = text.lines();
    let start: f64 = lines
        .next()
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let rows: Vec<(f64, f64)> = lines
        .map(|l| {
            let (a, b) = l.split_once(',').unwrap();
            (a.trim().parse().unwrap(), b.trim().parse().unwrap())
        })
        .collect();
    let beats: Vec<Sample> = rows
        .iter()
        .map(|(offset, ibi)| Sample::new(((start + offset) * 1000.0).round() as i64, ibi * 1000.0))
        .collect();
    let hrv = hrv_from_beats(&beats, &ArtefactFilter::STANDARD).unwrap();

    // The same definition written out in seconds: a beat follows the previous one when
    // the offsets differ by its interval; keep intervals in 0.3–2.0 s that change by at
    // most 20 % from a directly preceding in-range interval; RMSSD over directly
    // successive kept pairs.
    let n = rows.len();
    let in_range: Vec<bool> = rows.iter().map(|r| (0.3..=2.0).contains(&r.1)).collect();
    let follows: Vec<bool> = (0..n)
        .map(|i| i > 0 && ((rows[i].0 - rows[i - 1].0) - rows[i].1).abs() < 0.1)
        .collect();
    let kept: Vec<bool> = (0..n)
        .map(|i| {
            in_range[i]
                && !(follows[i]
                    && in_range[i - 1]
                    && (rows[i].1 - rows[i - 1].1).abs() > 0.2 * rows[i - 1].1)
        })
        .collect();
    let diffs: Vec<f64> = (1..n)
        .filter(|&i| follows[i] && kept[i] && kept[i - 1])
        .map(|i| (rows[i].1 - rows[i - 1].1) * 1000.0)
        .collect();
    let rmssd = (diffs.iter().map(|d| d * d).sum::<f64>() / diffs.len() as f64).sqrt();
    let nn: Vec<f64> = (0..n)
        .filter(|&i| kept[i])
        .map(|i| rows[i].1 * 1000.0)
        .collect();
    let mean = nn.iter().sum::<f64>() / nn.len() as f64;
    let sdnn = (nn.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (nn.len() - 1) as f64).sqrt();

    eprintln!(
        "empatica S2: {} beats, {} NN, {} pairs, RMSSD {:.1} ms, SDNN {:.1} ms, mean HR {:.1} bpm",
        n, hrv.nn_count, hrv.successive_pairs, rmssd, sdnn, hrv.mean_hr_bpm
    );
    assert_eq!(hrv.successive_pairs, diffs.len());
    assert_eq!(hrv.nn_count, nn.len());
    assert!(diffs.len() > 5_000, "{} pairs", diffs.len());
    let got = hrv.rmssd_ms.unwrap();
    assert!((got - rmssd).abs() < 1e-6 * rmssd, "{got} vs {rmssd}");
    assert!((hrv.sdnn_ms.unwrap() - sdnn).abs() < 1e-6 * sdnn);
    assert!((5.0..=200.0).contains(&got), "RMSSD {got} ms");
    assert!((40.0..=180.0).contains(&hrv.mean_hr_bpm));
}

/// Resting heart rate and Karvonen zones from one Fitbit user's ~5 s heart rate,
/// 2016-04-01 to 04-03 (no step data covers these days, so the whole day is searched).
#[test]
fn fitbit_resting_heart_rate_and_zones() {
    let path = format!(
        "{FITBIT}/heartrate_seconds_subsets/weronikakr_Real-Time-Analysis/heartrate_seconds_merged.csv"
    );
    let hr: Vec<Sample> = read(&path)
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Sample::new(fitbit_time(f[1]), f[2].parse().unwrap())
        })
        .collect();
    let config = RestingHrConfig::default(); // 30 min, 5 s expected, half of it needed
    let daily = daily_resting_heart_rate(&hr, None, UtcOffset::UTC, &config);
    assert_eq!(daily.len(), 3);

    // Brute force: every window of 30 minutes starting at a sample of the same day and
    // ending within it, with at least 180 samples; the lowest mean.
    let window = 30 * 60_000;
    for (day, rest) in &daily {
        let (lo, hi) = (
            day.start_ms(UtcOffset::UTC),
            day.next().start_ms(UtcOffset::UTC),
        );
        let today: Vec<&Sample> = hr.iter().filter(|s| s.t >= lo && s.t < hi).collect();
        let mut best = f64::INFINITY;
        for s in &today {
            if s.t + window > hi {
                continue;
            }
            let inside: Vec<f64> = today
                .iter()
                .filter(|x| x.t >= s.t && x.t < s.t + window)
                .map(|x| x.value)
                .collect();
            if inside.len() >= 180 {
                best = best.min(inside.iter().sum::<f64>() / inside.len() as f64);
            }
        }
        eprintln!(
            "fitbit 2022484408 {day}: resting HR {:.1} bpm ({} samples)",
            rest.bpm, rest.samples
        );
        assert!(
            (rest.bpm - best).abs() < 1e-9,
            "{day}: {} vs {best}",
            rest.bpm
        );
        assert!((40.0..=100.0).contains(&rest.bpm), "{day}: {}", rest.bpm);
    }

    // Zones for an assumed profile (the data set has no ages): born 1980, so 36 in 2016
    // and HRmax = 208 − 0.7 · 36 = 182.8 bpm.
    let (day, rest) = daily[0];
    let reserve = HeartRateReserve::from_profile(1980, rest.bpm, day).unwrap();
    assert!((reserve.max_bpm() - 182.8).abs() < 1e-9);
    let zones = reserve.zones();
    assert!(zones[0].lower_bpm > rest.bpm);
    assert!((zones[4].upper_bpm - 182.8).abs() < 1e-9);
    for z in &zones {
        assert!(z.lower_bpm < z.upper_bpm && z.upper_bpm <= reserve.max_bpm() + 1e-9);
    }
    for w in zones.windows(2) {
        assert!((w[0].upper_bpm - w[1].lower_bpm).abs() < 1e-9);
    }

    // Time in zones against a plain count: each sample holds until the next, for at
    // most 15 s.
    let times = time_in_zones(&hr, &reserve, 15_000);
    let mut sorted = hr.clone();
    sorted.sort_by_key(|s| s.t);
    let mut plain = [0i64; 6];
    for w in sorted.windows(2) {
        let dt = (w[1].t - w[0].t).min(15_000);
        let f = (w[0].value - rest.bpm) / reserve.reserve_bpm();
        let slot = if w[0].value < zones[0].lower_bpm {
            5
        } else {
            zones
                .iter()
                .rposition(|z| w[0].value >= z.lower_bpm)
                .unwrap()
        };
        assert!(slot == 5 || f >= 0.5 - 1e-9);
        plain[slot] += dt;
    }
    assert_eq!(
        times.zone_ms,
        [plain[0], plain[1], plain[2], plain[3], plain[4]]
    );
    assert_eq!(times.below_ms, plain[5]);
    eprintln!(
        "zones (bpm): {:?}; minutes per zone {:?}",
        zones.map(|z| (z.lower_bpm.round(), z.upper_bpm.round())),
        times.zone_ms.map(|ms| ms / 60_000)
    );
}

/// RMSSD from the R-R intervals a Garmin fenix 5 recorded in its FIT file (`hrv`
/// messages, read by `vitalis-import`), against the definition written out here.
#[test]
fn garmin_rr_rmssd_matches_a_plain_computation() {
    use vitalis_import::{ImportOptions, Item, fit::FitFile};
    use vitalis_model::{Metric, Timestamp, Value};
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/garmin_fit/garmin-fenix-5-run.fit"
    );
    let now = Timestamp::new(1_900_000_000_000).unwrap();
    let rr: Vec<f64> = FitFile::open(path, ImportOptions::new(now))
        .unwrap()
        .filter_map(|item| match item.unwrap() {
            Item::Reading(r) if r.metric() == Metric::RrInterval => match r.value() {
                Value::Scalar(ms) => Some(ms),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert!(rr.len() > 100, "{} intervals", rr.len());
    let hrv = vitalis_analytics::hrv_from_rr(&rr, &ArtefactFilter::STANDARD).unwrap();

    // Kept: 300–2000 ms and within 20 % of a preceding in-range interval; RMSSD over
    // successive kept pairs.
    let n = rr.len();
    let in_range: Vec<bool> = rr.iter().map(|v| (300.0..=2000.0).contains(v)).collect();
    let kept: Vec<bool> = (0..n)
        .map(|i| {
            in_range[i]
                && !(i > 0 && in_range[i - 1] && (rr[i] - rr[i - 1]).abs() > 0.2 * rr[i - 1])
        })
        .collect();
    let diffs: Vec<f64> = (1..n)
        .filter(|&i| kept[i] && kept[i - 1])
        .map(|i| rr[i] - rr[i - 1])
        .collect();
    let rmssd = (diffs.iter().map(|d| d * d).sum::<f64>() / diffs.len() as f64).sqrt();
    eprintln!(
        "garmin fenix 5: {n} R-R intervals, {} NN, RMSSD {:.1} ms (plain {rmssd:.1} ms), mean HR {:.1} bpm",
        hrv.nn_count,
        hrv.rmssd_ms.unwrap(),
        hrv.mean_hr_bpm
    );
    let got = hrv.rmssd_ms.unwrap();
    assert!(
        (got - rmssd).abs() < 1e-6 * rmssd.max(1.0),
        "{got} vs {rmssd}"
    );
    assert!((2.0..=200.0).contains(&got), "RMSSD {got} ms");
    assert!(
        (40.0..=220.0).contains(&hrv.mean_hr_bpm),
        "{} bpm",
        hrv.mean_hr_bpm
    );
}
