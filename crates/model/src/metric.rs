//! The metric catalog: every kind of reading Vitalis accepts, with its canonical UCUM
//! unit, its LOINC code, its plausible range and the alternative units it converts from.
//!
//! The catalog is one static table ([`CATALOG`]); everything else (validation, unit
//! conversion, default sections) reads from it, so adding a metric is one entry.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::section::Section;

/// A kind of measurement. The serialized name is the stable wire name (`heart_rate`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Instantaneous heart rate.
    HeartRate,
    /// Resting heart rate, as computed by the device.
    RestingHeartRate,
    /// One R-R (inter-beat) interval.
    RrInterval,
    /// Steps counted since the previous reading.
    Steps,
    /// Distance covered since the previous reading.
    Distance,
    /// Energy expended since the previous reading.
    Calories,
    /// Peripheral oxygen saturation.
    Spo2,
    /// Systolic blood pressure.
    BloodPressureSystolic,
    /// Diastolic blood pressure.
    BloodPressureDiastolic,
    /// Body temperature.
    BodyTemperature,
    /// Breaths per minute.
    RespiratoryRate,
    /// Sleep stage starting at the reading's timestamp.
    SleepStage,
    /// Geographic position.
    Location,
    /// Body weight.
    Weight,
}

/// The shape of a metric's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// One number in the canonical unit.
    Scalar,
    /// Latitude and longitude in degrees (WGS 84), optional accuracy in metres.
    Location,
    /// One of the sleep stages.
    SleepStage,
}

/// How an alternative unit converts to the canonical one: `canonical = value * scale + offset`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UnitConversion {
    /// The unit as written by the sender (UCUM or a common spelling).
    pub unit: &'static str,
    /// Multiplier applied first.
    pub scale: f64,
    /// Added after scaling.
    pub offset: f64,
}

const fn alias(unit: &'static str) -> UnitConversion {
    UnitConversion {
        unit,
        scale: 1.0,
        offset: 0.0,
    }
}

const fn scaled(unit: &'static str, scale: f64) -> UnitConversion {
    UnitConversion {
        unit,
        scale,
        offset: 0.0,
    }
}

/// Everything the catalog knows about one metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricSpec {
    /// The metric.
    pub metric: Metric,
    /// Stable wire name.
    pub name: &'static str,
    /// Human-readable label.
    pub label: &'static str,
    /// Canonical unit, in UCUM.
    pub unit: &'static str,
    /// LOINC code used for FHIR export. `None` where LOINC has no code for a single
    /// reading of this kind (a sleep-stage epoch, a geographic position); exports then use
    /// the Vitalis code system with the metric's wire name.
    pub loinc: Option<&'static str>,
    /// Smallest plausible value in the canonical unit (inclusive).
    pub min: f64,
    /// Largest plausible value in the canonical unit (inclusive).
    pub max: f64,
    /// Shape of the value.
    pub kind: ValueKind,
    /// Section a reading of this metric goes to unless the patient chooses otherwise.
    pub default_section: Section,
    /// Accepted alternative units, converted to `unit` on ingest.
    pub conversions: &'static [UnitConversion],
}

const PER_MINUTE: &[UnitConversion] = &[
    alias("/min"),
    alias("bpm"),
    alias("beats/min"),
    alias("{beats}/min"),
    alias("1/min"),
];
const BREATHS_PER_MINUTE: &[UnitConversion] = &[
    alias("/min"),
    alias("breaths/min"),
    alias("{breaths}/min"),
    alias("1/min"),
];
const MMHG: &[UnitConversion] = &[alias("mm[Hg]"), alias("mmHg"), scaled("kPa", 7.500_615_75)];

/// The catalog, one entry per [`Metric`], in declaration order.
pub const CATALOG: &[MetricSpec] = &[
    MetricSpec {
        metric: Metric::HeartRate,
        name: "heart_rate",
        label: "Heart rate",
        unit: "/min",
        loinc: Some("8867-4"),
        min: 20.0,
        max: 250.0,
        kind: ValueKind::Scalar,
        default_section: Section::Protected,
        conversions: PER_MINUTE,
    },
    MetricSpec {
        metric: Metric::RestingHeartRate,
        name: "resting_heart_rate",
        label: "Resting heart rate",
        unit: "/min",
        loinc: Some("40443-4"),
        min: 20.0,
        max: 200.0,
        kind: ValueKind::Scalar,
        default_section: Section::Protected,
        conversions: PER_MINUTE,
    },
    MetricSpec {
        metric: Metric::RrInterval,
        name: "rr_interval",
        label: "R-R interval",
        unit: "ms",
        loinc: Some("8637-1"),
        min: 200.0,
        max: 3000.0,
        kind: ValueKind::Scalar,
        default_section: Section::Protected,
        conversions: &[alias("ms"), scaled("s", 1000.0)],
    },
    MetricSpec {
        metric: Metric::Steps,
        name: "steps",
        label: "Steps",
        unit: "{steps}",
        loinc: Some("55423-8"),
        min: 0.0,
        max: 100_000.0,
        kind: ValueKind::Scalar,
        default_section: Section::Open,
        conversions: &[
            alias("{steps}"),
            alias("steps"),
            alias("{count}"),
            alias("1"),
        ],
    },
    MetricSpec {
        metric: Metric::Distance,
        name: "distance",
        label: "Distance",
        unit: "m",
        loinc: Some("55430-3"),
        min: 0.0,
        max: 300_000.0,
        kind: ValueKind::Scalar,
        default_section: Section::Open,
        conversions: &[
            alias("m"),
            scaled("km", 1000.0),
            scaled("[mi_i]", 1609.344),
            scaled("mi", 1609.344),
            scaled("[ft_i]", 0.3048),
            scaled("ft", 0.3048),
        ],
    },
    MetricSpec {
        metric: Metric::Calories,
        name: "calories",
        label: "Energy expended",
        unit: "kcal",
        loinc: Some("41981-2"),
        min: 0.0,
        max: 20_000.0,
        kind: ValueKind::Scalar,
        default_section: Section::Open,
        conversions: &[alias("kcal"), alias("Cal"), scaled("kJ", 1.0 / 4.184)],
    },
    MetricSpec {
        metric: Metric::Spo2,
        name: "spo2",
        label: "Oxygen saturation (SpO2)",
        unit: "%",
        loinc: Some("59408-5"),
        min: 50.0,
        max: 100.0,
        kind: ValueKind::Scalar,
        default_section: Section::Protected,
        // A fraction (0.97) is a percentage (97 %) divided by 100.
        conversions: &[alias("%"), scaled("1", 100.0), scaled("fraction", 100.0)],
    },
    MetricSpec {
        metric: Metric::BloodPressureSystolic,
        name: "blood_pressure_systolic",
        label: "Systolic blood pressure",
        unit: "mm[Hg]",
        loinc: Some("8480-6"),
        min: 50.0,
        max: 260.0,
        kind: ValueKind::Scalar,
        default_section: Section::Protected,
        conversions: MMHG,
    },
    MetricSpec {
        metric: Metric::BloodPressureDiastolic,
        name: "blood_pressure_diastolic",
        label: "Diastolic blood pressure",
        unit: "mm[Hg]",
        loinc: Some("8462-4"),
        min: 20.0,
        max: 160.0,
        kind: ValueKind::Scalar,
        default_section: Section::Protected,
        conversions: MMHG,
    },
    MetricSpec {
        metric: Metric::BodyTemperature,
        name: "body_temperature",
        label: "Body temperature",
        unit: "Cel",
        loinc: Some("8310-5"),
        min: 25.0,
        max: 45.0,
        kind: ValueKind::Scalar,
        default_section: Section::Protected,
        conversions: &[
            alias("Cel"),
            alias("°C"),
            alias("C"),
            UnitConversion {
                unit: "[degF]",
                scale: 5.0 / 9.0,
                offset: -32.0 * 5.0 / 9.0,
            },
            UnitConversion {
                unit: "°F",
                scale: 5.0 / 9.0,
                offset: -32.0 * 5.0 / 9.0,
            },
            UnitConversion {
                unit: "F",
                scale: 5.0 / 9.0,
                offset: -32.0 * 5.0 / 9.0,
            },
        ],
    },
    MetricSpec {
        metric: Metric::RespiratoryRate,
        name: "respiratory_rate",
        label: "Respiratory rate",
        unit: "/min",
        loinc: Some("9279-1"),
        min: 3.0,
        max: 70.0,
        kind: ValueKind::Scalar,
        default_section: Section::Protected,
        conversions: BREATHS_PER_MINUTE,
    },
    MetricSpec {
        metric: Metric::SleepStage,
        name: "sleep_stage",
        label: "Sleep stage",
        unit: "{stage}",
        loinc: None,
        min: 0.0,
        max: 3.0,
        kind: ValueKind::SleepStage,
        default_section: Section::Protected,
        conversions: &[alias("{stage}")],
    },
    MetricSpec {
        metric: Metric::Location,
        name: "location",
        label: "Location",
        unit: "deg",
        loinc: None,
        min: -180.0,
        max: 180.0,
        kind: ValueKind::Location,
        default_section: Section::Open,
        conversions: &[alias("deg"), alias("°")],
    },
    MetricSpec {
        metric: Metric::Weight,
        name: "weight",
        label: "Body weight",
        unit: "kg",
        loinc: Some("29463-7"),
        min: 1.0,
        max: 500.0,
        kind: ValueKind::Scalar,
        default_section: Section::Protected,
        conversions: &[
            alias("kg"),
            scaled("g", 0.001),
            scaled("[lb_av]", 0.453_592_37),
            scaled("lb", 0.453_592_37),
        ],
    },
];

impl Metric {
    /// Every metric, in catalog order.
    pub fn all() -> impl Iterator<Item = Metric> {
        CATALOG.iter().map(|spec| spec.metric)
    }

    /// The catalog entry for this metric.
    pub fn spec(self) -> &'static MetricSpec {
        // The catalog is in declaration order; the unit test `catalog_is_in_order` keeps it so.
        &CATALOG[self as usize]
    }

    /// Stable wire name.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Looks a metric up by its wire name.
    pub fn from_name(name: &str) -> Option<Metric> {
        CATALOG
            .iter()
            .find(|spec| spec.name == name)
            .map(|spec| spec.metric)
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error of [`Metric::from_str`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown metric {0:?}")]
pub struct UnknownMetric(pub String);

impl FromStr for Metric {
    type Err = UnknownMetric;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Metric::from_name(s).ok_or_else(|| UnknownMetric(s.to_owned()))
    }
}

impl MetricSpec {
    /// The conversion for `unit`, or `None` when this metric does not accept that unit.
    pub fn conversion(&self, unit: &str) -> Option<&'static UnitConversion> {
        self.conversions.iter().find(|c| c.unit == unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_is_in_order() {
        for (i, spec) in CATALOG.iter().enumerate() {
            assert_eq!(spec.metric as usize, i, "{} out of order", spec.name);
            assert_eq!(Metric::from_name(spec.name), Some(spec.metric));
            let json = serde_json::to_string(&spec.metric).unwrap();
            assert_eq!(json, format!("\"{}\"", spec.name));
        }
    }

    /// LOINC's check digit is the Luhn (mod 10) digit of the code's number.
    fn luhn_check_digit(digits: &str) -> u32 {
        let sum: u32 = digits
            .bytes()
            .rev()
            .enumerate()
            .map(|(i, b)| {
                let d = u32::from(b - b'0');
                if i % 2 == 0 {
                    (d * 2) / 10 + (d * 2) % 10
                } else {
                    d
                }
            })
            .sum();
        (10 - sum % 10) % 10
    }

    #[test]
    fn every_metric_accepts_its_canonical_unit_unchanged() {
        for spec in CATALOG {
            let c = spec.conversion(spec.unit).expect(spec.name);
            assert_eq!((c.scale, c.offset), (1.0, 0.0), "{}", spec.name);
            assert!(spec.min < spec.max, "{}", spec.name);
            if let Some(code) = spec.loinc {
                // LOINC codes are digits, a dash and one check digit.
                let (num, check) = code.split_once('-').expect(spec.name);
                assert!(num.bytes().all(|b| b.is_ascii_digit()), "{}", spec.name);
                assert_eq!(check, luhn_check_digit(num).to_string(), "{}", spec.name);
            }
        }
    }
}
