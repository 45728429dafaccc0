//! Sleep: episodes, time per stage, duration and efficiency from stage-change samples.
//!
//! A `sleep_stage` reading marks the stage that starts at its timestamp; the stage lasts
//! until the next reading. Trackers send one at sleep onset, one at every change and
//! `awake` at wake-up, so the last sample of an episode marks its end and has no
//! duration of its own. A gap longer than [`SleepConfig::max_stage_ms`] between two
//! samples ends an episode (the device stopped recording, or the night is over).
//!
//! - time in bed: from the first to the last sample of the episode;
//! - asleep: time in light, deep and REM sleep;
//! - efficiency: asleep / time in bed (the standard sleep-efficiency ratio, e.g.
//!   Reed & Sacco 2016, "Measuring sleep efficiency: what should the denominator be?",
//!   J Clin Sleep Med 12:263–266).
//!
//! An episode belongs to the local day on which it ends (the day the wearer wakes up).

use serde::{Deserialize, Serialize};
use vitalis_model::{Reading, SleepStage, Value};

use crate::heart::TimeRange;
use crate::sample::{MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS};
use crate::time::{Day, HOUR_MS, UtcOffset};

/// The stage samples among `readings`, in input order.
pub fn stage_samples(readings: &[Reading]) -> Vec<(i64, SleepStage)> {
    readings
        .iter()
        .filter_map(|r| match r.value() {
            Value::SleepStage(s) => Some((r.t().millis(), s)),
            _ => None,
        })
        .collect()
}

/// How stage samples are cut into episodes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SleepConfig {
    /// The longest a single stage may last before the gap counts as the end of an episode
    /// (3 hours by default; no sleep stage lasts that long).
    pub max_stage_ms: i64,
}

impl Default for SleepConfig {
    fn default() -> Self {
        SleepConfig {
            max_stage_ms: 3 * HOUR_MS,
        }
    }
}

/// Milliseconds in each stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StageDurations {
    /// Awake in bed.
    pub awake_ms: i64,
    /// Light sleep.
    pub light_ms: i64,
    /// Deep sleep.
    pub deep_ms: i64,
    /// REM sleep.
    pub rem_ms: i64,
}

impl StageDurations {
    /// Time in one stage.
    pub fn get(&self, stage: SleepStage) -> i64 {
        match stage {
            SleepStage::Awake => self.awake_ms,
            SleepStage::Light => self.light_ms,
            SleepStage::Deep => self.deep_ms,
            SleepStage::Rem => self.rem_ms,
        }
    }

    fn add(&mut self, stage: SleepStage, ms: i64) {
        match stage {
            SleepStage::Awake => self.awake_ms += ms,
            SleepStage::Light => self.light_ms += ms,
            SleepStage::Deep => self.deep_ms += ms,
            SleepStage::Rem => self.rem_ms += ms,
        }
    }

    /// Light + deep + REM.
    pub fn asleep_ms(&self) -> i64 {
        self.light_ms + self.deep_ms + self.rem_ms
    }

    /// All stages, awake included: the time in bed.
    pub fn total_ms(&self) -> i64 {
        self.asleep_ms() + self.awake_ms
    }

    fn merge(&mut self, other: &StageDurations) {
        for stage in SleepStage::ALL {
            self.add(stage, other.get(stage));
        }
    }
}

/// One sleep episode.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SleepEpisode {
    /// First sample (Unix ms).
    pub start: i64,
    /// Last sample (Unix ms): the end of the episode.
    pub end: i64,
    /// Time per stage.
    pub stages: StageDurations,
}

impl SleepEpisode {
    /// Time in bed, ms.
    pub fn in_bed_ms(&self) -> i64 {
        self.stages.total_ms()
    }

    /// Time asleep, ms.
    pub fn asleep_ms(&self) -> i64 {
        self.stages.asleep_ms()
    }

    /// Asleep / in bed, in `[0, 1]`.
    pub fn efficiency(&self) -> f64 {
        ratio(self.asleep_ms(), self.in_bed_ms())
    }

    /// The span of the episode, as a quiet period for
    /// [`resting_heart_rate`](crate::resting_heart_rate).
    pub fn range(&self) -> TimeRange {
        TimeRange {
            start: self.start,
            end: self.end,
        }
    }

    /// The local day the episode ends on.
    pub fn day(&self, offset: UtcOffset) -> Day {
        Day::containing(self.end, offset)
    }
}

fn ratio(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        0.0
    } else {
        (part as f64 / whole as f64).clamp(0.0, 1.0)
    }
}

/// Sleep episodes, oldest first. Samples may come in any order; of samples sharing a
/// timestamp the most wakeful stage is kept (awake, then light, deep, REM), so doubtful
/// time is never counted as sleep. Episodes of a single sample are dropped.
pub fn sleep_episodes(stages: &[(i64, SleepStage)], config: &SleepConfig) -> Vec<SleepEpisode> {
    let rank = |s: SleepStage| SleepStage::ALL.iter().position(|x| *x == s).unwrap_or(0);
    let mut s: Vec<(i64, SleepStage)> = stages
        .iter()
        .copied()
        .filter(|(t, _)| (MIN_TIMESTAMP_MS..=MAX_TIMESTAMP_MS).contains(t))
        .collect();
    s.sort_unstable_by_key(|(t, stage)| (*t, rank(*stage)));
    s.dedup_by_key(|(t, _)| *t);
    let mut out = Vec::new();
    let mut current: Option<SleepEpisode> = None;
    for w in s.windows(2) {
        let ((t0, stage), (t1, _)) = (w[0], w[1]);
        let episode = current.get_or_insert(SleepEpisode {
            start: t0,
            end: t0,
            stages: StageDurations::default(),
        });
        if t1 - t0 > config.max_stage_ms {
            out.extend(current.take().filter(|s| s.end > s.start));
            continue;
        }
        episode.stages.add(stage, t1 - t0);
        episode.end = t1;
    }
    out.extend(current.filter(|s| s.end > s.start));
    out
}

/// The sleep of one local day: every episode that ends on it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SleepDay {
    /// The local day.
    pub day: Day,
    /// Episodes ending on the day.
    pub episodes: usize,
    /// Time per stage over those episodes.
    pub stages: StageDurations,
}

impl SleepDay {
    /// Time asleep, ms.
    pub fn asleep_ms(&self) -> i64 {
        self.stages.asleep_ms()
    }

    /// Time in bed, ms.
    pub fn in_bed_ms(&self) -> i64 {
        self.stages.total_ms()
    }

    /// Asleep / in bed, in `[0, 1]`.
    pub fn efficiency(&self) -> f64 {
        ratio(self.asleep_ms(), self.in_bed_ms())
    }
}

/// Episodes grouped by the local day they end on, oldest first.
pub fn sleep_by_day(episodes: &[SleepEpisode], offset: UtcOffset) -> Vec<SleepDay> {
    let mut days: Vec<SleepDay> = Vec::new();
    let mut sorted = episodes.to_vec();
    sorted.sort_unstable_by_key(|s| (s.end, s.start));
    for s in &sorted {
        let day = s.day(offset);
        match days.last_mut() {
            Some(d) if d.day == day => {
                d.episodes += 1;
                d.stages.merge(&s.stages);
            }
            _ => days.push(SleepDay {
                day,
                episodes: 1,
                stages: s.stages,
            }),
        }
    }
    days
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::MINUTE_MS;

    #[test]
    fn a_night_by_hand() {
        let m = MINUTE_MS;
        let t0 = Day::from_ymd(2024, 3, 1).unwrap().start_ms(UtcOffset::UTC) + 23 * HOUR_MS;
        let stages = [
            (t0 + 100 * m, SleepStage::Deep),
            (t0, SleepStage::Awake),
            (t0 + 10 * m, SleepStage::Light),
            (t0 + 10 * m, SleepStage::Deep), // duplicate: awake-most (light) kept
            (t0 + 160 * m, SleepStage::Rem),
            (t0 + 200 * m, SleepStage::Awake),
            (t0 + 480 * m, SleepStage::Light), // 280 min later: a new episode
            (t0 + 490 * m, SleepStage::Awake),
        ];
        let s = sleep_episodes(&stages, &SleepConfig::default());
        assert_eq!(s.len(), 2);
        let n = s[0];
        assert_eq!(n.stages.awake_ms, 10 * m);
        assert_eq!(n.stages.light_ms, 90 * m);
        assert_eq!(n.stages.deep_ms, 60 * m);
        assert_eq!(n.stages.rem_ms, 40 * m);
        assert_eq!(n.in_bed_ms(), 200 * m);
        assert!((n.efficiency() - 0.95).abs() < 1e-12);
        assert_eq!(n.day(UtcOffset::UTC).to_string(), "2024-03-02");
        assert_eq!(n.range().duration_ms(), 200 * m);
        let days = sleep_by_day(&s, UtcOffset::UTC);
        assert_eq!(days.len(), 1);
        assert_eq!(
            (days[0].episodes, days[0].asleep_ms()),
            (2, 190 * m + 10 * m)
        );
        assert!(sleep_episodes(&[(5, SleepStage::Light)], &SleepConfig::default()).is_empty());
    }
}
