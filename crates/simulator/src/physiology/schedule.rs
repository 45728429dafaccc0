//! The plan of each simulated day: when the wearer sleeps (with its stages and any
//! SpO2 dips) and when they walk or run.
//!
//! Plans are drawn per day from the day's own random stream, so a day's plan is the
//! same whenever it is computed. Day `d` is `[d · 24 h, (d + 1) · 24 h)` in UTC, which
//! the simulation treats as the wearer's local time. The night of day `d` begins in
//! its evening and ends on the morning of day `d + 1`; the bouts of day `d` lie between
//! the end of the previous night and the start of this one.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use vitalis_model::SleepStage;

use super::noise::{Channel, Noise};
use super::traits::Traits;

pub(crate) const MINUTE_MS: i64 = 60_000;
pub(crate) const DAY_MS: i64 = 24 * 60 * MINUTE_MS;

/// How fast heart rate rises after a bout starts (time constant).
const RISE_MS: f64 = 30_000.0;
/// How fast it recovers after the bout (time constant).
const RECOVERY_MS: f64 = 120_000.0;
/// After this long a bout no longer affects the body, and no bout starts sooner.
const AFTERMATH_MS: i64 = 20 * MINUTE_MS;
/// No brief awakening this close to the end of the night, so the final stage change
/// is always the wake-up.
const NO_AWAKENING_BEFORE_WAKE_MS: i64 = 30 * MINUTE_MS;

/// The day containing `t_ms`.
pub(crate) fn day_of(t_ms: i64) -> i64 {
    t_ms.div_euclid(DAY_MS)
}

/// Hours since local midnight, 0 to 24.
pub(crate) fn hour_of_day(t_ms: i64) -> f64 {
    t_ms.rem_euclid(DAY_MS) as f64 / 3_600_000.0
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    rng.sample(StandardNormal)
}

/// A walk or a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BoutKind {
    Walk,
    Run,
}

/// A period of sustained movement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bout {
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) kind: BoutKind,
    /// Steps per minute.
    pub(crate) cadence: f64,
    /// Heart-rate increase once the body has adapted to the effort, beats per minute.
    pub(crate) hr_boost: f64,
}

impl Bout {
    /// How much of the full effort the body shows at `t`: rises during the bout,
    /// decays after it, 0 before it.
    fn effort_at(&self, t: i64) -> f64 {
        let rise = |ms: i64| 1.0 - (-(ms as f64) / RISE_MS).exp();
        if t < self.start || t >= self.end + AFTERMATH_MS {
            0.0
        } else if t < self.end {
            rise(t - self.start)
        } else {
            rise(self.end - self.start) * (-((t - self.end) as f64) / RECOVERY_MS).exp()
        }
    }

    /// Milliseconds of this bout inside `[from, to)`.
    fn overlap_ms(&self, from: i64, to: i64) -> i64 {
        (self.end.min(to) - self.start.max(from)).max(0)
    }
}

/// A short fall of oxygen saturation during sleep.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Dip {
    pub(crate) start: i64,
    pub(crate) end: i64,
    /// Lowest SpO2 reached, %.
    pub(crate) nadir: f64,
}

/// One sleep episode.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Night {
    /// Sleep onset (a whole minute).
    pub(crate) start: i64,
    /// Wake-up (a whole minute).
    pub(crate) end: i64,
    /// Stage changes, ordered, no two consecutive alike: `Light` at `start`, `Awake` at `end`.
    pub(crate) stages: Vec<(i64, SleepStage)>,
    pub(crate) dips: Vec<Dip>,
    /// The resting heart rate the watch reports at wake-up.
    pub(crate) resting_hr: f64,
}

impl Night {
    /// The night beginning in the evening of `day`.
    pub(crate) fn plan(traits: &Traits, noise: &Noise, day: i64) -> Night {
        let mut rng = noise.rng(Channel::Night, day);
        let onset_jitter = (normal(&mut rng) * 20.0).clamp(-60.0, 60.0).round() as i64;
        let length_jitter = (normal(&mut rng) * 25.0).round() as i64;
        let minutes = (traits.sleep_duration_minutes + length_jitter).clamp(330, 600);
        let start = day * DAY_MS + (traits.sleep_onset_minute + onset_jitter) * MINUTE_MS;
        let end = start + minutes * MINUTE_MS;
        let resting_hr = traits.resting_heart_rate + normal(&mut rng) * 1.5;
        let stages = sleep_stages(&mut rng, start, end);
        let dips = spo2_dips(&mut rng, start, end);
        Night {
            start,
            end,
            stages,
            dips,
            resting_hr,
        }
    }

    pub(crate) fn contains(&self, t: i64) -> bool {
        self.start <= t && t < self.end
    }

    /// The stage at `t`, which must lie inside the night.
    pub(crate) fn stage_at(&self, t: i64) -> SleepStage {
        let i = self.stages.partition_point(|&(start, _)| start <= t);
        self.stages[i.saturating_sub(1)].1
    }

    pub(crate) fn dip_at(&self, t: i64) -> Option<&Dip> {
        self.dips.iter().find(|d| d.start <= t && t < d.end)
    }
}

/// Cycles of about 90 minutes, light → deep → light → REM; deep sleep shortens and REM
/// lengthens through the night; now and then a brief awakening ends a cycle.
fn sleep_stages(rng: &mut ChaCha8Rng, start: i64, end: i64) -> Vec<(i64, SleepStage)> {
    let mut stages = Vec::new();
    let mut t = start;
    for cycle in 0.. {
        if t >= end {
            break;
        }
        let c = f64::from(cycle);
        let length = (90.0 + normal(rng) * 8.0).clamp(75.0, 110.0);
        let deep = (35.0 - 10.0 * c + normal(rng) * 4.0).clamp(0.0, 45.0);
        let rem = (8.0 + 7.0 * c + normal(rng) * 3.0).clamp(4.0, 40.0);
        let light = (length - deep - rem).max(10.0);
        let awake = if rng.random_bool(0.15) {
            rng.random_range(1.0..=4.0)
        } else {
            0.0
        };
        let phases = [
            (SleepStage::Light, light * 0.6),
            (SleepStage::Deep, deep),
            (SleepStage::Light, light * 0.4),
            (SleepStage::Rem, rem),
            (SleepStage::Awake, awake),
        ];
        for (stage, minutes) in phases {
            let ms = minutes.round() as i64 * MINUTE_MS;
            let too_late = stage == SleepStage::Awake && t + ms > end - NO_AWAKENING_BEFORE_WAKE_MS;
            if ms == 0 || t >= end || too_late {
                continue;
            }
            push_change(&mut stages, t, stage);
            t += ms;
        }
    }
    push_change(&mut stages, end, SleepStage::Awake);
    stages
}

fn push_change(stages: &mut Vec<(i64, SleepStage)>, t: i64, stage: SleepStage) {
    if stages.last().is_none_or(|&(_, last)| last != stage) {
        stages.push((t, stage));
    }
}

/// Rare: most nights have none, some one, few two.
fn spo2_dips(rng: &mut ChaCha8Rng, start: i64, end: i64) -> Vec<Dip> {
    let roll: f64 = rng.random();
    let count = if roll < 0.65 {
        0
    } else if roll < 0.9 {
        1
    } else {
        2
    };
    let (first, last) = (start / MINUTE_MS + 30, end / MINUTE_MS - 30);
    (0..count)
        .map(|_| {
            let minute = rng.random_range(first..last);
            let length: i64 = rng.random_range(1..=3);
            Dip {
                start: minute * MINUTE_MS,
                end: (minute + length) * MINUTE_MS,
                nadir: f64::from(rng.random_range(90..=93)),
            }
        })
        .collect()
}

/// Everything planned for one day.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DayPlan {
    /// The night that begins this evening.
    pub(crate) night: Night,
    /// Walks and runs, ordered, at least [`AFTERMATH_MS`] apart.
    pub(crate) bouts: Vec<Bout>,
}

impl DayPlan {
    pub(crate) fn plan(traits: &Traits, noise: &Noise, day: i64) -> DayPlan {
        let woke = Night::plan(traits, noise, day - 1).end;
        let night = Night::plan(traits, noise, day);
        let bouts = bouts(traits, &mut noise.rng(Channel::Day, day), woke, night.start);
        DayPlan { night, bouts }
    }
}

/// Walks and runs between half an hour after waking and 90 minutes before bed.
fn bouts(traits: &Traits, rng: &mut ChaCha8Rng, woke: i64, bedtime: i64) -> Vec<Bout> {
    let (first, last) = (woke + 30 * MINUTE_MS, bedtime - 90 * MINUTE_MS);
    let wanted = traits.activity_propensity * 4.0 + rng.random_range(-1.0..1.5);
    let count = wanted.round().clamp(0.0, 6.0) as usize;
    if last <= first {
        return Vec::new();
    }
    let mut drawn: Vec<Bout> = (0..count)
        .map(|_| draw_bout(traits, rng, first / 1000, last / 1000))
        .collect();
    drawn.sort_by_key(|b| b.start);
    let mut kept: Vec<Bout> = Vec::with_capacity(drawn.len());
    for bout in drawn {
        if kept
            .last()
            .is_none_or(|prev| bout.start >= prev.end + AFTERMATH_MS)
        {
            kept.push(bout);
        }
    }
    kept
}

fn draw_bout(traits: &Traits, rng: &mut ChaCha8Rng, first_s: i64, last_s: i64) -> Bout {
    let start = rng.random_range(first_s..last_s) * 1000;
    let minutes: i64 = rng.random_range(10..=40);
    let kind = if rng.random_bool(0.3 * traits.activity_propensity) {
        BoutKind::Run
    } else {
        BoutKind::Walk
    };
    let (cadence, hr_boost) = match kind {
        BoutKind::Walk => (
            rng.random_range(100.0..=125.0),
            rng.random_range(25.0..=40.0),
        ),
        BoutKind::Run => (
            rng.random_range(150.0..=170.0),
            rng.random_range(55.0..=85.0),
        ),
    };
    Bout {
        start,
        end: start + minutes * MINUTE_MS,
        kind,
        cadence,
        hr_boost,
    }
}

/// Movement within one interval, summed over bouts.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Movement {
    pub(crate) steps: f64,
    pub(crate) distance_m: f64,
    pub(crate) active_kcal: f64,
}

/// The plans of consecutive days, as one timeline that answers "what is happening at t".
#[derive(Debug)]
pub(crate) struct Timeline<'a> {
    nights: Vec<&'a Night>,
    bouts: Vec<&'a Bout>,
}

impl<'a> Timeline<'a> {
    /// `plans` must be consecutive days in order.
    pub(crate) fn new(plans: impl IntoIterator<Item = &'a DayPlan>) -> Timeline<'a> {
        let mut nights = Vec::new();
        let mut bouts = Vec::new();
        for plan in plans {
            nights.push(&plan.night);
            bouts.extend(plan.bouts.iter());
        }
        Timeline { nights, bouts }
    }

    pub(crate) fn nights(&self) -> &[&'a Night] {
        &self.nights
    }

    pub(crate) fn night_at(&self, t: i64) -> Option<&'a Night> {
        let i = self.nights.partition_point(|n| n.start <= t);
        self.nights[..i].last().copied().filter(|n| n.contains(t))
    }

    /// 0 awake, rising to 1 over the first quarter-hour of sleep.
    pub(crate) fn sleep_depth(&self, t: i64) -> f64 {
        self.night_at(t).map_or(0.0, |n| {
            ((t - n.start) as f64 / (15 * MINUTE_MS) as f64).min(1.0)
        })
    }

    /// Extra heart rate due to exercise at `t`, beats per minute.
    pub(crate) fn exercise_hr_boost(&self, t: i64) -> f64 {
        // Bouts are AFTERMATH_MS apart, so at most the last two started can still matter.
        let i = self.bouts.partition_point(|b| b.start <= t);
        self.bouts[..i]
            .iter()
            .rev()
            .take(2)
            .map(|b| b.hr_boost * b.effort_at(t))
            .sum()
    }

    /// Steps, distance and active energy in `[from, to)`; `jitter` scales cadence (≈ 1).
    pub(crate) fn movement(&self, traits: &Traits, from: i64, to: i64, jitter: f64) -> Movement {
        let i = self.bouts.partition_point(|b| b.start < to);
        let mut total = Movement::default();
        for bout in self.bouts[..i].iter().rev().take_while(|b| b.end > from) {
            let minutes = bout.overlap_ms(from, to) as f64 / MINUTE_MS as f64;
            let steps = (bout.cadence * minutes * jitter).round();
            let (stride, kcal_per_step) = match bout.kind {
                BoutKind::Walk => (traits.stride_m, 0.04),
                BoutKind::Run => (traits.stride_m * 1.45, 0.065),
            };
            total.steps += steps;
            total.distance_m += steps * stride;
            total.active_kcal += steps * kcal_per_step;
        }
        total
    }
}
