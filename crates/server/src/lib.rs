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

pub mod accounts;
mod auth;
mod error;
mod permit;
mod routes;
pub mod sealing;
pub mod tokens;

use std::sync::Arc;

use axum::Router;
use axum::routing::{delete, get, patch, post};
use vitalis_chain::permissions::PermissionLedger;
use vitalis_ingest::Pipeline;
use vitalis_ingest::verify::Verifier;
use vitalis_store::Store;

pub use error::ApiError;

/// Limits and settings of the HTTP layer.
#[derive(Debug, Clone, Copy)]
pub struct ApiConfig {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Mark session cookies `Secure` (when served over TLS, directly or behind a proxy).
    pub secure_cookies: bool,
}

impl Default for ApiConfig {
    fn default() -> Self {
        // 10,000 readings at ~80 bytes each, with room to spare.
        ApiConfig {
            max_body_bytes: 2 * 1024 * 1024,
            secure_cookies: false,
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
    /// Consent, institutions and the access log on the ledger; `None` on a server without
    /// one (then every institution access is refused: consent cannot be checked).
    pub permissions: Option<Arc<PermissionLedger>>,
    /// Signed-in accounts' unsealed keys, in memory only.
    pub keyring: Arc<accounts::Keyring>,
    /// Sign-in attempts, for rate limiting.
    pub limiter: Arc<accounts::LoginLimiter>,
    /// Fired alerts, for the live stream; `None` when no alerter runs.
    pub alerter: Option<vitalis_ingest::alerts::Alerter>,
    /// Sealing of protected records; `None` stores them plain.
    pub sealing: Option<sealing::Sealing>,
}

impl AppState {
    /// A state with empty key ring and limiter.
    pub fn new(
        store: Arc<dyn Store>,
        pipeline: Pipeline,
        config: ApiConfig,
        verifier: Option<Arc<Verifier>>,
        permissions: Option<Arc<PermissionLedger>>,
    ) -> AppState {
        AppState {
            store,
            pipeline,
            config,
            verifier,
            permissions,
            keyring: Arc::default(),
            limiter: Arc::default(),
            alerter: None,
            sealing: None,
        }
    }

    /// The same state sealing protected records (the pipeline must carry the same
    /// sealer).
    pub fn with_sealing(mut self, sealing: sealing::Sealing) -> AppState {
        self.sealing = Some(sealing);
        self
    }

    /// The same state, with alerts delivered on the live stream.
    pub fn with_alerter(mut self, alerter: vitalis_ingest::alerts::Alerter) -> AppState {
        self.alerter = Some(alerter);
        self
    }
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/readings", post(routes::ingest::upload))
        .route("/patients/{id}/readings", get(routes::read::readings))
        .route("/patients/{id}/records", get(routes::read::records))
        .route("/patients/{id}/export", get(routes::export::export))
        .route("/patients/{id}/live", get(routes::live::stream))
        .route("/patients/{id}/verify", get(routes::verify::verify))
        .route("/patients/{id}/entries", post(routes::portal::manual_entry))
        .route(
            "/patients/{id}/clinical",
            get(routes::portal::clinical_notes).post(routes::portal::clinical),
        )
        .route(
            "/patients/{id}/devices",
            get(routes::devices::list).post(routes::devices::pair),
        )
        .route(
            "/patients/{id}/devices/{device}",
            patch(routes::devices::change).delete(routes::devices::revoke),
        )
        .route(
            "/patients/{id}/settings",
            get(routes::devices::settings).put(routes::devices::change_settings),
        )
        .route(
            "/patients/{id}/consents",
            get(routes::consent::list).post(routes::consent::grant),
        )
        .route(
            "/patients/{id}/consents/prepare",
            post(routes::consent::prepare),
        )
        .route(
            "/patients/{id}/consents/{grant}/revoke",
            post(routes::consent::revoke),
        )
        .route(
            "/patients/{id}/access-log",
            get(routes::portal::patient_log),
        )
        .route("/chain/explorer", get(routes::chain::explorer))
        .route("/patients/{id}/sealing", get(routes::policy::status))
        .route(
            "/patients/{id}/access-policy",
            axum::routing::put(routes::policy::set),
        )
        .route("/audit/access-log", get(routes::portal::audit_log))
        .route("/institutions", get(routes::consent::institutions))
        .route("/institutions/{id}/approve", post(routes::portal::approve))
        .route(
            "/institutions/{id}/attribute-keys",
            post(routes::attributes::issue),
        )
        .route("/attribute-keys", get(routes::attributes::list))
        .route("/institutions/{id}/suspend", post(routes::portal::suspend))
        .route("/institution/patients", get(routes::portal::my_patients))
        .route("/query/aggregate", get(routes::portal::aggregate))
        .route("/research/readings", get(routes::portal::research))
        .route(
            "/research/requests",
            get(routes::research::list).post(routes::research::create),
        )
        .route(
            "/patients/{id}/research-requests/{request}",
            post(routes::research::answer),
        )
        .route("/auth/signup", post(accounts::sign_up))
        .route("/auth/signin", post(accounts::sign_in))
        .route("/auth/signout", post(accounts::sign_out))
        .route("/auth/session", get(accounts::whoami))
        .route("/auth/password", post(accounts::change_password))
        .route("/auth/account", delete(accounts::delete_account))
        .route("/auth/recover", post(accounts::recover))
        .route(
            "/auth/tokens",
            get(accounts::list_tokens).post(accounts::create_token),
        )
        .route("/auth/tokens/{id}", delete(accounts::revoke_token))
        .route("/patients/{id}/series", get(routes::analysis::series))
        .route("/patients/{id}/summary", get(routes::analysis::summary))
        .route(
            "/patients/{id}/profile",
            get(routes::analysis::get_profile).put(routes::analysis::put_profile),
        )
        .route(
            "/patients/{id}/alert-rules",
            get(routes::analysis::list_rules).post(routes::analysis::create_rule),
        )
        .route(
            "/patients/{id}/alert-rules/{rule}",
            delete(routes::analysis::delete_rule),
        )
        .route("/patients/{id}/alerts", get(routes::analysis::list_alerts))
        .route(
            "/patients/{id}/alerts/{alert}/acknowledge",
            post(routes::analysis::acknowledge),
        )
        .route(
            "/patients/{id}/pairing-codes",
            post(routes::devices::pairing_code),
        )
        .route("/pair", post(routes::devices::pair_with_code))
        .route("/health", get(routes::health));
    Router::new()
        .route("/phone", get(routes::devices::phone_page))
        .merge(routes::ui::routes())
        .nest("/api/v1", api)
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        // The upload handler enforces the body limit itself, to answer in JSON.
        .layer(axum::extract::DefaultBodyLimit::max(
            state.config.max_body_bytes,
        ))
        .with_state(state)
}
