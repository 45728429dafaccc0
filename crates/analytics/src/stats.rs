//! Descriptive statistics shared by every analysis: mean, percentiles, median and the
//! five-number-plus summary.
//!
//! Percentiles follow Hyndman & Fan (1996), "Sample quantiles in statistical packages",
//! definition 7 (linear interpolation between order statistics, the default of R and
//! NumPy): for sorted `x[0..n]` and `p` in `[0, 1]`, `h = (n − 1)·p` and
//! `Q(p) = x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋ + 1] − x[⌊h⌋])`.

use serde::{Deserialize, Serialize};

use crate::sample::MAX_ABS_VALUE;

/// The mean of `n` values, summed in the order given (callers sort first when they need
/// the result independent of input order). `n` must be the number of items and non-zero.
pub(crate) fn mean(values: impl Iterator<Item = f64>, n: usize) -> f64 {
    let mut sum = 0.0;
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in values {
        sum += v;
        lo = lo.min(v);
        hi = hi.max(v);
    }
    // Rounding can carry the quotient a hair outside the range of its terms.
    (sum / n as f64).clamp(lo, hi)
}

/// Values that statistics accept: finite and within [`MAX_ABS_VALUE`].
pub(crate) fn usable(v: f64) -> bool {
    v.is_finite() && v.abs() <= MAX_ABS_VALUE
}

/// The sorted usable values of `values`.
pub(crate) fn sorted_usable(values: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|v| usable(*v)).collect();
    v.sort_unstable_by(f64::total_cmp);
    v
}

/// The `p`-quantile (`p` in `[0, 1]`) of values already sorted ascending, by Hyndman &
/// Fan definition 7. `None` when `sorted` is empty or `p` is not a number; `p` outside
/// `[0, 1]` is clamped.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() || p.is_nan() {
        return None;
    }
    let p = p.clamp(0.0, 1.0);
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let frac = h - lo as f64;
    let (a, b) = (sorted[lo], sorted[hi]);
    // The convex form cannot overflow; the clamp absorbs rounding.
    Some(((1.0 - frac) * a + frac * b).clamp(a.min(b), a.max(b)))
}

/// The median (definition 7 at `p = 0.5`, the usual midpoint of the middle two) of the
/// usable values; `None` when there are none.
pub fn median(values: &[f64]) -> Option<f64> {
    percentile(&sorted_usable(values), 0.5)
}

/// Count, extremes, mean, sample standard deviation and percentiles of a set of values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of values summarised.
    pub count: usize,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (divisor `n − 1`); `None` for a single value.
    pub std_dev: Option<f64>,
    /// 5th percentile (Hyndman & Fan definition 7).
    pub p05: f64,
    /// 25th percentile.
    pub p25: f64,
    /// Median.
    pub p50: f64,
    /// 75th percentile.
    pub p75: f64,
    /// 95th percentile.
    pub p95: f64,
}

impl Summary {
    /// The summary of the usable values (finite, within [`MAX_ABS_VALUE`]); `None` when
    /// there are none. The result does not depend on the order of `values`.
    pub fn of(values: &[f64]) -> Option<Summary> {
        Summary::of_sorted(&sorted_usable(values))
    }

    /// As [`Summary::of`], for usable values already sorted ascending.
    pub(crate) fn of_sorted(sorted: &[f64]) -> Option<Summary> {
        let n = sorted.len();
        let (&min, &max) = (sorted.first()?, sorted.last()?);
        let mean = mean(sorted.iter().copied(), n);
        let std_dev = (n > 1).then(|| {
            let ss: f64 = sorted.iter().map(|v| (v - mean) * (v - mean)).sum();
            (ss / (n - 1) as f64).sqrt()
        });
        let q = |p| percentile(sorted, p).unwrap_or(mean);
        Some(Summary {
            count: n,
            min,
            max,
            mean,
            std_dev: std_dev.filter(|s| s.is_finite()),
            p05: q(0.05),
            p25: q(0.25),
            p50: q(0.5),
            p75: q(0.75),
            p95: q(0.95),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition_7_matches_hand_values() {
        // R: quantile(c(1, 2, 3, 4), c(0, .25, .5, .9, 1), type = 7) = 1 1.75 2.5 3.7 4
        let x = [1.0, 2.0, 3.0, 4.0];
        let got: Vec<f64> = [0.0, 0.25, 0.5, 0.9, 1.0]
            .iter()
            .map(|p| percentile(&x, *p).unwrap())
            .collect();
        let want = [1.0, 1.75, 2.5, 3.7, 4.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{got:?}");
        }
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[7.0], 0.3), Some(7.0));
        assert_eq!(percentile(&x, f64::NAN), None);
        assert_eq!(median(&[3.0, f64::NAN, 1.0, 2.0]), Some(2.0));
    }

    #[test]
    fn summary_of_a_small_set() {
        let s = Summary::of(&[4.0, 2.0, f64::INFINITY, 6.0]).unwrap();
        assert_eq!(
            (s.count, s.min, s.max, s.mean, s.p50),
            (3, 2.0, 6.0, 4.0, 4.0)
        );
        assert_eq!(s.std_dev, Some(2.0));
        assert_eq!(Summary::of(&[5.0]).unwrap().std_dev, None);
        assert!(Summary::of(&[f64::NAN]).is_none());
    }
}
