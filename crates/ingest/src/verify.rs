//! Verification of stored records against the ledger: the check anyone allowed to see a
//! patient's records can run, step by step.
//!
//! For each record, in sequence order: the sequence has no gap, repeat or reordering;
//! `prev` is the predecessor's commitment; the payload matches its CID; the payload hash
//! opens to the payload under the supervisor's chameleon-hash key; the commitment matches
//! the header; the inclusion proof leads from the commitment to the anchor's root; and
//! the root is on the ledger, at the block and transaction the store says. A failure names
//! the record and the step.
//!
//! A [`Verifier`] asks the ledger about each anchor root once: roots found on the ledger
//! are remembered for the verifier's lifetime and shared by every patient it checks (an
//! anchor holds the records of many patients, so without this a run over all patients
//! would look each root up once per patient). A root the ledger does not have is asked
//! about again for the next patient. Anchors are never removed from the ledger, but a
//! verifier does not notice a reorganisation of an external chain that drops a root it
//! already found; build a new verifier to see the ledger anew.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use vitalis_chain::ledger::{AnchorLocation, Ledger, LedgerError};
use vitalis_crypto::chameleon::{self, ChameleonDigest, ChameleonPublicKey, Randomness};
use vitalis_crypto::merkle::InclusionProof;
use vitalis_model::{ChainError, ChainLink, Opening, PatientId, PayloadHash, verify_chain};
use vitalis_store::{Store, StoreError, StoredRecord};

/// A verification step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Sequence numbers 1, 2, 3, … without gap, repeat or reordering.
    Sequence,
    /// `prev` equals the predecessor's commitment.
    Link,
    /// The payload's CID is the stored CID.
    PayloadCid,
    /// The payload hash opens to the payload.
    PayloadHash,
    /// The commitment matches the header.
    Commitment,
    /// The inclusion proof leads to the anchor's root.
    Proof,
    /// The root is on the ledger where the store says.
    OnChainRoot,
    /// The payload is missing from the store.
    Payload,
}

/// One failed check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The record's sequence number.
    pub seq: u64,
    /// The record's id, when known.
    pub record: Option<String>,
    /// The step that failed.
    pub step: Step,
    /// What was found.
    pub detail: String,
}

/// The result of verifying one patient's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatientReport {
    /// Whose records.
    pub patient: String,
    /// Records checked.
    pub records: u64,
    /// Records whose anchor was found on the ledger.
    pub anchored: u64,
    /// Records not (yet) in a confirmed anchor: newer than the last anchor.
    pub pending: u64,
    /// Everything that failed; empty when the history is intact.
    pub failures: Vec<Failure>,
}

impl PatientReport {
    /// Whether every check passed.
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Why verification could not run (as opposed to finding a failure).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks records from a store against a ledger.
pub struct Verifier {
    store: Arc<dyn Store>,
    ledger: Arc<dyn Ledger>,
    payload_key: ChameleonPublicKey,
    /// Roots found on the ledger, with where; shared by all patients.
    confirmed: Mutex<HashMap<[u8; 32], AnchorLocation>>,
}

/// Most roots a verifier remembers (~100 bytes each); past it, it starts afresh.
const MAX_CONFIRMED_ROOTS: usize = 100_000;

/// Records read per page.
const PAGE: u32 = 10_000;

impl Verifier {
    /// A verifier of `store`'s records under the supervisor's `payload_key`, against `ledger`.
    pub fn new(
        store: Arc<dyn Store>,
        ledger: Arc<dyn Ledger>,
        payload_key: ChameleonPublicKey,
    ) -> Verifier {
        Verifier {
            store,
            ledger,
            payload_key,
            confirmed: Mutex::new(HashMap::new()),
        }
    }

    /// A verifier of the same store, ledger and key that remembers nothing yet: every root
    /// is asked of the ledger again. A long-lived server takes one per request, so that an
    /// answer never rests on what the ledger said earlier.
    pub fn fresh(&self) -> Verifier {
        Verifier::new(self.store.clone(), self.ledger.clone(), self.payload_key)
    }

    /// Where the ledger has `root`: from the roots already found, else from the ledger.
    async fn locate(&self, root: &[u8; 32]) -> Result<Option<AnchorLocation>, LedgerError> {
        if let Some(at) = self.confirmed().get(root) {
            return Ok(Some(*at));
        }
        let found = self.ledger.find_anchor((*root).into()).await?;
        if let Some(at) = found {
            let mut confirmed = self.confirmed();
            // A long-lived verifier (the server's) must not grow without bound.
            if confirmed.len() >= MAX_CONFIRMED_ROOTS {
                confirmed.clear();
            }
            confirmed.insert(*root, at);
        }
        Ok(found)
    }

    fn confirmed(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], AnchorLocation>> {
        // The map is only ever inserted into; a panic elsewhere cannot leave it half-made.
        self.confirmed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Verifies a patient's whole history.
    pub async fn patient(&self, patient: &PatientId) -> Result<PatientReport, VerifyError> {
        let mut records: Vec<StoredRecord> = Vec::new();
        loop {
            let after = records.last().map_or(0, |r| r.header.seq);
            let page = self.store.records(patient, after, PAGE).await?;
            let done = page.len() < PAGE as usize;
            records.extend(page);
            if done {
                break;
            }
        }
        let mut report = PatientReport {
            patient: patient.to_string(),
            records: records.len() as u64,
            anchored: 0,
            pending: 0,
            failures: Vec::new(),
        };
        let (head_seq, _) = self.store.head(patient).await?;
        if head_seq != records.len() as u64 {
            report.failures.push(Failure {
                seq: head_seq,
                record: None,
                step: Step::Sequence,
                detail: format!(
                    "the patient's head is record {head_seq} but {} records are stored",
                    records.len()
                ),
            });
        }

        let mut links = Vec::with_capacity(records.len());
        for r in &records {
            match self.store.blob(&r.cid).await? {
                Some(payload) => links.push(ChainLink {
                    header: r.header.clone(),
                    cid: r.cid,
                    opening: r.opening,
                    commitment: r.commitment,
                    payload,
                }),
                None => {
                    report
                        .failures
                        .push(failure(r, Step::Payload, "payload missing".into()));
                    break;
                }
            }
        }
        let key = self.payload_key;
        let opens = move |digest: &[u8; 32], opening: &Opening, hash: &PayloadHash| match (
            Randomness::from_bytes(&opening.0),
            ChameleonDigest::from_bytes(hash.0),
        ) {
            (Ok(randomness), Ok(hash)) => chameleon::check(&key, digest, &randomness, &hash),
            _ => false,
        };
        if let Err(e) = verify_chain(&links, opens) {
            let (seq, step) = match e {
                ChainError::Gap { expected, .. } => (expected, Step::Sequence),
                ChainError::BrokenLink { seq } => (seq, Step::Link),
                ChainError::PayloadMismatch { seq } => (seq, Step::PayloadCid),
                ChainError::PayloadHashMismatch { seq } => (seq, Step::PayloadHash),
                ChainError::CommitmentMismatch { seq } => (seq, Step::Commitment),
            };
            let record = records.iter().find(|r| r.header.seq == seq);
            report.failures.push(Failure {
                seq,
                record: record.map(|r| r.id.to_string()),
                step,
                detail: e.to_string(),
            });
        }

        // This patient's answers, including "not on the ledger", so a missing root is
        // asked about once per patient, not once per record.
        let mut roots: HashMap<[u8; 32], Option<AnchorLocation>> = HashMap::new();
        for r in &records {
            let Some(anchor) = &r.anchor else {
                report.pending += 1;
                continue;
            };
            let proof_ok = InclusionProof::from_bytes(&anchor.proof)
                .map_err(|e| e.to_string())
                .and_then(|p| {
                    p.verify(&r.commitment.0, &anchor.root)
                        .map_err(|e| e.to_string())
                });
            if let Err(detail) = proof_ok {
                report.failures.push(failure(r, Step::Proof, detail));
                continue;
            }
            let Some(stored) = anchor.on_chain else {
                report.pending += 1;
                continue;
            };
            let found = match roots.get(&anchor.root) {
                Some(found) => *found,
                None => {
                    let found = match self.locate(&anchor.root).await {
                        Ok(found) => found,
                        Err(e) => {
                            report
                                .failures
                                .push(failure(r, Step::OnChainRoot, e.to_string()));
                            continue;
                        }
                    };
                    roots.insert(anchor.root, found);
                    found
                }
            };
            match found {
                Some(at)
                    if at.block_number == stored.block_number && at.tx_hash.0 == stored.tx_hash =>
                {
                    report.anchored += 1;
                }
                Some(at) => report.failures.push(failure(
                    r,
                    Step::OnChainRoot,
                    format!(
                        "root is on the ledger at block {} but the store says block {}",
                        at.block_number, stored.block_number
                    ),
                )),
                None => report.failures.push(failure(
                    r,
                    Step::OnChainRoot,
                    format!("root {} is not on the ledger", hex::encode(anchor.root)),
                )),
            }
        }
        Ok(report)
    }
}

fn failure(r: &StoredRecord, step: Step, detail: String) -> Failure {
    Failure {
        seq: r.header.seq,
        record: Some(r.id.to_string()),
        step,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use alloy::primitives::B256;
    use vitalis_chain::ledger::AnchorRequest;
    use vitalis_crypto::chameleon::ChameleonTrapdoor;
    use vitalis_model::{Metric, Reading, Section, Timestamp, Value};
    use vitalis_store::{AnchorOnChain, NewBatch, SqlStore};

    use super::*;

    /// A ledger that holds the roots it was given and counts the look-ups.
    #[derive(Default)]
    struct CountingLedger {
        roots: Mutex<HashMap<B256, AnchorLocation>>,
        lookups: AtomicUsize,
    }

    type Answer<'a, T> = Pin<Box<dyn Future<Output = Result<T, LedgerError>> + Send + 'a>>;

    impl Ledger for CountingLedger {
        fn anchor<'a, 'b, 'c>(&'a self, request: &'b AnchorRequest) -> Answer<'c, AnchorLocation>
        where
            'a: 'c,
            'b: 'c,
        {
            Box::pin(async move {
                let mut roots = self.roots.lock().unwrap();
                let at = AnchorLocation {
                    index: roots.len() as u64,
                    block_number: roots.len() as u64 + 1,
                    tx_hash: B256::repeat_byte(roots.len() as u8 + 1),
                };
                Ok(*roots.entry(request.root).or_insert(at))
            })
        }

        fn find_anchor<'a, 'c>(&'a self, root: B256) -> Answer<'c, Option<AnchorLocation>>
        where
            'a: 'c,
        {
            Box::pin(async move {
                self.lookups.fetch_add(1, Ordering::Relaxed);
                Ok(self.roots.lock().unwrap().get(&root).copied())
            })
        }
    }

    /// Stores one record for each of `patients` new patients.
    async fn records_of_new_patients(store: &SqlStore, patients: usize) -> Vec<PatientId> {
        let now = Timestamp::new(1_763_900_000_000).unwrap();
        let mut ids = Vec::new();
        for _ in 0..patients {
            let patient = store.create_patient(rand::random()).await.unwrap();
            let device = store.create_device(&patient, rand::random()).await.unwrap();
            let reading = Reading::new(Metric::HeartRate, now, Value::Scalar(60.0), now).unwrap();
            store
                .append(vec![NewBatch {
                    patient: patient.clone(),
                    device,
                    idempotency_key: None,
                    parts: vec![(Section::Protected, vec![reading])],
                    received_at: now,
                    seal: None,
                }])
                .await
                .unwrap();
            ids.push(patient);
        }
        ids
    }

    #[tokio::test]
    async fn a_root_found_on_the_ledger_is_looked_up_once_for_all_patients() {
        let dir = tempfile::tempdir().unwrap();
        let key = ChameleonTrapdoor::generate(&mut rand::rng()).public_key();
        let url = format!("sqlite://{}", dir.path().join("v.db").display());
        let store = Arc::new(SqlStore::open(&url, &key).await.unwrap());
        let ledger = Arc::new(CountingLedger::default());
        let verifier = Verifier::new(store.clone(), ledger.clone(), key);

        // Three patients whose records share one anchor.
        let patients = records_of_new_patients(&store, 3).await;
        let pending = store.claim_for_anchor(100).await.unwrap().unwrap();
        let at = ledger
            .anchor(&AnchorRequest {
                root: pending.root.into(),
                record_count: pending.record_count,
                interval_start: 0,
                interval_end: 0,
            })
            .await
            .unwrap();
        let on_chain = AnchorOnChain {
            index: at.index,
            block_number: at.block_number,
            tx_hash: at.tx_hash.0,
        };
        store.confirm_anchor(pending.id, &on_chain).await.unwrap();
        for p in &patients {
            let report = verifier.patient(p).await.unwrap();
            assert!(report.ok(), "{report:?}");
            assert_eq!(report.anchored, 1);
        }
        assert_eq!(ledger.lookups.load(Ordering::Relaxed), 1);

        // A root the ledger does not have is asked about again for each patient: it may
        // be on the ledger by then.
        let late = records_of_new_patients(&store, 2).await;
        let pending = store.claim_for_anchor(100).await.unwrap().unwrap();
        store.confirm_anchor(pending.id, &on_chain).await.unwrap();
        for p in &late {
            let report = verifier.patient(p).await.unwrap();
            let steps: Vec<Step> = report.failures.iter().map(|f| f.step).collect();
            assert_eq!(steps, vec![Step::OnChainRoot]);
        }
        assert_eq!(ledger.lookups.load(Ordering::Relaxed), 3);
    }
}
