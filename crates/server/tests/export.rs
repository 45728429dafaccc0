//! The export route end to end: the real router over a fresh SQLite store (no ledger), a
//! patient signed up through the API, readings uploaded by their device, and
//! `GET /api/v1/patients/{id}/export` in each format, with its filters, refusals and
//! access-log entries.

use std::io::Read;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use vitalis_ingest::{Pipeline, PipelineConfig};
use vitalis_model::{ClinicalNote, ENCODING_CLINICAL_V1, LabResult, PatientId, Section, Timestamp};
use vitalis_server::tokens;
use vitalis_server::{ApiConfig, AppState, router};
use vitalis_store::{NewDocument, SqlStore, Store};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
}

struct App {
    app: Router,
    store: Arc<dyn Store>,
    patient: PatientId,
    /// The patient's session cookie.
    cookie: String,
    device: Option<tokens::DeviceCredentials>,
    _dir: tempfile::TempDir,
}

impl App {
    async fn new() -> App {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("v.db").display());
        let key =
            vitalis_crypto::chameleon::ChameleonTrapdoor::generate(&mut rand::rng()).public_key();
        let store: Arc<dyn Store> = Arc::new(SqlStore::open(&url, &key).await.unwrap());
        let pipeline = Pipeline::spawn(store.clone(), PipelineConfig::default());
        let app = router(AppState::new(
            store.clone(),
            pipeline,
            ApiConfig::default(),
            None,
            None,
        ));
        let mut app = App {
            app,
            store,
            patient: PatientId::new("none").unwrap(),
            cookie: String::new(),
            device: None,
            _dir: dir,
        };
        let signup = app
            .call(
                None,
                Method::POST,
                "/api/v1/auth/signup",
                Some(json!({
                    "role": "patient", "email": "kim@example.org",
                    "password": "a long enough password", "name": "Kim",
                })),
            )
            .await;
        assert_eq!(signup.status, StatusCode::CREATED);
        app.cookie = signup
            .header(header::SET_COOKIE)
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        app.patient =
            PatientId::new(signup.json()["account"]["patient_id"].as_str().unwrap()).unwrap();
        app.device = Some(
            tokens::add_device(app.store.as_ref(), &app.patient)
                .await
                .unwrap(),
        );
        app
    }

    fn device(&self) -> &tokens::DeviceCredentials {
        self.device.as_ref().unwrap()
    }

    async fn call(
        &self,
        auth: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        match auth {
            Some(token) if token.contains('=') => request = request.header(header::COOKIE, token),
            Some(token) => {
                request = request.header(header::AUTHORIZATION, format!("Bearer {token}"))
            }
            None => {}
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: to_bytes(body, usize::MAX).await.unwrap(),
        }
    }

    async fn export(&self, query: &str) -> Reply {
        let path = format!("/api/v1/patients/{}/export?{query}", self.patient);
        self.call(Some(&self.cookie.clone()), Method::GET, &path, None)
            .await
    }

    async fn upload(&self, readings: Vec<Value>) {
        let reply = self
            .call(
                Some(&self.device().token),
                Method::POST,
                "/api/v1/readings",
                Some(json!({ "readings": readings })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.json());
    }
}

/// 6 000 heart-rate readings one second apart (more than one store page of the export),
/// 3 blood-pressure pairs and one lone systolic, steps, a location and a sleep stage:
/// 6 012 readings from `t0` on.
fn readings(t0: i64) -> Vec<Value> {
    let mut out: Vec<Value> = (0..6000)
        .map(|i| json!({"metric": "heart_rate", "t": t0 + i * 1000, "value": 60 + i % 40}))
        .collect();
    for i in 0..3 {
        let t = t0 + i * 60_000;
        out.push(json!({"metric": "blood_pressure_systolic", "t": t, "value": 120 + i}));
        out.push(json!({"metric": "blood_pressure_diastolic", "t": t, "value": 80 - i}));
    }
    out.push(json!({"metric": "blood_pressure_systolic", "t": t0 + 500, "value": 131}));
    out.push(json!({"metric": "steps", "t": t0, "value": 42}));
    out.push(json!({"metric": "steps", "t": t0 + 60_000, "value": 17}));
    out.push(
        json!({"metric": "location", "t": t0, "value": {"lat": 52.1, "lon": 5.1, "accuracy": 8}}),
    );
    out.push(json!({"metric": "sleep_stage", "t": t0, "value": "deep"}));
    out
}

#[tokio::test]
async fn exports_stream_every_reading_in_each_format_and_are_logged() {
    let app = App::new().await;
    let t0 = now_ms() - 3 * 3_600_000;
    let all = readings(t0);
    let n = all.len();
    for chunk in all.chunks(1000) {
        app.upload(chunk.to_vec()).await;
    }
    // A clinical note, as a hospital's write stores it.
    let note = ClinicalNote {
        t: t0 + 10_000,
        institution: "hosp".into(),
        results: vec![LabResult {
            loinc: "2345-7".into(),
            display: "Glucose".into(),
            value: 5.4,
            unit: "mmol/L".into(),
        }],
        note: "fasting".into(),
    };
    app.store
        .append_document(NewDocument {
            patient: app.patient.clone(),
            source: app.device().device.clone(),
            section: Section::Protected,
            encoding: ENCODING_CLINICAL_V1,
            t: Timestamp::new(note.t).unwrap(),
            payload: note.encode(),
            received_at: Timestamp::new(now_ms()).unwrap(),
            seal: None,
        })
        .await
        .unwrap();

    // CSV: the header and one CRLF line per reading, in time order.
    let csv = app.export("format=csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(
        csv.header(header::CONTENT_TYPE),
        "text/csv; charset=utf-8; header=present"
    );
    assert_eq!(
        csv.header(header::CONTENT_DISPOSITION),
        format!("attachment; filename=\"vitalis-{}.csv\"", app.patient)
    );
    let text = String::from_utf8(csv.body.to_vec()).unwrap();
    let lines: Vec<&str> = text.split_terminator("\r\n").collect();
    assert_eq!(
        lines[0],
        "time_utc,metric,value,unit,source,lat,lon,accuracy"
    );
    assert_eq!(lines.len(), n + 1);
    assert!(
        lines
            .iter()
            .any(|l| l.contains(",location,,deg,") && l.ends_with(",52.1,5.1,8"))
    );
    let times: Vec<&str> = lines[1..].iter().map(|l| &l[..24]).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order");

    // FHIR: one Observation per reading less the three pairs, plus the lab result.
    let fhir = app.export("format=fhir").await;
    assert_eq!(fhir.status, StatusCode::OK);
    assert_eq!(
        fhir.header(header::CONTENT_TYPE),
        "application/fhir+json; fhirVersion=4.0"
    );
    let bundle = fhir.json();
    assert_eq!(bundle["resourceType"], "Bundle");
    let entries = bundle["entry"].as_array().unwrap();
    assert_eq!(entries.len(), n - 3 + 1);
    let codes: Vec<&str> = entries
        .iter()
        .map(|e| e["resource"]["code"]["coding"][0]["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes.iter().filter(|c| **c == "85354-9").count(), 3);
    assert_eq!(codes.iter().filter(|c| **c == "2345-7").count(), 1);
    assert_eq!(
        entries[0]["resource"]["subject"]["reference"],
        format!("Patient/{}", app.patient)
    );

    // XLSX: a workbook with one sheet per metric.
    let xlsx = app.export("format=xlsx").await;
    assert_eq!(xlsx.status, StatusCode::OK);
    assert_eq!(
        xlsx.header(header::CONTENT_TYPE),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(xlsx.body.to_vec())).unwrap();
    let mut book = String::new();
    zip.by_name("xl/workbook.xml")
        .unwrap()
        .read_to_string(&mut book)
        .unwrap();
    for sheet in ["heart_rate", "steps", "blood_pressure_systolic", "location"] {
        assert!(book.contains(&format!("name=\"{sheet}\"")), "{sheet}");
    }

    // Every export was logged before it was sent (the patient's own reads of the open
    // section are not logged; of the protected section they are).
    let log = app
        .store
        .access_log(Some(&app.patient), None, 100)
        .await
        .unwrap();
    let exports: Vec<&str> = log
        .iter()
        .map(|e| e.entry.detail.as_str())
        .filter(|d| d.starts_with("export "))
        .collect();
    assert_eq!(exports.len(), 3, "{exports:?}");
    assert!(
        exports
            .iter()
            .any(|d| d.starts_with("export fhir all metrics and clinical notes"))
    );
}

#[tokio::test]
async fn filters_by_metric_and_time() {
    let app = App::new().await;
    let t0 = now_ms() - 3 * 3_600_000;
    for chunk in readings(t0).chunks(1000) {
        app.upload(chunk.to_vec()).await;
    }
    let iso = |ms: i64| vitalis_export::time::iso8601(Timestamp::new(ms).unwrap());

    let steps = app.export("format=csv&metrics=steps").await;
    let text = String::from_utf8(steps.body.to_vec()).unwrap();
    assert_eq!(text.split_terminator("\r\n").count(), 1 + 2);

    // Both forms of time: milliseconds and ISO 8601; bounds inclusive.
    let query = format!(
        "format=csv&metrics=heart_rate,steps&from={}&to={}",
        t0 + 10_000,
        iso(t0 + 60_000)
    );
    let window = app.export(&query).await;
    assert_eq!(window.status, StatusCode::OK);
    let text = String::from_utf8(window.body.to_vec()).unwrap();
    // Heart rate at 10 s … 60 s and the steps at 60 s.
    assert_eq!(text.split_terminator("\r\n").count(), 1 + 51 + 1);

    // A filter on blood pressure alone still pairs.
    let bp = app
        .export("format=fhir&metrics=blood_pressure_systolic,blood_pressure_diastolic")
        .await;
    assert_eq!(bp.json()["entry"].as_array().unwrap().len(), 4);

    // An empty range is an empty, valid export.
    let empty = app.export("format=fhir&from=1000&to=2000").await;
    assert_eq!(
        empty.json(),
        json!({"resourceType": "Bundle", "type": "collection"})
    );
}

#[tokio::test]
async fn refusals_name_the_parameter() {
    let app = App::new().await;
    for (query, code, field) in [
        ("", "invalid_parameter", "format"),
        ("format=pdf", "invalid_parameter", "format"),
        ("format=csv&metrics=pulse", "unknown_metric", "metrics"),
        ("format=csv&metrics=,", "invalid_parameter", "metrics"),
        ("format=csv&from=yesterday", "invalid_parameter", "from"),
        ("format=csv&from=2000&to=1000", "invalid_parameter", "from"),
    ] {
        let reply = app.export(query).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        let error = &reply.json()["error"];
        assert_eq!(error["code"], code, "{query}");
        assert_eq!(error["field"], field, "{query}");
    }
    // Nobody, and another patient, get nothing.
    let path = format!("/api/v1/patients/{}/export?format=csv", app.patient);
    let anonymous = app.call(None, Method::GET, &path, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let other = tokens::add_patient(app.store.as_ref()).await.unwrap();
    let stranger = app.call(Some(&other.token), Method::GET, &path, None).await;
    assert_eq!(
        stranger.status,
        StatusCode::FORBIDDEN,
        "{:?}",
        stranger.json()
    );
    // The refused requests were not logged as exports.
    let log = app
        .store
        .access_log(Some(&app.patient), None, 100)
        .await
        .unwrap();
    assert!(log.iter().all(|e| !e.entry.detail.starts_with("export ")));
}
