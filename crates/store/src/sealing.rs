//! Protected records sealed at rest (DESIGN.md §5).
//!
//! Key hierarchy, from the bottom:
//!
//! - **Data key**: each protected record's payload is encrypted under its own random key
//!   ([`vitalis_crypto::envelope::seal_payload`]), bound to the record's patient,
//!   sequence number, section and time range ([`vitalis_model::sealing_context`]). The
//!   stored bytes are the ciphertext, so the CID and the commitment cover it and a record
//!   verifies without being opened.
//! - **Epoch key**: the data key is wrapped under the patient's current epoch key and kept
//!   in `record_keys`, beside the record and outside its CID. An epoch starts when the
//!   node first seals for the patient after starting, and again whenever the set of
//!   readers changes (a consent granted or revoked, a policy changed).
//! - **Readers**: the epoch key is wrapped for the patient with HPKE ([`SealEpoch::patient_wrap`])
//!   and, when institutions may read, under a CP-ABE policy ([`SealEpoch::policy_wrap`]).
//!   A reader presents [`RecordKeys`] that recover epoch keys; wrapping an epoch again for
//!   a new reader changes no record.
//!
//! Plain epoch keys live only in the memory of the node that seals and of a reader's
//! request. The reading index keeps a sealed reading's metric, time and device (to find
//! it and refuse duplicates) but not its value. Minute rollups of sealed readings are
//! kept per record and hour, encrypted under the node's rollup key, which is kept out of
//! the database ([`SqlStore::with_rollup_key`](crate::SqlStore::with_rollup_key)).

use std::collections::{BTreeMap, HashMap};

use vitalis_crypto::envelope::{self, DataKey};
use vitalis_model::{Metric, PatientId};

use crate::analysis::{ROLLUP_BUCKET_MS, RollupBucket};
use crate::{Result, StoreError};

/// Length of an hour, the span of one sealed rollup row.
pub(crate) const HOUR_MS: i64 = 3_600_000;

/// The patient's current epoch key, for sealing.
#[derive(Debug, Clone)]
pub struct SealKey {
    /// The epoch's id ([`Store::create_seal_epoch`](crate::Store::create_seal_epoch)).
    pub epoch: i64,
    /// The epoch key.
    pub key: DataKey,
}

/// A new epoch's wrapped key.
#[derive(Debug, Clone)]
pub struct NewSealEpoch {
    /// Whose.
    pub patient: PatientId,
    /// The epoch key wrapped for the patient (HPKE).
    pub patient_wrap: Vec<u8>,
    /// The access policy institutions must satisfy, if any may read.
    pub policy: Option<String>,
    /// The epoch key encrypted under `policy` (CP-ABE ciphertext).
    pub policy_wrap: Option<Vec<u8>>,
    /// When (UTC ms).
    pub created_at: i64,
}

/// A stored epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealEpoch {
    /// Store-local id.
    pub id: i64,
    /// Whose.
    pub patient: PatientId,
    /// The epoch key wrapped for the patient (HPKE).
    pub patient_wrap: Vec<u8>,
    /// The access policy, if institutions may read.
    pub policy: Option<String>,
    /// The epoch key under `policy` (CP-ABE ciphertext).
    pub policy_wrap: Option<Vec<u8>>,
    /// When it started (UTC ms).
    pub created_at: i64,
}

/// What erasing a patient removed and kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Erasure {
    /// Payloads deleted.
    pub payloads: u64,
    /// Index rows (readings) deleted.
    pub readings: u64,
    /// Record rows kept (their commitments and proofs).
    pub records_kept: u64,
}

/// An attribute key the authority issued to an institution account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeKeyRecord {
    /// The account that holds it.
    pub account: String,
    /// Its institution.
    pub institution: String,
    /// The attributes it carries.
    pub attributes: Vec<String>,
    /// A random key wrapped (HPKE) for the account's own key.
    pub wrapped_key: Vec<u8>,
    /// The attribute key's encoding sealed under that random key.
    pub sealed_key: Vec<u8>,
    /// When it was issued (UTC ms).
    pub issued_at: i64,
}

/// What a reader holds to open sealed records: a way to recover epoch keys.
pub trait RecordKeys: Send + Sync {
    /// The key of `epoch`, or `None` when this reader's keys do not open it.
    fn epoch_key(&self, epoch: &SealEpoch) -> Option<DataKey>;
}

/// The associated data of an epoch key wrapped for a patient or under a policy.
pub fn epoch_context(patient: &PatientId) -> Vec<u8> {
    let mut out = b"vitalis/seal-epoch/v1".to_vec();
    out.extend_from_slice(patient.as_str().as_bytes());
    out
}

/// Epoch keys recovered during one read, so each epoch is opened once.
pub(crate) struct EpochCache<'a> {
    keys: &'a dyn RecordKeys,
    opened: HashMap<i64, Option<DataKey>>,
}

impl<'a> EpochCache<'a> {
    pub(crate) fn new(keys: &'a dyn RecordKeys) -> EpochCache<'a> {
        EpochCache {
            keys,
            opened: HashMap::new(),
        }
    }

    /// The key of `epoch`, opening it on first use.
    pub(crate) fn key(&mut self, epoch: &SealEpoch) -> Option<DataKey> {
        self.opened
            .entry(epoch.id)
            .or_insert_with(|| self.keys.epoch_key(epoch))
            .clone()
    }
}

/// Bytes of one serialized minute bucket.
const BUCKET_LEN: usize = 48;

fn rollup_context(patient: &PatientId, metric: Metric, hour: i64, record: &str) -> Vec<u8> {
    let mut out = b"vitalis/sealed-rollup/v1".to_vec();
    for field in [patient.as_str(), metric.name(), record] {
        out.extend_from_slice(&(field.len() as u32).to_be_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    out.extend_from_slice(&hour.to_be_bytes());
    out
}

/// One hour of a record's minute buckets of one metric, sealed under the rollup key.
pub(crate) fn seal_rollup_hour(
    key: &DataKey,
    patient: &PatientId,
    metric: Metric,
    hour: i64,
    record: &str,
    buckets: &[RollupBucket],
) -> Vec<u8> {
    let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(buckets.len() * BUCKET_LEN));
    for b in buckets {
        plain.extend_from_slice(&b.bucket.to_be_bytes());
        plain.extend_from_slice(&b.n.to_be_bytes());
        for v in [b.sum, b.min, b.max, b.sum_sq] {
            plain.extend_from_slice(&v.to_be_bytes());
        }
    }
    envelope::seal_payload(
        key,
        &rollup_context(patient, metric, hour, record),
        &plain,
        &mut rand::rng(),
    )
}

/// Opens what [`seal_rollup_hour`] sealed.
pub(crate) fn open_rollup_hour(
    key: &DataKey,
    patient: &PatientId,
    metric: Metric,
    hour: i64,
    record: &str,
    sealed: &[u8],
) -> Result<Vec<RollupBucket>> {
    let plain = envelope::open_payload(key, &rollup_context(patient, metric, hour, record), sealed)
        .map_err(|e| StoreError::Corrupt(format!("sealed rollup of record {record}: {e}")))?;
    if plain.len() % BUCKET_LEN != 0 {
        return Err(StoreError::Corrupt(format!(
            "sealed rollup of record {record}: length"
        )));
    }
    Ok(plain
        .chunks_exact(BUCKET_LEN)
        .map(|c| {
            let i = |at: usize| i64::from_be_bytes(c[at..at + 8].try_into().expect("8 bytes"));
            let f = |at: usize| f64::from_be_bytes(c[at..at + 8].try_into().expect("8 bytes"));
            RollupBucket {
                bucket: i(0),
                n: i(8) as u64,
                sum: f(16),
                min: f(24),
                max: f(32),
                sum_sq: f(40),
            }
        })
        .collect())
}

/// Minute buckets merged by minute, in time order.
pub(crate) fn merge_minutes(
    parts: impl IntoIterator<Item = RollupBucket>,
) -> BTreeMap<i64, RollupBucket> {
    let mut out: BTreeMap<i64, RollupBucket> = BTreeMap::new();
    for b in parts {
        out.entry(b.bucket).and_modify(|m| m.merge(&b)).or_insert(b);
    }
    out
}

/// Minute buckets merged into buckets of `width` ms, aligned as the SQL grouping aligns
/// them (`(bucket / width) * width`).
pub(crate) fn group_minutes(
    minutes: impl IntoIterator<Item = RollupBucket>,
    width: i64,
) -> BTreeMap<i64, RollupBucket> {
    let width = (width / ROLLUP_BUCKET_MS).max(1) * ROLLUP_BUCKET_MS;
    merge_minutes(minutes.into_iter().map(|mut b| {
        b.bucket = b.bucket.div_euclid(width) * width;
        b
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(minute: i64, v: f64) -> RollupBucket {
        RollupBucket::of(minute * ROLLUP_BUCKET_MS, v)
    }

    #[test]
    fn a_sealed_hour_opens_only_where_it_was_sealed() {
        let key = DataKey::generate(&mut rand::rng());
        let patient = PatientId::new("p1".to_owned()).unwrap();
        let buckets = vec![bucket(1, 60.0), bucket(2, 70.5)];
        let sealed = seal_rollup_hour(&key, &patient, Metric::HeartRate, 0, "r1", &buckets);
        let back = open_rollup_hour(&key, &patient, Metric::HeartRate, 0, "r1", &sealed).unwrap();
        assert_eq!(back, buckets);
        // Another record, hour, metric, patient or key: refused.
        assert!(open_rollup_hour(&key, &patient, Metric::HeartRate, 0, "r2", &sealed).is_err());
        assert!(open_rollup_hour(&key, &patient, Metric::HeartRate, 1, "r1", &sealed).is_err());
        assert!(open_rollup_hour(&key, &patient, Metric::Spo2, 0, "r1", &sealed).is_err());
        let other = PatientId::new("p2".to_owned()).unwrap();
        assert!(open_rollup_hour(&key, &other, Metric::HeartRate, 0, "r1", &sealed).is_err());
        let wrong = DataKey::generate(&mut rand::rng());
        assert!(open_rollup_hour(&wrong, &patient, Metric::HeartRate, 0, "r1", &sealed).is_err());
    }

    #[test]
    fn grouping_matches_minute_arithmetic() {
        let grouped = group_minutes(
            [
                bucket(0, 1.0),
                bucket(4, 3.0),
                bucket(5, 5.0),
                bucket(5, 7.0),
            ],
            5 * ROLLUP_BUCKET_MS,
        );
        let first = grouped[&0];
        let second = grouped[&(5 * ROLLUP_BUCKET_MS)];
        assert_eq!(
            (first.n, first.sum, first.min, first.max),
            (2, 4.0, 1.0, 3.0)
        );
        assert_eq!((second.n, second.sum), (2, 12.0));
    }
}
