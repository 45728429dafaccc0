//! Clinical results a hospital records into a patient's history: laboratory and other
//! observations named by LOINC code, with UCUM units, and a free-text note. Stored as a
//! record of their own ([`ENCODING_CLINICAL_V1`]) in the patient's chain, with the
//! hospital as its source, so they are committed, anchored and verified like readings;
//! vital signs of the same check-up go in as ordinary readings.

use serde::{Deserialize, Serialize};

use crate::reading::Timestamp;

/// Record encoding of a clinical note: its canonical JSON.
pub const ENCODING_CLINICAL_V1: u16 = 2;

/// Most results one note may carry.
pub const MAX_RESULTS: usize = 200;
/// Longest note, in bytes.
pub const MAX_NOTE_BYTES: usize = 20_000;

/// One observation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabResult {
    /// LOINC code, e.g. `2345-7` (glucose, serum or plasma).
    pub loinc: String,
    /// Display name as the hospital gave it.
    pub display: String,
    /// Numeric value.
    pub value: f64,
    /// UCUM unit, e.g. `mg/dL`.
    pub unit: String,
}

/// A clinical note as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClinicalNote {
    /// When the observations were made (UTC ms).
    pub t: i64,
    /// The writing institution's id.
    pub institution: String,
    /// Observations.
    pub results: Vec<LabResult>,
    /// Free text.
    pub note: String,
}

/// A clinical note that cannot be stored, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ClinicalError {
    /// The field at fault (`results[3].loinc`, `note`, …).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> ClinicalError {
    ClinicalError {
        field: field.into(),
        message: message.into(),
    }
}

/// Whether `code` has LOINC's shape: 1 to 7 digits, a hyphen, one check digit, and the
/// check digit is right (LOINC's mod-10 algorithm, as in its users' guide).
pub fn is_loinc(code: &str) -> bool {
    let Some((body, check)) = code.split_once('-') else {
        return false;
    };
    if body.is_empty()
        || body.len() > 7
        || check.len() != 1
        || !body
            .bytes()
            .chain(check.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return false;
    }
    // Mod 10: from the right, double every other digit starting with the rightmost.
    let mut sum = 0u32;
    for (i, b) in body.bytes().rev().enumerate() {
        let d = u32::from(b - b'0');
        sum += if i % 2 == 0 {
            let doubled = d * 2;
            doubled / 10 + doubled % 10
        } else {
            d
        };
    }
    let expected = (10 - sum % 10) % 10;
    u32::from(check.as_bytes()[0] - b'0') == expected
}

impl ClinicalNote {
    /// Checks every field.
    pub fn validate(&self, now: Timestamp) -> Result<(), ClinicalError> {
        let t = Timestamp::new(self.t).map_err(|e| err("t", e.message))?;
        if t.millis() > now.millis() + crate::MAX_CLOCK_SKEW_MS {
            return Err(err("t", "in the future"));
        }
        if self.results.is_empty() && self.note.trim().is_empty() {
            return Err(err("results", "a clinical note needs results or text"));
        }
        if self.results.len() > MAX_RESULTS {
            return Err(err("results", format!("at most {MAX_RESULTS} results")));
        }
        if self.note.len() > MAX_NOTE_BYTES {
            return Err(err("note", format!("at most {MAX_NOTE_BYTES} bytes")));
        }
        for (i, r) in self.results.iter().enumerate() {
            if !is_loinc(&r.loinc) {
                return Err(err(
                    format!("results[{i}].loinc"),
                    format!(
                        "{:?} is not a LOINC code (digits, hyphen, check digit)",
                        r.loinc
                    ),
                ));
            }
            if !r.value.is_finite() {
                return Err(err(format!("results[{i}].value"), "not a finite number"));
            }
            if r.unit.trim().is_empty() || r.unit.len() > 32 {
                return Err(err(
                    format!("results[{i}].unit"),
                    "a UCUM unit of 1 to 32 characters",
                ));
            }
            if r.display.len() > 200 {
                return Err(err(
                    format!("results[{i}].display"),
                    "at most 200 characters",
                ));
            }
        }
        Ok(())
    }

    /// The canonical stored bytes.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads stored bytes back.
    pub fn decode(bytes: &[u8]) -> Result<ClinicalNote, ClinicalError> {
        serde_json::from_slice(bytes).map_err(|e| err("payload", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loinc_check_digits() {
        // Codes from the LOINC table: glucose, hemoglobin A1c, LDL cholesterol, systolic BP.
        for code in ["2345-7", "4548-4", "13457-7", "8480-6", "8867-4"] {
            assert!(is_loinc(code), "{code}");
        }
        for code in ["2345-8", "4548", "-4", "12345678-9", "ab-1", "2345-77"] {
            assert!(!is_loinc(code), "{code}");
        }
    }

    #[test]
    fn notes_round_trip_and_name_their_faults() {
        let now = Timestamp::new(1_763_900_000_000).unwrap();
        let mut note = ClinicalNote {
            t: 1_763_899_000_000,
            institution: "inst1".into(),
            results: vec![LabResult {
                loinc: "2345-7".into(),
                display: "Glucose".into(),
                value: 5.4,
                unit: "mmol/L".into(),
            }],
            note: "fasting".into(),
        };
        note.validate(now).unwrap();
        assert_eq!(ClinicalNote::decode(&note.encode()).unwrap(), note);
        note.results[0].loinc = "2345-8".into();
        assert_eq!(note.validate(now).unwrap_err().field, "results[0].loinc");
    }
}
