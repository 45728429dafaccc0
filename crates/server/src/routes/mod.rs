//! Request handlers, one module per concern; they translate HTTP to library calls.

pub(crate) mod analysis;
pub(crate) mod attributes;
pub(crate) mod chain;
pub(crate) mod consent;
pub(crate) mod devices;
pub(crate) mod export;
pub(crate) mod ingest;
pub(crate) mod live;
pub(crate) mod policy;
pub(crate) mod portal;
pub(crate) mod read;
pub(crate) mod research;
pub(crate) mod ui;
pub(crate) mod verify;

use axum::Json;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

/// The ledger's consent contract, registry and access log, or 503 on a server without.
pub(crate) fn permission_ledger(
    state: &AppState,
) -> Result<&vitalis_chain::permissions::PermissionLedger, ApiError> {
    state.permissions.as_deref().ok_or_else(|| {
        ApiError::refused(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "ledger_unavailable",
            "this server has no ledger for consent and institutions",
        )
    })
}

/// An institution's address on the ledger, as stored.
pub(crate) fn institution_address(
    institution: &vitalis_store::directory::Institution,
) -> Result<alloy::primitives::Address, ApiError> {
    institution.address.parse().map_err(|_| {
        ApiError::Store(vitalis_store::StoreError::Corrupt(format!(
            "address of institution {}",
            institution.id
        )))
    })
}

pub(crate) async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
