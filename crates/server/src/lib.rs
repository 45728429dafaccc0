//! Vitalis HTTP API (axum): device uploads, the patient's read path and live stream.
//!
//! [`router`] builds the whole API from an [`AppState`]; the `vitalis` binary binds it to
//! a socket, tests drive it in-process or on port 0. Routes:
//!
//! | method | path | who | what |
//! |---|---|---|---|
//! | POST | `/api/v1/readings` | device token | upload a batch; answers after the commit |
//! | GET | `/api/v1/patients/{id}/readings` | patient token | readings by metric and time |
//! | GET | `/api/v1/patients/{id}/records` | patient token | the patient's record chain |
//! | GET | `/api/v1/patients/{id}/live` | patient token | Server-Sent Events of new readings |
//! | GET | `/api/v1/patients/{id}/verify` | patient token | the history checked against the ledger |
//! | GET | `/api/v1/health` | anyone | liveness |
//!
//! Every refusal is an [`ApiError`]: a 4xx (or 503 when the store is down) with the body
//! `{"error": {"code", "message", "field", "index"}}`.

mod auth;
mod error;
mod routes;
pub mod tokens;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use vitalis_ingest::Pipeline;
use vitalis_ingest::verify::Verifier;
use vitalis_store::Store;

pub use error::ApiError;

/// Limits of the HTTP layer.
#[derive(Debug, Clone, Copy)]
pub struct ApiConfig {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        // 10,000 readings at ~80 bytes each, with room to spare.
        ApiConfig {
            max_body_bytes: 2 * 1024 * 1024,
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The store (reads, token lookups).
    pub store: Arc<dyn Store>,
    /// The ingest pipeline (writes, live bus).
    pub pipeline: Pipeline,
    /// HTTP limits.
    pub config: ApiConfig,
    /// Checks histories against the ledger; `None` on a server without one.
    pub verifier: Option<Arc<Verifier>>,
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/readings", post(routes::ingest::upload))
        .route("/patients/{id}/readings", get(routes::read::readings))
        .route("/patients/{id}/records", get(routes::read::records))
        .route("/patients/{id}/live", get(routes::live::stream))
        .route("/patients/{id}/verify", get(routes::verify::verify))
        .route("/health", get(routes::health));
    Router::new()
        .nest("/api/v1", api)
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        // The upload handler enforces the body limit itself, to answer in JSON.
        .layer(axum::extract::DefaultBodyLimit::max(
            state.config.max_body_bytes,
        ))
        .with_state(state)
}
