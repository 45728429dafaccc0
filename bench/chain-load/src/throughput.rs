//! The throughput runs: the pre-signed anchors sent to a node, timed from the first send
//! to the last receipt, then checked (every receipt has status 1, `anchorCount()` = N).

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Bytes, U256};
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use anyhow::{Context, Result, bail, ensure};
use vitalis_chain::contracts::Anchors;
use vitalis_chain::node::BlockTime;

use crate::cpu::{CpuSample, CpuUse};
use crate::jsonrpc::{RpcClient, quantity, send_all};
use crate::targets::Embedded;
use crate::workload::{Accounts, SignedAnchors};

/// How the anchors are sent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SendPlan {
    /// Transactions per JSON-RPC batch.
    pub(crate) batch: usize,
    /// Batches in flight at once, one connection each.
    pub(crate) connections: usize,
    /// Give up (and fail) after this long.
    pub(crate) timeout: Duration,
}

/// One measured run.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub(crate) label: String,
    pub(crate) txs: u64,
    /// First send to last receipt.
    pub(crate) elapsed: Duration,
    /// First send to the last batch answered (accepted into the pool).
    pub(crate) accepted: Duration,
    /// Blocks from the one with the first transaction to the one with the last.
    pub(crate) blocks: u64,
    /// Cores used while the clock ran.
    pub(crate) cpu: CpuUse,
}

impl Run {
    pub(crate) fn tx_per_s(&self) -> f64 {
        self.txs as f64 / self.elapsed.as_secs_f64()
    }

    pub(crate) fn print(&self) {
        println!(
            "{:<34} {:>7} tx in {:>7.3} s → {:>8.0} tx/s  (all accepted after {:.3} s; {} blocks, {:.0} tx/block)",
            self.label,
            self.txs,
            self.elapsed.as_secs_f64(),
            self.tx_per_s(),
            self.accepted.as_secs_f64(),
            self.blocks,
            self.txs as f64 / self.blocks.max(1) as f64,
        );
        println!(
            "{:<34} cores used: this process {:.2}, anvil {:.2}, other processes {:.2}{}",
            "",
            self.cpu.own,
            self.cpu.child,
            self.cpu.other,
            if self.cpu.other > 0.2 {
                "  ← the machine was not quiet: run again"
            } else {
                ""
            }
        );
    }
}

/// Sends the prebuilt batches to a node over JSON-RPC and waits for the last receipt.
pub(crate) async fn over_json_rpc(
    label: &str,
    url: &str,
    accounts: &Accounts,
    anchors: &SignedAnchors,
    bodies: &Arc<Vec<Bytes>>,
    plan: SendPlan,
    child: Option<u32>,
) -> Result<Run> {
    let client = RpcClient::new(url)?;
    let n = anchors.hashes.len() as u64;
    let last = *anchors.hashes.last().context("no transactions")?;

    let cpu = CpuSample::now(child);
    let started = Instant::now();
    send_all(url, bodies.clone(), plan.connections).await?;
    let accepted = started.elapsed();
    let receipt = client
        .wait_for_receipt(last, started + plan.timeout)
        .await?;
    let elapsed = started.elapsed();
    let cpu = cpu.until(&CpuSample::now(child));

    let last_block = quantity(&receipt["blockNumber"])?;
    let first = client
        .call(
            "eth_getTransactionReceipt",
            serde_json::json!([anchors.hashes[0]]),
        )
        .await?;
    let first_block = quantity(&first["blockNumber"])?;
    client
        .check_receipts(&anchors.hashes, plan.batch)
        .await
        .with_context(|| format!("{label}: checking receipts"))?;
    let count = client.anchor_count(accounts.anchors()).await?;
    ensure!(
        count == U256::from(n),
        "{label}: anchorCount() is {count}, expected {n}"
    );
    Ok(Run {
        label: label.to_owned(),
        txs: n,
        elapsed,
        accepted,
        blocks: last_block + 1 - first_block,
        cpu,
    })
}

/// The embedded node without JSON-RPC: `workers` blocking tasks admit the raw
/// transactions with `Node::send_raw_transaction` (decode, signer recovery, checks), then
/// `mine_block` runs until all are stored.
pub(crate) async fn in_process(
    accounts: &Accounts,
    anchors: &SignedAnchors,
    gas_limit: u64,
    workers: usize,
) -> Result<Run> {
    let target = Embedded::start(
        accounts,
        BlockTime::Interval(Duration::from_secs(1)),
        gas_limit,
        false,
    )
    .await?;
    let node = target.node.clone();
    let n = anchors.raw.len() as u64;
    let raw = Arc::new(anchors.raw.clone());
    let per_worker = raw.len().div_ceil(workers.max(1));

    let cpu = CpuSample::now(None);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (node, raw) = (node.clone(), raw.clone());
        tasks.push(tokio::task::spawn_blocking(move || {
            let from = (w * per_worker).min(raw.len());
            let to = (from + per_worker).min(raw.len());
            for tx in &raw[from..to] {
                node.send_raw_transaction(tx)?;
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let accepted = started.elapsed();
    let mut blocks = 0u64;
    while node.nonce(accounts.sender.address(), false) < n {
        // Each block holds at least one transaction, so this ends.
        ensure!(blocks < n, "mining made no progress");
        let (_, rejected) = node.mine_block().await?;
        if let Some(r) = rejected.first() {
            bail!("in-process: {} left out: {}", r.tx.hash, r.reason);
        }
        blocks += 1;
    }
    let elapsed = started.elapsed();
    let cpu = cpu.until(&CpuSample::now(None));

    for hash in &anchors.hashes {
        let tx = node
            .store()
            .tx_by_hash(*hash)
            .await?
            .with_context(|| format!("in-process: {hash} not stored"))?;
        ensure!(tx.receipt.success, "in-process: {hash} failed");
    }
    let call = TransactionRequest::default()
        .to(accounts.anchors())
        .input(Anchors::anchorCountCall {}.abi_encode().into());
    let out = vitalis_chain::call::call(&node, &call)?;
    let count = Anchors::anchorCountCall::abi_decode_returns(&out)?;
    ensure!(
        count == U256::from(n),
        "in-process: anchorCount() is {count}, expected {n}"
    );
    Ok(Run {
        label: format!("embedded, in-process ({workers} tasks)"),
        txs: n,
        elapsed,
        accepted,
        blocks,
        cpu,
    })
}
