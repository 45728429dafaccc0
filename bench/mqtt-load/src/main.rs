//! `mqtt-load`: measures end-to-end MQTT ingest of the real `vitalis serve` binary with
//! many concurrent device connections.
//!
//! It provisions `--devices` patients with one device each straight into a fresh SQLite
//! store (after one `vitalis patient add` has made the node's keys), starts the server
//! with its embedded MQTT endpoint on a free port of 127.0.0.1, and connects every device
//! (user name = device id, password = token, QoS 1). Each device then publishes messages
//! of `--readings` heart-rate readings: at `--rate` messages per second, or with
//! `--rate 0` as fast as its `--inflight` window of unacknowledged messages allows. A
//! message counts once its PUBACK arrives — the endpoint sends it only after the commit.
//! It prints messages/s and readings/s acknowledged, PUBACK latency percentiles, the
//! server's resident memory (VmRSS at the end, VmHWM peak, from /proc) and checks that
//! the store holds a record for every acknowledged message.
//!
//! With `--without-store` every message is an empty batch, refused (and acknowledged)
//! before the store: what the MQTT endpoint alone sustains.
//!
//! ```text
//! cargo build --release -p vitalis-cli -p vitalis-bench-mqtt
//! target/release/mqtt-load --vitalis target/release/vitalis                      # 1,000 devices, flat out
//! target/release/mqtt-load --vitalis target/release/vitalis --devices 10000 --rate 1
//! target/release/mqtt-load --vitalis target/release/vitalis --without-store
//! ```
//!
//! Each connection is a descriptor on both sides: 10,000 devices need `ulimit -n` above
//! 10,000 for the load generator and the server (they are separate processes).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Parser;
use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, Outgoing, QoS};
use sqlx::{Connection, Row};
use tokio::sync::Mutex;
use vitalis_crypto::chameleon::ChameleonPublicKey;
use vitalis_mqtt::ingestor::token_hash;
use vitalis_store::{SqlStore, Store};

#[derive(Debug, Parser)]
struct Args {
    /// Path of the `vitalis` binary to measure.
    #[arg(long, default_value = "target/release/vitalis")]
    vitalis: PathBuf,
    /// Devices connected at once (one patient each).
    #[arg(long, default_value_t = 1000)]
    devices: usize,
    /// Messages per second per device; 0 publishes as fast as acknowledgements allow.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Unacknowledged messages per device (with --rate 0).
    #[arg(long, default_value_t = 4)]
    inflight: u16,
    /// Readings per message.
    #[arg(long, default_value_t = 1)]
    readings: usize,
    /// Send empty batches, which the server refuses before the store (and still
    /// acknowledges): measures the MQTT endpoint alone, without the store.
    #[arg(long)]
    without_store: bool,
    /// How long to measure (after a warm-up of 3 s, or one publish period at a rate).
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    duration: Duration,
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Makes the node's keys and the store with one `vitalis patient add`, then pairs
/// `devices` patients and devices directly in the store; returns (device id, token).
async fn provision(bin: &Path, data: &Path, devices: usize) -> Result<Vec<(String, String)>> {
    let out = Command::new(bin)
        .args(["patient", "add", "--data-dir"])
        .arg(data)
        .env("RUST_LOG", "warn")
        .output()?;
    if !out.status.success() {
        bail!(
            "vitalis patient add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let url = format!("sqlite://{}", data.join("vitalis.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await?;
    let key: Vec<u8> = sqlx::query("SELECT value FROM settings WHERE key = ?")
        .bind("supervisor_chameleon_public_key")
        .fetch_one(&mut conn)
        .await?
        .try_get("value")?;
    conn.close().await?;
    let key = ChameleonPublicKey::from_bytes(key.try_into().ok().context("key length")?)?;
    let store = SqlStore::open(&url, &key).await?;
    let mut paired = Vec::with_capacity(devices);
    for i in 0..devices {
        let patient = store
            .create_patient(token_hash(&format!("vtp_bench_{i}")))
            .await?;
        let token = format!("vtd_bench_{i}_{}", std::process::id());
        let device = store.create_device(&patient, token_hash(&token)).await?;
        paired.push((device.as_str().to_owned(), token));
    }
    Ok(paired)
}

fn start_server(bin: &Path, data: &Path, mqtt_port: u16) -> Result<(Child, String)> {
    let mut child = Command::new(bin)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--chain-listen",
            "127.0.0.1:0",
        ])
        .arg("--mqtt-listen")
        .arg(format!("127.0.0.1:{mqtt_port}"))
        .arg("--data-dir")
        .arg(data)
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

/// A value from /proc/PID/status, in KiB.
fn proc_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One message: `n` heart-rate readings at 1 ms steps from `t0`.
fn message(t0: i64, n: usize) -> String {
    let readings: Vec<String> = (0..n as i64)
        .map(|i| {
            let t = t0 + i;
            format!(
                r#"{{"metric":"heart_rate","t":{t},"value":{}}}"#,
                55 + t % 60
            )
        })
        .collect();
    format!(r#"{{"readings":[{}]}}"#, readings.join(","))
}

/// Counters shared by every device.
#[derive(Default)]
struct Totals {
    /// Acknowledged while measuring.
    measured: AtomicU64,
    /// Acknowledged at all.
    acked: AtomicU64,
    measuring: AtomicBool,
    latencies: Mutex<Vec<Duration>>,
}

struct Plan {
    port: u16,
    rate: f64,
    inflight: u16,
    readings: usize,
    without_store: bool,
    start_ms: i64,
    end: Instant,
}

/// One device: connects, publishes until `plan.end`, counts its acknowledgements.
async fn device(id: String, token: String, plan: Arc<Plan>, totals: Arc<Totals>) -> Result<()> {
    let mut options = MqttOptions::new(&id, "127.0.0.1", plan.port);
    options
        .set_credentials(&id, &token)
        .set_clean_session(false)
        .set_keep_alive(Duration::from_secs(60))
        .set_inflight(plan.inflight.max(1));
    let (client, mut eventloop) = AsyncClient::new(options, 4);
    let topic = vitalis_mqtt::topic::readings(&id);
    let publisher = {
        let plan = plan.clone();
        let spread = rand_fraction(&id);
        tokio::spawn(async move {
            // Each device has its own patient, so devices may share the time axis.
            let mut t = plan.start_ms;
            let mut tick = (plan.rate > 0.0).then(|| {
                let period = Duration::from_secs_f64(1.0 / plan.rate);
                // Spread the devices over the period.
                let offset = period.mul_f64(spread);
                tokio::time::interval_at(tokio::time::Instant::now() + offset, period)
            });
            while Instant::now() < plan.end {
                if let Some(tick) = &mut tick {
                    tick.tick().await;
                }
                let body = if plan.without_store {
                    r#"{"readings":[]}"#.to_owned()
                } else {
                    message(t, plan.readings)
                };
                t += plan.readings as i64;
                if client
                    .publish(&topic, QoS::AtLeastOnce, false, body)
                    .await
                    .is_err()
                {
                    break;
                }
            }
            client
        })
    };
    let mut sent: HashMap<u16, Instant> = HashMap::new();
    let mut latencies = Vec::new();
    let drain_until = plan.end + Duration::from_secs(5);
    loop {
        let next = tokio::time::timeout_at(drain_until.into(), eventloop.poll()).await;
        let Ok(event) = next else { break };
        match event.with_context(|| format!("device {id}"))? {
            Event::Outgoing(Outgoing::Publish(pkid)) => {
                sent.insert(pkid, Instant::now());
            }
            Event::Incoming(Incoming::PubAck(ack)) => {
                totals.acked.fetch_add(1, Ordering::Relaxed);
                if totals.measuring.load(Ordering::Relaxed) {
                    totals.measured.fetch_add(1, Ordering::Relaxed);
                    if let Some(at) = sent.remove(&ack.pkid) {
                        latencies.push(at.elapsed());
                    }
                } else {
                    sent.remove(&ack.pkid);
                }
                if Instant::now() >= plan.end && sent.is_empty() && publisher.is_finished() {
                    break;
                }
            }
            _ => {}
        }
    }
    publisher.abort();
    totals.latencies.lock().await.extend(latencies);
    Ok(())
}

/// A fraction in [0, 1) from a device id, to spread devices over a publish period.
fn rand_fraction(id: &str) -> f64 {
    let h = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (h % 10_000) as f64 / 10_000.0
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let provisioned_at = Instant::now();
    let devices = provision(&args.vitalis, dir.path(), args.devices).await?;
    eprintln!(
        "provisioned {} devices in {:.1}s",
        devices.len(),
        provisioned_at.elapsed().as_secs_f64()
    );
    let port = free_port()?;
    let (mut server, _url) = start_server(&args.vitalis, dir.path(), port)?;
    let idle_rss = proc_kib(server.id(), "VmRSS:");

    let warmup = if args.rate > 0.0 {
        Duration::from_secs_f64((1.0 / args.rate).max(3.0))
    } else {
        Duration::from_secs(3)
    };
    let connect_time = Duration::from_secs_f64(2.0 + args.devices as f64 / 2000.0);
    let plan = Arc::new(Plan {
        port,
        rate: args.rate,
        inflight: args.inflight,
        readings: args.readings,
        without_store: args.without_store,
        // A day back, so no reading is ever "in the future".
        start_ms: SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64 - 86_400_000,
        end: Instant::now() + connect_time + warmup + args.duration,
    });
    let totals = Arc::new(Totals::default());
    let mut tasks = Vec::with_capacity(devices.len());
    for (id, token) in devices {
        tasks.push(tokio::spawn(device(
            id,
            token,
            plan.clone(),
            totals.clone(),
        )));
    }
    tokio::time::sleep(connect_time + warmup).await;
    totals.measuring.store(true, Ordering::Relaxed);
    let measured_from = Instant::now();
    tokio::time::sleep(args.duration).await;
    totals.measuring.store(false, Ordering::Relaxed);
    let elapsed = measured_from.elapsed();
    let (rss, peak) = (
        proc_kib(server.id(), "VmRSS:"),
        proc_kib(server.id(), "VmHWM:"),
    );
    let mut failures = 0;
    for task in tasks {
        if let Err(err) = task.await? {
            failures += 1;
            if failures <= 3 {
                eprintln!("{err:#}");
            }
        }
    }
    server.kill()?;
    server.wait()?;

    // Every acknowledged message must be a stored record (one per message).
    let url = format!("sqlite://{}", dir.path().join("vitalis.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await?;
    let records: i64 = sqlx::query("SELECT COUNT(*) AS n FROM records")
        .fetch_one(&mut conn)
        .await?
        .try_get("n")?;

    let mut latencies = std::mem::take(&mut *totals.latencies.lock().await);
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let messages = totals.measured.load(Ordering::Relaxed);
    let per_s = messages as f64 / elapsed.as_secs_f64();
    let mut mode = if args.rate > 0.0 {
        format!("rate={}/s per device", args.rate)
    } else {
        format!("flat out, inflight={} per device", args.inflight)
    };
    if args.without_store {
        mode.push_str(" (empty batches, refused before the store)");
    }
    println!(
        "devices={} {mode} readings/message={} duration={:.1}s",
        args.devices,
        args.readings,
        elapsed.as_secs_f64()
    );
    println!(
        "messages acknowledged: {messages}  →  {per_s:.0} msg/s, {:.0} readings/s",
        per_s * args.readings as f64
    );
    println!("PUBACK latency: p50 {:?}  p99 {:?}", pct(0.50), pct(0.99));
    let mib = |kib: Option<u64>| {
        kib.map_or("unavailable".to_owned(), |k| {
            format!("{:.1} MiB", k as f64 / 1024.0)
        })
    };
    println!(
        "server RSS: idle {}  at the end {}  peak {}",
        mib(idle_rss),
        mib(rss),
        mib(peak)
    );
    let acked = totals.acked.load(Ordering::Relaxed) as i64;
    println!(
        "records stored: {records} (acknowledged messages: {acked}; device failures: {failures})"
    );
    if records < acked && !args.without_store {
        bail!("{} acknowledged messages are not stored", acked - records);
    }
    Ok(())
}
