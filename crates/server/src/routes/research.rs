//! Researchers' dataset requests.
//!
//! | method | path | who | what |
//! |---|---|---|---|
//! | POST | `/research/requests` | researcher | ask for a study's data: `title`, `purpose`, `metrics`, `sections`, `expires_at` |
//! | GET | `/research/requests` | researcher, patient | a researcher's own requests with how many patients accepted and declined; for a patient, the open requests with their own answer |
//! | POST | `/patients/{id}/research-requests/{request}` | patient | answer once: `{"answer": "declined"}`, or `{"answer": "accepted", "grant_id"}` naming the consent the patient granted the researcher for it |

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use vitalis_access::{Action, Role};
use vitalis_model::Metric;
use vitalis_store::StoreError;
use vitalis_store::research::{DatasetAnswer, NewDatasetRequest};

use crate::AppState;
use crate::accounts::now_ms;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::permit::authorize;
use crate::routes::read::patient_of;

/// `POST /research/requests` body.
#[derive(Debug, Deserialize)]
pub(crate) struct NewRequest {
    title: String,
    purpose: String,
    #[serde(default)]
    metrics: Vec<String>,
    sections: Vec<String>,
    expires_at: i64,
}

/// `POST /patients/{id}/research-requests/{request}` body.
#[derive(Debug, Deserialize)]
pub(crate) struct Answer {
    answer: String,
    #[serde(default)]
    grant_id: Option<String>,
}

fn section_bits(sections: &[String]) -> Result<u8, ApiError> {
    let mut bits = 0u8;
    for s in sections {
        bits |= match s.as_str() {
            "open" => 1,
            "protected" => 2,
            _ => {
                return Err(ApiError::field(
                    "sections",
                    "invalid_section",
                    format!("{s:?} is not a section (open, protected)"),
                ));
            }
        };
    }
    if bits == 0 {
        return Err(ApiError::field(
            "sections",
            "invalid_section",
            "name at least one section",
        ));
    }
    Ok(bits)
}

fn section_names(bits: u8) -> Vec<&'static str> {
    [(1, "open"), (2, "protected")]
        .into_iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, n)| n)
        .collect()
}

fn view(r: &vitalis_store::research::DatasetRequest, institution_name: Option<&str>) -> Value {
    json!({
        "id": r.id,
        "institution_id": r.institution,
        "institution": institution_name,
        "title": r.title,
        "purpose": r.purpose,
        "metrics": r.metrics.iter().map(|m| m.name()).collect::<Vec<_>>(),
        "sections": section_names(r.sections),
        "expires_at": r.expires_at,
        "created_at": r.created_at,
        "accepted": r.accepted,
        "declined": r.declined,
    })
}

/// A researcher asks for a study's data.
pub(crate) async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<NewRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if principal.role != Role::Researcher {
        return Err(ApiError::denied(
            "not_permitted",
            "dataset requests are made by research institutions",
        ));
    }
    principal.require_scope("write")?;
    let institution = principal
        .institution()
        .ok_or_else(|| ApiError::denied("not_permitted", "no institution"))?
        .to_owned();
    let title = body.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(ApiError::field(
            "title",
            "invalid_title",
            "a title of 1 to 200 characters",
        ));
    }
    let purpose = body.purpose.trim();
    if purpose.is_empty() || purpose.chars().count() > 2000 {
        return Err(ApiError::field(
            "purpose",
            "invalid_purpose",
            "a purpose of 1 to 2000 characters",
        ));
    }
    let mut metrics = Vec::new();
    for (i, name) in body.metrics.iter().enumerate() {
        let metric = name.parse::<Metric>().map_err(|_| {
            ApiError::field(
                "metrics",
                "unknown_metric",
                format!("metric {}: {name:?} is not in the catalog", i + 1),
            )
        })?;
        if !metrics.contains(&metric) {
            metrics.push(metric);
        }
    }
    let sections = section_bits(&body.sections)?;
    if body.expires_at <= now_ms() {
        return Err(ApiError::field(
            "expires_at",
            "invalid_expiry",
            "the consent asked for must end in the future",
        ));
    }
    let request = state
        .store
        .create_dataset_request(&NewDatasetRequest {
            institution,
            title: title.to_owned(),
            purpose: purpose.to_owned(),
            metrics,
            sections,
            expires_at: body.expires_at,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(view(&request, None))))
}

/// A researcher's own requests, or a patient's open ones with the patient's answer.
pub(crate) async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Value>, ApiError> {
    let now = now_ms();
    match principal.role {
        Role::Researcher => {
            let institution = principal.institution().unwrap_or_default();
            let requests = state.store.dataset_requests(Some(institution), now).await?;
            Ok(Json(json!({
                "requests": requests.iter().map(|r| view(r, None)).collect::<Vec<_>>(),
            })))
        }
        Role::Patient => {
            let patient = principal
                .patient
                .clone()
                .ok_or_else(|| ApiError::denied("not_permitted", "no patient"))?;
            let answers = state.store.dataset_answers(&patient).await?;
            let requests = state.store.dataset_requests(None, now).await?;
            let mut out = Vec::new();
            for r in &requests {
                let name = state
                    .store
                    .institution(&r.institution)
                    .await?
                    .map(|i| i.name);
                let mut v = view(r, name.as_deref());
                // A patient sees their own answer, not how others answered.
                v["accepted"] = Value::Null;
                v["declined"] = Value::Null;
                v["answer"] = json!(answers.iter().find(|(id, _)| *id == r.id).map(|(_, a)| a));
                out.push(v);
            }
            Ok(Json(json!({ "requests": out })))
        }
        _ => Err(ApiError::denied(
            "not_permitted",
            "dataset requests are for researchers and patients",
        )),
    }
}

/// A patient answers a request once.
pub(crate) async fn answer(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, request_id)): Path<(String, String)>,
    Json(body): Json<Answer>,
) -> Result<Json<Value>, ApiError> {
    let patient = patient_of(&id)?;
    authorize(&state, &principal, Action::ManageConsent, &patient).await?;
    principal.require_scope("write")?;
    let request = state
        .store
        .dataset_request(&request_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let (answer, grant) = match body.answer.as_str() {
        "declined" => (DatasetAnswer::Declined, None),
        "accepted" => {
            let text = body.grant_id.as_deref().ok_or_else(|| {
                ApiError::field(
                    "grant_id",
                    "grant_required",
                    "accepting names the consent granted for the request",
                )
            })?;
            let mut grant_id = [0u8; 32];
            hex::decode_to_slice(text.trim_start_matches("0x"), &mut grant_id)
                .map_err(|_| ApiError::field("grant_id", "invalid_grant", "not a grant id"))?;
            let grant = state.store.consent(grant_id).await?;
            let fits = grant.is_some_and(|g| {
                g.patient == patient
                    && g.institution == request.institution
                    && g.revoked_at.is_none()
            });
            if !fits {
                return Err(ApiError::field(
                    "grant_id",
                    "invalid_grant",
                    "no live consent of this patient to the requesting institution has this id",
                ));
            }
            (DatasetAnswer::Accepted, Some(grant_id))
        }
        other => {
            return Err(ApiError::field(
                "answer",
                "invalid_answer",
                format!("{other:?}: the answer is accepted or declined"),
            ));
        }
    };
    match state
        .store
        .answer_dataset_request(&request.id, &patient, answer, grant)
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::refused(
                StatusCode::CONFLICT,
                "already_answered",
                "this request was answered already",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Json(json!({ "request": request.id, "answer": answer })))
}
