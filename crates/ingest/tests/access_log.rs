//! The access-log committer against a real store (SQLite) and a real chain through
//! JSON-RPC — every test runs on the embedded chain and on anvil from npm: logged accesses
//! are committed in batches numbered without gaps, each entry's inclusion proof reaches the
//! root on the chain, an interval without accesses sends nothing, and a batch interrupted
//! between claim and confirmation is committed exactly once after a restart.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{B256, U256};
use alloy::providers::ProviderBuilder;
use alloy::signers::local::PrivateKeySigner;
use vitalis_access::Role;
use vitalis_chain::contracts::AccessLog;
use vitalis_chain::foundry::{self, Anvil};
use vitalis_chain::genesis::Deployment;
use vitalis_chain::ledger::{self, RpcLedger};
use vitalis_chain::node::{BlockTime, Node, NodeConfig};
use vitalis_chain::permissions::PermissionLedger;
use vitalis_chain::rpc::{self, RpcServer};
use vitalis_crypto::chameleon::{ChameleonPublicKey, ChameleonTrapdoor};
use vitalis_crypto::merkle::InclusionProof;
use vitalis_ingest::access_log::{AccessLogCommitter, AccessLogConfig};
use vitalis_model::PatientId;
use vitalis_store::directory::{AccessEntry, Directory, NewAccessEntry};
use vitalis_store::{SqlStore, Store};

/// The chain a test runs against: the embedded node, or anvil from npm.
enum Chain {
    Embedded {
        _node: Node,
        _rpc: RpcServer,
        _miner: tokio::task::JoinHandle<()>,
    },
    Anvil(#[allow(dead_code)] Anvil),
}

struct World {
    _dir: tempfile::TempDir,
    store: Arc<SqlStore>,
    _chain: Chain,
    rpc_url: String,
    deployment: Deployment,
    /// The anchoring node's key (sends access-log batches).
    key: PrivateKeySigner,
}

async fn store_in(dir: &tempfile::TempDir, key: &ChameleonPublicKey) -> Arc<SqlStore> {
    let url = format!("sqlite://{}", dir.path().join("v.db").display());
    Arc::new(SqlStore::open(&url, key).await.unwrap())
}

/// A store and the embedded chain.
async fn embedded() -> World {
    let dir = tempfile::tempdir().unwrap();
    let config = NodeConfig::dev(BlockTime::Instant);
    let payload_key = ChameleonPublicKey::from_bytes(config.chameleon_public_key.0).unwrap();
    let store = store_in(&dir, &payload_key).await;
    let node = Node::open(&dir.path().join("chain.db"), config.clone())
        .await
        .unwrap();
    let miner = node.spawn_miner();
    let rpc = rpc::serve(node.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    World {
        rpc_url: rpc.url(),
        deployment: node.deployment(),
        key: config.sealer.clone(),
        _dir: dir,
        store,
        _chain: Chain::Embedded {
            _node: node,
            _rpc: rpc,
            _miner: miner,
        },
    }
}

/// A store and anvil (installed by `npm ci`), with the contracts deployed by
/// `ledger::deploy`; `None` after saying so when anvil is not installed (a failure when
/// `VITALIS_REQUIRE_SERVICES=1`).
async fn anvil() -> Option<World> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap();
    let Some(bin) = foundry::tool_path(root, "anvil") else {
        let message = "anvil is not installed (run `npm ci` in the workspace root)";
        if std::env::var("VITALIS_REQUIRE_SERVICES").as_deref() == Ok("1") {
            panic!("{message}");
        }
        eprintln!("SKIPPED: {message}");
        return None;
    };
    let anvil = Anvil::spawn(&bin, Duration::from_millis(200), &[]).unwrap();
    let key: PrivateKeySigner = anvil.dev_keys()[0].parse().unwrap();
    let trapdoor = ChameleonTrapdoor::generate(&mut rand::rng());
    let payload_key = trapdoor.public_key();
    let deployment = ledger::deploy(anvil.url(), key.clone(), payload_key.to_bytes().into())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir, &payload_key).await;
    Some(World {
        rpc_url: anvil.url().to_owned(),
        deployment,
        key,
        _dir: dir,
        store,
        _chain: Chain::Anvil(anvil),
    })
}

/// Runs each test against the embedded chain and against anvil.
macro_rules! on_both_chains {
    ($($test:ident),* $(,)?) => {
        mod embedded_chain {
            $(#[tokio::test] async fn $test() { super::$test(super::embedded().await).await; })*
        }
        mod anvil_chain {
            $(#[tokio::test] async fn $test() {
                if let Some(world) = super::anvil().await { super::$test(world).await; }
            })*
        }
    };
}

on_both_chains!(
    accesses_are_committed_in_batches_without_gaps_and_their_proofs_reach_the_root,
    a_batch_claimed_before_a_crash_is_committed_exactly_once,
    a_batch_sent_before_a_crash_is_confirmed_without_a_second_transaction,
    a_backlog_is_committed_over_several_batches,
    the_spawned_committer_commits_every_interval,
);

impl World {
    async fn permissions(&self) -> Arc<PermissionLedger> {
        // Only the node's key sends access-log batches; it stands in for the supervisor too.
        let node =
            RpcLedger::new(&self.rpc_url, self.key.clone(), self.deployment.anchors).unwrap();
        Arc::new(
            PermissionLedger::connect(node.clone(), node, self.deployment)
                .await
                .unwrap(),
        )
    }

    async fn committer(&self, max_entries: u32) -> AccessLogCommitter {
        AccessLogCommitter::new(
            self.store.clone(),
            self.permissions().await,
            AccessLogConfig {
                max_entries,
                ..AccessLogConfig::default()
            },
        )
    }

    async fn batch_count(&self) -> U256 {
        let provider = ProviderBuilder::new().connect_http(self.rpc_url.parse().unwrap());
        AccessLog::new(self.deployment.access_log, provider)
            .batchCount()
            .call()
            .await
            .unwrap()
    }

    /// Logs `n` distinct reads of a new patient's data; returns the patient.
    async fn log(&self, n: i64) -> PatientId {
        let patient = self.store.create_patient(rand::random()).await.unwrap();
        let entries: Vec<NewAccessEntry> = (0..n)
            .map(|i| NewAccessEntry {
                at: 1_763_900_000_000 + i,
                account: format!("account-{i}"),
                role: Role::Hospital,
                institution: Some("institution-1".to_owned()),
                patient: patient.clone(),
                action: "read_protected".to_owned(),
                detail: format!("heart_rate, {i} readings"),
                purpose: "treatment".to_owned(),
            })
            .collect();
        let ids = self.store.log_access(&entries).await.unwrap();
        assert_eq!(ids.len(), entries.len());
        patient
    }
}

async fn accesses_are_committed_in_batches_without_gaps_and_their_proofs_reach_the_root(w: World) {
    let committer = w.committer(10_000).await;
    assert!(
        committer.tick().await.unwrap().is_empty(),
        "nothing to commit"
    );
    assert_eq!(w.batch_count().await, U256::ZERO);

    let patient = w.log(5).await;
    let confirmed = committer.tick().await.unwrap();
    assert_eq!(confirmed.len(), 1);
    assert_eq!(w.batch_count().await, U256::from(1));
    assert!(w.store.pending_access_batches().await.unwrap().is_empty());

    // An interval without new accesses sends nothing.
    assert!(committer.tick().await.unwrap().is_empty());
    assert_eq!(w.batch_count().await, U256::from(1));

    let entries = w.store.access_log(Some(&patient), None, 100).await.unwrap();
    assert_eq!(entries.len(), 5);
    let permissions = w.permissions().await;
    // The root every entry's proof is checked against is the one the chain holds.
    let root = entries[0].batch.as_ref().expect("batched").root;
    let on_chain = permissions
        .find_access_batch(B256::from(root))
        .await
        .unwrap()
        .expect("the root is on the chain");
    assert_eq!((on_chain.first_entry, on_chain.entry_count), (0, 5));
    assert_eq!(on_chain.index, confirmed[0].index);
    assert_eq!(on_chain.location.block_number, confirmed[0].block_number);
    assert_eq!(on_chain.location.tx_hash.0, confirmed[0].tx_hash);
    for entry in &entries {
        let batch = entry.batch.as_ref().expect("batched");
        assert_eq!(batch.root, root, "one batch");
        assert_eq!(batch.on_chain, Some(confirmed[0]));
        // The proof reaches the root on the chain from the entry's own leaf.
        let proof = InclusionProof::from_bytes(&batch.proof).unwrap();
        assert_eq!(proof.tree_size(), 5);
        assert_eq!(entry.entry.hash(), entry.entry_hash);
        let leaf = AccessEntry::leaf(entry.id, &entry.entry_hash);
        proof.verify(&leaf, &root).unwrap();
        // A changed entry does not, nor the same entry under another id.
        let mut changed = entry.entry.clone();
        changed.purpose = "marketing".to_owned();
        assert!(
            proof
                .verify(&AccessEntry::leaf(entry.id, &changed.hash()), &root)
                .is_err()
        );
        assert!(
            proof
                .verify(&AccessEntry::leaf(entry.id + 100, &entry.entry_hash), &root)
                .is_err()
        );
    }

    // Later accesses go into a second batch that starts where the first ended.
    w.log(3).await;
    let second = committer.tick().await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(w.batch_count().await, U256::from(2));
    let newest = w.store.access_log(None, None, 1).await.unwrap();
    let root2 = newest[0].batch.as_ref().expect("batched").root;
    let found = permissions
        .find_access_batch(B256::from(root2))
        .await
        .unwrap()
        .expect("the second root is on the chain");
    assert_eq!((found.first_entry, found.entry_count), (5, 3));
    assert_eq!(found.index, on_chain.index + 1);
}

async fn a_batch_claimed_before_a_crash_is_committed_exactly_once(w: World) {
    w.log(4).await;
    // The process claimed the entries, then stopped before sending the root.
    let pending = w.store.claim_access_batch(10_000).await.unwrap().unwrap();
    assert_eq!((pending.first_entry, pending.entry_count), (0, 4));
    assert_eq!(w.batch_count().await, U256::ZERO);

    // After the restart: the pending batch is sent, nothing new is claimed.
    let committer = w.committer(10_000).await;
    let confirmed = committer.tick().await.unwrap();
    assert_eq!(confirmed.len(), 1);
    assert_eq!(w.batch_count().await, U256::from(1));
    assert!(w.store.pending_access_batches().await.unwrap().is_empty());
    let found = w
        .permissions()
        .await
        .find_access_batch(B256::from(pending.root))
        .await
        .unwrap()
        .expect("on the chain");
    assert_eq!((found.first_entry, found.entry_count), (0, 4));
    assert_eq!(found.location.tx_hash.0, confirmed[0].tx_hash);

    // Further ticks send nothing more.
    assert!(committer.tick().await.unwrap().is_empty());
    assert_eq!(w.batch_count().await, U256::from(1));
}

async fn a_batch_sent_before_a_crash_is_confirmed_without_a_second_transaction(w: World) {
    w.log(2).await;
    // The process claimed the entries and sent the root, then stopped before confirming.
    let pending = w.store.claim_access_batch(10_000).await.unwrap().unwrap();
    let sent = w
        .permissions()
        .await
        .commit_access(
            pending.root.into(),
            pending.first_entry,
            pending.entry_count,
        )
        .await
        .unwrap();
    assert_eq!(
        w.store.pending_access_batches().await.unwrap(),
        vec![pending.clone()]
    );

    // After the restart: the batch is found on the chain and confirmed.
    let confirmed = w.committer(10_000).await.tick().await.unwrap();
    assert_eq!(confirmed.len(), 1);
    assert_eq!(confirmed[0].tx_hash, sent.location.tx_hash.0);
    assert_eq!(confirmed[0].index, sent.index);
    assert_eq!(w.batch_count().await, U256::from(1));
    assert!(w.store.pending_access_batches().await.unwrap().is_empty());
}

async fn a_backlog_is_committed_over_several_batches(w: World) {
    w.log(7).await;
    let committer = w.committer(3).await;
    // One batch a tick, each starting where the previous one ended.
    for _ in 0..3 {
        assert_eq!(committer.tick().await.unwrap().len(), 1);
    }
    assert!(committer.tick().await.unwrap().is_empty());
    assert_eq!(w.batch_count().await, U256::from(3));
    let permissions = w.permissions().await;
    let entries = w.store.access_log(None, None, 100).await.unwrap();
    let mut roots: Vec<[u8; 32]> = entries
        .iter()
        .map(|e| e.batch.as_ref().expect("batched").root)
        .collect();
    roots.dedup();
    let mut bounds = Vec::new();
    for root in roots {
        let found = permissions
            .find_access_batch(B256::from(root))
            .await
            .unwrap()
            .expect("on the chain");
        bounds.push((found.first_entry, found.entry_count));
    }
    bounds.sort();
    assert_eq!(bounds, vec![(0, 3), (3, 3), (6, 1)]);
}

async fn the_spawned_committer_commits_every_interval(w: World) {
    let task = AccessLogCommitter::new(
        w.store.clone(),
        w.permissions().await,
        AccessLogConfig {
            interval: Duration::from_millis(50),
            ..AccessLogConfig::default()
        },
    )
    .spawn();
    w.log(2).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let entries = w.store.access_log(None, None, 10).await.unwrap();
        if entries
            .iter()
            .all(|e| e.batch.as_ref().is_some_and(|b| b.on_chain.is_some()))
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not committed in time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    task.abort();
    assert_eq!(w.batch_count().await, U256::from(1));
}
