//! The transaction pool: signed transactions waiting for a block.
//!
//! A raw transaction is decoded (EIP-2718), its signer recovered and its fields checked
//! against the chain before it is admitted ([`Pool::admit`]), so that the miner executes
//! only well-formed transactions whose sender could pay for them. Signer recovery is the
//! expensive part (an ECDSA public-key recovery); it happens here, on the caller's task,
//! not inside the miner.
//!
//! Ready transactions leave the pool in arrival order, each sender's in nonce order
//! without gaps ([`Pool::take_ready`]); a transaction whose nonce is ahead of its
//! sender's next waits until the gap is filled.

use std::collections::{BTreeMap, HashMap, VecDeque};

use alloy::consensus::transaction::SignerRecoverable;
use alloy::consensus::{Transaction as _, TxEnvelope, Typed2718 as _};
use alloy::eips::{Decodable2718, Encodable2718};
use alloy::primitives::{Address, B256, Bytes, U256};
use revm::context::TxEnv;

/// Why a transaction was refused. The messages follow the wording of common Ethereum
/// nodes, so that tools recognise them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Not a valid EIP-2718 transaction.
    #[error("invalid transaction: {0}")]
    Decode(String),
    /// The signature does not recover to an address.
    #[error("invalid sender: {0}")]
    Signature(String),
    /// Signed for another chain, or without replay protection.
    #[error("invalid chain id: expected {expected}, got {got:?}")]
    ChainId {
        /// This chain's id.
        expected: u64,
        /// The transaction's.
        got: Option<u64>,
    },
    /// Blob (EIP-4844) and set-code (EIP-7702) transactions are not accepted.
    #[error("transaction type {0} not supported")]
    UnsupportedType(u8),
    /// The pool holds this transaction already.
    #[error("already known")]
    AlreadyKnown,
    /// The sender's nonce is past this one.
    #[error("nonce too low: next nonce {next}, tx nonce {tx}")]
    NonceTooLow {
        /// The sender's next nonce.
        next: u64,
        /// The transaction's nonce.
        tx: u64,
    },
    /// More gas than a block holds.
    #[error("exceeds block gas limit")]
    GasLimit,
    /// Less gas than the transaction's intrinsic cost.
    #[error("intrinsic gas too low")]
    IntrinsicGas,
    /// The fee cap is below the current base fee.
    #[error(
        "max fee per gas less than block base fee: maxFeePerGas: {max_fee}, baseFee: {base_fee}"
    )]
    FeeCapTooLow {
        /// The transaction's fee cap.
        max_fee: u128,
        /// The chain's base fee.
        base_fee: u64,
    },
    /// The sender cannot pay `gas × fee cap + value`.
    #[error("insufficient funds for gas * price + value: balance {balance}, tx cost {cost}")]
    InsufficientFunds {
        /// The sender's balance.
        balance: U256,
        /// What the transaction may cost at most.
        cost: U256,
    },
    /// The pool is full.
    #[error("txpool is full")]
    Full,
}

/// A checked transaction, ready to execute.
#[derive(Debug, Clone)]
pub struct PooledTx {
    /// Transaction hash.
    pub hash: B256,
    /// Recovered signer.
    pub sender: Address,
    /// The decoded transaction.
    pub envelope: TxEnvelope,
    /// Its EIP-2718 encoding, as stored in blocks.
    pub raw: Bytes,
}

impl PooledTx {
    /// Decodes and recovers a raw transaction, without checking it against any state.
    pub fn decode(raw: &[u8]) -> Result<PooledTx, PoolError> {
        let mut buf = raw;
        let envelope =
            TxEnvelope::decode_2718(&mut buf).map_err(|e| PoolError::Decode(e.to_string()))?;
        if !buf.is_empty() {
            return Err(PoolError::Decode("trailing bytes".into()));
        }
        let sender = envelope
            .recover_signer()
            .map_err(|e| PoolError::Signature(e.to_string()))?;
        Ok(PooledTx {
            hash: *envelope.tx_hash(),
            sender,
            raw: Bytes::from(envelope.encoded_2718()),
            envelope,
        })
    }

    /// The nonce.
    pub fn nonce(&self) -> u64 {
        self.envelope.nonce()
    }

    /// The revm transaction environment for execution.
    pub fn tx_env(&self) -> TxEnv {
        let tx = &self.envelope;
        TxEnv {
            tx_type: tx.ty(),
            caller: self.sender,
            gas_limit: tx.gas_limit(),
            gas_price: tx.max_fee_per_gas(),
            kind: tx.kind(),
            value: tx.value(),
            data: tx.input().clone(),
            nonce: tx.nonce(),
            chain_id: tx.chain_id(),
            access_list: tx.access_list().cloned().unwrap_or_default(),
            gas_priority_fee: tx.max_priority_fee_per_gas(),
            ..Default::default()
        }
    }
}

/// What admission checks a transaction against: the latest state and block.
#[derive(Debug, Clone, Copy)]
pub struct AdmissionContext {
    /// This chain's id.
    pub chain_id: u64,
    /// The block gas limit.
    pub block_gas_limit: u64,
    /// The next block's base fee.
    pub base_fee: u64,
    /// The sender's nonce in the latest state.
    pub state_nonce: u64,
    /// The sender's balance in the latest state.
    pub balance: U256,
}

/// Most transactions the pool holds.
const MAX_POOL: usize = 1_000_000;

/// Pending transactions, by sender and nonce.
#[derive(Debug, Default)]
pub struct Pool {
    by_sender: HashMap<Address, BTreeMap<u64, (u64, PooledTx)>>,
    by_hash: HashMap<B256, (Address, u64)>,
    arrivals: u64,
}

impl Pool {
    /// Checks a decoded transaction against the chain and admits it. A transaction with
    /// the nonce of one already pooled for its sender replaces it.
    pub fn admit(&mut self, tx: PooledTx, ctx: AdmissionContext) -> Result<B256, PoolError> {
        check(&tx, &ctx)?;
        if self.by_hash.contains_key(&tx.hash) {
            return Err(PoolError::AlreadyKnown);
        }
        if self.by_hash.len() >= MAX_POOL {
            return Err(PoolError::Full);
        }
        let hash = tx.hash;
        let (sender, nonce) = (tx.sender, tx.nonce());
        self.arrivals += 1;
        let queue = self.by_sender.entry(sender).or_default();
        if let Some((_, old)) = queue.insert(nonce, (self.arrivals, tx)) {
            self.by_hash.remove(&old.hash);
        }
        self.by_hash.insert(hash, (sender, nonce));
        Ok(hash)
    }

    /// Whether the pool holds a transaction.
    pub fn contains(&self, hash: &B256) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// A pooled transaction by hash.
    pub fn get(&self, hash: &B256) -> Option<&PooledTx> {
        let (sender, nonce) = self.by_hash.get(hash)?;
        self.by_sender.get(sender)?.get(nonce).map(|(_, tx)| tx)
    }

    /// Number of pooled transactions.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The next nonce of `sender` counting pooled transactions that follow `state_nonce`
    /// without a gap (the `pending` nonce).
    pub fn pending_nonce(&self, sender: Address, state_nonce: u64) -> u64 {
        let mut next = state_nonce;
        if let Some(queue) = self.by_sender.get(&sender) {
            while queue.contains_key(&next) {
                next += 1;
            }
        }
        next
    }

    /// Removes and returns ready transactions, at most `max_gas` of gas limits in total:
    /// each sender's consecutive nonces from its state nonce, merged in arrival order.
    /// Transactions whose nonce is below their sender's state nonce are dropped.
    pub fn take_ready(
        &mut self,
        max_gas: u64,
        state_nonce: impl Fn(Address) -> u64,
    ) -> Vec<PooledTx> {
        // Each sender's run of consecutive nonces, as (arrival, nonce, gas).
        let mut runs: HashMap<Address, VecDeque<(u64, u64, u64)>> = HashMap::new();
        let mut stale = Vec::new();
        for (sender, queue) in &self.by_sender {
            let mut next = state_nonce(*sender);
            let mut run_gas = 0u64;
            for (&nonce, (arrival, tx)) in queue {
                if nonce < next {
                    stale.push(tx.hash);
                } else if nonce == next {
                    let gas = tx.envelope.gas_limit();
                    // The rest of this run cannot fit in this block: stop looking, so that
                    // a long queue costs no more than a block's worth.
                    run_gas = run_gas.saturating_add(gas);
                    if run_gas > max_gas {
                        break;
                    }
                    runs.entry(*sender)
                        .or_default()
                        .push_back((*arrival, nonce, gas));
                    next += 1;
                } else {
                    break;
                }
            }
        }
        for hash in stale {
            self.remove(&hash);
        }
        // Merge the runs by the arrival of their heads (arrival numbers are unique).
        let mut heads: BTreeMap<u64, Address> = runs
            .iter()
            .filter_map(|(sender, run)| run.front().map(|(arrival, _, _)| (*arrival, *sender)))
            .collect();
        let mut taken = Vec::new();
        let mut gas_left = max_gas;
        while let Some((_, sender)) = heads.pop_first() {
            let run = runs.get_mut(&sender).expect("every head has a run");
            let Some((_, nonce, gas)) = run.pop_front() else {
                continue;
            };
            if gas > gas_left {
                // This sender's later nonces cannot go before this one: the run waits.
                continue;
            }
            gas_left -= gas;
            if let Some(tx) = self.remove_by_sender(sender, nonce) {
                taken.push(tx);
            }
            if let Some((arrival, _, _)) = run.front() {
                heads.insert(*arrival, sender);
            }
        }
        taken
    }

    /// Removes a transaction.
    pub fn remove(&mut self, hash: &B256) -> Option<PooledTx> {
        let (sender, nonce) = *self.by_hash.get(hash)?;
        self.remove_by_sender(sender, nonce)
    }

    fn remove_by_sender(&mut self, sender: Address, nonce: u64) -> Option<PooledTx> {
        let queue = self.by_sender.get_mut(&sender)?;
        let (_, tx) = queue.remove(&nonce)?;
        if queue.is_empty() {
            self.by_sender.remove(&sender);
        }
        self.by_hash.remove(&tx.hash);
        Some(tx)
    }
}

/// The stateless and state checks of admission.
fn check(tx: &PooledTx, ctx: &AdmissionContext) -> Result<(), PoolError> {
    let env = &tx.envelope;
    match env {
        TxEnvelope::Legacy(_) | TxEnvelope::Eip2930(_) | TxEnvelope::Eip1559(_) => {}
        other => return Err(PoolError::UnsupportedType(other.ty())),
    }
    if env.chain_id() != Some(ctx.chain_id) {
        return Err(PoolError::ChainId {
            expected: ctx.chain_id,
            got: env.chain_id(),
        });
    }
    if env.nonce() < ctx.state_nonce {
        return Err(PoolError::NonceTooLow {
            next: ctx.state_nonce,
            tx: env.nonce(),
        });
    }
    if env.gas_limit() > ctx.block_gas_limit {
        return Err(PoolError::GasLimit);
    }
    if env.gas_limit() < 21_000 {
        return Err(PoolError::IntrinsicGas);
    }
    if env.max_fee_per_gas() < u128::from(ctx.base_fee) {
        return Err(PoolError::FeeCapTooLow {
            max_fee: env.max_fee_per_gas(),
            base_fee: ctx.base_fee,
        });
    }
    let cost = U256::from(env.gas_limit()) * U256::from(env.max_fee_per_gas()) + env.value();
    if ctx.balance < cost {
        return Err(PoolError::InsufficientFunds {
            balance: ctx.balance,
            cost,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use alloy::consensus::{SignableTransaction, TxEip1559};
    use alloy::network::TxSignerSync;
    use alloy::primitives::TxKind;
    use alloy::signers::local::PrivateKeySigner;

    use super::*;

    fn pooled(key: &PrivateKeySigner, nonce: u64, gas_limit: u64) -> PooledTx {
        let mut tx = TxEip1559 {
            chain_id: 1,
            nonce,
            gas_limit,
            max_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(Address::repeat_byte(1)),
            ..Default::default()
        };
        let signature = key.sign_transaction_sync(&mut tx).unwrap();
        PooledTx::decode(&TxEnvelope::from(tx.into_signed(signature)).encoded_2718()).unwrap()
    }

    /// A long queue gives a block's worth of gas at a time, in nonce order, and keeps the
    /// rest for the next blocks.
    #[test]
    fn take_ready_gives_a_blocks_worth_in_nonce_order() {
        let key = PrivateKeySigner::random();
        let mut pool = Pool::default();
        let ctx = |state_nonce| AdmissionContext {
            chain_id: 1,
            block_gas_limit: 1_000_000,
            base_fee: 1,
            state_nonce,
            balance: U256::MAX,
        };
        for nonce in (0..10).rev() {
            pool.admit(pooled(&key, nonce, 100_000), ctx(0)).unwrap();
        }
        let nonces = |txs: Vec<PooledTx>| txs.iter().map(PooledTx::nonce).collect::<Vec<_>>();
        assert_eq!(nonces(pool.take_ready(350_000, |_| 0)), [0, 1, 2]);
        assert_eq!(pool.len(), 7);
        assert_eq!(nonces(pool.take_ready(350_000, |_| 3)), [3, 4, 5]);
        assert_eq!(nonces(pool.take_ready(10_000_000, |_| 6)), [6, 7, 8, 9]);
        assert!(pool.is_empty());
    }
}
