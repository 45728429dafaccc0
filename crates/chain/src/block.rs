//! Blocks, receipts and their execution.
//!
//! [`execute_block`] runs a list of pooled transactions on revm against the world state,
//! at the Cancun rules, and produces a [`MinedBlock`]: the header (with real transaction
//! and receipt tries and logs bloom), one receipt per included transaction, and the
//! [`StateDiff`] that the block store persists with it. A transaction that turns out
//! invalid at execution (for example a nonce consumed meanwhile) is left out of the block
//! and reported, never half-applied: revm reverts its journal entries.

use std::convert::Infallible;

use alloy::consensus::proofs::{calculate_receipt_root, calculate_transaction_root};
use alloy::consensus::{
    EMPTY_OMMER_ROOT_HASH, Eip658Value, Header, Receipt, ReceiptEnvelope, ReceiptWithBloom,
    Transaction as _, TxEnvelope, TxReceipt as _, TxType, Typed2718 as _,
};
use alloy::eips::eip1559::BaseFeeParams;
use alloy::primitives::{Address, B64, B256, Bloom, Bytes, Log, U256, keccak256};
use revm::context::{BlockEnv, CfgEnv};
use revm::context_interface::block::BlobExcessGasAndPrice;
use revm::primitives::eip4844::BLOB_BASE_FEE_UPDATE_FRACTION_CANCUN;
use revm::primitives::hardfork::SpecId;
use revm::state::EvmState;
use revm::{Context, DatabaseRef, ExecuteEvm, MainBuilder, MainContext};

use crate::pool::PooledTx;
use crate::state::StateDiff;

/// The rules every block executes under.
pub const SPEC: SpecId = SpecId::CANCUN;

/// Root of an empty Merkle-Patricia trie (withdrawals of every block).
pub const EMPTY_ROOT: B256 = alloy::consensus::EMPTY_ROOT_HASH;

/// The revm configuration of a chain.
pub fn cfg_env(chain_id: u64) -> CfgEnv {
    CfgEnv::new_with_spec(SPEC).with_chain_id(chain_id)
}

/// The receipt of an executed transaction, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReceipt {
    /// Transaction type (0 legacy, 1 EIP-2930, 2 EIP-1559).
    pub tx_type: u8,
    /// Whether execution succeeded (EIP-658 status).
    pub success: bool,
    /// Gas this transaction used.
    pub gas_used: u64,
    /// Gas used in the block up to and including this transaction.
    pub cumulative_gas_used: u64,
    /// What the sender paid per gas.
    pub effective_gas_price: u128,
    /// The contract a creation made.
    pub contract_address: Option<Address>,
    /// Logs, in order.
    pub logs: Vec<Log>,
}

impl StoredReceipt {
    /// The consensus receipt envelope (with its bloom).
    pub fn envelope(&self) -> ReceiptEnvelope<Log> {
        let receipt = Receipt {
            status: Eip658Value::Eip658(self.success),
            cumulative_gas_used: self.cumulative_gas_used,
            logs: self.logs.clone(),
        };
        let with_bloom = ReceiptWithBloom::from(receipt);
        match TxType::try_from(self.tx_type).unwrap_or(TxType::Eip1559) {
            TxType::Legacy => ReceiptEnvelope::Legacy(with_bloom),
            TxType::Eip2930 => ReceiptEnvelope::Eip2930(with_bloom),
            TxType::Eip4844 => ReceiptEnvelope::Eip4844(with_bloom),
            TxType::Eip7702 => ReceiptEnvelope::Eip7702(with_bloom),
            TxType::Eip1559 => ReceiptEnvelope::Eip1559(with_bloom),
        }
    }
}

/// A transaction included in a block, with its receipt.
#[derive(Debug, Clone)]
pub struct IncludedTx {
    /// The transaction.
    pub tx: PooledTx,
    /// Its receipt.
    pub receipt: StoredReceipt,
}

/// A sealed block and everything the block store keeps of it.
#[derive(Debug, Clone)]
pub struct MinedBlock {
    /// The header.
    pub header: Header,
    /// `keccak256(rlp(header))`.
    pub hash: B256,
    /// Included transactions, in order.
    pub transactions: Vec<IncludedTx>,
    /// What the block changed.
    pub diff: StateDiff,
}

/// What the miner decides about the next block.
#[derive(Debug, Clone, Copy)]
pub struct NextBlock {
    /// Chain id.
    pub chain_id: u64,
    /// Fee recipient (the sealer).
    pub beneficiary: Address,
    /// Seconds since the Unix epoch.
    pub timestamp: u64,
    /// Gas limit.
    pub gas_limit: u64,
}

/// The base fee of the block after `parent` (EIP-1559).
pub fn next_base_fee(parent: &Header) -> u64 {
    parent
        .next_block_base_fee(BaseFeeParams::ethereum())
        .unwrap_or(alloy::eips::eip1559::INITIAL_BASE_FEE)
}

/// A transaction left out of a block, and why.
#[derive(Debug, Clone)]
pub struct Rejected {
    /// The transaction.
    pub tx: PooledTx,
    /// Why.
    pub reason: String,
}

/// Executes `txs` on top of `parent` and `state` (the state after `parent`), and returns
/// the block, the state changes to apply once it is stored ([`crate::state::apply`]), and
/// the transactions that were left out.
pub fn execute_block<S: DatabaseRef<Error = Infallible>>(
    state: &S,
    parent: &Header,
    parent_hash: B256,
    next: NextBlock,
    txs: Vec<PooledTx>,
) -> (MinedBlock, EvmState, Vec<Rejected>) {
    let number = parent.number + 1;
    let base_fee = next_base_fee(parent);
    let prevrandao = keccak256([parent_hash.as_slice(), &number.to_be_bytes()].concat());
    let block_env = BlockEnv {
        number: U256::from(number),
        beneficiary: next.beneficiary,
        timestamp: U256::from(next.timestamp),
        gas_limit: next.gas_limit,
        basefee: base_fee,
        difficulty: U256::ZERO,
        prevrandao: Some(prevrandao),
        blob_excess_gas_and_price: Some(BlobExcessGasAndPrice::new(
            0,
            BLOB_BASE_FEE_UPDATE_FRACTION_CANCUN,
        )),
        ..Default::default()
    };
    let mut included = Vec::with_capacity(txs.len());
    let mut rejected = Vec::new();
    let mut cumulative = 0u64;
    let changes = {
        let mut evm = Context::mainnet()
            .with_ref_db(state)
            .with_cfg(cfg_env(next.chain_id))
            .with_block(block_env)
            .build_mainnet();
        for tx in txs {
            if cumulative + tx.envelope.gas_limit() > next.gas_limit {
                rejected.push(Rejected {
                    tx,
                    reason: "block gas limit reached".into(),
                });
                continue;
            }
            match evm.transact_one(tx.tx_env()) {
                Ok(result) => {
                    let gas_used = result.tx_gas_used();
                    cumulative += gas_used;
                    let receipt = StoredReceipt {
                        tx_type: tx.envelope.ty(),
                        success: result.is_success(),
                        gas_used,
                        cumulative_gas_used: cumulative,
                        effective_gas_price: tx.envelope.effective_gas_price(Some(base_fee)),
                        contract_address: result.created_address(),
                        logs: result.into_logs(),
                    };
                    included.push(IncludedTx { tx, receipt });
                }
                Err(e) => rejected.push(Rejected {
                    tx,
                    reason: e.to_string(),
                }),
            }
        }
        evm.finalize()
    };
    let diff = StateDiff::from_evm(&changes);

    let envelopes: Vec<&TxEnvelope> = included.iter().map(|t| &t.tx.envelope).collect();
    let receipts: Vec<ReceiptEnvelope<Log>> =
        included.iter().map(|t| t.receipt.envelope()).collect();
    let mut logs_bloom = Bloom::ZERO;
    for r in &receipts {
        logs_bloom.accrue_bloom(&r.bloom());
    }
    let header = Header {
        parent_hash,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: next.beneficiary,
        state_root: keccak256([parent.state_root.as_slice(), diff.digest().as_slice()].concat()),
        transactions_root: calculate_transaction_root(&envelopes),
        receipts_root: calculate_receipt_root(&receipts),
        logs_bloom,
        difficulty: U256::ZERO,
        number,
        gas_limit: next.gas_limit,
        gas_used: cumulative,
        timestamp: next.timestamp,
        extra_data: Bytes::from_static(b"vitalis"),
        mix_hash: prevrandao,
        nonce: B64::ZERO,
        base_fee_per_gas: Some(base_fee),
        withdrawals_root: Some(EMPTY_ROOT),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(B256::ZERO),
        requests_hash: None,
        ..Default::default()
    };
    let hash = header.hash_slow();
    (
        MinedBlock {
            header,
            hash,
            transactions: included,
            diff,
        },
        changes,
        rejected,
    )
}
