//! A simulated wearer whose watch produces physiologically plausible readings.
//!
//! [`Wearer::new`] draws the wearer's [`Traits`] from a seed; [`Wearer::readings`] gives
//! every reading the watch takes in a time interval. Time is UTC milliseconds, and UTC
//! is treated as the wearer's local time (sleep around 23:00–07:00 UTC, activity by day).
//!
//! | metric | cadence (timestamps are multiples of it) |
//! |---|---|
//! | `heart_rate` | [`HEART_RATE_EVERY_MS`] (5 s) |
//! | `steps`, `distance`, `calories`, `spo2` | [`MINUTE_EVERY_MS`] (1 min); the first three count the minute before `t` |
//! | `body_temperature`, `respiratory_rate` | [`FIVE_MINUTES_EVERY_MS`] |
//! | `blood_pressure_systolic` and `_diastolic` | [`BLOOD_PRESSURE_EVERY_MS`] (30 min), as a pair |
//! | `sleep_stage` | at sleep onset and at every stage change (whole minutes), `awake` at wake-up |
//! | `resting_heart_rate` | once a day, at wake-up |
//!
//! The body: heart rate follows a circadian rhythm (about 10 beats higher in the
//! afternoon than before dawn), drops in sleep, and rises together with steps during
//! walks and runs of 10–40 minutes; sleep runs in ~90-minute cycles of light, deep,
//! light and REM sleep; SpO2 stays at 95–99 % apart from rare dips in sleep.
//!
//! Deterministic: every value is a function of the seed and of the instant it
//! describes (see the `noise` module), so the same interval gives the same readings
//! however the time axis was split into calls. That matters because the server
//! de-duplicates readings by (device, metric, timestamp).

mod noise;
mod schedule;
mod signals;
mod traits;

use std::collections::BTreeMap;

use vitalis_model::{Metric, RawReading, RawValue, SleepStage};

use self::noise::Noise;
use self::schedule::{DayPlan, MINUTE_MS, Timeline, day_of};
use self::signals::Body;
pub use self::traits::Traits;

/// Cadence of `heart_rate`.
pub const HEART_RATE_EVERY_MS: i64 = 5_000;
/// Cadence of `steps`, `distance`, `calories` and `spo2`.
pub const MINUTE_EVERY_MS: i64 = MINUTE_MS;
/// Cadence of `body_temperature` and `respiratory_rate`.
pub const FIVE_MINUTES_EVERY_MS: i64 = 5 * MINUTE_MS;
/// Cadence of the blood-pressure pair.
pub const BLOOD_PRESSURE_EVERY_MS: i64 = 30 * MINUTE_MS;

/// A simulated person wearing a watch.
#[derive(Debug, Clone)]
pub struct Wearer {
    seed: u64,
    traits: Traits,
    noise: Noise,
    /// Day plans already drawn, by day number; only a cache, since plans are pure.
    plans: BTreeMap<i64, DayPlan>,
}

impl Wearer {
    /// The wearer with this seed; equal seeds give identical wearers.
    pub fn new(seed: u64) -> Wearer {
        let noise = Noise::new(seed);
        let traits = Traits::sample(&noise);
        Wearer {
            seed,
            traits,
            noise,
            plans: BTreeMap::new(),
        }
    }

    /// The seed this wearer was drawn from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The wearer's individual traits.
    pub fn traits(&self) -> &Traits {
        &self.traits
    }

    /// Every reading with a timestamp in `[from_ms, to_ms)`, ordered by timestamp (ties
    /// in a fixed metric order). Empty when `to_ms <= from_ms`. Values are in canonical
    /// units, which each reading names, and always inside the catalog range.
    pub fn readings(&mut self, from_ms: i64, to_ms: i64) -> Vec<RawReading> {
        if to_ms <= from_ms {
            return Vec::new();
        }
        // The night that started the day before `from_ms` may still be running.
        let (first_day, last_day) = (day_of(from_ms) - 1, day_of(to_ms - 1));
        self.plan_days(first_day, last_day);
        let timeline = Timeline::new(self.plans.range(first_day..=last_day).map(|(_, p)| p));
        let body = Body {
            traits: &self.traits,
            noise: &self.noise,
            timeline: &timeline,
        };
        let mut out = Vec::new();
        let span = (from_ms, to_ms);
        push_heart_rate(&body, span, &mut out);
        push_minutely(&body, span, &mut out);
        push_five_minutely(&body, span, &mut out);
        push_blood_pressure(&body, span, &mut out);
        push_night_events(&timeline, span, &mut out);
        // Stable: readings at the same instant keep the order they were pushed in.
        out.sort_by_key(|r| r.t);
        out
    }

    /// Makes sure the plans of `first..=last` are drawn; forgets earlier days.
    fn plan_days(&mut self, first: i64, last: i64) {
        self.plans.retain(|&day, _| day >= first);
        for day in first..=last {
            if !self.plans.contains_key(&day) {
                let plan = DayPlan::plan(&self.traits, &self.noise, day);
                self.plans.insert(day, plan);
            }
        }
    }
}

/// The multiples of `every` in `[from, to)`.
fn grid((from, to): (i64, i64), every: i64) -> impl Iterator<Item = i64> {
    let first = from.div_euclid(every) + i64::from(from.rem_euclid(every) != 0);
    (first..)
        .map(move |k| k * every)
        .take_while(move |&t| t < to)
}

/// A scalar reading in the metric's canonical unit, clamped to its catalog range.
fn scalar(metric: Metric, t: i64, value: f64) -> RawReading {
    let spec = metric.spec();
    RawReading {
        metric: spec.name.to_owned(),
        t,
        value: RawValue::Number(value.clamp(spec.min, spec.max)),
        unit: Some(spec.unit.to_owned()),
    }
}

fn sleep_stage(t: i64, stage: SleepStage) -> RawReading {
    let spec = Metric::SleepStage.spec();
    RawReading {
        metric: spec.name.to_owned(),
        t,
        value: RawValue::Text(stage.name().to_owned()),
        unit: Some(spec.unit.to_owned()),
    }
}

fn push_heart_rate(body: &Body<'_>, span: (i64, i64), out: &mut Vec<RawReading>) {
    for t in grid(span, HEART_RATE_EVERY_MS) {
        out.push(scalar(Metric::HeartRate, t, body.heart_rate(t)));
    }
}

fn push_minutely(body: &Body<'_>, span: (i64, i64), out: &mut Vec<RawReading>) {
    for t in grid(span, MINUTE_EVERY_MS) {
        let (movement, kcal) = body.minute_of_movement(t);
        out.push(scalar(Metric::Steps, t, movement.steps));
        out.push(scalar(Metric::Distance, t, movement.distance_m));
        out.push(scalar(Metric::Calories, t, kcal));
        out.push(scalar(Metric::Spo2, t, body.spo2(t)));
    }
}

fn push_five_minutely(body: &Body<'_>, span: (i64, i64), out: &mut Vec<RawReading>) {
    for t in grid(span, FIVE_MINUTES_EVERY_MS) {
        out.push(scalar(Metric::BodyTemperature, t, body.body_temperature(t)));
        out.push(scalar(Metric::RespiratoryRate, t, body.respiratory_rate(t)));
    }
}

fn push_blood_pressure(body: &Body<'_>, span: (i64, i64), out: &mut Vec<RawReading>) {
    for t in grid(span, BLOOD_PRESSURE_EVERY_MS) {
        let (systolic, diastolic) = body.blood_pressure(t, t / BLOOD_PRESSURE_EVERY_MS);
        out.push(scalar(Metric::BloodPressureSystolic, t, systolic));
        out.push(scalar(Metric::BloodPressureDiastolic, t, diastolic));
    }
}

fn push_night_events(timeline: &Timeline<'_>, (from, to): (i64, i64), out: &mut Vec<RawReading>) {
    let inside = |t: i64| from <= t && t < to;
    for night in timeline.nights() {
        for &(t, stage) in night.stages.iter().filter(|(t, _)| inside(*t)) {
            out.push(sleep_stage(t, stage));
        }
        if inside(night.end) {
            out.push(scalar(
                Metric::RestingHeartRate,
                night.end,
                night.resting_hr.round(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_yields_the_aligned_instants_of_a_half_open_interval() {
        let all: Vec<i64> = grid((4_999, 15_001), 5_000).collect();
        assert_eq!(all, [5_000, 10_000, 15_000]);
        assert_eq!(grid((5_000, 5_000), 5_000).count(), 0);
        assert_eq!(grid((5_000, 5_001), 5_000).collect::<Vec<_>>(), [5_000]);
        assert_eq!(grid((-3, 1), 5).collect::<Vec<_>>(), [0]);
    }
}
