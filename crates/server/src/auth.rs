//! Who is calling: a device (bearer device token), or a [`Principal`] — an account signed
//! in with a session cookie, or a program with an API token (`Authorization: Bearer
//! vtk_…`; the patient tokens of scripts work the same way). Device tokens on account
//! routes become a device principal, which the permission matrix refuses everywhere but
//! uploads.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use vitalis_access::{Actor, Role};
use vitalis_model::{DeviceId, PatientId};
use vitalis_store::DeviceAuth;
use vitalis_store::directory::{Account, AccountStatus};

use crate::accounts::{csrf_header, now_ms};
use crate::error::ApiError;
use crate::{AppState, tokens};

/// Name of the session cookie.
pub(crate) const SESSION_COOKIE: &str = "vitalis_session";

fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

fn session_cookie(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty())
}

/// A request from an authenticated device.
pub(crate) struct Device(pub(crate) DeviceAuth);

impl FromRequestParts<AppState> for Device {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or(ApiError::Unauthorized)?;
        let auth = state.store.device_by_token(tokens::hash(token)).await?;
        auth.map(Device).ok_or(ApiError::Unauthorized)
    }
}

/// Who made a request to an account route.
pub(crate) struct Principal {
    /// The account; `None` for a device.
    pub(crate) account: Option<Account>,
    /// The role the permission matrix sees.
    pub(crate) role: Role,
    /// A patient's own id, or a device's patient.
    pub(crate) patient: Option<PatientId>,
    /// The device, for a device principal.
    #[allow(dead_code)]
    pub(crate) device: Option<DeviceId>,
    /// The session-id hash, for a session.
    pub(crate) session: Option<[u8; 32]>,
    /// The session's CSRF token.
    pub(crate) csrf: Option<String>,
    /// An API token's scopes (`None`: a session, which has all).
    pub(crate) scopes: Option<Vec<String>>,
    /// An API token's hash.
    pub(crate) token_hash: Option<[u8; 32]>,
    /// The key derived from an API token, which opens what the token's patient can.
    pub(crate) token_key: Option<zeroize::Zeroizing<[u8; 32]>>,
}

impl Principal {
    /// The matrix's view of the caller.
    pub(crate) fn actor(&self) -> Actor {
        Actor {
            role: self.role,
            patient: self.patient.clone(),
        }
    }

    /// The account, or 403 for a device.
    pub(crate) fn account(&self) -> Result<&Account, ApiError> {
        self.account
            .as_ref()
            .ok_or_else(|| ApiError::denied("not_permitted", "devices may only upload readings"))
    }

    /// The account of a session (not an API token).
    pub(crate) fn session_account(&self) -> Result<&Account, ApiError> {
        if self.session.is_none() {
            return Err(ApiError::denied(
                "session_required",
                "this needs a signed-in session, not an API token",
            ));
        }
        self.account()
    }

    /// Refuses an API token without `scope`.
    pub(crate) fn require_scope(&self, scope: &str) -> Result<(), ApiError> {
        match &self.scopes {
            Some(scopes) if !scopes.iter().any(|s| s == scope) => Err(ApiError::denied(
                "insufficient_scope",
                format!("this token lacks the {scope} scope"),
            )),
            _ => Ok(()),
        }
    }

    /// The caller's institution (for institution roles).
    pub(crate) fn institution(&self) -> Option<&str> {
        self.account.as_ref().and_then(|a| a.institution.as_deref())
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let now = now_ms();
        if let Some(cookie) = session_cookie(parts) {
            let id_hash = tokens::hash(cookie);
            let Some(session) = state.store.session(id_hash, now).await? else {
                // An ended session's key leaves memory with it.
                state.keyring.forget(&id_hash);
                return Err(ApiError::refused(
                    StatusCode::UNAUTHORIZED,
                    "session_expired",
                    "the session has ended; sign in again",
                ));
            };
            let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
            if !safe && csrf_header(&parts.headers) != Some(session.csrf.as_str()) {
                return Err(ApiError::denied(
                    "csrf",
                    "missing or wrong X-CSRF-Token header",
                ));
            }
            return principal_of(session.account, Some(id_hash), Some(session.csrf), None);
        }
        let token = bearer(parts).ok_or(ApiError::Unauthorized)?;
        let hash = tokens::hash(token);
        if let Some((account, scopes)) = state.store.api_token(hash, now).await? {
            let mut principal = principal_of(account, None, None, Some(scopes))?;
            principal.token_hash = Some(hash);
            principal.token_key = Some(crate::sealing::token_key(token));
            return Ok(principal);
        }
        if let Some(device) = state.store.device_by_token(hash).await? {
            return Ok(Principal {
                account: None,
                role: Role::Device,
                patient: Some(device.patient),
                device: Some(device.device),
                session: None,
                csrf: None,
                // The matrix alone decides what a device may do.
                scopes: None,
                token_hash: None,
                token_key: None,
            });
        }
        Err(ApiError::Unauthorized)
    }
}

fn principal_of(
    account: Account,
    session: Option<[u8; 32]>,
    csrf: Option<String>,
    scopes: Option<Vec<String>>,
) -> Result<Principal, ApiError> {
    if account.status != AccountStatus::Active {
        return Err(ApiError::denied(
            "account_not_active",
            "this account is pending approval or suspended",
        ));
    }
    Ok(Principal {
        role: account.role,
        patient: account.patient.clone(),
        account: Some(account),
        device: None,
        session,
        csrf,
        scopes,
        token_hash: None,
        token_key: None,
    })
}
