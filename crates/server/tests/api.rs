//! End-to-end tests of the Vitalis HTTP API.
//!
//! Every test builds the whole app — a fresh SQLite store in its own temporary directory,
//! the ingest pipeline and the router — and drives it in-process with `oneshot`, or, for
//! the live stream, on a real socket (127.0.0.1:0) with reqwest. Refusals are checked for
//! their exact status and JSON error body, and against the store: a refused upload must
//! leave nothing behind.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tower::ServiceExt;
use vitalis_ingest::{Pipeline, PipelineConfig};
use vitalis_model::{Commitment, PatientId, Timestamp};
use vitalis_server::tokens::{self, DeviceCredentials, PatientCredentials};
use vitalis_server::{ApiConfig, AppState, router};
use vitalis_store::{ReadingQuery, SqlStore, Store};

const UPLOAD: &str = "/api/v1/readings";
/// The server's default body limit (`ApiConfig::default`).
const MAX_BODY: usize = 2 * 1024 * 1024;

// ---------------------------------------------------------------------------------------
// Set-up and helpers
// ---------------------------------------------------------------------------------------

/// The app on a fresh store, and the directory that must outlive it.
struct TestApp {
    app: Router,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

/// A patient with one device.
struct Owner {
    patient: PatientCredentials,
    device: DeviceCredentials,
}

impl Owner {
    /// `/api/v1/patients/{id}/{rest}` for this patient.
    fn path(&self, rest: &str) -> String {
        format!("/api/v1/patients/{}/{rest}", self.patient.patient)
    }
}

/// A response, fully read.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// An error answer: status and the `error` object's code, field and index.
#[derive(Debug, PartialEq)]
struct Refusal {
    status: StatusCode,
    code: String,
    field: Option<String>,
    index: Option<u64>,
}

fn refusal(status: StatusCode, code: &str, field: Option<&str>, index: Option<u64>) -> Refusal {
    Refusal {
        status,
        code: code.to_owned(),
        field: field.map(str::to_owned),
        index,
    }
}

impl TestApp {
    async fn new() -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("v.db").display());
        let key =
            vitalis_crypto::chameleon::ChameleonTrapdoor::generate(&mut rand::rng()).public_key();
        let store: Arc<dyn Store> = Arc::new(SqlStore::open(&url, &key).await.unwrap());
        let pipeline = Pipeline::spawn(store.clone(), PipelineConfig::default());
        let config = ApiConfig::default();
        let app = router(AppState::new(store.clone(), pipeline, config, None, None));
        TestApp {
            app,
            store,
            _dir: dir,
        }
    }

    async fn owner(&self) -> Owner {
        let patient = tokens::add_patient(self.store.as_ref()).await.unwrap();
        let device = tokens::add_device(self.store.as_ref(), &patient.patient)
            .await
            .unwrap();
        Owner { patient, device }
    }

    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = to_bytes(body, usize::MAX).await.unwrap();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    async fn upload(&self, token: &str, key: Option<&str>, body: impl Into<Body>) -> Reply {
        let mut request = upload_request(Some(&format!("Bearer {token}")), body);
        if let Some(key) = key {
            let key = HeaderValue::from_str(key).unwrap();
            request.headers_mut().insert("idempotency-key", key);
        }
        self.send(request).await
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// `GET /api/v1/patients/{id}/{rest}` with the patient's own token.
    async fn read(&self, owner: &Owner, rest: &str) -> Reply {
        self.get(&owner.path(rest), Some(&owner.patient.token))
            .await
    }

    /// How many readings of `patient` the store holds (any time).
    async fn stored_readings(&self, patient: &PatientId) -> usize {
        let query = ReadingQuery {
            patient: patient.clone(),
            metric: None,
            metrics: None,
            sections: None,
            from: Timestamp::new(0).unwrap(),
            to: Timestamp::new(now_ms() + 86_400_000).unwrap(),
            after: None,
            limit: 100_000,
            keys: None,
        };
        self.store.readings(&query).await.unwrap().readings.len()
    }

    async fn head_seq(&self, patient: &PatientId) -> u64 {
        self.store.head(patient).await.unwrap().0
    }
}

fn upload_request(authorization: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut request = Request::post(UPLOAD).header(header::CONTENT_TYPE, "application/json");
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    request.body(body.into()).unwrap()
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{}: body is not JSON ({e}): {}", self.status, self.text()))
    }

    /// The JSON body of a 200 answer.
    fn ok(&self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text());
        self.json()
    }

    /// Checks the body is exactly `{"error":{"code","message","field","index"}}`.
    fn refusal(&self) -> Refusal {
        let content_type = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        assert_eq!(
            content_type,
            Some("application/json"),
            "{}: {}",
            self.status,
            self.text()
        );
        let body = self.json();
        let top = body.as_object().expect("error body is an object");
        assert_eq!(top.keys().collect::<Vec<_>>(), ["error"], "{body}");
        let detail = top["error"].as_object().expect("`error` is an object");
        let mut keys: Vec<&str> = detail.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["code", "field", "index", "message"], "{body}");
        let code = detail["code"].as_str().filter(|c| !c.is_empty());
        let message = detail["message"].as_str().filter(|m| !m.is_empty());
        assert!(code.is_some() && message.is_some(), "{body}");
        let field = match &detail["field"] {
            Value::Null => None,
            Value::String(f) => Some(f.clone()),
            other => panic!("field is {other}"),
        };
        let index = match &detail["index"] {
            Value::Null => None,
            other => Some(other.as_u64().unwrap_or_else(|| panic!("index is {other}"))),
        };
        Refusal {
            status: self.status,
            code: code.unwrap().to_owned(),
            field,
            index,
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn reading(metric: &str, t: i64, value: Value, unit: Option<&str>) -> Value {
    let mut r = json!({ "metric": metric, "t": t, "value": value });
    if let Some(unit) = unit {
        r["unit"] = json!(unit);
    }
    r
}

fn batch(readings: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "readings": readings })).unwrap()
}

/// A reading as the read API must show it: (metric, t, value, canonical unit).
type Expected = (&'static str, i64, Value, &'static str);

/// One reading of each value shape and section, some in alternative units, one second
/// apart from `t0`; with what the read API must show for each.
fn mixed_batch(t0: i64) -> (Vec<Value>, Vec<Expected>) {
    let location = json!({ "lat": 52.52, "lon": 13.405, "accuracy": 5.0 });
    let sent = vec![
        reading("heart_rate", t0, json!(72), None),
        reading("steps", t0 + 1000, json!(120), Some("steps")),
        reading("spo2", t0 + 2000, json!(0.97), Some("1")),
        reading("body_temperature", t0 + 3000, json!(98.6), Some("[degF]")),
        reading("location", t0 + 4000, location.clone(), None),
        reading("sleep_stage", t0 + 5000, json!("rem"), None),
    ];
    let expected = vec![
        ("heart_rate", t0, json!(72.0), "/min"),
        ("steps", t0 + 1000, json!(120.0), "{steps}"),
        ("spo2", t0 + 2000, json!(97.0), "%"),
        ("body_temperature", t0 + 3000, json!(37.0), "Cel"),
        ("location", t0 + 4000, location, "deg"),
        ("sleep_stage", t0 + 5000, json!("rem"), "{stage}"),
    ];
    (sent, expected)
}

/// The section the catalog puts a metric of [`mixed_batch`] in.
fn section_of(metric: &str) -> &'static str {
    if ["steps", "location"].contains(&metric) {
        "open"
    } else {
        "protected"
    }
}

/// Asserts `got` (a reading as the API shows it) matches `want`; numbers to 1e-9.
fn assert_reading(got: &Value, want: &Expected) {
    let (metric, t, value, unit) = want;
    assert_eq!(
        (&got["metric"], &got["t"], &got["unit"]),
        (&json!(metric), &json!(t), &json!(unit))
    );
    match (value.as_f64(), got["value"].as_f64()) {
        (Some(want), Some(have)) => {
            assert!((want - have).abs() < 1e-9, "{metric}: {have} != {want}")
        }
        _ => assert_eq!(&got["value"], value, "{metric}"),
    }
}

/// A fresh app whose one patient has uploaded [`mixed_batch`]; with `t0` and the receipt.
async fn with_mixed_upload() -> (TestApp, Owner, i64, Value) {
    let app = TestApp::new().await;
    let owner = app.owner().await;
    let t0 = now_ms() - 60_000;
    let receipt = app
        .upload(&owner.device.token, None, batch(&mixed_batch(t0).0))
        .await
        .ok();
    (app, owner, t0, receipt)
}

// ---------------------------------------------------------------------------------------
// Refused uploads
// ---------------------------------------------------------------------------------------

/// Sends `request` and asserts it is refused as `want`, and that nothing was stored.
async fn assert_refused(
    app: &TestApp,
    owner: &Owner,
    name: &str,
    request: Request<Body>,
    want: Refusal,
) {
    let reply = app.send(request).await;
    assert!(
        !reply.status.is_server_error(),
        "{name}: {} {}",
        reply.status,
        reply.text()
    );
    assert_eq!(reply.refusal(), want, "{name}: {}", reply.text());
    if want.status == StatusCode::UNAUTHORIZED {
        assert_eq!(
            reply.headers.get(header::WWW_AUTHENTICATE).unwrap(),
            "Bearer",
            "{name}"
        );
    }
    let patient = &owner.patient.patient;
    assert_eq!(
        app.stored_readings(patient).await,
        0,
        "{name}: readings were stored"
    );
    assert_eq!(
        app.head_seq(patient).await,
        0,
        "{name}: a record was stored"
    );
}

/// (case, reading, code, field): readings the server must refuse, each for one reason.
#[rustfmt::skip] // One case per line reads as a table; rustfmt would spread each over six.
fn invalid_readings(t: i64) -> Vec<(&'static str, Value, &'static str, &'static str)> {
    vec![
        ("t as a string", json!({ "metric": "steps", "t": "noon", "value": 1 }), "invalid_field", "t"),
        ("value as an array", json!({ "metric": "steps", "t": t, "value": [1] }), "invalid_field", "value"),
        ("missing field", json!({ "metric": "steps", "t": t }), "invalid_field", "value"),
        ("unknown field", json!({ "metric": "steps", "t": t, "value": 1, "device": "d" }), "invalid_field", "device"),
        ("position for a number", reading("steps", t, json!({ "lat": 1, "lon": 2 }), None), "invalid_value", "value"),
        ("number for a position", reading("location", t, json!(1), None), "invalid_value", "value"),
        ("unknown sleep stage", reading("sleep_stage", t, json!("nap"), None), "invalid_value", "value"),
        ("unknown metric", reading("heart_rat", t, json!(60), None), "unknown_metric", "metric"),
        ("bad unit", reading("heart_rate", t, json!(60), Some("Hz")), "unknown_unit", "unit"),
        ("fraction sent as %", reading("spo2", t, json!(0.97), None), "out_of_range", "value"),
        ("out of range", reading("heart_rate", t, json!(400), None), "out_of_range", "value"),
        ("latitude out of range", reading("location", t, json!({ "lat": 91, "lon": 0 }), None), "out_of_range", "value.lat"),
        ("in the future", reading("steps", now_ms() + 600_000, json!(1), None), "future_timestamp", "t"),
        ("before the epoch", reading("steps", -1, json!(1), None), "invalid_timestamp", "t"),
    ]
}

#[tokio::test]
async fn invalid_readings_are_refused_by_index_and_field() {
    let app = TestApp::new().await;
    let owner = app.owner().await;
    let t = now_ms() - 5_000;
    let ok = reading("heart_rate", t, json!(60), None);
    // Each goes second, after a valid reading, so that a partial store would show.
    for (name, bad, code, field) in invalid_readings(t) {
        let request = upload_request(
            Some(&format!("Bearer {}", owner.device.token)),
            batch(&[ok.clone(), bad]),
        );
        let want = refusal(StatusCode::UNPROCESSABLE_ENTITY, code, Some(field), Some(1));
        assert_refused(&app, &owner, name, request, want).await;
    }
}

/// Which credentials a refused request sends.
#[derive(Clone, Copy)]
enum Auth {
    Device,
    Patient,
    /// A raw `Authorization` header value.
    Header(&'static str),
    Missing,
}

struct BadRequest {
    name: &'static str,
    auth: Auth,
    key: Option<HeaderValue>,
    body: Vec<u8>,
    want: Refusal,
}

fn bad_body(name: &'static str, body: Vec<u8>, want: Refusal) -> BadRequest {
    BadRequest {
        name,
        auth: Auth::Device,
        key: None,
        body,
        want,
    }
}

/// Requests the upload must refuse before reading a reading, each for one reason.
#[rustfmt::skip] // One case per line reads as a table; rustfmt would spread each over six.
fn bad_requests(t: i64) -> Vec<BadRequest> {
    use StatusCode as S;
    let ok = reading("heart_rate", t, json!(60), None);
    let valid = batch(std::slice::from_ref(&ok));
    let malformed = || refusal(S::BAD_REQUEST, "malformed_json", None, None);
    let invalid_field = |field| refusal(S::UNPROCESSABLE_ENTITY, "invalid_field", Some(field), None);
    let unauthorized = |name, auth| BadRequest {
        auth,
        ..bad_body(name, valid.clone(), refusal(S::UNAUTHORIZED, "unauthorized", Some("Authorization"), None))
    };
    let bad_key = |name, key| BadRequest {
        key: Some(key),
        ..bad_body(name, valid.clone(), refusal(S::BAD_REQUEST, "invalid_idempotency_key", Some("Idempotency-Key"), None))
    };
    // Valid JSON padded with whitespace: only the size limit can refuse it.
    let mut padded = valid.clone();
    padded.resize(MAX_BODY + 1, b' ');
    vec![
        bad_body("truncated JSON", format!(r#"{{"readings":[{ok},{{"metric":"#).into(), malformed()),
        bad_body("a second document", format!(r#"{{"readings":[{ok}]}} {{"readings":[]}}"#).into(), malformed()),
        bad_body("not JSON at all", b"readings=1".to_vec(), malformed()),
        bad_body("unknown batch field", format!(r#"{{"readings":[{ok}],"patient":"p"}}"#).into(), invalid_field("patient")),
        bad_body("readings not a list", br#"{"readings":{}}"#.to_vec(), invalid_field("readings")),
        bad_body("no readings field", b"{}".to_vec(), invalid_field("readings")),
        bad_body("empty batch", batch(&[]), refusal(S::UNPROCESSABLE_ENTITY, "empty_batch", Some("readings"), None)),
        bad_body("10,001 readings", batch(&vec![ok; 10_001]), refusal(S::PAYLOAD_TOO_LARGE, "batch_too_large", Some("readings"), None)),
        bad_body("body over 2 MiB", padded, refusal(S::PAYLOAD_TOO_LARGE, "body_too_large", None, None)),
        unauthorized("no token", Auth::Missing),
        unauthorized("unknown token", Auth::Header("Bearer vtd_not-a-token")),
        unauthorized("basic credentials", Auth::Header("Basic dXNlcjpwdw==")),
        unauthorized("empty bearer token", Auth::Header("Bearer ")),
        unauthorized("patient token on the upload", Auth::Patient),
        bad_key("key with a space", HeaderValue::from_static("two words")),
        bad_key("empty key", HeaderValue::from_static("")),
        bad_key("key of 129 characters", HeaderValue::from_str(&"k".repeat(129)).unwrap()),
        bad_key("non-ASCII key", HeaderValue::from_bytes("café".as_bytes()).unwrap()),
    ]
}

#[tokio::test]
async fn refused_requests_name_the_fault_and_store_nothing() {
    let app = TestApp::new().await;
    let owner = app.owner().await;
    let t = now_ms() - 5_000;
    for case in bad_requests(t) {
        let authorization = match case.auth {
            Auth::Device => Some(format!("Bearer {}", owner.device.token)),
            Auth::Patient => Some(format!("Bearer {}", owner.patient.token)),
            Auth::Header(value) => Some(value.to_owned()),
            Auth::Missing => None,
        };
        let mut request = upload_request(authorization.as_deref(), case.body);
        if let Some(key) = case.key {
            request.headers_mut().insert("idempotency-key", key);
        }
        assert_refused(&app, &owner, case.name, request, case.want).await;
    }
    // The refusals were about the requests: the same device can still upload.
    let valid = batch(&[reading("steps", t, json!(1), None)]);
    app.upload(&owner.device.token, None, valid).await.ok();
}

// ---------------------------------------------------------------------------------------
// Accepted uploads and the read path
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn accepted_upload_is_readable_in_canonical_units() {
    let (app, owner, t0, receipt) = with_mixed_upload().await;
    assert_eq!(
        (&receipt["accepted"], &receipt["duplicates"]),
        (&json!(6), &json!(0))
    );
    assert_eq!(receipt["replayed"], json!(false));
    let records = receipt["records"].as_array().unwrap();
    let summary: Vec<_> = records
        .iter()
        .map(|r| (&r["seq"], &r["section"], &r["readings"]))
        .collect();
    assert_eq!(
        summary,
        [
            (&json!(1), &json!("protected"), &json!(4)),
            (&json!(2), &json!("open"), &json!(2))
        ]
    );

    let all = app.read(&owner, "readings").await.ok();
    assert_eq!(all["patient"], json!(owner.patient.patient.as_str()));
    assert!(all.get("next").is_none(), "{all}");
    let readings = all["readings"].as_array().unwrap();
    let expected = mixed_batch(t0).1;
    assert_eq!(readings.len(), expected.len(), "{all}");
    for (got, want) in readings.iter().zip(&expected) {
        assert_reading(got, want);
        assert_eq!(got["device"], json!(owner.device.device.as_str()));
        let record = if section_of(want.0) == "protected" {
            &records[0]
        } else {
            &records[1]
        };
        assert_eq!(got["record"], record["id"], "{got}");
    }
}

#[tokio::test]
async fn readings_filter_by_metric_and_time_and_page() {
    let (app, owner, t0, _) = with_mixed_upload().await;
    let expected = mixed_batch(t0).1;
    let metrics = |page: &Value| -> Vec<String> {
        page["readings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["metric"].as_str().unwrap().to_owned())
            .collect()
    };

    let spo2 = app.read(&owner, "readings?metric=spo2").await.ok();
    assert_eq!(metrics(&spo2), ["spo2"]);
    assert_reading(&spo2["readings"][0], &expected[2]);

    // Both ends inclusive.
    let window = app
        .read(
            &owner,
            &format!("readings?from={}&to={}", t0 + 1000, t0 + 3000),
        )
        .await
        .ok();
    assert_eq!(metrics(&window), ["steps", "spo2", "body_temperature"]);

    // Pages of two, following `next`, give back exactly the full list, then stop.
    let all = app.read(&owner, "readings").await.ok();
    let (mut paged, mut pages) = (Vec::new(), Vec::new());
    let mut rest = "readings?limit=2".to_owned();
    while pages.len() < 4 {
        let page = app.read(&owner, &rest).await.ok();
        pages.push(metrics(&page).len());
        paged.extend(page["readings"].as_array().unwrap().iter().cloned());
        let Some(next) = page.get("next").and_then(Value::as_str) else {
            break;
        };
        rest = format!("readings?limit=2&after={next}");
    }
    assert_eq!(pages, [2, 2, 2]);
    assert_eq!(&Value::Array(paged), &all["readings"]);
}

#[tokio::test]
async fn read_path_is_the_patients_own() {
    let (app, owner, _, _) = with_mixed_upload().await;
    let stranger = app.owner().await;
    for rest in ["readings", "records", "live"] {
        let path = owner.path(rest);
        let other = app
            .get(&path, Some(&stranger.patient.token))
            .await
            .refusal();
        assert_eq!(
            other,
            refusal(StatusCode::FORBIDDEN, "not_own_data", None, None),
            "{path}"
        );
        let unauthorized = refusal(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            Some("Authorization"),
            None,
        );
        let anonymous = app.get(&path, None).await;
        assert_eq!(anonymous.refusal(), unauthorized, "{path}");
        assert_eq!(
            anonymous.headers.get(header::WWW_AUTHENTICATE).unwrap(),
            "Bearer"
        );
        let device = app.get(&path, Some(&owner.device.token)).await.refusal();
        let code = if rest == "live" {
            "not_own_data"
        } else {
            "not_permitted"
        };
        assert_eq!(
            device,
            refusal(StatusCode::FORBIDDEN, code, None, None),
            "{path}: a device token may not read"
        );
    }
}

#[tokio::test]
async fn read_path_refusals_name_the_parameter() {
    let app = TestApp::new().await;
    let owner = app.owner().await;
    let cases = [
        ("readings?metric=pulse", "unknown_metric", "metric"),
        ("readings?limit=0", "invalid_parameter", "limit"),
        ("readings?limit=10001", "invalid_parameter", "limit"),
        ("readings?after=not-a-cursor", "invalid_parameter", "after"),
        ("readings?from=yesterday", "invalid_parameter", "from"),
        ("readings?from=2000&to=1000", "invalid_parameter", "from"),
        ("readings?to=-1", "invalid_parameter", "to"),
        ("records?after_seq=first", "invalid_parameter", "after_seq"),
        // axum's own rejections, which used to answer in plain text.
        ("readings?limit=1&limit=2", "invalid_parameter", "query"),
        (
            "records?after_seq=1&after_seq=2",
            "invalid_parameter",
            "query",
        ),
    ];
    for (rest, code, field) in cases {
        let reply = app.read(&owner, rest).await;
        assert_eq!(
            reply.refusal(),
            refusal(StatusCode::BAD_REQUEST, code, Some(field), None),
            "{rest}"
        );
    }
    for rest in ["readings", "records", "live"] {
        let path = format!("/api/v1/patients/%FF/{rest}");
        let reply = app.get(&path, Some(&owner.patient.token)).await;
        let want = refusal(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            Some("id"),
            None,
        );
        assert_eq!(reply.refusal(), want, "{path}");
    }
}

#[tokio::test]
async fn records_form_a_chain() {
    let (app, owner, _, receipt) = with_mixed_upload().await;
    let chain = app.read(&owner, "records").await.ok();
    let records = chain["records"].as_array().unwrap();
    assert_eq!(records.len(), 2, "{chain}");
    assert_eq!(
        (&records[0]["seq"], &records[1]["seq"]),
        (&json!(1), &json!(2))
    );
    assert_eq!(records[0]["prev"], json!(Commitment::GENESIS.to_hex()));
    assert_eq!(
        records[1]["prev"], records[0]["commitment"],
        "seq 2 does not link to seq 1"
    );
    for (record, stored) in records.iter().zip(receipt["records"].as_array().unwrap()) {
        for key in ["id", "section", "readings", "cid", "commitment"] {
            assert_eq!(record[key], stored[key], "{key}");
        }
        assert_eq!(record["source"], json!(owner.device.device.as_str()));
    }
    let later = app.read(&owner, "records?after_seq=1").await.ok();
    assert_eq!(later["records"].as_array().unwrap().len(), 1);
    assert_eq!(later["records"][0], records[1]);
}

#[tokio::test]
async fn repeated_uploads_are_stored_once() {
    let app = TestApp::new().await;
    let owner = app.owner().await;
    let (patient, token) = (&owner.patient.patient, &owner.device.token);
    let body = batch(&mixed_batch(now_ms() - 60_000).0);

    let first = app
        .upload(token, Some("upload-0001"), body.clone())
        .await
        .ok();
    assert_eq!(
        (&first["accepted"], &first["replayed"]),
        (&json!(6), &json!(false))
    );

    // Same key: the first receipt again, nothing new stored.
    let again = app
        .upload(token, Some("upload-0001"), body.clone())
        .await
        .ok();
    assert_eq!(again["replayed"], json!(true));
    assert_eq!(
        (&again["records"], &again["accepted"]),
        (&first["records"], &first["accepted"])
    );
    assert_eq!(
        (
            app.stored_readings(patient).await,
            app.head_seq(patient).await
        ),
        (6, 2)
    );

    // Same readings, no key: every one a duplicate, no record.
    let plain = app.upload(token, None, body).await.ok();
    assert_eq!(
        plain,
        json!({ "records": [], "accepted": 0, "duplicates": 6, "replayed": false, "upload_interval_s": 60 })
    );
    assert_eq!(
        (
            app.stored_readings(patient).await,
            app.head_seq(patient).await
        ),
        (6, 2)
    );
}

// ---------------------------------------------------------------------------------------
// Live stream
// ---------------------------------------------------------------------------------------

/// Serves `app` on an ephemeral port until the test's runtime ends.
async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Reads Server-Sent Events frames off a streaming response.
struct EventReader {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

impl EventReader {
    /// The next named event as (event, data); skips comments such as keep-alives.
    async fn next(&mut self) -> (String, String) {
        loop {
            while let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let frame: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let frame = String::from_utf8(frame).expect("event frame is UTF-8");
                let (mut event, mut data) = (None, Vec::new());
                for line in frame.lines() {
                    if let Some(name) = line.strip_prefix("event:") {
                        event = Some(name.trim().to_owned());
                    } else if let Some(d) = line.strip_prefix("data:") {
                        data.push(d.strip_prefix(' ').unwrap_or(d));
                    }
                }
                if let Some(event) = event {
                    return (event, data.join("\n"));
                }
            }
            let chunk = self.response.chunk().await.expect("reading the stream");
            self.buffer
                .extend_from_slice(&chunk.expect("the stream ended"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_stream_carries_only_the_patients_own_uploads() {
    let app = TestApp::new().await;
    let (alice, bob) = (app.owner().await, app.owner().await);
    let base = format!("http://{}", serve(app.app.clone()).await);
    let client = reqwest::Client::new();

    let live = format!("{base}{}", alice.path("live"));
    let response = client
        .get(live)
        .bearer_auth(&alice.patient.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    // The head arrives after the handler has subscribed: every later upload is on the bus.
    let mut events = EventReader {
        response,
        buffer: Vec::new(),
    };

    let t0 = now_ms() - 60_000;
    let (alice_batch, expected) = mixed_batch(t0);
    for (owner, body) in [
        (&bob, batch(&[reading("heart_rate", t0, json!(99), None)])),
        (&alice, batch(&alice_batch)),
    ] {
        let upload = client
            .post(format!("{base}{UPLOAD}"))
            .bearer_auth(&owner.device.token);
        let reply = upload
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), reqwest::StatusCode::OK);
    }

    let (event, data) = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("no live event within 10 s");
    assert_eq!(event, "readings", "{data}");
    let data: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(
        data["device"],
        json!(alice.device.device.as_str()),
        "first event is not Alice's: {data}"
    );
    let mut got = data["readings"].as_array().unwrap().clone();
    got.sort_by_key(|r| r["t"].as_i64());
    assert_eq!(got.len(), expected.len(), "{data}");
    for (got, want) in got.iter().zip(&expected) {
        assert_reading(got, want);
        assert_eq!(got["section"], json!(section_of(want.0)), "{got}");
    }
}

// ---------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_json() {
    let app = TestApp::new().await;
    assert_eq!(
        app.get("/api/v1/health", None).await.ok(),
        json!({ "status": "ok" })
    );

    for path in ["/nope", "/api/v1/nope", "/api/v2/readings"] {
        let reply = app.get(path, None).await;
        assert_eq!(
            reply.refusal(),
            refusal(StatusCode::NOT_FOUND, "not_found", None, None),
            "{path}"
        );
    }
    for (method, path) in [
        (Method::GET, UPLOAD),
        (Method::PUT, UPLOAD),
        (Method::POST, "/api/v1/patients/p/readings"),
        (Method::DELETE, "/api/v1/health"),
    ] {
        let request = Request::builder()
            .method(method.clone())
            .uri(path)
            .body(Body::empty())
            .unwrap();
        let reply = app.send(request).await;
        let want = refusal(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            None,
            None,
        );
        assert_eq!(reply.refusal(), want, "{method} {path}");
    }
}

// ---------------------------------------------------------------------------------------
// Fuzzing
// ---------------------------------------------------------------------------------------

/// Bytes that steer mutations into JSON's structure rather than only into garbage.
const JSON_BYTES: &[u8] = b"{}[]\",:-.0123456789eE \\nultrfas\x00\xff";

/// One to three random byte flips, truncations or insertions.
fn mutate(rng: &mut StdRng, body: &mut Vec<u8>) {
    for _ in 0..rng.random_range(1..=3) {
        let at = rng.random_range(0..=body.len());
        match rng.random_range(0..4) {
            0 if at < body.len() => body[at] ^= rng.random_range(1..=255u8),
            1 => body.truncate(at),
            2 => body.insert(at, JSON_BYTES[rng.random_range(0..JSON_BYTES.len())]),
            _ => body.insert(at, rng.random()),
        }
    }
}

#[tokio::test]
async fn mutated_uploads_never_fail_the_server() {
    let app = TestApp::new().await;
    let owner = app.owner().await;
    let t0 = now_ms() - 60_000;
    let valid = batch(&mixed_batch(t0).0);
    let mut rng = StdRng::seed_from_u64(0x5eed_7a11);
    let mut refused = 0;
    for round in 0..300 {
        let mut body = valid.clone();
        mutate(&mut rng, &mut body);
        let reply = app.upload(&owner.device.token, None, body.clone()).await;
        let input = String::from_utf8_lossy(&body);
        assert!(
            !reply.status.is_server_error(),
            "round {round}: {} for {input}",
            reply.status
        );
        if reply.status != StatusCode::OK {
            refused += 1;
            let Refusal { status, code, .. } = reply.refusal();
            assert!(
                status.is_client_error(),
                "round {round}: {status} ({code}) for {input}"
            );
        }
    }
    assert!(
        refused > 0,
        "no mutation was refused: the mutator does nothing"
    );
    // The writer survived all of it.
    let fresh = batch(&[reading("steps", t0 + 30_000, json!(7), None)]);
    app.upload(&owner.device.token, None, fresh).await.ok();
}
