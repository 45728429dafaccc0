//! The anchoring service against a real store (SQLite) and the real embedded chain through
//! its JSON-RPC: records are anchored once, their proofs verify against the root on the
//! chain, empty intervals send nothing, and an anchor interrupted between claim and
//! confirmation is finished after a restart without a second transaction.

use std::sync::Arc;

use alloy::primitives::{B256, U256};
use alloy::providers::ProviderBuilder;
use vitalis_chain::contracts::Anchors;
use vitalis_chain::ledger::{AnchorRequest, Ledger, RpcLedger};
use vitalis_chain::node::{BlockTime, Node, NodeConfig};
use vitalis_chain::rpc::{self, RpcServer};
use vitalis_crypto::chameleon::ChameleonPublicKey;
use vitalis_crypto::merkle::InclusionProof;
use vitalis_ingest::anchoring::{Anchorer, AnchoringConfig};
use vitalis_ingest::verify::{Step, Verifier};
use vitalis_model::{DeviceId, Metric, PatientId, Reading, Section, Timestamp, Value};
use vitalis_store::{NewBatch, SqlStore, Store};

struct World {
    dir: tempfile::TempDir,
    store: Arc<SqlStore>,
    node: Node,
    rpc: RpcServer,
    config: NodeConfig,
    _miner: tokio::task::JoinHandle<()>,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let config = NodeConfig::dev(BlockTime::Instant);
    let key = ChameleonPublicKey::from_bytes(config.chameleon_public_key.0).unwrap();
    let url = format!("sqlite://{}", dir.path().join("v.db").display());
    let store = Arc::new(SqlStore::open(&url, &key).await.unwrap());
    let node = Node::open(&dir.path().join("chain.db"), config.clone())
        .await
        .unwrap();
    let miner = node.spawn_miner();
    let rpc = rpc::serve(node.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    World {
        dir,
        store,
        node,
        rpc,
        config,
        _miner: miner,
    }
}

impl World {
    fn ledger(&self) -> Arc<RpcLedger> {
        Arc::new(
            RpcLedger::new(
                &self.rpc.url(),
                self.config.sealer.clone(),
                self.node.deployment().anchors,
            )
            .unwrap(),
        )
    }

    fn anchorer(&self) -> Anchorer {
        Anchorer::new(
            self.store.clone(),
            self.ledger(),
            AnchoringConfig::default(),
        )
    }

    async fn anchor_count(&self) -> U256 {
        let provider = ProviderBuilder::new().connect_http(self.rpc.url().parse().unwrap());
        Anchors::new(self.node.deployment().anchors, provider)
            .anchorCount()
            .call()
            .await
            .unwrap()
    }

    /// Stores `n` single-reading uploads of a new patient; returns the patient.
    async fn upload(&self, n: i64) -> PatientId {
        let patient = self.store.create_patient(rand::random()).await.unwrap();
        let device: DeviceId = self
            .store
            .create_device(&patient, rand::random())
            .await
            .unwrap();
        let now = Timestamp::new(1_763_900_000_000).unwrap();
        for i in 0..n {
            let t = Timestamp::new(1_763_899_000_000 + i * 1000).unwrap();
            let reading =
                Reading::new(Metric::HeartRate, t, Value::Scalar(60.0 + i as f64), now).unwrap();
            self.store
                .append(vec![NewBatch {
                    patient: patient.clone(),
                    device: device.clone(),
                    idempotency_key: None,
                    parts: vec![(Section::Protected, vec![reading])],
                    received_at: now,
                }])
                .await
                .unwrap();
        }
        patient
    }
}

#[tokio::test]
async fn records_are_anchored_once_and_their_proofs_reach_the_on_chain_root() {
    let w = world().await;
    let anchorer = w.anchorer();
    assert!(
        anchorer.tick().await.unwrap().is_empty(),
        "nothing to anchor"
    );
    assert_eq!(w.anchor_count().await, U256::ZERO);

    let patient = w.upload(5).await;
    let confirmed = anchorer.tick().await.unwrap();
    assert_eq!(confirmed.len(), 1);
    assert_eq!(w.anchor_count().await, U256::from(1));

    // An interval without new records sends nothing.
    assert!(anchorer.tick().await.unwrap().is_empty());
    assert_eq!(w.anchor_count().await, U256::from(1));

    let records = w.store.records(&patient, 0, 100).await.unwrap();
    assert_eq!(records.len(), 5);
    let ledger = w.ledger();
    for record in &records {
        let anchor = record.anchor.as_ref().expect("claimed");
        let on_chain = anchor.on_chain.expect("confirmed");
        assert_eq!(on_chain, confirmed[0]);
        let proof = InclusionProof::from_bytes(&anchor.proof).unwrap();
        proof.verify(&record.commitment.0, &anchor.root).unwrap();
        let found = ledger.find_anchor(B256::from(anchor.root)).await.unwrap();
        assert_eq!(found.map(|f| f.block_number), Some(on_chain.block_number));
        assert_eq!(found.map(|f| f.tx_hash.0), Some(on_chain.tx_hash));
    }

    // More records later go into a second anchor.
    w.upload(2).await;
    assert_eq!(anchorer.tick().await.unwrap().len(), 1);
    assert_eq!(w.anchor_count().await, U256::from(2));
}

#[tokio::test]
async fn an_anchor_sent_before_a_crash_is_confirmed_without_a_second_transaction() {
    let w = world().await;
    w.upload(3).await;
    // The process claimed the records and sent the root, then stopped before confirming.
    let pending = w.store.claim_for_anchor(1000).await.unwrap().unwrap();
    let sent = w
        .ledger()
        .anchor(&AnchorRequest {
            root: pending.root.into(),
            record_count: pending.record_count,
            interval_start: pending.interval_start.millis() as u64,
            interval_end: pending.interval_end.millis() as u64,
        })
        .await
        .unwrap();
    assert_eq!(
        w.store.pending_anchors().await.unwrap(),
        vec![pending.clone()]
    );

    // After the restart: the pending anchor is found on the chain and confirmed.
    let confirmed = w.anchorer().tick().await.unwrap();
    assert_eq!(confirmed.len(), 1);
    assert_eq!(confirmed[0].tx_hash, sent.tx_hash.0);
    assert_eq!(w.anchor_count().await, U256::from(1));
    assert!(w.store.pending_anchors().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_claimed_anchor_never_sent_is_sent_after_a_restart() {
    let w = world().await;
    w.upload(4).await;
    let pending = w.store.claim_for_anchor(1000).await.unwrap().unwrap();
    assert_eq!(pending.record_count, 4);
    assert_eq!(w.anchor_count().await, U256::ZERO);
    let confirmed = w.anchorer().tick().await.unwrap();
    assert_eq!(confirmed.len(), 1);
    assert_eq!(w.anchor_count().await, U256::from(1));
}

impl World {
    fn verifier(&self) -> Verifier {
        let key = ChameleonPublicKey::from_bytes(self.config.chameleon_public_key.0).unwrap();
        Verifier::new(self.store.clone(), self.ledger(), key)
    }

    /// Runs one SQL statement on the store's database, as an attacker with file access would.
    async fn tamper(&self, sql: &str) {
        use sqlx::Connection;
        let url = format!("sqlite://{}", self.dir.path().join("v.db").display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let done = sqlx::query(sql).execute(&mut conn).await.unwrap();
        assert!(done.rows_affected() > 0, "{sql} changed nothing");
    }
}

/// A patient with five records, all anchored.
async fn anchored_history() -> (World, PatientId) {
    let w = world().await;
    let patient = w.upload(5).await;
    w.anchorer().tick().await.unwrap();
    let report = w.verifier().patient(&patient).await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!((report.records, report.anchored, report.pending), (5, 5, 0));
    (w, patient)
}

async fn failed_steps(w: &World, patient: &PatientId) -> Vec<(u64, Step)> {
    let report = w.verifier().patient(patient).await.unwrap();
    report.failures.iter().map(|f| (f.seq, f.step)).collect()
}

#[tokio::test]
async fn verify_names_a_changed_payload_byte() {
    let (w, p) = anchored_history().await;
    w.tamper(
        "UPDATE blobs SET bytes = CAST(REPLACE(CAST(bytes AS TEXT), '61', '62') AS BLOB) \
         WHERE cid = (SELECT cid FROM records WHERE seq = 2)",
    )
    .await;
    assert_eq!(failed_steps(&w, &p).await, vec![(2, Step::PayloadCid)]);
}

#[tokio::test]
async fn verify_names_a_changed_proof() {
    let (w, p) = anchored_history().await;
    w.tamper(
        "UPDATE records SET anchor_proof = CAST(REPLACE(hex(anchor_proof), 'A', 'B') AS BLOB) WHERE seq = 3",
    )
    .await;
    assert_eq!(failed_steps(&w, &p).await, vec![(3, Step::Proof)]);
}

#[tokio::test]
async fn verify_names_a_changed_stored_root() {
    let (w, p) = anchored_history().await;
    w.tamper("UPDATE anchors SET root = zeroblob(32)").await;
    let steps = failed_steps(&w, &p).await;
    assert_eq!(steps.len(), 5, "{steps:?}");
    assert!(steps.iter().all(|(_, s)| *s == Step::Proof), "{steps:?}");
}

#[tokio::test]
async fn verify_names_a_changed_prev() {
    let (w, p) = anchored_history().await;
    w.tamper("UPDATE records SET prev = zeroblob(32) WHERE seq = 4")
        .await;
    assert_eq!(failed_steps(&w, &p).await, vec![(4, Step::Link)]);
}

#[tokio::test]
async fn verify_names_a_deleted_record() {
    let (w, p) = anchored_history().await;
    w.tamper("DELETE FROM readings WHERE record_id = (SELECT id FROM records WHERE seq = 3)")
        .await;
    w.tamper("DELETE FROM records WHERE seq = 3").await;
    let steps = failed_steps(&w, &p).await;
    assert!(steps.contains(&(3, Step::Sequence)), "{steps:?}");
}

#[tokio::test]
async fn verify_names_a_root_missing_from_the_ledger() {
    let (w, p) = anchored_history().await;
    // A root and proofs rebuilt by someone with database access: every proof checks
    // against the forged root, but the ledger never saw it.
    let records = w.store.records(&p, 0, 10).await.unwrap();
    let leaves: Vec<[u8; 32]> = records.iter().map(|r| r.commitment.0).collect();
    let mut forged = leaves.clone();
    forged.push([9; 32]);
    let tree = vitalis_crypto::merkle::MerkleTree::from_leaves(&forged);
    w.tamper(&format!(
        "UPDATE anchors SET root = x'{}'",
        alloy::hex::encode(tree.root())
    ))
    .await;
    for i in 0..leaves.len() {
        w.tamper(&format!(
            "UPDATE records SET anchor_proof = x'{}' WHERE seq = {}",
            alloy::hex::encode(tree.proof(i).unwrap().to_bytes()),
            i + 1
        ))
        .await;
    }
    let steps = failed_steps(&w, &p).await;
    assert_eq!(steps.len(), 5, "{steps:?}");
    assert!(
        steps.iter().all(|(_, s)| *s == Step::OnChainRoot),
        "{steps:?}"
    );
}
