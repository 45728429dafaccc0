//! The simulated wearer: determinism, validity and physiological plausibility.

use vitalis_model::{RawReading, RawValue, Timestamp};
use vitalis_simulator::physiology::{
    BLOOD_PRESSURE_EVERY_MS, FIVE_MINUTES_EVERY_MS, HEART_RATE_EVERY_MS, MINUTE_EVERY_MS, Wearer,
};

/// 2025-01-06 00:00 UTC.
const BASE: i64 = 1_736_121_600_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
const SEEDS: [u64; 5] = [0, 1, 2, 42, 0xDEAD_BEEF];

fn number(r: &RawReading) -> f64 {
    match r.value {
        RawValue::Number(v) => v,
        ref other => panic!("{} is not a number: {other:?}", r.metric),
    }
}

fn series<'a>(
    readings: &'a [RawReading],
    metric: &'a str,
) -> impl Iterator<Item = (i64, f64)> + 'a {
    readings
        .iter()
        .filter(move |r| r.metric == metric)
        .map(|r| (r.t, number(r)))
}

fn mean(values: impl IntoIterator<Item = f64>) -> f64 {
    let (sum, n) = values
        .into_iter()
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    assert!(n > 0, "mean of nothing");
    sum / n as f64
}

/// The sleep intervals `[onset, wake)` of the readings, from their sleep stages, and
/// whether each is whole (its onset lies inside the readings, after a wake-up).
fn nights(readings: &[RawReading]) -> Vec<(i64, i64, bool)> {
    let mut nights = Vec::new();
    let mut onset = None;
    let mut woke_before = false;
    for r in readings.iter().filter(|r| r.metric == "sleep_stage") {
        match (&r.value, onset) {
            (RawValue::Text(s), Some(start)) if s == "awake" && is_wake_up(readings, r.t) => {
                nights.push((start, r.t, woke_before));
                onset = None;
                woke_before = true;
            }
            (RawValue::Text(s), None) if s != "awake" => onset = Some(r.t),
            _ => {}
        }
    }
    nights
}

/// A wake-up is the `awake` stage reported together with the day's resting heart rate.
fn is_wake_up(readings: &[RawReading], t: i64) -> bool {
    readings
        .iter()
        .any(|r| r.metric == "resting_heart_rate" && r.t == t)
}

fn asleep(nights: &[(i64, i64, bool)], t: i64) -> bool {
    nights.iter().any(|&(from, to, _)| from <= t && t < to)
}

#[test]
fn same_seed_gives_the_same_readings() {
    let a = Wearer::new(7).readings(BASE, BASE + DAY);
    let b = Wearer::new(7).readings(BASE, BASE + DAY);
    assert_eq!(a, b);
    assert_ne!(a, Wearer::new(8).readings(BASE, BASE + DAY));
    assert_eq!(Wearer::new(7).traits(), Wearer::new(7).traits());
}

#[test]
fn readings_do_not_depend_on_how_time_is_split() {
    let whole = Wearer::new(3).readings(BASE - 5 * HOUR, BASE + 30 * HOUR);
    let mut wearer = Wearer::new(3);
    let mut pieces = Vec::new();
    let cuts = [
        BASE - 5 * HOUR,
        BASE - 7_777,
        BASE + 12_345,
        BASE + 13 * HOUR + 1,
        BASE + 30 * HOUR,
    ];
    for pair in cuts.windows(2) {
        pieces.extend(wearer.readings(pair[0], pair[1]));
    }
    assert_eq!(whole, pieces);
    // Going back in time regenerates the same values.
    assert_eq!(
        wearer.readings(BASE, BASE + HOUR),
        Wearer::new(3).readings(BASE, BASE + HOUR)
    );
    assert!(wearer.readings(BASE, BASE).is_empty());
}

#[test]
fn every_reading_validates_and_sits_on_its_cadence_grid() {
    for seed in SEEDS {
        let (from, to) = (BASE + 1_234, BASE + 3 * DAY + 1_234);
        let readings = Wearer::new(seed).readings(from, to);
        for r in &readings {
            assert!(
                from <= r.t && r.t < to,
                "seed {seed}: {r:?} outside the interval"
            );
            let now = Timestamp::new(r.t).unwrap();
            let valid = r
                .validate(now)
                .unwrap_or_else(|e| panic!("seed {seed}: {r:?}: {e}"));
            assert_eq!(
                r.unit.as_deref(),
                Some(valid.metric().spec().unit),
                "canonical unit"
            );
            let cadence = match r.metric.as_str() {
                "heart_rate" => HEART_RATE_EVERY_MS,
                "blood_pressure_systolic" | "blood_pressure_diastolic" => BLOOD_PRESSURE_EVERY_MS,
                "body_temperature" | "respiratory_rate" => FIVE_MINUTES_EVERY_MS,
                _ => MINUTE_EVERY_MS,
            };
            assert_eq!(r.t % cadence, 0, "seed {seed}: {r:?} off its grid");
        }
        assert!(
            readings.windows(2).all(|w| w[0].t <= w[1].t),
            "ordered by time"
        );
    }
}

#[test]
fn each_metric_comes_at_its_cadence() {
    let readings = Wearer::new(5).readings(BASE, BASE + DAY);
    let count = |m: &str| readings.iter().filter(|r| r.metric == m).count();
    assert_eq!(count("heart_rate"), 17_280);
    for m in ["steps", "distance", "calories", "spo2"] {
        assert_eq!(count(m), 1_440, "{m}");
    }
    assert_eq!(count("body_temperature"), 288);
    assert_eq!(count("respiratory_rate"), 288);
    assert_eq!(count("blood_pressure_systolic"), 48);
    assert_eq!(count("blood_pressure_diastolic"), 48);
    assert_eq!(count("resting_heart_rate"), 1);
    let systolic: Vec<_> = series(&readings, "blood_pressure_systolic").collect();
    let diastolic: Vec<_> = series(&readings, "blood_pressure_diastolic").collect();
    for ((ts, s), (td, d)) in systolic.into_iter().zip(diastolic) {
        assert_eq!(ts, td, "a pair shares its timestamp");
        assert!(
            s >= d + 20.0 && (75.0..=190.0).contains(&s) && (40.0..=120.0).contains(&d),
            "{s}/{d}"
        );
    }
}

#[test]
fn heart_rate_is_lower_asleep_than_by_day() {
    for seed in SEEDS {
        let readings = Wearer::new(seed).readings(BASE, BASE + 3 * DAY);
        let nights = nights(&readings);
        assert!(nights.len() >= 2, "seed {seed}: {nights:?}");
        let hr: Vec<_> = series(&readings, "heart_rate").collect();
        let night = mean(
            hr.iter()
                .filter(|(t, _)| asleep(&nights, *t))
                .map(|&(_, v)| v),
        );
        let day = mean(
            hr.iter()
                .filter(|(t, _)| !asleep(&nights, *t))
                .map(|&(_, v)| v),
        );
        assert!(
            night + 8.0 < day,
            "seed {seed}: asleep {night:.1} vs awake {day:.1}"
        );
        let afternoon = mean(hr.iter().filter(|(t, _)| hour(*t) == 15).map(|&(_, v)| v));
        let early = mean(hr.iter().filter(|(t, _)| hour(*t) == 3).map(|&(_, v)| v));
        assert!(
            early + 10.0 < afternoon,
            "seed {seed}: 03h {early:.1} vs 15h {afternoon:.1}"
        );
    }
}

fn hour(t: i64) -> i64 {
    t.rem_euclid(DAY) / HOUR
}

#[test]
fn heart_rate_changes_smoothly_at_rest() {
    let readings = Wearer::new(11).readings(BASE, BASE + DAY);
    let hr: Vec<f64> = series(&readings, "heart_rate").map(|(_, v)| v).collect();
    let jumps = hr.windows(2).filter(|w| (w[0] - w[1]).abs() > 12.0).count();
    assert!(jumps < 10, "{jumps} jumps of more than 12 beats in 5 s");
}

#[test]
fn steps_come_only_with_raised_heart_rate_by_day() {
    for seed in SEEDS {
        let w = Wearer::new(seed);
        let resting = w.traits().resting_heart_rate;
        let readings = { w }.readings(BASE, BASE + 3 * DAY);
        let nights = nights(&readings);
        // Heart rate is on a full 5-s grid from BASE, so its index follows from the time.
        let hr: Vec<f64> = series(&readings, "heart_rate").map(|(_, v)| v).collect();
        let per_minute = (MINUTE_EVERY_MS / HEART_RATE_EVERY_MS) as usize;
        let minute_before = |t: i64| {
            let end = ((t - BASE) / HEART_RATE_EVERY_MS) as usize;
            &hr[end - per_minute..end]
        };
        // The minute counted by a steps reading at t, and the minute after it.
        let peak_around = |t: i64| {
            let end = ((t - BASE) / HEART_RATE_EVERY_MS) as usize;
            hr[end - per_minute..(end + per_minute).min(hr.len())]
                .iter()
                .copied()
                .fold(0.0, f64::max)
        };
        let steps: Vec<_> = series(&readings, "steps").collect();
        // Skip the first minute: its heart rate lies before the interval.
        let steps = &steps[1..];
        let walking: Vec<_> = steps.iter().filter(|(_, s)| *s > 0.0).collect();
        assert!(walking.len() > 30, "seed {seed}: hardly any walking");
        for &&(t, s) in &walking {
            assert!(!asleep(&nights, t), "seed {seed}: {s} steps asleep at {t}");
            let peak = peak_around(t);
            assert!(
                peak > resting + 15.0,
                "seed {seed}: {s} steps at {t} with heart rate {peak}"
            );
        }
        let minute_mean = |t: i64| mean(minute_before(t).iter().copied());
        let active = mean(walking.iter().map(|(t, _)| minute_mean(*t)));
        let still = steps
            .iter()
            .filter(|(t, s)| *s == 0.0 && !asleep(&nights, *t));
        let still = mean(still.map(|(t, _)| minute_mean(*t)));
        assert!(
            active > still + 15.0,
            "seed {seed}: walking {active:.1} vs still {still:.1}"
        );
    }
}

#[test]
fn distance_and_calories_follow_steps() {
    let w = Wearer::new(9);
    let basal = w.traits().basal_kcal_per_day / 1440.0;
    let readings = { w }.readings(BASE, BASE + DAY);
    let steps: Vec<_> = series(&readings, "steps").collect();
    let distance: Vec<_> = series(&readings, "distance").collect();
    let calories: Vec<_> = series(&readings, "calories").collect();
    for ((s, d), c) in steps.iter().zip(&distance).zip(&calories) {
        assert_eq!((s.0, s.0), (d.0, c.0), "same minute");
        assert_eq!(s.1 == 0.0, d.1 == 0.0, "distance {} for {} steps", d.1, s.1);
        if s.1 > 0.0 {
            let stride = d.1 / s.1;
            assert!((0.6..=1.2).contains(&stride), "stride {stride}");
            assert!(s.1 <= 180.0, "{} steps in a minute", s.1);
        }
        assert!(
            c.1 >= basal - 0.01 && c.1 <= basal + 0.07 * s.1 + 0.01,
            "{} kcal for {} steps",
            c.1,
            s.1
        );
    }
}

#[test]
fn spo2_stays_mostly_between_95_and_99() {
    for seed in SEEDS {
        let readings = Wearer::new(seed).readings(BASE, BASE + 3 * DAY);
        let spo2: Vec<f64> = series(&readings, "spo2").map(|(_, v)| v).collect();
        let normal = spo2.iter().filter(|v| (95.0..=99.0).contains(*v)).count();
        assert!(
            normal as f64 >= 0.99 * spo2.len() as f64,
            "seed {seed}: {normal} of {}",
            spo2.len()
        );
        assert!(
            spo2.iter().all(|v| (90.0..=99.0).contains(v)),
            "seed {seed}"
        );
    }
}

#[test]
fn sleep_runs_in_cycles_and_ends_awake() {
    for seed in SEEDS {
        let readings = Wearer::new(seed).readings(BASE, BASE + 4 * DAY);
        for (onset, wake, _) in nights(&readings).into_iter().filter(|n| n.2) {
            let hours = (wake - onset) as f64 / HOUR as f64;
            assert!(
                (5.0..=10.5).contains(&hours),
                "seed {seed}: night of {hours:.1} h"
            );
            let stages: Vec<&str> = readings
                .iter()
                .filter(|r| r.metric == "sleep_stage" && onset <= r.t && r.t <= wake)
                .map(|r| match &r.value {
                    RawValue::Text(s) => s.as_str(),
                    other => panic!("{other:?}"),
                })
                .collect();
            assert_eq!(stages.first(), Some(&"light"), "seed {seed}");
            assert_eq!(stages.last(), Some(&"awake"), "seed {seed}");
            assert!(
                stages.windows(2).all(|w| w[0] != w[1]),
                "seed {seed}: repeated stage"
            );
            for stage in ["deep", "rem"] {
                let n = stages.iter().filter(|s| **s == stage).count();
                assert!(n >= 3, "seed {seed}: {n} {stage} phases in {hours:.1} h");
            }
        }
    }
}

#[test]
fn vitals_follow_sleep() {
    let readings = Wearer::new(4).readings(BASE, BASE + 3 * DAY);
    let nights = nights(&readings);
    for metric in ["respiratory_rate", "blood_pressure_systolic"] {
        let values: Vec<_> = series(&readings, metric).collect();
        let night = mean(
            values
                .iter()
                .filter(|(t, _)| asleep(&nights, *t))
                .map(|&(_, v)| v),
        );
        let day = mean(
            values
                .iter()
                .filter(|(t, _)| !asleep(&nights, *t))
                .map(|&(_, v)| v),
        );
        assert!(night < day, "{metric}: asleep {night:.1} vs awake {day:.1}");
    }
    let temperature: Vec<f64> = series(&readings, "body_temperature")
        .map(|(_, v)| v)
        .collect();
    assert!(
        temperature.iter().all(|v| (35.8..=37.6).contains(v)),
        "{temperature:?}"
    );
}
