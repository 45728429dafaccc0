//! Minute, hour and day rollups that can be kept up to date at ingest.
//!
//! A rollup keeps, per time bucket, the count, sum, sum of squares, minimum and maximum
//! of the values inserted: sufficient statistics from which mean and variance follow,
//! and which combine by addition (and min/max), so that two rollups of disjoint data
//! [`merge`](Rollup::merge) into the rollup of their union, and a rollup of minutes
//! [`coarsens`](Rollup::coarsen) into hours and days without the raw samples. Buckets
//! are aligned to UTC (a day bucket is a UTC day; a local day in a whole-hour offset is
//! the sum of its 24 hour buckets).
//!
//! A rollup counts every value inserted: feed it the readings the store accepted, whose
//! `(device, metric, t)` uniqueness keeps a resent batch from counting twice.
//!
//! The variance from sums of squares, `(Σx² − (Σx)²/n) / (n − 1)`, loses precision when
//! the mean is large against the spread; for wearable metrics (heart rate ~10², a day of
//! 1 Hz samples ~10⁵) the error stays far below the resolution of the sensors.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{AnalyticsError, Result};
use crate::sample::Sample;
use crate::time::{DAY_MS, HOUR_MS, MINUTE_MS};

/// The width of a rollup's buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    /// One-minute buckets.
    Minute,
    /// One-hour buckets.
    Hour,
    /// One-day (UTC) buckets.
    Day,
}

impl Granularity {
    /// Bucket width in ms.
    pub fn millis(self) -> i64 {
        match self {
            Granularity::Minute => MINUTE_MS,
            Granularity::Hour => HOUR_MS,
            Granularity::Day => DAY_MS,
        }
    }

    /// Stable name.
    pub fn name(self) -> &'static str {
        match self {
            Granularity::Minute => "minute",
            Granularity::Hour => "hour",
            Granularity::Day => "day",
        }
    }

    /// The start of the bucket holding `t_ms`.
    pub fn bucket_start(self, t_ms: i64) -> i64 {
        t_ms.div_euclid(self.millis()) * self.millis()
    }
}

/// Sufficient statistics of the values in one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BucketStats {
    /// Number of values.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// The sum of their squares.
    pub sum_sq: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
}

impl BucketStats {
    /// The statistics of one value.
    pub fn of(value: f64) -> BucketStats {
        BucketStats {
            count: 1,
            sum: value,
            sum_sq: value * value,
            min: value,
            max: value,
        }
    }

    /// Adds the statistics of other values.
    pub fn merge(&mut self, other: &BucketStats) {
        self.count += other.count;
        self.sum += other.sum;
        self.sum_sq += other.sum_sq;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// The mean, kept within `[min, max]`.
    pub fn mean(&self) -> f64 {
        (self.sum / self.count.max(1) as f64).clamp(self.min, self.max)
    }

    /// Sample variance (divisor `n − 1`); `None` for one value. Never negative.
    pub fn variance(&self) -> Option<f64> {
        if self.count < 2 {
            return None;
        }
        let n = self.count as f64;
        let v = ((self.sum_sq - self.sum * self.sum / n) / (n - 1.0)).max(0.0);
        v.is_finite().then_some(v)
    }

    /// Sample standard deviation; `None` for one value.
    pub fn std_dev(&self) -> Option<f64> {
        self.variance().map(f64::sqrt)
    }
}

/// Buckets of one metric's values at one granularity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollup {
    granularity: Granularity,
    buckets: BTreeMap<i64, BucketStats>,
}

impl Rollup {
    /// An empty rollup.
    pub fn new(granularity: Granularity) -> Rollup {
        Rollup {
            granularity,
            buckets: BTreeMap::new(),
        }
    }

    /// A rollup of `samples`.
    pub fn of(granularity: Granularity, samples: &[Sample]) -> Rollup {
        let mut r = Rollup::new(granularity);
        r.extend(samples);
        r
    }

    /// The bucket width.
    pub fn granularity(&self) -> Granularity {
        self.granularity
    }

    /// Adds one sample; returns `false` (and changes nothing) for an unusable one
    /// (see [`Sample::is_usable`]).
    pub fn insert(&mut self, sample: Sample) -> bool {
        if !sample.is_usable() {
            return false;
        }
        let key = self.granularity.bucket_start(sample.t);
        let add = BucketStats::of(sample.value);
        self.buckets
            .entry(key)
            .and_modify(|b| b.merge(&add))
            .or_insert(add);
        true
    }

    /// Adds samples; returns how many were usable.
    pub fn extend(&mut self, samples: &[Sample]) -> usize {
        // Consecutive samples of one bucket (the usual case: time-ordered input) are
        // combined before the map is touched, once per run instead of once per sample.
        let g = self.granularity;
        let mut used = 0;
        for run in samples
            .iter()
            .filter(|s| s.is_usable())
            .collect::<Vec<_>>()
            .chunk_by(|a, b| g.bucket_start(a.t) == g.bucket_start(b.t))
        {
            let mut stats = BucketStats::of(run[0].value);
            for s in &run[1..] {
                stats.merge(&BucketStats::of(s.value));
            }
            used += run.len();
            self.buckets
                .entry(g.bucket_start(run[0].t))
                .and_modify(|b| b.merge(&stats))
                .or_insert(stats);
        }
        used
    }

    /// Adds the buckets of `other`, which must have the same granularity.
    pub fn merge(&mut self, other: &Rollup) -> Result<()> {
        if other.granularity != self.granularity {
            return Err(AnalyticsError::GranularityMismatch {
                left: self.granularity.name(),
                right: other.granularity.name(),
            });
        }
        for (k, b) in &other.buckets {
            self.buckets
                .entry(*k)
                .and_modify(|x| x.merge(b))
                .or_insert(*b);
        }
        Ok(())
    }

    /// The same data in wider buckets; `to` must not be finer than this rollup.
    pub fn coarsen(&self, to: Granularity) -> Result<Rollup> {
        if to < self.granularity {
            return Err(AnalyticsError::parameter(
                "to",
                format!(
                    "cannot refine a {} rollup into {}s",
                    self.granularity.name(),
                    to.name()
                ),
            ));
        }
        let mut out = Rollup::new(to);
        for (k, b) in &self.buckets {
            out.buckets
                .entry(to.bucket_start(*k))
                .and_modify(|x| x.merge(b))
                .or_insert(*b);
        }
        Ok(out)
    }

    /// The bucket starting at `start`.
    pub fn get(&self, start: i64) -> Option<&BucketStats> {
        self.buckets.get(&start)
    }

    /// Buckets in time order, with their start.
    pub fn buckets(&self) -> impl Iterator<Item = (i64, &BucketStats)> {
        self.buckets.iter().map(|(k, v)| (*k, v))
    }

    /// Buckets starting in `[from, to)`.
    pub fn range(&self, from: i64, to: i64) -> impl Iterator<Item = (i64, &BucketStats)> {
        let r = if from < to { from..to } else { from..from };
        self.buckets.range(r).map(|(k, v)| (*k, v))
    }

    /// Number of buckets with data.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no bucket has data.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_merge_and_coarsen() {
        let s: Vec<Sample> = (0..180)
            .map(|i| Sample::new(i * 1_000, (i % 7) as f64))
            .collect();
        let mut r = Rollup::of(Granularity::Minute, &s[..100]);
        r.merge(&Rollup::of(Granularity::Minute, &s[100..]))
            .unwrap();
        assert_eq!(r, Rollup::of(Granularity::Minute, &s));
        assert_eq!(r.len(), 3);
        let b = r.get(60_000).unwrap();
        assert_eq!((b.count, b.min, b.max), (60, 0.0, 6.0));
        let h = r.coarsen(Granularity::Hour).unwrap();
        assert_eq!(h.get(0).unwrap().count, 180);
        assert!(h.coarsen(Granularity::Minute).is_err());
        assert!(r.merge(&h).is_err());
        assert!(!r.insert(Sample::new(5, f64::NAN)));
        assert_eq!(BucketStats::of(3.0).variance(), None);
        let v = Rollup::of(
            Granularity::Day,
            &[Sample::new(0, 1.0), Sample::new(1, 3.0)],
        );
        assert_eq!(v.get(0).unwrap().variance(), Some(2.0));
        assert_eq!(v.range(0, 1).count(), 1);
    }
}
