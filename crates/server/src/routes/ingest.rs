//! `POST /api/v1/readings`: a device uploads a batch. A device paired with an Ed25519
//! public key must sign the exact body bytes (`X-Vitalis-Signature: <base64 signature>`);
//! the answer tells the device its current upload interval.

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
/// Header carrying a signed device's Ed25519 signature of the body.
const SIGNATURE: &str = "x-vitalis-signature";

fn check_signature(
    public_key: &[u8; 32],
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), ApiError> {
    use base64::Engine;
    let refused =
        |code, message: &str| ApiError::refused(StatusCode::UNAUTHORIZED, code, message.to_owned());
    let text = headers
        .get(SIGNATURE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            refused(
                "signature_required",
                "this device signs its uploads: X-Vitalis-Signature is missing",
            )
        })?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .ok_or_else(|| {
            refused(
                "invalid_signature",
                "X-Vitalis-Signature is not a base64 Ed25519 signature",
            )
        })?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(public_key)
        .map_err(|_| refused("invalid_signature", "the device's public key is unusable"))?;
    key.verify_strict(body, &ed25519_dalek::Signature::from_bytes(&bytes))
        .map_err(|_| refused("invalid_signature", "the signature does not match the body"))
}

pub(crate) async fn upload(
    State(state): State<AppState>,
    Device(device): Device,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
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
    if let Some(public_key) = &device.public_key {
        check_signature(public_key, &headers, &body)?;
    }
    let receipt: AppendReceipt = state.pipeline.submit(&device, &body, key).await?;
    let mut answer = serde_json::to_value(&receipt).unwrap_or_default();
    answer["upload_interval_s"] = serde_json::json!(device.upload_interval_s);
    Ok(Json(answer))
}
