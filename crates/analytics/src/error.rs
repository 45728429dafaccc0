//! The one error type of the crate: a parameter a caller passed that no computation can
//! use. Bad *data* (gaps, duplicates, NaN, empty days) is never an error: it gives `None`
//! or a result that reports its coverage.

/// A parameter outside the range a computation is defined for.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalyticsError {
    /// A UTC offset beyond ±18 hours (the range ISO 8601 and RFC 3339 allow).
    #[error("UTC offset of {minutes} minutes is outside ±18 hours")]
    InvalidOffset {
        /// The refused offset, in minutes east of UTC.
        minutes: i32,
    },
    /// A configuration value that makes the computation meaningless.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// Which parameter.
        name: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// Two rollups of different granularity cannot be merged.
    #[error("cannot merge a {left} rollup with a {right} rollup")]
    GranularityMismatch {
        /// Granularity of the rollup merged into.
        left: &'static str,
        /// Granularity of the rollup merged from.
        right: &'static str,
    },
}

impl AnalyticsError {
    pub(crate) fn parameter(name: &'static str, reason: impl Into<String>) -> AnalyticsError {
        AnalyticsError::InvalidParameter {
            name,
            reason: reason.into(),
        }
    }
}

/// Result with [`AnalyticsError`].
pub type Result<T> = std::result::Result<T, AnalyticsError>;
