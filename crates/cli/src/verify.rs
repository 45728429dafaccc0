//! `vitalis verify`: checks stored records against the ledger, step by step, and exits 0
//! only when every check passes.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;
use vitalis_chain::ledger::RpcLedger;
use vitalis_ingest::verify::{PatientReport, Verifier};
use vitalis_model::PatientId;
use vitalis_store::Store;

use crate::config::{ChainArgs, Config, StoreArgs};

#[derive(Debug, Clone, Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    chain: ChainArgs,
    /// Verify this patient's history (repeatable). Default: every patient.
    #[arg(long)]
    patient: Vec<String>,
    /// Ethereum JSON-RPC of the ledger. Default: --chain-rpc if given, else the embedded
    /// chain of a running `vitalis serve` (http://127.0.0.1:8545 or --chain-listen).
    #[arg(long, env = "VITALIS_RPC_URL")]
    rpc_url: Option<String>,
    /// Address of the anchors contract. Default: where the embedded chain's genesis put it.
    #[arg(long)]
    anchors: Option<alloy::primitives::Address>,
    /// Print the reports as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(args: VerifyArgs) -> Result<()> {
    let config = Config::resolve(&args.store, None, &args.chain)?;
    let keys = config.keys()?;
    let store: Arc<dyn Store> = Arc::new(config.open_store().await?);
    let rpc_url = args
        .rpc_url
        .clone()
        .or_else(|| config.chain_rpc.clone())
        .unwrap_or_else(|| format!("http://{}", config.chain_listen));
    let anchors = match (args.anchors.or(config.anchors_address), &config.chain_rpc) {
        (Some(address), _) => address,
        (None, Some(_)) => crate::serve::remembered_anchors(store.as_ref())
            .await?
            .context("no anchors address recorded for the external chain; pass --anchors")?,
        // Genesis of the embedded chain deploys the registry (nonce 0) and then the
        // anchors contract (nonce 1) from the supervisor's account.
        (None, None) => keys.supervisor.address().create(1),
    };
    let ledger = RpcLedger::read_only(&rpc_url, anchors)?;
    let verifier = Verifier::new(store.clone(), Arc::new(ledger), keys.payload_key());

    let patients = if args.patient.is_empty() {
        store.patient_ids().await?
    } else {
        args.patient
            .iter()
            .map(|p| PatientId::new(p).map_err(|e| anyhow::anyhow!("--patient {p}: {e}")))
            .collect::<Result<_>>()?
    };
    let mut reports = Vec::with_capacity(patients.len());
    for patient in &patients {
        let report = verifier
            .patient(patient)
            .await
            .with_context(|| format!("verifying patient {patient}"))?;
        reports.push(report);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        for r in &reports {
            print_report(r);
        }
    }
    let failed = reports.iter().filter(|r| !r.ok()).count();
    if failed > 0 {
        bail!("{failed} of {} patients failed verification", reports.len());
    }
    if !args.json {
        println!(
            "all checks passed: {} patients, {} records ({} anchored on {rpc_url}, {} not yet anchored)",
            reports.len(),
            reports.iter().map(|r| r.records).sum::<u64>(),
            reports.iter().map(|r| r.anchored).sum::<u64>(),
            reports.iter().map(|r| r.pending).sum::<u64>(),
        );
    }
    Ok(())
}

fn print_report(r: &PatientReport) {
    let verdict = if r.ok() { "ok" } else { "FAILED" };
    println!(
        "patient {}: {verdict} — {} records, {} anchored, {} not yet anchored",
        r.patient, r.records, r.anchored, r.pending
    );
    for f in &r.failures {
        println!(
            "  record {} ({}): {:?} failed: {}",
            f.seq,
            f.record.as_deref().unwrap_or("-"),
            f.step,
            f.detail
        );
    }
}
