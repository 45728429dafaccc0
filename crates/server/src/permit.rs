//! Authorisation of one request against the permission matrix: gathers the patient's
//! consent to the caller's institution (the store's record, then the ledger's word, so a
//! revocation or a suspension on chain takes effect on the very next request), asks
//! `vitalis_access::decide`, and writes the access log for what it allows.

use alloy::primitives::B256;
use vitalis_access::{Action, ConsentState, Decision, Grant, Target, decide};
use vitalis_model::{Metric, PatientId, Section};
use vitalis_store::directory::{ConsentRecord, NewAccessEntry};

use crate::AppState;
use crate::accounts::now_ms;
use crate::auth::Principal;
use crate::error::ApiError;

/// What an allowed request may do.
pub(crate) struct Permit {
    /// Must be written to the access log.
    pub(crate) log: bool,
    /// Only de-identified data may leave.
    pub(crate) deidentified: bool,
    /// The grants in force that allowed it (institutions only).
    pub(crate) grants: Vec<ConsentRecord>,
}

impl Permit {
    /// The metrics the grants restrict reads to (`None`: every metric of the sections).
    pub(crate) fn metrics(&self) -> Option<Vec<Metric>> {
        if self.grants.is_empty() || self.grants.iter().any(|g| g.metrics.is_empty()) {
            return None;
        }
        let mut all: Vec<Metric> = self.grants.iter().flat_map(|g| g.metrics.clone()).collect();
        all.sort();
        all.dedup();
        Some(all)
    }

    /// The purpose to log.
    pub(crate) fn purpose(&self) -> String {
        self.grants
            .first()
            .map(|g| g.purpose.clone())
            .unwrap_or_else(|| "own data".to_owned())
    }
}

/// The caller's consent state for `patient`: the union of every grant in force (not
/// revoked in the store, not expired, active on the ledger).
async fn consent_state(
    state: &AppState,
    principal: &Principal,
    patient: &PatientId,
) -> Result<(ConsentState, Vec<ConsentRecord>), ApiError> {
    let Some(institution) = principal.institution() else {
        return Ok((ConsentState::None, Vec::new()));
    };
    let now = now_ms();
    let grants: Vec<ConsentRecord> = state
        .store
        .consents_of_patient(patient)
        .await?
        .into_iter()
        .filter(|g| g.institution == institution)
        .collect();
    if grants.is_empty() {
        return Ok((ConsentState::None, Vec::new()));
    }
    let mut live = Vec::new();
    for g in &grants {
        if g.revoked_at.is_some() || g.expires_at <= now {
            continue;
        }
        let Some(ledger) = &state.permissions else {
            continue;
        };
        match ledger.is_active(B256::from(g.grant_id)).await {
            Ok(true) => live.push(g.clone()),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "the ledger could not confirm a consent");
                return Err(ApiError::refused(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    "ledger_unavailable",
                    "consent cannot be checked on the ledger right now",
                ));
            }
        }
    }
    if live.is_empty() {
        let any_revoked = grants
            .iter()
            .any(|g| g.revoked_at.is_some() || g.expires_at > now);
        return Ok((
            if any_revoked {
                ConsentState::Revoked
            } else {
                ConsentState::Expired
            },
            Vec::new(),
        ));
    }
    let union = Grant {
        read: live.iter().any(|g| g.access & 1 != 0),
        write: live.iter().any(|g| g.access & 2 != 0),
        open: live.iter().any(|g| g.sections & 1 != 0),
        protected: live.iter().any(|g| g.sections & 2 != 0),
    };
    Ok((ConsentState::Active(union), live))
}

/// Decides `action` on `patient`'s data for the caller; refuses with the matrix's reason.
pub(crate) async fn authorize(
    state: &AppState,
    principal: &Principal,
    action: Action,
    patient: &PatientId,
) -> Result<Permit, ApiError> {
    // Handlers that change settings, devices or consent also ask for the write scope.
    let write = matches!(
        action,
        Action::WriteReadings | Action::WriteClinical | Action::CorrectRecord
    );
    principal.require_scope(if write { "write" } else { "read" })?;
    let (consent, grants) = consent_state(state, principal, patient).await?;
    let decision = decide(&principal.actor(), action, &Target { patient, consent });
    match decision {
        Decision::Allow(allowance) => Ok(Permit {
            log: allowance.log,
            deidentified: allowance.deidentified,
            grants: grants.into_iter().filter(|g| covers(g, action)).collect(),
        }),
        Decision::Deny(reason) => {
            tracing::info!(
                role = principal.role.name(),
                action = action.name(),
                reason = reason.code(),
                "access refused"
            );
            Err(ApiError::denied(
                reason.code(),
                format!("{} may not {} here", principal.role.name(), action.name()),
            ))
        }
    }
}

fn covers(g: &ConsentRecord, action: Action) -> bool {
    match action {
        Action::ReadOpen => g.access & 1 != 0 && g.sections & 1 != 0,
        Action::ReadProtected => g.access & 1 != 0 && g.sections & 2 != 0,
        Action::WriteClinical => g.access & 2 != 0,
        _ => true,
    }
}

/// The sections the caller may read of `patient`'s data, each with its permit; refuses
/// when it may read neither.
pub(crate) async fn readable_sections(
    state: &AppState,
    principal: &Principal,
    patient: &PatientId,
) -> Result<Vec<(Section, Permit)>, ApiError> {
    let open = authorize(state, principal, Action::ReadOpen, patient).await;
    let protected = authorize(state, principal, Action::ReadProtected, patient).await;
    match (open, protected) {
        (Err(e), Err(_)) => Err(e),
        (open, protected) => Ok([
            open.ok().map(|p| (Section::Open, p)),
            protected.ok().map(|p| (Section::Protected, p)),
        ]
        .into_iter()
        .flatten()
        .collect()),
    }
}

/// Writes the access-log entries of one read over several sections in one transaction
/// (one entry per section whose permit asks for logging).
pub(crate) async fn log_sections(
    state: &AppState,
    principal: &Principal,
    patient: &PatientId,
    permits: &[(Section, Permit)],
    detail: String,
) -> Result<(), ApiError> {
    let Some(account) = &principal.account else {
        return Ok(());
    };
    let at = now_ms();
    let entries: Vec<NewAccessEntry> = permits
        .iter()
        .filter(|(_, permit)| permit.log)
        .map(|(section, permit)| NewAccessEntry {
            at,
            account: account.id.clone(),
            role: principal.role,
            institution: account.institution.clone(),
            patient: patient.clone(),
            action: match section {
                Section::Open => Action::ReadOpen,
                Section::Protected => Action::ReadProtected,
            }
            .name()
            .to_owned(),
            detail: detail.clone(),
            purpose: permit.purpose(),
        })
        .collect();
    if !entries.is_empty() {
        state.store.log_access(&entries).await?;
    }
    Ok(())
}

/// Writes access-log entries for an allowed access.
pub(crate) async fn log_access(
    state: &AppState,
    principal: &Principal,
    patient: &PatientId,
    action: Action,
    permit: &Permit,
    detail: String,
) -> Result<(), ApiError> {
    if !permit.log {
        return Ok(());
    }
    let Some(account) = &principal.account else {
        return Ok(());
    };
    state
        .store
        .log_access(&[NewAccessEntry {
            at: now_ms(),
            account: account.id.clone(),
            role: principal.role,
            institution: account.institution.clone(),
            patient: patient.clone(),
            action: action.name().to_owned(),
            detail,
            purpose: permit.purpose(),
        }])
        .await?;
    Ok(())
}
