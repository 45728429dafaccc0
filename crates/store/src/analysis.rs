//! The [`Analysis`] side of the store: per-minute rollups kept up to date at ingest, the
//! patient's profile for analysis, alert rules and the alerts they fired.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use vitalis_model::{DeviceId, Metric, PatientId};

use crate::Result;

/// Length of a rollup bucket: one minute.
pub const ROLLUP_BUCKET_MS: i64 = 60_000;

/// One minute of one scalar metric: enough to merge into hours and days and to give the
/// mean, extremes and spread.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RollupBucket {
    /// Start of the minute (UTC ms).
    pub bucket: i64,
    /// Readings in it.
    pub n: u64,
    /// Their sum.
    pub sum: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Sum of squares.
    pub sum_sq: f64,
}

impl RollupBucket {
    /// The bucket of one value.
    pub fn of(bucket: i64, v: f64) -> RollupBucket {
        RollupBucket {
            bucket,
            n: 1,
            sum: v,
            min: v,
            max: v,
            sum_sq: v * v,
        }
    }

    /// Adds another bucket's readings to this one.
    pub fn merge(&mut self, other: &RollupBucket) {
        self.n += other.n;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.sum_sq += other.sum_sq;
    }

    /// The mean.
    pub fn mean(&self) -> f64 {
        self.sum / self.n.max(1) as f64
    }
}

/// What analysis needs to know about the patient.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Year of birth (for maximal heart rate).
    pub birth_year: Option<i32>,
    /// Sex as the patient gives it (`female`, `male`, `other`).
    pub sex: Option<String>,
    /// Resting heart rate the patient states (else it is measured).
    pub resting_hr: Option<f64>,
}

/// What kind of alert a rule raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A reading above the threshold.
    Above,
    /// A reading below the threshold.
    Below,
    /// A device has not uploaded for `minutes`.
    Offline,
    /// The day's value of a metric is an anomaly against the patient's own baseline.
    Anomaly,
}

impl AlertKind {
    /// Stable stored name.
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::Above => "above",
            AlertKind::Below => "below",
            AlertKind::Offline => "offline",
            AlertKind::Anomaly => "anomaly",
        }
    }

    /// Parses a stored name.
    pub fn from_name(name: &str) -> Option<AlertKind> {
        match name {
            "above" => Some(AlertKind::Above),
            "below" => Some(AlertKind::Below),
            "offline" => Some(AlertKind::Offline),
            "anomaly" => Some(AlertKind::Anomaly),
            _ => None,
        }
    }
}

/// A rule that raises alerts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRule {
    /// Rule id.
    pub id: String,
    /// Whose data it watches.
    pub patient: PatientId,
    /// Kind.
    pub kind: AlertKind,
    /// The metric (threshold rules).
    pub metric: Option<Metric>,
    /// The threshold, in the metric's canonical unit.
    pub threshold: Option<f64>,
    /// Minutes without an upload (offline rules).
    pub minutes: Option<u32>,
    /// Where alerts are also posted (an HTTP URL given by the patient).
    pub webhook: Option<String>,
    /// The account that set it (the patient or a consented clinician).
    pub created_by: String,
    /// When.
    pub created_at: i64,
}

/// An alert that fired.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// Alert id.
    pub id: String,
    /// Whose.
    pub patient: PatientId,
    /// The rule.
    pub rule: String,
    /// Kind.
    pub kind: AlertKind,
    /// Metric, for threshold alerts.
    pub metric: Option<Metric>,
    /// Device, for offline alerts.
    pub device: Option<DeviceId>,
    /// The reading's value (threshold alerts).
    pub value: Option<f64>,
    /// When the reading was taken, or since when the device is silent (UTC ms).
    pub t: i64,
    /// When it fired.
    pub fired_at: i64,
    /// What happened, for people.
    pub message: String,
    /// When someone acknowledged it.
    pub acknowledged_at: Option<i64>,
    /// When its condition ended (offline: the device uploaded again).
    pub resolved_at: Option<i64>,
}

/// A paired device that has been silent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilentDevice {
    /// The device.
    pub device: DeviceId,
    /// Its name.
    pub name: String,
    /// Its last upload, or when it was paired if never (UTC ms).
    pub since: i64,
}

/// Rollups, profiles and alerts.
#[async_trait]
pub trait Analysis: Send + Sync + 'static {
    /// The minute rollups of a patient's metric in `[from, to]`, in time order.
    async fn rollups(
        &self,
        patient: &PatientId,
        metric: Metric,
        from: i64,
        to: i64,
    ) -> Result<Vec<RollupBucket>>;
    /// The same rollups merged into buckets of `width_ms` (a whole number of minutes),
    /// merged by the database: a long range costs one row per wide bucket.
    async fn rollups_grouped(
        &self,
        patient: &PatientId,
        metric: Metric,
        from: i64,
        to: i64,
        width_ms: i64,
    ) -> Result<Vec<RollupBucket>>;
    /// The patient's profile.
    async fn profile(&self, patient: &PatientId) -> Result<Profile>;
    /// Replaces the patient's profile.
    async fn set_profile(&self, patient: &PatientId, profile: &Profile) -> Result<()>;

    /// Stores a rule.
    async fn put_alert_rule(&self, rule: &AlertRule) -> Result<()>;
    /// The patient's live rules.
    async fn alert_rules(&self, patient: &PatientId) -> Result<Vec<AlertRule>>;
    /// Every live rule of `kind`, all patients.
    async fn alert_rules_of_kind(&self, kind: AlertKind) -> Result<Vec<AlertRule>>;
    /// Deletes one of the patient's rules; false if there is none.
    async fn delete_alert_rule(&self, patient: &PatientId, id: &str, at: i64) -> Result<bool>;
    /// Records an alert; false (and nothing stored) when an offline alert for the same rule
    /// and device is still open.
    async fn fire_alert(&self, alert: &Alert) -> Result<bool>;
    /// The patient's alerts, newest first.
    async fn alerts(&self, patient: &PatientId, limit: u32) -> Result<Vec<Alert>>;
    /// Acknowledges one of the patient's alerts; false if there is none.
    async fn acknowledge_alert(&self, patient: &PatientId, id: &str, at: i64) -> Result<bool>;
    /// Closes the open offline alerts of a device that uploaded again; returns how many.
    async fn resolve_offline(&self, device: &DeviceId, at: i64) -> Result<u64>;
    /// The patient's paired, unrevoked devices silent since before `cutoff`.
    async fn silent_devices(&self, patient: &PatientId, cutoff: i64) -> Result<Vec<SilentDevice>>;
}
