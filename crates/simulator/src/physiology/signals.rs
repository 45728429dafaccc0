//! The value of each vital sign at an instant: baseline from the wearer's traits, a
//! circadian term, the effect of sleep and exercise, and smooth noise.
//!
//! Values are rounded as a watch would report them (whole beats, whole percent, 0.01 °C)
//! and never leave their metric's catalog range.

use std::f64::consts::TAU;

use rand::Rng;
use rand_distr::StandardNormal;
use vitalis_model::SleepStage;

use super::noise::{Channel, Noise};
use super::schedule::{MINUTE_MS, Movement, Timeline, hour_of_day};
use super::traits::Traits;

/// `cos` of the time of day, 1 at `peak_hour`, -1 twelve hours away.
fn circadian(t: i64, peak_hour: f64) -> f64 {
    (TAU * (hour_of_day(t) - peak_hour) / 24.0).cos()
}

fn round_to(value: f64, step: f64) -> f64 {
    (value / step).round() * step
}

fn lerp(a: f64, b: f64, w: f64) -> f64 {
    a + (b - a) * w
}

/// One simulated body over a stretch of time.
pub(crate) struct Body<'a> {
    pub(crate) traits: &'a Traits,
    pub(crate) noise: &'a Noise,
    pub(crate) timeline: &'a Timeline<'a>,
}

impl Body<'_> {
    fn stage_at(&self, t: i64) -> Option<SleepStage> {
        self.timeline.night_at(t).map(|n| n.stage_at(t))
    }

    /// Beats per minute. Awake: resting + 9, ±4 over the day (highest mid-afternoon).
    /// Asleep: a few beats under resting, lower in deep sleep, higher in REM.
    pub(crate) fn heart_rate(&self, t: i64) -> f64 {
        let rest = self.traits.resting_heart_rate;
        let awake = rest + 9.0 + 4.0 * circadian(t, 15.0);
        let stage = match self.stage_at(t) {
            Some(SleepStage::Deep) => -3.0,
            Some(SleepStage::Rem) => 3.0,
            Some(SleepStage::Awake) => 8.0,
            Some(SleepStage::Light) | None => 0.0,
        };
        let asleep = rest - 5.0 + 2.0 * circadian(t, 15.0) + stage;
        let base = lerp(awake, asleep, self.timeline.sleep_depth(t));
        let noise = 2.5 * self.noise.smooth(Channel::HeartRateSlow, t, 10 * MINUTE_MS)
            + 1.5 * self.noise.smooth(Channel::HeartRateFast, t, MINUTE_MS)
            + 0.7 * self.noise.normal(Channel::HeartRateJitter, t / 1000);
        (base + self.timeline.exercise_hr_boost(t) + noise).round()
    }

    /// Percent. 95–99 nearly always, a little lower asleep; 90–93 during a rare dip.
    pub(crate) fn spo2(&self, t: i64) -> f64 {
        if let Some(dip) = self.timeline.night_at(t).and_then(|n| n.dip_at(t)) {
            return dip.nadir;
        }
        let base = self.traits.spo2_baseline - 0.8 * self.timeline.sleep_depth(t);
        let noise = 0.6 * self.noise.smooth(Channel::Spo2, t, 5 * MINUTE_MS);
        (base + noise).round().clamp(95.0, 99.0)
    }

    /// °C. ±0.3 over the day (lowest before dawn, highest late afternoon), a little
    /// lower asleep, higher during exercise.
    pub(crate) fn body_temperature(&self, t: i64) -> f64 {
        let value = self.traits.temperature_baseline + 0.3 * circadian(t, 17.0)
            - 0.1 * self.timeline.sleep_depth(t)
            + 0.004 * self.timeline.exercise_hr_boost(t)
            + 0.05 * self.noise.smooth(Channel::Temperature, t, 30 * MINUTE_MS);
        round_to(value, 0.01)
    }

    /// Breaths per minute. About 2 fewer asleep; rises with exercise.
    pub(crate) fn respiratory_rate(&self, t: i64) -> f64 {
        let stage = match self.stage_at(t) {
            Some(SleepStage::Deep) => -1.0,
            Some(SleepStage::Rem) => 1.5,
            _ => 0.0,
        };
        let value = self.traits.respiratory_baseline + 0.4 * circadian(t, 15.0)
            - 2.0 * self.timeline.sleep_depth(t)
            + stage
            + 0.14 * self.timeline.exercise_hr_boost(t)
            + 0.5 * self.noise.smooth(Channel::Respiration, t, 15 * MINUTE_MS);
        round_to(value.max(6.0), 0.1)
    }

    /// (systolic, diastolic) in mm Hg: a nocturnal dip of ~12 %, a rise with exercise,
    /// measurement noise of a few mm Hg; pulse pressure at least 20.
    pub(crate) fn blood_pressure(&self, t: i64, index: i64) -> (f64, f64) {
        let mut rng = self.noise.rng(Channel::BloodPressure, index);
        let (e_sys, e_dia): (f64, f64) = (rng.sample(StandardNormal), rng.sample(StandardNormal));
        let depth = self.timeline.sleep_depth(t);
        let boost = self.timeline.exercise_hr_boost(t);
        let sys = self.traits.systolic_baseline * (1.0 - 0.12 * depth)
            + 4.0 * circadian(t, 14.0)
            + 0.35 * boost
            + 4.0 * e_sys;
        let dia = self.traits.diastolic_baseline * (1.0 - 0.08 * depth)
            + 2.5 * circadian(t, 14.0)
            + 0.1 * boost
            + 3.0 * e_dia;
        let sys = sys.round();
        (sys, dia.round().min(sys - 20.0))
    }

    /// Movement in the minute `[t - 1 min, t)`, and the total energy (basal + active).
    pub(crate) fn minute_of_movement(&self, t: i64) -> (Movement, f64) {
        let minute = t / MINUTE_MS;
        let jitter = 1.0 + 0.03 * self.noise.normal(Channel::Steps, minute);
        let movement = self
            .timeline
            .movement(self.traits, t - MINUTE_MS, t, jitter);
        let basal = self.traits.basal_kcal_per_day / (24.0 * 60.0);
        let movement = Movement {
            steps: movement.steps,
            distance_m: round_to(movement.distance_m, 0.1),
            active_kcal: movement.active_kcal,
        };
        (movement, round_to(basal + movement.active_kcal, 0.01))
    }
}
