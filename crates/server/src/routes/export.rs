//! `GET /patients/{id}/export`: a patient's readings (and, in FHIR, clinical notes) as
//! CSV, XLSX or a FHIR R4 Bundle, for a time range and a choice of metrics.
//!
//! Authorised like the readings route (the sections the caller may read, a consent's
//! metric list, no per-patient export for researchers) and written to the access log
//! before any data leaves. CSV and FHIR are streamed: the store is paged through
//! (`Store::readings`, [`PAGE`] readings at a time) and each page is sent as it is
//! written, so memory does not grow with the export; a store failure midway cuts the
//! response off (the client sees a truncated body, never a complete-looking file). XLSX
//! is assembled whole before the answer (a workbook is complete only at its end) and
//! limited to [`MAX_XLSX_READINGS`].

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use vitalis_access::Action;
use vitalis_export::{ExportReading, Exporter, Format};
use vitalis_model::{
    ClinicalNote, ENCODING_CLINICAL_V1, MAX_CLOCK_SKEW_MS, Metric, PatientId, Section, Timestamp,
};
use vitalis_store::{ReadingQuery, Store, StoreError};

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::permit::{Permit, log_access, readable_sections};
use crate::routes::read::patient_of;

/// Readings per store page.
pub(crate) const PAGE: u32 = 5_000;
/// Most readings an XLSX export may hold (the workbook is built in memory).
pub(crate) const MAX_XLSX_READINGS: usize = 1_000_000;

/// Query of the export route; all strings, parsed by hand for clear errors.
#[derive(Debug, Deserialize)]
pub(crate) struct ExportParams {
    format: Option<String>,
    from: Option<String>,
    to: Option<String>,
    metrics: Option<String>,
}

fn bad(code: &'static str, field: &'static str, message: String) -> ApiError {
    ApiError::BadParameter {
        code,
        field,
        message,
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What one export reads.
struct Plan {
    format: Format,
    query: ReadingQuery,
    /// Clinical notes too (FHIR, protected section readable, no metric restriction).
    notes: bool,
}

fn parse_metrics(text: &str) -> Result<Vec<Metric>, ApiError> {
    let mut metrics = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let metric = Metric::from_name(name).ok_or_else(|| {
            bad(
                "unknown_metric",
                "metrics",
                format!("unknown metric {name:?}"),
            )
        })?;
        if !metrics.contains(&metric) {
            metrics.push(metric);
        }
    }
    if metrics.is_empty() {
        return Err(bad(
            "invalid_parameter",
            "metrics",
            "metrics must name at least one metric".into(),
        ));
    }
    Ok(metrics)
}

async fn plan(
    state: &AppState,
    patient: &PatientId,
    params: &ExportParams,
    permits: &[(Section, Permit)],
) -> Result<Plan, ApiError> {
    let format: Format = params
        .format
        .as_deref()
        .ok_or_else(|| {
            bad(
                "invalid_parameter",
                "format",
                "format is required: csv, xlsx or fhir".into(),
            )
        })?
        .parse()
        .map_err(|m| bad("invalid_parameter", "format", m))?;
    let time = |field: &'static str, text: Option<&str>, default: i64| match text {
        None => Timestamp::new(default).map_err(|e| bad("invalid_parameter", field, e.message)),
        Some(t) => {
            vitalis_export::time::parse_instant(t).map_err(|m| bad("invalid_parameter", field, m))
        }
    };
    let from = time("from", params.from.as_deref(), 0)?;
    let to = time("to", params.to.as_deref(), now_ms() + MAX_CLOCK_SKEW_MS)?;
    if from > to {
        return Err(bad(
            "invalid_parameter",
            "from",
            "from must not be after to".into(),
        ));
    }
    let requested = params.metrics.as_deref().map(parse_metrics).transpose()?;
    let sections: Vec<Section> = permits.iter().map(|(s, _)| *s).collect();
    // A metric asked for by name in a section the caller may not read is refused.
    if let Some(requested) = &requested {
        let choices = state.store.section_choices(patient).await?;
        for metric in requested {
            let section = choices
                .iter()
                .find(|(m, _)| m == metric)
                .map(|(_, s)| *s)
                .unwrap_or(metric.spec().default_section);
            if !sections.contains(&section) {
                return Err(ApiError::denied(
                    "section_not_permitted",
                    format!(
                        "{} is in the {} section, which this caller may not read",
                        metric.name(),
                        section.name()
                    ),
                ));
            }
        }
    }
    // A consent limited to some metrics limits the export to them.
    let consented = permits
        .iter()
        .map(|(_, p)| p.metrics())
        .collect::<Option<Vec<_>>>()
        .map(|lists| lists.concat());
    let metrics = match (&requested, &consented) {
        (Some(r), Some(c)) => Some(r.iter().copied().filter(|m| c.contains(m)).collect()),
        (Some(r), None) => Some(r.clone()),
        (None, c) => c.clone(),
    };
    let notes = format == Format::Fhir
        && requested.is_none()
        && consented.is_none()
        && sections.contains(&Section::Protected);
    Ok(Plan {
        format,
        query: ReadingQuery {
            patient: patient.clone(),
            metric: None,
            metrics,
            sections: (sections.len() < 2).then_some(sections),
            from,
            to,
            after: None,
            limit: PAGE,
            keys: None,
        },
        notes,
    })
}

pub(crate) async fn export(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<ExportParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (Path(id), Query(params)) = (path?, query?);
    let patient = patient_of(&id)?;
    let permits = readable_sections(&state, &principal, &patient).await?;
    if permits.iter().any(|(_, p)| p.deidentified) {
        return Err(ApiError::denied(
            "deidentified_only",
            "researchers receive de-identified data through /api/v1/research/readings",
        ));
    }
    let mut plan = plan(&state, &patient, &params, &permits).await?;
    plan.query.keys = crate::sealing::reader_keys(&state, &principal).await?;
    let format = plan.format;
    // Logged before any data leaves: the export is a read of every section it covers.
    let described = match &plan.query.metrics {
        Some(ms) => ms.iter().map(|m| m.name()).collect::<Vec<_>>().join(","),
        None => "all metrics".to_owned(),
    };
    for (section, permit) in &permits {
        let action = match section {
            Section::Open => Action::ReadOpen,
            Section::Protected => Action::ReadProtected,
        };
        let detail = format!(
            "export {} {described}{} {}..{}",
            plan.format,
            if plan.notes && *section == Section::Protected {
                " and clinical notes"
            } else {
                ""
            },
            plan.query.from.millis(),
            plan.query.to.millis()
        );
        log_access(&state, &principal, &patient, action, permit, detail).await?;
    }
    let body = match plan.format {
        Format::Xlsx => Body::from(xlsx(&state, &patient, plan.query).await?),
        Format::Csv | Format::Fhir => streamed(state, patient.clone(), plan),
    };
    let disposition = format!(
        "attachment; filename=\"vitalis-{patient}.{}\"",
        format.extension()
    );
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.media_type()),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn export_reading(r: &vitalis_store::StoredReading) -> ExportReading<'_> {
    ExportReading {
        metric: r.metric,
        t: r.t,
        value: r.value,
        source: r.device.as_str(),
    }
}

fn export_failed(e: vitalis_export::ExportError) -> ApiError {
    ApiError::Store(StoreError::Corrupt(format!("export: {e}")))
}

/// The whole workbook, or a refusal when it would be too large.
async fn xlsx(
    state: &AppState,
    patient: &PatientId,
    mut query: ReadingQuery,
) -> Result<Vec<u8>, ApiError> {
    let mut export =
        Exporter::new(Format::Xlsx, Vec::new(), patient.as_str()).map_err(export_failed)?;
    let mut count = 0usize;
    loop {
        let page = state.store.readings(&query).await?;
        count += page.readings.len();
        if count > MAX_XLSX_READINGS {
            return Err(ApiError::refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                "export_too_large",
                format!(
                    "an XLSX export holds at most {MAX_XLSX_READINGS} readings; \
                     choose a shorter range or fewer metrics, or export CSV or FHIR"
                ),
            ));
        }
        for r in &page.readings {
            export.write(&export_reading(r)).map_err(export_failed)?;
        }
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    // Zipping a large workbook is CPU work: off the async threads.
    tokio::task::spawn_blocking(move || export.finish())
        .await
        .map_err(|e| ApiError::Store(StoreError::Corrupt(format!("export task: {e}"))))?
        .map_err(export_failed)
}

/// A body fed page by page from a task that reads the store and writes the export.
fn streamed(state: AppState, patient: PatientId, plan: Plan) -> Body {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        if let Err(e) = stream_export(&*state.store, &patient, plan, &tx).await {
            tracing::warn!(patient = %patient, error = %e, "export stopped");
            let _ = tx
                .send(Err(std::io::Error::other(
                    "the export could not be completed",
                )))
                .await;
        }
    });
    Body::from_stream(ReceiverStream::new(rx))
}

/// Why a streamed export stopped early.
#[derive(Debug, thiserror::Error)]
enum StreamError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Export(#[from] vitalis_export::ExportError),
    #[error("the client went away")]
    Gone,
}

async fn send(
    tx: &mpsc::Sender<Result<Bytes, std::io::Error>>,
    export: &mut Exporter<Vec<u8>>,
) -> Result<(), StreamError> {
    export.flush()?;
    let chunk = std::mem::take(export.sink_mut());
    if !chunk.is_empty() {
        tx.send(Ok(Bytes::from(chunk)))
            .await
            .map_err(|_| StreamError::Gone)?;
    }
    Ok(())
}

async fn stream_export(
    store: &dyn Store,
    patient: &PatientId,
    plan: Plan,
    tx: &mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> Result<(), StreamError> {
    let mut export = Exporter::new(plan.format, Vec::new(), patient.as_str())?;
    let mut query = plan.query;
    loop {
        let page = store.readings(&query).await?;
        for r in &page.readings {
            export.write(&export_reading(r))?;
        }
        send(tx, &mut export).await?;
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    if plan.notes {
        for note in
            clinical_notes(store, patient, query.from, query.to, query.keys.as_ref()).await?
        {
            export.write_note(&note)?;
        }
    }
    let rest = export.finish()?;
    if !rest.is_empty() {
        tx.send(Ok(Bytes::from(rest)))
            .await
            .map_err(|_| StreamError::Gone)?;
    }
    Ok(())
}

/// The patient's clinical notes made between `from` and `to`, oldest first.
async fn clinical_notes(
    store: &dyn Store,
    patient: &PatientId,
    from: Timestamp,
    to: Timestamp,
    keys: Option<&vitalis_store::ReaderKeys>,
) -> Result<Vec<ClinicalNote>, StoreError> {
    let mut notes = Vec::new();
    let mut after = 0;
    loop {
        let page = store.records(patient, after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.header.seq;
        for r in page.iter().filter(|r| {
            vitalis_model::plaintext_encoding(r.header.encoding) == ENCODING_CLINICAL_V1
                && r.header.section == Section::Protected
        }) {
            let bytes = store.open_payload(r, keys).await?;
            let note =
                ClinicalNote::decode(&bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            if (from.millis()..=to.millis()).contains(&note.t) {
                notes.push(note);
            }
        }
    }
    notes.sort_by_key(|n| n.t);
    Ok(notes)
}
