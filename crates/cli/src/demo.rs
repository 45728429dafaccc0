//! `vitalis demo`: a server with demo accounts (patients with simulated watches, a
//! hospital and a public-health office with consent, a supervisor) and directions.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use vitalis_simulator::upload::{SimConfig, SimDevice};

use crate::config::{ChainArgs, Config, StoreArgs};
use crate::parse_duration;

#[derive(Debug, Clone, Args)]
pub(crate) struct DemoArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Number of demo patients (one simulated watch each).
    #[arg(long, default_value_t = 3)]
    patients: usize,
    /// Time between a watch's uploads.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    interval: Duration,
    /// History each watch uploads at start, so there is something to see at once.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    backfill: Duration,
    /// Keep the data here (default: a temporary directory removed on exit).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[command(flatten)]
    chain: ChainArgs,
    /// Stop after this long (default: run until Ctrl-C).
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
}

pub(crate) async fn run(args: DemoArgs) -> Result<()> {
    let temp = tempfile::tempdir()?;
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let store_args = StoreArgs {
        config: None,
        data_dir: Some(data_dir.clone()),
        database_url: None,
    };
    let config = Config::resolve(&store_args, Some(args.listen), &args.chain)?;
    let running = crate::serve::start(&config).await?;
    let base = format!("http://{}", running.addr);

    println!(
        "Vitalis demo — server at {base}, data in {}",
        data_dir.display()
    );
    let (chain, anchors) = (&running.ledger_url, running.anchors);
    match &running.embedded {
        Some(_) => println!(
            "Embedded chain (Ethereum JSON-RPC) at {chain}: one block every {}; the anchors contract is {anchors}.",
            humantime::format_duration(config.block_time)
        ),
        None => println!(
            "Anchoring every {} on {chain}; the anchors contract is {anchors}.",
            humantime::format_duration(config.block_time)
        ),
    }
    println!("  npx cast block-number --rpc-url {chain}");
    println!("  npx cast call {anchors} 'anchorCount()(uint256)' --rpc-url {chain}");
    println!();
    let accounts =
        crate::demo_accounts::create(&base, running.store.as_ref(), args.patients).await?;
    for line in &accounts.lines {
        println!("{line}");
    }
    println!();
    let devices: Vec<SimDevice> = accounts
        .device_tokens
        .into_iter()
        .map(SimDevice::new)
        .collect();
    println!(
        "{} simulated watches upload the last {} now, then every {}. Ctrl-C stops.",
        devices.len(),
        humantime::format_duration(args.backfill),
        humantime::format_duration(args.interval)
    );
    let sim = SimConfig {
        interval: args.interval,
        seed: 1,
        duration: args.duration,
        backfill: args.backfill,
        ..SimConfig::new(base)
    };
    crate::simulate::simulate(sim, devices).await?;
    running.task.abort();
    Ok(())
}
