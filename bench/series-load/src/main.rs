//! `series-load`: how fast a chart of a long, dense history is served.
//!
//! Setup, not timed: a SQLite store in a temporary directory, one patient and device, and
//! `--days` days of heart rate at 1 Hz (30 days: 2,592,000 readings) stored through
//! `Store::append` in uploads of 10,000 readings, which keeps the per-minute rollups up to
//! date as ingest does.
//!
//! Timed, `--requests` times each, in process through the router (no socket):
//! - **API**: `GET /api/v1/patients/{id}/series?metric=heart_rate&from=…&to=…&points=1000`
//!   over the whole range: rollups read, LTTB to 1,000 points, JSON.
//! - **peer (raw)**: the same chart without rollups, as a server without them must make
//!   it: every reading of the range read through `Store::readings` (pages of 10,000), then
//!   LTTB to 1,000 points.
//!
//! With `--sealed` the history is stored as `vitalis serve` stores a protected metric:
//! every record sealed, its minute rollups encrypted per record and hour under the node's
//! rollup key; the API then decrypts the rollups of the range, and the raw path opens
//! every record with the patient's key.
//!
//! ```text
//! cargo build --release -p vitalis-bench-series
//! target/release/series-load --days 30 --requests 20
//! target/release/series-load --days 30 --requests 20 --sealed
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use clap::Parser;
use tower::ServiceExt;
use vitalis_analytics::{Sample, lttb};
use vitalis_ingest::{Pipeline, PipelineConfig};
use vitalis_model::{Metric, Reading, Section, Timestamp, Value};
use vitalis_server::{ApiConfig, AppState, router, tokens};
use vitalis_store::{NewBatch, ReadingQuery, SqlStore, Store};

#[derive(Debug, Parser)]
struct Args {
    /// Days of 1 Hz heart rate.
    #[arg(long, default_value_t = 30)]
    days: i64,
    /// Timed requests of each kind.
    #[arg(long, default_value_t = 20)]
    requests: usize,
    /// Points in the chart.
    #[arg(long, default_value_t = 1000)]
    points: usize,
    /// Seal the records (as protected records are sealed in `vitalis serve`).
    #[arg(long)]
    sealed: bool,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn report(name: &str, mut times: Vec<Duration>) -> Duration {
    times.sort();
    let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
    println!(
        "{name:<12} p50 {:>9.1} ms   p99 {:>9.1} ms   min {:>9.1} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3
    );
    p50
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let key = vitalis_crypto::chameleon::ChameleonTrapdoor::generate(&mut rand::rng()).public_key();
    let url = format!("sqlite://{}", dir.path().join("series.db").display());
    let store: Arc<dyn Store> = Arc::new(
        SqlStore::open(&url, &key)
            .await?
            .with_rollup_key(vitalis_crypto::envelope::DataKey::generate(&mut rand::rng())),
    );
    let patient = tokens::add_patient(store.as_ref()).await?;
    let device = tokens::add_device(store.as_ref(), &patient.patient).await?;
    let seal = if args.sealed {
        let (authority, _) = vitalis_abe::setup(&mut rand::rng());
        let sealer = vitalis_ingest::sealer::Sealer::new(store.clone(), authority);
        Some(
            sealer
                .key_for(&patient.patient)
                .await?
                .context("the patient has a sealing key")?,
        )
    } else {
        None
    };
    // The patient's own key, which opens the sealed records on the raw path.
    let reader = vitalis_store::ReaderKeys(Arc::new(vitalis_ingest::sealer::PatientReader(
        vitalis_crypto::envelope::PatientSecretKey::from_seed(&vitalis_server::sealing::token_key(
            &patient.token,
        )),
    )));

    let end = now_ms() / 1000 * 1000 - 60_000;
    let start = end - args.days * 86_400_000;
    let total = args.days * 86_400;
    let now = Timestamp::new(now_ms()).context("clock")?;
    let setup = Instant::now();
    let mut t = start;
    while t < end {
        let batch: Vec<Reading> = (0..10_000)
            .map(|i| t + i * 1000)
            .take_while(|ts| *ts < end)
            .map(|ts| {
                let bpm = 62.0 + 20.0 * ((ts / 1000) as f64 / 3600.0).sin().abs();
                Reading::new(
                    Metric::HeartRate,
                    Timestamp::new(ts).unwrap(),
                    Value::Scalar(bpm.round()),
                    now,
                )
                .unwrap()
            })
            .collect();
        t += batch.len() as i64 * 1000;
        store
            .append(vec![NewBatch {
                patient: patient.patient.clone(),
                device: device.device.clone(),
                idempotency_key: None,
                parts: vec![(Section::Protected, batch)],
                received_at: now,
                seal: seal.clone(),
            }])
            .await?;
    }
    println!(
        "setup: {total} readings ({} days at 1 Hz) stored with rollups{} in {:.1} s",
        args.days,
        if args.sealed { ", sealed" } else { "" },
        setup.elapsed().as_secs_f64()
    );

    let pipeline = Pipeline::spawn(store.clone(), PipelineConfig::default());
    let app = router(AppState::new(
        store.clone(),
        pipeline,
        ApiConfig::default(),
        None,
        None,
    ));
    let uri = format!(
        "/api/v1/patients/{}/series?metric=heart_rate&from={start}&to={end}&points={}",
        patient.patient, args.points
    );
    let mut api = Vec::new();
    for _ in 0..args.requests {
        let began = Instant::now();
        let response = app
            .clone()
            .oneshot(
                Request::builder()
                    .uri(&uri)
                    .header(header::AUTHORIZATION, format!("Bearer {}", patient.token))
                    .body(Body::empty())?,
            )
            .await?;
        ensure!(
            response.status() == StatusCode::OK,
            "series answered {}",
            response.status()
        );
        let body = to_bytes(response.into_body(), usize::MAX).await?;
        api.push(began.elapsed());
        let json: serde_json::Value = serde_json::from_slice(&body)?;
        ensure!(
            json["points"].as_array().map(Vec::len) == Some(args.points),
            "wrong point count"
        );
    }

    let mut raw = Vec::new();
    for _ in 0..args.requests.min(5) {
        let began = Instant::now();
        let mut query = ReadingQuery {
            patient: patient.patient.clone(),
            metric: Some(Metric::HeartRate),
            metrics: None,
            sections: None,
            from: Timestamp::new(start)?,
            to: Timestamp::new(end)?,
            after: None,
            limit: 10_000,
            keys: Some(reader.clone()),
        };
        let mut samples = Vec::with_capacity(total as usize);
        loop {
            let page = store.readings(&query).await?;
            samples.extend(page.readings.iter().filter_map(|r| match r.value {
                Value::Scalar(v) => Some(Sample::new(r.t.millis(), v)),
                _ => None,
            }));
            match page.next {
                Some(next) => query.after = Some(next),
                None => break,
            }
        }
        let chart = lttb(&samples, args.points);
        raw.push(began.elapsed());
        ensure!(
            samples.len() as i64 == total && chart.len() == args.points,
            "raw path lost readings"
        );
    }
    let a = report("API", api);
    let r = report("peer (raw)", raw);
    println!(
        "ratio: the API answers {:.0}x faster than the raw path",
        r.as_secs_f64() / a.as_secs_f64()
    );
    Ok(())
}
