//! Gas per reading: readings stored as rows on chain (`RowStore.storeReadings`, one
//! transaction per upload) against Vitalis's anchoring (one `Anchors.anchor` per interval,
//! whatever the number of readings in it). Gas figures come from the receipts of real
//! transactions on a fresh embedded chain.

use std::time::Duration;

use alloy::primitives::{B256, Bytes, TxKind, keccak256};
use alloy::sol_types::SolCall;
use anyhow::{Context, Result, ensure};
use vitalis_chain::contracts::{Anchors, RowStore};
use vitalis_chain::node::{BlockTime, DEFAULT_GAS_LIMIT};

use crate::targets::Embedded;
use crate::workload::{ANCHOR_GAS_LIMIT, Accounts, sign};

/// Gas limit of a `storeReadings` call (1,000 readings use about 26 million).
const ROWS_GAS_LIMIT: u64 = 60_000_000;

/// What the transactions cost.
#[derive(Debug, Clone)]
pub(crate) struct GasReport {
    /// Readings per upload in the row-store baseline.
    pub(crate) upload: usize,
    /// The chain's very first anchor (also writes the anchor list's length from zero).
    pub(crate) anchor_first: u64,
    /// Any later anchor: what each interval costs.
    pub(crate) anchor: u64,
    /// Of `anchor`: 21,000 plus its calldata.
    pub(crate) anchor_intrinsic: u64,
    /// `storeReadings` of `upload` readings, a patient's first upload and a later one.
    pub(crate) rows_first: u64,
    pub(crate) rows: u64,
    /// `storeReadings` of one reading, a patient's first upload and a later one.
    pub(crate) row_single_first: u64,
    pub(crate) row_single: u64,
}

/// Calldata gas of a transaction input (EIP-2028: 16 a nonzero byte, 4 a zero byte).
fn calldata_gas(input: &[u8]) -> u64 {
    input.iter().map(|b| if *b == 0 { 4 } else { 16 }).sum()
}

/// `n` heart-rate readings at 1 s steps, as a device would upload them.
fn readings(n: usize, t0: u64) -> Vec<RowStore::Reading> {
    (0..n as u64)
        .map(|i| RowStore::Reading {
            metric: 1,
            t: t0 + i * 1_000,
            value: 55 + (i % 60) as i64,
        })
        .collect()
}

/// Runs the transactions on a fresh embedded chain, one block each, and reads their gas.
pub(crate) async fn measure(accounts: &Accounts, upload: usize) -> Result<GasReport> {
    let target = Embedded::start(
        accounts,
        BlockTime::Interval(Duration::from_secs(1)),
        DEFAULT_GAS_LIMIT,
        false,
    )
    .await?;
    let node = &target.node;
    let sender = &accounts.sender;
    let row_store = sender.address().create(2);
    // Milliseconds of 2026-11-01 UTC: realistic, mostly nonzero calldata bytes.
    let t0 = 1_793_491_200_000u64;
    let anchor = |i: u64| -> Bytes {
        Anchors::anchorCall {
            root: keccak256(format!("interval {i}")),
            recordCount: 1,
            intervalStart: t0 + i * 1_000,
            intervalEnd: t0 + i * 1_000 + 999,
        }
        .abi_encode()
        .into()
    };
    let store = |patient: &str, n: usize, t: u64| -> Bytes {
        RowStore::storeReadingsCall {
            patient: keccak256(patient),
            readings: readings(n, t),
        }
        .abi_encode()
        .into()
    };
    let anchors = TxKind::Call(accounts.anchors());
    let rows = TxKind::Call(row_store);
    let steps: Vec<(TxKind, Bytes, u64)> = vec![
        (anchors, anchor(0), ANCHOR_GAS_LIMIT),
        (anchors, anchor(1), ANCHOR_GAS_LIMIT),
        (TxKind::Create, RowStore::BYTECODE.clone(), 5_000_000),
        (rows, store("patient a", upload, t0), ROWS_GAS_LIMIT),
        (
            rows,
            store("patient a", upload, t0 + 1_000_000),
            ROWS_GAS_LIMIT,
        ),
        (rows, store("patient b", 1, t0), ROWS_GAS_LIMIT),
        (rows, store("patient b", 1, t0 + 1_000), ROWS_GAS_LIMIT),
    ];
    let mut gas = Vec::with_capacity(steps.len());
    let anchor_intrinsic = 21_000 + calldata_gas(&steps[1].1);
    for (nonce, (to, input, limit)) in (0u64..).zip(steps) {
        let raw = sign(sender, nonce, to, input, limit)?;
        let hash: B256 = node.send_raw_transaction(&raw)?;
        let (_, rejected) = node.mine_block().await?;
        ensure!(rejected.is_empty(), "transaction {nonce} left out");
        let tx = node
            .store()
            .tx_by_hash(hash)
            .await?
            .with_context(|| format!("transaction {nonce} not stored"))?;
        ensure!(tx.receipt.success, "transaction {nonce} failed");
        if nonce == 2 {
            ensure!(
                tx.receipt.contract_address == Some(row_store),
                "RowStore address"
            );
        }
        gas.push(tx.receipt.gas_used);
    }
    Ok(GasReport {
        upload,
        anchor_first: gas[0],
        anchor: gas[1],
        anchor_intrinsic,
        rows_first: gas[3],
        rows: gas[4],
        row_single_first: gas[5],
        row_single: gas[6],
    })
}

impl GasReport {
    /// Prints gas per reading each way for `readings_per_interval` readings per anchor.
    pub(crate) fn print(&self, rate: f64, interval: Duration, target_ratio: f64) {
        let per_interval = rate * interval.as_secs_f64();
        let anchored = self.anchor as f64 / per_interval;
        let batched = self.rows as f64 / self.upload as f64;
        let single = self.row_single as f64;
        println!("gas per transaction (receipts on a fresh embedded chain):");
        println!(
            "  anchor, later ones               {:>10}   (first on the chain: {}; of which 21,000 + calldata: {})",
            self.anchor, self.anchor_first, self.anchor_intrinsic
        );
        println!(
            "  storeReadings, {:>5} readings    {:>10}   (a patient's first upload: {})",
            self.upload, self.rows, self.rows_first
        );
        println!(
            "  storeReadings, 1 reading         {:>10}   (a patient's first upload: {})",
            self.row_single, self.row_single_first
        );
        println!(
            "gas per reading at {rate} readings/s, one anchor per {}:",
            humantime::format_duration(interval)
        );
        println!("  anchoring                        {anchored:>10.1}");
        println!(
            "  rows, uploads of {:>5}           {batched:>10.1}   → {:.0}× anchoring",
            self.upload,
            batched / anchored
        );
        println!(
            "  rows, one reading per upload     {single:>10.1}   → {:.0}× anchoring",
            single / anchored
        );
        let batched_label = format!("uploads of {}", self.upload);
        for (what, row_gas) in [
            (batched_label.as_str(), batched),
            ("single readings", single),
        ] {
            // per-reading anchor gas = anchor / (rate × T) ≤ row_gas / target
            let seconds = target_ratio * self.anchor as f64 / (row_gas * rate);
            println!(
                "  {target_ratio:.0}× less than rows ({what}) needs one anchor per {seconds:.0} s at {rate} readings/s"
            );
        }
    }
}
