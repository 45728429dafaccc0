//! The institutions' side: the supervisor approves and suspends institutions (in the
//! store and in the ledger's identity registry); institutions list the patients who
//! consented; hospitals write clinical results; enterprise/government query aggregates of
//! the open section; researchers read de-identified data; and the access log, for the
//! patient and the supervisor, with each entry checked against its on-chain batch.

use std::collections::BTreeMap;

use alloy::primitives::B256;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use vitalis_access::{Action, Role};
use vitalis_chain::permissions::{InstitutionRole, pseudonym};
use vitalis_crypto::merkle::InclusionProof;
use vitalis_model::{
    ClinicalNote, ENCODING_CLINICAL_V1, LabResult, Metric, PatientId, Section, Timestamp,
};
use vitalis_store::directory::{AccessEntry, AccountStatus, SourceKind};
use vitalis_store::{DeviceAuth, NewDocument, ReadingQuery};

use crate::AppState;
use crate::accounts::now_ms;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::permit::{authorize, log_access};
use crate::routes::read::patient_of;
use crate::routes::{institution_address, permission_ledger};

pub(crate) fn supervisor_only(principal: &Principal) -> Result<(), ApiError> {
    if principal.role == Role::Supervisor {
        principal.require_scope("write")
    } else {
        Err(ApiError::denied(
            "not_permitted",
            "only the supervisor may do this",
        ))
    }
}

/// The institution named in the path, for the supervisor only.
async fn institution_for_supervisor(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<vitalis_store::directory::Institution, ApiError> {
    supervisor_only(principal)?;
    state.store.institution(id).await?.ok_or(ApiError::NotFound)
}

fn ledger_unavailable(e: impl std::fmt::Display) -> ApiError {
    tracing::warn!(error = %e, "registry transaction failed");
    ApiError::refused(
        StatusCode::SERVICE_UNAVAILABLE,
        "ledger_unavailable",
        "the ledger did not take the transaction; try again",
    )
}

/// Approves an institution: registers it in the identity registry if needed, approves it
/// there, then activates its accounts.
pub(crate) async fn approve(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let inst = institution_for_supervisor(&state, &principal, &id).await?;
    if inst.status == AccountStatus::Active {
        return Err(ApiError::refused(
            StatusCode::CONFLICT,
            "already_approved",
            "already approved",
        ));
    }
    let ledger = permission_ledger(&state)?;
    let account = institution_address(&inst)?;
    let role = match inst.role {
        Role::Hospital => InstitutionRole::Hospital,
        Role::Researcher => InstitutionRole::Researcher,
        _ => InstitutionRole::EnterpriseGovernment,
    };
    if ledger
        .institution_status(account)
        .await
        .map_err(ledger_unavailable)?
        == 0
    {
        ledger
            .register_institution(account, pseudonym("institution", &inst.id), role)
            .await
            .map_err(ledger_unavailable)?;
    }
    let tx = ledger
        .approve_institution(account)
        .await
        .map_err(ledger_unavailable)?;
    state
        .store
        .set_institution_status(&inst.id, AccountStatus::Active, now_ms())
        .await?;
    tracing::info!(institution = %inst.id, "institution approved");
    Ok(Json(
        json!({ "institution_id": inst.id, "status": "active", "tx": tx.tx_hash, "block": tx.block_number }),
    ))
}

/// Suspends (or refuses) an institution: its grants stop giving access on chain at once.
pub(crate) async fn suspend(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let inst = institution_for_supervisor(&state, &principal, &id).await?;
    if inst.status == AccountStatus::Suspended {
        return Err(ApiError::refused(
            StatusCode::CONFLICT,
            "already_suspended",
            "already suspended",
        ));
    }
    if inst.status == AccountStatus::Active {
        let ledger = permission_ledger(&state)?;
        let account = institution_address(&inst)?;
        ledger
            .suspend_institution(account)
            .await
            .map_err(ledger_unavailable)?;
    }
    state
        .store
        .set_institution_status(&inst.id, AccountStatus::Suspended, now_ms())
        .await?;
    Ok(Json(
        json!({ "institution_id": inst.id, "status": "suspended" }),
    ))
}

/// The patients who granted the caller's institution, with their grants.
pub(crate) async fn my_patients(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Value>, ApiError> {
    let institution = principal
        .institution()
        .ok_or_else(|| ApiError::denied("not_permitted", "for institution accounts"))?;
    let now = now_ms();
    let mut patients: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for c in state.store.consents_of_institution(institution).await? {
        patients
            .entry(c.patient.to_string())
            .or_default()
            .push(crate::routes::consent::consent_view(&c, now));
    }
    let list: Vec<Value> = patients
        .into_iter()
        .map(|(patient, grants)| json!({ "patient_id": patient, "grants": grants }))
        .collect();
    Ok(Json(json!({ "patients": list })))
}

/// `POST /patients/{id}/clinical` body: vital signs as readings, laboratory results by
/// LOINC code, a note.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClinicalBody {
    #[serde(default)]
    t: Option<i64>,
    #[serde(default)]
    readings: Vec<Value>,
    #[serde(default)]
    results: Vec<LabResult>,
    #[serde(default)]
    note: String,
}

/// A hospital records clinical results into a patient's history, as its own source: the
/// readings go through the ingest pipeline, the results and note become a clinical-note
/// record. Everything is checked before anything is stored.
pub(crate) async fn clinical(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let patient = patient_of(&id)?;
    let permit = authorize(&state, &principal, Action::WriteClinical, &patient).await?;
    let body: ClinicalBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::Ingest(vitalis_ingest::IngestError::MalformedJson {
            message: e.to_string(),
        })
    })?;
    let institution = principal.institution().unwrap_or_default().to_owned();
    let now = now_ms();
    let note = (!body.results.is_empty() || !body.note.trim().is_empty()).then(|| ClinicalNote {
        t: body.t.unwrap_or(now),
        institution: institution.clone(),
        results: body.results,
        note: body.note,
    });
    if note.is_none() && body.readings.is_empty() {
        return Err(ApiError::field(
            "readings",
            "empty",
            "send readings, results or a note",
        ));
    }
    if let Some(note) = &note {
        let now = Timestamp::new(now)
            .map_err(|e| ApiError::field("t", "invalid_parameter", e.message))?;
        note.validate(now).map_err(|e| ApiError::Refused {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid_clinical_note",
            message: e.to_string(),
            field: None,
        })?;
    }
    let source = state
        .store
        .source(&patient, SourceKind::Institution, Some(&institution))
        .await?;
    let mut answer = json!({ "source": source, "institution_id": institution });
    if !body.readings.is_empty() {
        let device = DeviceAuth {
            device: source.clone(),
            patient: patient.clone(),
            public_key: None,
            upload_interval_s: 0,
        };
        let upload = json!({ "readings": body.readings }).to_string();
        let receipt = state
            .pipeline
            .submit(&device, upload.as_bytes(), None)
            .await?;
        answer["readings"] = json!(receipt);
    }
    if let Some(note) = &note {
        let receipt = state
            .store
            .append_document(NewDocument {
                patient: patient.clone(),
                source,
                section: Section::Protected,
                encoding: ENCODING_CLINICAL_V1,
                t: Timestamp::new(note.t)
                    .map_err(|e| ApiError::field("t", "invalid_parameter", e.message))?,
                payload: note.encode(),
                received_at: Timestamp::new(now)
                    .map_err(|e| ApiError::field("t", "invalid_parameter", e.message))?,
                seal: match &state.sealing {
                    Some(sealing) => sealing.sealer.key_for(&patient).await?,
                    None => None,
                },
            })
            .await?;
        answer["note"] = json!(receipt);
    }
    log_access(
        &state,
        &principal,
        &patient,
        Action::WriteClinical,
        &permit,
        format!(
            "clinical results: {} readings, {} lab results",
            body.readings.len(),
            note.as_ref().map(|n| n.results.len()).unwrap_or(0)
        ),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(answer)))
}

/// The patient's clinical notes (protected section), newest first.
pub(crate) async fn clinical_notes(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let patient = patient_of(&id)?;
    let permit = authorize(&state, &principal, Action::ReadProtected, &patient).await?;
    if permit.deidentified {
        return Err(ApiError::denied(
            "deidentified_only",
            "researchers receive de-identified data only",
        ));
    }
    let keys = crate::sealing::reader_keys(&state, &principal).await?;
    let mut notes = Vec::new();
    let mut after = 0;
    loop {
        let page = state.store.records(&patient, after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.header.seq;
        for r in page.iter().filter(|r| {
            vitalis_model::plaintext_encoding(r.header.encoding) == ENCODING_CLINICAL_V1
        }) {
            let bytes = state.store.open_payload(r, keys.as_ref()).await?;
            let note = ClinicalNote::decode(&bytes)
                .map_err(|e| ApiError::Store(vitalis_store::StoreError::Corrupt(e.to_string())))?;
            notes.push(json!({ "record": r.id, "seq": r.header.seq, "source": r.header.source, "note": note }));
        }
    }
    notes.reverse();
    log_access(
        &state,
        &principal,
        &patient,
        Action::ReadProtected,
        &permit,
        format!("clinical notes: {} returned", notes.len()),
    )
    .await?;
    Ok(Json(json!({ "notes": notes })))
}

/// A patient's manual entry of open-section readings (their own source).
pub(crate) async fn manual_entry(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let patient = patient_of(&id)?;
    if principal.role != Role::Patient {
        return Err(ApiError::denied(
            "not_permitted",
            "manual entries are the patient's own",
        ));
    }
    authorize(&state, &principal, Action::WriteReadings, &patient).await?;
    // Manual entries are of open metrics only (DESIGN.md §1).
    let parsed: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::Ingest(vitalis_ingest::IngestError::MalformedJson {
            message: e.to_string(),
        })
    })?;
    let choices = state.store.section_choices(&patient).await?;
    for r in parsed["readings"].as_array().into_iter().flatten() {
        let Some(metric) = r["metric"].as_str().and_then(Metric::from_name) else {
            continue;
        };
        let section = choices
            .iter()
            .find(|(m, _)| *m == metric)
            .map(|(_, s)| *s)
            .unwrap_or(metric.spec().default_section);
        if section == Section::Protected {
            return Err(ApiError::denied(
                "protected_metric",
                format!(
                    "{} is in the protected section: only devices and clinicians write it",
                    metric.name()
                ),
            ));
        }
    }
    let source = state
        .store
        .source(&patient, SourceKind::Manual, None)
        .await?;
    let device = DeviceAuth {
        device: source,
        patient,
        public_key: None,
        upload_interval_s: 0,
    };
    let receipt = state.pipeline.submit(&device, &body, None).await?;
    Ok((StatusCode::CREATED, Json(json!({ "receipt": receipt }))))
}

/// Query of the aggregate and research endpoints.
#[derive(Debug, Deserialize)]
pub(crate) struct AggregateParams {
    metric: String,
    from: i64,
    to: i64,
    #[serde(default)]
    group: Option<String>,
}

/// The patients whose grants to the caller's institution are in force, each authorised.
async fn consenting(
    state: &AppState,
    principal: &Principal,
    action: Action,
) -> Result<Vec<(PatientId, crate::permit::Permit)>, ApiError> {
    let institution = principal
        .institution()
        .ok_or_else(|| ApiError::denied("not_permitted", "for institution accounts"))?;
    let mut patients: Vec<PatientId> = state
        .store
        .consents_of_institution(institution)
        .await?
        .into_iter()
        .map(|c| c.patient)
        .collect();
    patients.sort();
    patients.dedup();
    let mut out = Vec::new();
    for p in patients {
        if let Ok(permit) = authorize(state, principal, action, &p).await {
            out.push((p, permit));
        }
    }
    Ok(out)
}

fn time_range(from: i64, to: i64) -> Result<(Timestamp, Timestamp), ApiError> {
    let from = Timestamp::new(from)
        .map_err(|e| ApiError::field("from", "invalid_parameter", e.message))?;
    let to =
        Timestamp::new(to).map_err(|e| ApiError::field("to", "invalid_parameter", e.message))?;
    if from > to {
        return Err(ApiError::field(
            "from",
            "invalid_parameter",
            "from must not be after to",
        ));
    }
    Ok((from, to))
}

async fn all_readings(
    state: &AppState,
    mut query: ReadingQuery,
) -> Result<Vec<vitalis_store::StoredReading>, ApiError> {
    let mut out = Vec::new();
    loop {
        let page = state.store.readings(&query).await?;
        out.extend(page.readings);
        match page.next {
            Some(next) if out.len() < 1_000_000 => query.after = Some(next),
            _ => return Ok(out),
        }
    }
}

/// Enterprise/government: per-day (or per-region) aggregates of an open-section metric over
/// the patients who consented. Never the protected section, whatever the request says.
pub(crate) async fn aggregate(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<AggregateParams>,
) -> Result<Json<Value>, ApiError> {
    if principal.role != Role::Enterprise {
        return Err(ApiError::denied(
            "not_permitted",
            "aggregates are for enterprise and government",
        ));
    }
    let metric = Metric::from_name(&params.metric)
        .ok_or_else(|| ApiError::field("metric", "unknown_metric", "unknown metric"))?;
    let (from, to) = time_range(params.from, params.to)?;
    let by_region = match params.group.as_deref() {
        None | Some("day") => false,
        Some("region") => true,
        Some(_) => {
            return Err(ApiError::field(
                "group",
                "invalid_parameter",
                "group is day or region",
            ));
        }
    };
    let patients = consenting(&state, &principal, Action::ReadOpen).await?;
    let ids: Vec<PatientId> = patients.iter().map(|(p, _)| p.clone()).collect();
    let regions: BTreeMap<PatientId, Option<String>> =
        state.store.regions(&ids).await?.into_iter().collect();
    // group → (patients, sum, count)
    let mut groups: BTreeMap<String, (std::collections::BTreeSet<PatientId>, f64, u64)> =
        BTreeMap::new();
    for (patient, permit) in &patients {
        if permit.metrics().is_some_and(|m| !m.contains(&metric)) {
            continue;
        }
        let readings = all_readings(
            &state,
            ReadingQuery {
                patient: patient.clone(),
                metric: Some(metric),
                metrics: None,
                sections: Some(vec![Section::Open]),
                from,
                to,
                after: None,
                limit: 10_000,
                keys: None,
            },
        )
        .await?;
        for r in &readings {
            let key = if by_region {
                regions
                    .get(patient)
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| "unknown".into())
            } else {
                let day = r.t.millis().div_euclid(86_400_000);
                day.to_string()
            };
            let vitalis_model::Value::Scalar(value) = r.value else {
                continue;
            };
            let entry = groups.entry(key).or_default();
            entry.0.insert(patient.clone());
            entry.1 += value;
            entry.2 += 1;
        }
        log_access(
            &state,
            &principal,
            patient,
            Action::ReadOpen,
            permit,
            format!(
                "aggregate {} {}..{}: {} readings",
                metric.name(),
                from.millis(),
                to.millis(),
                readings.len()
            ),
        )
        .await?;
    }
    let rows: Vec<Value> = groups
        .into_iter()
        .map(|(key, (who, sum, count))| {
            let patients = who.len() as f64;
            let mut row = json!({
                "patients": who.len(),
                "readings": count,
                "total": sum,
                "mean_per_patient": sum / patients,
            });
            if by_region {
                row["region"] = json!(key);
            } else {
                let day: i64 = key.parse().unwrap_or(0);
                row["day_start"] = json!(day * 86_400_000);
            }
            row
        })
        .collect();
    Ok(Json(
        json!({ "metric": metric, "section": "open", "consenting_patients": patients.len(), "groups": rows }),
    ))
}

/// Researchers: de-identified readings of the patients who consented to the study: a
/// pseudonym per grant instead of the patient, no device or record ids.
pub(crate) async fn research(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<AggregateParams>,
) -> Result<Json<Value>, ApiError> {
    if principal.role != Role::Researcher {
        return Err(ApiError::denied(
            "not_permitted",
            "de-identified data is for researchers",
        ));
    }
    let metric = Metric::from_name(&params.metric)
        .ok_or_else(|| ApiError::field("metric", "unknown_metric", "unknown metric"))?;
    let (from, to) = time_range(params.from, params.to)?;
    let section = metric.spec().default_section;
    let action = match section {
        Section::Open => Action::ReadOpen,
        Section::Protected => Action::ReadProtected,
    };
    let mut subjects = Vec::new();
    let research_keys = crate::sealing::reader_keys(&state, &principal).await?;
    for (patient, permit) in consenting(&state, &principal, action).await? {
        if permit.metrics().is_some_and(|m| !m.contains(&metric)) {
            continue;
        }
        let grant = permit
            .grants
            .first()
            .map(|g| g.grant_id)
            .unwrap_or_default();
        let subject =
            hex::encode(&Sha256::digest([&grant[..], patient.as_str().as_bytes()].concat())[..8]);
        let readings = all_readings(
            &state,
            ReadingQuery {
                patient: patient.clone(),
                metric: Some(metric),
                metrics: None,
                sections: Some(vec![section]),
                from,
                to,
                after: None,
                limit: 10_000,
                keys: research_keys.clone(),
            },
        )
        .await?;
        log_access(
            &state,
            &principal,
            &patient,
            action,
            &permit,
            format!(
                "de-identified {} {}..{}: {} readings",
                metric.name(),
                from.millis(),
                to.millis(),
                readings.len()
            ),
        )
        .await?;
        let values: Vec<Value> = readings
            .iter()
            .map(|r| json!([r.t.millis(), r.value]))
            .collect();
        subjects.push(json!({ "subject": subject, "readings": values }));
    }
    Ok(Json(json!({ "metric": metric, "subjects": subjects })))
}

/// Query of the access-log endpoints.
#[derive(Debug, Deserialize)]
pub(crate) struct LogParams {
    #[serde(default)]
    before: Option<i64>,
    #[serde(default)]
    limit: Option<u32>,
}

/// Each entry with its proof checked: the leaf is recomputed from the entry, the proof
/// must lead to the batch root, and the root must be on the ledger.
async fn log_view(state: &AppState, entries: Vec<AccessEntry>) -> Result<Vec<Value>, ApiError> {
    let mut on_chain: BTreeMap<[u8; 32], bool> = BTreeMap::new();
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let leaf_ok = e.entry.hash() == e.entry_hash;
        let leaf = AccessEntry::leaf(e.id, &e.entry_hash);
        let (batch, verified) = match &e.batch {
            None => (Value::Null, Value::Null),
            Some(b) => {
                let proof_ok = InclusionProof::from_bytes(&b.proof)
                    .map(|p| p.verify(&leaf, &b.root).is_ok())
                    .unwrap_or(false);
                let chain_ok = match (on_chain.get(&b.root), &state.permissions) {
                    (Some(found), _) => Some(*found),
                    (None, Some(ledger)) if b.on_chain.is_some() => {
                        let found = ledger
                            .find_access_batch(B256::from(b.root))
                            .await
                            .map(|f| f.is_some())
                            .unwrap_or(false);
                        on_chain.insert(b.root, found);
                        Some(found)
                    }
                    _ => None,
                };
                (
                    json!({
                        "root": format!("0x{}", hex::encode(b.root)),
                        "proof": hex::encode(&b.proof),
                        "block": b.on_chain.map(|c| c.block_number),
                        "tx": b.on_chain.map(|c| format!("0x{}", hex::encode(c.tx_hash))),
                        "index": b.on_chain.map(|c| c.index),
                    }),
                    match chain_ok {
                        Some(chain_ok) => json!(leaf_ok && proof_ok && chain_ok),
                        None => Value::Null,
                    },
                )
            }
        };
        out.push(json!({
            "id": e.id,
            "at": e.entry.at,
            "account_id": e.entry.account,
            "role": e.entry.role,
            "institution_id": e.entry.institution,
            "patient_id": e.entry.patient,
            "action": e.entry.action,
            "detail": e.entry.detail,
            "purpose": e.entry.purpose,
            "entry_hash": hex::encode(e.entry_hash),
            "batch": batch,
            "verified": verified,
        }));
    }
    Ok(out)
}

/// Who accessed the patient's data (the patient; the supervisor).
pub(crate) async fn patient_log(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(params): Query<LogParams>,
) -> Result<Json<Value>, ApiError> {
    let patient = patient_of(&id)?;
    authorize(&state, &principal, Action::ReadAudit, &patient).await?;
    let limit = params.limit.unwrap_or(100).clamp(1, 1000);
    let entries = state
        .store
        .access_log(Some(&patient), params.before, limit)
        .await?;
    Ok(Json(json!({ "entries": log_view(&state, entries).await? })))
}

/// The whole access log (the supervisor's audit).
pub(crate) async fn audit_log(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<LogParams>,
) -> Result<Json<Value>, ApiError> {
    if principal.role != Role::Supervisor {
        return Err(ApiError::denied(
            "not_permitted",
            "the audit log is the supervisor's",
        ));
    }
    let limit = params.limit.unwrap_or(100).clamp(1, 1000);
    let entries = state.store.access_log(None, params.before, limit).await?;
    Ok(Json(json!({ "entries": log_view(&state, entries).await? })))
}
