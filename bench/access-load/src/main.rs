//! `access-load`: measures what the permission layer costs on the read path.
//!
//! Everything runs in one process on 127.0.0.1: the real router (`vitalis_server`) over
//! a SQLite store in a temporary directory and the embedded chain with its JSON-RPC, set
//! up as `crates/server/tests/permissions.rs` does but served on a TCP socket and driven
//! over HTTP (see `world`). Setup, not timed: a patient signs up, pairs a device and
//! uploads `--readings` readings (heart rate and steps) over the last day; a hospital
//! signs up and a supervisor approves it; the patient grants the hospital read consent
//! for both sections; both get a read-only API token.
//!
//! Timed, from `--concurrency` tasks, `--requests` requests each (after `--warmup`
//! untimed ones), `--rounds` times:
//!
//! - the patient reads a page of `--limit` steps readings of their own (the open
//!   section): no consent, no access-log entry;
//! - (a) the patient reads a page of `--limit` heart-rate readings of their own with
//!   their token: no consent to check, one access-log entry (a protected read);
//! - (b) the hospital reads the same page with its token: for each section the grant is
//!   looked up in the store and `isActive` asked of the consent contract (`eth_call` on
//!   the embedded chain), and an access-log entry is written per section.
//!
//! Then, for comparison, three parts of (b) alone, each as often and as concurrently as
//! the reads: the `isActive` call, the store's consent look-up and one access-log write; `--sign-ins` sign-ins of the patient (Argon2id verification of the password and
//! unsealing of the account key, also Argon2id); and `--grants` consent grants (signed by
//! the server, submitted, answered once in a block) at `--block-time`, each after an
//! untimed pause of a random part of the block time, and, in a fresh world, with a block
//! per transaction. Run it with a release build:
//!
//! ```text
//! cargo run --release -p vitalis-bench-access
//! cargo run --release -p vitalis-bench-access -- --requests 2000 --concurrency 8
//! ```

mod measure;
mod world;

use std::time::{Duration, Instant};

use alloy::primitives::B256;
use anyhow::{Context, Result, ensure};
use clap::Parser;
use reqwest::{Method, StatusCode};
use vitalis_access::Role;
use vitalis_model::PatientId;
use vitalis_store::directory::NewAccessEntry;

use measure::Sample;
use world::{Parties, World};

#[derive(Debug, Parser)]
struct Args {
    /// Timed reads of each kind per round.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Reads in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Untimed reads of each kind before the timed ones.
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// Rounds of the three reads (open, (a), (b)).
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Readings uploaded (half heart rate, half steps) over the last day.
    #[arg(long, default_value_t = 10_000)]
    readings: usize,
    /// Readings per page read.
    #[arg(long, default_value_t = 100)]
    limit: u32,
    /// Sign-ins timed, one after another.
    #[arg(long, default_value_t = 20)]
    sign_ins: usize,
    /// Consent grants timed at each block time, one after another.
    #[arg(long, default_value_t = 10)]
    grants: usize,
    /// Block time of the embedded chain the reads run on (0s: a block per transaction).
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    block_time: Duration,
    /// Do not run the access-log committer (which `vitalis serve` runs at the block time).
    #[arg(long)]
    no_committer: bool,
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn chain_name(block_time: Duration) -> String {
    if block_time.is_zero() {
        "a block per transaction".to_owned()
    } else {
        format!("{} blocks", humantime::format_duration(block_time))
    }
}

fn read_row(name: &str, s: &Sample) {
    println!(
        "| {name} | {} | {:.0} | {} | {} | {} |",
        s.count(),
        s.per_second(),
        ms(s.quantile(0.5)),
        ms(s.quantile(0.99)),
        ms(s.max()),
    );
}

fn latency_row(name: &str, s: &Sample) {
    println!(
        "| {name} | {} | {} | {} | {} |",
        s.count(),
        ms(s.quantile(0.5)),
        ms(s.quantile(0.99)),
        ms(s.max()),
    );
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(
        args.requests > 0 && args.concurrency > 0 && args.rounds > 0,
        "--requests, --concurrency and --rounds must be positive"
    );
    ensure!(
        args.readings >= 2 * args.limit as usize,
        "--readings must hold a full page of heart rate (2 × --limit)"
    );
    let committer = !args.no_committer;

    let started = Instant::now();
    let world = World::new(args.block_time, committer).await?;
    let (parties, stored) = Parties::set_up(&world, args.readings).await?;
    let granted = world
        .api
        .call(
            &parties.patient_session,
            Method::POST,
            &parties.consents_path(),
            Some(parties.grant_body()),
        )
        .await?;
    ensure!(
        granted.status == StatusCode::CREATED,
        "consent: {}: {}",
        granted.status,
        granted.body
    );
    let grant_id: B256 = granted.body["grant_id"]
        .as_str()
        .context("no grant_id")?
        .parse()?;
    eprintln!(
        "setup: {:.2?} ({} readings uploaded in {:.2?})",
        started.elapsed(),
        stored.readings,
        stored.took
    );

    let path = parties.read_path("heart_rate", args.limit);
    let open_path = parties.read_path("steps", args.limit);
    let limit = args.limit as usize;
    let mut rounds = Vec::with_capacity(args.rounds);
    for round in 0..args.rounds {
        let open = measure::reads(
            &world.api,
            &parties.patient_token,
            &open_path,
            args.requests,
            args.concurrency,
            args.warmup,
            limit,
        )
        .await?;
        let own = measure::reads(
            &world.api,
            &parties.patient_token,
            &path,
            args.requests,
            args.concurrency,
            args.warmup,
            limit,
        )
        .await?;
        let hospital = measure::reads(
            &world.api,
            &parties.hospital_token,
            &path,
            args.requests,
            args.concurrency,
            args.warmup,
            limit,
        )
        .await?;
        eprintln!("round {}/{} done", round + 1, args.rounds);
        rounds.push((open, own, hospital));
    }
    let ledger_check =
        measure::is_active(&world.ledger, grant_id, args.requests, args.concurrency).await?;
    let patient = PatientId::new(&parties.patient_id)?;
    let hospital = world
        .store
        .account_by_email("hospital@vitalis.invalid")
        .await?
        .context("no hospital account")?;
    let store = world.store.clone();
    let lookups = measure::store_calls(args.requests, args.concurrency, {
        let patient = patient.clone();
        move || {
            let (store, patient) = (store.clone(), patient.clone());
            async move {
                ensure!(!store.consents_of_patient(&patient).await?.is_empty());
                Ok(())
            }
        }
    })
    .await?;
    let store = world.store.clone();
    let log_writes = measure::store_calls(args.requests, args.concurrency, move || {
        let (store, patient, hospital) = (store.clone(), patient.clone(), hospital.clone());
        async move {
            store
                .log_access(&[NewAccessEntry {
                    at: world::now_ms(),
                    account: hospital.id.clone(),
                    role: Role::Hospital,
                    institution: hospital.institution.clone(),
                    patient,
                    action: "read_protected".to_owned(),
                    detail: "access-load: a log entry alone".to_owned(),
                    purpose: "care".to_owned(),
                }])
                .await?;
            Ok(())
        }
    })
    .await?;
    let sign_ins = measure::sign_ins(&world.api, args.sign_ins).await?;
    // Let the committer clear the reads' access-log backlog before timing grants.
    tokio::time::sleep(args.block_time * 2 + Duration::from_millis(500)).await;
    let grants = measure::grants(&world.api, &parties, args.grants, args.block_time).await?;
    drop(world);

    let instant_grants = if args.block_time.is_zero() {
        None
    } else {
        let world = World::new(Duration::ZERO, committer).await?;
        let (parties, _) = Parties::set_up(&world, 0).await?;
        Some(measure::grants(&world.api, &parties, args.grants, Duration::ZERO).await?)
    };

    println!();
    println!(
        "reads: GET …/readings?metric=heart_rate|steps&limit={} ({} readings stored), {} concurrent, \
         chain with {}, access-log committer {}",
        args.limit,
        stored.readings,
        args.concurrency,
        chain_name(args.block_time),
        if committer { "on" } else { "off" }
    );
    println!();
    println!("| read | requests | requests/s | p50 | p99 | max |");
    println!("|---|---|---|---|---|---|");
    for (i, (open, own, hospital)) in rounds.iter().enumerate() {
        read_row(
            &format!(
                "patient, own open data (steps), no access-log entry — round {}",
                i + 1
            ),
            open,
        );
        read_row(
            &format!("(a) patient, own data, no consent check — round {}", i + 1),
            own,
        );
        read_row(
            &format!("(b) hospital, consent + isActive — round {}", i + 1),
            hospital,
        );
    }
    read_row(
        "`isActive` alone (`eth_call` through `PermissionLedger`, no HTTP API)",
        &ledger_check,
    );
    read_row("`consents_of_patient` alone (store, no HTTP API)", &lookups);
    read_row(
        "`log_access` of one entry alone (store, no HTTP API)",
        &log_writes,
    );
    println!();
    println!("| round | (b)/(a) requests/s | (b)/(a) p50 | (b)/(a) p99 |");
    println!("|---|---|---|---|");
    for (i, (_, own, hospital)) in rounds.iter().enumerate() {
        let ratio = |b: Duration, a: Duration| b.as_secs_f64() / a.as_secs_f64();
        println!(
            "| {} | {:.2} | {:.2}× | {:.2}× |",
            i + 1,
            hospital.per_second() / own.per_second(),
            ratio(hospital.quantile(0.5), own.quantile(0.5)),
            ratio(hospital.quantile(0.99), own.quantile(0.99)),
        );
    }
    println!();
    println!("| one after another | count | p50 | p99 | max |");
    println!("|---|---|---|---|---|");
    latency_row("sign-in (Argon2id verify + key unseal)", &sign_ins);
    latency_row(
        &format!("consent grant, {}", chain_name(args.block_time)),
        &grants,
    );
    if let Some(instant) = &instant_grants {
        latency_row(
            &format!("consent grant, {}", chain_name(Duration::ZERO)),
            instant,
        );
    }
    Ok(())
}
