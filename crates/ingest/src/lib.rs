//! Vitalis ingest: the path of a reading from the wire to the store.
//!
//! ```text
//! bytes ──decode──▶ RawBatch ──check──▶ readings by section ──writer (group commit)──▶ Store
//!                                                                         └──▶ live bus
//! ```
//!
//! [`batch`] decodes and validates one upload and names the field and reading at fault
//! when it refuses one; [`Pipeline`] owns the single writer and the live bus. Transport
//! adapters (the HTTP handler in `vitalis-server`, and later MQTT and file import) call
//! [`Pipeline::submit`] and map [`IngestError`] onto their protocol.
//!
//! After the store, [`anchoring`] commits every interval's new records on the ledger: one
//! Merkle root per interval, one transaction, whatever the number of devices; and
//! [`access_log`] commits the log of who accessed which data the same way.

pub mod access_log;
pub mod alerts;
pub mod anchoring;
pub mod batch;
mod error;
mod pipeline;
pub mod sealer;
pub mod verify;

pub use batch::BatchLimits;
pub use error::IngestError;
pub use pipeline::{LiveBatch, Pipeline, PipelineConfig};
