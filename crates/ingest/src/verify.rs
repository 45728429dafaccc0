//! Verification of stored records against the ledger: the check anyone allowed to see a
//! patient's records can run, step by step.
//!
//! For each record, in sequence order: the sequence has no gap, repeat or reordering;
//! `prev` is the predecessor's commitment; the payload matches its CID; the payload hash
//! opens to the payload under the supervisor's chameleon-hash key; the commitment matches
//! the header; the inclusion proof leads from the commitment to the anchor's root; and
//! the root is on the ledger, at the block and transaction the store says. A failure names
//! the record and the step.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use vitalis_chain::ledger::{AnchorLocation, Ledger};
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
}

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
        }
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
                    let found = match self.ledger.find_anchor(anchor.root.into()).await {
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
                    format!("root {} is not on the ledger", hex(&anchor.root)),
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
