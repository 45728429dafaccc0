//! `vitalis export` through the real binary: a data directory with a patient whose
//! readings and clinical note are stored through the store's own API, exported as CSV to
//! a file, FHIR to stdout and XLSX, with time and metric filters, an access-log entry per
//! section, and a refusal of an unknown patient.

mod support;

use std::sync::Arc;

use sqlx::{Connection, Row};
use support::{field, vitalis, vitalis_ok};
use vitalis_crypto::chameleon::ChameleonPublicKey;
use vitalis_model::{
    ClinicalNote, DeviceId, ENCODING_CLINICAL_V1, LabResult, Metric, PatientId, Reading, Section,
    Timestamp, Value,
};
use vitalis_store::{NewBatch, NewDocument, SqlStore, Store};

/// 2016-04-01T07:54:00Z.
const T0: i64 = 1_459_497_240_000;

/// A data directory with one patient, one device, 3 000 heart-rate readings (one per
/// second), two blood-pressure pairs, 10 step counts and a clinical note.
async fn seeded() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let patient = field(
        &vitalis_ok(&["patient", "add", "--data-dir", data]),
        "patient_id",
    );
    let device = field(
        &vitalis_ok(&["device", "add", "--patient", &patient, "--data-dir", data]),
        "device_id",
    );
    let url = format!("sqlite://{}", dir.path().join("vitalis.db").display());
    // The store is bound to the node's key; read it back from the store's settings.
    let key: Vec<u8> = {
        let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("SELECT value FROM settings WHERE key = 'supervisor_chameleon_public_key'")
            .fetch_one(&mut db)
            .await
            .unwrap()
            .get("value")
    };
    let key = ChameleonPublicKey::from_bytes(key.try_into().unwrap()).unwrap();
    let store: Arc<dyn Store> = Arc::new(SqlStore::open(&url, &key).await.unwrap());
    let now = Timestamp::new(T0 + 86_400_000).unwrap();
    let reading = |metric: Metric, t: i64, v: f64| {
        Reading::new(metric, Timestamp::new(t).unwrap(), Value::Scalar(v), now).unwrap()
    };
    let mut protected: Vec<Reading> = (0..3000)
        .map(|i| reading(Metric::HeartRate, T0 + i * 1000, 60.0 + (i % 30) as f64))
        .collect();
    for i in 0..2 {
        protected.push(reading(
            Metric::BloodPressureSystolic,
            T0 + i * 60_000,
            120.0,
        ));
        protected.push(reading(
            Metric::BloodPressureDiastolic,
            T0 + i * 60_000,
            80.0,
        ));
    }
    let open: Vec<Reading> = (0..10)
        .map(|i| reading(Metric::Steps, T0 + i * 60_000, 10.0 * i as f64))
        .collect();
    let (patient_id, device_id) = (
        PatientId::new(&patient).unwrap(),
        DeviceId::new(&device).unwrap(),
    );
    store
        .append(vec![NewBatch {
            patient: patient_id.clone(),
            device: device_id.clone(),
            idempotency_key: None,
            parts: vec![(Section::Protected, protected), (Section::Open, open)],
            received_at: now,
            seal: None,
        }])
        .await
        .unwrap();
    let note = ClinicalNote {
        t: T0 + 30_000,
        institution: "hosp".into(),
        results: vec![LabResult {
            loinc: "2345-7".into(),
            display: "Glucose".into(),
            value: 5.4,
            unit: "mmol/L".into(),
        }],
        note: "fasting".into(),
    };
    store
        .append_document(NewDocument {
            patient: patient_id,
            source: device_id,
            section: Section::Protected,
            encoding: ENCODING_CLINICAL_V1,
            t: Timestamp::new(note.t).unwrap(),
            payload: note.encode(),
            received_at: now,
            seal: None,
        })
        .await
        .unwrap();
    (dir, patient)
}

#[tokio::test]
async fn exports_csv_fhir_and_xlsx_with_filters_and_logs_them() {
    let (dir, patient) = seeded().await;
    let data = dir.path().to_str().unwrap();

    // CSV to a file: header + 3 000 + 4 + 10 rows.
    let csv_path = dir.path().join("out.csv");
    let out = vitalis(&[
        "export",
        "--patient",
        &patient,
        "--format",
        "csv",
        "--out",
        csv_path.to_str().unwrap(),
        "--data-dir",
        data,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("exported 3014 readings"));
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let lines: Vec<&str> = csv.split_terminator("\r\n").collect();
    assert_eq!(lines.len(), 1 + 3014);
    assert_eq!(
        lines[0],
        "time_utc,metric,value,unit,source,lat,lon,accuracy"
    );
    assert!(
        lines[1].starts_with("2016-04-01T07:54:00.000Z,"),
        "{}",
        lines[1]
    );

    // FHIR to stdout: pairs become panels, and the clinical note is there.
    let fhir = vitalis_ok(&[
        "export",
        "--patient",
        &patient,
        "--format",
        "fhir",
        "--data-dir",
        data,
    ]);
    let bundle: serde_json::Value = serde_json::from_str(&fhir).unwrap();
    let entries = bundle["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 3014 - 2 + 1);
    let codes: Vec<&str> = entries
        .iter()
        .map(|e| e["resource"]["code"]["coding"][0]["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes.iter().filter(|c| **c == "85354-9").count(), 2);
    assert_eq!(codes.iter().filter(|c| **c == "2345-7").count(), 1);

    // Filters: steps in the first five minutes (ISO times, inclusive), no notes.
    let steps = vitalis_ok(&[
        "export",
        "--patient",
        &patient,
        "--format",
        "fhir",
        "--metrics",
        "steps",
        "--from",
        "2016-04-01T07:54Z",
        "--to",
        "2016-04-01T07:58:00Z",
        "--data-dir",
        data,
    ]);
    let bundle: serde_json::Value = serde_json::from_str(&steps).unwrap();
    assert_eq!(bundle["entry"].as_array().unwrap().len(), 5);

    // XLSX: a zip archive, written whole.
    let xlsx_path = dir.path().join("out.xlsx");
    vitalis_ok(&[
        "export",
        "--patient",
        &patient,
        "--format",
        "xlsx",
        "--out",
        xlsx_path.to_str().unwrap(),
        "--data-dir",
        data,
    ]);
    let xlsx = std::fs::read(&xlsx_path).unwrap();
    assert_eq!(&xlsx[..4], b"PK\x03\x04");

    // Each export wrote one access-log entry per section.
    let url = format!("sqlite://{}", dir.path().join("vitalis.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let details: Vec<String> = sqlx::query(
        "SELECT detail FROM access_log WHERE patient_id = $1 AND account_id = 'cli' ORDER BY id",
    )
    .bind(&patient)
    .fetch_all(&mut db)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get("detail"))
    .collect();
    assert_eq!(details.len(), 4 * 2, "{details:?}");
    assert!(
        details[0].starts_with("export csv all metrics "),
        "{details:?}"
    );
    assert!(
        details
            .iter()
            .any(|d| d.starts_with("export fhir all metrics and clinical notes"))
    );
    assert!(details.iter().any(|d| d.starts_with("export fhir steps ")));
}

#[tokio::test]
async fn refuses_unknown_patients_formats_and_times() {
    let (dir, patient) = seeded().await;
    let data = dir.path().to_str().unwrap();
    for (args, says) in [
        (
            vec!["--patient", "nobody", "--format", "csv"],
            "no patient nobody",
        ),
        (
            vec!["--patient", &patient, "--format", "pdf"],
            "unknown export format",
        ),
        (
            vec![
                "--patient",
                &patient,
                "--format",
                "csv",
                "--from",
                "yesterday",
            ],
            "is not a time",
        ),
        (
            vec![
                "--patient",
                &patient,
                "--format",
                "csv",
                "--metrics",
                "pulse",
            ],
            "unknown metric",
        ),
        (
            vec![
                "--patient",
                &patient,
                "--format",
                "csv",
                "--from",
                "2016-04-02",
                "--to",
                "2016-04-01",
            ],
            "--from must not be after --to",
        ),
    ] {
        let mut full = vec!["export"];
        full.extend(args);
        full.extend(["--data-dir", data]);
        let out = vitalis(&full);
        assert!(!out.status.success(), "{full:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{full:?}: {stderr}");
    }
}

/// The CAR archive read back by the IPLD project's JavaScript reader (`read-car.mjs`,
/// npm packages `@ipld/car`, `@ipld/dag-cbor`, `multiformats`): every record's payload is
/// a block whose bytes hash to its CID and equal the stored bytes, and the root manifest
/// lists every record with its commitment. Says SKIPPED without Node.js or the packages,
/// unless `VITALIS_REQUIRE_SERVICES=1`.
#[tokio::test]
async fn a_car_archive_reads_back_in_the_ipld_javascript_reader() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let reader_ready = root.join("node_modules/@ipld/car/package.json").exists()
        && std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !reader_ready {
        assert!(
            std::env::var("VITALIS_REQUIRE_SERVICES").as_deref() != Ok("1"),
            "node and the npm package @ipld/car are required (run `npm ci`)"
        );
        eprintln!("SKIPPED: CAR read-back (no node or no @ipld/car; run `npm ci`)");
        return;
    }
    let (dir, patient) = seeded().await;
    let data = dir.path().to_str().unwrap();
    let car_path = dir.path().join("records.car");
    let out = vitalis(&[
        "export",
        "--car",
        "--patient",
        &patient,
        "--out",
        car_path.to_str().unwrap(),
        "--data-dir",
        data,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Two reading records (protected, open) and the clinical note.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("exported 3 records"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let read = std::process::Command::new("node")
        .arg(root.join("crates/cli/tests/car/read-car.mjs"))
        .arg(&car_path)
        .output()
        .unwrap();
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let car: serde_json::Value = serde_json::from_slice(&read.stdout).unwrap();
    let blocks = car["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 1 + 3, "the manifest and three payloads");
    assert_eq!(car["roots"][0], blocks[0]["cid"]);
    assert_eq!(blocks[0]["codec"], 0x71, "the manifest is DAG-CBOR");
    assert!(blocks.iter().all(|b| b["hash_ok"] == true));

    let manifest = &car["manifest"];
    assert_eq!(manifest["patient"], patient.as_str());
    let records = manifest["records"].as_array().unwrap();
    assert_eq!(records.len(), 3);

    // Each payload block is the store's bytes under the store's CID.
    let url = format!("sqlite://{}", dir.path().join("vitalis.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let stored = sqlx::query(
        "SELECT r.seq, r.cid, r.commitment, b.bytes FROM records r \
         JOIN blobs b ON b.cid = r.cid ORDER BY r.seq",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(stored.len(), 3);
    for (row, (record, block)) in stored.iter().zip(records.iter().zip(&blocks[1..])) {
        let cid: String = row.get("cid");
        let bytes: Vec<u8> = row.get("bytes");
        let commitment: Vec<u8> = row.get("commitment");
        assert_eq!(record["seq"], row.get::<i64, _>("seq"));
        assert_eq!(
            record["payload"]["/"],
            cid.as_str(),
            "a link, in DAG-JSON form"
        );
        assert_eq!(record["commitment"], hex::encode(&commitment));
        assert_eq!(block["cid"], cid.as_str());
        assert_eq!(block["codec"], 0x55, "payloads are raw blocks");
        assert_eq!(block["hex"], hex::encode(&bytes));
    }
}
