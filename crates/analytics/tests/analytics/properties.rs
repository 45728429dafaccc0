//! Property tests: the statistics hold their invariants for any input, including NaN,
//! infinities, duplicates and samples in any order, and never produce NaN.

use proptest::prelude::*;
use vitalis_analytics::{
    AnomalyConfig, ArtefactFilter, DailyConfig, Day, DesaturationConfig, Granularity, Rollup,
    Sample, SleepConfig, TrendConfig, UtcOffset, daily_anomalies, daily_steps, daily_summaries,
    desaturations, hrv_from_beats, hrv_from_rr, lttb, percentile, resting_heart_rate,
    sleep_episodes, trend,
};
use vitalis_model::SleepStage;

const TEN_DAYS_MS: i64 = 10 * 86_400_000;

/// Any f64, with the awkward ones made likely.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -1e3..1e3f64,
        1 => any::<f64>(),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(1e300),
    ]
}

/// Samples over ten days from 2024-01-01, with repeated timestamps likely.
fn samples(max: usize) -> impl Strategy<Value = Vec<Sample>> {
    let t0 = 1_704_067_200_000i64;
    prop::collection::vec(
        (
            prop_oneof![0..TEN_DAYS_MS, (0..50i64).prop_map(|k| k * 60_000)],
            value(),
        )
            .prop_map(move |(dt, v)| Sample::new(t0 + dt, v)),
        0..max,
    )
}

fn finite(v: f64) -> bool {
    v.is_finite()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn daily_summaries_are_ordered_finite_and_bounded(s in samples(300), offset in -840i32..=840) {
        let config = DailyConfig::new(UtcOffset::from_minutes(offset).unwrap(), 60_000).unwrap();
        let out = daily_summaries(&s, &config);
        let mut counted = 0;
        for d in &out.days {
            let m = d.summary;
            counted += m.count;
            prop_assert!(m.min <= m.p05 && m.p05 <= m.p25 && m.p25 <= m.p50);
            prop_assert!(m.p50 <= m.p75 && m.p75 <= m.p95 && m.p95 <= m.max);
            prop_assert!(m.min <= m.mean && m.mean <= m.max);
            for v in [m.min, m.max, m.mean, m.p05, m.p50, m.p95, d.coverage] {
                prop_assert!(finite(v));
            }
            prop_assert!(m.std_dev.is_none_or(|s| s.is_finite() && s >= 0.0));
            prop_assert!((0.0..=1.0).contains(&d.coverage));
            prop_assert!(d.slots_with_data as usize <= m.count);
        }
        prop_assert_eq!(counted + out.rejected + out.duplicates, s.len());
        prop_assert!(out.days.windows(2).all(|w| w[0].day < w[1].day));
    }

    #[test]
    fn daily_summaries_ignore_input_order(s in samples(200).prop_shuffle(), seed in any::<u64>()) {
        let config = DailyConfig::new(UtcOffset::UTC, 5_000).unwrap();
        let mut shuffled = s.clone();
        // A deterministic permutation from the seed (reverse, then rotate).
        shuffled.reverse();
        if !shuffled.is_empty() {
            let k = (seed % shuffled.len() as u64) as usize;
            shuffled.rotate_left(k);
        }
        prop_assert_eq!(daily_summaries(&s, &config), daily_summaries(&shuffled, &config));
    }

    #[test]
    fn percentiles_are_monotone_in_p(mut v in prop::collection::vec(-1e6..1e6f64, 1..100), a in 0.0..=1.0f64, b in 0.0..=1.0f64) {
        v.sort_by(f64::total_cmp);
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let (x, y) = (percentile(&v, lo).unwrap(), percentile(&v, hi).unwrap());
        prop_assert!(x <= y && v[0] <= x && y <= v[v.len() - 1]);
    }

    #[test]
    fn lttb_keeps_ends_count_and_order(s in samples(400), n in 0usize..450) {
        let clean = vitalis_analytics::clean(&s, vitalis_analytics::Duplicates::Mean).samples;
        let out = lttb(&s, n);
        prop_assert_eq!(out.len(), n.min(clean.len()));
        prop_assert!(out.windows(2).all(|w| w[0].t < w[1].t));
        prop_assert!(out.iter().all(|p| clean.contains(p)));
        if n >= 2 && clean.len() >= 2 {
            prop_assert_eq!(out[0], clean[0]);
            prop_assert_eq!(out[out.len() - 1], clean[clean.len() - 1]);
        }
    }

    #[test]
    fn rollup_merge_equals_rollup_of_the_concatenation(s in samples(300), split in any::<prop::sample::Index>()) {
        let k = if s.is_empty() { 0 } else { split.index(s.len() + 1) };
        for g in [Granularity::Minute, Granularity::Hour, Granularity::Day] {
            let whole = Rollup::of(g, &s);
            let mut merged = Rollup::of(g, &s[..k]);
            merged.merge(&Rollup::of(g, &s[k..])).unwrap();
            prop_assert_eq!(whole.len(), merged.len());
            for ((ka, a), (kb, b)) in whole.buckets().zip(merged.buckets()) {
                prop_assert_eq!((ka, a.count, a.min, a.max), (kb, b.count, b.min, b.max));
                let tol = 1e-9 * (1.0 + a.sum_sq.abs());
                prop_assert!((a.sum - b.sum).abs() <= tol && (a.sum_sq - b.sum_sq).abs() <= tol);
                prop_assert!(a.mean().is_finite() && a.variance().is_none_or(|v| v.is_finite() && v >= 0.0));
            }
            // Coarsening minutes equals rolling up straight into the wider buckets.
            if g == Granularity::Minute {
                let day = whole.coarsen(Granularity::Day).unwrap();
                let direct = Rollup::of(Granularity::Day, &s);
                prop_assert_eq!(
                    day.buckets().map(|(k, b)| (k, b.count)).collect::<Vec<_>>(),
                    direct.buckets().map(|(k, b)| (k, b.count)).collect::<Vec<_>>()
                );
            }
        }
    }

    #[test]
    fn rmssd_is_invariant_under_a_constant_shift(rr in prop::collection::vec(300.0..1500.0f64, 2..200), c in -200.0..200.0f64) {
        let shifted: Vec<f64> = rr.iter().map(|r| r + c).collect();
        let a = hrv_from_rr(&rr, &ArtefactFilter::NONE).unwrap();
        let b = hrv_from_rr(&shifted, &ArtefactFilter::NONE).unwrap();
        let (ra, rb) = (a.rmssd_ms.unwrap(), b.rmssd_ms.unwrap());
        prop_assert!((ra - rb).abs() <= 1e-9 * (1.0 + ra));
        let (sa, sb) = (a.sdnn_ms.unwrap(), b.sdnn_ms.unwrap());
        prop_assert!((sa - sb).abs() <= 1e-9 * (1.0 + sa));
    }

    #[test]
    fn hrv_never_gives_nan(rr in prop::collection::vec(value(), 0..200), beats in samples(200)) {
        for h in [hrv_from_rr(&rr, &ArtefactFilter::STANDARD), hrv_from_rr(&rr, &ArtefactFilter::NONE), hrv_from_beats(&beats, &ArtefactFilter::STANDARD)].into_iter().flatten() {
            prop_assert!(h.mean_nn_ms.is_finite() && h.mean_hr_bpm.is_finite());
            prop_assert!(h.rmssd_ms.is_none_or(f64::is_finite) && h.sdnn_ms.is_none_or(f64::is_finite));
            prop_assert!(h.pnn50.is_none_or(|p| (0.0..=1.0).contains(&p)));
        }
    }

    #[test]
    fn other_analyses_never_give_nan(s in samples(300)) {
        if let Some(r) = resting_heart_rate(&s, None, &Default::default()) {
            prop_assert!((20.0..=250.0).contains(&r.bpm));
        }
        let report = desaturations(&s, &DesaturationConfig::default());
        prop_assert!(report.odi.is_none_or(|o| o.is_finite() && o >= 0.0));
        for e in &report.events {
            prop_assert!(e.end >= e.start && e.depth() >= 3.0 && e.nadir.is_finite());
        }
        for d in daily_steps(&s, UtcOffset::UTC) {
            prop_assert!(d.steps.is_finite() && d.steps >= 0.0);
        }
        let daily: Vec<(Day, f64)> = s.iter().map(|x| (Day::containing(x.t, UtcOffset::UTC), x.value)).collect();
        for a in daily_anomalies(&daily, &AnomalyConfig { min_baseline_values: 2, ..Default::default() }) {
            prop_assert!(a.score.is_finite() && a.score.abs() > 3.5);
        }
        if let Some(last) = daily.iter().map(|d| d.0).max()
            && let Some(t) = trend(&daily, last, &TrendConfig::MONTH)
        {
            prop_assert!(t.slope_per_day.is_finite() && t.fitted_last.is_finite());
        }
    }

    #[test]
    fn sleep_episodes_are_consistent(stages in prop::collection::vec((0..TEN_DAYS_MS / 10, 0usize..4), 0..100)) {
        let stages: Vec<(i64, SleepStage)> = stages.into_iter().map(|(t, s)| (t, SleepStage::ALL[s])).collect();
        for s in sleep_episodes(&stages, &SleepConfig::default()) {
            prop_assert!(s.end > s.start);
            prop_assert_eq!(s.in_bed_ms(), s.end - s.start);
            prop_assert!((0.0..=1.0).contains(&s.efficiency()));
        }
    }
}
