//! Resting heart rate: the lowest sustained heart rate of a quiet period.
//!
//! Method: the lowest mean heart rate over any window of `window_ms` (30 minutes by
//! default) that lies wholly inside a quiet period — asleep, or awake with no steps — and
//! holds enough samples (`min_coverage` of the samples the expected interval promises).
//! Windows start at each sample. This follows the common definition of resting heart
//! rate as the rate at complete rest (Palatini & Julius 1997, "Heart rate and the
//! cardiovascular risk", J Hypertens 15:3–17), measured as a sustained mean rather than a
//! single minimum so that one low artefact cannot set it. Without quiet periods the whole
//! series is searched, which gives a plausible but less specific value.

use serde::{Deserialize, Serialize};
use vitalis_model::Metric;

use crate::error::{AnalyticsError, Result};
use crate::sample::{Duplicates, Sample, clean, clean_metric};
use crate::summary::day_runs;
use crate::time::{Day, MINUTE_MS, UtcOffset};

/// A half-open span of time `[start, end)` in Unix ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    /// First instant inside.
    pub start: i64,
    /// First instant after.
    pub end: i64,
}

impl TimeRange {
    /// Length in ms (0 for an empty or reversed range).
    pub fn duration_ms(&self) -> i64 {
        self.end.saturating_sub(self.start).max(0)
    }
}

/// Sorts ranges and merges those that overlap or touch; drops empty ones.
pub fn merge_ranges(ranges: &[TimeRange]) -> Vec<TimeRange> {
    let mut r: Vec<TimeRange> = ranges.iter().copied().filter(|r| r.end > r.start).collect();
    r.sort_unstable_by_key(|r| (r.start, r.end));
    let mut out: Vec<TimeRange> = Vec::with_capacity(r.len());
    for range in r {
        match out.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => out.push(range),
        }
    }
    out
}

/// The most buckets [`quiet_periods_from_steps`] scans (a year of minutes is 525,600).
pub const MAX_QUIET_BUCKETS: i64 = 10_000_000;

/// Spans of `[from, to)` in which every `bucket_ms` bucket (aligned to `from`) holds at
/// most `max_steps` steps. Step readings count the steps since the previous reading and
/// are attributed to the bucket of their timestamp; a bucket without a reading has no
/// steps.
pub fn quiet_periods_from_steps(
    steps: &[Sample],
    from: i64,
    to: i64,
    bucket_ms: i64,
    max_steps: f64,
) -> Result<Vec<TimeRange>> {
    if bucket_ms <= 0 {
        return Err(AnalyticsError::parameter("bucket_ms", "must be positive"));
    }
    if to <= from {
        return Ok(Vec::new());
    }
    let span = to.saturating_sub(from);
    let buckets = span / bucket_ms + i64::from(span % bucket_ms != 0);
    if buckets > MAX_QUIET_BUCKETS {
        return Err(AnalyticsError::parameter(
            "to",
            format!("{buckets} buckets of {bucket_ms} ms; at most {MAX_QUIET_BUCKETS}"),
        ));
    }
    let buckets = buckets as usize;
    let mut sums = vec![0.0f64; buckets];
    for s in clean_metric(steps, Metric::Steps, Duplicates::Max).samples {
        if s.t >= from && s.t < to {
            sums[((s.t - from) / bucket_ms) as usize] += s.value;
        }
    }
    let ranges: Vec<TimeRange> = sums
        .iter()
        .enumerate()
        .filter(|(_, sum)| **sum <= max_steps)
        .map(|(i, _)| {
            let start = from + i as i64 * bucket_ms;
            TimeRange {
                start,
                end: start.saturating_add(bucket_ms).min(to),
            }
        })
        .collect();
    Ok(merge_ranges(&ranges))
}

/// Parameters of the resting-heart-rate search.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RestingHrConfig {
    /// Length of the averaging window (30 minutes by default).
    pub window_ms: i64,
    /// The interval at which the source samples heart rate (5 s by default).
    pub expected_interval_ms: i64,
    /// Fraction of the expected samples a window needs (0.5 by default).
    pub min_coverage: f64,
}

impl Default for RestingHrConfig {
    fn default() -> Self {
        RestingHrConfig {
            window_ms: 30 * MINUTE_MS,
            expected_interval_ms: 5_000,
            min_coverage: 0.5,
        }
    }
}

impl RestingHrConfig {
    fn min_samples(&self) -> usize {
        let expected = self.window_ms.max(1) as f64 / self.expected_interval_ms.max(1) as f64;
        let coverage = if self.min_coverage.is_finite() {
            self.min_coverage.clamp(0.0, 1.0)
        } else {
            0.5
        };
        ((expected * coverage).ceil() as usize).max(2)
    }
}

/// A resting heart rate and the window it was measured in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RestingHeartRate {
    /// Mean heart rate of the window, beats per minute.
    pub bpm: f64,
    /// The window searched out.
    pub window: TimeRange,
    /// Samples in the window.
    pub samples: usize,
}

/// The resting heart rate of `heart_rate` (bpm samples), searching only inside `quiet`
/// periods when given. `None` when no window has enough samples. Samples outside the
/// catalog's plausible heart-rate range are ignored.
pub fn resting_heart_rate(
    heart_rate: &[Sample],
    quiet: Option<&[TimeRange]>,
    config: &RestingHrConfig,
) -> Option<RestingHeartRate> {
    let hr = clean_metric(heart_rate, Metric::HeartRate, Duplicates::Mean).samples;
    lowest_window(&hr, quiet, config)
}

/// [`resting_heart_rate`] per local day: each day's windows lie within that day.
pub fn daily_resting_heart_rate(
    heart_rate: &[Sample],
    quiet: Option<&[TimeRange]>,
    offset: UtcOffset,
    config: &RestingHrConfig,
) -> Vec<(Day, RestingHeartRate)> {
    let hr = clean_metric(heart_rate, Metric::HeartRate, Duplicates::Mean).samples;
    day_runs(&hr, offset)
        .filter_map(|run| {
            let day = Day::containing(run[0].t, offset);
            let bounds = TimeRange {
                start: day.start_ms(offset),
                end: day.next().start_ms(offset),
            };
            let ranges: Vec<TimeRange> = match quiet {
                Some(q) => q.iter().filter_map(|r| intersect(*r, bounds)).collect(),
                None => vec![bounds],
            };
            lowest_window(run, Some(&ranges), config).map(|r| (day, r))
        })
        .collect()
}

fn intersect(a: TimeRange, b: TimeRange) -> Option<TimeRange> {
    let r = TimeRange {
        start: a.start.max(b.start),
        end: a.end.min(b.end),
    };
    (r.end > r.start).then_some(r)
}

/// The lowest-mean window over clean, plausible, time-sorted samples.
fn lowest_window(
    hr: &[Sample],
    quiet: Option<&[TimeRange]>,
    config: &RestingHrConfig,
) -> Option<RestingHeartRate> {
    if config.window_ms <= 0 {
        return None;
    }
    let ranges = match quiet {
        Some(q) => merge_ranges(q),
        None => vec![TimeRange {
            start: hr.first()?.t,
            end: hr.last()?.t.saturating_add(1),
        }],
    };
    let min_samples = config.min_samples();
    let mut best: Option<RestingHeartRate> = None;
    for range in ranges {
        let lo = hr.partition_point(|s| s.t < range.start);
        let hi = hr.partition_point(|s| s.t < range.end);
        let part = &hr[lo..hi];
        // Prefix sums make each window's mean O(1); samples are bounded, so no overflow.
        let mut prefix = Vec::with_capacity(part.len() + 1);
        prefix.push(0.0f64);
        for s in part {
            prefix.push(prefix[prefix.len() - 1] + s.value);
        }
        let mut end = 0;
        for (i, s) in part.iter().enumerate() {
            let window_end = s.t.saturating_add(config.window_ms);
            if window_end > range.end {
                break;
            }
            end = end.max(i);
            while end < part.len() && part[end].t < window_end {
                end += 1;
            }
            let n = end - i;
            if n < min_samples {
                continue;
            }
            let bpm = (prefix[end] - prefix[i]) / n as f64;
            if best.is_none_or(|b| bpm < b.bpm) {
                best = Some(RestingHeartRate {
                    bpm,
                    window: TimeRange {
                        start: s.t,
                        end: window_end,
                    },
                    samples: n,
                });
            }
        }
    }
    best
}

/// Heart-rate samples reduced to those inside any of `ranges`.
pub fn within(samples: &[Sample], ranges: &[TimeRange]) -> Vec<Sample> {
    let ranges = merge_ranges(ranges);
    clean(samples, Duplicates::Mean)
        .samples
        .into_iter()
        .filter(|s| {
            let i = ranges.partition_point(|r| r.end <= s.t);
            i < ranges.len() && ranges[i].start <= s.t
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(t0: i64, step: i64, values: &[f64]) -> Vec<Sample> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| Sample::new(t0 + i as i64 * step, *v))
            .collect()
    }

    #[test]
    fn finds_the_lowest_sustained_window_inside_quiet_periods() {
        // 1 sample/min for 3 h: 70 bpm, a 30-min dip to 50 in hour 2, a 1-min spike down to 30.
        let mut v = vec![70.0; 180];
        v[60..90].fill(50.0);
        v[150] = 30.0;
        let hr = series(0, MINUTE_MS, &v);
        let cfg = RestingHrConfig {
            expected_interval_ms: MINUTE_MS,
            ..RestingHrConfig::default()
        };
        let r = resting_heart_rate(&hr, None, &cfg).unwrap();
        assert_eq!(
            (r.bpm, r.window.start, r.samples),
            (50.0, 60 * MINUTE_MS, 30)
        );
        // Only the last hour is quiet: the dip is outside, the single low sample is diluted.
        let quiet = [TimeRange {
            start: 120 * MINUTE_MS,
            end: 180 * MINUTE_MS,
        }];
        let r = resting_heart_rate(&hr, Some(&quiet), &cfg).unwrap();
        assert!((r.bpm - (29.0 * 70.0 + 30.0) / 30.0).abs() < 1e-9);
        assert!(resting_heart_rate(&hr[..10], None, &cfg).is_none());
        assert!(resting_heart_rate(&[], None, &cfg).is_none());
    }

    #[test]
    fn quiet_periods_follow_steps() {
        let steps = [Sample::new(90_000, 40.0), Sample::new(200_000, 0.0)];
        let q = quiet_periods_from_steps(&steps, 0, 300_000, MINUTE_MS, 0.0).unwrap();
        assert_eq!(
            q,
            vec![
                TimeRange {
                    start: 0,
                    end: 60_000
                },
                TimeRange {
                    start: 120_000,
                    end: 300_000
                }
            ]
        );
        assert!(quiet_periods_from_steps(&steps, 0, 1, 0, 0.0).is_err());
    }
}
