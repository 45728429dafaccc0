//! The [`Directory`]: accounts, sessions, API tokens, institutions, devices, section
//! choices, consent grants and the access log — who may reach the data, as opposed to the
//! data itself ([`Store`](crate::Store)).

use async_trait::async_trait;
use serde::Serialize;
use vitalis_access::Role;
use vitalis_model::{DeviceId, Metric, PatientId, Section};

use crate::Result;

/// Where an account stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// May sign in.
    Active,
    /// An institution waiting for the supervisor's approval.
    Pending,
    /// Refused or suspended: may not sign in.
    Suspended,
    /// Deleted by its owner: its data is erased, only commitments remain.
    Deleted,
}

impl AccountStatus {
    /// Stable stored name.
    pub fn name(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Pending => "pending",
            AccountStatus::Suspended => "suspended",
            AccountStatus::Deleted => "deleted",
        }
    }

    /// Parses a stored name.
    pub fn from_name(name: &str) -> Option<AccountStatus> {
        match name {
            "active" => Some(AccountStatus::Active),
            "pending" => Some(AccountStatus::Pending),
            "suspended" => Some(AccountStatus::Suspended),
            "deleted" => Some(AccountStatus::Deleted),
            _ => None,
        }
    }
}

/// An account's secp256k1 key, sealed twice: under a key derived from the password and
/// under the recovery key. The store never sees it unsealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedKey {
    /// The key's Ethereum address.
    pub address: [u8; 20],
    /// Sealed under the password-derived key.
    pub by_password: Vec<u8>,
    /// Sealed under the recovery key.
    pub by_recovery: Vec<u8>,
}

/// A new institution, created with its first account.
#[derive(Debug, Clone)]
pub struct NewInstitution {
    /// Its name.
    pub name: String,
}

/// An account to create.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Its role.
    pub role: Role,
    /// Sign-in name (stored lower-cased; unique).
    pub email: String,
    /// Display name.
    pub name: String,
    /// Argon2id PHC string; `None` for accounts that sign in with tokens only.
    pub password_hash: Option<String>,
    /// Initial status.
    pub status: AccountStatus,
    /// For an institution's account, the institution it creates.
    pub institution: Option<NewInstitution>,
    /// The account's sealed key, if it has one.
    pub key: Option<SealedKey>,
}

/// An account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Account id.
    pub id: String,
    /// Role.
    pub role: Role,
    /// Sign-in name.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Argon2id PHC string.
    pub password_hash: Option<String>,
    /// Status.
    pub status: AccountStatus,
    /// A patient's own patient id.
    pub patient: Option<PatientId>,
    /// An institution account's institution.
    pub institution: Option<String>,
    /// Sealed key.
    pub key: Option<SealedKey>,
    /// Created (UTC ms).
    pub created_at: i64,
}

/// An institution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Institution {
    /// Id.
    pub id: String,
    /// Hospital, researcher or enterprise.
    pub role: Role,
    /// Name.
    pub name: String,
    /// Approval status.
    pub status: AccountStatus,
    /// Its address on the ledger (hex with 0x).
    pub address: String,
    /// Registered (UTC ms).
    pub created_at: i64,
}

/// A sign-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The signed-in account.
    pub account: Account,
    /// Its CSRF token.
    pub csrf: String,
    /// When it ends (UTC ms).
    pub expires_at: i64,
}

/// A program's API token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiTokenInfo {
    /// First 8 hex digits of the token's hash (to tell tokens apart).
    pub id: String,
    /// Name given at creation.
    pub name: String,
    /// Scopes: `read`, `write`.
    pub scopes: Vec<String>,
    /// Created (UTC ms).
    pub created_at: i64,
    /// Expiry (UTC ms).
    pub expires_at: Option<i64>,
    /// Revoked (UTC ms).
    pub revoked_at: Option<i64>,
}

/// What kind of source a device row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A paired device.
    Device,
    /// The patient's own manual entries.
    Manual,
    /// An institution writing clinical results.
    Institution,
    /// Files of one kind imported for the patient (`vitalis import`).
    Import,
}

impl SourceKind {
    /// Stable stored name.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Device => "device",
            SourceKind::Manual => "manual",
            SourceKind::Institution => "institution",
            SourceKind::Import => "import",
        }
    }
}

/// A device to pair.
#[derive(Debug, Clone)]
pub struct NewDevice {
    /// Its patient.
    pub patient: PatientId,
    /// SHA-256 of its token.
    pub token_hash: [u8; 32],
    /// A name the patient chose.
    pub name: String,
    /// Ed25519 public key; when set, uploads must be signed with it.
    pub public_key: Option<[u8; 32]>,
    /// Upload interval (seconds).
    pub upload_interval_s: u32,
}

/// A device (or other source) as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceInfo {
    /// Id.
    pub id: DeviceId,
    /// Kind of source.
    pub kind: SourceKind,
    /// Name.
    pub name: String,
    /// Ed25519 public key (hex), if uploads are signed.
    pub public_key: Option<String>,
    /// Upload interval (seconds).
    pub upload_interval_s: u32,
    /// Paired (UTC ms).
    pub created_at: i64,
    /// Last upload (UTC ms).
    pub last_upload_at: Option<i64>,
    /// Revoked (UTC ms).
    pub revoked_at: Option<i64>,
}

/// A consent grant as recorded off-chain next to its on-chain twin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    /// The grant's id (the EIP-712 digest the patient signed).
    pub grant_id: [u8; 32],
    /// The patient.
    pub patient: PatientId,
    /// The institution granted.
    pub institution: String,
    /// Access bits (read 1, write 2).
    pub access: u8,
    /// Section bits (open 1, protected 2).
    pub sections: u8,
    /// Metrics granted; empty means every metric of the sections.
    pub metrics: Vec<Metric>,
    /// Purpose as the patient wrote it.
    pub purpose: String,
    /// Expiry (UTC ms).
    pub expires_at: i64,
    /// Granted (UTC ms).
    pub created_at: i64,
    /// Block of the grant transaction.
    pub block_number: u64,
    /// The grant transaction.
    pub tx_hash: [u8; 32],
    /// Revoked (UTC ms).
    pub revoked_at: Option<i64>,
    /// The revocation transaction.
    pub revoke_tx: Option<[u8; 32]>,
}

/// An access to log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewAccessEntry {
    /// When (UTC ms).
    pub at: i64,
    /// Who (account id).
    pub account: String,
    /// Their role.
    pub role: Role,
    /// Their institution.
    pub institution: Option<String>,
    /// Whose data.
    pub patient: PatientId,
    /// What was done (an action name, e.g. `read_protected`).
    pub action: String,
    /// Which data: metrics, time range, count.
    pub detail: String,
    /// Purpose of the access (from the consent).
    pub purpose: String,
}

impl NewAccessEntry {
    /// The entry's canonical bytes: its JSON with fields in declaration order.
    pub fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// SHA-256 of the canonical bytes (stored with the entry).
    pub fn hash(&self) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(self.canonical()).into()
    }
}

/// A logged access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEntry {
    /// Entry id (store-local).
    pub id: i64,
    /// The entry.
    pub entry: NewAccessEntry,
    /// SHA-256 over the entry's canonical bytes ([`NewAccessEntry::hash`]).
    pub entry_hash: [u8; 32],
    /// Its batch, once committed into one.
    pub batch: Option<AccessEntryBatch>,
}

impl AccessEntry {
    /// What the access-log Merkle tree commits for entry `id`: SHA-256 of the id (8 bytes,
    /// big-endian) and the entry's hash. The id makes two entries with the same content
    /// (same caller, same millisecond) distinct leaves, so no two batches share a root.
    pub fn leaf(id: i64, entry_hash: &[u8; 32]) -> [u8; 32] {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        hasher.update(id.to_be_bytes());
        hasher.update(entry_hash);
        hasher.finalize().into()
    }
}

/// An access-log entry's place in its batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEntryBatch {
    /// The batch's Merkle root.
    pub root: [u8; 32],
    /// Inclusion proof (the `InclusionProof` byte encoding of `vitalis-crypto`).
    pub proof: Vec<u8>,
    /// Where the batch is on the ledger, once committed.
    pub on_chain: Option<crate::AnchorOnChain>,
}

/// A batch of access-log entries claimed for the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAccessBatch {
    /// Store-local id.
    pub id: i64,
    /// Merkle root over the entries' hashes.
    pub root: [u8; 32],
    /// Cumulative number of entries committed before this batch.
    pub first_entry: u64,
    /// Number of entries.
    pub entry_count: u32,
}

/// Accounts, sessions, devices, consent and the access log.
#[async_trait]
pub trait Directory: Send + Sync + 'static {
    /// Creates an account (and, for a patient, their patient; for an institution, the
    /// institution). Fails with [`StoreError::Conflict`](crate::StoreError::Conflict) when
    /// the email is taken.
    async fn create_account(&self, account: NewAccount) -> Result<Account>;
    /// The account with this (case-insensitive) email.
    async fn account_by_email(&self, email: &str) -> Result<Option<Account>>;
    /// The account with this id.
    async fn account(&self, id: &str) -> Result<Option<Account>>;
    /// Accounts with this role, oldest first.
    async fn accounts_with_role(&self, role: Role) -> Result<Vec<Account>>;
    /// Replaces the password hash and the password-sealed key; ends every session.
    async fn set_password(
        &self,
        account: &str,
        password_hash: &str,
        key_by_password: Option<Vec<u8>>,
    ) -> Result<()>;

    /// Starts a session.
    async fn create_session(
        &self,
        id_hash: [u8; 32],
        account: &str,
        csrf: &str,
        expires_at: i64,
    ) -> Result<()>;
    /// The live session with this id hash.
    async fn session(&self, id_hash: [u8; 32], now: i64) -> Result<Option<Session>>;
    /// Ends a session.
    async fn delete_session(&self, id_hash: [u8; 32]) -> Result<()>;

    /// Stores an API token for `account`.
    async fn create_api_token(
        &self,
        token_hash: [u8; 32],
        account: &str,
        name: &str,
        scopes: &[String],
        expires_at: Option<i64>,
    ) -> Result<()>;
    /// The account and scopes of a live API token.
    async fn api_token(
        &self,
        token_hash: [u8; 32],
        now: i64,
    ) -> Result<Option<(Account, Vec<String>)>>;
    /// The account's API tokens.
    async fn api_tokens(&self, account: &str) -> Result<Vec<ApiTokenInfo>>;
    /// Revokes the account's token whose id (hash prefix) is `id`; false if none.
    async fn revoke_api_token(&self, account: &str, id: &str, now: i64) -> Result<bool>;

    /// Institutions, optionally only those with `status`.
    async fn institutions(&self, status: Option<AccountStatus>) -> Result<Vec<Institution>>;
    /// One institution.
    async fn institution(&self, id: &str) -> Result<Option<Institution>>;
    /// Sets an institution's (and its accounts') status.
    async fn set_institution_status(&self, id: &str, status: AccountStatus, at: i64) -> Result<()>;

    /// Pairs a device.
    async fn pair_device(&self, device: NewDevice) -> Result<DeviceId>;
    /// Keeps a pairing code (its hash) for `patient`, valid until `expires_at`.
    async fn create_pairing_code(
        &self,
        code_hash: [u8; 32],
        patient: &PatientId,
        name: &str,
        expires_at: i64,
    ) -> Result<()>;
    /// Trades an unused, unexpired pairing code for a new device with `token_hash`, once;
    /// `None` when the code is unknown, used or expired.
    async fn redeem_pairing_code(
        &self,
        code_hash: [u8; 32],
        token_hash: [u8; 32],
        now: i64,
    ) -> Result<Option<(PatientId, DeviceId)>>;
    /// A patient's devices (paired devices only, revoked included).
    async fn devices(&self, patient: &PatientId) -> Result<Vec<DeviceInfo>>;
    /// Changes a device's upload interval; false if it is not the patient's.
    async fn set_upload_interval(
        &self,
        patient: &PatientId,
        device: &DeviceId,
        seconds: u32,
    ) -> Result<bool>;
    /// Revokes a device: its token stops working at once; false if it is not the patient's.
    async fn revoke_device(&self, patient: &PatientId, device: &DeviceId, at: i64) -> Result<bool>;
    /// The source row of a patient's manual entries or of an institution writing for the
    /// patient, created on first use.
    async fn source(
        &self,
        patient: &PatientId,
        kind: SourceKind,
        institution: Option<&str>,
    ) -> Result<DeviceId>;
    /// The source row of a patient's imports of one kind of file, found by its `name`
    /// (e.g. `import:fitbit`), created on first use, so importing the same file again
    /// meets the readings stored the first time as duplicates.
    async fn import_source(&self, patient: &PatientId, name: &str) -> Result<DeviceId>;

    /// The patient's section choices that differ from the catalog defaults.
    async fn section_choices(&self, patient: &PatientId) -> Result<Vec<(Metric, Section)>>;
    /// Puts a metric of the patient's into a section, for records stored from now on.
    async fn set_section(
        &self,
        patient: &PatientId,
        metric: Metric,
        section: Section,
    ) -> Result<()>;
    /// The patient's region (for enterprise/government aggregates).
    async fn set_region(&self, patient: &PatientId, region: Option<&str>) -> Result<()>;

    /// Sets the patient's public key for wrapping record data keys (X25519, 32 bytes).
    /// The first key set stays: a different key later is refused with
    /// `StoreError::Conflict("seal_public_key")`, since records already sealed for the
    /// first would become unreadable to the patient. Setting the same key again is a no-op.
    async fn set_seal_public_key(&self, patient: &PatientId, key: [u8; 32]) -> Result<()>;

    /// The patient's public key for wrapping record data keys, if set.
    async fn seal_public_key(&self, patient: &PatientId) -> Result<Option<[u8; 32]>>;
    /// Regions of the given patients.
    async fn regions(&self, patients: &[PatientId]) -> Result<Vec<(PatientId, Option<String>)>>;

    /// Records a consent grant that is on the ledger.
    async fn put_consent(&self, consent: &ConsentRecord) -> Result<()>;
    /// One grant.
    async fn consent(&self, grant_id: [u8; 32]) -> Result<Option<ConsentRecord>>;
    /// A patient's grants, newest first.
    async fn consents_of_patient(&self, patient: &PatientId) -> Result<Vec<ConsentRecord>>;
    /// An institution's grants, newest first.
    async fn consents_of_institution(&self, institution: &str) -> Result<Vec<ConsentRecord>>;
    /// Marks a grant revoked (before its revocation is mined, so it takes effect at once).
    async fn revoke_consent(&self, grant_id: [u8; 32], at: i64) -> Result<()>;
    /// Records the revocation's transaction.
    async fn set_revoke_tx(&self, grant_id: [u8; 32], tx: [u8; 32]) -> Result<()>;

    /// Logs accesses; returns their ids.
    async fn log_access(&self, entries: &[NewAccessEntry]) -> Result<Vec<i64>>;
    /// Access-log entries about `patient` (all patients when `None`) with id below
    /// `before` (newest first), at most `limit`.
    async fn access_log(
        &self,
        patient: Option<&PatientId>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AccessEntry>>;
    /// Claims up to `limit` unbatched entries into a new batch (root, proofs).
    async fn claim_access_batch(&self, limit: u32) -> Result<Option<PendingAccessBatch>>;
    /// Batches claimed but not yet on the ledger.
    async fn pending_access_batches(&self) -> Result<Vec<PendingAccessBatch>>;
    /// Records where the ledger holds a batch.
    async fn confirm_access_batch(&self, id: i64, on_chain: &crate::AnchorOnChain) -> Result<()>;
}
