//! The JSON-RPC methods of the embedded node.
//!
//! State is kept for the latest block only: methods that read state (`eth_call`,
//! `eth_getBalance`, …) accept `latest`, `pending`, `safe`, `finalized` or the head's
//! number or hash, and answer an older block with a clear error instead of wrong data.

use std::collections::HashMap;

use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{Address, B256, Bytes, U64, U256};
use alloy::rpc::types::{
    BlockTransactions, FeeHistory, Filter, FilterBlockOption, TransactionRequest,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{RpcError, convert};
use crate::blockstore::{BlockStoreError, StoredHeader};
use crate::call::{self, CallError};
use crate::node::Node;

/// Most logs one `eth_getLogs` returns.
const MAX_LOGS: usize = 10_000;
/// Most blocks one `eth_feeHistory` covers.
const MAX_FEE_HISTORY: u64 = 1_024;
/// The priority fee the node suggests (1 gwei).
const SUGGESTED_TIP: u128 = 1_000_000_000;

type Result<T> = std::result::Result<T, RpcError>;

impl From<BlockStoreError> for RpcError {
    fn from(e: BlockStoreError) -> RpcError {
        tracing::error!(error = %e, "JSON-RPC: block store");
        RpcError::internal("the chain database could not be read")
    }
}

impl From<CallError> for RpcError {
    fn from(e: CallError) -> RpcError {
        match e {
            CallError::Reverted { data } => RpcError {
                code: 3,
                message: "execution reverted".into(),
                data: Some(json!(data)),
            },
            other => RpcError::server(other.to_string()),
        }
    }
}

fn param<T: DeserializeOwned>(params: &[Value], i: usize, name: &str) -> Result<T> {
    let value = params
        .get(i)
        .ok_or_else(|| RpcError::invalid_params(format!("missing parameter {i} ({name})")))?;
    serde_json::from_value(value.clone())
        .map_err(|e| RpcError::invalid_params(format!("parameter {i} ({name}): {e}")))
}

fn opt_param<T: DeserializeOwned>(params: &[Value], i: usize, name: &str) -> Result<Option<T>> {
    match params.get(i) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => param(params, i, name).map(Some),
    }
}

fn to_json<T: serde::Serialize>(value: T) -> Result<Value> {
    serde_json::to_value(value).map_err(|e| RpcError::internal(e.to_string()))
}

/// Runs one method.
pub(super) async fn dispatch(node: &Node, method: &str, params: Vec<Value>) -> Result<Value> {
    let p = params.as_slice();
    match method {
        "web3_clientVersion" => Ok(json!(format!("vitalis/{}", env!("CARGO_PKG_VERSION")))),
        "net_version" => Ok(json!(node.config().chain_id.to_string())),
        "net_listening" => Ok(json!(true)),
        "eth_chainId" => to_json(U64::from(node.config().chain_id)),
        "eth_syncing" => Ok(json!(false)),
        "eth_accounts" => Ok(json!([])),
        "eth_blockNumber" => to_json(U64::from(node.head().header.number)),
        "eth_gasPrice" => to_json(U256::from(u128::from(node.next_base_fee()) + SUGGESTED_TIP)),
        "eth_maxPriorityFeePerGas" => to_json(U256::from(SUGGESTED_TIP)),
        "eth_getBlockByNumber" => {
            let tag: BlockNumberOrTag = param(p, 0, "block")?;
            let full: bool = opt_param(p, 1, "full")?.unwrap_or(false);
            match header_by_tag(node, tag).await? {
                Some(h) => block_json(node, &h, full).await,
                None => Ok(Value::Null),
            }
        }
        "eth_getBlockByHash" => {
            let hash: B256 = param(p, 0, "hash")?;
            let full: bool = opt_param(p, 1, "full")?.unwrap_or(false);
            match node.store().header_by_hash(hash).await? {
                Some(h) => block_json(node, &h, full).await,
                None => Ok(Value::Null),
            }
        }
        "eth_getTransactionByHash" => {
            let hash: B256 = param(p, 0, "hash")?;
            if let Some(tx) = node.store().tx_by_hash(hash).await? {
                let block = header(node, tx.block_number).await?;
                return to_json(convert::transaction(&tx, &block));
            }
            match node.pooled(&hash) {
                Some(tx) => to_json(convert::pending_transaction(tx.envelope, tx.sender)),
                None => Ok(Value::Null),
            }
        }
        "eth_getTransactionReceipt" => {
            let hash: B256 = param(p, 0, "hash")?;
            match node.store().tx_by_hash(hash).await? {
                Some(tx) => {
                    let block = header(node, tx.block_number).await?;
                    to_json(convert::receipt(&tx, &block))
                }
                None => Ok(Value::Null),
            }
        }
        "eth_getLogs" => {
            let filter: Filter = param(p, 0, "filter")?;
            get_logs(node, &filter).await
        }
        "eth_call" => {
            let req: TransactionRequest = param(p, 0, "transaction")?;
            latest_state(node, opt_param(p, 1, "block")?)?;
            to_json(call::call(node, &req)?)
        }
        "eth_estimateGas" => {
            let req: TransactionRequest = param(p, 0, "transaction")?;
            latest_state(node, opt_param(p, 1, "block")?)?;
            to_json(U64::from(call::estimate_gas(node, &req)?))
        }
        "eth_getBalance" => {
            let address: Address = param(p, 0, "address")?;
            latest_state(node, opt_param(p, 1, "block")?)?;
            to_json(node.balance(address))
        }
        "eth_getTransactionCount" => {
            let address: Address = param(p, 0, "address")?;
            let pending = latest_state(node, opt_param(p, 1, "block")?)?;
            to_json(U64::from(node.nonce(address, pending)))
        }
        "eth_getCode" => {
            let address: Address = param(p, 0, "address")?;
            latest_state(node, opt_param(p, 1, "block")?)?;
            to_json(node.code(address))
        }
        "eth_getStorageAt" => {
            let address: Address = param(p, 0, "address")?;
            let slot: U256 = param(p, 1, "slot")?;
            latest_state(node, opt_param(p, 2, "block")?)?;
            to_json(B256::from(node.storage_at(address, slot)))
        }
        "eth_sendRawTransaction" => {
            let raw: Bytes = param(p, 0, "transaction")?;
            node.send_raw_transaction(&raw)
                .map_err(|e| RpcError::server(e.to_string()))
                .and_then(to_json)
        }
        "eth_feeHistory" => fee_history(node, p).await,
        _ => Err(RpcError {
            code: -32601,
            message: format!("the method {method} does not exist/is not available"),
            data: None,
        }),
    }
}

/// Checks that a state-reading method asks for the latest state; returns whether it asked
/// for `pending`.
fn latest_state(node: &Node, block: Option<BlockId>) -> Result<bool> {
    let head = node.head();
    let ok = match block {
        None => return Ok(false),
        Some(BlockId::Number(BlockNumberOrTag::Pending)) => return Ok(true),
        Some(BlockId::Number(
            BlockNumberOrTag::Latest | BlockNumberOrTag::Safe | BlockNumberOrTag::Finalized,
        )) => true,
        Some(BlockId::Number(BlockNumberOrTag::Earliest)) => head.header.number == 0,
        Some(BlockId::Number(BlockNumberOrTag::Number(n))) => n == head.header.number,
        Some(BlockId::Hash(h)) => h.block_hash == head.hash,
    };
    if ok {
        Ok(false)
    } else {
        Err(RpcError::server(format!(
            "historical state is not available: this node keeps the state of the latest block ({}) only",
            head.header.number
        )))
    }
}

fn resolve(node: &Node, tag: BlockNumberOrTag) -> u64 {
    match tag {
        BlockNumberOrTag::Earliest => 0,
        BlockNumberOrTag::Number(n) => n,
        _ => node.head().header.number,
    }
}

async fn header_by_tag(node: &Node, tag: BlockNumberOrTag) -> Result<Option<StoredHeader>> {
    let number = resolve(node, tag);
    if number == node.head().header.number {
        return Ok(Some(node.head()));
    }
    Ok(node.store().header_by_number(number).await?)
}

async fn header(node: &Node, number: u64) -> Result<StoredHeader> {
    node.store()
        .header_by_number(number)
        .await?
        .ok_or_else(|| RpcError::internal(format!("block {number} is missing")))
}

async fn block_json(node: &Node, header: &StoredHeader, full: bool) -> Result<Value> {
    let number = header.header.number;
    let transactions = if full {
        let txs = node.store().txs_in_block(number).await?;
        BlockTransactions::Full(
            txs.iter()
                .map(|t| convert::transaction(t, header))
                .collect(),
        )
    } else {
        BlockTransactions::Hashes(node.store().tx_hashes_in_block(number).await?)
    };
    to_json(convert::block(header, transactions))
}

async fn get_logs(node: &Node, filter: &Filter) -> Result<Value> {
    let head = node.head().header.number;
    let (from, to) = match &filter.block_option {
        FilterBlockOption::AtBlockHash(hash) => match node.store().header_by_hash(*hash).await? {
            Some(h) => (h.header.number, h.header.number),
            None => return Err(RpcError::server(format!("unknown block {hash}"))),
        },
        FilterBlockOption::Range {
            from_block,
            to_block,
        } => (
            resolve(node, from_block.unwrap_or_default()),
            resolve(node, to_block.unwrap_or_default()).min(head),
        ),
    };
    if from > to {
        return Ok(json!([]));
    }
    let addresses: Vec<Address> = filter.address.iter().copied().collect();
    let logs = node.store().logs(from, to, &addresses, MAX_LOGS).await?;
    if logs.len() > MAX_LOGS {
        return Err(RpcError {
            code: -32005,
            message: format!("query returned more than {MAX_LOGS} results; narrow the block range"),
            data: None,
        });
    }
    let mut headers: HashMap<u64, StoredHeader> = HashMap::new();
    let mut out = Vec::new();
    for log in logs {
        if !filter.matches_topics(log.log.topics()) {
            continue;
        }
        if let std::collections::hash_map::Entry::Vacant(slot) = headers.entry(log.block_number) {
            slot.insert(header(node, log.block_number).await?);
        }
        let tx_hash = node
            .store()
            .tx_hash_at(log.block_number, log.tx_index)
            .await?
            .ok_or_else(|| RpcError::internal("log without transaction"))?;
        let block = &headers[&log.block_number];
        out.push(convert::log(log, block, tx_hash));
    }
    to_json(out)
}

async fn fee_history(node: &Node, p: &[Value]) -> Result<Value> {
    let count: Value = param(p, 0, "blockCount")?;
    let count = match &count {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => u64::from_str_radix(s.trim_start_matches("0x"), 16).ok(),
        _ => None,
    }
    .ok_or_else(|| RpcError::invalid_params("blockCount must be a quantity"))?;
    let newest: BlockNumberOrTag = param(p, 1, "newestBlock")?;
    let percentiles: Option<Vec<f64>> = opt_param(p, 2, "rewardPercentiles")?;
    if let Some(ps) = &percentiles
        && (ps.windows(2).any(|w| w[0] > w[1]) || ps.iter().any(|x| !(0.0..=100.0).contains(x)))
    {
        return Err(RpcError::invalid_params(
            "rewardPercentiles must rise monotonically within 0..=100",
        ));
    }
    let newest = resolve(node, newest).min(node.head().header.number);
    let count = count.clamp(1, MAX_FEE_HISTORY).min(newest + 1);
    let oldest = newest + 1 - count;
    let mut history = FeeHistory {
        oldest_block: oldest,
        reward: percentiles.as_ref().map(|_| Vec::new()),
        ..Default::default()
    };
    let mut last = None;
    for number in oldest..=newest {
        let h = header(node, number).await?;
        let base_fee = h.header.base_fee_per_gas.unwrap_or_default();
        history.base_fee_per_gas.push(u128::from(base_fee));
        history.base_fee_per_blob_gas.push(1);
        history.blob_gas_used_ratio.push(0.0);
        history
            .gas_used_ratio
            .push(h.header.gas_used as f64 / h.header.gas_limit.max(1) as f64);
        if let (Some(ps), Some(rewards)) = (&percentiles, history.reward.as_mut()) {
            let txs = node.store().txs_in_block(number).await?;
            let mut tips: Vec<(u128, u64)> = txs
                .iter()
                .map(|t| {
                    (
                        t.receipt
                            .effective_gas_price
                            .saturating_sub(u128::from(base_fee)),
                        t.receipt.gas_used,
                    )
                })
                .collect();
            tips.sort_unstable();
            rewards.push(percentile_rewards(&tips, ps, h.header.gas_used));
        }
        last = Some(h);
    }
    if let Some(h) = last {
        history
            .base_fee_per_gas
            .push(u128::from(crate::block::next_base_fee(&h.header)));
        history.base_fee_per_blob_gas.push(1);
    }
    to_json(history)
}

/// The tip at each percentile of gas used, as geth computes it: transactions sorted by
/// tip, each weighing its gas used.
fn percentile_rewards(tips: &[(u128, u64)], percentiles: &[f64], gas_used: u64) -> Vec<u128> {
    if tips.is_empty() {
        return vec![0; percentiles.len()];
    }
    let mut out = Vec::with_capacity(percentiles.len());
    let (mut i, mut sum) = (0usize, tips[0].1);
    for p in percentiles {
        let threshold = (gas_used as f64 * p / 100.0) as u64;
        while sum < threshold && i + 1 < tips.len() {
            i += 1;
            sum += tips[i].1;
        }
        out.push(tips[i].0);
    }
    out
}
