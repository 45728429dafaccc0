//! Timestamped samples and the one place where bad input is made well-defined.
//!
//! Every analysis starts from [`clean`]: it drops non-finite values, values beyond
//! [`MAX_ABS_VALUE`] and timestamps outside [`MIN_TIMESTAMP_MS`]`..=`[`MAX_TIMESTAMP_MS`],
//! sorts by time, and collapses samples that share a timestamp by a stated
//! [`Duplicates`] rule. The result is sorted strictly by time and does not depend on
//! the order of the input, so no analysis downstream sees NaN, a duplicate or an
//! out-of-order sample, and arithmetic on timestamps cannot overflow.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use vitalis_model::{Metric, Reading, Value};

/// The earliest accepted instant: the Unix epoch (a `vitalis_model::Timestamp` is never earlier).
pub const MIN_TIMESTAMP_MS: i64 = 0;
/// The latest accepted instant: 9999-12-31T23:59:59.999Z.
pub const MAX_TIMESTAMP_MS: i64 = 253_402_300_799_999;
/// Values larger than this in magnitude are treated like NaN. Every metric in the
/// catalog is far below it; the bound keeps sums of squares of a year of 1 Hz data finite.
pub const MAX_ABS_VALUE: f64 = 1e12;

/// One value at one instant (Unix milliseconds, UTC).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Milliseconds since the Unix epoch, UTC.
    pub t: i64,
    /// The value, in the metric's canonical unit.
    pub value: f64,
}

impl Sample {
    /// A sample.
    pub const fn new(t: i64, value: f64) -> Sample {
        Sample { t, value }
    }

    /// The sample of a scalar reading; `None` for sleep stages and positions.
    pub fn from_reading(reading: &Reading) -> Option<Sample> {
        match reading.value() {
            Value::Scalar(v) => Some(Sample::new(reading.t().millis(), v)),
            Value::SleepStage(_) | Value::Position(_) => None,
        }
    }

    /// Whether [`clean`] keeps this sample.
    pub fn is_usable(&self) -> bool {
        (MIN_TIMESTAMP_MS..=MAX_TIMESTAMP_MS).contains(&self.t)
            && self.value.is_finite()
            && self.value.abs() <= MAX_ABS_VALUE
    }
}

impl From<(i64, f64)> for Sample {
    fn from((t, value): (i64, f64)) -> Sample {
        Sample::new(t, value)
    }
}

/// The scalar samples of one metric among `readings`, in input order.
pub fn samples_of(readings: &[Reading], metric: Metric) -> Vec<Sample> {
    readings
        .iter()
        .filter(|r| r.metric() == metric)
        .filter_map(Sample::from_reading)
        .collect()
}

/// What to keep when several samples share a timestamp (a resent batch, two devices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Duplicates {
    /// Their mean: right for levels (heart rate, SpO2, temperature).
    Mean,
    /// The largest: right for counts since the previous reading (steps), where a
    /// duplicate is the same count sent twice, or the same walk counted by two devices.
    Max,
    /// The smallest.
    Min,
}

/// Samples after [`clean`], with what was removed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Cleaned {
    /// Usable samples, strictly increasing in time.
    pub samples: Vec<Sample>,
    /// Samples dropped as NaN, infinite, beyond [`MAX_ABS_VALUE`] or out of the time range.
    pub rejected: usize,
    /// Samples folded into another with the same timestamp.
    pub duplicates: usize,
}

/// Drops unusable samples, sorts by time and collapses equal timestamps by `rule`.
///
/// The output depends only on the multiset of input samples, not their order: equal
/// timestamps are ordered by value (IEEE 754 total order) before they are combined.
pub fn clean(samples: &[Sample], rule: Duplicates) -> Cleaned {
    if is_clean(samples) {
        return Cleaned {
            samples: samples.to_vec(),
            rejected: 0,
            duplicates: 0,
        };
    }
    let mut usable: Vec<Sample> = samples.iter().copied().filter(Sample::is_usable).collect();
    let rejected = samples.len() - usable.len();
    usable.sort_unstable_by(|a, b| a.t.cmp(&b.t).then(a.value.total_cmp(&b.value)));
    let mut out: Vec<Sample> = Vec::with_capacity(usable.len());
    let mut i = 0;
    while i < usable.len() {
        let t = usable[i].t;
        let mut j = i + 1;
        while j < usable.len() && usable[j].t == t {
            j += 1;
        }
        let group = &usable[i..j];
        let value = match rule {
            Duplicates::Min => group[0].value,
            Duplicates::Max => group[group.len() - 1].value,
            Duplicates::Mean => crate::stats::mean(group.iter().map(|s| s.value), group.len()),
        };
        out.push(Sample::new(t, value));
        i = j;
    }
    let duplicates = usable.len() - out.len();
    Cleaned {
        samples: out,
        rejected,
        duplicates,
    }
}

/// Whether `samples` are already what [`clean`] would return.
fn is_clean(samples: &[Sample]) -> bool {
    samples.windows(2).all(|w| w[0].t < w[1].t) && samples.iter().all(Sample::is_usable)
}

/// [`clean`] without the copy when the input is already clean (the common case for data
/// read back from the store), with the counts of rejected and collapsed samples.
pub(crate) fn clean_cow(samples: &[Sample], rule: Duplicates) -> (Cow<'_, [Sample]>, usize, usize) {
    if is_clean(samples) {
        return (Cow::Borrowed(samples), 0, 0);
    }
    let c = clean(samples, rule);
    (Cow::Owned(c.samples), c.rejected, c.duplicates)
}

/// Keeps only samples within `[min, max]` (a metric's plausible range); returns how many
/// were dropped.
pub(crate) fn retain_range(samples: &mut Vec<Sample>, min: f64, max: f64) -> usize {
    let before = samples.len();
    samples.retain(|s| s.value >= min && s.value <= max);
    before - samples.len()
}

/// Cleans samples of `metric` and drops those outside its catalog range (plausible range).
pub(crate) fn clean_metric(samples: &[Sample], metric: Metric, rule: Duplicates) -> Cleaned {
    let mut c = clean(samples, rule);
    let spec = metric.spec();
    c.rejected += retain_range(&mut c.samples, spec.min, spec.max);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_sorts_drops_and_collapses() {
        let input = [
            Sample::new(30, 1.0),
            Sample::new(10, f64::NAN),
            Sample::new(20, 4.0),
            Sample::new(20, 2.0),
            Sample::new(-5, 1.0),
            Sample::new(40, f64::INFINITY),
            Sample::new(50, 1e300),
        ];
        let c = clean(&input, Duplicates::Mean);
        assert_eq!(c.samples, vec![Sample::new(20, 3.0), Sample::new(30, 1.0)]);
        assert_eq!((c.rejected, c.duplicates), (4, 1));
        let c = clean(&input, Duplicates::Max);
        assert_eq!(c.samples[0], Sample::new(20, 4.0));
        assert!(clean(&[], Duplicates::Min).samples.is_empty());
    }
}
