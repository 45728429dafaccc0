//! Heart-rate zones and exercise intensity by the heart-rate-reserve (Karvonen) method.
//!
//! - Maximal heart rate from age: `HRmax = 208 − 0.7 · age` (Tanaka, Monahan & Seals 2001,
//!   "Age-predicted maximal heart rate revisited", J Am Coll Cardiol 37:153–156).
//! - Heart-rate reserve `HRR = HRmax − HRrest`, and a target at fraction `f` of it,
//!   `HRrest + f · HRR` (Karvonen, Kentala & Mustala 1957, Ann Med Exp Biol Fenn 35:307–315).
//! - Five training zones at 50–60, 60–70, 70–80, 80–90 and 90–100 % of HRR (the usual
//!   five-zone split of the reserve).
//! - Intensity classes by %HRR from the ACSM position stand (Garber et al. 2011, Med Sci
//!   Sports Exerc 43:1334–1359, Table 4): very light < 30 %, light 30–39 %, moderate
//!   40–59 %, vigorous 60–89 %, near-maximal ≥ 90 %.

use serde::{Deserialize, Serialize};
use vitalis_model::Metric;

use crate::error::{AnalyticsError, Result};
use crate::sample::{Duplicates, Sample, clean_metric};
use crate::time::Day;

/// Maximal heart rate predicted from age in years (Tanaka et al. 2001).
pub fn max_heart_rate_tanaka(age_years: f64) -> f64 {
    208.0 - 0.7 * age_years
}

/// Age in whole years reached during the calendar year of `on`, from the birth year only
/// (the profile holds no birthday, so this may be one year high before the birthday).
pub fn age_in_year(birth_year: i32, on: Day) -> i64 {
    on.ymd().0 - i64::from(birth_year)
}

/// One of the five heart-rate zones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Zone {
    /// 50–60 % of HRR.
    Z1,
    /// 60–70 % of HRR.
    Z2,
    /// 70–80 % of HRR.
    Z3,
    /// 80–90 % of HRR.
    Z4,
    /// 90–100 % of HRR and above.
    Z5,
}

impl Zone {
    /// All zones, lowest first.
    pub const ALL: [Zone; 5] = [Zone::Z1, Zone::Z2, Zone::Z3, Zone::Z4, Zone::Z5];

    /// Lower and upper bound as fractions of HRR.
    pub fn fractions(self) -> (f64, f64) {
        let i = self as usize as f64;
        (0.5 + 0.1 * i, 0.6 + 0.1 * i)
    }
}

/// Exercise intensity by %HRR (ACSM, Garber et al. 2011).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intensity {
    /// Below 30 % HRR.
    VeryLight,
    /// 30–39 % HRR.
    Light,
    /// 40–59 % HRR.
    Moderate,
    /// 60–89 % HRR.
    Vigorous,
    /// 90 % HRR and above.
    NearMaximal,
}

/// A zone with its bounds in beats per minute, `[lower, upper)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ZoneBounds {
    /// The zone.
    pub zone: Zone,
    /// Lowest heart rate in the zone.
    pub lower_bpm: f64,
    /// First heart rate above the zone (HRmax for Z5).
    pub upper_bpm: f64,
}

/// A wearer's resting and maximal heart rate: everything the Karvonen method needs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HeartRateReserve {
    resting: f64,
    max: f64,
}

impl HeartRateReserve {
    /// From a resting and a maximal heart rate (bpm): both finite, in the catalog's
    /// plausible heart-rate range, resting below maximal.
    pub fn new(resting_bpm: f64, max_bpm: f64) -> Result<HeartRateReserve> {
        let spec = Metric::HeartRate.spec();
        for (name, v) in [("resting_bpm", resting_bpm), ("max_bpm", max_bpm)] {
            if !(v.is_finite() && v >= spec.min && v <= spec.max) {
                return Err(AnalyticsError::parameter(
                    name,
                    format!("{v} is outside {}..={} bpm", spec.min, spec.max),
                ));
            }
        }
        if resting_bpm >= max_bpm {
            return Err(AnalyticsError::parameter(
                "resting_bpm",
                format!("{resting_bpm} is not below the maximal heart rate {max_bpm}"),
            ));
        }
        Ok(HeartRateReserve {
            resting: resting_bpm,
            max: max_bpm,
        })
    }

    /// From a profile: birth year (age by [`age_in_year`] on `on`, 5 to 110 years) and
    /// resting heart rate; HRmax by Tanaka et al. 2001.
    pub fn from_profile(birth_year: i32, resting_bpm: f64, on: Day) -> Result<HeartRateReserve> {
        let age = age_in_year(birth_year, on);
        if !(5..=110).contains(&age) {
            return Err(AnalyticsError::parameter(
                "birth_year",
                format!("gives an age of {age} years"),
            ));
        }
        HeartRateReserve::new(resting_bpm, max_heart_rate_tanaka(age as f64))
    }

    /// Resting heart rate, bpm.
    pub fn resting_bpm(&self) -> f64 {
        self.resting
    }

    /// Maximal heart rate, bpm.
    pub fn max_bpm(&self) -> f64 {
        self.max
    }

    /// HRR = HRmax − HRrest, bpm.
    pub fn reserve_bpm(&self) -> f64 {
        self.max - self.resting
    }

    /// Karvonen target heart rate at `fraction` of HRR.
    pub fn target_bpm(&self, fraction: f64) -> f64 {
        self.resting + fraction * self.reserve_bpm()
    }

    /// The fraction of HRR a heart rate reaches (negative below rest); `None` for NaN/inf.
    pub fn fraction_of_reserve(&self, bpm: f64) -> Option<f64> {
        bpm.is_finite()
            .then(|| (bpm - self.resting) / self.reserve_bpm())
    }

    /// The five zones with their bounds in bpm, lowest first.
    pub fn zones(&self) -> [ZoneBounds; 5] {
        Zone::ALL.map(|zone| {
            let (lo, hi) = zone.fractions();
            ZoneBounds {
                zone,
                lower_bpm: self.target_bpm(lo),
                upper_bpm: self.target_bpm(hi),
            }
        })
    }

    /// The zone of a heart rate; `None` below 50 % HRR or for NaN/inf. Rates above
    /// HRmax count as Z5.
    pub fn zone_of(&self, bpm: f64) -> Option<Zone> {
        if !bpm.is_finite() {
            return None;
        }
        // Compared with the same bounds `zones` reports, so the two always agree.
        self.zones()
            .iter()
            .rev()
            .find(|z| bpm >= z.lower_bpm)
            .map(|z| z.zone)
    }

    /// The ACSM intensity class of a heart rate; `None` for NaN/inf.
    pub fn intensity_of(&self, bpm: f64) -> Option<Intensity> {
        let f = self.fraction_of_reserve(bpm)?;
        Some(match f {
            f if f < 0.30 => Intensity::VeryLight,
            f if f < 0.40 => Intensity::Light,
            f if f < 0.60 => Intensity::Moderate,
            f if f < 0.90 => Intensity::Vigorous,
            _ => Intensity::NearMaximal,
        })
    }
}

/// Time spent in each zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ZoneTimes {
    /// Milliseconds per zone, Z1 first.
    pub zone_ms: [i64; 5],
    /// Milliseconds below Z1.
    pub below_ms: i64,
}

impl ZoneTimes {
    /// Total time accounted for.
    pub fn total_ms(&self) -> i64 {
        self.below_ms + self.zone_ms.iter().sum::<i64>()
    }
}

/// Time in zones: each heart-rate sample holds until the next one, but for at most
/// `max_gap_ms` (a longer gap is missing data, not time in a zone). The last sample
/// counts for nothing, having no successor.
pub fn time_in_zones(
    heart_rate: &[Sample],
    reserve: &HeartRateReserve,
    max_gap_ms: i64,
) -> ZoneTimes {
    let hr = clean_metric(heart_rate, Metric::HeartRate, Duplicates::Mean).samples;
    let mut out = ZoneTimes::default();
    for w in hr.windows(2) {
        let dt = (w[1].t - w[0].t).min(max_gap_ms.max(0));
        match reserve.zone_of(w[0].value) {
            Some(z) => out.zone_ms[z as usize] += dt,
            None => out.below_ms += dt,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn karvonen_by_hand() {
        // Born 1986, in 2026 aged 40: HRmax = 208 − 28 = 180; rest 60 → HRR 120.
        let on = Day::from_ymd(2026, 6, 1).unwrap();
        let r = HeartRateReserve::from_profile(1986, 60.0, on).unwrap();
        assert!((r.max_bpm() - 180.0).abs() < 1e-9);
        assert!((r.reserve_bpm() - 120.0).abs() < 1e-9);
        let z = r.zones();
        assert!((z[0].lower_bpm - 120.0).abs() < 1e-9); // 60 + 0.5·120
        assert!((z[4].upper_bpm - 180.0).abs() < 1e-9);
        assert_eq!(r.zone_of(119.0), None);
        assert_eq!(r.zone_of(120.0), Some(Zone::Z1));
        assert_eq!(r.zone_of(175.0), Some(Zone::Z5));
        assert_eq!(r.zone_of(200.0), Some(Zone::Z5));
        assert_eq!(r.intensity_of(100.0), Some(Intensity::Light)); // 40/120 = 33 %
        assert_eq!(r.intensity_of(110.0), Some(Intensity::Moderate)); // 42 %
        assert_eq!(r.intensity_of(50.0), Some(Intensity::VeryLight));
        assert_eq!(r.zone_of(z[1].lower_bpm), Some(Zone::Z2));
        assert_eq!(r.intensity_of(f64::NAN), None);
        assert!(HeartRateReserve::from_profile(2030, 60.0, on).is_err());
        assert!(HeartRateReserve::new(190.0, 180.0).is_err());
    }

    #[test]
    fn time_in_zones_caps_gaps() {
        let r = HeartRateReserve::new(60.0, 180.0).unwrap();
        let hr = [
            Sample::new(0, 130.0),
            Sample::new(1_000, 100.0),
            Sample::new(100_000, 170.0),
            Sample::new(101_000, 170.0),
        ];
        let t = time_in_zones(&hr, &r, 5_000);
        assert_eq!(t.zone_ms[Zone::Z1 as usize], 1_000);
        assert_eq!(t.below_ms, 5_000);
        assert_eq!(t.zone_ms[Zone::Z5 as usize], 1_000);
        assert_eq!(t.total_ms(), 7_000);
    }
}
