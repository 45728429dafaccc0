//! The embedded node: state, pool, miner and block store behind one handle.
//!
//! [`Node::open`] starts from the block store in the data directory (building and
//! storing genesis the first time). The miner ([`Node::mine_block`], driven by
//! [`Node::spawn_miner`] on an interval or at every new transaction) takes ready
//! transactions from the pool, executes them on a read view of the state, stores the
//! block, and only then applies its changes in memory and publishes the new head. So
//! anything a client can see (a receipt, a block number) is already on disk, and after a
//! crash the node continues from the last stored block. On an interval the miner is
//! pipelined: it executes the next block on top of the one being stored (see
//! [`Node::spawn_miner`]), the way a node with a background persistence task does.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use revm::database::CacheDB;
use revm::state::EvmState;
use revm::{DatabaseCommit, DatabaseRef};
use tokio::sync::{Mutex, MutexGuard, Notify, watch};

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
    /// One block is made at a time; the interval miner holds this while a block it made
    /// is being stored.
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
                        NodeError::OtherChain(
                            "no deployment of the current contracts recorded (a chain from an \
                             older version: start with a new data directory)"
                                .into(),
                        )
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
        let built = self.build(None).await;
        let stored = self.inner.store.commit_block(&built.block).await;
        let header = StoredHeader {
            header: built.block.header.clone(),
            hash: built.block.hash,
        };
        let number = header.header.number;
        self.finish(
            header,
            built.changes,
            &built.rejected,
            (built.block, stored),
        )?;
        Ok((number, built.rejected))
    }

    /// Builds the next block from the pool's ready transactions, on a blocking thread: on
    /// the published state, or on top of `parent`, a block still being stored (its header
    /// and state changes).
    async fn build(&self, parent: Option<(StoredHeader, EvmState)>) -> Built {
        let node = self.clone();
        let started = Instant::now();
        let built = tokio::task::spawn_blocking(move || node.build_block(parent))
            .await
            .expect("block building does not panic");
        tracing::debug!(
            number = built.block.header.number,
            txs = built.block.transactions.len(),
            elapsed = ?started.elapsed(),
            "block built"
        );
        built
    }

    fn build_block(&self, parent: Option<(StoredHeader, EvmState)>) -> Built {
        let chain = self.read();
        // The state the block starts from: the published state, with the changes of the
        // block being stored laid over it. A nested cache reads through to the published
        // state and applies the changes exactly as publishing them will.
        let mut start = CacheDB::new(&chain.world);
        let parent = match parent {
            Some((header, changes)) => {
                start.commit(changes);
                header
            }
            None => chain.head.clone(),
        };
        let config = &self.inner.config;
        let txs = self.pool().take_ready(config.gas_limit, |a| {
            start
                .basic_ref(a)
                .ok()
                .flatten()
                .map_or(0, |info| info.nonce)
        });
        let next = NextBlock {
            chain_id: config.chain_id,
            beneficiary: config.sealer.address(),
            timestamp: now_secs().max(parent.header.timestamp + 1),
            gas_limit: config.gas_limit,
        };
        let (block, changes, rejected) =
            execute_block(&start, &parent.header, parent.hash, next, txs);
        Built {
            block,
            changes,
            rejected,
        }
    }

    /// Starts storing a built block. The returned future does the work when polled.
    fn start_storing(&self, built: Built) -> InFlight {
        let store = self.inner.store.clone();
        let header = StoredHeader {
            header: built.block.header.clone(),
            hash: built.block.hash,
        };
        let block = built.block;
        InFlight {
            header,
            changes: built.changes,
            rejected: built.rejected,
            stored: Box::pin(async move {
                let started = Instant::now();
                let stored = store.commit_block(&block).await;
                tracing::debug!(
                    number = block.header.number,
                    txs = block.transactions.len(),
                    elapsed = ?started.elapsed(),
                    "block stored"
                );
                (block, stored)
            }),
        }
    }

    /// After a block was stored: applies its changes in memory and publishes it. If it
    /// could not be stored, nothing changes and its transactions go back to the pool.
    fn finish(
        &self,
        header: StoredHeader,
        changes: EvmState,
        rejected: &[Rejected],
        (block, stored): (MinedBlock, Result<(), BlockStoreError>),
    ) -> Result<(), NodeError> {
        if let Err(e) = stored {
            self.give_back(block);
            return Err(e.into());
        }
        let number = header.header.number;
        {
            let mut chain = self.inner.chain.write().unwrap_or_else(|e| e.into_inner());
            state::apply(&mut chain.world, changes);
            chain.head = header;
        }
        self.inner.heads.send_replace(number);
        for r in rejected {
            tracing::warn!(tx = %r.tx.hash, reason = %r.reason, "transaction left out of block");
        }
        Ok(())
    }

    /// Puts the transactions of a block that was not stored back into the pool.
    fn give_back(&self, block: MinedBlock) {
        for t in block.transactions {
            // One that no longer fits the published state is dropped, as at admission.
            let _ = self.submit(t.tx);
        }
    }

    /// Starts the block producer. It stops when the returned handle is aborted or dropped
    /// with the runtime.
    ///
    /// On an interval, block making is pipelined: while a block is being stored, the next
    /// one is built on top of its state changes (in memory, unpublished); the stored block
    /// is published as soon as its database transaction has committed, and only then does
    /// the next one start to be stored. So under load the miner's pace is the slower of
    /// executing and storing, not their sum, and nothing is visible before it is on disk.
    /// The mining lock is held while a block is in flight, so [`Node::mine_block`] waits
    /// for it.
    pub fn spawn_miner(&self) -> tokio::task::JoinHandle<()> {
        let node = self.clone();
        tokio::spawn(async move {
            match node.inner.config.block_time {
                BlockTime::Interval(every) => node.mine_on_interval(every).await,
                BlockTime::Instant => loop {
                    node.inner.arrivals.notified().await;
                    if !node.pool().is_empty() {
                        node.mine_logged().await;
                    }
                },
            }
        })
    }

    async fn mine_on_interval(&self, every: Duration) {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        let mut in_flight: Option<(MutexGuard<'_, ()>, InFlight)> = None;
        loop {
            let Some((one_at_a_time, mut block)) = in_flight.take() else {
                ticks.tick().await;
                let one_at_a_time = self.inner.mining.lock().await;
                let built = self.build(None).await;
                in_flight = Some((one_at_a_time, self.start_storing(built)));
                continue;
            };
            tokio::select! {
                stored = &mut block.stored => {
                    let InFlight { header, changes, rejected, .. } = block;
                    if let Err(e) = self.finish(header, changes, &rejected, stored) {
                        drop(one_at_a_time);
                        stored_failed(&e).await;
                    }
                }
                _ = ticks.tick() => {
                    let parent = Some((block.header.clone(), block.changes.clone()));
                    let (built, stored) = tokio::join!(self.build(parent), &mut block.stored);
                    let InFlight { header, changes, rejected, .. } = block;
                    match self.finish(header, changes, &rejected, stored) {
                        Ok(()) => in_flight = Some((one_at_a_time, self.start_storing(built))),
                        Err(e) => {
                            // The next block was built on one that is not stored.
                            self.give_back(built.block);
                            drop(one_at_a_time);
                            stored_failed(&e).await;
                        }
                    }
                }
            }
        }
    }

    async fn mine_logged(&self) {
        if let Err(e) = self.mine_block().await {
            stored_failed(&e).await;
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

async fn stored_failed(e: &NodeError) {
    tracing::error!(error = %e, "could not store a block; retrying at the next tick");
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// A block made from the pool, not yet stored.
struct Built {
    block: MinedBlock,
    changes: EvmState,
    rejected: Vec<Rejected>,
}

/// Storing a block; gives the block back with the outcome.
type Storing = Pin<Box<dyn Future<Output = (MinedBlock, Result<(), BlockStoreError>)> + Send>>;

/// A block being stored, not yet published.
struct InFlight {
    header: StoredHeader,
    changes: EvmState,
    rejected: Vec<Rejected>,
    stored: Storing,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn deployment_bytes(d: &Deployment) -> Vec<u8> {
    [
        d.registry.as_slice(),
        d.anchors.as_slice(),
        d.consent.as_slice(),
        d.access_log.as_slice(),
    ]
    .concat()
}

/// The stored deployment; a chain created before the consent contract and the access log
/// existed (two addresses) is refused with a clear error by the caller.
fn deployment_from_bytes(b: &[u8]) -> Option<Deployment> {
    (b.len() == 80).then(|| Deployment {
        registry: Address::from_slice(&b[..20]),
        anchors: Address::from_slice(&b[20..40]),
        consent: Address::from_slice(&b[40..60]),
        access_log: Address::from_slice(&b[60..]),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
    use alloy::eips::Encodable2718;
    use alloy::network::TxSignerSync;
    use alloy::primitives::{TxKind, keccak256};
    use alloy::sol_types::SolCall;

    use super::*;
    use crate::contracts::Anchors;

    fn signed(
        key: &PrivateKeySigner,
        nonce: u64,
        to: TxKind,
        input: Bytes,
        value: U256,
    ) -> Vec<u8> {
        let mut tx = TxEip1559 {
            chain_id: DEFAULT_CHAIN_ID,
            nonce,
            gas_limit: 150_000,
            max_fee_per_gas: 50_000_000_000,
            max_priority_fee_per_gas: 1,
            to,
            value,
            access_list: Default::default(),
            input,
        };
        let signature = key.sign_transaction_sync(&mut tx).unwrap();
        TxEnvelope::from(tx.into_signed(signature)).encoded_2718()
    }

    type Snapshot = BTreeMap<Address, (u64, U256, B256, BTreeMap<U256, U256>)>;

    /// Every existing account with its nonce, balance, code hash and nonzero storage.
    fn snapshot(world: &WorldState) -> Snapshot {
        world
            .cache
            .accounts
            .iter()
            .filter_map(|(address, account)| {
                let info = account.info()?;
                let storage = account
                    .storage
                    .iter()
                    .filter(|(_, value)| !value.is_zero())
                    .map(|(slot, value)| (*slot, *value))
                    .collect();
                Some((
                    *address,
                    (info.nonce, info.balance, info.code_hash, storage),
                ))
            })
            .collect()
    }

    /// With blocks due every 2 ms, the interval miner keeps building blocks on top of
    /// blocks still being stored. Each block must see the state the blocks before it left:
    /// many senders pay one recipient, so a block executed on stale state would lose
    /// earlier payments. What the node ends with in memory must be what the stored blocks
    /// give, and the stored blocks must form one chain holding every transaction once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pipelined_blocks_see_the_blocks_before_them() {
        const SENDERS: u64 = 400;
        const ANCHORS: u64 = 400;
        let dir = tempfile::tempdir().unwrap();
        let senders: Vec<PrivateKeySigner> =
            (0..SENDERS).map(|_| PrivateKeySigner::random()).collect();
        let mut config = NodeConfig::dev(BlockTime::Interval(Duration::from_millis(2)));
        config.alloc = senders
            .iter()
            .map(|k| (k.address(), genesis::default_balance()))
            .collect();
        let node = Node::open(&dir.path().join("chain.db"), config.clone())
            .await
            .unwrap();
        let miner = node.spawn_miner();
        let anchors = node.deployment().anchors;
        let sealer = config.sealer.clone();
        let recipient = Address::repeat_byte(0x77);
        for (i, sender) in (0u64..).zip(&senders) {
            let to = TxKind::Call(recipient);
            node.send_raw_transaction(&signed(sender, 0, to, Bytes::new(), U256::from(i + 1)))
                .unwrap();
            let anchor = Anchors::anchorCall {
                root: keccak256(i.to_be_bytes()),
                recordCount: 1,
                intervalStart: i,
                intervalEnd: i,
            };
            let input = Bytes::from(anchor.abi_encode());
            node.send_raw_transaction(&signed(
                &sealer,
                i,
                TxKind::Call(anchors),
                input,
                U256::ZERO,
            ))
            .unwrap();
            if i % 20 == 19 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while node.nonce(sealer.address(), false) < ANCHORS
            || senders.iter().any(|k| node.nonce(k.address(), false) < 1)
        {
            assert!(Instant::now() < deadline, "not all transactions were mined");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        miner.abort();
        let _ = miner.await;

        assert_eq!(
            node.balance(recipient),
            U256::from(SENDERS * (SENDERS + 1) / 2)
        );
        // The anchor list's length (slot 0): each anchor saw the one before.
        assert_eq!(node.storage_at(anchors, U256::ZERO), U256::from(ANCHORS));
        let stored = node.store().load_state().await.unwrap();
        assert_eq!(
            node.with_state(|world, _| snapshot(world)),
            snapshot(&stored)
        );
        let head = node.store().head().await.unwrap().unwrap();
        assert!(head.header.number > 2, "{} blocks", head.header.number);
        let (mut parent, mut txs) = (B256::ZERO, 0);
        for number in 0..=head.header.number {
            let block = node
                .store()
                .header_by_number(number)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(block.header.parent_hash, parent, "block {number}");
            parent = block.hash;
            txs += node.store().tx_hashes_in_block(number).await.unwrap().len() as u64;
        }
        assert_eq!(txs, SENDERS + ANCHORS);
    }
}
