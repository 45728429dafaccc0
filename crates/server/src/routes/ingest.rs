//! `POST /api/v1/readings`: a device uploads a batch.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use vitalis_store::AppendReceipt;

use crate::AppState;
use crate::auth::Device;
use crate::error::ApiError;

/// Header carrying the sender's idempotency key.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

pub(crate) async fn upload(
    State(state): State<AppState>,
    Device(device): Device,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<AppendReceipt>, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::BodyTooLarge {
                limit: state.config.max_body_bytes,
            }
        } else {
            ApiError::Ingest(vitalis_ingest::IngestError::MalformedJson {
                message: rejection.body_text(),
            })
        }
    })?;
    let key = match headers.get(IDEMPOTENCY_KEY) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| vitalis_ingest::IngestError::InvalidIdempotencyKey)?,
        ),
    };
    let receipt = state.pipeline.submit(&device, &body, key).await?;
    Ok(Json(receipt))
}
