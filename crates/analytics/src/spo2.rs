//! Oxygen desaturation events and the oxygen desaturation index (ODI-3).
//!
//! An event is a fall of SpO2 by at least 3 percentage points below the baseline that
//! lasts at least 10 seconds: the 3 % desaturation criterion of the AASM Manual for the
//! Scoring of Sleep and Associated Events (Berry et al. 2012, rule for hypopnoea
//! scoring, "≥3% oxygen desaturation"), and the event count behind the 3 % oxygen
//! desaturation index, ODI-3 = events per hour of recording.
//!
//! Baseline: the median of the samples of the preceding `baseline_window_ms` (5 minutes
//! by default) that were not themselves inside an event. An event starts at the first
//! sample at or below `baseline − drop` and ends at the first sample above it again (or
//! at the last sample of the recording); its baseline is fixed at its start. Recording
//! time is the sum of the gaps between successive samples, each capped at
//! `max_gap_ms`, so hours without data do not dilute the index.

use serde::{Deserialize, Serialize};
use vitalis_model::Metric;

use crate::sample::{Duplicates, Sample, clean_metric};
use crate::stats::percentile;
use crate::time::{HOUR_MS, MINUTE_MS};

/// Parameters of desaturation scoring.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DesaturationConfig {
    /// Fall below the baseline, in percentage points, that makes an event (3).
    pub drop: f64,
    /// Shortest event (10 s).
    pub min_duration_ms: i64,
    /// Window before each sample that sets the baseline (5 min).
    pub baseline_window_ms: i64,
    /// Longest gap between samples still counted as recording time (5 min).
    pub max_gap_ms: i64,
}

impl Default for DesaturationConfig {
    fn default() -> Self {
        DesaturationConfig {
            drop: 3.0,
            min_duration_ms: 10_000,
            baseline_window_ms: 5 * MINUTE_MS,
            max_gap_ms: 5 * MINUTE_MS,
        }
    }
}

/// One desaturation event.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DesaturationEvent {
    /// First desaturated sample.
    pub start: i64,
    /// First recovered sample (or the last sample of the recording).
    pub end: i64,
    /// Baseline SpO2 at the start, %.
    pub baseline: f64,
    /// Lowest SpO2 in the event, %.
    pub nadir: f64,
}

impl DesaturationEvent {
    /// Baseline minus nadir, percentage points.
    pub fn depth(&self) -> f64 {
        self.baseline - self.nadir
    }
}

/// The events of a recording and its index.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DesaturationReport {
    /// Events, in time order.
    pub events: Vec<DesaturationEvent>,
    /// Recording time, ms.
    pub recorded_ms: i64,
    /// Events per hour of recording (ODI-3 with the default drop); `None` without
    /// recording time.
    pub odi: Option<f64>,
    /// Samples ignored (unusable, or outside the catalog's plausible SpO2 range).
    pub rejected: usize,
}

/// Scores the desaturation events of SpO2 samples (%, any order).
pub fn desaturations(spo2: &[Sample], config: &DesaturationConfig) -> DesaturationReport {
    let cleaned = clean_metric(spo2, Metric::Spo2, Duplicates::Mean);
    let s = &cleaned.samples;
    let recorded_ms: i64 = s
        .windows(2)
        .map(|w| (w[1].t - w[0].t).min(config.max_gap_ms.max(0)))
        .sum();
    let drop = if config.drop.is_finite() && config.drop > 0.0 {
        config.drop
    } else {
        DesaturationConfig::default().drop
    };
    let mut events = Vec::new();
    // Indices of samples usable for the baseline (not inside an event).
    let mut baseline_pool: Vec<usize> = Vec::new();
    let mut window: Vec<f64> = Vec::new();
    let mut open: Option<DesaturationEvent> = None;
    let mut pool_start = 0;
    for (i, sample) in s.iter().enumerate() {
        if let Some(ev) = open.as_mut() {
            if sample.value > ev.baseline - drop {
                ev.end = sample.t;
                events.extend(open.take());
            } else {
                ev.nadir = ev.nadir.min(sample.value);
                ev.end = sample.t;
                continue;
            }
        }
        let from = sample.t - config.baseline_window_ms;
        while pool_start < baseline_pool.len() && s[baseline_pool[pool_start]].t < from {
            pool_start += 1;
        }
        window.clear();
        window.extend(baseline_pool[pool_start..].iter().map(|j| s[*j].value));
        window.sort_unstable_by(f64::total_cmp);
        match percentile(&window, 0.5) {
            Some(baseline) if sample.value <= baseline - drop => {
                open = Some(DesaturationEvent {
                    start: sample.t,
                    end: sample.t,
                    baseline,
                    nadir: sample.value,
                });
            }
            _ => baseline_pool.push(i),
        }
    }
    events.extend(open);
    events.retain(|e| e.end - e.start >= config.min_duration_ms);
    let odi = (recorded_ms > 0).then(|| events.len() as f64 * HOUR_MS as f64 / recorded_ms as f64);
    DesaturationReport {
        events,
        recorded_ms,
        odi,
        rejected: cleaned.rejected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_dips_in_an_hour() {
        // 1 sample per 5 s for an hour at 96 %: a dip to 92 % for 20 s at 20 min (an
        // event), to 93 % for 5 s at 40 min (too short) and to 94 % at 50 min (too shallow).
        let mut s: Vec<Sample> = (0..=720).map(|i| Sample::new(i * 5_000, 96.0)).collect();
        for sample in &mut s[240..244] {
            sample.value = 92.0;
        }
        s[480].value = 93.0;
        s[600].value = 94.0;
        let r = desaturations(&s, &DesaturationConfig::default());
        assert_eq!(r.events.len(), 1, "{:?}", r.events);
        assert_eq!((r.events[0].start, r.events[0].end), (1_200_000, 1_220_000));
        assert_eq!((r.events[0].baseline, r.events[0].depth()), (96.0, 4.0));
        assert_eq!(r.odi, Some(1.0));
        assert_eq!(r.recorded_ms, HOUR_MS);
        assert!(
            desaturations(&[], &DesaturationConfig::default())
                .odi
                .is_none()
        );
    }
}
