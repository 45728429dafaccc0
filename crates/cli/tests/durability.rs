//! Crash safety of the real binary: a server killed with SIGKILL in the middle of a
//! sustained upload loses no acknowledged reading and stores none twice after restart.

mod support;

use std::collections::HashSet;
use std::path::Path;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use support::field;

fn vitalis(data_dir: &Path, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["--data-dir", data_dir.to_str().unwrap()]);
    support::vitalis_ok(&all)
}

/// Starts `vitalis serve` on a free port; returns the child and its base URL.
fn serve(data_dir: &Path) -> (Child, String) {
    support::spawn_serve(&[
        "--listen",
        "127.0.0.1:0",
        "--chain-listen",
        "127.0.0.1:0",
        "--data-dir",
        data_dir.to_str().unwrap(),
    ])
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

const UPLOADERS: usize = 4;
const BATCHES_PER_UPLOADER: usize = 60;
const READINGS_PER_BATCH: usize = 250;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_readings_survive_sigkill_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let patient = vitalis(data, &["patient", "add"]);
    let (patient_id, patient_token) = (
        field(&patient, "patient_id"),
        field(&patient, "patient_token"),
    );
    let device_token = field(
        &vitalis(data, &["device", "add", "--patient", &patient_id]),
        "device_token",
    );

    let (mut server, url) = serve(data);
    let base = Arc::new(Mutex::new(url));
    let acked = Arc::new(Mutex::new(Vec::<i64>::new()));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    // Readings lie in the recent past, one per second per uploader lane.
    let t0 = now_ms() - 3_600_000;

    let mut tasks = Vec::new();
    for lane in 0..UPLOADERS {
        let (base, acked, client, token) = (
            base.clone(),
            acked.clone(),
            client.clone(),
            device_token.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for b in 0..BATCHES_PER_UPLOADER {
                let ts: Vec<i64> = (0..READINGS_PER_BATCH)
                    .map(|i| t0 + (((lane * BATCHES_PER_UPLOADER + b) * READINGS_PER_BATCH + i) as i64) * 3)
                    .collect();
                let body = json!({ "readings": ts.iter().map(|t| json!({"metric": "heart_rate", "t": t, "value": 60 + (t % 40)})).collect::<Vec<_>>() });
                let key = format!("lane{lane}-batch{b}");
                loop {
                    let url = format!("{}/api/v1/readings", base.lock().unwrap());
                    let sent = client.post(url).bearer_auth(&token).header("Idempotency-Key", &key).json(&body).send().await;
                    match sent {
                        Ok(r) if r.status().is_success() => {
                            acked.lock().unwrap().extend(&ts);
                            break;
                        }
                        Ok(r) if r.status().is_client_error() => panic!("refused: {}", r.text().await.unwrap()),
                        _ => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
            }
        }));
    }

    // Kill the server once a good part of the upload is acknowledged, mid-stream.
    let total = UPLOADERS * BATCHES_PER_UPLOADER * READINGS_PER_BATCH;
    while acked.lock().unwrap().len() < total / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    let acked_before_kill: Vec<i64> = acked.lock().unwrap().clone();
    assert!(
        acked_before_kill.len() < total,
        "the upload finished before the kill"
    );

    let (mut server, url) = serve(data);
    *base.lock().unwrap() = url.clone();
    for task in tasks {
        task.await.unwrap();
    }

    // Read everything back through the API.
    let mut stored = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut req = client
            .get(format!("{url}/api/v1/patients/{patient_id}/readings"))
            .bearer_auth(&patient_token)
            .query(&[
                ("metric", "heart_rate"),
                ("from", &t0.to_string()),
                ("limit", "10000"),
            ]);
        if let Some(a) = &after {
            req = req.query(&[("after", a)]);
        }
        let page: Value = req.send().await.unwrap().json().await.unwrap();
        stored.extend(
            page["readings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["t"].as_i64().unwrap()),
        );
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => break,
        }
    }
    // The record chain has no gap and every link holds.
    let chain: Value = client
        .get(format!(
            "{url}/api/v1/patients/{patient_id}/records?limit=10000"
        ))
        .bearer_auth(&patient_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let records = chain["records"].as_array().unwrap();
    let mut prev = "0".repeat(64);
    for (i, record) in records.iter().enumerate() {
        assert_eq!(record["seq"].as_u64(), Some(i as u64 + 1));
        assert_eq!(
            record["prev"].as_str(),
            Some(prev.as_str()),
            "record {} breaks the chain",
            i + 1
        );
        prev = record["commitment"].as_str().unwrap().to_owned();
    }
    let in_records: u64 = records
        .iter()
        .map(|r| r["readings"].as_u64().unwrap())
        .sum();
    server.kill().unwrap();
    server.wait().unwrap();
    assert_eq!(
        in_records,
        stored.len() as u64,
        "records and the reading index disagree"
    );

    let unique: HashSet<i64> = stored.iter().copied().collect();
    assert_eq!(unique.len(), stored.len(), "a reading is stored twice");
    let acked_all: HashSet<i64> = acked.lock().unwrap().iter().copied().collect();
    assert_eq!(acked_all.len(), total);
    let missing_before_kill = acked_before_kill
        .iter()
        .filter(|t| !unique.contains(t))
        .count();
    assert_eq!(
        missing_before_kill, 0,
        "acknowledged before the kill, then lost"
    );
    assert_eq!(
        unique, acked_all,
        "stored readings differ from acknowledged ones"
    );
}
