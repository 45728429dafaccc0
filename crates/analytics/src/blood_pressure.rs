//! Blood-pressure categories of the 2017 ACC/AHA guideline (Whelton et al. 2017,
//! "Guideline for the Prevention, Detection, Evaluation, and Management of High Blood
//! Pressure in Adults", Hypertension 2018;71:e13–e115: the categories of its Table 6,
//! and the hypertensive-crisis threshold of its section on hypertensive crises):
//!
//! | category | systolic (mm Hg) | | diastolic (mm Hg) |
//! |---|---|---|---|
//! | normal | < 120 | and | < 80 |
//! | elevated | 120–129 | and | < 80 |
//! | stage 1 hypertension | 130–139 | or | 80–89 |
//! | stage 2 hypertension | ≥ 140 | or | ≥ 90 |
//! | hypertensive crisis | > 180 | and/or | > 120 |
//!
//! When systolic and diastolic fall in different categories, the higher one applies.
//! The guideline classifies on the mean of two or more readings on two or more
//! occasions; [`mean_category`] does that for a set of paired readings.

use serde::{Deserialize, Serialize};
use vitalis_model::Metric;

use crate::sample::{Duplicates, Sample, clean_metric};

/// An ACC/AHA 2017 blood-pressure category, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BpCategory {
    /// Systolic < 120 and diastolic < 80.
    Normal,
    /// Systolic 120–129 and diastolic < 80.
    Elevated,
    /// Systolic 130–139 or diastolic 80–89.
    Stage1,
    /// Systolic ≥ 140 or diastolic ≥ 90.
    Stage2,
    /// Systolic > 180 and/or diastolic > 120.
    HypertensiveCrisis,
}

impl BpCategory {
    /// The name used in plain-language text.
    pub fn label(self) -> &'static str {
        match self {
            BpCategory::Normal => "normal",
            BpCategory::Elevated => "elevated",
            BpCategory::Stage1 => "stage 1 hypertension",
            BpCategory::Stage2 => "stage 2 hypertension",
            BpCategory::HypertensiveCrisis => "hypertensive crisis",
        }
    }
}

/// One blood-pressure measurement, mm Hg.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BloodPressure {
    /// When it was measured (Unix ms).
    pub t: i64,
    /// Systolic pressure.
    pub systolic: f64,
    /// Diastolic pressure.
    pub diastolic: f64,
}

impl BloodPressure {
    /// The category; `None` unless both values are finite and positive.
    pub fn category(&self) -> Option<BpCategory> {
        categorize(self.systolic, self.diastolic)
    }
}

/// The ACC/AHA 2017 category of a systolic/diastolic pair (mm Hg); `None` unless both
/// are finite and positive. Values are compared as measured (the guideline's whole-number
/// bands are read as half-open intervals: 129.6 is "120–129" only if below 130).
pub fn categorize(systolic: f64, diastolic: f64) -> Option<BpCategory> {
    if !(systolic.is_finite() && diastolic.is_finite() && systolic > 0.0 && diastolic > 0.0) {
        return None;
    }
    let by_systolic = match systolic {
        s if s > 180.0 => BpCategory::HypertensiveCrisis,
        s if s >= 140.0 => BpCategory::Stage2,
        s if s >= 130.0 => BpCategory::Stage1,
        s if s >= 120.0 => BpCategory::Elevated,
        _ => BpCategory::Normal,
    };
    let by_diastolic = match diastolic {
        d if d > 120.0 => BpCategory::HypertensiveCrisis,
        d if d >= 90.0 => BpCategory::Stage2,
        d if d >= 80.0 => BpCategory::Stage1,
        _ => BpCategory::Normal,
    };
    Some(by_systolic.max(by_diastolic))
}

/// Pairs systolic and diastolic samples taken at the same instant (as a cuff reports
/// them), oldest first; unpaired or implausible samples are left out.
pub fn pair_readings(systolic: &[Sample], diastolic: &[Sample]) -> Vec<BloodPressure> {
    let sys = clean_metric(systolic, Metric::BloodPressureSystolic, Duplicates::Mean).samples;
    let dia = clean_metric(diastolic, Metric::BloodPressureDiastolic, Duplicates::Mean).samples;
    sys.iter()
        .filter_map(|s| {
            let i = dia.binary_search_by_key(&s.t, |d| d.t).ok()?;
            Some(BloodPressure {
                t: s.t,
                systolic: s.value,
                diastolic: dia[i].value,
            })
        })
        .collect()
}

/// The mean of paired readings and its category, as the guideline classifies;
/// `None` without a usable reading.
pub fn mean_category(readings: &[BloodPressure]) -> Option<(f64, f64, BpCategory)> {
    let usable: Vec<&BloodPressure> = readings.iter().filter(|r| r.category().is_some()).collect();
    if usable.is_empty() {
        return None;
    }
    let n = usable.len() as f64;
    let sys = usable.iter().map(|r| r.systolic).sum::<f64>() / n;
    let dia = usable.iter().map(|r| r.diastolic).sum::<f64>() / n;
    Some((sys, dia, categorize(sys, dia)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guideline_table() {
        use BpCategory::*;
        let cases = [
            (119.0, 79.0, Normal),
            (120.0, 79.0, Elevated),
            (129.0, 70.0, Elevated),
            (125.0, 80.0, Stage1),
            (130.0, 60.0, Stage1),
            (139.0, 89.0, Stage1),
            (140.0, 70.0, Stage2),
            (118.0, 90.0, Stage2),
            (180.0, 110.0, Stage2),
            (181.0, 100.0, HypertensiveCrisis),
            (150.0, 121.0, HypertensiveCrisis),
        ];
        for (s, d, want) in cases {
            assert_eq!(categorize(s, d), Some(want), "{s}/{d}");
        }
        assert_eq!(categorize(f64::NAN, 80.0), None);
        assert_eq!(categorize(120.0, 0.0), None);
    }

    #[test]
    fn pairs_by_time_and_averages() {
        let sys = [
            Sample::new(1, 128.0),
            Sample::new(2, 134.0),
            Sample::new(3, 200.0),
        ];
        let dia = [Sample::new(2, 78.0), Sample::new(1, 76.0)];
        let pairs = pair_readings(&sys, &dia);
        assert_eq!(pairs.len(), 2);
        let (s, d, c) = mean_category(&pairs).unwrap();
        assert_eq!((s, d, c), (131.0, 77.0, BpCategory::Stage1));
        assert_eq!(mean_category(&[]), None);
    }
}
