//! Data that crosses the [`Store`](crate::Store) boundary.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use vitalis_model::{
    Commitment, ContentId, DeviceId, Metric, Opening, PatientId, Reading, RecordHeader, RecordId,
    Section, Timestamp, Value,
};

use crate::sealing::{RecordKeys, SealKey};

/// An authenticated device and the patient it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAuth {
    /// The device.
    pub device: DeviceId,
    /// Its patient.
    pub patient: PatientId,
    /// Its Ed25519 public key: when set, its uploads must be signed.
    pub public_key: Option<[u8; 32]>,
    /// The upload interval the patient set (seconds).
    pub upload_interval_s: u32,
}

/// One upload, validated, ready to store.
#[derive(Debug, Clone)]
pub struct NewBatch {
    /// Whose readings.
    pub patient: PatientId,
    /// The device that sent them.
    pub device: DeviceId,
    /// The sender's idempotency key, if it gave one.
    pub idempotency_key: Option<String>,
    /// Readings grouped by the section they go to; each group becomes one record. Within
    /// the batch every (metric, time) appears at most once.
    pub parts: Vec<(Section, Vec<Reading>)>,
    /// When the server received the batch.
    pub received_at: Timestamp,
    /// The patient's epoch key: protected records are sealed under it. `None` stores
    /// them plain (a patient without a sealing key yet, or a store without sealing).
    pub seal: Option<SealKey>,
}

/// A record whose payload is a document (a clinical note), not readings.
#[derive(Debug, Clone)]
pub struct NewDocument {
    /// Whose.
    pub patient: PatientId,
    /// Its source (an institution's source row).
    pub source: DeviceId,
    /// Section.
    pub section: Section,
    /// Payload encoding (e.g. `ENCODING_CLINICAL_V1`).
    pub encoding: u16,
    /// When it was made.
    pub t: Timestamp,
    /// The canonical payload bytes.
    pub payload: Vec<u8>,
    /// When the server received it.
    pub received_at: Timestamp,
    /// The patient's epoch key: a protected document is sealed under it.
    pub seal: Option<SealKey>,
}

/// What was stored for one record of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordReceipt {
    /// Record id.
    pub id: RecordId,
    /// Sequence number in the patient's chain.
    pub seq: u64,
    /// Section.
    pub section: Section,
    /// Number of readings in the record.
    pub readings: u64,
    /// Content id of the stored payload.
    pub cid: String,
    /// Record commitment (hex).
    pub commitment: String,
}

/// The answer to one batch of [`Store::append`](crate::Store::append).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendReceipt {
    /// Records created (none when every reading was a duplicate).
    pub records: Vec<RecordReceipt>,
    /// Readings stored.
    pub accepted: u64,
    /// Readings skipped because the same (device, metric, time) was already stored.
    pub duplicates: u64,
    /// True when this is the stored receipt of an earlier upload with the same key.
    #[serde(default)]
    pub replayed: bool,
}

/// Position after which a page of readings continues: (time, metric, device).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadingCursor {
    /// Time of the last reading returned.
    pub t: Timestamp,
    /// Its metric.
    pub metric: Metric,
    /// Its device.
    pub device: DeviceId,
}

/// A query of one patient's readings.
#[derive(Debug, Clone)]
pub struct ReadingQuery {
    /// Whose.
    pub patient: PatientId,
    /// Only this metric, or all.
    pub metric: Option<Metric>,
    /// Only these metrics (a consent's metric list), or all.
    pub metrics: Option<Vec<Metric>>,
    /// Only readings of records in these sections, or all.
    pub sections: Option<Vec<Section>>,
    /// From this instant (inclusive).
    pub from: Timestamp,
    /// To this instant (inclusive).
    pub to: Timestamp,
    /// Continue after this reading.
    pub after: Option<ReadingCursor>,
    /// At most this many readings.
    pub limit: u32,
    /// The reader's keys, which open sealed readings. Without them a page that holds a
    /// sealed reading fails with [`StoreError::Sealed`](crate::StoreError::Sealed).
    pub keys: Option<ReaderKeys>,
}

/// A reader's [`RecordKeys`], shareable across a request.
#[derive(Clone)]
pub struct ReaderKeys(pub Arc<dyn RecordKeys>);

impl std::fmt::Debug for ReaderKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReaderKeys(..)")
    }
}

/// A reading as stored and indexed.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredReading {
    /// Metric.
    pub metric: Metric,
    /// Time.
    pub t: Timestamp,
    /// Value in the canonical unit.
    pub value: Value,
    /// Source device.
    pub device: DeviceId,
    /// The record that holds it.
    pub record: RecordId,
}

/// One page of readings.
#[derive(Debug, Clone)]
pub struct ReadingsPage {
    /// The readings, ordered by (time, metric, device).
    pub readings: Vec<StoredReading>,
    /// Where the next page starts, when there is more.
    pub next: Option<ReadingCursor>,
}

/// A record's metadata as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    /// Record id.
    pub id: RecordId,
    /// Header the commitment binds.
    pub header: RecordHeader,
    /// Content id of the stored payload.
    pub cid: ContentId,
    /// Randomness that opens the header's payload hash to the payload.
    pub opening: Opening,
    /// Its anchor and inclusion proof, once claimed into one.
    pub anchor: Option<RecordAnchor>,
    /// Stored commitment.
    pub commitment: Commitment,
    /// Number of readings.
    pub reading_count: u64,
    /// When it was stored.
    pub created_at: Timestamp,
}

impl StoredRecord {
    /// Content id of the payload.
    pub fn cid(&self) -> &ContentId {
        &self.cid
    }
}

/// An anchor claimed by this store: the Merkle root over the commitments of a run of
/// records, waiting to be (or already) on the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAnchor {
    /// Store-local id of the anchor.
    pub id: i64,
    /// RFC 6962 Merkle root over the records' commitments, in claim order.
    pub root: [u8; 32],
    /// Number of records (leaves).
    pub record_count: u32,
    /// Earliest `created_at` of its records.
    pub interval_start: Timestamp,
    /// Latest `created_at` of its records.
    pub interval_end: Timestamp,
}

/// An anchor as the explorer lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorSummary {
    /// Store-local id.
    pub id: i64,
    /// RFC 6962 Merkle root over its records' commitments.
    pub root: [u8; 32],
    /// Number of records.
    pub record_count: u32,
    /// Earliest `created_at` of its records (UTC ms).
    pub interval_start: i64,
    /// Latest `created_at` of its records (UTC ms).
    pub interval_end: i64,
    /// Where it is on the ledger, once mined.
    pub on_chain: Option<AnchorOnChain>,
}

/// Where an anchor is on the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorOnChain {
    /// Its index in the anchors contract.
    pub index: u64,
    /// The block that holds its transaction.
    pub block_number: u64,
    /// The transaction.
    pub tx_hash: [u8; 32],
}

/// A record's place in an anchor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordAnchor {
    /// The anchor's root.
    pub root: [u8; 32],
    /// The record's inclusion proof (the `InclusionProof` byte encoding of
    /// `vitalis-crypto`: leaf index, tree size, audit path).
    pub proof: Vec<u8>,
    /// Where the anchor is on the ledger; `None` while it is pending.
    pub on_chain: Option<AnchorOnChain>,
}
