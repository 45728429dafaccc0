//! Decoding and checking one upload: bytes → [`RawBatch`] → per-section [`Reading`]s.
//!
//! Every failure names what was wrong (`field`, and `index` of the reading), so a device
//! or a person can fix the input; nothing of a refused batch is stored.

use std::collections::HashSet;

use serde::Deserialize;
use serde_path_to_error::Segment;
use vitalis_model::{Metric, RawReading, Reading, Section, Timestamp};

use crate::error::IngestError;

/// Limits on one upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Most readings in one batch.
    pub max_readings: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        BatchLimits {
            max_readings: 10_000,
        }
    }
}

/// An upload as sent: `{"readings": [RawReading, …]}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBatch {
    /// The readings, in any order.
    pub readings: Vec<RawReading>,
}

/// Parses the JSON body of an upload.
pub fn decode(body: &[u8]) -> Result<RawBatch, IngestError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    let batch = serde_path_to_error::deserialize(&mut *de).map_err(|err| {
        let (field, index) = locate(err.path());
        let inner = err.into_inner();
        if inner.is_data() {
            let message = inner.to_string();
            let field = with_missing_key(field, &message);
            IngestError::InvalidField {
                field,
                index,
                message,
            }
        } else {
            IngestError::MalformedJson {
                message: inner.to_string(),
            }
        }
    })?;
    // Anything after the document (a second document, garbage) makes the body malformed.
    de.end().map_err(|err| IngestError::MalformedJson {
        message: err.to_string(),
    })?;
    Ok(batch)
}

/// Splits a serde path like `readings[3].value.lat` into (`value.lat`, `Some(3)`).
fn locate(path: &serde_path_to_error::Path) -> (Option<String>, Option<usize>) {
    let segments: Vec<&Segment> = path.iter().collect();
    match segments.as_slice() {
        [Segment::Map { key }, Segment::Seq { index }, rest @ ..] if key == "readings" => {
            (dotted(rest), Some(*index))
        }
        all => (dotted(all), None),
    }
}

/// serde names a missing key only in its message (``missing field `value` ``), and the
/// path stops at the enclosing object; appends that key so `field` names it. (An unknown
/// key is already the path's last segment.)
fn with_missing_key(path: Option<String>, message: &str) -> Option<String> {
    let key = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(key, _)| key);
    match (path, key) {
        (Some(path), Some(key)) => Some(format!("{path}.{key}")),
        (None, Some(key)) => Some(key.to_owned()),
        (path, None) => path,
    }
}

fn dotted(segments: &[&Segment]) -> Option<String> {
    let parts: Vec<String> = segments
        .iter()
        .filter_map(|segment| match segment {
            Segment::Map { key } | Segment::Enum { variant: key } => Some(key.clone()),
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Unknown => None,
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("."))
}

/// A checked batch: readings grouped by section, duplicates within the batch removed.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedBatch {
    /// One entry per section that has readings.
    pub parts: Vec<(Section, Vec<Reading>)>,
    /// Readings dropped because the same (metric, time) appeared earlier in the batch.
    pub repeated: usize,
}

impl CheckedBatch {
    /// Every reading, in section order.
    pub fn readings(&self) -> impl Iterator<Item = &Reading> {
        self.parts.iter().flat_map(|(_, readings)| readings.iter())
    }
}

/// Validates every reading against the catalog and `now`, and assigns sections.
pub fn check(
    batch: &RawBatch,
    limits: BatchLimits,
    now: Timestamp,
    section_of: impl Fn(Metric) -> Section,
) -> Result<CheckedBatch, IngestError> {
    if batch.readings.is_empty() {
        return Err(IngestError::EmptyBatch);
    }
    if batch.readings.len() > limits.max_readings {
        return Err(IngestError::BatchTooLarge {
            max: limits.max_readings,
            got: batch.readings.len(),
        });
    }
    let mut protected = Vec::new();
    let mut open = Vec::new();
    let mut seen = HashSet::with_capacity(batch.readings.len());
    let mut repeated = 0;
    for (index, raw) in batch.readings.iter().enumerate() {
        let reading = raw
            .validate(now)
            .map_err(|error| IngestError::InvalidReading { index, error })?;
        if !seen.insert((reading.metric(), reading.t())) {
            repeated += 1;
            continue;
        }
        match section_of(reading.metric()) {
            Section::Protected => protected.push(reading),
            Section::Open => open.push(reading),
        }
    }
    let parts = [(Section::Protected, protected), (Section::Open, open)]
        .into_iter()
        .filter(|(_, readings)| !readings.is_empty())
        .collect();
    Ok(CheckedBatch { parts, repeated })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_763_900_000_000;

    fn checked(body: &str) -> Result<CheckedBatch, IngestError> {
        let batch = decode(body.as_bytes())?;
        check(
            &batch,
            BatchLimits::default(),
            Timestamp::new(NOW).unwrap(),
            |m| m.spec().default_section,
        )
    }

    #[test]
    fn locates_type_errors() {
        let err = checked(r#"{"readings":[{"metric":"steps","t":1,"value":1},{"metric":"steps","t":"x","value":1}]}"#)
            .unwrap_err();
        let IngestError::InvalidField { field, index, .. } = err else {
            panic!("{err:?}")
        };
        assert_eq!((field.as_deref(), index), (Some("t"), Some(1)));

        let err =
            checked(r#"{"readings":[{"metric":"location","t":1,"value":{"lat":"n","lon":2}}]}"#)
                .unwrap_err();
        let IngestError::InvalidField { field, index, .. } = err else {
            panic!("{err:?}")
        };
        assert_eq!((field.as_deref(), index), (Some("value.lat"), Some(0)));

        let err = checked(
            r#"{"readings":[{"metric":"steps","t":1,"value":1},{"metric":"steps","t":1}]}"#,
        )
        .unwrap_err();
        let IngestError::InvalidField { field, index, .. } = err else {
            panic!("{err:?}")
        };
        assert_eq!((field.as_deref(), index), (Some("value"), Some(1)));

        let err =
            checked(r#"{"readings":[{"metric":"steps","t":1,"value":1,"x":1}]}"#).unwrap_err();
        let IngestError::InvalidField { field, index, .. } = err else {
            panic!("{err:?}")
        };
        assert_eq!((field.as_deref(), index), (Some("x"), Some(0)));

        let err = checked(r#"{"readings":[],"x":1}"#).unwrap_err();
        let IngestError::InvalidField { field, index, .. } = err else {
            panic!("{err:?}")
        };
        assert_eq!((field.as_deref(), index), (Some("x"), None));

        let err = checked(r#"{"readings":{}}"#).unwrap_err();
        assert!(
            matches!(err, IngestError::InvalidField { index: None, .. }),
            "{err:?}"
        );
        assert!(matches!(
            checked(r#"{"readings":["#).unwrap_err(),
            IngestError::MalformedJson { .. }
        ));
    }

    #[test]
    fn refuses_trailing_content() {
        let one = r#"{"readings":[{"metric":"steps","t":1,"value":1}]}"#;
        assert!(decode(format!("{one} \n").as_bytes()).is_ok());
        for trailing in [" x", "{}", r#" {"readings":[]}"#] {
            let err = decode(format!("{one}{trailing}").as_bytes()).unwrap_err();
            assert!(
                matches!(err, IngestError::MalformedJson { .. }),
                "{trailing:?}: {err:?}"
            );
        }
    }

    #[test]
    fn splits_sections_and_drops_repeats() {
        let t = NOW - 1000;
        let body = format!(
            r#"{{"readings":[{{"metric":"heart_rate","t":{t},"value":60}},{{"metric":"steps","t":{t},"value":3}},{{"metric":"heart_rate","t":{t},"value":60}}]}}"#
        );
        let batch = checked(&body).unwrap();
        assert_eq!(batch.repeated, 1);
        let sections: Vec<_> = batch.parts.iter().map(|(s, r)| (*s, r.len())).collect();
        assert_eq!(sections, vec![(Section::Protected, 1), (Section::Open, 1)]);
    }

    #[test]
    fn refuses_empty_and_oversized_batches() {
        assert!(matches!(
            checked(r#"{"readings":[]}"#),
            Err(IngestError::EmptyBatch)
        ));
        let one = r#"{"metric":"steps","t":1,"value":1}"#;
        let body = format!(r#"{{"readings":[{}]}}"#, vec![one; 10_001].join(","));
        assert!(matches!(
            checked(&body),
            Err(IngestError::BatchTooLarge {
                max: 10_000,
                got: 10_001
            })
        ));
    }
}
