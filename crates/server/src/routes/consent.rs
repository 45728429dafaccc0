//! Consent: a patient grants an institution access (read and/or write; sections or
//! metrics; purpose; expiry) and revokes it. Each grant and revocation is EIP-712 typed
//! data signed with the patient's own key — by the server with the key unsealed at
//! sign-in, or by the patient's wallet (`signature` in the body, over the digest from
//! `…/consents/prepare`) — and the consent contract checks that signature on chain. A
//! signature the contract refuses changes nothing anywhere.

use alloy::primitives::{Address, B256, keccak256};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use vitalis_access::{Action, Role};
use vitalis_chain::ledger::LedgerError;
use vitalis_chain::permissions::{
    ACCESS_READ, ACCESS_WRITE, Grant, SECTION_OPEN, SECTION_PROTECTED, expiry_secs, sign_digest,
};
use vitalis_model::{Metric, PatientId};
use vitalis_store::directory::{AccountStatus, ConsentRecord};

use crate::AppState;
use crate::accounts::now_ms;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::permit::authorize;
use crate::routes::read::patient_of;
use crate::routes::{institution_address, permission_ledger};

/// `POST /patients/{id}/consents` (and `…/prepare`) body.
#[derive(Debug, Deserialize)]
pub(crate) struct GrantRequest {
    institution_id: String,
    access: Vec<String>,
    sections: Vec<String>,
    #[serde(default)]
    metrics: Vec<String>,
    purpose: String,
    /// Expiry, UTC milliseconds.
    expires_at: i64,
    /// The patient's signature (hex, 65 bytes) over the prepared digest.
    #[serde(default)]
    signature: Option<String>,
    /// The nonce the signature was made with.
    #[serde(default)]
    nonce: Option<u64>,
}

fn ledger_error(e: LedgerError) -> ApiError {
    match e {
        LedgerError::Refused(name) => match name.as_str() {
            "BadSignature" => ApiError::denied(
                "invalid_signature",
                "the consent contract refused the signature: it is not the patient's",
            ),
            "BadNonce" => ApiError::refused(
                StatusCode::CONFLICT,
                "stale_nonce",
                "the signature's nonce was used already or is out of order (a replay?)",
            ),
            "GranteeNotApproved" => ApiError::denied(
                "institution_not_approved",
                "the institution is not approved on the ledger",
            ),
            "BeyondRole" => ApiError::denied(
                "beyond_role",
                "the institution's role may never have this access",
            ),
            "AlreadyRevoked" => ApiError::refused(
                StatusCode::CONFLICT,
                "already_revoked",
                "this grant was revoked already",
            ),
            _ => ApiError::denied(
                "refused_by_contract",
                format!("the consent contract refused: {name}"),
            ),
        },
        other => {
            tracing::warn!(error = %other, "consent transaction failed");
            ApiError::refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "ledger_unavailable",
                "the ledger did not take the transaction; try again",
            )
        }
    }
}

/// The patient's consent-key address.
fn patient_address(principal: &Principal) -> Result<Address, ApiError> {
    principal
        .account()?
        .key
        .as_ref()
        .map(|k| Address::from(k.address))
        .ok_or_else(|| ApiError::denied("no_key", "this account has no consent key"))
}

fn parse_signature(text: &str) -> Result<Vec<u8>, ApiError> {
    hex::decode(text.trim_start_matches("0x"))
        .ok()
        .filter(|b| b.len() == 65)
        .ok_or_else(|| {
            ApiError::field(
                "signature",
                "invalid_signature",
                "a signature is 65 bytes in hex",
            )
        })
}

/// A grant checked and built from a request; with its institution and metrics.
struct Prepared {
    grant: Grant,
    institution: String,
    metrics: Vec<Metric>,
}

async fn prepare_grant(
    state: &AppState,
    principal: &Principal,
    patient: &PatientId,
    body: &GrantRequest,
) -> Result<Prepared, ApiError> {
    authorize(state, principal, Action::ManageConsent, patient).await?;
    principal.require_scope("write")?;
    let ledger = permission_ledger(state)?;
    let institution = state
        .store
        .institution(&body.institution_id)
        .await?
        .filter(|i| i.status == AccountStatus::Active)
        .ok_or_else(|| {
            ApiError::field(
                "institution_id",
                "unknown_institution",
                "no approved institution with this id",
            )
        })?;
    let mut access = 0u8;
    for a in &body.access {
        access |= match a.as_str() {
            "read" => ACCESS_READ,
            "write" => ACCESS_WRITE,
            _ => {
                return Err(ApiError::field(
                    "access",
                    "invalid_access",
                    "access is read and/or write",
                ));
            }
        };
    }
    let mut sections = 0u8;
    for s in &body.sections {
        sections |= match s.as_str() {
            "open" => SECTION_OPEN,
            "protected" => SECTION_PROTECTED,
            _ => {
                return Err(ApiError::field(
                    "sections",
                    "invalid_section",
                    "sections are open and/or protected",
                ));
            }
        };
    }
    if access == 0 {
        return Err(ApiError::field(
            "access",
            "invalid_access",
            "grant read and/or write",
        ));
    }
    if sections == 0 {
        return Err(ApiError::field(
            "sections",
            "invalid_section",
            "grant open and/or protected",
        ));
    }
    if access & ACCESS_WRITE != 0 && institution.role != Role::Hospital {
        return Err(ApiError::denied(
            "beyond_role",
            "only hospitals may be granted write access",
        ));
    }
    if sections & SECTION_PROTECTED != 0 && institution.role == Role::Enterprise {
        return Err(ApiError::denied(
            "beyond_role",
            "enterprise and government never read the protected section",
        ));
    }
    let metrics = body
        .metrics
        .iter()
        .map(|m| {
            Metric::from_name(m).ok_or_else(|| {
                ApiError::field("metrics", "unknown_metric", format!("unknown metric {m:?}"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let purpose = body.purpose.trim();
    if purpose.is_empty() || purpose.len() > 500 {
        return Err(ApiError::field(
            "purpose",
            "invalid_purpose",
            "a purpose of 1 to 500 characters",
        ));
    }
    if body.expires_at <= now_ms() + 60_000 {
        return Err(ApiError::field(
            "expires_at",
            "invalid_expiry",
            "the expiry must be in the future",
        ));
    }
    let patient_key = patient_address(principal)?;
    let nonce = match body.nonce {
        Some(n) => n,
        None => ledger.nonce(patient_key).await.map_err(ledger_error)?,
    };
    let metric_bits = metrics
        .iter()
        .map(|m| Metric::all().position(|c| c == *m).unwrap_or(0))
        .fold(0u64, |bits, i| bits | (1u64 << i));
    let grantee = institution_address(&institution)?;
    Ok(Prepared {
        grant: Grant {
            patient: patient_key,
            grantee,
            access,
            sections,
            metrics: metric_bits,
            purpose: keccak256(purpose.as_bytes()),
            expiresAt: expiry_secs(body.expires_at),
            nonce,
        },
        institution: institution.id,
        metrics,
    })
}

/// The digest a wallet signs for a grant, with the nonce it carries.
pub(crate) async fn prepare(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<GrantRequest>,
) -> Result<Json<Value>, ApiError> {
    let patient = patient_of(&id)?;
    let prepared = prepare_grant(&state, &principal, &patient, &body).await?;
    let ledger = permission_ledger(&state)?;
    Ok(Json(json!({
        "digest": ledger.grant_digest(&prepared.grant),
        "nonce": prepared.grant.nonce,
        "domain": { "name": "Vitalis Consent", "version": "1", "verifying_contract": ledger.deployment().consent },
        "grant": {
            "patient": prepared.grant.patient,
            "grantee": prepared.grant.grantee,
            "access": prepared.grant.access,
            "sections": prepared.grant.sections,
            "metrics": prepared.grant.metrics.to_string(),
            "purpose": prepared.grant.purpose,
            "expiresAt": prepared.grant.expiresAt,
            "nonce": prepared.grant.nonce,
        },
    })))
}

/// A grant as the API shows it, with its status now.
pub(crate) fn consent_view(c: &ConsentRecord, now: i64) -> Value {
    let status = if c.revoked_at.is_some() {
        "revoked"
    } else if c.expires_at <= now {
        "expired"
    } else {
        "active"
    };
    let access: Vec<&str> = [
        (c.access & 1 != 0).then_some("read"),
        (c.access & 2 != 0).then_some("write"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let sections: Vec<&str> = [
        (c.sections & 1 != 0).then_some("open"),
        (c.sections & 2 != 0).then_some("protected"),
    ]
    .into_iter()
    .flatten()
    .collect();
    json!({
        "grant_id": format!("0x{}", hex::encode(c.grant_id)),
        "patient_id": c.patient,
        "institution_id": c.institution,
        "access": access,
        "sections": sections,
        "metrics": c.metrics,
        "purpose": c.purpose,
        "expires_at": c.expires_at,
        "created_at": c.created_at,
        "status": status,
        "block": c.block_number,
        "tx": format!("0x{}", hex::encode(c.tx_hash)),
        "revoked_at": c.revoked_at,
        "revoke_tx": c.revoke_tx.map(|t| format!("0x{}", hex::encode(t))),
    })
}

/// Grants consent: signs (or takes the patient's signature), submits, records.
pub(crate) async fn grant(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<GrantRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let patient = patient_of(&id)?;
    let prepared = prepare_grant(&state, &principal, &patient, &body).await?;
    let ledger = permission_ledger(&state)?;
    let digest = ledger.grant_digest(&prepared.grant);
    let signature = match &body.signature {
        Some(text) => parse_signature(text)?,
        None => session_sign(&state, &principal, digest)?,
    };
    let location = ledger
        .submit_grant(&prepared.grant, &signature)
        .await
        .map_err(ledger_error)?;
    let record = ConsentRecord {
        grant_id: digest.0,
        patient: patient.clone(),
        institution: prepared.institution,
        access: prepared.grant.access,
        sections: prepared.grant.sections,
        metrics: prepared.metrics,
        purpose: body.purpose.trim().to_owned(),
        expires_at: body.expires_at,
        created_at: now_ms(),
        block_number: location.block_number,
        tx_hash: location.tx_hash.0,
        revoked_at: None,
        revoke_tx: None,
    };
    state.store.put_consent(&record).await?;
    crate::sealing::readers_changed(&state, &principal, &patient).await?;
    tracing::info!(grant = %digest, block = location.block_number, "consent granted");
    Ok((StatusCode::CREATED, Json(consent_view(&record, now_ms()))))
}

/// Signs with the session's unsealed key.
fn session_sign(
    state: &AppState,
    principal: &Principal,
    digest: B256,
) -> Result<Vec<u8>, ApiError> {
    let key = principal
        .session
        .and_then(|s| state.keyring.get(&s))
        .ok_or_else(|| {
            ApiError::refused(
                StatusCode::UNAUTHORIZED,
                "key_locked",
                "sign in again to unlock your consent key, or send a signature",
            )
        })?;
    sign_digest(&key, digest)
        .map(|s| s.to_vec())
        .map_err(ledger_error)
}

/// The patient's grants.
pub(crate) async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let patient = patient_of(&id)?;
    authorize(&state, &principal, Action::ManageConsent, &patient).await?;
    let now = now_ms();
    let consents: Vec<Value> = state
        .store
        .consents_of_patient(&patient)
        .await?
        .iter()
        .map(|c| consent_view(c, now))
        .collect();
    Ok(Json(json!({ "consents": consents })))
}

/// `POST /patients/{id}/consents/{grant}/revoke` body.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RevokeRequest {
    #[serde(default)]
    signature: Option<String>,
    #[serde(default)]
    nonce: Option<u64>,
}

/// Revokes a grant: signed like a grant, checked by the contract; access ends with it.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, grant)): Path<(String, String)>,
    body: Option<Json<RevokeRequest>>,
) -> Result<Json<Value>, ApiError> {
    let patient = patient_of(&id)?;
    authorize(&state, &principal, Action::ManageConsent, &patient).await?;
    principal.require_scope("write")?;
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let mut grant_id = [0u8; 32];
    hex::decode_to_slice(grant.trim_start_matches("0x"), &mut grant_id)
        .map_err(|_| ApiError::NotFound)?;
    let record = state
        .store
        .consent(grant_id)
        .await?
        .filter(|c| c.patient == patient)
        .ok_or(ApiError::NotFound)?;
    if record.revoked_at.is_some() {
        return Err(ApiError::refused(
            StatusCode::CONFLICT,
            "already_revoked",
            "this grant was revoked already",
        ));
    }
    let location = revoke_on_chain(&state, &principal, grant_id, &body).await?;
    let now = now_ms();
    state.store.revoke_consent(grant_id, now).await?;
    crate::sealing::readers_changed(&state, &principal, &patient).await?;
    state
        .store
        .set_revoke_tx(grant_id, location.tx_hash.0)
        .await?;
    tracing::info!(grant = %B256::from(grant_id), "consent revoked");
    let record = state
        .store
        .consent(grant_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(consent_view(&record, now)))
}

/// Submits a revocation signed by the patient (`body.signature`, or the session's key).
pub(crate) async fn revoke_on_chain(
    state: &AppState,
    principal: &Principal,
    grant_id: [u8; 32],
    body: &RevokeRequest,
) -> Result<vitalis_chain::permissions::TxLocation, ApiError> {
    let ledger = permission_ledger(state)?;
    let key = patient_address(principal)?;
    let nonce = match body.nonce {
        Some(n) => n,
        None => ledger.nonce(key).await.map_err(ledger_error)?,
    };
    let digest = ledger.revoke_digest(key, B256::from(grant_id), nonce);
    let signature = match &body.signature {
        Some(text) => parse_signature(text)?,
        None => session_sign(state, principal, digest)?,
    };
    ledger
        .submit_revoke(key, B256::from(grant_id), nonce, &signature)
        .await
        .map_err(ledger_error)
}

/// Institutions a patient can grant (approved), or, for the supervisor, all of them.
pub(crate) async fn institutions(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Value>, ApiError> {
    let status = match principal.role {
        Role::Supervisor => None,
        Role::Patient => Some(AccountStatus::Active),
        _ => {
            return Err(ApiError::denied(
                "not_permitted",
                "only patients and the supervisor list institutions",
            ));
        }
    };
    Ok(Json(
        json!({ "institutions": state.store.institutions(status).await? }),
    ))
}
