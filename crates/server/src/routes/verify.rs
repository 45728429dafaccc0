//! `GET /api/v1/patients/{id}/verify`: the patient's whole history checked against the
//! ledger, step by step (the same check as `vitalis verify`).

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use serde_json::{Value, json};
use vitalis_ingest::verify::VerifyError;

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;

pub(crate) async fn verify(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(id) = path?;
    let patient = crate::routes::read::patient_of(&id)?;
    // Verification reports integrity metadata only: the audit right (the patient, the
    // supervisor).
    crate::permit::authorize(
        &state,
        &principal,
        vitalis_access::Action::ReadAudit,
        &patient,
    )
    .await?;
    // A server without a ledger has no such check to offer. Each request asks the ledger
    // afresh (a fresh verifier remembers no root from an earlier request).
    let verifier = state.verifier.as_ref().ok_or(ApiError::NotFound)?.fresh();
    let report = verifier.patient(&patient).await.map_err(|e| match e {
        VerifyError::Store(e) => ApiError::Store(e),
    })?;
    let ok = report.ok();
    let mut body = serde_json::to_value(report).unwrap_or_default();
    body["ok"] = json!(ok);
    Ok(Json(body))
}
