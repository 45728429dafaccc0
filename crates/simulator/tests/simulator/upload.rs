//! The uploader against a small in-test server that scripts its answers.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::{Instant, sleep, timeout};
use uuid::Uuid;
use vitalis_model::{RawReading, Timestamp};
use vitalis_simulator::physiology::Wearer;
use vitalis_simulator::upload::{
    Counters, CountersSnapshot, SimConfig, SimDevice, report_progress, run,
};

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    token: String,
    key: String,
    readings: Vec<RawReading>,
    status: StatusCode,
}

/// The status the server gives its `n`-th request (from 0); 200 means "store it".
type Script = fn(usize) -> StatusCode;

struct TestServer {
    script: Script,
    seen: Mutex<Vec<Seen>>,
    /// Stored readings, keyed like the real server de-duplicates: (device, metric, t).
    stored: Mutex<HashMap<(String, String, i64), RawReading>>,
    /// Keys already answered with 200, and their answer.
    answered: Mutex<HashMap<String, (u64, u64)>>,
}

impl TestServer {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn store(&self, token: &str, key: &str, readings: &[RawReading]) -> Value {
        if let Some(&(accepted, duplicates)) = self.answered.lock().unwrap().get(key) {
            return json!({"records": [], "accepted": accepted, "duplicates": duplicates, "replayed": true});
        }
        let mut stored = self.stored.lock().unwrap();
        let (mut accepted, mut duplicates) = (0, 0);
        for r in readings {
            let id = (token.to_owned(), r.metric.clone(), r.t);
            if stored.insert(id, r.clone()).is_some() {
                duplicates += 1;
            } else {
                accepted += 1;
            }
        }
        self.answered
            .lock()
            .unwrap()
            .insert(key.to_owned(), (accepted, duplicates));
        json!({"records": [{"id": "r1"}], "accepted": accepted, "duplicates": duplicates, "replayed": false})
    }
}

async fn readings_endpoint(
    State(server): State<Arc<TestServer>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let token = header("authorization")
        .strip_prefix("Bearer ")
        .unwrap_or_default()
        .to_owned();
    let key = header("idempotency-key");
    let body: Value = serde_json::from_slice(&body).expect("JSON body");
    let readings: Vec<RawReading> =
        serde_json::from_value(body["readings"].clone()).expect("readings");
    let status = {
        let mut seen = server.seen.lock().unwrap();
        let status = (server.script)(seen.len());
        seen.push(Seen {
            token: token.clone(),
            key: key.clone(),
            readings: readings.clone(),
            status,
        });
        status
    };
    if status == StatusCode::OK {
        (status, axum::Json(server.store(&token, &key, &readings))).into_response()
    } else {
        (
            status,
            axum::Json(json!({"error": {"code": "scripted", "message": "as scripted"}})),
        )
            .into_response()
    }
}

async fn spawn_server(script: Script) -> (String, Arc<TestServer>) {
    let server = Arc::new(TestServer {
        script,
        seen: Mutex::default(),
        stored: Mutex::default(),
        answered: Mutex::default(),
    });
    let app = Router::new()
        .route("/api/v1/readings", post(readings_endpoint))
        .with_state(server.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, server)
}

fn devices(n: usize) -> Vec<SimDevice> {
    (0..n)
        .map(|i| SimDevice::new(format!("token-{i}")))
        .collect()
}

async fn simulate(config: SimConfig, n: usize) -> CountersSnapshot {
    let (_stop_tx, stop) = watch::channel(false);
    let counters = Arc::new(Counters::new());
    let totals = timeout(
        Duration::from_secs(30),
        run(config, devices(n), stop, counters.clone()),
    )
    .await
    .expect("the run ends")
    .expect("the run starts");
    assert_eq!(totals, counters.snapshot());
    totals
}

#[tokio::test]
async fn retried_batches_are_acknowledged_exactly_once() {
    let (url, server) = spawn_server(|n| {
        if n < 2 {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        }
    })
    .await;
    let config = SimConfig {
        interval: Duration::from_millis(200),
        seed: 100,
        duration: Some(Duration::from_millis(1_200)),
        backfill: Duration::from_secs(15 * 60),
        max_batch: 80,
        ..SimConfig::new(url)
    };
    let totals = simulate(config, 3).await;
    assert_eq!(totals.devices, 3);
    assert!(totals.retries >= 2, "{totals:?}");
    assert!(totals.generated > 3 * 200, "{totals:?}");
    assert_eq!(
        (totals.sent, totals.acknowledged),
        (totals.generated, totals.generated),
        "{totals:?}"
    );
    assert_eq!((totals.rejected, totals.unsent), (0, 0), "{totals:?}");

    let seen = server.seen();
    let failed: Vec<&Seen> = seen.iter().filter(|s| s.status != StatusCode::OK).collect();
    assert_eq!(failed.len(), 2);
    for f in failed {
        let retried = seen
            .iter()
            .find(|s| s.key == f.key && s.status == StatusCode::OK);
        let retried =
            retried.unwrap_or_else(|| panic!("batch {} was not retried with its key", f.key));
        assert_eq!(retried.readings, f.readings, "a retry sends the same batch");
    }
    let accepted: Vec<&Seen> = seen.iter().filter(|s| s.status == StatusCode::OK).collect();
    let keys: HashSet<&str> = accepted.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(
        keys.len(),
        accepted.len(),
        "each batch is acknowledged once"
    );
    for s in &accepted {
        assert_eq!(Uuid::parse_str(&s.key).unwrap().get_version_num(), 4);
    }
    let stored = server.stored.lock().unwrap().clone();
    assert_eq!(
        stored.len() as u64,
        totals.generated,
        "every reading stored once, none twice"
    );
    for i in 0..3u64 {
        check_device_stream(&accepted, &stored, i);
    }
}

/// Device `i`'s batches arrive in time order and hold exactly what its wearer generates.
fn check_device_stream(
    accepted: &[&Seen],
    stored: &HashMap<(String, String, i64), RawReading>,
    i: u64,
) {
    let token = format!("token-{i}");
    let batches: Vec<&Seen> = accepted
        .iter()
        .copied()
        .filter(|s| s.token == token)
        .collect();
    for pair in batches.windows(2) {
        let last = pair[0].readings.last().unwrap().t;
        assert!(
            last <= pair[1].readings[0].t,
            "{token}: batches out of order"
        );
    }
    let mine: Vec<&RawReading> = stored
        .iter()
        .filter(|(k, _)| k.0 == token)
        .map(|(_, r)| r)
        .collect();
    let from = mine.iter().map(|r| r.t).min().unwrap();
    let to = mine.iter().map(|r| r.t).max().unwrap() + 1;
    let expected = Wearer::new(100 + i).readings(from, to);
    let as_set = |rs: Vec<&RawReading>| -> BTreeSet<String> {
        rs.iter()
            .map(|r| serde_json::to_string(r).unwrap())
            .collect()
    };
    assert_eq!(
        as_set(mine.clone()),
        as_set(expected.iter().collect()),
        "{token}: stored set = generated set"
    );
    let now = Timestamp::new(to).unwrap();
    assert!(
        mine.iter().all(|r| r.validate(now).is_ok()),
        "{token}: every reading valid"
    );
}

#[tokio::test]
async fn rejected_batches_are_counted_and_never_retried() {
    let (url, server) = spawn_server(|_| StatusCode::UNPROCESSABLE_ENTITY).await;
    let config = SimConfig {
        interval: Duration::from_millis(150),
        duration: Some(Duration::from_millis(500)),
        backfill: Duration::from_secs(120),
        ..SimConfig::new(url)
    };
    let totals = simulate(config, 2).await;
    assert!(totals.generated > 0);
    assert_eq!(
        (totals.rejected, totals.acknowledged, totals.retries),
        (totals.generated, 0, 0),
        "{totals:?}"
    );
    let seen = server.seen();
    let keys: HashSet<&str> = seen.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys.len(), seen.len(), "no batch sent twice");
}

#[tokio::test]
async fn stopping_gives_up_on_an_unreachable_server_after_the_flush_timeout() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let config = SimConfig {
        interval: Duration::from_millis(100),
        backfill: Duration::from_secs(60),
        flush_timeout: Duration::from_millis(300),
        ..SimConfig::new(url)
    };
    let (stop_tx, stop) = watch::channel(false);
    let counters = Arc::new(Counters::new());
    let running = tokio::spawn(run(config, devices(2), stop, counters.clone()));
    sleep(Duration::from_millis(700)).await;
    let stopped_at = Instant::now();
    stop_tx.send_replace(true);
    let totals = timeout(Duration::from_secs(5), running)
        .await
        .expect("stops")
        .unwrap()
        .unwrap();
    assert!(
        stopped_at.elapsed() < Duration::from_secs(2),
        "flushing took {:?}",
        stopped_at.elapsed()
    );
    assert!(totals.generated > 0 && totals.retries > 0, "{totals:?}");
    assert_eq!(
        (totals.unsent, totals.acknowledged),
        (totals.generated, 0),
        "{totals:?}"
    );
}

#[tokio::test]
async fn progress_reporting_ends_on_stop() {
    let (stop_tx, stop) = watch::channel(false);
    let reporter = tokio::spawn(report_progress(
        Arc::new(Counters::new()),
        Duration::from_millis(100),
        stop,
    ));
    sleep(Duration::from_millis(250)).await;
    stop_tx.send_replace(true);
    timeout(Duration::from_secs(2), reporter)
        .await
        .expect("ends")
        .unwrap();
}
