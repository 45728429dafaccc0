//! Anomalies against the wearer's own baseline, by robust statistics.
//!
//! The baseline of a day is the median and the median absolute deviation (MAD) of the
//! values of the preceding days. A value's modified z-score is
//! `M = 0.6745 · (x − median) / MAD`, and a value with `|M| > 3.5` is an outlier
//! (Iglewicz & Hoaglin 1993, "How to Detect and Handle Outliers", ASQC Quality Press).
//! Median and MAD are not moved by the outliers they are meant to find, unlike the mean
//! and standard deviation.
//!
//! When more than half the baseline is one value the MAD is 0; the score then uses the
//! mean absolute deviation instead, scaled as `(x − median) / (1.2533 · MeanAD)`
//! (`1.2533 = √(π/2)`, which makes MeanAD estimate σ for normal data as `MAD/0.6745`
//! does). When that is 0 too (a constant baseline), there is no spread to judge by and
//! the score is `None`.

use serde::{Deserialize, Serialize};

use crate::stats::{percentile, sorted_usable, usable};
use crate::time::Day;

/// The Iglewicz–Hoaglin outlier threshold for the modified z-score.
pub const MODIFIED_Z_THRESHOLD: f64 = 3.5;

/// Median and MAD of a set of values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RobustBaseline {
    /// The median.
    pub median: f64,
    /// The median absolute deviation from the median (unscaled).
    pub mad: f64,
    /// The mean absolute deviation from the median, the fallback spread.
    pub mean_abs_dev: f64,
    /// Values it was computed from.
    pub n: usize,
}

impl RobustBaseline {
    /// The baseline of the usable values; `None` when there are none.
    pub fn of(values: &[f64]) -> Option<RobustBaseline> {
        let sorted = sorted_usable(values);
        let median = percentile(&sorted, 0.5)?;
        let deviations: Vec<f64> = sorted.iter().map(|v| (v - median).abs()).collect();
        let mean_abs_dev = crate::stats::mean(deviations.iter().copied(), deviations.len());
        let mad = percentile(&sorted_usable(&deviations), 0.5)?;
        Some(RobustBaseline {
            median,
            mad,
            mean_abs_dev,
            n: sorted.len(),
        })
    }

    /// The modified z-score of `x`; `None` for an unusable `x` or a baseline without spread.
    pub fn modified_z(&self, x: f64) -> Option<f64> {
        if !usable(x) {
            return None;
        }
        let z = if self.mad > 0.0 {
            0.6745 * (x - self.median) / self.mad
        } else if self.mean_abs_dev > 0.0 {
            (x - self.median) / (1.253_314 * self.mean_abs_dev)
        } else {
            return None;
        };
        z.is_finite().then_some(z)
    }
}

/// How a day's baseline is formed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnomalyConfig {
    /// Days before the day judged that form its baseline (30).
    pub baseline_days: u32,
    /// Fewest baseline values needed to judge a day at all (7).
    pub min_baseline_values: usize,
    /// `|M|` above which a day is an anomaly (3.5).
    pub threshold: f64,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        AnomalyConfig {
            baseline_days: 30,
            min_baseline_values: 7,
            threshold: MODIFIED_Z_THRESHOLD,
        }
    }
}

/// Which side of the baseline an anomaly lies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Higher than usual.
    Above,
    /// Lower than usual.
    Below,
}

/// A day whose value lies far from the wearer's baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// The day.
    pub day: Day,
    /// Its value.
    pub value: f64,
    /// The baseline of the preceding days.
    pub baseline: RobustBaseline,
    /// The modified z-score.
    pub score: f64,
    /// Above or below the baseline.
    pub direction: Direction,
}

/// One value per day, sorted by day, unusable values dropped and repeated days averaged.
pub(crate) fn clean_daily(daily: &[(Day, f64)]) -> Vec<(Day, f64)> {
    let mut v: Vec<(Day, f64)> = daily.iter().copied().filter(|(_, x)| usable(*x)).collect();
    v.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut out: Vec<(Day, f64)> = Vec::with_capacity(v.len());
    for group in v.chunk_by(|a, b| a.0 == b.0) {
        let mean = crate::stats::mean(group.iter().map(|g| g.1), group.len());
        out.push((group[0].0, mean));
    }
    out
}

/// The days of a daily series (one value per day, e.g. resting heart rate) that are
/// anomalies against the baseline of the `baseline_days` before each of them.
pub fn daily_anomalies(daily: &[(Day, f64)], config: &AnomalyConfig) -> Vec<Anomaly> {
    let series = clean_daily(daily);
    let threshold = if config.threshold.is_finite() {
        config.threshold.abs()
    } else {
        MODIFIED_Z_THRESHOLD
    };
    let mut out = Vec::new();
    let mut from = 0;
    let mut window: Vec<f64> = Vec::new();
    for (i, &(day, value)) in series.iter().enumerate() {
        let first = day.plus(-i64::from(config.baseline_days));
        while from < i && series[from].0 < first {
            from += 1;
        }
        if i - from < config.min_baseline_values.max(1) {
            continue;
        }
        window.clear();
        window.extend(series[from..i].iter().map(|d| d.1));
        let Some(baseline) = RobustBaseline::of(&window) else {
            continue;
        };
        if let Some(score) = baseline.modified_z(value)
            && score.abs() > threshold
        {
            out.push(Anomaly {
                day,
                value,
                baseline,
                score,
                direction: if score > 0.0 {
                    Direction::Above
                } else {
                    Direction::Below
                },
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modified_z_by_hand() {
        // median 3, |dev| = 2 1 0 1 2 → MAD 1; x = 10 → 0.6745 · 7 = 4.7215.
        let b = RobustBaseline::of(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!((b.median, b.mad), (3.0, 1.0));
        assert!((b.modified_z(10.0).unwrap() - 4.7215).abs() < 1e-12);
        // MAD 0 falls back to MeanAD: median 5, MeanAD = 1/5.
        let b = RobustBaseline::of(&[5.0, 5.0, 5.0, 5.0, 6.0]).unwrap();
        assert_eq!(b.mad, 0.0);
        assert!((b.modified_z(6.0).unwrap() - 1.0 / (1.253_314 * 0.2)).abs() < 1e-9);
        let flat = RobustBaseline::of(&[5.0; 4]).unwrap();
        assert_eq!(flat.modified_z(9.0), None);
        assert!(RobustBaseline::of(&[f64::NAN]).is_none());
    }

    #[test]
    fn flags_a_spike_against_the_preceding_days() {
        let d0 = Day::from_ymd(2024, 1, 1).unwrap();
        let mut daily: Vec<(Day, f64)> = (0..20)
            .map(|i| (d0.plus(i), 60.0 + (i % 3) as f64))
            .collect();
        daily.push((d0.plus(20), 75.0));
        daily.push((d0.plus(3), f64::NAN));
        let a = daily_anomalies(&daily, &AnomalyConfig::default());
        assert_eq!(a.len(), 1);
        assert_eq!((a[0].day, a[0].direction), (d0.plus(20), Direction::Above));
    }
}
