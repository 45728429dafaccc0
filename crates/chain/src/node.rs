//! The embedded node: state, pool, miner and block store behind one handle.
//!
//! [`Node::open`] starts from the block store in the data directory (building and
//! storing genesis the first time). The miner ([`Node::mine_block`], driven by
//! [`Node::spawn_miner`] on an interval or at every new transaction) takes ready
//! transactions from the pool, executes them on a read view of the state, stores the
//! block, and only then applies its changes in memory and publishes the new head. So
//! anything a client can see (a receipt, a block number) is already on disk, and after a
//! crash the node continues from the last stored block.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use revm::state::EvmState;
use tokio::sync::{Mutex, Notify, watch};

use crate::block::{MinedBlock, NextBlock, Rejected, execute_block, next_base_fee};
use crate::blockstore::{BlockStore, BlockStoreError, StoredHeader};
use crate::genesis::{self, Deployment, GenesisSpec};
use crate::pool::{AdmissionContext, Pool, PoolError, PooledTx};
use crate::state::{self, WorldState};

/// When blocks are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockTime {
    /// One block every interval, with or without transactions.
    Interval(Duration),
    /// A block as soon as a transaction arrives (tests).
    Instant,
}

/// The embedded node's settings.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Chain id.
    pub chain_id: u64,
    /// Block production.
    pub block_time: BlockTime,
    /// Block gas limit.
    pub gas_limit: u64,
    /// The sealer's key (fee recipient and anchoring node).
    pub sealer: PrivateKeySigner,
    /// The supervisor's account.
    pub supervisor: Address,
    /// The supervisor's chameleon-hash public key.
    pub chameleon_public_key: B256,
    /// Extra accounts funded at genesis.
    pub alloc: Vec<(Address, U256)>,
}

impl NodeConfig {
    /// A throw-away configuration: fresh random sealer and supervisor keys, a fresh
    /// chameleon-hash public key, the default chain id and gas limit. For tests and
    /// examples; `vitalis serve` keeps its keys in the data directory.
    pub fn dev(block_time: BlockTime) -> NodeConfig {
        let trapdoor = vitalis_crypto::chameleon::ChameleonTrapdoor::generate(&mut rand::rng());
        NodeConfig {
            chain_id: DEFAULT_CHAIN_ID,
            block_time,
            gas_limit: DEFAULT_GAS_LIMIT,
            sealer: PrivateKeySigner::random(),
            supervisor: PrivateKeySigner::random().address(),
            chameleon_public_key: B256::from(trapdoor.public_key().to_bytes()),
            alloc: Vec::new(),
        }
    }
}

/// Default chain id of the embedded chain.
pub const DEFAULT_CHAIN_ID: u64 = 0x5654;

/// Default block gas limit: room for tens of thousands of anchoring-sized calls a block.
pub const DEFAULT_GAS_LIMIT: u64 = 2_000_000_000;

/// A node failure.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The block store failed.
    #[error(transparent)]
    Store(#[from] BlockStoreError),
    /// Genesis could not be built.
    #[error(transparent)]
    Genesis(#[from] genesis::GenesisError),
    /// The data directory holds a different chain.
    #[error("the chain database belongs to another chain: {0}")]
    OtherChain(String),
}

/// The head and the state at the head, changed together.
#[derive(Debug)]
struct Chain {
    head: StoredHeader,
    world: WorldState,
}

#[derive(Debug)]
struct Inner {
    config: NodeConfig,
    store: BlockStore,
    deployment: Deployment,
    chain: RwLock<Chain>,
    pool: std::sync::Mutex<Pool>,
    /// One block is made at a time.
    mining: Mutex<()>,
    /// Wakes the miner in instant mode.
    arrivals: Notify,
    heads: watch::Sender<u64>,
}

/// A handle to the embedded node; clones share it.
#[derive(Debug, Clone)]
pub struct Node {
    inner: Arc<Inner>,
}

/// The meta key of the stored genesis identity.
const GENESIS_KEY: &str = "genesis";

impl Node {
    /// Opens the chain stored at `path`, creating it with a new genesis if it is empty.
    pub async fn open(path: &Path, config: NodeConfig) -> Result<Node, NodeError> {
        let store = BlockStore::open(path).await?;
        let identity = format!(
            "chain_id={} sealer={} supervisor={} chameleon={}",
            config.chain_id,
            config.sealer.address(),
            config.supervisor,
            config.chameleon_public_key
        );
        let (world, head, deployment) = match store.head().await? {
            None => {
                let spec = GenesisSpec {
                    chain_id: config.chain_id,
                    timestamp: now_secs(),
                    gas_limit: config.gas_limit,
                    sealer: config.sealer.address(),
                    supervisor: config.supervisor,
                    chameleon_public_key: config.chameleon_public_key,
                    alloc: config.alloc.clone(),
                };
                let (world, block, deployment) = genesis::build(&spec)?;
                store.commit_block(&block).await?;
                store.set_meta(GENESIS_KEY, identity.as_bytes()).await?;
                store
                    .set_meta("deployment", &deployment_bytes(&deployment))
                    .await?;
                let head = StoredHeader {
                    header: block.header,
                    hash: block.hash,
                };
                (world, head, deployment)
            }
            Some(head) => {
                let stored = store.meta(GENESIS_KEY).await?.unwrap_or_default();
                if stored != identity.as_bytes() {
                    return Err(NodeError::OtherChain(format!(
                        "stored {:?}, configured {identity:?}",
                        String::from_utf8_lossy(&stored)
                    )));
                }
                let deployment = store
                    .meta("deployment")
                    .await?
                    .and_then(|b| deployment_from_bytes(&b))
                    .ok_or_else(|| {
                        NodeError::OtherChain("no contract deployment recorded".into())
                    })?;
                (store.load_state().await?, head, deployment)
            }
        };
        let (heads, _) = watch::channel(head.header.number);
        Ok(Node {
            inner: Arc::new(Inner {
                config,
                store,
                deployment,
                chain: RwLock::new(Chain { head, world }),
                pool: std::sync::Mutex::new(Pool::default()),
                mining: Mutex::new(()),
                arrivals: Notify::new(),
                heads,
            }),
        })
    }

    /// The node's settings.
    pub fn config(&self) -> &NodeConfig {
        &self.inner.config
    }

    /// Where genesis deployed the contracts.
    pub fn deployment(&self) -> Deployment {
        self.inner.deployment
    }

    /// The block store (read side of the RPC).
    pub fn store(&self) -> &BlockStore {
        &self.inner.store
    }

    /// The newest block's header.
    pub fn head(&self) -> StoredHeader {
        self.read().head.clone()
    }

    /// A receiver that changes with every new block number.
    pub fn subscribe_heads(&self) -> watch::Receiver<u64> {
        self.inner.heads.subscribe()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Chain> {
        // A panic while holding the lock cannot leave the chain half-changed: the state
        // is replaced only after a block is stored, in one assignment.
        self.inner.chain.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the latest state and head.
    pub fn with_state<T>(&self, f: impl FnOnce(&WorldState, &StoredHeader) -> T) -> T {
        let chain = self.read();
        f(&chain.world, &chain.head)
    }

    /// The next block's base fee.
    pub fn next_base_fee(&self) -> u64 {
        next_base_fee(&self.read().head.header)
    }

    /// An account's nonce, counting pooled transactions when `pending`.
    pub fn nonce(&self, address: Address, pending: bool) -> u64 {
        let state_nonce = self.with_state(|w, _| state::account(w, address).nonce);
        if pending {
            self.pool().pending_nonce(address, state_nonce)
        } else {
            state_nonce
        }
    }

    fn pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.inner.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the pool holds a transaction.
    pub fn pooled(&self, hash: &B256) -> Option<PooledTx> {
        self.pool().get(hash).cloned()
    }

    /// Decodes, checks and pools a raw signed transaction; returns its hash.
    pub fn send_raw_transaction(&self, raw: &[u8]) -> Result<B256, PoolError> {
        let tx = PooledTx::decode(raw)?;
        self.submit(tx)
    }

    /// Pools an already decoded transaction.
    pub fn submit(&self, tx: PooledTx) -> Result<B256, PoolError> {
        let ctx = self.with_state(|w, head| {
            let account = state::account(w, tx.sender);
            AdmissionContext {
                chain_id: self.inner.config.chain_id,
                block_gas_limit: self.inner.config.gas_limit,
                base_fee: next_base_fee(&head.header),
                state_nonce: account.nonce,
                balance: account.balance,
            }
        });
        let hash = self.pool().admit(tx, ctx)?;
        self.inner.arrivals.notify_one();
        Ok(hash)
    }

    /// Makes one block from the ready transactions (possibly none), stores it and
    /// publishes it. Returns the block number and the transactions left out.
    pub async fn mine_block(&self) -> Result<(u64, Vec<Rejected>), NodeError> {
        let _one_at_a_time = self.inner.mining.lock().await;
        let node = self.clone();
        let (block, changes, rejected) = tokio::task::spawn_blocking(move || node.build_block())
            .await
            .expect("block building does not panic");
        self.inner.store.commit_block(&block).await?;
        let number = block.header.number;
        {
            let mut chain = self.inner.chain.write().unwrap_or_else(|e| e.into_inner());
            state::apply(&mut chain.world, changes);
            chain.head = StoredHeader {
                header: block.header,
                hash: block.hash,
            };
        }
        self.inner.heads.send_replace(number);
        for r in &rejected {
            tracing::warn!(tx = %r.tx.hash, reason = %r.reason, "transaction left out of block");
        }
        Ok((number, rejected))
    }

    fn build_block(&self) -> (MinedBlock, EvmState, Vec<Rejected>) {
        let chain = self.read();
        let config = &self.inner.config;
        let txs = self
            .pool()
            .take_ready(config.gas_limit, |a| state::account(&chain.world, a).nonce);
        let next = NextBlock {
            chain_id: config.chain_id,
            beneficiary: config.sealer.address(),
            timestamp: now_secs().max(chain.head.header.timestamp + 1),
            gas_limit: config.gas_limit,
        };
        execute_block(&chain.world, &chain.head.header, chain.head.hash, next, txs)
    }

    /// Starts the block producer. It stops when the returned handle is aborted or dropped
    /// with the runtime.
    pub fn spawn_miner(&self) -> tokio::task::JoinHandle<()> {
        let node = self.clone();
        tokio::spawn(async move {
            match node.inner.config.block_time {
                BlockTime::Interval(every) => {
                    let mut ticks = tokio::time::interval(every);
                    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    ticks.tick().await;
                    loop {
                        ticks.tick().await;
                        node.mine_logged().await;
                    }
                }
                BlockTime::Instant => loop {
                    node.inner.arrivals.notified().await;
                    if !node.pool().is_empty() {
                        node.mine_logged().await;
                    }
                },
            }
        })
    }

    async fn mine_logged(&self) {
        if let Err(e) = self.mine_block().await {
            tracing::error!(error = %e, "could not store a block; retrying at the next tick");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until a block at or above `number` is published.
    pub async fn wait_for_block(&self, number: u64) {
        let mut heads = self.subscribe_heads();
        // The sender lives as long as the node; an error means shutdown.
        let _ = heads.wait_for(|n| *n >= number).await;
    }

    /// The balance of an account in the latest state.
    pub fn balance(&self, address: Address) -> U256 {
        self.with_state(|w, _| state::account(w, address).balance)
    }

    /// The code of an account in the latest state.
    pub fn code(&self, address: Address) -> Bytes {
        self.with_state(|w, _| state::code(w, address))
    }

    /// A storage slot in the latest state.
    pub fn storage_at(&self, address: Address, slot: U256) -> U256 {
        self.with_state(|w, _| state::storage(w, address, slot))
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn deployment_bytes(d: &Deployment) -> Vec<u8> {
    [d.registry.as_slice(), d.anchors.as_slice()].concat()
}

fn deployment_from_bytes(b: &[u8]) -> Option<Deployment> {
    (b.len() == 40).then(|| Deployment {
        registry: Address::from_slice(&b[..20]),
        anchors: Address::from_slice(&b[20..]),
    })
}
