//! What an import yields: validated readings, and the values it had to skip with a reason.

use std::fmt;
use std::sync::Arc;

use vitalis_model::{Metric, Reading, Value};

use crate::error::Location;

/// One item of an import stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A value that passed the model's validation.
    Reading(ImportedReading),
    /// A value that was left out, and why.
    Skipped(Skip),
}

/// A validated reading with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedReading {
    /// The reading: metric, UTC timestamp, value in the canonical unit.
    pub reading: Reading,
    /// Import source label: the format (`apple_health`, `fitbit`, `fit`, `google_fit`,
    /// `empatica_e4`, or the label given in [`ImportOptions`](crate::ImportOptions)),
    /// followed by `:` and the recording app or device where the file names one
    /// (`apple_health:Apple Watch`, `fit:garmin`).
    pub source: Arc<str>,
    /// The person the file says the reading belongs to, where it says so: the Fitbit
    /// `Id` column. The caller maps it to a patient.
    pub subject: Option<Arc<str>>,
    /// Where in the input the value was found.
    pub at: Location,
}

impl ImportedReading {
    /// The metric measured.
    pub fn metric(&self) -> Metric {
        self.reading.metric()
    }

    /// UTC milliseconds since the Unix epoch.
    pub fn t_millis(&self) -> i64 {
        self.reading.t().millis()
    }

    /// The value, in [`unit`](Self::unit).
    pub fn value(&self) -> Value {
        self.reading.value()
    }

    /// The metric's canonical UCUM unit, which the value is in.
    pub fn unit(&self) -> &'static str {
        self.reading.metric().spec().unit
    }
}

/// Why a value was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// The model refused the value: outside the metric's plausible range, or not finite.
    OutOfRange,
    /// The timestamp is before 1970 or too far in the future for the model.
    InvalidTimestamp,
    /// The record type, column or category has no metric in the catalog.
    UnknownType,
    /// The unit is not one the metric accepts.
    UnknownUnit,
    /// A field could not be parsed (number, date, row shape).
    Unparsable,
}

impl SkipReason {
    /// Every reason, in the order summaries list them.
    pub const ALL: [SkipReason; 5] = [
        SkipReason::OutOfRange,
        SkipReason::InvalidTimestamp,
        SkipReason::UnknownType,
        SkipReason::UnknownUnit,
        SkipReason::Unparsable,
    ];

    /// Stable name (`out_of_range`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::OutOfRange => "out_of_range",
            SkipReason::InvalidTimestamp => "invalid_timestamp",
            SkipReason::UnknownType => "unknown_type",
            SkipReason::UnknownUnit => "unknown_unit",
            SkipReason::Unparsable => "unparsable",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value left out of the import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// Why.
    pub reason: SkipReason,
    /// Where.
    pub at: Location,
    /// A sentence for people, naming the field or type.
    pub detail: String,
}

impl Skip {
    pub(crate) fn new(reason: SkipReason, at: Location, detail: impl Into<String>) -> Skip {
        Skip {
            reason,
            at,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}: {}", self.reason, self.at, self.detail)
    }
}
