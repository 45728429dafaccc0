//! Why an upload was refused or could not be stored.

use vitalis_model::ReadingError;

/// An upload that was not stored. Every variant except [`IngestError::Unavailable`] is
/// the sender's to fix; `Unavailable` is worth retrying with the same idempotency key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IngestError {
    /// The body is not JSON.
    #[error("malformed JSON: {message}")]
    MalformedJson {
        /// The parser's account, with line and column.
        message: String,
    },
    /// The JSON has a missing, unknown or wrongly typed field.
    #[error("invalid field: {message}")]
    InvalidField {
        /// Path inside the reading (or the batch) that is wrong.
        field: Option<String>,
        /// Which reading, when the error is inside one.
        index: Option<usize>,
        /// The decoder's account.
        message: String,
    },
    /// A reading failed validation.
    #[error("reading {index}: {error}")]
    InvalidReading {
        /// Which reading.
        index: usize,
        /// What was wrong with it.
        error: ReadingError,
    },
    /// The batch has no readings.
    #[error("the batch has no readings")]
    EmptyBatch,
    /// The batch has more readings than allowed.
    #[error("the batch has {got} readings; at most {max} are accepted")]
    BatchTooLarge {
        /// The limit.
        max: usize,
        /// What was sent.
        got: usize,
    },
    /// The idempotency key is empty, too long or not printable ASCII.
    #[error("idempotency key must be 1 to 128 printable ASCII characters")]
    InvalidIdempotencyKey,
    /// The store could not commit the batch; nothing was stored.
    #[error("the store is unavailable; retry with the same idempotency key")]
    Unavailable,
}

impl IngestError {
    /// Stable machine-readable code (`error.code` in API responses).
    pub fn code(&self) -> &'static str {
        match self {
            IngestError::MalformedJson { .. } => "malformed_json",
            IngestError::InvalidField { .. } => "invalid_field",
            IngestError::InvalidReading { error, .. } => error.code.as_str(),
            IngestError::EmptyBatch => "empty_batch",
            IngestError::BatchTooLarge { .. } => "batch_too_large",
            IngestError::InvalidIdempotencyKey => "invalid_idempotency_key",
            IngestError::Unavailable => "unavailable",
        }
    }

    /// The field at fault, if one can be named.
    pub fn field(&self) -> Option<String> {
        match self {
            IngestError::InvalidField { field, .. } => field.clone(),
            IngestError::InvalidReading { error, .. } => Some(error.field.to_owned()),
            IngestError::BatchTooLarge { .. } | IngestError::EmptyBatch => Some("readings".into()),
            IngestError::InvalidIdempotencyKey => Some("Idempotency-Key".into()),
            IngestError::MalformedJson { .. } | IngestError::Unavailable => None,
        }
    }

    /// The index of the reading at fault, if any.
    pub fn index(&self) -> Option<usize> {
        match self {
            IngestError::InvalidField { index, .. } => *index,
            IngestError::InvalidReading { index, .. } => Some(*index),
            _ => None,
        }
    }

    /// A sentence for people, without the field/index prefix the JSON body carries apart.
    pub fn message(&self) -> String {
        match self {
            IngestError::InvalidReading { error, .. } => error.message.clone(),
            other => other.to_string(),
        }
    }
}
