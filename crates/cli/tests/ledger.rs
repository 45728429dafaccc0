//! The ledger through the real binary: `vitalis serve` anchors uploads on the embedded
//! chain or on an external node (anvil from npm), and `vitalis verify` exits 0 on an intact
//! store and non-zero, naming record and step, on a tampered one.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy::primitives::Address;
use alloy::providers::{Provider, ProviderBuilder};
use serde_json::{Value, json};
use sqlx::{Connection, Row};
use support::{field, vitalis, vitalis_ok};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `vitalis serve`, killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path, chain: &[&str]) -> Server {
    let mut args = vec!["--listen", "127.0.0.1:0", "--block-time", "200ms"];
    args.extend(chain);
    args.extend(["--data-dir", data.to_str().unwrap()]);
    let (child, url) = support::spawn_serve(&args);
    Server { child, url }
}

/// Provisions a patient and a device on the store in `data`.
fn provision(data: &str) -> (String, String, String) {
    let patient = vitalis_ok(&["patient", "add", "--data-dir", data]);
    let (id, token) = (
        field(&patient, "patient_id"),
        field(&patient, "patient_token"),
    );
    let device = vitalis_ok(&["device", "add", "--patient", &id, "--data-dir", data]);
    (id, token, field(&device, "device_token"))
}

/// Uploads a few readings and waits until every record of the patient is anchored.
async fn upload_and_wait_for_anchors(server: &Server, patient: &str, token: &str, device: &str) {
    let client = reqwest::Client::new();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for i in 0..3 {
        let body = json!({"readings": [
            {"metric": "heart_rate", "t": now - 10_000 + i, "value": 70},
            {"metric": "steps", "t": now - 10_000 + i, "value": 12},
        ]});
        let response = client
            .post(format!("{}/api/v1/readings", server.url))
            .bearer_auth(device)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let records: Value = client
            .get(format!("{}/api/v1/patients/{patient}/records", server.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let records = records["records"].as_array().unwrap().clone();
        if records.len() == 6 && records.iter().all(|r| r["anchor"]["status"] == "anchored") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not anchored in time: {records:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn serve_anchors_on_the_embedded_chain_and_verify_tells_intact_from_tampered() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let (patient, token, device) = provision(data);
    let listen = format!("127.0.0.1:{}", free_port());
    let server = serve(dir.path(), &["--chain-listen", &listen]);
    upload_and_wait_for_anchors(&server, &patient, &token, &device).await;

    let intact = vitalis_ok(&["verify", "--data-dir", data, "--chain-listen", &listen]);
    assert!(
        intact.contains("all checks passed: 1 patients, 6 records"),
        "{intact}"
    );

    // One byte of a stored payload changed behind the server's back.
    let url = format!("sqlite://{}", dir.path().join("vitalis.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let cid: String = sqlx::query("SELECT cid FROM records WHERE seq = 1")
        .fetch_one(&mut db)
        .await
        .unwrap()
        .get("cid");
    let mut bytes: Vec<u8> = sqlx::query("SELECT bytes FROM blobs WHERE cid = $1")
        .bind(&cid)
        .fetch_one(&mut db)
        .await
        .unwrap()
        .get("bytes");
    // Sealed or plain, the last byte changed.
    *bytes.last_mut().unwrap() ^= 1;
    sqlx::query("UPDATE blobs SET bytes = $1 WHERE cid = $2")
        .bind(bytes)
        .bind(&cid)
        .execute(&mut db)
        .await
        .unwrap();
    let tampered = vitalis(&["verify", "--data-dir", data, "--chain-listen", &listen]);
    assert!(!tampered.status.success());
    let out = String::from_utf8_lossy(&tampered.stdout);
    assert!(
        out.contains("record 1") && out.contains("PayloadCid"),
        "{out}"
    );
}

/// Anvil from npm; `None` after saying so when it is not installed (a failure when
/// `VITALIS_REQUIRE_SERVICES=1`).
fn anvil() -> Option<vitalis_chain::foundry::Anvil> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap();
    let Some(bin) = vitalis_chain::foundry::tool_path(root, "anvil") else {
        let message = "anvil is not installed (run `npm ci` in the workspace root)";
        assert!(
            std::env::var("VITALIS_REQUIRE_SERVICES").as_deref() != Ok("1"),
            "{message}"
        );
        eprintln!("SKIPPED: {message}");
        return None;
    };
    Some(vitalis_chain::foundry::Anvil::spawn(&bin, Duration::from_millis(200), &[]).unwrap())
}

#[tokio::test]
async fn serve_anchors_on_an_external_node_and_attaches_after_a_restart() {
    let Some(anvil) = anvil() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let key_file = dir.path().join("anvil.key");
    std::fs::write(&key_file, &anvil.dev_keys()[0]).unwrap();
    let key_file = key_file.to_str().unwrap();
    let chain = ["--chain-rpc", anvil.url(), "--chain-key-file", key_file];

    let (patient, token, device) = provision(data);
    {
        let server = serve(dir.path(), &chain);
        upload_and_wait_for_anchors(&server, &patient, &token, &device).await;
    }
    let mut args = vec!["verify", "--data-dir", data];
    args.extend(chain);
    let first = vitalis_ok(&args);
    assert!(first.contains("6 anchored"), "{first}");

    // A restart attaches to the contracts deployed the first time, and goes on anchoring.
    let (patient2, token2, device2) = provision(data);
    {
        let server = serve(dir.path(), &chain);
        upload_and_wait_for_anchors(&server, &patient2, &token2, &device2).await;
    }
    let second = vitalis_ok(&args);
    assert!(
        second.contains("all checks passed: 2 patients, 12 records (12 anchored"),
        "{second}"
    );
}

/// A stored setting of the store in `dir`.
async fn setting(dir: &Path, key: &str) -> Option<Vec<u8>> {
    let url = format!("sqlite://{}", dir.join("vitalis.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
        .bind(key)
        .fetch_optional(&mut db)
        .await
        .unwrap()
}

/// The four addresses (registry, anchors, consent, access log) remembered in the store.
async fn remembered_deployment(dir: &Path) -> [Address; 4] {
    let bytes = setting(dir, "external_deployment")
        .await
        .expect("the deployment is remembered");
    assert_eq!(bytes.len(), 80);
    [0, 20, 40, 60].map(|at| Address::from_slice(&bytes[at..at + 20]))
}

#[tokio::test]
async fn serve_remembers_the_external_deployment_and_completes_an_older_one() {
    let Some(anvil) = anvil() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let key_file = dir.path().join("anvil.key");
    std::fs::write(&key_file, &anvil.dev_keys()[0]).unwrap();
    let chain = [
        "--chain-rpc",
        anvil.url(),
        "--chain-key-file",
        key_file.to_str().unwrap(),
    ];
    let provider = ProviderBuilder::new().connect_http(anvil.url().parse().unwrap());

    // First start: all four contracts deployed and remembered, the anchors address too.
    drop(serve(dir.path(), &chain));
    let [registry, anchors, consent, access_log] = remembered_deployment(dir.path()).await;
    assert_eq!(
        setting(dir.path(), "external_anchors_address").await,
        Some(anchors.to_vec())
    );
    for address in [registry, anchors, consent, access_log] {
        assert!(!provider.get_code_at(address).await.unwrap().is_empty());
    }

    // A restart deploys nothing.
    drop(serve(dir.path(), &chain));
    assert_eq!(
        remembered_deployment(dir.path()).await,
        [registry, anchors, consent, access_log]
    );

    // A store of an older version remembers only the anchors contract: its registry is
    // read from it, and consent and access log are deployed over that registry.
    {
        let url = format!("sqlite://{}", dir.path().join("vitalis.db").display());
        let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("DELETE FROM settings WHERE key = 'external_deployment'")
            .execute(&mut db)
            .await
            .unwrap();
    }
    drop(serve(dir.path(), &chain));
    let [registry2, anchors2, consent2, access_log2] = remembered_deployment(dir.path()).await;
    assert_eq!((registry2, anchors2), (registry, anchors));
    assert!(consent2 != consent && access_log2 != access_log);
    for address in [consent2, access_log2] {
        assert!(!provider.get_code_at(address).await.unwrap().is_empty());
    }
    let access_log_registry = vitalis_chain::contracts::AccessLog::new(access_log2, &provider)
        .registry()
        .call()
        .await
        .unwrap();
    assert_eq!(access_log_registry, registry);

    // Another anchors contract than the remembered one is refused.
    let mut args = vec![
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data,
        "--anchors-address",
        "0x00000000000000000000000000000000000000a1",
    ];
    args.extend(chain);
    let mut child = Command::new(env!("CARGO_BIN_EXE_vitalis"))
        .args(&args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve started with another anchors contract");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = child.wait_with_output().unwrap();
    assert!(!status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("--anchors-address") && err.contains(&anchors.to_string()),
        "{err}"
    );
}
