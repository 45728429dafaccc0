//! The patient's read path: readings by metric and time, and the record chain.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use vitalis_model::{DeviceId, MAX_CLOCK_SKEW_MS, Metric, PatientId, Section, Timestamp, Value};
use vitalis_store::{ReadingCursor, ReadingQuery, StoredReading, StoredRecord};

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::permit::{log_sections, readable_sections};

/// Readings per page unless `limit` says otherwise, and the most a page may hold.
const DEFAULT_LIMIT: u32 = 1000;
const MAX_LIMIT: u32 = 10_000;
/// The default window: the last day.
const DEFAULT_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// Query of `GET /patients/{id}/readings`; all optional, parsed by hand for clear errors.
#[derive(Debug, Deserialize)]
pub(crate) struct ReadingParams {
    metric: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
    after: Option<String>,
}

/// One reading as the API shows it.
#[derive(Debug, Serialize)]
pub(crate) struct ReadingView<'a> {
    pub(crate) metric: Metric,
    pub(crate) t: i64,
    pub(crate) value: Value,
    pub(crate) unit: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) device: Option<&'a DeviceId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) record: Option<&'a str>,
}

impl<'a> From<&'a StoredReading> for ReadingView<'a> {
    fn from(r: &'a StoredReading) -> Self {
        ReadingView {
            metric: r.metric,
            t: r.t.millis(),
            value: r.value,
            unit: r.metric.spec().unit,
            device: Some(&r.device),
            record: Some(r.record.as_str()),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct ReadingsPageView<'a> {
    patient: &'a PatientId,
    readings: Vec<ReadingView<'a>>,
    /// Pass as `after` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

fn bad(code: &'static str, field: &'static str, message: String) -> ApiError {
    ApiError::BadParameter {
        code,
        field,
        message,
    }
}

fn parse_time(
    field: &'static str,
    text: Option<&str>,
    default: i64,
) -> Result<Timestamp, ApiError> {
    let ms = match text {
        None => default,
        Some(t) => t.parse::<i64>().map_err(|_| {
            bad(
                "invalid_parameter",
                field,
                format!("{field} must be milliseconds since the Unix epoch"),
            )
        })?,
    };
    Timestamp::new(ms).map_err(|e| bad("invalid_parameter", field, e.message))
}

fn parse_limit(text: Option<&str>) -> Result<u32, ApiError> {
    match text {
        None => Ok(DEFAULT_LIMIT),
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| {
                bad(
                    "invalid_parameter",
                    "limit",
                    format!("limit must be 1 to {MAX_LIMIT}"),
                )
            }),
    }
}

/// Cursor text: `t.metric.device`, each part free of dots.
fn cursor_text(c: &ReadingCursor) -> String {
    format!("{}.{}.{}", c.t.millis(), c.metric, c.device)
}

fn parse_cursor(text: &str) -> Result<ReadingCursor, ApiError> {
    let invalid = || {
        bad(
            "invalid_parameter",
            "after",
            "after must be a `next` value from a previous page".into(),
        )
    };
    let mut parts = text.splitn(3, '.');
    let (Some(t), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    Ok(ReadingCursor {
        t: t.parse()
            .ok()
            .and_then(|ms| Timestamp::new(ms).ok())
            .ok_or_else(invalid)?,
        metric: Metric::from_name(m).ok_or_else(invalid)?,
        device: DeviceId::new(d).map_err(|_| invalid())?,
    })
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Researchers read de-identified data only, never through a per-patient route.
fn deidentified_elsewhere(permits: &[(Section, crate::permit::Permit)]) -> Result<(), ApiError> {
    if permits.iter().any(|(_, p)| p.deidentified) {
        return Err(ApiError::denied(
            "deidentified_only",
            "researchers receive de-identified data through /api/v1/research/readings",
        ));
    }
    Ok(())
}

/// The patient id of a path, or 404 (an unparsable id names nobody).
pub(crate) fn patient_of(id: &str) -> Result<PatientId, ApiError> {
    PatientId::new(id).map_err(|_| ApiError::NotFound)
}

pub(crate) async fn readings(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<ReadingParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (Path(id), Query(params)) = (path?, query?);
    let patient = patient_of(&id)?;
    let permits = readable_sections(&state, &principal, &patient).await?;
    deidentified_elsewhere(&permits)?;
    let metric = params
        .metric
        .as_deref()
        .map(|m| {
            Metric::from_name(m)
                .ok_or_else(|| bad("unknown_metric", "metric", format!("unknown metric {m:?}")))
        })
        .transpose()?;
    let now = now_ms();
    let to = parse_time("to", params.to.as_deref(), now + MAX_CLOCK_SKEW_MS)?;
    let from = parse_time(
        "from",
        params.from.as_deref(),
        to.millis().saturating_sub(DEFAULT_WINDOW_MS).max(0),
    )?;
    if from > to {
        return Err(bad(
            "invalid_parameter",
            "from",
            "from must not be after to".into(),
        ));
    }
    let limit = parse_limit(params.limit.as_deref())?;
    let after = params.after.as_deref().map(parse_cursor).transpose()?;
    let sections: Vec<Section> = permits.iter().map(|(s, _)| *s).collect();
    // Asking by name for a metric of a section the caller may not read is refused, not
    // answered with an empty page.
    if let Some(metric) = metric {
        let choice = state
            .store
            .section_choices(&patient)
            .await?
            .into_iter()
            .find(|(m, _)| *m == metric)
            .map(|(_, s)| s)
            .unwrap_or(metric.spec().default_section);
        if !sections.contains(&choice) {
            return Err(ApiError::denied(
                "section_not_permitted",
                format!(
                    "{} is in the {} section, which this caller may not read",
                    metric.name(),
                    choice.name()
                ),
            ));
        }
    }
    // A consent limited to some metrics limits every read to them.
    let metrics = permits
        .iter()
        .map(|(_, p)| p.metrics())
        .collect::<Option<Vec<_>>>()
        .map(|lists| lists.concat());
    let query = ReadingQuery {
        patient: patient.clone(),
        metric,
        metrics,
        sections: (sections.len() < 2).then_some(sections),
        from,
        to,
        after,
        limit,
        keys: crate::sealing::reader_keys(&state, &principal).await?,
    };
    let page = state.store.readings(&query).await?;
    let detail = format!(
        "readings {} {}..{}: {} returned",
        metric.map(|m| m.name()).unwrap_or("all metrics"),
        from.millis(),
        to.millis(),
        page.readings.len()
    );
    log_sections(&state, &principal, &patient, &permits, detail).await?;
    let view = ReadingsPageView {
        patient: &patient,
        readings: page.readings.iter().map(ReadingView::from).collect(),
        next: page.next.as_ref().map(cursor_text),
    };
    // Serialized here, while the page it borrows from is alive.
    Ok(Json(view).into_response())
}

/// Query of `GET /patients/{id}/records`.
#[derive(Debug, Deserialize)]
pub(crate) struct RecordParams {
    after_seq: Option<String>,
    limit: Option<String>,
    /// `true`: the newest `limit` records (then `after_seq` must be absent).
    newest: Option<String>,
}

#[derive(Serialize)]
struct RecordView<'a> {
    id: &'a str,
    seq: u64,
    section: &'static str,
    source: &'a DeviceId,
    t_from: i64,
    t_to: i64,
    readings: u64,
    cid: String,
    payload_hash: String,
    prev: String,
    commitment: String,
    created_at: i64,
    /// The record's anchor: Merkle root, inclusion proof, and (once mined) where the
    /// root is on the ledger; `null` until the record is claimed into an anchor.
    anchor: Option<AnchorView>,
}

#[derive(Serialize)]
struct AnchorView {
    root: String,
    proof: String,
    /// `pending` until the anchoring transaction is mined, then `anchored`.
    status: &'static str,
    index: Option<u64>,
    block: Option<u64>,
    tx: Option<String>,
}

impl<'a> From<&'a StoredRecord> for RecordView<'a> {
    fn from(r: &'a StoredRecord) -> Self {
        RecordView {
            id: r.id.as_str(),
            seq: r.header.seq,
            section: r.header.section.name(),
            source: &r.header.source,
            t_from: r.header.t_from.millis(),
            t_to: r.header.t_to.millis(),
            readings: r.reading_count,
            cid: r.cid.to_string(),
            payload_hash: r.header.payload_hash.to_hex(),
            prev: r.header.prev.to_hex(),
            commitment: r.commitment.to_hex(),
            created_at: r.created_at.millis(),
            anchor: r.anchor.as_ref().map(|a| AnchorView {
                root: hex::encode(a.root),
                proof: hex::encode(&a.proof),
                status: if a.on_chain.is_some() {
                    "anchored"
                } else {
                    "pending"
                },
                index: a.on_chain.map(|c| c.index),
                block: a.on_chain.map(|c| c.block_number),
                tx: a.on_chain.map(|c| format!("0x{}", hex::encode(c.tx_hash))),
            }),
        }
    }
}

pub(crate) async fn records(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<RecordParams>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (Path(id), Query(params)) = (path?, query?);
    let patient = patient_of(&id)?;
    let permits = readable_sections(&state, &principal, &patient).await?;
    deidentified_elsewhere(&permits)?;
    let after_seq = match params.after_seq.as_deref() {
        None => 0,
        Some(s) => s.parse::<u64>().map_err(|_| {
            bad(
                "invalid_parameter",
                "after_seq",
                "after_seq must be a whole number".into(),
            )
        })?,
    };
    let limit = parse_limit(params.limit.as_deref())?;
    let (head, _) = state.store.head(&patient).await?;
    let after_seq = match params.newest.as_deref() {
        None | Some("false") => after_seq,
        Some("true") if params.after_seq.is_none() => head.saturating_sub(u64::from(limit)),
        Some("true") => {
            return Err(bad(
                "invalid_parameter",
                "newest",
                "newest=true takes no after_seq".into(),
            ));
        }
        Some(_) => {
            return Err(bad(
                "invalid_parameter",
                "newest",
                "newest is true or false".into(),
            ));
        }
    };
    let records = state.store.records(&patient, after_seq, limit).await?;
    let views: Vec<RecordView> = records
        .iter()
        .filter(|r| permits.iter().any(|(s, _)| *s == r.header.section))
        .map(RecordView::from)
        .collect();
    let detail = format!("records after seq {after_seq}: {} returned", views.len());
    log_sections(&state, &principal, &patient, &permits, detail).await?;
    Ok(Json(
        serde_json::json!({ "patient": patient, "head": head, "after_seq": after_seq, "records": views }),
    ))
}
