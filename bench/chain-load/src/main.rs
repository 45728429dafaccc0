//! `chain-load`: signed contract transactions per second on the embedded chain and on
//! anvil, and gas per reading of on-chain rows against interval anchoring.
//!
//! Throughput: `--txs` EIP-1559 transactions calling `Anchors.anchor(root_i, 1, i, i)`
//! with distinct roots are signed by the anchoring node's key before any clock starts,
//! byte for byte the same for every target (the embedded chain is configured with
//! anvil's chain id and with the deployer as its genesis supervisor, so the contracts
//! have the same addresses). Each run sends them with `eth_sendRawTransaction` in
//! JSON-RPC batches of `--batch` over `--connections` concurrent HTTP connections, and
//! stops the clock when the receipt of the last nonce is available (polled every 2 ms).
//! Targets, each on a fresh chain:
//!
//! - the embedded node in this process (`Node::open` + `spawn_miner` + `rpc::serve` on
//!   127.0.0.1:0 in a temporary directory), once per `--block-time`;
//! - the embedded node without JSON-RPC: `Node::send_raw_transaction` from
//!   `--workers` tasks, then `mine_block` until all are stored;
//! - anvil as a child process on a free loopback port (`vitalis_chain::foundry::Anvil`:
//!   `--block-time 0.2 --gas-limit 1000000000 --hardfork cancun`), after deploying
//!   `IdentityRegistry` and `Anchors` and registering the sender as anchoring node. It is
//!   killed when the run ends, also on error.
//!
//! Every run fails unless all N receipts have status 1 and `anchorCount()` is N. Each
//! run also reports the cores used while its clock ran by this process, by anvil and by
//! everything else: a run during which other processes were busy is not comparable.
//! `--repeat` runs every target several times; the summary gives medians.
//!
//! Gas per reading: receipts of `RowStore.storeReadings` with `--upload` readings and
//! with one reading, against one `anchor` per `--interval` at `--rate` readings/s.
//!
//! The load generator runs on the same cores as the nodes. Run it with a release build,
//! from the workspace root after `npm ci` (which installs anvil):
//!
//! ```text
//! cargo build --release -p vitalis-bench-chain
//! target/release/chain-load --repeat 3
//! target/release/chain-load --runs embedded,anvil --txs 20000
//! target/release/chain-load --runs embedded --block-time 1s --gas-limit 4000000000
//! target/release/chain-load --runs gas
//! ```

mod cpu;
mod gas;
mod jsonrpc;
mod targets;
mod throughput;
mod workload;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::Bytes;
use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
use vitalis_chain::foundry::{self, Anvil};
use vitalis_chain::node::{BlockTime, DEFAULT_GAS_LIMIT};

use crate::jsonrpc::{RpcClient, send_bodies};
use crate::targets::Embedded;
use crate::throughput::{Run, SendPlan};
use crate::workload::{Accounts, SignedAnchors};

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Measure {
    /// Gas per reading.
    Gas,
    /// The embedded node over JSON-RPC.
    Embedded,
    /// The embedded node without JSON-RPC.
    InProcess,
    /// anvil over JSON-RPC.
    Anvil,
}

#[derive(Debug, Parser)]
struct Args {
    /// What to measure.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "gas,embedded,in-process,anvil"
    )]
    runs: Vec<Measure>,
    /// Signed transactions per run.
    #[arg(long, default_value_t = 100_000)]
    txs: u64,
    /// Runs of each target (the summary gives medians).
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Transactions per JSON-RPC batch.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Concurrent HTTP connections sending batches.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Block times of the embedded node over JSON-RPC, one run each.
    #[arg(long, value_delimiter = ',', default_value = "200ms,1s", value_parser = humantime::parse_duration)]
    block_time: Vec<Duration>,
    /// Block gas limit of the embedded node.
    #[arg(long, default_value_t = DEFAULT_GAS_LIMIT)]
    gas_limit: u64,
    /// Tasks admitting transactions in the in-process run.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// The native anvil binary (not the npm launcher); by default the one `npm ci`
    /// installed under `node_modules/@foundry-rs/`.
    #[arg(long)]
    anvil: Option<PathBuf>,
    /// anvil's `--block-time` (its gas limit is 1,000,000,000).
    #[arg(long, default_value = "200ms", value_parser = humantime::parse_duration)]
    anvil_block_time: Duration,
    /// A run that has not seen its last receipt after this long fails.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Readings per upload in the row-store baseline.
    #[arg(long, default_value_t = 1_000)]
    upload: usize,
    /// Readings per second that one anchor covers (gas per reading).
    #[arg(long, default_value_t = 1_000.0)]
    rate: f64,
    /// Anchoring interval (gas per reading).
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    interval: Duration,
}

/// Peak resident set of a process, in MiB.
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// What a throughput run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    /// The embedded node over JSON-RPC, with this block time.
    Embedded(Duration),
    /// The embedded node without JSON-RPC.
    InProcess,
    /// anvil over JSON-RPC.
    Anvil,
}

/// The pre-signed transactions and how to send them: the same for every target.
struct Workload {
    accounts: Accounts,
    anchors: SignedAnchors,
    bodies: Arc<Vec<Bytes>>,
    plan: SendPlan,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let accounts = Accounts::random();
    println!(
        "cores: {}; transactions per run: {}; batch {} × {} connections",
        std::thread::available_parallelism().map_or(1, |p| p.get()),
        args.txs,
        args.batch,
        args.connections
    );
    if args.runs.contains(&Measure::Gas) {
        let report = gas::measure(&accounts, args.upload).await?;
        report.print(args.rate, args.interval, 10_000.0);
        println!();
    }
    if args.runs.iter().all(|m| *m == Measure::Gas) {
        return Ok(());
    }

    let signing = Instant::now();
    let anchors = workload::sign_anchors(&accounts, args.txs)?;
    let bodies = Arc::new(send_bodies(&anchors.raw, args.batch));
    println!(
        "signed {} anchors in {:.1} s (not measured)",
        args.txs,
        signing.elapsed().as_secs_f64()
    );
    let work = Workload {
        accounts,
        anchors,
        bodies,
        plan: SendPlan {
            batch: args.batch,
            connections: args.connections,
            timeout: args.timeout,
        },
    };
    let mut results: Vec<(Target, Run)> = Vec::new();
    for _ in 0..args.repeat {
        if args.runs.contains(&Measure::Embedded) {
            for every in &args.block_time {
                let run = embedded(&work, *every, args.gas_limit).await?;
                results.push((Target::Embedded(*every), run));
            }
        }
        if args.runs.contains(&Measure::InProcess) {
            let run =
                throughput::in_process(&work.accounts, &work.anchors, args.gas_limit, args.workers)
                    .await?;
            run.print();
            results.push((Target::InProcess, run));
        }
        if args.runs.contains(&Measure::Anvil) {
            results.push((Target::Anvil, anvil(&work, &args).await?));
        }
    }
    if let Some(mib) = peak_rss_mib(std::process::id()) {
        println!("this process (load generator and embedded nodes) peak RSS: {mib:.0} MiB");
    }
    summary(&results, &args.block_time);
    Ok(())
}

/// The embedded node in this process, serving JSON-RPC on 127.0.0.1, on a fresh chain.
async fn embedded(work: &Workload, every: Duration, gas_limit: u64) -> Result<Run> {
    let target =
        Embedded::start(&work.accounts, BlockTime::Interval(every), gas_limit, true).await?;
    let url = target.url().context("the embedded node serves JSON-RPC")?;
    let label = format!(
        "embedded, JSON-RPC, {} blocks",
        humantime::format_duration(every)
    );
    let run = throughput::over_json_rpc(
        &label,
        &url,
        &work.accounts,
        &work.anchors,
        &work.bodies,
        work.plan,
        None,
    )
    .await?;
    run.print();
    Ok(run)
}

/// anvil as a child process with the contracts deployed; killed when this returns.
async fn anvil(work: &Workload, args: &Args) -> Result<Run> {
    let bin = match &args.anvil {
        Some(bin) => bin.clone(),
        None => foundry::tool_path(&std::env::current_dir()?, "anvil").context(
            "anvil is not installed: run `npm ci` in the workspace root, or pass --anvil",
        )?,
    };
    let anvil = Anvil::spawn(&bin, args.anvil_block_time, &[])?;
    let pid = targets::child_pid("anvil").context("anvil's process")?;
    targets::deploy_on_anvil(&RpcClient::new(anvil.url())?, &work.accounts).await?;
    let label = format!(
        "anvil, JSON-RPC, {} blocks",
        humantime::format_duration(args.anvil_block_time)
    );
    let run = throughput::over_json_rpc(
        &label,
        anvil.url(),
        &work.accounts,
        &work.anchors,
        &work.bodies,
        work.plan,
        Some(pid),
    )
    .await?;
    run.print();
    if let Some(mib) = peak_rss_mib(pid) {
        println!("{:<34} anvil peak RSS: {mib:.0} MiB", "");
    }
    Ok(run)
}

/// The median tx/s of a target's runs.
fn median(results: &[(Target, Run)], target: Target) -> Option<f64> {
    let mut rates: Vec<f64> = results
        .iter()
        .filter(|(t, _)| *t == target)
        .map(|(_, run)| run.tx_per_s())
        .collect();
    rates.sort_by(f64::total_cmp);
    let n = rates.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(rates[n / 2]),
        _ => Some((rates[n / 2 - 1] + rates[n / 2]) / 2.0),
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

/// Medians over the repeats, the ratio to anvil, and the targets.
fn summary(results: &[(Target, Run)], block_times: &[Duration]) {
    println!();
    let anvil = median(results, Target::Anvil);
    for every in block_times {
        let Some(rate) = median(results, Target::Embedded(*every)) else {
            continue;
        };
        let blocks = humantime::format_duration(*every);
        println!(
            "embedded ({blocks} blocks): {rate:.0} signed tx/s (target ≥ 20,000: {})",
            verdict(rate >= 20_000.0)
        );
        if let Some(anvil) = anvil {
            let ratio = rate / anvil;
            println!(
                "embedded ({blocks} blocks) / anvil ({anvil:.0} tx/s): {ratio:.1}×  (target ≥ 10×: {})",
                verdict(ratio >= 10.0)
            );
        }
    }
    if let Some(rate) = median(results, Target::InProcess) {
        println!("embedded in-process: {rate:.0} signed tx/s");
    }
}
