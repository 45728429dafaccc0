//! `GET /chain/explorer`: the newest blocks of the ledger and the newest anchors this
//! node claimed (pending ones included), with where each is on chain, and the contracts'
//! addresses, for any signed-in account. Roots and blocks are public on the ledger; no
//! record or patient is named.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::routes::permission_ledger;

/// Most blocks or anchors one answer lists.
const MAX_LIMIT: u32 = 100;

/// `?limit=`.
#[derive(Debug, Deserialize)]
pub(crate) struct ExplorerParams {
    limit: Option<u32>,
}

pub(crate) async fn explorer(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<ExplorerParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    principal.account()?;
    let Query(params) = params?;
    let limit = params.limit.unwrap_or(10);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::BadParameter {
            code: "invalid_parameter",
            field: "limit",
            message: format!("limit is 1 to {MAX_LIMIT}"),
        });
    }
    let ledger = permission_ledger(&state)?;
    let blocks = ledger.recent_blocks(u64::from(limit)).await.map_err(|e| {
        tracing::warn!(error = %e, "reading the newest blocks");
        ApiError::refused(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "ledger_unavailable",
            "the ledger did not answer",
        )
    })?;
    let anchors = state.store.recent_anchors(limit).await?;
    let deployment = ledger.deployment();
    Ok(Json(json!({
        "blocks": blocks.iter().map(|b| json!({
            "number": b.number,
            "hash": b.hash.to_string(),
            "time": b.timestamp * 1000,
            "transactions": b.transactions,
        })).collect::<Vec<_>>(),
        "anchors": anchors.iter().map(|a| json!({
            "id": a.id,
            "root": format!("0x{}", hex::encode(a.root)),
            "records": a.record_count,
            "interval_start": a.interval_start,
            "interval_end": a.interval_end,
            "index": a.on_chain.map(|c| c.index),
            "block": a.on_chain.map(|c| c.block_number),
            "tx": a.on_chain.map(|c| format!("0x{}", hex::encode(c.tx_hash))),
        })).collect::<Vec<_>>(),
        "contracts": {
            "registry": deployment.registry.to_string(),
            "anchors": deployment.anchors.to_string(),
            "consent": deployment.consent.to_string(),
            "access_log": deployment.access_log.to_string(),
        },
    })))
}
