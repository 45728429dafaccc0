//! The plain-language summary states no number that is not among its facts.

use proptest::prelude::*;
use vitalis_analytics::{
    Anomaly, BloodPressure, Day, DayFacts, Direction, MetricAnomaly, Narrative, RobustBaseline,
    SleepDay, StageDurations, describe_day, describe_week,
};
use vitalis_model::Metric;

/// Removes every shown fact from the text; what is left must hold no digit.
fn assert_numbers_are_facts(n: &Narrative) {
    let mut shown: Vec<&str> = n.facts.iter().map(|f| f.shown.as_str()).collect();
    // Longest first, so "12,345" goes before a "345" that happens to be a fact too.
    shown.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut rest = n.text.clone();
    for s in shown {
        rest = rest.replacen(s, "#", 1);
    }
    assert!(
        !rest.chars().any(|c| c.is_ascii_digit()),
        "numbers without a fact in {:?} (left: {rest:?})",
        n.text
    );
    for f in &n.facts {
        assert!(f.value.is_finite(), "{f:?}");
    }
}

fn day_facts(day: Day, v: &[f64; 8], present: u16) -> DayFacts {
    let on = |bit: u16| present & (1 << bit) != 0;
    let mut f = DayFacts::new(day);
    f.steps = on(0).then_some(v[0]);
    f.step_goal = on(1).then_some(8_000.0);
    f.goal_streak_days = on(2).then_some(3);
    f.resting_hr_bpm = on(3).then_some(v[1]);
    f.rmssd_ms = on(4).then_some(v[2]);
    f.sleep = on(5).then_some(SleepDay {
        day,
        episodes: 1,
        stages: StageDurations {
            awake_ms: (v[3] * 60_000.0) as i64,
            light_ms: 14_400_000,
            deep_ms: 4_800_000,
            rem_ms: 5_400_000,
        },
    });
    f.odi = on(6).then_some(v[4]);
    f.blood_pressure = on(7).then_some(BloodPressure {
        t: 0,
        systolic: v[5],
        diastolic: v[6],
    });
    f.temperature_deviation_c = on(8).then_some(v[7]);
    if on(9) {
        f.anomalies.push(MetricAnomaly {
            metric: Metric::RestingHeartRate,
            anomaly: Anomaly {
                day,
                value: 75.0,
                baseline: RobustBaseline {
                    median: 61.0,
                    mad: 2.0,
                    mean_abs_dev: 2.0,
                    n: 30,
                },
                score: 4.7,
                direction: Direction::Above,
            },
        });
    }
    f
}

proptest! {
    #[test]
    fn every_number_in_the_text_is_a_fact(
        v in (0.0..40_000.0f64, 35.0..120.0f64, 5.0..150.0f64, 0.0..90.0f64, 0.0..40.0f64, 90.0..200.0f64, 50.0..130.0f64, -2.0..2.0f64),
        present in any::<u16>(),
        week_len in 1usize..8,
    ) {
        let v = [v.0, v.1, v.2, v.3, v.4, v.5, v.6, v.7];
        let d0 = Day::from_ymd(2024, 4, 29).unwrap();
        let day = describe_day(&day_facts(d0, &v, present));
        assert_numbers_are_facts(&day);
        let week: Vec<DayFacts> = (0..week_len)
            .map(|i| {
                let mut w = v;
                w[1] += i as f64 * 0.7;
                day_facts(d0.plus(i as i64), &w, present.rotate_left(i as u32))
            })
            .collect();
        assert_numbers_are_facts(&describe_week(&week));
    }
}

#[test]
fn a_full_day_reads_well() {
    let d = Day::from_ymd(2024, 4, 29).unwrap();
    let n = describe_day(&day_facts(
        d,
        &[9_412.0, 58.4, 42.0, 20.0, 1.5, 128.0, 82.0, 0.4],
        0x3ff,
    ));
    assert_eq!(
        n.text,
        "Summary for 2024-04-29. You walked 9,412 steps (somewhat active), reaching your goal \
         of 8,000, day 3 of your streak. You slept 6 h 50 min at 95 % efficiency, with \
         1 h 20 min of deep sleep and 1 h 30 min of REM sleep. Your resting heart rate was 58 \
         beats per minute. Heart-rate variability (RMSSD) was 42 ms. Blood oxygen dipped by 3 \
         points or more 1.5 times per hour of recording. Blood pressure was 128/82 mm Hg, in \
         the stage 1 hypertension range of the ACC/AHA guideline. Body temperature was 0.4 °C \
         above your usual level. Resting heart rate of 75.0 was unusually high (typically \
         61.0)."
    );
    let keys: Vec<&str> = n.facts.iter().map(|f| f.key.as_str()).collect();
    assert!(keys.contains(&"steps") && keys.contains(&"resting_heart_rate"));
    assert_numbers_are_facts(&n);
}
