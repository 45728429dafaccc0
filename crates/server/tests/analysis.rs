//! Analysis through the API: chart series from the rollups kept at ingest, the day summary
//! on real Fitbit heart-rate data, and alerts — thresholds on arrival, device silence on
//! time and across a restart, delivered to a webhook and the live stream.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use vitalis_crypto::chameleon::{ChameleonPublicKey, ChameleonTrapdoor};
use vitalis_ingest::alerts::{AlertConfig, Alerter};
use vitalis_ingest::{Pipeline, PipelineConfig};
use vitalis_model::{Metric, PatientId, Reading, Section, Timestamp, Value as V};
use vitalis_server::tokens::{self, DeviceCredentials, PatientCredentials};
use vitalis_server::{ApiConfig, AppState, router};
use vitalis_store::analysis::{AlertKind, AlertRule};
use vitalis_store::{NewBatch, SqlStore, Store};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

struct App {
    app: Router,
    store: Arc<dyn Store>,
    alerter: Alerter,
    patient: PatientCredentials,
    device: DeviceCredentials,
    dir: tempfile::TempDir,
    key: ChameleonPublicKey,
}

async fn open(dir: &tempfile::TempDir, key: &ChameleonPublicKey) -> Arc<dyn Store> {
    let url = format!("sqlite://{}", dir.path().join("v.db").display());
    Arc::new(SqlStore::open(&url, key).await.unwrap())
}

impl App {
    async fn new() -> App {
        let dir = tempfile::tempdir().unwrap();
        let key = ChameleonTrapdoor::generate(&mut rand::rng()).public_key();
        let store = open(&dir, &key).await;
        let pipeline = Pipeline::spawn(store.clone(), PipelineConfig::default());
        let alerter = Alerter::new(
            store.clone(),
            AlertConfig {
                offline_check: Duration::from_millis(100),
                ..AlertConfig::default()
            },
        );
        alerter.clone().spawn(&pipeline);
        let app = router(
            AppState::new(store.clone(), pipeline, ApiConfig::default(), None, None)
                .with_alerter(alerter.clone()),
        );
        let patient = tokens::add_patient(store.as_ref()).await.unwrap();
        let device = tokens::add_device(store.as_ref(), &patient.patient)
            .await
            .unwrap();
        App {
            app,
            store,
            alerter,
            patient,
            device,
            dir,
            key,
        }
    }

    async fn call(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.map(|b| Body::from(b.to_string())).unwrap_or_default())
            .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    fn path(&self, rest: &str) -> String {
        format!("/api/v1/patients/{}/{rest}", self.patient.patient)
    }

    /// Stores readings as the device's, received at `received_at`.
    async fn store_readings(&self, readings: Vec<Reading>, received_at: i64) {
        let (protected, open): (Vec<_>, Vec<_>) = readings
            .into_iter()
            .partition(|r| r.metric().spec().default_section == Section::Protected);
        for chunk in [protected, open] {
            if chunk.is_empty() {
                continue;
            }
            let section = chunk[0].metric().spec().default_section;
            for part in chunk.chunks(10_000) {
                self.store
                    .append(vec![NewBatch {
                        patient: self.patient.patient.clone(),
                        device: self.device.device.clone(),
                        idempotency_key: None,
                        parts: vec![(section, part.to_vec())],
                        received_at: Timestamp::new(received_at).unwrap(),
                        seal: None,
                    }])
                    .await
                    .unwrap();
            }
        }
    }
}

fn hr(t: i64, bpm: f64) -> Reading {
    let now = Timestamp::new(now_ms()).unwrap();
    Reading::new(
        Metric::HeartRate,
        Timestamp::new(t).unwrap(),
        V::Scalar(bpm),
        now,
    )
    .unwrap()
}

#[tokio::test]
async fn wide_series_come_from_the_minute_rollups_and_narrow_ones_from_the_readings() {
    let app = App::new().await;
    // Three hours at 1 Hz, a saw tooth so every minute has a known mean.
    let start = (now_ms() - 4 * 3_600_000) / 60_000 * 60_000;
    let readings: Vec<Reading> = (0..3 * 3600)
        .map(|i| hr(start + i * 1000, 60.0 + (i % 60) as f64))
        .collect();
    app.store_readings(readings, now_ms()).await;

    let token = &app.patient.token;
    let wide = format!(
        "series?metric=heart_rate&from={start}&to={}&points=100",
        start + 3 * 3_600_000
    );
    let (status, body) = app.call(token, Method::GET, &app.path(&wide), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // 3 hours over 100 points: 108 s a point, so one-minute buckets.
    assert_eq!(body["source"], "rollup_means");
    assert_eq!(body["source_points"], 180, "one rollup per minute");
    let points = body["points"].as_array().unwrap();
    assert_eq!(points.len(), 100);
    // Every minute holds 60..=119, so every minute's mean is 89.5.
    assert!(
        points
            .iter()
            .all(|p| (p[1].as_f64().unwrap() - 89.5).abs() < 1e-9),
        "{body}"
    );
    let first_wide = points[0].clone();

    let narrow = format!(
        "series?metric=heart_rate&from={start}&to={}&points=1000",
        start + 599_000
    );
    let (_, body) = app.call(token, Method::GET, &app.path(&narrow), None).await;
    assert_eq!(body["source"], "readings");
    assert_eq!(body["source_points"], 600);
    assert_eq!(
        body["points"].as_array().unwrap().len(),
        600,
        "fewer readings than points: all of them"
    );

    // A duplicate upload does not count twice in the rollups.
    app.store_readings(vec![hr(start, 60.0)], now_ms()).await;
    let (_, again) = app.call(token, Method::GET, &app.path(&wide), None).await;
    assert_eq!(again["points"][0], first_wide);
    let (status, bad) = app
        .call(
            token,
            Method::GET,
            &app.path("series?metric=heart_rate&points=1"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(bad["error"]["field"], "points");
}

/// Fitbit's `M/D/YYYY h:mm:ss AM` as UTC milliseconds (the sample has no zone; UTC here).
fn fitbit_time(text: &str) -> i64 {
    let (date, rest) = text.split_once(' ').unwrap();
    let (clock, half) = rest.rsplit_once(' ').unwrap();
    let d: Vec<i64> = date.split('/').map(|p| p.parse().unwrap()).collect();
    let c: Vec<i64> = clock.split(':').map(|p| p.parse().unwrap()).collect();
    let hour = c[0] % 12 + if half == "PM" { 12 } else { 0 };
    // Days from the civil date (Hinnant's algorithm), March-based year.
    let (y, m) = if d[0] <= 2 {
        (d[2] - 1, d[0] + 9)
    } else {
        (d[2], d[0] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[1] - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 24 + hour) * 60 + c[1]) * 60_000 + c[2] * 1000
}

#[tokio::test]
async fn the_day_summary_of_real_fitbit_heart_rate() {
    let app = App::new().await;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/fitbit_mturk_2016/heartrate_seconds_subsets/weronikakr_Real-Time-Analysis/heartrate_seconds_merged.csv"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let rows: Vec<(i64, f64)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (fitbit_time(f[1]), f[2].parse().unwrap())
        })
        .collect();
    let day_start = fitbit_time("4/1/2016 12:00:00 AM");
    let of_day: Vec<f64> = rows
        .iter()
        .filter(|(t, _)| *t >= day_start && *t < day_start + 86_400_000)
        .map(|(_, v)| *v)
        .collect();
    app.store_readings(rows.iter().map(|(t, v)| hr(*t, *v)).collect(), now_ms())
        .await;
    app.call(
        &app.patient.token,
        Method::PUT,
        &app.path("profile"),
        Some(json!({ "birth_year": 1980 })),
    )
    .await;

    let (status, body) = app
        .call(
            &app.patient.token,
            Method::GET,
            &app.path("summary?day=2016-04-01"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let summary = &body["metrics"]["heart_rate"]["summary"];
    assert_eq!(
        summary["count"],
        of_day.len(),
        "every reading of the day, counted independently"
    );
    let (min, max) = of_day
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
    assert_eq!(
        (
            summary["min"].as_f64().unwrap(),
            summary["max"].as_f64().unwrap()
        ),
        (min, max)
    );
    let mean = of_day.iter().sum::<f64>() / of_day.len() as f64;
    assert!((summary["mean"].as_f64().unwrap() - mean).abs() < 1e-9);
    let resting = body["resting_heart_rate"]["bpm"].as_f64().unwrap();
    assert!((40.0..=100.0).contains(&resting), "resting {resting}");
    // Karvonen zones from the profile: ordered, inside [resting, HRmax].
    let zones = body["heart_rate_zones"].as_array().unwrap();
    assert_eq!(zones.len(), 5);
    let bounds: Vec<f64> = zones
        .iter()
        .map(|z| z["lower_bpm"].as_f64().unwrap())
        .collect();
    assert!(
        bounds.windows(2).all(|w| w[0] < w[1]) && bounds[0] > resting,
        "{zones:?}"
    );
    let text = body["text"].as_str().unwrap();
    assert!(text.contains("2016-04-01"), "{text}");
    assert!(!body["facts"].as_array().unwrap().is_empty());
    assert!(!text.contains("NaN"));
    // A day without data is a defined, empty answer.
    let (status, empty) = app
        .call(
            &app.patient.token,
            Method::GET,
            &app.path("summary?day=2016-06-01"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(empty["metrics"].as_object().unwrap().is_empty());
}

#[tokio::test]
async fn a_threshold_alert_fires_once_per_batch_reaches_the_webhook_and_is_acknowledged() {
    let app = App::new().await;
    // A webhook receiver on 127.0.0.1.
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = received.clone();
    let hook = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(v);
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, hook).await.unwrap() });

    let token = &app.patient.token;
    let (status, rule) = app
        .call(token, Method::POST, &app.path("alert-rules"),
            Some(json!({ "kind": "above", "metric": "heart_rate", "threshold": 150, "webhook": hook_url })))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    let (status, bad) = app
        .call(
            token,
            Method::POST,
            &app.path("alert-rules"),
            Some(json!({ "kind": "above", "metric": "heart_rate", "threshold": 900 })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(bad["error"]["field"], "threshold");

    let mut live = app.alerter.subscribe();
    let t = now_ms() - 10_000;
    let upload = json!({ "readings": [
        { "metric": "heart_rate", "t": t, "value": 120 },
        { "metric": "heart_rate", "t": t + 1000, "value": 171 },
        { "metric": "heart_rate", "t": t + 2000, "value": 165 },
    ]});
    let (status, _) = app
        .call(
            &app.device.token,
            Method::POST,
            "/api/v1/readings",
            Some(upload),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let alert = tokio::time::timeout(Duration::from_secs(5), live.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (alert.kind, alert.value),
        (AlertKind::Above, Some(171.0)),
        "the worst reading"
    );
    let (_, list) = app
        .call(token, Method::GET, &app.path("alerts"), None)
        .await;
    assert_eq!(
        list["alerts"].as_array().unwrap().len(),
        1,
        "one alert for the batch"
    );
    for _ in 0..50 {
        if !received.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(received.lock().unwrap()[0]["value"], 171.0);
    let id = list["alerts"][0]["id"].as_str().unwrap();
    let (status, _) = app
        .call(
            token,
            Method::POST,
            &app.path(&format!("alerts/{id}/acknowledge")),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = app
        .call(token, Method::GET, &app.path("alerts"), None)
        .await;
    assert!(list["alerts"][0]["acknowledged_at"].is_i64());
}

#[tokio::test]
async fn device_offline_alerts_fire_on_time_once_and_survive_a_restart() {
    let app = App::new().await;
    let patient: PatientId = app.patient.patient.clone();
    // The watch last uploaded 10 minutes ago.
    app.store_readings(vec![hr(now_ms() - 600_000, 70.0)], now_ms() - 600_000)
        .await;
    let rule = AlertRule {
        id: "rule-offline".into(),
        patient: patient.clone(),
        kind: AlertKind::Offline,
        metric: None,
        threshold: None,
        minutes: Some(5),
        webhook: None,
        created_by: "test".into(),
        created_at: now_ms(),
    };
    app.store.put_alert_rule(&rule).await.unwrap();

    // "Restart": a fresh store handle and alerter on the same database, which never saw the
    // device go silent, fires at its first check.
    let (dir, key) = (app.dir, app.key);
    drop(app.app);
    let store = open(&dir, &key).await;
    let alerter = Alerter::new(store.clone(), AlertConfig::default());
    let fired = alerter.check_offline().await.unwrap();
    assert_eq!(fired.len(), 1);
    assert!(
        fired[0].message.contains("has not uploaded for 10 minutes"),
        "{}",
        fired[0].message
    );
    assert!(
        alerter.check_offline().await.unwrap().is_empty(),
        "once per silence"
    );
    let again = Alerter::new(open(&dir, &key).await, AlertConfig::default());
    assert!(
        again.check_offline().await.unwrap().is_empty(),
        "still once after another restart"
    );

    // The device uploads: the alert closes; a new silence fires again.
    let batch = vitalis_ingest::LiveBatch {
        patient: patient.clone(),
        device: app.device.device.clone(),
        readings: Vec::new(),
    };
    alerter.on_batch(&batch).await.unwrap();
    let alerts = store.alerts(&patient, 10).await.unwrap();
    assert!(alerts[0].resolved_at.is_some());
    assert_eq!(
        alerter.check_offline().await.unwrap().len(),
        1,
        "the last upload is still old"
    );
}

#[tokio::test]
async fn an_anomaly_alert_fires_once_a_day_against_the_patients_own_baseline() {
    let app = App::new().await;
    let day = 86_400_000;
    let today = now_ms() / day * day;
    // Twenty ordinary days around 60-64 bpm (an hour of minutes each), then today at 118.
    let mut readings = Vec::new();
    for d in 1..=20 {
        for m in 0..60 {
            readings.push(hr(
                today - d * day + 3_600_000 + m * 60_000,
                60.0 + (d % 5) as f64,
            ));
        }
    }
    let early_today = (now_ms() - 30 * 60_000).max(today);
    for m in 0..10 {
        readings.push(hr(early_today + m * 1000, 118.0));
    }
    app.store_readings(readings, now_ms()).await;
    let (status, rule) = app
        .call(
            &app.patient.token,
            Method::POST,
            &app.path("alert-rules"),
            Some(json!({ "kind": "anomaly", "metric": "heart_rate" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    let fired = app.alerter.check_anomalies().await.unwrap();
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].value, Some(118.0));
    assert!(fired[0].message.contains("unusual"), "{}", fired[0].message);
    assert!(
        app.alerter.check_anomalies().await.unwrap().is_empty(),
        "once a day"
    );
}

#[tokio::test]
async fn the_day_summary_includes_the_night_that_ended_on_it() {
    let app = App::new().await;
    let day_ms = 86_400_000;
    let day_start = (now_ms() / day_ms - 1) * day_ms; // yesterday, UTC
    let hour = 3_600_000;
    let night = [
        (day_start - 2 * hour, "light"),
        (day_start - hour, "deep"),
        (day_start + hour, "rem"),
        (day_start + 2 * hour, "light"),
        (day_start + 4 * hour + hour / 2, "awake"),
        (day_start + 5 * hour, "light"),
        (day_start + 6 * hour, "awake"),
    ];
    let readings: Vec<Value> = night
        .iter()
        .map(|(t, stage)| json!({ "metric": "sleep_stage", "t": t, "value": stage }))
        .collect();
    let (status, body) = app
        .call(
            &app.device.token,
            Method::POST,
            "/api/v1/readings",
            Some(json!({ "readings": readings })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let day = {
        let days = day_start / day_ms;
        // Civil date of `days` since the epoch (Hinnant), for the query.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        format!("{y:04}-{m:02}-{d:02}")
    };
    let (status, summary) = app
        .call(
            &app.patient.token,
            Method::GET,
            &app.path(&format!("summary?day={day}")),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    let sleep = &summary["sleep"];
    // One episode: light 1 h, deep 2 h, rem 1 h, light 2.5 h, awake 0.5 h, light 1 h; the
    // final "awake" only ends it. Asleep 7.5 h of 8 h in bed.
    assert_eq!(sleep["episodes"], 1, "{sleep}");
    assert_eq!(sleep["asleep_ms"], 15 * hour / 2, "{sleep}");
    let efficiency = sleep["efficiency"].as_f64().unwrap();
    assert!((efficiency - 7.5 / 8.0).abs() < 1e-9, "{efficiency}");
}
