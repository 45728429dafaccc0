//! The timed parts: reads under concurrent load, sign-ins and consent grants, each
//! request timed from send to the last byte of its answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use alloy::primitives::B256;
use anyhow::{Context, Result, ensure};
use reqwest::{Method, StatusCode};
use vitalis_chain::permissions::PermissionLedger;

use crate::world::{Api, Caller, PASSWORD, PATIENT_EMAIL, Parties};

/// Latencies of one kind of request, and the wall time they took together.
pub(crate) struct Sample {
    latencies: Vec<Duration>,
    wall: Duration,
}

impl Sample {
    fn new(mut latencies: Vec<Duration>, wall: Duration) -> Sample {
        latencies.sort_unstable();
        Sample { latencies, wall }
    }

    /// Requests answered per second of wall time.
    pub(crate) fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.wall.as_secs_f64()
    }

    /// The `q`-quantile (nearest rank).
    pub(crate) fn quantile(&self, q: f64) -> Duration {
        let n = self.latencies.len();
        if n == 0 {
            return Duration::ZERO;
        }
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        self.latencies[rank - 1]
    }

    /// Requests measured.
    pub(crate) fn count(&self) -> usize {
        self.latencies.len()
    }

    /// The slowest request.
    pub(crate) fn max(&self) -> Duration {
        self.latencies.last().copied().unwrap_or_default()
    }
}

/// Sends `GET path` as `who` `requests` times from `concurrency` tasks; every answer must
/// be `200`. `warmup` requests go first, untimed, and the first answer is checked to
/// hold `expect_readings` readings.
pub(crate) async fn reads(
    api: &Api,
    who: &Caller,
    path: &str,
    requests: usize,
    concurrency: usize,
    warmup: usize,
    expect_readings: usize,
) -> Result<Sample> {
    let first = api.call(who, Method::GET, path, None).await?;
    ensure!(
        first.status == StatusCode::OK,
        "{path}: {}: {}",
        first.status,
        first.body
    );
    let got = first.body["readings"].as_array().map_or(0, Vec::len);
    ensure!(
        got == expect_readings,
        "{path}: {got} readings, expected {expect_readings}"
    );
    run(api, who, path, warmup, concurrency).await?;
    let started = Instant::now();
    let latencies = run(api, who, path, requests, concurrency).await?;
    Ok(Sample::new(latencies, started.elapsed()))
}

async fn run(
    api: &Api,
    who: &Caller,
    path: &str,
    requests: usize,
    concurrency: usize,
) -> Result<Vec<Duration>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency.max(1) {
        let (api, who, path, next) = (api.clone(), who.clone(), path.to_owned(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let started = Instant::now();
                let response = api.request(&who, Method::GET, &path).send().await?;
                let status = response.status();
                let body = response.bytes().await?;
                latencies.push(started.elapsed());
                ensure!(
                    status == StatusCode::OK,
                    "{path}: {status}: {}",
                    String::from_utf8_lossy(&body)
                );
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Vec::with_capacity(requests);
    for task in tasks {
        all.extend(task.await.context("a load task panicked")??);
    }
    Ok(all)
}

/// Signs the patient in `count` times, one after another.
pub(crate) async fn sign_ins(api: &Api, count: usize) -> Result<Sample> {
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(count);
    for _ in 0..count {
        let t = Instant::now();
        let reply = api.sign_in(PATIENT_EMAIL, PASSWORD).await?;
        latencies.push(t.elapsed());
        ensure!(
            reply.status == StatusCode::OK,
            "sign-in: {}: {}",
            reply.status,
            reply.body
        );
    }
    Ok(Sample::new(latencies, started.elapsed()))
}

/// Has the patient grant the hospital consent `count` times, one after another, each
/// signed by the server with the key unsealed at sign-up and answered once its
/// transaction is in a block. Before each grant it waits, untimed, a random part of
/// `block_time`, so that grants arrive at random moments of the block interval rather
/// than just after the block that answered the one before.
pub(crate) async fn grants(
    api: &Api,
    parties: &Parties,
    count: usize,
    block_time: Duration,
) -> Result<Sample> {
    let path = parties.consents_path();
    let mut wall = Duration::ZERO;
    let mut latencies = Vec::with_capacity(count);
    for _ in 0..count {
        if !block_time.is_zero() {
            let pause = rand::random_range(0..block_time.as_micros() as u64);
            tokio::time::sleep(Duration::from_micros(pause)).await;
        }
        let t = Instant::now();
        let reply = api
            .call(
                &parties.patient_session,
                Method::POST,
                &path,
                Some(parties.grant_body()),
            )
            .await?;
        let took = t.elapsed();
        latencies.push(took);
        wall += took;
        ensure!(
            reply.status == StatusCode::CREATED,
            "consent grant: {}: {}",
            reply.status,
            reply.body
        );
    }
    Ok(Sample::new(latencies, wall))
}

/// Asks the consent contract `requests` times from `concurrency` tasks whether `grant`
/// is active, as the server does for each section of an institution's read: the ledger
/// part of (b) alone.
pub(crate) async fn is_active(
    ledger: &Arc<PermissionLedger>,
    grant: B256,
    requests: usize,
    concurrency: usize,
) -> Result<Sample> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency.max(1) {
        let (ledger, next) = (ledger.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let t = Instant::now();
                let active = ledger.is_active(grant).await?;
                latencies.push(t.elapsed());
                ensure!(active, "the grant is not active");
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Vec::with_capacity(requests);
    for task in tasks {
        all.extend(task.await.context("a ledger task panicked")??);
    }
    Ok(Sample::new(all, started.elapsed()))
}

/// Runs `op` `requests` times from `concurrency` tasks: one store call of the read path
/// alone, for comparison.
pub(crate) async fn store_calls<F, Fut>(
    requests: usize,
    concurrency: usize,
    op: F,
) -> Result<Sample>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency.max(1) {
        let (op, next) = (op.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let t = Instant::now();
                op().await?;
                latencies.push(t.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Vec::with_capacity(requests);
    for task in tasks {
        all.extend(task.await.context("a store task panicked")??);
    }
    Ok(Sample::new(all, started.elapsed()))
}
