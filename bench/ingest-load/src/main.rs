//! `ingest-load`: measures end-to-end HTTP ingest of the real `vitalis serve` binary.
//!
//! It starts the server on a fresh data directory (SQLite) or database (PostgreSQL URL),
//! provisions one patient and device per connection with `vitalis patient add` /
//! `vitalis device add`, then keeps `--connections` uploads of `--batch` readings in
//! flight for `--duration`, each batch with unique timestamps. It prints readings/s
//! acknowledged, request latency percentiles, and the server's peak resident memory
//! (VmHWM from /proc). Run it with a release build:
//!
//! ```text
//! cargo build --release -p vitalis-cli -p vitalis-bench-ingest
//! target/release/ingest-load --vitalis target/release/vitalis
//! target/release/ingest-load --vitalis target/release/vitalis --database-url postgres://postgres@127.0.0.1/vitalis_bench
//! ```

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Parser;

#[derive(Debug, Parser)]
struct Args {
    /// Path of the `vitalis` binary to measure.
    #[arg(long, default_value = "target/release/vitalis")]
    vitalis: PathBuf,
    /// PostgreSQL URL of an empty database; SQLite in a temporary directory when absent.
    #[arg(long)]
    database_url: Option<String>,
    /// Uploads in flight at once (one device each).
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Readings per upload.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// How long to load the server (after a 2 s warm-up).
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    duration: Duration,
}

fn vitalis(bin: &Path, store: &[String], args: &[&str]) -> Result<String> {
    let out = Command::new(bin)
        .args(args)
        .args(store)
        .env("RUST_LOG", "warn")
        .output()?;
    if !out.status.success() {
        bail!("{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?)
}

fn value(output: &str, key: &str) -> Result<String> {
    output
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::to_owned)
        .with_context(|| format!("no {key} in {output:?}"))
}

fn start_server(bin: &Path, store: &[String]) -> Result<(Child, String)> {
    let mut child = Command::new(bin)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--chain-listen",
            "127.0.0.1:0",
        ])
        .args(store)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .context("listen line")?
        .to_owned();
    Ok((child, url))
}

/// Peak resident set of a process, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One upload body: `n` heart-rate readings at 1 ms steps from `t0`.
fn body(t0: i64, n: usize) -> String {
    let mut s = String::with_capacity(n * 56 + 16);
    s.push_str("{\"readings\":[");
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        let t = t0 + i as i64;
        let _ = write!(
            s,
            "{{\"metric\":\"heart_rate\",\"t\":{t},\"value\":{}}}",
            55 + t % 60
        );
    }
    s.push_str("]}");
    s
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let store: Vec<String> = match &args.database_url {
        Some(url) => vec!["--database-url".into(), url.clone()],
        None => vec!["--data-dir".into(), dir.path().display().to_string()],
    };
    let mut tokens = Vec::new();
    for _ in 0..args.connections {
        let patient = value(
            &vitalis(&args.vitalis, &store, &["patient", "add"])?,
            "patient_id",
        )?;
        let device = vitalis(
            &args.vitalis,
            &store,
            &["device", "add", "--patient", &patient],
        )?;
        tokens.push(value(&device, "device_token")?);
    }
    let (mut server, url) = start_server(&args.vitalis, &store)?;
    let client = reqwest::Client::new();
    let acked = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let warmup = Duration::from_secs(2);
    let end = Instant::now() + warmup + args.duration;
    // Timestamps start a day back, so no batch is ever "in the future".
    let start_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64 - 86_400_000;

    let mut tasks = Vec::new();
    for token in tokens {
        let (client, url, acked, measuring) = (
            client.clone(),
            url.clone(),
            acked.clone(),
            measuring.clone(),
        );
        let batch = args.batch;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            // Each lane uploads for its own patient and device, so lanes may share the
            // time axis; each batch moves on by one reading per millisecond.
            let mut t = start_ms;
            while Instant::now() < end {
                let payload = body(t, batch);
                t += batch as i64;
                let sent = Instant::now();
                let response = client
                    .post(format!("{url}/api/v1/readings"))
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(payload)
                    .send()
                    .await?;
                if !response.status().is_success() {
                    bail!(
                        "upload failed: {} {}",
                        response.status(),
                        response.text().await?
                    );
                }
                if measuring.load(Ordering::Relaxed) {
                    latencies.push(sent.elapsed());
                    acked.fetch_add(batch as u64, Ordering::Relaxed);
                }
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    tokio::time::sleep(warmup).await;
    measuring.store(true, Ordering::Relaxed);
    let measured_from = Instant::now();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = measured_from.elapsed();
    let peak = peak_rss_kib(server.id());
    server.kill()?;
    server.wait()?;

    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
    };
    let readings = acked.load(Ordering::Relaxed);
    println!(
        "store={} connections={} batch={} duration={:.1}s",
        if args.database_url.is_some() {
            "postgres"
        } else {
            "sqlite"
        },
        args.connections,
        args.batch,
        elapsed.as_secs_f64()
    );
    println!(
        "readings acknowledged: {readings}  →  {:.0} readings/s",
        readings as f64 / elapsed.as_secs_f64()
    );
    println!(
        "upload latency: p50 {:?}  p99 {:?}  ({} uploads)",
        pct(0.50).copied().unwrap_or_default(),
        pct(0.99).copied().unwrap_or_default(),
        latencies.len()
    );
    match peak {
        Some(kib) => println!("server peak RSS: {:.1} MiB", kib as f64 / 1024.0),
        None => println!("server peak RSS: unavailable"),
    }
    Ok(())
}
