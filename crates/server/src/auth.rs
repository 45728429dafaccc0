//! Who is calling: extractors that turn a bearer token into a device or a patient.
//!
//! Tokens are looked up by their hash; the full account model (sessions, roles, consent)
//! replaces the patient token with the accounts work.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use vitalis_model::PatientId;
use vitalis_store::DeviceAuth;

use crate::error::ApiError;
use crate::{AppState, tokens};

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized)
}

/// A request from an authenticated device.
pub(crate) struct Device(pub(crate) DeviceAuth);

impl FromRequestParts<AppState> for Device {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        let auth = state.store.device_by_token(tokens::hash(token)).await?;
        auth.map(Device).ok_or(ApiError::Unauthorized)
    }
}

/// A request from an authenticated patient.
pub(crate) struct Patient(pub(crate) PatientId);

impl FromRequestParts<AppState> for Patient {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        let patient = state.store.patient_by_token(tokens::hash(token)).await?;
        patient.map(Patient).ok_or(ApiError::Unauthorized)
    }
}

impl Patient {
    /// Allows access only to the patient's own data.
    pub(crate) fn require_self(&self, requested: &str) -> Result<(), ApiError> {
        if self.0.as_str() == requested {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}
