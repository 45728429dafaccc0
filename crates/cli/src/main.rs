//! The `vitalis` command. Thin: parse the command line, resolve the configuration, call
//! the libraries.

mod admin;
mod config;
mod demo;
mod demo_accounts;
mod export;
mod identity;
mod import;
mod keys;
mod serve;
mod simulate;
mod verify;
mod watch;

use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::config::{ChainArgs, Config, ServeArgs, StoreArgs};

/// Vitalis: collect wearable health data and share it safely.
#[derive(Debug, Parser)]
#[command(name = "vitalis", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: store, ingest and HTTP API.
    Serve(ServeArgs),
    /// Run a server with demo patients and simulated watches, and print how to look.
    Demo(demo::DemoArgs),
    /// Simulate smartwatches uploading to a running server.
    Simulate(simulate::SimulateArgs),
    /// Check stored records against the ledger: chain, payloads, proofs, on-chain roots.
    Verify(verify::VerifyArgs),
    /// Export a patient's readings as CSV, XLSX or FHIR R4 JSON.
    Export(export::ExportArgs),
    /// Import an export file (Apple Health, Fitbit, FIT, Google Fit, Empatica E4) for a
    /// patient. Exit status 3: the file stops early; what came before is stored.
    Import(import::ImportArgs),
    /// Follow a CSV or XLSX sheet and store its new and changed rows as a device's readings.
    Watch(watch::WatchArgs),
    /// Manage the node's supervisor and admin accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Manage patients.
    Patient {
        #[command(subcommand)]
        command: PatientCommand,
    },
    /// Manage devices.
    Device {
        #[command(subcommand)]
        command: DeviceCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an active supervisor or admin account; prints its id (and the password, when
    /// it is generated).
    Create(admin::CreateArgs),
}

#[derive(Debug, Subcommand)]
enum PatientCommand {
    /// Register a patient; prints its id and API token.
    Add(StoreArgs),
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// Bind a new device to a patient; prints its id and upload token.
    Add {
        /// The patient's id.
        #[arg(long)]
        patient: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Parses durations like `10s`, `500ms`, `2m`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e} (examples: 10s, 500ms, 2m)"))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => {
                serve::run(Config::resolve(&args.store, args.listen, &args.chain)?).await
            }
            Command::Demo(args) => demo::run(args).await,
            Command::Simulate(args) => simulate::run(args).await,
            Command::Verify(args) => verify::run(args).await,
            Command::Export(args) => export::run(args).await,
            Command::Import(args) => import::run(args).await,
            Command::Watch(args) => watch::run(args).await,
            Command::Admin {
                command: AdminCommand::Create(args),
            } => admin::create(args).await,
            Command::Patient {
                command: PatientCommand::Add(store),
            } => identity::add_patient(Config::resolve(&store, None, &ChainArgs::default())?).await,
            Command::Device {
                command: DeviceCommand::Add { patient, store },
            } => {
                identity::add_device(
                    Config::resolve(&store, None, &ChainArgs::default())?,
                    &patient,
                )
                .await
            }
        }
    })
}
