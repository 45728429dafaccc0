//! The individual traits of a simulated wearer, drawn once from the seed.

use rand::Rng;
use rand_distr::StandardNormal;

use super::noise::{Channel, Noise};

/// What makes one simulated wearer different from another. All values are drawn from
/// the seed by [`super::Wearer::new`]; ranges are those of healthy adults.
#[derive(Debug, Clone, PartialEq)]
pub struct Traits {
    /// Heart rate at rest, awake and seated, in beats per minute (52–75).
    pub resting_heart_rate: f64,
    /// Habitual sleep onset in minutes after local midnight of the evening the night
    /// begins (23:00 shifted by up to ±90 min, so 1290–1470; above 1440 is after midnight).
    pub sleep_onset_minute: i64,
    /// Habitual time asleep in minutes (420–510, i.e. 7 to 8.5 hours).
    pub sleep_duration_minutes: i64,
    /// How active the wearer is, 0.2–1.0: scales the number of walks and the chance of runs.
    pub activity_propensity: f64,
    /// Daytime systolic blood pressure at rest, mm Hg (105–135).
    pub systolic_baseline: f64,
    /// Daytime diastolic blood pressure at rest, mm Hg (65–85).
    pub diastolic_baseline: f64,
    /// Mean body temperature, °C (36.4–36.8).
    pub temperature_baseline: f64,
    /// Typical daytime SpO2, % (96.5–98.5).
    pub spo2_baseline: f64,
    /// Breaths per minute at rest, awake (12–16).
    pub respiratory_baseline: f64,
    /// Walking step length in metres (0.65–0.80); running steps are longer.
    pub stride_m: f64,
    /// Basal energy expenditure, kcal per day (1400–1900).
    pub basal_kcal_per_day: f64,
}

impl Traits {
    /// Draws the traits of the wearer with this noise source's seed.
    pub(crate) fn sample(noise: &Noise) -> Traits {
        let mut rng = noise.rng(Channel::Traits, 0);
        let onset_shift: f64 = rng.sample::<f64, _>(StandardNormal) * 40.0;
        Traits {
            resting_heart_rate: rng.random_range(52.0..=75.0),
            sleep_onset_minute: 23 * 60 + onset_shift.clamp(-90.0, 90.0).round() as i64,
            sleep_duration_minutes: rng.random_range(420..=510),
            activity_propensity: rng.random_range(0.2..=1.0),
            systolic_baseline: rng.random_range(105.0..=135.0),
            diastolic_baseline: rng.random_range(65.0..=85.0),
            temperature_baseline: rng.random_range(36.4..=36.8),
            spo2_baseline: rng.random_range(96.5..=98.5),
            respiratory_baseline: rng.random_range(12.0..=16.0),
            stride_m: rng.random_range(0.65..=0.80),
            basal_kcal_per_day: rng.random_range(1400.0..=1900.0),
        }
    }
}
