//! Daily summaries of one metric: extremes, mean, percentiles, count and coverage, per
//! local day in a fixed UTC offset.
//!
//! Coverage is the fraction of the day's expected sampling slots that hold data: the
//! day is cut into slots of the expected sample interval (starting at local midnight)
//! and a slot counts when at least one usable sample falls in it. A day of 1 Hz heart
//! rate with the watch off for six hours has coverage 0.75, whatever the number of
//! samples; duplicates and bursts cannot push it above 1.

use serde::{Deserialize, Serialize};

use crate::error::{AnalyticsError, Result};
use crate::sample::{Duplicates, Sample, clean_cow};
use crate::stats::Summary;
use crate::time::{DAY_MS, Day, UtcOffset};

/// How to cut samples into days and judge their coverage.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DailyConfig {
    /// The wearer's offset from UTC; days run from local midnight to midnight.
    pub offset: UtcOffset,
    /// The interval at which the source is expected to sample, in ms (1,000 for 1 Hz).
    pub expected_interval_ms: i64,
    /// What to keep when samples share a timestamp.
    pub duplicates: Duplicates,
}

impl DailyConfig {
    /// Days in `offset`, expecting a sample every `expected_interval_ms` (1 ms to a day);
    /// samples sharing a timestamp are averaged.
    pub fn new(offset: UtcOffset, expected_interval_ms: i64) -> Result<DailyConfig> {
        if !(1..=DAY_MS).contains(&expected_interval_ms) {
            return Err(AnalyticsError::parameter(
                "expected_interval_ms",
                format!("{expected_interval_ms} is not between 1 ms and one day"),
            ));
        }
        Ok(DailyConfig {
            offset,
            expected_interval_ms,
            duplicates: Duplicates::Mean,
        })
    }

    /// Number of expected slots in a day.
    pub fn slots_per_day(&self) -> u64 {
        let i = self.expected_interval_ms.clamp(1, DAY_MS);
        (DAY_MS + i - 1).div_euclid(i) as u64
    }
}

/// The summary of one metric on one local day.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DailySummary {
    /// The local day.
    pub day: Day,
    /// Count, extremes, mean and percentiles of the day's samples.
    pub summary: Summary,
    /// Slots of the expected interval that hold at least one sample.
    pub slots_with_data: u64,
    /// Fraction of the day's slots with data, in `[0, 1]`.
    pub coverage: f64,
}

/// Daily summaries, oldest day first, with what had to be left out.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DailySummaries {
    /// One entry per day that has at least one usable sample.
    pub days: Vec<DailySummary>,
    /// Samples dropped as NaN, infinite, too large or out of the time range.
    pub rejected: usize,
    /// Samples folded into another with the same timestamp.
    pub duplicates: usize,
}

/// Summarises `samples` per local day. Days without a usable sample are absent (a gap
/// in `days` is a day without data); the result does not depend on input order.
pub fn daily_summaries(samples: &[Sample], config: &DailyConfig) -> DailySummaries {
    let (clean, rejected, duplicates) = clean_cow(samples, config.duplicates);
    let interval = config.expected_interval_ms.clamp(1, DAY_MS);
    let slots_per_day = config.slots_per_day();
    let mut days = Vec::new();
    let mut values: Vec<f64> = Vec::new();
    for run in day_runs(&clean, config.offset) {
        let day = Day::containing(run[0].t, config.offset);
        let start = day.start_ms(config.offset);
        let mut slots = 0u64;
        let mut last_slot = -1i64;
        values.clear();
        for s in run {
            let slot = (s.t - start).div_euclid(interval);
            if slot != last_slot {
                slots += 1;
                last_slot = slot;
            }
            values.push(s.value);
        }
        values.sort_unstable_by(f64::total_cmp);
        if let Some(summary) = Summary::of_sorted(&values) {
            days.push(DailySummary {
                day,
                summary,
                slots_with_data: slots,
                coverage: (slots as f64 / slots_per_day as f64).min(1.0),
            });
        }
    }
    DailySummaries {
        days,
        rejected,
        duplicates,
    }
}

/// Splits time-sorted samples into runs that share a local day (a binary search per
/// day, not a division per sample).
pub(crate) fn day_runs(sorted: &[Sample], offset: UtcOffset) -> impl Iterator<Item = &[Sample]> {
    let mut rest = sorted;
    std::iter::from_fn(move || {
        let first = rest.first()?;
        let end = Day::containing(first.t, offset).next().start_ms(offset);
        let n = rest.partition_point(|s| s.t < end).max(1);
        let (run, tail) = rest.split_at(n);
        rest = tail;
        Some(run)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::HOUR_MS;

    #[test]
    fn coverage_counts_slots_not_samples() {
        let day = Day::from_ymd(2024, 5, 1).unwrap();
        let t0 = day.start_ms(UtcOffset::UTC);
        // Hourly expected; samples in hours 0, 0 (again), 1 and 5: 3 of 24 slots.
        let s: Vec<Sample> = [0, 10, 60 * 60_000, 5 * HOUR_MS]
            .iter()
            .zip([60.0, 62.0, 70.0, 80.0])
            .map(|(dt, v)| Sample::new(t0 + dt, v))
            .collect();
        let cfg = DailyConfig::new(UtcOffset::UTC, HOUR_MS).unwrap();
        let out = daily_summaries(&s, &cfg);
        assert_eq!(out.days.len(), 1);
        let d = out.days[0];
        assert_eq!((d.day, d.slots_with_data, d.summary.count), (day, 3, 4));
        assert!((d.coverage - 3.0 / 24.0).abs() < 1e-12);
        assert_eq!(d.summary.mean, 68.0);
    }

    #[test]
    fn offset_moves_samples_between_days_and_empty_input_is_empty() {
        let t = Day::from_ymd(2024, 5, 1).unwrap().start_ms(UtcOffset::UTC) + 23 * HOUR_MS;
        let s = [Sample::new(t, 1.0), Sample::new(t + 2 * HOUR_MS, 2.0)];
        let utc = daily_summaries(&s, &DailyConfig::new(UtcOffset::UTC, 60_000).unwrap());
        assert_eq!(utc.days.len(), 2);
        let plus2 = UtcOffset::from_minutes(120).unwrap();
        let local = daily_summaries(&s, &DailyConfig::new(plus2, 60_000).unwrap());
        assert_eq!(local.days.len(), 1);
        assert_eq!(local.days[0].day.to_string(), "2024-05-02");
        let none = daily_summaries(
            &[Sample::new(t, f64::NAN)],
            &DailyConfig::new(plus2, 1).unwrap(),
        );
        assert!(none.days.is_empty());
        assert_eq!(none.rejected, 1);
        assert!(DailyConfig::new(UtcOffset::UTC, 0).is_err());
    }
}
