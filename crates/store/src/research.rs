//! Researchers' dataset requests (`dataset_requests`, `dataset_answers`): a study asks
//! the node's patients for consent to some metrics and sections until a date; each
//! patient accepts (by granting that consent on the ledger, whose grant id is kept) or
//! declines, once.

use serde::Serialize;
use sqlx::Row;
use vitalis_model::{Metric, PatientId};

use crate::sql::{SqlStore, corrupt, new_id, now_ms};
use crate::{Result, StoreError};

/// A request to store.
#[derive(Debug, Clone)]
pub struct NewDatasetRequest {
    /// The research institution.
    pub institution: String,
    /// The study's title.
    pub title: String,
    /// What the data is for.
    pub purpose: String,
    /// Metrics asked for; empty: every metric of the sections.
    pub metrics: Vec<Metric>,
    /// Section bits (open 1, protected 2).
    pub sections: u8,
    /// Until when consent is asked (UTC ms).
    pub expires_at: i64,
}

/// A stored request with its answers counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatasetRequest {
    /// Id.
    pub id: String,
    /// The research institution.
    pub institution: String,
    /// Title.
    pub title: String,
    /// Purpose.
    pub purpose: String,
    /// Metrics (empty: all of the sections).
    pub metrics: Vec<Metric>,
    /// Section bits (open 1, protected 2).
    pub sections: u8,
    /// Until when consent is asked (UTC ms).
    pub expires_at: i64,
    /// Made (UTC ms).
    pub created_at: i64,
    /// Patients who accepted.
    pub accepted: u64,
    /// Patients who declined.
    pub declined: u64,
}

/// A patient's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetAnswer {
    /// Consent granted (the grant's id kept with it).
    Accepted,
    /// Refused.
    Declined,
}

impl DatasetAnswer {
    fn name(self) -> &'static str {
        match self {
            DatasetAnswer::Accepted => "accepted",
            DatasetAnswer::Declined => "declined",
        }
    }

    fn from_name(name: &str) -> Option<DatasetAnswer> {
        match name {
            "accepted" => Some(DatasetAnswer::Accepted),
            "declined" => Some(DatasetAnswer::Declined),
            _ => None,
        }
    }
}

const REQUEST_COLUMNS: &str = "r.id, r.institution_id, r.title, r.purpose, r.metrics, r.sections, \
     r.expires_at, r.created_at, \
     (SELECT COUNT(*) FROM dataset_answers a WHERE a.request_id = r.id AND a.answer = 'accepted') AS accepted, \
     (SELECT COUNT(*) FROM dataset_answers a WHERE a.request_id = r.id AND a.answer = 'declined') AS declined";

fn request_from(row: &sqlx::any::AnyRow) -> Result<DatasetRequest> {
    Ok(DatasetRequest {
        id: row.try_get("id")?,
        institution: row.try_get("institution_id")?,
        title: row.try_get("title")?,
        purpose: row.try_get("purpose")?,
        metrics: row
            .try_get::<String, _>("metrics")?
            .split_whitespace()
            .map(|m| m.parse::<Metric>().map_err(corrupt))
            .collect::<Result<_>>()?,
        sections: u8::try_from(row.try_get::<i64, _>("sections")?).map_err(corrupt)?,
        expires_at: row.try_get("expires_at")?,
        created_at: row.try_get("created_at")?,
        accepted: row.try_get::<i64, _>("accepted")? as u64,
        declined: row.try_get::<i64, _>("declined")? as u64,
    })
}

impl SqlStore {
    /// Stores a request; returns it.
    pub(crate) async fn create_dataset_request_row(
        &self,
        new: &NewDatasetRequest,
    ) -> Result<DatasetRequest> {
        let id = new_id("ds");
        let metrics: Vec<&str> = new.metrics.iter().map(|m| m.name()).collect();
        sqlx::query(
            "INSERT INTO dataset_requests (id, institution_id, title, purpose, metrics, sections, \
             expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.as_str())
        .bind(new.institution.as_str())
        .bind(new.title.as_str())
        .bind(new.purpose.as_str())
        .bind(metrics.join(" "))
        .bind(i64::from(new.sections))
        .bind(new.expires_at)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        self.dataset_request_row(&id)
            .await?
            .ok_or_else(|| corrupt("dataset request just stored"))
    }

    /// One request.
    pub(crate) async fn dataset_request_row(&self, id: &str) -> Result<Option<DatasetRequest>> {
        let row = sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS} FROM dataset_requests r WHERE r.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(request_from).transpose()
    }

    /// An institution's requests, or (`None`) every open one (not expired at `now`),
    /// newest first.
    pub(crate) async fn dataset_requests_row(
        &self,
        institution: Option<&str>,
        now: i64,
    ) -> Result<Vec<DatasetRequest>> {
        let rows =
            match institution {
                Some(inst) => sqlx::query(&format!(
                    "SELECT {REQUEST_COLUMNS} FROM dataset_requests r WHERE r.institution_id = $1 \
                     ORDER BY r.created_at DESC, r.id DESC"
                ))
                .bind(inst)
                .fetch_all(&self.pool)
                .await?,
                None => sqlx::query(&format!(
                    "SELECT {REQUEST_COLUMNS} FROM dataset_requests r WHERE r.closed_at IS NULL \
                     AND r.expires_at > $1 ORDER BY r.created_at DESC, r.id DESC"
                ))
                .bind(now)
                .fetch_all(&self.pool)
                .await?,
            };
        rows.iter().map(request_from).collect()
    }

    /// A patient's answers, by request id.
    pub(crate) async fn dataset_answers_row(
        &self,
        patient: &PatientId,
    ) -> Result<Vec<(String, DatasetAnswer)>> {
        let rows =
            sqlx::query("SELECT request_id, answer FROM dataset_answers WHERE patient_id = $1")
                .bind(patient.as_str())
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                let answer: String = row.try_get("answer")?;
                Ok((
                    row.try_get("request_id")?,
                    DatasetAnswer::from_name(&answer).ok_or_else(|| corrupt("dataset answer"))?,
                ))
            })
            .collect()
    }

    /// Records a patient's answer; a second answer is a conflict.
    pub(crate) async fn answer_dataset_request_row(
        &self,
        request: &str,
        patient: &PatientId,
        answer: DatasetAnswer,
        grant_id: Option<[u8; 32]>,
    ) -> Result<()> {
        let done = sqlx::query(
            "INSERT INTO dataset_answers (request_id, patient_id, answer, grant_id, answered_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (request_id, patient_id) DO NOTHING",
        )
        .bind(request)
        .bind(patient.as_str())
        .bind(answer.name())
        .bind(grant_id.map(|g| g.to_vec()))
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict("answer".into()));
        }
        Ok(())
    }
}
