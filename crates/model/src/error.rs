//! Why a reading or a batch was refused, in a form the API can hand to the sender.

use std::fmt;

use serde::Serialize;

/// Stable machine-readable reason; part of the public API (`error.code` in responses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The metric name is not in the catalog.
    UnknownMetric,
    /// The unit is not accepted for the metric.
    UnknownUnit,
    /// The value lies outside the metric's plausible range.
    OutOfRange,
    /// The value is NaN or infinite.
    NotFinite,
    /// The value has the wrong shape for the metric.
    InvalidValue,
    /// The timestamp lies too far ahead of the receiver's clock.
    FutureTimestamp,
    /// The timestamp is not a valid instant.
    InvalidTimestamp,
}

impl ErrorCode {
    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::UnknownMetric => "unknown_metric",
            ErrorCode::UnknownUnit => "unknown_unit",
            ErrorCode::OutOfRange => "out_of_range",
            ErrorCode::NotFinite => "not_finite",
            ErrorCode::InvalidValue => "invalid_value",
            ErrorCode::FutureTimestamp => "future_timestamp",
            ErrorCode::InvalidTimestamp => "invalid_timestamp",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reading refused during validation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ReadingError {
    /// Why.
    pub code: ErrorCode,
    /// Which field of the reading (`metric`, `unit`, `value`, `value.lat`, `t`).
    pub field: &'static str,
    /// A sentence for people.
    pub message: String,
}

impl ReadingError {
    /// A new error.
    pub fn new(code: ErrorCode, field: &'static str, message: impl Into<String>) -> Self {
        ReadingError {
            code,
            field,
            message: message.into(),
        }
    }
}
