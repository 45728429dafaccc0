//! A patient's access policy for protected records and the state of their sealing.
//!
//! `GET /patients/{id}/sealing` says whether new protected records are sealed, under
//! which policy, and how far wrapping earlier records for new readers has come.
//! `PUT /patients/{id}/access-policy` sets the policy (`{"policy": "role:hospital AND
//! org:inst…"}`) or returns to the default (`{"policy": null}`): a malformed policy is
//! refused with the position of the fault, a policy that no issued or issuable attribute
//! key satisfies is refused too, since nobody but the patient could open what it seals.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use vitalis_abe::Policy;
use vitalis_access::Action;
use vitalis_ingest::sealer::{institution_attributes, may_read_protected};
use vitalis_store::directory::AccountStatus;

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::permit::authorize;
use crate::routes::read::patient_of;

/// `PUT /patients/{id}/access-policy` body.
#[derive(Debug, Deserialize)]
pub(crate) struct SetPolicy {
    policy: Option<String>,
}

/// The patient's sealing: policy, epochs, rewrap progress.
pub(crate) async fn status(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let patient = patient_of(&id)?;
    authorize(&state, &principal, Action::ManageSettings, &patient).await?;
    let Some(sealing) = &state.sealing else {
        return Ok(Json(json!({ "sealed": false })));
    };
    let chosen = state.store.access_policy(&patient).await?;
    let policy = sealing.sealer.policy_for(&patient).await?;
    let epochs = state.store.seal_epochs(&patient).await?;
    let has_key = state.store.seal_public_key(&patient).await?.is_some();
    Ok(Json(json!({
        "sealed": has_key,
        "policy": policy.map(|p| p.to_string()),
        "chosen_policy": chosen,
        "epochs": epochs.len(),
        "rewrap": sealing.sealer.progress(&patient),
    })))
}

/// Sets or clears the patient's access policy.
pub(crate) async fn set(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<SetPolicy>,
) -> Result<Json<Value>, ApiError> {
    let patient = patient_of(&id)?;
    authorize(&state, &principal, Action::ManageSettings, &patient).await?;
    principal.require_scope("write")?;
    let text = match body.policy.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => {
            let policy: Policy = text.parse().map_err(|e: vitalis_abe::ParseError| {
                ApiError::field("policy", "invalid_policy", e.to_string())
            })?;
            if !satisfiable_by_someone(&state, &policy).await? {
                return Err(ApiError::Refused {
                    status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    code: "unsatisfiable_policy",
                    message: "no institution's attribute key satisfies this policy, so only you \
                              could open records sealed under it"
                        .into(),
                    field: Some("policy"),
                });
            }
            Some(policy.to_string())
        }
    };
    state
        .store
        .set_access_policy(&patient, text.as_deref())
        .await?;
    crate::sealing::readers_changed(&state, &principal, &patient).await?;
    Ok(Json(json!({ "policy": text })))
}

/// Whether an issued attribute key, or the key an approved institution would be issued,
/// satisfies `policy`.
async fn satisfiable_by_someone(state: &AppState, policy: &Policy) -> Result<bool, ApiError> {
    let mut sets: Vec<Vec<String>> = state
        .store
        .attribute_keys()
        .await?
        .into_iter()
        .map(|k| k.attributes)
        .collect();
    for inst in state
        .store
        .institutions(Some(AccountStatus::Active))
        .await?
    {
        if may_read_protected(inst.role) {
            sets.push(institution_attributes(&inst.id, inst.role));
        }
    }
    Ok(sets.iter().any(|set| {
        let names: Vec<&str> = set.iter().map(String::as_str).collect();
        policy.is_satisfied_by(&names)
    }))
}
