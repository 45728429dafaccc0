//! `vitalis simulate`: simulated watches uploading to a running server.
//!
//! Devices come from `--tokens-file` (one device token per line; blank lines and `#`
//! comments ignored) or, without one, are registered in the store named by the store
//! flags, one new patient per device, and printed.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use tokio::sync::watch;
use vitalis_server::tokens;
use vitalis_simulator::upload::{self, Counters, SimConfig, SimDevice};

use crate::config::{Config, StoreArgs};
use crate::parse_duration;

#[derive(Debug, Clone, Args)]
pub(crate) struct SimulateArgs {
    /// Number of simulated devices.
    #[arg(long, default_value_t = 10)]
    devices: usize,
    /// Time between a device's uploads.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    interval: Duration,
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:8080", env = "VITALIS_SERVER")]
    server: String,
    /// Seed of the simulated wearers (same seed, same physiology).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Stop after this long (default: run until Ctrl-C).
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// History each device uploads at start.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    backfill: Duration,
    /// File of device tokens, one per line.
    #[arg(long)]
    tokens_file: Option<std::path::PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
}

/// Reads device tokens; names the file and line of anything that is not a token.
fn read_tokens(path: &Path) -> Result<Vec<SimDevice>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut devices = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.contains(char::is_whitespace) || !line.is_ascii() {
            bail!(
                "{}:{}: token: expected one device token per line",
                path.display(),
                n + 1
            );
        }
        devices.push(SimDevice::new(line));
    }
    Ok(devices)
}

pub(crate) async fn run(args: SimulateArgs) -> Result<()> {
    let devices = match &args.tokens_file {
        Some(path) => {
            let mut devices = read_tokens(path)?;
            if devices.len() < args.devices {
                bail!(
                    "{}: has {} tokens, --devices asks for {}",
                    path.display(),
                    devices.len(),
                    args.devices
                );
            }
            devices.truncate(args.devices);
            devices
        }
        None => {
            provision(
                &Config::resolve(&args.store, None, &crate::config::ChainArgs::default())?,
                args.devices,
            )
            .await?
        }
    };
    let config = SimConfig {
        interval: args.interval,
        seed: args.seed,
        duration: args.duration,
        backfill: args.backfill,
        ..SimConfig::new(args.server.clone())
    };
    simulate(config, devices).await
}

/// Registers `n` patients with one device each and prints their credentials.
async fn provision(config: &Config, n: usize) -> Result<Vec<SimDevice>> {
    let store = config.open_store().await?;
    let mut devices = Vec::with_capacity(n);
    for _ in 0..n {
        let patient = tokens::add_patient(&store).await?;
        let device = tokens::add_device(&store, &patient.patient).await?;
        println!(
            "patient_id={} patient_token={} device_id={}",
            patient.patient, patient.token, device.device
        );
        devices.push(SimDevice::new(device.token));
    }
    store.close().await;
    Ok(devices)
}

/// Runs devices until the duration ends or Ctrl-C, printing progress every few seconds.
pub(crate) async fn simulate(config: SimConfig, devices: Vec<SimDevice>) -> Result<()> {
    let counters = Arc::new(Counters::new());
    let (stop_tx, stop) = watch::channel(false);
    let progress = tokio::spawn(upload::report_progress(
        counters.clone(),
        Duration::from_secs(5),
        stop.clone(),
    ));
    let mut run = tokio::spawn(upload::run(config, devices, stop, counters.clone()));
    let result = tokio::select! {
        finished = &mut run => finished,
        _ = crate::serve::shutdown_signal() => {
            // Devices flush what they hold (bounded), then report.
            let _ = stop_tx.send(true);
            run.await
        }
    }?;
    progress.abort();
    let totals = result?;
    println!(
        "simulate: done · {} readings generated · {} sent · {} acknowledged · {} rejected · {} unsent",
        totals.generated, totals.sent, totals.acknowledged, totals.rejected, totals.unsent
    );
    Ok(())
}
