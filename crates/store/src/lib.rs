//! Vitalis durable store: patients, devices, records, content-addressed payloads and the
//! reading index, behind the [`Store`] trait.
//!
//! One implementation, [`SqlStore`], speaks to SQLite (the embedded default: one file in
//! the data directory, WAL, `synchronous=FULL`) and to PostgreSQL (scale-out), through
//! sqlx with a migration set per backend. Both pass the same test suite
//! (`tests/store_suite.rs`).
//!
//! The central operation is [`Store::append`]: it takes a group of batches and stores
//! them in **one transaction**, so a batch is either wholly stored or not at all, and a
//! group of concurrent uploads costs one durable commit (group commit). Inside that
//! transaction each batch is de-duplicated against what is already stored, split into
//! one record per section, given the patient's next sequence numbers, linked to the
//! previous record's commitment and indexed by (patient, metric, time). Its commitment
//! binds the chameleon hash of its payload under the supervisor's key (fixed when the
//! store is first opened), so that a supervisor can later correct a payload without
//! changing the commitment.
//!
//! ```no_run
//! # async fn demo(key: vitalis_crypto::chameleon::ChameleonPublicKey) -> vitalis_store::Result<()> {
//! use vitalis_store::{SqlStore, Store};
//! let store = SqlStore::open("sqlite:///tmp/vitalis.db", &key).await?;
//! let patients = store.patient_count().await?;
//! # Ok(()) }
//! ```

pub mod analysis;
mod anchors;
pub mod directory;
mod error;
pub mod research;
pub mod sealing;
mod sql;
mod sql_analysis;
mod sql_directory;
mod sql_sealing;
mod types;

pub use analysis::Analysis;
pub use directory::Directory;
pub use error::{Result, StoreError};
pub use sql::SqlStore;
pub use types::{
    AnchorOnChain, AnchorSummary, AppendReceipt, DeviceAuth, NewBatch, NewDocument, PendingAnchor,
    ReaderKeys, ReadingCursor, ReadingQuery, ReadingsPage, RecordAnchor, RecordReceipt,
    StoredReading, StoredRecord,
};

use async_trait::async_trait;
use vitalis_model::{Commitment, ContentId, DeviceId, PatientId};

/// Durable storage of Vitalis data. Implementations must be safe to share between tasks.
#[async_trait]
pub trait Store: directory::Directory + analysis::Analysis + Send + Sync + 'static {
    /// Registers a patient (with an account that signs in by API token only) whose API
    /// token hashes to `token_hash`. For scripts and the simulator; people sign up.
    async fn create_patient(&self, token_hash: [u8; 32]) -> Result<PatientId>;

    /// Binds a new device to `patient`; its token hashes to `token_hash`.
    async fn create_device(&self, patient: &PatientId, token_hash: [u8; 32]) -> Result<DeviceId>;

    /// The device whose token hashes to `token_hash`, with its patient.
    async fn device_by_token(&self, token_hash: [u8; 32]) -> Result<Option<DeviceAuth>>;

    /// The patient whose token hashes to `token_hash`.
    async fn patient_by_token(&self, token_hash: [u8; 32]) -> Result<Option<PatientId>>;

    /// Number of registered patients.
    async fn patient_count(&self) -> Result<u64>;

    /// A value kept for the life of the store (for example where the ledger contracts
    /// are), or `None`.
    async fn setting(&self, key: &str) -> Result<Option<Vec<u8>>>;

    /// Keeps a value for the life of the store; an existing value is left unchanged and
    /// returned, so that concurrent nodes agree on the first one.
    async fn put_setting_once(&self, key: &str, value: &[u8]) -> Result<Vec<u8>>;

    /// Every patient's id, in id order.
    async fn patient_ids(&self) -> Result<Vec<PatientId>>;

    /// Stores every batch in one transaction and returns one receipt per batch, in order.
    ///
    /// Readings already stored for the same (device, metric, time) are skipped and
    /// counted as duplicates; a batch whose idempotency key was seen before returns the
    /// first receipt again and stores nothing. On error nothing of any batch is stored.
    async fn append(&self, batches: Vec<NewBatch>) -> Result<Vec<AppendReceipt>>;

    /// Appends a document record (a clinical note) to the patient's chain, in its own
    /// transaction: committed and anchored like any record.
    async fn append_document(&self, doc: NewDocument) -> Result<RecordReceipt>;

    /// Readings of one patient in `[from, to]`, ordered by (time, metric, device).
    async fn readings(&self, query: &ReadingQuery) -> Result<ReadingsPage>;

    /// A patient's records with `seq > after_seq`, in order, at most `limit`.
    async fn records(
        &self,
        patient: &PatientId,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<StoredRecord>>;

    /// The stored bytes with content id `cid` (`None` when absent or erased).
    async fn blob(&self, cid: &ContentId) -> Result<Option<Vec<u8>>>;

    /// Starts a sealing epoch for a patient: stores its wrapped key, returns its id.
    async fn create_seal_epoch(&self, epoch: &sealing::NewSealEpoch) -> Result<i64>;

    /// The patient's sealing epochs, oldest first.
    async fn seal_epochs(&self, patient: &PatientId) -> Result<Vec<sealing::SealEpoch>>;

    /// Replaces an epoch's policy and policy-wrapped key (its key wrapped again for a new
    /// set of readers); the patient's wrap and every record stay as they are.
    async fn rewrap_seal_epoch(
        &self,
        id: i64,
        policy: Option<&str>,
        policy_wrap: Option<&[u8]>,
    ) -> Result<()>;

    /// The plaintext payload of a record: the stored bytes of a plain record, the opened
    /// bytes of a sealed one ([`StoreError::Sealed`] when `keys` cannot open it).
    async fn open_payload(
        &self,
        record: &StoredRecord,
        keys: Option<&ReaderKeys>,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>>;

    /// Sets the attributes an institution's keys carry beyond its role and id.
    async fn set_institution_key_attributes(
        &self,
        institution: &str,
        attributes: &[String],
    ) -> Result<()>;

    /// The attributes an institution's keys carry beyond its role and id.
    async fn institution_key_attributes(&self, institution: &str) -> Result<Vec<String>>;

    /// Stores a researcher's dataset request.
    async fn create_dataset_request(
        &self,
        new: &research::NewDatasetRequest,
    ) -> Result<research::DatasetRequest>;

    /// One dataset request.
    async fn dataset_request(&self, id: &str) -> Result<Option<research::DatasetRequest>>;

    /// An institution's dataset requests, or (`None`) every one still open at `now`.
    async fn dataset_requests(
        &self,
        institution: Option<&str>,
        now: i64,
    ) -> Result<Vec<research::DatasetRequest>>;

    /// A patient's answers to dataset requests.
    async fn dataset_answers(
        &self,
        patient: &PatientId,
    ) -> Result<Vec<(String, research::DatasetAnswer)>>;

    /// Records a patient's answer (once; a second is `StoreError::Conflict`).
    async fn answer_dataset_request(
        &self,
        request: &str,
        patient: &PatientId,
        answer: research::DatasetAnswer,
        grant_id: Option<[u8; 32]>,
    ) -> Result<()>;

    /// Records an account's public key for receiving attribute keys.
    async fn set_account_seal_key(&self, account: &str, key: [u8; 32]) -> Result<()>;

    /// The public key an account published for receiving attribute keys.
    async fn account_seal_key(&self, account: &str) -> Result<Option<[u8; 32]>>;

    /// Keeps an attribute key issued to an account (replacing an earlier one).
    async fn put_attribute_key(&self, key: &sealing::AttributeKeyRecord) -> Result<()>;

    /// The attribute key issued to `account`, if any.
    async fn attribute_key(&self, account: &str) -> Result<Option<sealing::AttributeKeyRecord>>;

    /// Every issued attribute key, oldest first.
    async fn attribute_keys(&self) -> Result<Vec<sealing::AttributeKeyRecord>>;

    /// The access policy the patient chose for protected records (`None`: the default).
    async fn access_policy(&self, patient: &PatientId) -> Result<Option<String>>;

    /// Sets or clears (`None`) the patient's access policy.
    async fn set_access_policy(&self, patient: &PatientId, policy: Option<&str>) -> Result<()>;

    /// Keeps the patient's opening key wrapped under an API token's derived key.
    async fn set_token_key_wrap(&self, token_hash: [u8; 32], wrap: &[u8]) -> Result<()>;

    /// The wrap [`Store::set_token_key_wrap`] kept for a token, if any.
    async fn token_key_wrap(&self, token_hash: [u8; 32]) -> Result<Option<Vec<u8>>>;

    /// Erases a patient's account and stored data in one transaction: payloads, the
    /// reading index, rollups, sealing keys, devices' and sessions' credentials, API
    /// tokens, profile, alerts and settings; consents are marked revoked; the account
    /// keeps no email, name or key. Record rows (commitments, CIDs, proofs) and the access
    /// log stay, so anchored roots and proofs remain valid. Returns what was erased.
    async fn erase_patient(
        &self,
        account: &str,
        patient: &PatientId,
        at: i64,
    ) -> Result<sealing::Erasure>;

    /// The patient's latest sequence number and commitment (0 and genesis when empty).
    async fn head(&self, patient: &PatientId) -> Result<(u64, Commitment)>;

    /// Claims up to `limit` records that are in no anchor yet, oldest first, into a new
    /// pending anchor: the Merkle root over their commitments and each record's
    /// inclusion proof are stored in one transaction. `None` when no record waits.
    async fn claim_for_anchor(&self, limit: u32) -> Result<Option<PendingAnchor>>;

    /// Anchors claimed but not yet confirmed on the ledger, oldest first.
    async fn pending_anchors(&self) -> Result<Vec<PendingAnchor>>;

    /// The newest `limit` anchors, newest first (pending ones included).
    async fn recent_anchors(&self, limit: u32) -> Result<Vec<AnchorSummary>>;

    /// Records where the ledger holds a pending anchor.
    async fn confirm_anchor(&self, id: i64, on_chain: &AnchorOnChain) -> Result<()>;
}
