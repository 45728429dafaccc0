//! The [`Analysis`] of [`SqlStore`]: rollups written inside the append transaction, the
//! profile columns of `patients`, `alert_rules` and `alerts`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use vitalis_model::{DeviceId, Metric, PatientId, Reading, Value};

use crate::analysis::{
    Alert, AlertKind, AlertRule, Analysis, Profile, ROLLUP_BUCKET_MS, RollupBucket, SilentDevice,
};
use crate::sealing::{group_minutes, merge_minutes};
use crate::sql::{Backend, SqlStore, corrupt};
use crate::{Result, StoreError};

/// Rows per multi-row rollup upsert (8 parameters each).
const ROLLUP_CHUNK: usize = 500;

/// The minute buckets of a record's scalar readings.
pub(crate) fn buckets_of(readings: &[Reading]) -> BTreeMap<(Metric, i64), RollupBucket> {
    let mut out: BTreeMap<(Metric, i64), RollupBucket> = BTreeMap::new();
    for r in readings {
        let Value::Scalar(v) = r.value() else {
            continue;
        };
        let bucket = r.t().millis().div_euclid(ROLLUP_BUCKET_MS) * ROLLUP_BUCKET_MS;
        let one = RollupBucket::of(bucket, v);
        out.entry((r.metric(), bucket))
            .and_modify(|b| b.merge(&one))
            .or_insert(one);
    }
    out
}

impl SqlStore {
    /// Adds a record's readings to the patient's minute rollups (inside the append
    /// transaction, so rollups and readings never disagree).
    pub(crate) async fn add_to_rollups(
        &self,
        conn: &mut AnyConnection,
        patient: &PatientId,
        readings: &[Reading],
    ) -> Result<()> {
        let buckets: Vec<_> = buckets_of(readings).into_iter().collect();
        let (least, greatest) = match self.backend {
            Backend::Sqlite => ("min", "max"),
            Backend::Postgres => ("LEAST", "GREATEST"),
        };
        for chunk in buckets.chunks(ROLLUP_CHUNK) {
            let sql = format!(
                "INSERT INTO rollups (patient_id, metric, bucket, n, sum, min, max, sum_sq) \
                 VALUES {} ON CONFLICT (patient_id, metric, bucket) DO UPDATE SET \
                 n = rollups.n + excluded.n, sum = rollups.sum + excluded.sum, \
                 min = {least}(rollups.min, excluded.min), max = {greatest}(rollups.max, excluded.max), \
                 sum_sq = rollups.sum_sq + excluded.sum_sq",
                crate::sql::sequential_placeholders(self.backend, 8, chunk.len())
            );
            let mut insert = sqlx::query(&sql);
            for ((metric, _), b) in chunk {
                insert = insert
                    .bind(patient.as_str())
                    .bind(metric.name())
                    .bind(b.bucket)
                    .bind(b.n as i64)
                    .bind(b.sum)
                    .bind(b.min)
                    .bind(b.max)
                    .bind(b.sum_sq);
            }
            insert.execute(&mut *conn).await?;
        }
        Ok(())
    }
}

fn rule_from(row: &AnyRow) -> Result<AlertRule> {
    let kind: String = row.try_get("kind")?;
    Ok(AlertRule {
        id: row.try_get("id")?,
        patient: PatientId::new(row.try_get::<String, _>("patient_id")?).map_err(corrupt)?,
        kind: AlertKind::from_name(&kind).ok_or_else(|| corrupt(format!("alert kind {kind}")))?,
        metric: row
            .try_get::<Option<String>, _>("metric")?
            .map(|m| m.parse::<Metric>().map_err(corrupt))
            .transpose()?,
        threshold: row.try_get("threshold")?,
        minutes: row
            .try_get::<Option<i64>, _>("minutes")?
            .map(|m| u32::try_from(m).map_err(corrupt))
            .transpose()?,
        webhook: row.try_get("webhook")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
    })
}

fn alert_from(row: &AnyRow) -> Result<Alert> {
    let kind: String = row.try_get("kind")?;
    Ok(Alert {
        id: row.try_get("id")?,
        patient: PatientId::new(row.try_get::<String, _>("patient_id")?).map_err(corrupt)?,
        rule: row.try_get("rule_id")?,
        kind: AlertKind::from_name(&kind).ok_or_else(|| corrupt(format!("alert kind {kind}")))?,
        metric: row
            .try_get::<Option<String>, _>("metric")?
            .map(|m| m.parse::<Metric>().map_err(corrupt))
            .transpose()?,
        device: row
            .try_get::<Option<String>, _>("device_id")?
            .map(|d| DeviceId::new(d).map_err(corrupt))
            .transpose()?,
        value: row.try_get("value")?,
        t: row.try_get("t")?,
        fired_at: row.try_get("fired_at")?,
        message: row.try_get("message")?,
        acknowledged_at: row.try_get("acknowledged_at")?,
        resolved_at: row.try_get("resolved_at")?,
    })
}

const RULE_COLUMNS: &str =
    "id, patient_id, kind, metric, threshold, minutes, webhook, created_by, created_at";

#[async_trait]
impl Analysis for SqlStore {
    async fn rollups(
        &self,
        patient: &PatientId,
        metric: Metric,
        from: i64,
        to: i64,
    ) -> Result<Vec<RollupBucket>> {
        let rows = sqlx::query(
            "SELECT bucket, n, sum, min, max, sum_sq FROM rollups \
             WHERE patient_id = $1 AND metric = $2 AND bucket >= $3 AND bucket <= $4 \
             ORDER BY bucket",
        )
        .bind(patient.as_str())
        .bind(metric.name())
        .bind(from.div_euclid(ROLLUP_BUCKET_MS) * ROLLUP_BUCKET_MS)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        let plain = rows
            .iter()
            .map(|r| {
                Ok(RollupBucket {
                    bucket: r.try_get("bucket")?,
                    n: r.try_get::<i64, _>("n")? as u64,
                    sum: r.try_get("sum")?,
                    min: r.try_get("min")?,
                    max: r.try_get("max")?,
                    sum_sq: r.try_get("sum_sq")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let sealed = self.sealed_minutes(patient, metric, from, to).await?;
        if sealed.is_empty() {
            return Ok(plain);
        }
        Ok(merge_minutes(plain.into_iter().chain(sealed))
            .into_values()
            .collect())
    }

    async fn rollups_grouped(
        &self,
        patient: &PatientId,
        metric: Metric,
        from: i64,
        to: i64,
        width_ms: i64,
    ) -> Result<Vec<RollupBucket>> {
        let width = (width_ms / ROLLUP_BUCKET_MS).max(1) * ROLLUP_BUCKET_MS;
        let rows = sqlx::query(
            "SELECT (bucket / $5) * $5 AS start, SUM(n) AS n, SUM(sum) AS sum, MIN(min) AS min, \
             MAX(max) AS max, SUM(sum_sq) AS sum_sq FROM rollups \
             WHERE patient_id = $1 AND metric = $2 AND bucket >= $3 AND bucket <= $4 \
             GROUP BY (bucket / $5) ORDER BY start",
        )
        .bind(patient.as_str())
        .bind(metric.name())
        .bind(from.div_euclid(ROLLUP_BUCKET_MS) * ROLLUP_BUCKET_MS)
        .bind(to)
        .bind(width)
        .fetch_all(&self.pool)
        .await?;
        let plain = rows
            .iter()
            .map(|r| {
                Ok(RollupBucket {
                    bucket: r.try_get("start")?,
                    n: r.try_get::<i64, _>("n")? as u64,
                    sum: r.try_get("sum")?,
                    min: r.try_get("min")?,
                    max: r.try_get("max")?,
                    sum_sq: r.try_get("sum_sq")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let sealed = self.sealed_minutes(patient, metric, from, to).await?;
        if sealed.is_empty() {
            return Ok(plain);
        }
        // Sealed minutes are grouped here as the database grouped the plain ones.
        let mut grouped = group_minutes(sealed, width);
        for b in plain {
            grouped
                .entry(b.bucket)
                .and_modify(|g| g.merge(&b))
                .or_insert(b);
        }
        Ok(grouped.into_values().collect())
    }

    async fn profile(&self, patient: &PatientId) -> Result<Profile> {
        let row = sqlx::query("SELECT birth_year, sex, resting_hr FROM patients WHERE id = $1")
            .bind(patient.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::UnknownPatient(patient.to_string()))?;
        Ok(Profile {
            birth_year: row
                .try_get::<Option<i64>, _>("birth_year")?
                .map(|y| i32::try_from(y).map_err(corrupt))
                .transpose()?,
            sex: row.try_get("sex")?,
            resting_hr: row.try_get("resting_hr")?,
        })
    }

    async fn set_profile(&self, patient: &PatientId, profile: &Profile) -> Result<()> {
        sqlx::query("UPDATE patients SET birth_year = $1, sex = $2, resting_hr = $3 WHERE id = $4")
            .bind(profile.birth_year.map(i64::from))
            .bind(profile.sex.clone())
            .bind(profile.resting_hr)
            .bind(patient.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn put_alert_rule(&self, rule: &AlertRule) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO alert_rules ({RULE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(rule.id.as_str())
        .bind(rule.patient.as_str())
        .bind(rule.kind.name())
        .bind(rule.metric.map(|m| m.name().to_owned()))
        .bind(rule.threshold)
        .bind(rule.minutes.map(i64::from))
        .bind(rule.webhook.clone())
        .bind(rule.created_by.as_str())
        .bind(rule.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn alert_rules(&self, patient: &PatientId) -> Result<Vec<AlertRule>> {
        let rows = sqlx::query(&format!(
            "SELECT {RULE_COLUMNS} FROM alert_rules WHERE patient_id = $1 AND deleted_at IS NULL \
             ORDER BY created_at, id"
        ))
        .bind(patient.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rule_from).collect()
    }

    async fn alert_rules_of_kind(&self, kind: AlertKind) -> Result<Vec<AlertRule>> {
        let rows = sqlx::query(&format!(
            "SELECT {RULE_COLUMNS} FROM alert_rules WHERE kind = $1 AND deleted_at IS NULL \
             ORDER BY patient_id, created_at, id"
        ))
        .bind(kind.name())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rule_from).collect()
    }

    async fn delete_alert_rule(&self, patient: &PatientId, id: &str, at: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE alert_rules SET deleted_at = $1 WHERE id = $2 AND patient_id = $3 \
             AND deleted_at IS NULL",
        )
        .bind(at)
        .bind(id)
        .bind(patient.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn fire_alert(&self, a: &Alert) -> Result<bool> {
        let result = sqlx::query(
            "INSERT INTO alerts (id, patient_id, rule_id, kind, metric, device_id, value, t, \
             fired_at, message) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(a.id.as_str())
        .bind(a.patient.as_str())
        .bind(a.rule.as_str())
        .bind(a.kind.name())
        .bind(a.metric.map(|m| m.name().to_owned()))
        .bind(a.device.as_ref().map(|d| d.to_string()))
        .bind(a.value)
        .bind(a.t)
        .bind(a.fired_at)
        .bind(a.message.as_str())
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_database_error()
                    .is_some_and(|d| d.kind() == sqlx::error::ErrorKind::UniqueViolation) =>
            {
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn alerts(&self, patient: &PatientId, limit: u32) -> Result<Vec<Alert>> {
        let rows = sqlx::query(
            "SELECT * FROM alerts WHERE patient_id = $1 ORDER BY fired_at DESC, id LIMIT $2",
        )
        .bind(patient.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(alert_from).collect()
    }

    async fn acknowledge_alert(&self, patient: &PatientId, id: &str, at: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE alerts SET acknowledged_at = $1 WHERE id = $2 AND patient_id = $3 \
             AND acknowledged_at IS NULL",
        )
        .bind(at)
        .bind(id)
        .bind(patient.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn resolve_offline(&self, device: &DeviceId, at: i64) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE alerts SET resolved_at = $1 WHERE device_id = $2 AND kind = 'offline' \
             AND resolved_at IS NULL",
        )
        .bind(at)
        .bind(device.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn silent_devices(&self, patient: &PatientId, cutoff: i64) -> Result<Vec<SilentDevice>> {
        let rows = sqlx::query(
            "SELECT id, name, COALESCE(last_upload_at, created_at) AS since FROM devices \
             WHERE patient_id = $1 AND kind = 'device' AND revoked_at IS NULL \
             AND COALESCE(last_upload_at, created_at) < $2 ORDER BY id",
        )
        .bind(patient.as_str())
        .bind(cutoff)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SilentDevice {
                    device: DeviceId::new(r.try_get::<String, _>("id")?).map_err(corrupt)?,
                    name: r.try_get("name")?,
                    since: r.try_get("since")?,
                })
            })
            .collect()
    }
}
