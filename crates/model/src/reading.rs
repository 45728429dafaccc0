//! Readings: one measured value of one metric at one instant, validated on construction.
//!
//! A [`Reading`] can only be built through [`Reading::new`] (or [`RawReading::validate`],
//! which converts units first), so every reading that travels inward is in its metric's
//! canonical unit, finite, inside the plausible range and not from the far future.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, ReadingError};
use crate::metric::{Metric, ValueKind};

/// How far ahead of the receiver's clock a reading's timestamp may be (device clocks drift).
pub const MAX_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// A UTC instant in milliseconds since the Unix epoch; never before the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// A timestamp, or an error when `ms` is before the Unix epoch.
    pub fn new(ms: i64) -> Result<Timestamp, ReadingError> {
        if ms < 0 {
            return Err(ReadingError::new(
                ErrorCode::InvalidTimestamp,
                "t",
                format!("timestamp {ms} is before 1970-01-01"),
            ));
        }
        Ok(Timestamp(ms))
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> i64 {
        self.0
    }
}

/// The stages a sleep tracker reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SleepStage {
    /// Awake in bed.
    Awake,
    /// Light sleep (N1/N2).
    Light,
    /// Deep sleep (N3).
    Deep,
    /// Rapid-eye-movement sleep.
    Rem,
}

impl SleepStage {
    /// Every stage, by code.
    pub const ALL: [SleepStage; 4] = [
        SleepStage::Awake,
        SleepStage::Light,
        SleepStage::Deep,
        SleepStage::Rem,
    ];

    /// Stable wire name.
    pub fn name(self) -> &'static str {
        match self {
            SleepStage::Awake => "awake",
            SleepStage::Light => "light",
            SleepStage::Deep => "deep",
            SleepStage::Rem => "rem",
        }
    }

    /// Parses a wire name.
    pub fn from_name(name: &str) -> Option<SleepStage> {
        SleepStage::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// A geographic position (WGS 84).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// Latitude in degrees, -90 to 90.
    pub lat: f64,
    /// Longitude in degrees, -180 to 180.
    pub lon: f64,
    /// Horizontal accuracy radius in metres, if the device reports one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
}

/// A reading's value, in its metric's canonical unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// A number in the canonical unit.
    Scalar(f64),
    /// A sleep stage.
    SleepStage(SleepStage),
    /// A position.
    Position(Position),
}

/// A validated reading: canonical unit, finite, plausible.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    metric: Metric,
    t: Timestamp,
    value: Value,
}

impl Reading {
    /// Checks `value` against `metric`'s catalog entry and `t` against `now`.
    pub fn new(
        metric: Metric,
        t: Timestamp,
        value: Value,
        now: Timestamp,
    ) -> Result<Reading, ReadingError> {
        if t.millis() > now.millis().saturating_add(MAX_CLOCK_SKEW_MS) {
            return Err(ReadingError::new(
                ErrorCode::FutureTimestamp,
                "t",
                format!(
                    "timestamp {} is {} s ahead of the server clock (at most {} s allowed)",
                    t.millis(),
                    (t.millis() - now.millis()) / 1000,
                    MAX_CLOCK_SKEW_MS / 1000
                ),
            ));
        }
        check_value(metric, &value)?;
        Ok(Reading { metric, t, value })
    }

    /// The metric measured.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// When it was measured.
    pub fn t(&self) -> Timestamp {
        self.t
    }

    /// The value, in the metric's canonical unit.
    pub fn value(&self) -> Value {
        self.value
    }
}

fn check_value(metric: Metric, value: &Value) -> Result<(), ReadingError> {
    let spec = metric.spec();
    match (spec.kind, value) {
        (ValueKind::Scalar, Value::Scalar(v)) => {
            check_range(metric, "value", *v, spec.min, spec.max)
        }
        (ValueKind::SleepStage, Value::SleepStage(_)) => Ok(()),
        (ValueKind::Location, Value::Position(p)) => {
            check_range(metric, "value.lat", p.lat, -90.0, 90.0)?;
            check_range(metric, "value.lon", p.lon, -180.0, 180.0)?;
            match p.accuracy {
                Some(acc) => check_range(metric, "value.accuracy", acc, 0.0, 100_000.0),
                None => Ok(()),
            }
        }
        (kind, _) => Err(ReadingError::new(
            ErrorCode::InvalidValue,
            "value",
            format!("{metric} takes {}", kind_description(kind)),
        )),
    }
}

fn kind_description(kind: ValueKind) -> &'static str {
    match kind {
        ValueKind::Scalar => "a number",
        ValueKind::SleepStage => "one of \"awake\", \"light\", \"deep\", \"rem\"",
        ValueKind::Location => "an object {\"lat\": …, \"lon\": …, \"accuracy\": …}",
    }
}

fn check_range(
    metric: Metric,
    field: &'static str,
    v: f64,
    min: f64,
    max: f64,
) -> Result<(), ReadingError> {
    if !v.is_finite() {
        return Err(ReadingError::new(
            ErrorCode::NotFinite,
            field,
            format!("{metric} {field} is not a finite number"),
        ));
    }
    if v < min || v > max {
        return Err(ReadingError::new(
            ErrorCode::OutOfRange,
            field,
            format!(
                "{metric} {field} {v} {} is outside the plausible range {min}..={max}",
                metric.spec().unit
            ),
        ));
    }
    Ok(())
}

/// A reading as a device sends it: any accepted unit, not yet checked.
///
/// Wire form: `{"metric": "heart_rate", "t": 1732370000000, "value": 72, "unit": "bpm"}`;
/// `unit` defaults to the canonical unit; `value` is a number, a sleep stage name, or
/// `{"lat": …, "lon": …, "accuracy": …}` for a location.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawReading {
    /// Metric wire name.
    pub metric: String,
    /// Milliseconds since the Unix epoch, UTC.
    pub t: i64,
    /// The value as sent.
    pub value: RawValue,
    /// Unit of `value`; the metric's canonical unit when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// A value as sent, before its metric is known.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum RawValue {
    /// A JSON number.
    Number(f64),
    /// A JSON string (sleep stages).
    Text(String),
    /// A JSON object (positions).
    Position(Position),
}

impl RawReading {
    /// Converts the unit and validates, giving a canonical [`Reading`].
    pub fn validate(&self, now: Timestamp) -> Result<Reading, ReadingError> {
        let metric = Metric::from_name(&self.metric).ok_or_else(|| {
            ReadingError::new(
                ErrorCode::UnknownMetric,
                "metric",
                format!("unknown metric {:?}", self.metric),
            )
        })?;
        let spec = metric.spec();
        let conversion = match &self.unit {
            None => None,
            Some(unit) => Some(spec.conversion(unit).ok_or_else(|| {
                let accepted: Vec<&str> = spec.conversions.iter().map(|c| c.unit).collect();
                ReadingError::new(
                    ErrorCode::UnknownUnit,
                    "unit",
                    format!("unit {unit:?} is not accepted for {metric}; use one of {accepted:?}"),
                )
            })?),
        };
        let t = Timestamp::new(self.t)?;
        let value = match (&self.value, spec.kind) {
            (RawValue::Number(v), ValueKind::Scalar) => Value::Scalar(match conversion {
                Some(c) => v * c.scale + c.offset,
                None => *v,
            }),
            (RawValue::Text(s), ValueKind::SleepStage) => {
                Value::SleepStage(SleepStage::from_name(s).ok_or_else(|| {
                    ReadingError::new(
                        ErrorCode::InvalidValue,
                        "value",
                        format!("unknown sleep stage {s:?}; use awake, light, deep or rem"),
                    )
                })?)
            }
            (RawValue::Position(p), ValueKind::Location) => Value::Position(*p),
            (_, kind) => {
                return Err(ReadingError::new(
                    ErrorCode::InvalidValue,
                    "value",
                    format!("{metric} takes {}", kind_description(kind)),
                ));
            }
        };
        Reading::new(metric, t, value, now)
    }
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawValueVisitor)
    }
}

/// Decodes a value straight from the input, without buffering (this runs per reading).
struct RawValueVisitor;

impl<'de> Visitor<'de> for RawValueVisitor {
    type Value = RawValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number, a sleep stage name or a {\"lat\", \"lon\"} object")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawValue, E> {
        Ok(RawValue::Number(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawValue, E> {
        Ok(RawValue::Number(v as f64))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawValue, E> {
        Ok(RawValue::Number(v as f64))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawValue, E> {
        Ok(RawValue::Text(v.to_owned()))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawValue, A::Error> {
        Position::deserialize(de::value::MapAccessDeserializer::new(map)).map(RawValue::Position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_763_900_000_000;

    fn raw(metric: &str, value: RawValue, unit: Option<&str>) -> RawReading {
        RawReading {
            metric: metric.into(),
            t: NOW - 1000,
            value,
            unit: unit.map(Into::into),
        }
    }

    fn now() -> Timestamp {
        Timestamp::new(NOW).unwrap()
    }

    #[test]
    fn converts_alternative_units_to_canonical() {
        let cases = [
            ("body_temperature", 98.6, "[degF]", 37.0),
            ("body_temperature", 100.0, "°F", 37.777_777_777_777_78),
            ("weight", 154.0, "lb", 69.853_224_98),
            ("distance", 1.0, "[mi_i]", 1609.344),
            ("distance", 2.5, "km", 2500.0),
            ("spo2", 0.97, "1", 97.0),
            ("rr_interval", 0.8, "s", 800.0),
            ("heart_rate", 72.0, "bpm", 72.0),
        ];
        for (metric, v, unit, expected) in cases {
            let r = raw(metric, RawValue::Number(v), Some(unit))
                .validate(now())
                .unwrap();
            let Value::Scalar(got) = r.value() else {
                panic!("{metric}: not scalar")
            };
            assert!(
                (got - expected).abs() < 1e-9,
                "{metric} {v} {unit}: {got} != {expected}"
            );
        }
    }

    #[test]
    fn rejects_with_a_reason() {
        let cases = [
            (
                raw("heart_rat", RawValue::Number(60.0), None),
                ErrorCode::UnknownMetric,
                "metric",
            ),
            (
                raw("heart_rate", RawValue::Number(60.0), Some("Hz")),
                ErrorCode::UnknownUnit,
                "unit",
            ),
            (
                raw("heart_rate", RawValue::Number(400.0), None),
                ErrorCode::OutOfRange,
                "value",
            ),
            (
                raw("heart_rate", RawValue::Number(f64::NAN), None),
                ErrorCode::NotFinite,
                "value",
            ),
            (
                raw("spo2", RawValue::Number(97.0), Some("1")),
                ErrorCode::OutOfRange,
                "value",
            ),
            (
                raw("sleep_stage", RawValue::Number(2.0), None),
                ErrorCode::InvalidValue,
                "value",
            ),
            (
                raw("sleep_stage", RawValue::Text("nap".into()), None),
                ErrorCode::InvalidValue,
                "value",
            ),
            (
                raw(
                    "location",
                    RawValue::Position(Position {
                        lat: 91.0,
                        lon: 0.0,
                        accuracy: None,
                    }),
                    None,
                ),
                ErrorCode::OutOfRange,
                "value.lat",
            ),
        ];
        for (reading, code, field) in cases {
            let err = reading.validate(now()).unwrap_err();
            assert_eq!((err.code, err.field), (code, field), "{reading:?}: {err}");
        }
    }

    #[test]
    fn rejects_far_future_and_pre_epoch_timestamps() {
        let mut r = raw("steps", RawValue::Number(10.0), None);
        r.t = NOW + MAX_CLOCK_SKEW_MS + 1;
        assert_eq!(
            r.validate(now()).unwrap_err().code,
            ErrorCode::FutureTimestamp
        );
        r.t = NOW + MAX_CLOCK_SKEW_MS;
        assert!(r.validate(now()).is_ok());
        r.t = -1;
        assert_eq!(
            r.validate(now()).unwrap_err().code,
            ErrorCode::InvalidTimestamp
        );
    }

    #[test]
    fn raw_values_decode_from_json() {
        let r: RawReading =
            serde_json::from_str(r#"{"metric":"location","t":5,"value":{"lat":1.5,"lon":2}}"#)
                .unwrap();
        assert_eq!(
            r.value,
            RawValue::Position(Position {
                lat: 1.5,
                lon: 2.0,
                accuracy: None
            })
        );
        let r: RawReading =
            serde_json::from_str(r#"{"metric":"sleep_stage","t":5,"value":"rem"}"#).unwrap();
        assert_eq!(
            r.validate(now()).unwrap().value(),
            Value::SleepStage(SleepStage::Rem)
        );
        assert!(
            serde_json::from_str::<RawReading>(r#"{"metric":"steps","t":5,"value":[1]}"#).is_err()
        );
        assert!(
            serde_json::from_str::<RawReading>(r#"{"metric":"steps","t":5,"value":1,"x":1}"#)
                .is_err()
        );
    }
}
