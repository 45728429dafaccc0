//! Request handlers, one module per concern; they translate HTTP to library calls.

pub(crate) mod consent;
pub(crate) mod devices;
pub(crate) mod ingest;
pub(crate) mod live;
pub(crate) mod portal;
pub(crate) mod read;
pub(crate) mod verify;

use axum::Json;
use serde_json::{Value, json};

use crate::error::ApiError;

pub(crate) async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
