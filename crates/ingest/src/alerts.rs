//! Alerts: the rules patients (or their consented clinicians) set, evaluated as readings
//! arrive and as time passes, fired once into the store, and delivered to the live stream
//! and to an optional webhook.
//!
//! - Threshold rules (`above` / `below` a value of a metric) are checked against every
//!   stored batch on the live bus; a batch fires at most one alert per rule (its most
//!   extreme reading), so a burst does not flood the patient.
//! - Offline rules ("no upload for N minutes") are checked on a timer against each device's
//!   last upload as the store has it, so they fire on time whether or not the server was
//!   running when the device went silent, and once per silence: an open offline alert is
//!   unique per rule and device in the store, and closes when the device uploads again.
//!
//! - Anomaly rules are checked on the same timer: the metric's daily values (from the
//!   store's minute rollups; totals for steps, means otherwise) of the last 31 days, and
//!   today's judged against the 30 before it with the modified z-score (Iglewicz &
//!   Hoaglin 1993; `vitalis_analytics::daily_anomalies`); at most one alert per rule and
//!   day.
//!
//! Webhooks get `POST` with the alert as JSON, three tries with a pause between; a
//! webhook that keeps failing is logged and never holds up other alerts.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;
use vitalis_model::{Reading, Value};
use vitalis_store::Store;
use vitalis_store::analysis::{Alert, AlertKind, AlertRule};

use crate::pipeline::{LiveBatch, Pipeline};

/// How often offline rules are checked.
#[derive(Debug, Clone, Copy)]
pub struct AlertConfig {
    /// Time between offline checks.
    pub offline_check: Duration,
    /// Timeout of one webhook call.
    pub webhook_timeout: Duration,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            offline_check: Duration::from_secs(15),
            webhook_timeout: Duration::from_secs(5),
        }
    }
}

/// Evaluates rules and delivers alerts.
#[derive(Clone)]
pub struct Alerter {
    store: Arc<dyn Store>,
    config: AlertConfig,
    fired: broadcast::Sender<Arc<Alert>>,
    http: reqwest::Client,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn new_id() -> String {
    format!("al{}", uuid::Uuid::now_v7().simple())
}

/// The reading of `readings` that breaks `rule` the most, if any does.
pub fn breach<'a>(
    rule: &AlertRule,
    readings: impl Iterator<Item = &'a Reading>,
) -> Option<(i64, f64)> {
    let (metric, threshold) = (rule.metric?, rule.threshold?);
    let mut worst: Option<(i64, f64)> = None;
    for r in readings.filter(|r| r.metric() == metric) {
        let Value::Scalar(v) = r.value() else {
            continue;
        };
        let breaks = match rule.kind {
            AlertKind::Above => v > threshold,
            AlertKind::Below => v < threshold,
            AlertKind::Offline | AlertKind::Anomaly => false,
        };
        let worse = match (rule.kind, worst) {
            (_, None) => true,
            (AlertKind::Above, Some((_, w))) => v > w,
            (_, Some((_, w))) => v < w,
        };
        if breaks && worse {
            worst = Some((r.t().millis(), v));
        }
    }
    worst
}

impl Alerter {
    /// An alerter over `store`.
    pub fn new(store: Arc<dyn Store>, config: AlertConfig) -> Alerter {
        let (fired, _) = broadcast::channel(1024);
        Alerter {
            store,
            config,
            fired,
            http: reqwest::Client::builder()
                .timeout(config.webhook_timeout)
                .build()
                .unwrap_or_default(),
        }
    }

    /// Alerts as they fire (for the live stream).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Alert>> {
        self.fired.subscribe()
    }

    /// Checks one stored batch against its patient's threshold rules, and closes the
    /// device's open offline alerts. Returns the alerts fired.
    pub async fn on_batch(&self, batch: &LiveBatch) -> vitalis_store::Result<Vec<Alert>> {
        let now = now_ms();
        self.store.resolve_offline(&batch.device, now).await?;
        let mut fired = Vec::new();
        for rule in self.store.alert_rules(&batch.patient).await? {
            if matches!(rule.kind, AlertKind::Offline | AlertKind::Anomaly) {
                continue;
            }
            let Some((t, value)) = breach(&rule, batch.readings.iter().map(|(_, r)| r)) else {
                continue;
            };
            let metric = rule.metric.map(|m| m.spec());
            let alert = Alert {
                id: new_id(),
                patient: batch.patient.clone(),
                rule: rule.id.clone(),
                kind: rule.kind,
                metric: rule.metric,
                device: Some(batch.device.clone()),
                value: Some(value),
                t,
                fired_at: now,
                message: format!(
                    "{} {} {} {} (limit {} {})",
                    metric.map(|m| m.label).unwrap_or("value"),
                    value,
                    metric.map(|m| m.unit).unwrap_or(""),
                    if rule.kind == AlertKind::Above {
                        "is above the limit"
                    } else {
                        "is below the limit"
                    },
                    rule.threshold.unwrap_or_default(),
                    metric.map(|m| m.unit).unwrap_or(""),
                ),
                acknowledged_at: None,
                resolved_at: None,
            };
            if self.store.fire_alert(&alert).await? {
                self.deliver(&rule, &alert);
                fired.push(alert);
            }
        }
        Ok(fired)
    }

    /// Checks every offline rule now; returns the alerts fired.
    pub async fn check_offline(&self) -> vitalis_store::Result<Vec<Alert>> {
        let now = now_ms();
        let mut fired = Vec::new();
        for rule in self.store.alert_rules_of_kind(AlertKind::Offline).await? {
            let minutes = i64::from(rule.minutes.unwrap_or(60));
            let cutoff = now - minutes * 60_000;
            for silent in self.store.silent_devices(&rule.patient, cutoff).await? {
                let alert = Alert {
                    id: new_id(),
                    patient: rule.patient.clone(),
                    rule: rule.id.clone(),
                    kind: AlertKind::Offline,
                    metric: None,
                    device: Some(silent.device.clone()),
                    value: None,
                    t: silent.since,
                    fired_at: now,
                    message: format!(
                        "device {:?} has not uploaded for {} minutes (limit {minutes})",
                        silent.name,
                        (now - silent.since) / 60_000
                    ),
                    acknowledged_at: None,
                    resolved_at: None,
                };
                if self.store.fire_alert(&alert).await? {
                    self.deliver(&rule, &alert);
                    fired.push(alert);
                }
            }
        }
        Ok(fired)
    }

    /// Checks every anomaly rule against today's value (UTC day); returns the alerts fired.
    pub async fn check_anomalies(&self) -> vitalis_store::Result<Vec<Alert>> {
        use vitalis_analytics::{AnomalyConfig, Day, UtcOffset, daily_anomalies};
        let now = now_ms();
        let today = Day::containing(now, UtcOffset::UTC);
        let mut fired = Vec::new();
        for rule in self.store.alert_rules_of_kind(AlertKind::Anomaly).await? {
            let Some(metric) = rule.metric else { continue };
            let buckets = self
                .store
                .rollups_grouped(
                    &rule.patient,
                    metric,
                    today.start_ms(UtcOffset::UTC) - 30 * 86_400_000,
                    now,
                    86_400_000,
                )
                .await?;
            let daily: Vec<(Day, f64)> = buckets
                .iter()
                .map(|b| {
                    let value = if metric == vitalis_model::Metric::Steps {
                        b.sum
                    } else {
                        b.mean()
                    };
                    (Day::containing(b.bucket, UtcOffset::UTC), value)
                })
                .collect();
            let Some(anomaly) = daily_anomalies(&daily, &AnomalyConfig::default())
                .into_iter()
                .find(|a| a.day == today)
            else {
                continue;
            };
            let spec = metric.spec();
            let alert = Alert {
                // One per rule and day: the id says which.
                id: format!("an-{}-{today}", rule.id),
                patient: rule.patient.clone(),
                rule: rule.id.clone(),
                kind: AlertKind::Anomaly,
                metric: Some(metric),
                device: None,
                value: Some(anomaly.value),
                t: now,
                fired_at: now,
                message: format!(
                    "{} today is {:.1} {}, unusual against the last 30 days (modified z-score {:.1})",
                    spec.label, anomaly.value, spec.unit, anomaly.score
                ),
                acknowledged_at: None,
                resolved_at: None,
            };
            if self.store.fire_alert(&alert).await? {
                self.deliver(&rule, &alert);
                fired.push(alert);
            }
        }
        Ok(fired)
    }

    fn deliver(&self, rule: &AlertRule, alert: &Alert) {
        tracing::info!(alert = %alert.id, patient = %alert.patient, kind = alert.kind.name(), "alert fired");
        let alert = Arc::new(alert.clone());
        let _ = self.fired.send(alert.clone());
        if let Some(url) = rule.webhook.clone() {
            let http = self.http.clone();
            tokio::spawn(async move {
                for attempt in 1..=3 {
                    match http.post(&url).json(alert.as_ref()).send().await {
                        Ok(r) if r.status().is_success() => return,
                        Ok(r) => {
                            tracing::warn!(status = %r.status(), attempt, "alert webhook refused")
                        }
                        Err(e) => tracing::warn!(error = %e, attempt, "alert webhook unreachable"),
                    }
                    tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
                }
            });
        }
    }

    /// Runs the evaluation: threshold rules on every batch of `pipeline`, offline rules on
    /// the configured timer. Stops when the task is aborted.
    pub fn spawn(self, pipeline: &Pipeline) -> tokio::task::JoinHandle<()> {
        let mut batches = pipeline.subscribe();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(self.config.offline_check);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    batch = batches.recv() => match batch {
                        Ok(batch) => {
                            if let Err(e) = self.on_batch(&batch).await {
                                tracing::warn!(error = %e, "checking alert rules failed");
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(missed)) => {
                            tracing::warn!(missed, "alert evaluation fell behind; skipped batches");
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    _ = ticks.tick() => {
                        if let Err(e) = self.check_offline().await {
                            tracing::warn!(error = %e, "checking offline rules failed");
                        }
                        if let Err(e) = self.check_anomalies().await {
                            tracing::warn!(error = %e, "checking anomaly rules failed");
                        }
                    }
                }
            }
        })
    }
}
