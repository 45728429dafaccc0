//! Body temperature against the wearer's own baseline.
//!
//! Each day's value is the median of its samples (robust to the odd spike of a loose
//! sensor). The baseline of a day is the median of the daily values of the preceding
//! `baseline_days` days (28 by default, a menstrual cycle's length, so a cyclic rise is
//! compared with a whole cycle), and needs `min_baseline_days` of them. Deviation is the
//! day's value minus its baseline, in °C. Wrist and skin temperature sit well below core
//! temperature, which is why the absolute value matters less than the deviation from a
//! personal baseline.

use serde::{Deserialize, Serialize};
use vitalis_model::Metric;

use crate::sample::{Duplicates, Sample, clean_metric};
use crate::stats::{median, percentile};
use crate::summary::day_runs;
use crate::time::{Day, UtcOffset};

/// How the baseline is formed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TemperatureConfig {
    /// The wearer's offset from UTC.
    pub offset: UtcOffset,
    /// Preceding days that form the baseline (28).
    pub baseline_days: u32,
    /// Fewest preceding days with data needed for a baseline (3).
    pub min_baseline_days: usize,
}

impl Default for TemperatureConfig {
    fn default() -> Self {
        TemperatureConfig {
            offset: UtcOffset::UTC,
            baseline_days: 28,
            min_baseline_days: 3,
        }
    }
}

/// One day's temperature and its deviation from the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TemperatureDay {
    /// The local day.
    pub day: Day,
    /// Median of the day's samples, °C.
    pub value: f64,
    /// Median of the preceding days' values; `None` with too few of them.
    pub baseline: Option<f64>,
    /// `value − baseline`, °C.
    pub deviation: Option<f64>,
    /// Preceding days the baseline rests on.
    pub baseline_days: usize,
}

/// Daily temperature with its deviation from the personal baseline, oldest first.
/// Samples outside the catalog's plausible body-temperature range are ignored.
pub fn temperature_deviations(temps: &[Sample], config: &TemperatureConfig) -> Vec<TemperatureDay> {
    let clean = clean_metric(temps, Metric::BodyTemperature, Duplicates::Mean).samples;
    let daily: Vec<(Day, f64)> = day_runs(&clean, config.offset)
        .filter_map(|run| {
            let values: Vec<f64> = run.iter().map(|s| s.value).collect();
            Some((Day::containing(run[0].t, config.offset), median(&values)?))
        })
        .collect();
    let mut out = Vec::with_capacity(daily.len());
    let mut from = 0;
    let mut window: Vec<f64> = Vec::new();
    for (i, &(day, value)) in daily.iter().enumerate() {
        let first = day.plus(-i64::from(config.baseline_days));
        while from < i && daily[from].0 < first {
            from += 1;
        }
        window.clear();
        window.extend(daily[from..i].iter().map(|d| d.1));
        window.sort_unstable_by(f64::total_cmp);
        let baseline = if window.len() >= config.min_baseline_days.max(1) {
            percentile(&window, 0.5)
        } else {
            None
        };
        out.push(TemperatureDay {
            day,
            value,
            baseline,
            deviation: baseline.map(|b| value - b),
            baseline_days: window.len(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::HOUR_MS;

    #[test]
    fn deviation_from_the_median_of_previous_days() {
        let d0 = Day::from_ymd(2024, 2, 1).unwrap();
        let mut s = Vec::new();
        for (i, v) in [36.4, 36.6, 36.5, 36.5, 37.3].iter().enumerate() {
            let t = d0.plus(i as i64).start_ms(UtcOffset::UTC) + 3 * HOUR_MS;
            s.push(Sample::new(t, *v));
            s.push(Sample::new(t + HOUR_MS, *v));
            s.push(Sample::new(t + 2 * HOUR_MS, 46.0)); // implausible, ignored
        }
        let d = temperature_deviations(&s, &TemperatureConfig::default());
        assert_eq!(d.len(), 5);
        assert_eq!(d[2].baseline, None);
        assert_eq!(d[3].baseline, Some(36.5));
        assert!((d[4].deviation.unwrap() - 0.8).abs() < 1e-9);
        assert_eq!(d[4].baseline_days, 4);
    }
}
