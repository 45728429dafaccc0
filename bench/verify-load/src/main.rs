//! `verify-load`: measures how fast whole patient histories are verified.
//!
//! Setup, not timed: in a temporary directory, a SQLite store, the embedded chain
//! (a block per transaction) and its JSON-RPC on 127.0.0.1; then `--patients` patients
//! (one device each), each given `--records` records of `--readings` heart-rate readings
//! through `Store::append`. The records are stored round by round (one record of every
//! patient per round) and anchored after each round, as the anchoring service would
//! over a day, so a history spans `--records` anchors.
//!
//! Timed: every patient's whole history verified with `Verifier::patient` against a
//! read-only `RpcLedger` on the node's JSON-RPC, the path `vitalis verify` takes, once
//! one patient at a time and once `--concurrency` patients at a time. Every report must
//! pass with every record anchored, or the run fails. Run it with a release build:
//!
//! ```text
//! cargo build --release -p vitalis-bench-verify
//! target/release/verify-load
//! target/release/verify-load --patients 100 --records 10 --readings 1000 --concurrency 2
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use vitalis_chain::genesis::Deployment;
use vitalis_chain::ledger::RpcLedger;
use vitalis_chain::node::{BlockTime, Node, NodeConfig};
use vitalis_chain::rpc;
use vitalis_crypto::chameleon::ChameleonPublicKey;
use vitalis_ingest::anchoring::{Anchorer, AnchoringConfig};
use vitalis_ingest::verify::{PatientReport, Verifier};
use vitalis_model::{DeviceId, Metric, PatientId, Reading, Section, Timestamp, Value};
use vitalis_store::{NewBatch, SqlStore, Store};

#[derive(Debug, Parser)]
struct Args {
    /// Patients, one device each.
    #[arg(long, default_value_t = 100)]
    patients: usize,
    /// Records per patient (each anchored in its own round).
    #[arg(long, default_value_t = 10)]
    records: usize,
    /// Heart-rate readings per record.
    #[arg(long, default_value_t = 1000)]
    readings: usize,
    /// Patients verified at once in the concurrent run.
    #[arg(long, default_value_t = 2)]
    concurrency: usize,
    /// Timed runs of each kind; the best is reported with the others.
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

/// The store and the chain the histories live in.
struct World {
    store: Arc<SqlStore>,
    payload_key: ChameleonPublicKey,
    rpc_url: String,
    deployment: Deployment,
    patients: Vec<PatientId>,
    _rpc: rpc::RpcServer,
    _miner: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

/// Readings are 1 s apart, ending a day before `now`.
const NOW_MS: i64 = 1_763_900_000_000;

async fn build(args: &Args) -> Result<World> {
    let dir = tempfile::tempdir()?;
    let config = NodeConfig::dev(BlockTime::Instant);
    let key = ChameleonPublicKey::from_bytes(config.chameleon_public_key.0)
        .map_err(|e| anyhow::anyhow!("chameleon key: {e}"))?;
    let url = format!("sqlite://{}", dir.path().join("v.db").display());
    let store = Arc::new(SqlStore::open(&url, &key).await?);
    let node = Node::open(&dir.path().join("chain.db"), config.clone()).await?;
    let miner = node.spawn_miner();
    let rpc = rpc::serve(node.clone(), "127.0.0.1:0".parse()?).await?;
    let anchors = node.deployment().anchors;
    let anchorer = Anchorer::new(
        store.clone(),
        Arc::new(RpcLedger::new(&rpc.url(), config.sealer.clone(), anchors)?),
        AnchoringConfig {
            interval: Duration::from_secs(1),
            max_records: u32::try_from(args.patients.max(1))?,
        },
    );

    let mut lanes: Vec<(PatientId, DeviceId)> = Vec::with_capacity(args.patients);
    for i in 0..args.patients {
        let patient = store.create_patient(token(i, 0)).await?;
        let device = store.create_device(&patient, token(i, 1)).await?;
        lanes.push((patient, device));
    }
    let now = Timestamp::new(NOW_MS)?;
    let span = (args.records * args.readings) as i64 * 1000;
    let first = NOW_MS - 86_400_000 - span;
    for round in 0..args.records {
        let started = Instant::now();
        let mut batches = Vec::with_capacity(lanes.len());
        for (patient, device) in &lanes {
            let mut readings = Vec::with_capacity(args.readings);
            for i in 0..args.readings {
                let n = (round * args.readings + i) as i64;
                let t = Timestamp::new(first + n * 1000)?;
                let bpm = 55.0 + (n % 60) as f64;
                readings.push(Reading::new(Metric::HeartRate, t, Value::Scalar(bpm), now)?);
            }
            batches.push(NewBatch {
                patient: patient.clone(),
                device: device.clone(),
                idempotency_key: None,
                parts: vec![(Section::Protected, readings)],
                received_at: now,
                seal: None,
            });
        }
        // Groups of ~50,000 readings, as the writer task commits them.
        let per_group = (50_000 / args.readings.max(1)).max(1);
        let mut batches = batches.into_iter().peekable();
        while batches.peek().is_some() {
            let group: Vec<NewBatch> = batches.by_ref().take(per_group).collect();
            store.append(group).await?;
        }
        // Bounded: each tick anchors up to `patients` records, one round's worth.
        let mut ticks = 0;
        loop {
            ticks += 1;
            ensure!(
                ticks <= 10,
                "round {round} still not anchored after 10 ticks"
            );
            if anchorer.tick().await?.is_empty() {
                break;
            }
        }
        eprintln!(
            "round {}/{}: stored and anchored {} records in {:.2?}",
            round + 1,
            args.records,
            lanes.len(),
            started.elapsed()
        );
    }
    ensure!(
        store.pending_anchors().await?.is_empty(),
        "anchors still pending"
    );

    Ok(World {
        store,
        payload_key: key,
        rpc_url: rpc.url(),
        deployment: node.deployment(),
        patients: lanes.into_iter().map(|(p, _)| p).collect(),
        _rpc: rpc,
        _miner: miner,
        _dir: dir,
    })
}

impl World {
    /// A verifier as `vitalis verify` builds one: a read-only ledger on the node's JSON-RPC.
    fn verifier(&self) -> Result<Verifier> {
        let ledger = RpcLedger::read_only(&self.rpc_url, self.deployment.anchors)?;
        Ok(Verifier::new(
            self.store.clone(),
            Arc::new(ledger),
            self.payload_key,
        ))
    }
}

/// A distinct token hash per patient and device.
fn token(i: usize, kind: u8) -> [u8; 32] {
    let mut t = [0; 32];
    t[..8].copy_from_slice(&(i as u64).to_be_bytes());
    t[8] = kind;
    t
}

/// Verifies every patient, `concurrency` at a time; returns the reports in patient order.
/// One verifier per run, so that nothing it remembers carries over to the next run.
async fn verify_all(world: &World, concurrency: usize) -> Result<Vec<PatientReport>> {
    let verifier = Arc::new(world.verifier()?);
    let patients = Arc::new(world.patients.clone());
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency.max(1) {
        let (patients, next, verifier) = (patients.clone(), next.clone(), verifier.clone());
        tasks.push(tokio::spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(patient) = patients.get(i) else {
                    break;
                };
                let report = verifier
                    .patient(patient)
                    .await
                    .with_context(|| format!("verifying {patient}"))?;
                done.push((i, report));
            }
            anyhow::Ok(done)
        }));
    }
    let mut reports = Vec::with_capacity(patients.len());
    for task in tasks {
        reports.extend(task.await??);
    }
    reports.sort_by_key(|(i, _)| *i);
    Ok(reports.into_iter().map(|(_, r)| r).collect())
}

/// Fails unless every patient's history passed with every record anchored.
fn check(args: &Args, reports: &[PatientReport]) -> Result<()> {
    ensure!(
        reports.len() == args.patients,
        "{} reports for {} patients",
        reports.len(),
        args.patients
    );
    for r in reports {
        if !r.ok() {
            bail!(
                "patient {} failed verification: {:?}",
                r.patient,
                r.failures
            );
        }
        ensure!(
            r.records == args.records as u64 && r.anchored == args.records as u64 && r.pending == 0,
            "patient {}: {} records, {} anchored, {} pending; expected {} anchored",
            r.patient,
            r.records,
            r.anchored,
            r.pending,
            args.records
        );
    }
    Ok(())
}

async fn measure(args: &Args, world: &World, concurrency: usize) -> Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(args.runs);
    for _ in 0..args.runs.max(1) {
        let started = Instant::now();
        let reports = verify_all(world, concurrency).await?;
        let elapsed = started.elapsed();
        check(args, &reports)?;
        times.push(elapsed);
    }
    let readings = (args.patients * args.records * args.readings) as f64;
    let records = (args.patients * args.records) as f64;
    let best = *times.iter().min().context("no run")?;
    let all: Vec<String> = times
        .iter()
        .map(|t| format!("{:.3}", t.as_secs_f64()))
        .collect();
    println!(
        "concurrency {concurrency}: best {:.3} s ({} s over {} runs): {:.0} readings/s, {:.0} records/s",
        best.as_secs_f64(),
        all.join(", "),
        times.len(),
        readings / best.as_secs_f64(),
        records / best.as_secs_f64(),
    );
    Ok(times)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(
        args.patients > 0 && args.records > 0 && args.readings > 0,
        "--patients, --records and --readings must be positive"
    );
    let started = Instant::now();
    let world = build(&args).await?;
    let stored: u64 = world.store.patient_ids().await?.len() as u64;
    ensure!(stored == args.patients as u64, "{stored} patients stored");
    eprintln!("setup: {:.2?}", started.elapsed());
    println!(
        "verifying {} patients x {} records x {} readings = {} readings ({} records)",
        args.patients,
        args.records,
        args.readings,
        args.patients * args.records * args.readings,
        args.patients * args.records
    );
    measure(&args, &world, 1).await?;
    if args.concurrency > 1 {
        measure(&args, &world, args.concurrency).await?;
    }
    Ok(())
}
