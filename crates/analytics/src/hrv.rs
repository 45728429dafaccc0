//! Heart-rate variability in the time domain: RMSSD and SDNN from R-R intervals.
//!
//! Definitions from the Task Force of the European Society of Cardiology and the North
//! American Society of Pacing and Electrophysiology (1996), "Heart rate variability:
//! standards of measurement, physiological interpretation and clinical use",
//! Circulation 93:1043–1065:
//! - SDNN: the standard deviation of the normal-to-normal (NN) intervals (sample
//!   standard deviation, divisor `n − 1`);
//! - RMSSD: the square root of the mean of the squared differences of successive NN
//!   intervals;
//! - pNN50: the fraction of successive differences larger than 50 ms.
//!
//! Artefact filtering before that, as [`ArtefactFilter::STANDARD`]:
//! - intervals outside 300–2000 ms (200–30 bpm) are not physiological beats of a resting
//!   or exercising adult and are dropped;
//! - an interval that differs by more than 20 % from the interval before it is dropped
//!   (the "20 % filter" of Malik et al. 1989, "Heart rate variability in relation to
//!   prognosis after myocardial infarction: selection of optimal processing techniques",
//!   Eur Heart J 10:1060–1074).
//!
//! A successive difference is only taken between two kept intervals that follow each
//! other directly; a dropped interval or a gap in the recording starts a new segment, so
//! a missed beat never shows up as a huge difference.

use serde::{Deserialize, Serialize};

use crate::sample::{Duplicates, Sample, clean};
use crate::stats::usable;

/// Two beats follow each other directly when the time between them equals the later
/// R-R interval within this tolerance. It is well below the shortest accepted interval
/// (300 ms), so a missed beat can never pass for a direct successor.
pub const ADJACENCY_TOLERANCE_MS: f64 = 100.0;

/// Which R-R intervals count as normal-to-normal.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ArtefactFilter {
    /// Shortest accepted interval, ms.
    pub min_rr_ms: f64,
    /// Longest accepted interval, ms.
    pub max_rr_ms: f64,
    /// Largest accepted change from the previous interval, as a fraction of it; `None`
    /// to accept any change.
    pub max_relative_change: Option<f64>,
}

impl ArtefactFilter {
    /// 300–2000 ms and the 20 % rule (Malik et al. 1989).
    pub const STANDARD: ArtefactFilter = ArtefactFilter {
        min_rr_ms: 300.0,
        max_rr_ms: 2000.0,
        max_relative_change: Some(0.2),
    };

    /// Accepts every interval from 1 µs to 10^9 ms (for already edited data). The bounds
    /// only keep the arithmetic finite: a shorter interval would make the heart rate
    /// infinite, a longer one would overflow the sums.
    pub const NONE: ArtefactFilter = ArtefactFilter {
        min_rr_ms: 1e-3,
        max_rr_ms: 1e9,
        max_relative_change: None,
    };

    fn in_range(&self, rr: f64) -> bool {
        usable(rr) && rr > 0.0 && rr >= self.min_rr_ms && rr <= self.max_rr_ms
    }

    fn close_enough(&self, previous: f64, rr: f64) -> bool {
        match self.max_relative_change {
            Some(f) => (rr - previous).abs() <= f * previous,
            None => true,
        }
    }
}

impl Default for ArtefactFilter {
    fn default() -> Self {
        ArtefactFilter::STANDARD
    }
}

/// Time-domain HRV of a series of R-R intervals.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Hrv {
    /// RMSSD in ms; `None` without a pair of successive NN intervals.
    pub rmssd_ms: Option<f64>,
    /// SDNN in ms; `None` with fewer than two NN intervals.
    pub sdnn_ms: Option<f64>,
    /// pNN50 as a fraction in `[0, 1]`; `None` without a successive pair.
    pub pnn50: Option<f64>,
    /// Mean NN interval, ms.
    pub mean_nn_ms: f64,
    /// Mean heart rate implied by the mean NN interval, bpm.
    pub mean_hr_bpm: f64,
    /// NN intervals kept.
    pub nn_count: usize,
    /// Successive differences used for RMSSD and pNN50.
    pub successive_pairs: usize,
    /// Intervals dropped as artefacts (or as unusable numbers).
    pub rejected: usize,
}

/// HRV of a contiguous series of R-R intervals in ms (each follows the one before it);
/// `None` when no interval survives the filter.
pub fn hrv_from_rr(rr_ms: &[f64], filter: &ArtefactFilter) -> Option<Hrv> {
    compute(rr_ms.iter().map(|rr| (*rr, true)), rr_ms.len(), filter)
}

/// HRV of timed beats: each sample's `t` is the time of a beat (ms) and its `value` the
/// R-R interval ending at it (ms). Beats that do not directly follow the previous one
/// (see [`ADJACENCY_TOLERANCE_MS`]) start a new segment; duplicate beat times are
/// averaged and the input may be in any order.
pub fn hrv_from_beats(beats: &[Sample], filter: &ArtefactFilter) -> Option<Hrv> {
    let cleaned = clean(beats, Duplicates::Mean);
    let b = &cleaned.samples;
    let adjacency = b.iter().enumerate().map(|(i, s)| {
        let adjacent =
            i > 0 && ((s.t - b[i - 1].t) as f64 - s.value).abs() <= ADJACENCY_TOLERANCE_MS;
        (s.value, adjacent)
    });
    let mut hrv = compute(adjacency, b.len(), filter)?;
    hrv.rejected += cleaned.rejected;
    Some(hrv)
}

/// The filter and the statistics over `(interval, follows the previous one)` pairs.
fn compute(
    intervals: impl Iterator<Item = (f64, bool)>,
    len: usize,
    filter: &ArtefactFilter,
) -> Option<Hrv> {
    let mut nn: Vec<f64> = Vec::with_capacity(len);
    let mut diffs_sq = 0.0f64;
    let mut pairs = 0usize;
    let mut over_50 = 0usize;
    let mut rejected = 0usize;
    // The previous interval if it was in range, and whether it was kept.
    let mut previous: Option<(f64, bool)> = None;
    for (i, (rr, follows)) in intervals.enumerate() {
        let follows = follows && i > 0;
        if !filter.in_range(rr) {
            rejected += 1;
            previous = None;
            continue;
        }
        let prior = previous.filter(|_| follows);
        let kept = prior.is_none_or(|(p, _)| filter.close_enough(p, rr));
        if kept {
            nn.push(rr);
            if let Some((p, true)) = prior {
                let d = rr - p;
                diffs_sq += d * d;
                pairs += 1;
                over_50 += usize::from(d.abs() > 50.0);
            }
        } else {
            rejected += 1;
        }
        previous = Some((rr, kept));
    }
    if nn.is_empty() {
        return None;
    }
    let n = nn.len();
    let mean_nn = crate::stats::mean(nn.iter().copied(), n);
    let sdnn = (n > 1).then(|| {
        let ss: f64 = nn.iter().map(|v| (v - mean_nn) * (v - mean_nn)).sum();
        (ss / (n - 1) as f64).sqrt()
    });
    Some(Hrv {
        rmssd_ms: (pairs > 0).then(|| (diffs_sq / pairs as f64).sqrt()),
        sdnn_ms: sdnn.filter(|v| v.is_finite()),
        pnn50: (pairs > 0).then(|| over_50 as f64 / pairs as f64),
        mean_nn_ms: mean_nn,
        mean_hr_bpm: 60_000.0 / mean_nn,
        nn_count: n,
        successive_pairs: pairs,
        rejected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rmssd_and_sdnn_by_hand() {
        // Differences 20, −40, 10: RMSSD = √((400 + 1600 + 100) / 3) = √700.
        let rr = [800.0, 820.0, 780.0, 790.0];
        let h = hrv_from_rr(&rr, &ArtefactFilter::STANDARD).unwrap();
        assert!((h.rmssd_ms.unwrap() - 700f64.sqrt()).abs() < 1e-9);
        // Mean 797.5; squared deviations 6.25 + 506.25 + 306.25 + 56.25 = 875; /3.
        assert!((h.sdnn_ms.unwrap() - (875.0f64 / 3.0).sqrt()).abs() < 1e-9);
        assert_eq!((h.nn_count, h.successive_pairs, h.rejected), (4, 3, 0));
        assert_eq!(h.pnn50, Some(0.0));
    }

    #[test]
    fn artefacts_break_segments_instead_of_making_differences() {
        // 250 is out of range; 1200 is 50 % above the 800 before it; the 800 after
        // 1200 is 33 % below it (each is compared with its raw predecessor); 810 is kept
        // but follows a dropped interval, so no pair survives; NaN is unusable.
        let rr = [800.0, 250.0, 800.0, 1200.0, 800.0, 810.0, f64::NAN];
        let h = hrv_from_rr(&rr, &ArtefactFilter::STANDARD).unwrap();
        assert_eq!((h.rejected, h.nn_count), (4, 3));
        assert_eq!(h.successive_pairs, 0);
        assert_eq!(h.rmssd_ms, None);
        assert!(hrv_from_rr(&[], &ArtefactFilter::STANDARD).is_none());
        assert!(hrv_from_rr(&[f64::INFINITY], &ArtefactFilter::NONE).is_none());
    }

    #[test]
    fn gaps_between_beats_start_a_new_segment() {
        let beats = [
            Sample::new(1_000, 800.0),
            Sample::new(1_800, 800.0),
            Sample::new(2_620, 820.0),
            // a missed beat: 1,640 ms later, interval 820
            Sample::new(4_260, 820.0),
            Sample::new(5_100, 840.0),
        ];
        let h = hrv_from_beats(&beats, &ArtefactFilter::STANDARD).unwrap();
        assert_eq!(h.successive_pairs, 3);
        let want = ((0.0 + 400.0 + 400.0) / 3.0f64).sqrt();
        assert!((h.rmssd_ms.unwrap() - want).abs() < 1e-9);
    }
}
