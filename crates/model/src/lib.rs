//! Vitalis domain model: the metric catalog, readings, records and their validation.
//!
//! Pure: no I/O, no async, no clock (callers pass `now`). Everything that travels inward
//! from a device is checked here first:
//!
//! ```
//! use vitalis_model::{RawReading, Timestamp, Value};
//!
//! let now = Timestamp::new(1_763_900_000_000).unwrap();
//! let raw: RawReading =
//!     serde_json::from_str(r#"{"metric":"body_temperature","t":1763899999000,"value":98.6,"unit":"[degF]"}"#)
//!         .unwrap();
//! let reading = raw.validate(now).unwrap();
//! assert!(matches!(reading.value(), Value::Scalar(c) if (c - 37.0).abs() < 1e-9));
//!
//! let too_hot: RawReading =
//!     serde_json::from_str(r#"{"metric":"body_temperature","t":1763899999000,"value":50}"#).unwrap();
//! assert_eq!(too_hot.validate(now).unwrap_err().code.as_str(), "out_of_range");
//! ```

mod clinical;
mod error;
mod ids;
mod metric;
mod reading;
mod record;
mod section;

pub use clinical::{
    ClinicalError, ClinicalNote, ENCODING_CLINICAL_V1, LabResult, MAX_NOTE_BYTES, MAX_RESULTS,
    is_loinc,
};
pub use error::{ErrorCode, ReadingError};
pub use ids::{DeviceId, InvalidId, PatientId, RecordId};
pub use metric::{CATALOG, Metric, MetricSpec, UnitConversion, UnknownMetric, ValueKind};
pub use reading::{
    MAX_CLOCK_SKEW_MS, Position, RawReading, RawValue, Reading, SleepStage, Timestamp, Value,
};
pub use record::{
    ChainError, ChainLink, Commitment, ContentId, ENCODING_SEALED, ENCODING_V1, Opening,
    PayloadError, PayloadHash, RecordHeader, decode_payload, encode_payload, is_sealed,
    plaintext_encoding, sealing_context, verify_chain,
};
pub use section::Section;
