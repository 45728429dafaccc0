//! Read-only execution: `eth_call` and `eth_estimateGas` against the latest state.
//!
//! A call runs in the context of the next block (the head's successor) on a read view of
//! the state and changes nothing. Nonce, balance and base-fee checks are off, as on
//! common nodes, so that a call needs no funded sender. Gas estimation searches for the
//! smallest gas limit with which the transaction succeeds, because the gas used by a
//! successful run can be less than what it needs to be given (EIP-150's 63/64 rule,
//! refunds).

use alloy::primitives::{Address, Bytes, TxKind, U256};
use alloy::rpc::types::TransactionRequest;
use revm::context::result::{ExecutionResult, Output};
use revm::context::{BlockEnv, TxEnv};
use revm::context_interface::block::BlobExcessGasAndPrice;
use revm::primitives::eip4844::BLOB_BASE_FEE_UPDATE_FRACTION_CANCUN;
use revm::{Context, ExecuteEvm, MainBuilder, MainContext};

use crate::block::{cfg_env, next_base_fee};
use crate::node::Node;

/// Why a call did not return output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The EVM reverted; `data` is the revert payload (an ABI-encoded error, if any).
    #[error("execution reverted")]
    Reverted {
        /// Revert data.
        data: Bytes,
    },
    /// The EVM halted (out of gas, invalid opcode, …).
    #[error("execution halted: {0}")]
    Halted(String),
    /// The request could not run at all (for example, intrinsic gas above the cap).
    #[error("{0}")]
    Invalid(String),
}

/// Gas given to a call without a stated limit.
pub const CALL_GAS_CAP: u64 = 50_000_000;

fn tx_env(node: &Node, req: &TransactionRequest, gas_limit: u64) -> TxEnv {
    TxEnv {
        tx_type: 2,
        caller: req.from.unwrap_or(Address::ZERO),
        gas_limit,
        gas_price: 0,
        gas_priority_fee: None,
        kind: req.to.unwrap_or(TxKind::Create),
        value: req.value.unwrap_or(U256::ZERO),
        data: req.input.input().cloned().unwrap_or_default(),
        nonce: 0,
        chain_id: Some(node.config().chain_id),
        access_list: req.access_list.clone().unwrap_or_default(),
        ..Default::default()
    }
}

fn run(node: &Node, tx: TxEnv) -> Result<ExecutionResult, CallError> {
    node.with_state(|world, head| {
        let mut cfg = cfg_env(node.config().chain_id);
        cfg.disable_nonce_check = true;
        cfg.disable_balance_check = true;
        cfg.disable_base_fee = true;
        let block = BlockEnv {
            number: U256::from(head.header.number + 1),
            beneficiary: node.config().sealer.address(),
            timestamp: U256::from(head.header.timestamp + 1),
            gas_limit: node.config().gas_limit,
            basefee: next_base_fee(&head.header),
            prevrandao: Some(head.header.mix_hash),
            blob_excess_gas_and_price: Some(BlobExcessGasAndPrice::new(
                0,
                BLOB_BASE_FEE_UPDATE_FRACTION_CANCUN,
            )),
            ..Default::default()
        };
        let mut evm = Context::mainnet()
            .with_ref_db(world)
            .with_cfg(cfg)
            .with_block(block)
            .build_mainnet();
        evm.transact(tx)
            .map(|r| r.result)
            .map_err(|e| CallError::Invalid(e.to_string()))
    })
}

fn gas_cap(node: &Node, req: &TransactionRequest) -> u64 {
    req.gas.unwrap_or(CALL_GAS_CAP).min(node.config().gas_limit)
}

/// Executes a call and returns its output.
pub fn call(node: &Node, req: &TransactionRequest) -> Result<Bytes, CallError> {
    match run(node, tx_env(node, req, gas_cap(node, req)))? {
        ExecutionResult::Success { output, .. } => Ok(match output {
            Output::Call(bytes) => bytes,
            Output::Create(bytes, _) => bytes,
        }),
        ExecutionResult::Revert { output, .. } => Err(CallError::Reverted { data: output }),
        ExecutionResult::Halt { reason, .. } => Err(CallError::Halted(format!("{reason:?}"))),
    }
}

/// The smallest gas limit with which the transaction succeeds.
pub fn estimate_gas(node: &Node, req: &TransactionRequest) -> Result<u64, CallError> {
    let cap = gas_cap(node, req);
    let first = run(node, tx_env(node, req, cap))?;
    let used = match first {
        ExecutionResult::Success { .. } => first.tx_gas_used(),
        ExecutionResult::Revert { output, .. } => {
            return Err(CallError::Reverted { data: output });
        }
        ExecutionResult::Halt { reason, .. } => {
            return Err(CallError::Halted(format!("{reason:?}")));
        }
    };
    // Binary search in (used - 1, cap]: `hi` always succeeds.
    let (mut lo, mut hi) = (used.saturating_sub(1), cap);
    // Most transactions succeed with what they used; try that first.
    if matches!(
        run(node, tx_env(node, req, used)),
        Ok(ExecutionResult::Success { .. })
    ) {
        return Ok(used);
    }
    lo = lo.max(used);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        match run(node, tx_env(node, req, mid)) {
            Ok(ExecutionResult::Success { .. }) => hi = mid,
            _ => lo = mid,
        }
    }
    Ok(hi)
}
