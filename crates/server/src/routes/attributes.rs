//! The supervisor as attribute authority: the attribute keys issued to institution
//! accounts, and issuing them again with more attributes (a department, a speciality)
//! that patients' own access policies can name.
//!
//! An account's key always carries `role:<its institution's role>` and
//! `org:<its institution's id>`; those two are the authority's to set and cannot be
//! asked for. The attributes asked for replace the institution's earlier ones and are
//! kept: a key is sealed to the public key the account published at its last sign-in,
//! and accounts that never signed in get theirs, with the same attributes, at their
//! first read.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use vitalis_crypto::envelope::PatientPublicKey;
use vitalis_ingest::sealer::{institution_attributes, issue_attribute_key, may_read_protected};
use vitalis_store::directory::AccountStatus;

use crate::AppState;
use crate::accounts::now_ms;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::routes::portal::supervisor_only;

/// `POST /institutions/{id}/attribute-keys` body.
#[derive(Debug, Deserialize)]
pub(crate) struct IssueKeys {
    #[serde(default)]
    attributes: Vec<String>,
}

/// Every issued attribute key (never the key itself).
pub(crate) async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Value>, ApiError> {
    if principal.role != vitalis_access::Role::Supervisor {
        return Err(ApiError::denied(
            "not_permitted",
            "only the supervisor may do this",
        ));
    }
    let keys = state.store.attribute_keys().await?;
    Ok(Json(json!({
        "authority": state.sealing.as_ref().is_some_and(|s| s.authority.is_some()),
        "keys": keys.iter().map(|k| json!({
            "account": k.account,
            "institution": k.institution,
            "attributes": k.attributes,
            "issued_at": k.issued_at,
        })).collect::<Vec<_>>(),
    })))
}

/// Issues the institution's accounts keys with their role and institution plus
/// `attributes`.
pub(crate) async fn issue(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<IssueKeys>,
) -> Result<Json<Value>, ApiError> {
    supervisor_only(&principal)?;
    let inst = state
        .store
        .institution(&id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut extra: Vec<String> = Vec::new();
    for (i, name) in body.attributes.iter().enumerate() {
        let name = name.trim();
        if let Err(e) = vitalis_abe::validate_attribute(name) {
            return Err(ApiError::field(
                "attributes",
                "invalid_attribute",
                format!("attribute {}: {e}", i + 1),
            ));
        }
        if name.starts_with("role:") || name.starts_with("org:") {
            return Err(ApiError::field(
                "attributes",
                "reserved_attribute",
                format!(
                    "attribute {}: role: and org: are set by the authority",
                    i + 1
                ),
            ));
        }
        if !extra.iter().any(|e| e == name) {
            extra.push(name.to_owned());
        }
    }
    if !may_read_protected(inst.role) {
        return Err(ApiError::refused(
            StatusCode::CONFLICT,
            "never_reads_protected",
            "this institution's role never reads protected records, so it gets no attribute key",
        ));
    }
    if inst.status != AccountStatus::Active {
        return Err(ApiError::refused(
            StatusCode::CONFLICT,
            "not_approved",
            "attribute keys go to approved institutions only",
        ));
    }
    let Some(authority) = state.sealing.as_ref().and_then(|s| s.authority.clone()) else {
        return Err(ApiError::refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_authority",
            "this node does not hold the attribute authority's key",
        ));
    };
    state
        .store
        .set_institution_key_attributes(&inst.id, &extra)
        .await?;
    let mut attributes = institution_attributes(&inst.id, inst.role);
    attributes.extend(extra);
    let (mut issued, mut waiting) = (0, 0);
    for account in state.store.accounts_with_role(inst.role).await? {
        if account.institution.as_deref() != Some(inst.id.as_str()) {
            continue;
        }
        let Some(public) = state.store.account_seal_key(&account.id).await? else {
            waiting += 1;
            continue;
        };
        let public = PatientPublicKey::from_bytes(&public)
            .map_err(|e| ApiError::Store(vitalis_store::StoreError::Corrupt(e.to_string())))?;
        let record = issue_attribute_key(
            &authority,
            &account.id,
            &inst.id,
            &attributes,
            &public,
            now_ms(),
        )
        .map_err(|e| ApiError::field("attributes", "invalid_attribute", e.to_string()))?;
        state.store.put_attribute_key(&record).await?;
        issued += 1;
    }
    tracing::info!(institution = %inst.id, issued, "attribute keys issued");
    Ok(Json(
        json!({ "attributes": attributes, "issued": issued, "waiting": waiting }),
    ))
}
