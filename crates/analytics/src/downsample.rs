//! Largest-Triangle-Three-Buckets downsampling, for charts.
//!
//! Steinarsson 2013, "Downsampling Time Series for Visual Representation" (MSc thesis,
//! University of Iceland), chapter on LTTB: keep the first and last points; cut the points between
//! them into `n − 2` buckets of (nearly) equal count; from each bucket keep the point
//! that forms the largest triangle with the point kept from the previous bucket and the
//! average of the next bucket. It keeps peaks and troughs a chart would show, in one
//! pass, O(len).
//!
//! Bucket `k` (0-based) holds the points with indices `1 + ⌊k(len−2)/(n−2)⌋` up to
//! `1 + ⌊(k+1)(len−2)/(n−2)⌋` (exclusive), computed in integers so that every bucket is
//! non-empty and the last one ends just before the last point.

use crate::sample::{Duplicates, Sample, clean_cow};

/// At most `n` points of `samples` chosen by LTTB, in time order.
///
/// The input is cleaned first (unusable samples dropped, sorted, equal timestamps
/// averaged); of the `len` clean points the result holds `min(n, len)`: all of them
/// when `n ≥ len`, the first for `n = 1`, the first and last for `n = 2`. The output's
/// timestamps strictly increase and every output point is an input point.
pub fn lttb(samples: &[Sample], n: usize) -> Vec<Sample> {
    let (data, _, _) = clean_cow(samples, Duplicates::Mean);
    let len = data.len();
    if n >= len {
        return data.into_owned();
    }
    match n {
        0 => return Vec::new(),
        1 => return vec![data[0]],
        2 => return vec![data[0], data[len - 1]],
        _ => {}
    }
    let buckets = (n - 2) as u128;
    let inner = (len - 2) as u128;
    // Start index of bucket k; bound(buckets) == len − 1.
    let bound = |k: usize| 1 + (k as u128 * inner / buckets) as usize;
    let mut out = Vec::with_capacity(n);
    out.push(data[0]);
    let mut a = data[0];
    for k in 0..n - 2 {
        let (lo, hi) = (bound(k), bound(k + 1));
        let next = if k + 1 < n - 2 {
            &data[hi..bound(k + 2)]
        } else {
            &data[len - 1..]
        };
        let (avg_x, avg_y) = average(next);
        let (ax, ay) = (a.t as f64, a.value);
        let mut best = lo;
        let mut best_area = -1.0f64;
        for (j, p) in data[lo..hi].iter().enumerate() {
            // Twice the triangle's area; the factor ½ changes no comparison.
            let area = ((ax - avg_x) * (p.value - ay) - (ax - p.t as f64) * (avg_y - ay)).abs();
            if area > best_area {
                best_area = area;
                best = lo + j;
            }
        }
        a = data[best];
        out.push(a);
    }
    out.push(data[len - 1]);
    out
}

fn average(points: &[Sample]) -> (f64, f64) {
    let n = points.len().max(1) as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(sx, sy), p| (sx + p.t as f64, sy + p.value));
    (sx / n, sy / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_peak() {
        let mut s: Vec<Sample> = (0..100).map(|i| Sample::new(i * 1000, 60.0)).collect();
        s[37].value = 150.0;
        let out = lttb(&s, 10);
        assert_eq!(out.len(), 10);
        assert_eq!(out[0], s[0]);
        assert_eq!(out[9], s[99]);
        assert!(out.contains(&s[37]));
        assert_eq!(lttb(&s, 1), vec![s[0]]);
        assert_eq!(lttb(&s, 2), vec![s[0], s[99]]);
        assert_eq!(lttb(&s, 500).len(), 100);
        assert!(lttb(&[], 5).is_empty());
        assert!(lttb(&s, 0).is_empty());
    }
}
