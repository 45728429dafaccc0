//! A patient's devices: pair (token shown once, optional Ed25519 key for signed uploads),
//! list with last upload, change the upload interval, revoke; and the patient's settings
//! (which section each metric goes to, region for aggregates).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use vitalis_access::Action;
use vitalis_model::{DeviceId, Metric, Section};
use vitalis_store::directory::NewDevice;

use crate::AppState;
use crate::accounts::now_ms;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::permit::authorize;
use crate::routes::read::patient_of;
use crate::tokens;

/// Upload intervals a device may be given (seconds).
const INTERVALS: std::ops::RangeInclusive<u32> = 1..=86_400;

/// `POST /patients/{id}/devices` body.
#[derive(Debug, Deserialize)]
pub(crate) struct PairDevice {
    name: String,
    #[serde(default)]
    public_key: Option<String>,
    #[serde(default)]
    upload_interval_s: Option<u32>,
}

fn interval(value: u32) -> Result<u32, ApiError> {
    if INTERVALS.contains(&value) {
        Ok(value)
    } else {
        Err(ApiError::field(
            "upload_interval_s",
            "invalid_interval",
            "an upload interval of 1 to 86400 seconds",
        ))
    }
}

pub(crate) async fn pair(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<PairDevice>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let patient = patient_of(&id)?;
    authorize(&state, &principal, Action::ManageDevices, &patient).await?;
    principal.require_scope("write")?;
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::field(
            "name",
            "invalid_name",
            "a name of 1 to 100 characters",
        ));
    }
    let public_key = body
        .public_key
        .as_deref()
        .map(|k| {
            let mut key = [0u8; 32];
            hex::decode_to_slice(k.trim_start_matches("0x"), &mut key)
                .ok()
                .and_then(|()| ed25519_dalek::VerifyingKey::from_bytes(&key).ok())
                .map(|_| key)
                .ok_or_else(|| {
                    ApiError::field(
                        "public_key",
                        "invalid_public_key",
                        "an Ed25519 public key as 64 hexadecimal digits",
                    )
                })
        })
        .transpose()?;
    let upload_interval_s = interval(body.upload_interval_s.unwrap_or(60))?;
    let token = tokens::generate("vtd_");
    let device = state
        .store
        .pair_device(NewDevice {
            patient: patient.clone(),
            token_hash: tokens::hash(&token),
            name,
            public_key,
            upload_interval_s,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "device": device,
            "token": token,
            "upload_interval_s": upload_interval_s,
            "signed_uploads": public_key.is_some(),
        })),
    ))
}

pub(crate) async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let patient = patient_of(&id)?;
    authorize(&state, &principal, Action::ManageDevices, &patient).await?;
    Ok(Json(
        json!({ "devices": state.store.devices(&patient).await? }),
    ))
}

/// `PATCH /patients/{id}/devices/{device}` body.
#[derive(Debug, Deserialize)]
pub(crate) struct ChangeDevice {
    upload_interval_s: u32,
}

pub(crate) async fn change(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, device)): Path<(String, String)>,
    Json(body): Json<ChangeDevice>,
) -> Result<StatusCode, ApiError> {
    let patient = patient_of(&id)?;
    authorize(&state, &principal, Action::ManageDevices, &patient).await?;
    principal.require_scope("write")?;
    let device = DeviceId::new(device).map_err(|_| ApiError::NotFound)?;
    let seconds = interval(body.upload_interval_s)?;
    if state
        .store
        .set_upload_interval(&patient, &device, seconds)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

pub(crate) async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, device)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let patient = patient_of(&id)?;
    authorize(&state, &principal, Action::ManageDevices, &patient).await?;
    principal.require_scope("write")?;
    let device = DeviceId::new(device).map_err(|_| ApiError::NotFound)?;
    if state
        .store
        .revoke_device(&patient, &device, now_ms())
        .await?
    {
        tracing::info!(%device, "device revoked");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

/// The section every metric of the patient's goes to.
async fn sections_of(
    state: &AppState,
    patient: &vitalis_model::PatientId,
) -> Result<BTreeMap<&'static str, Section>, ApiError> {
    let choices = state.store.section_choices(patient).await?;
    Ok(Metric::all()
        .map(|m| {
            let section = choices
                .iter()
                .find(|(c, _)| *c == m)
                .map(|(_, s)| *s)
                .unwrap_or(m.spec().default_section);
            (m.name(), section)
        })
        .collect())
}

pub(crate) async fn settings(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let patient = patient_of(&id)?;
    authorize(&state, &principal, Action::ManageSettings, &patient).await?;
    Ok(Json(
        json!({ "sections": sections_of(&state, &patient).await? }),
    ))
}

/// `PUT /patients/{id}/settings` body.
#[derive(Debug, Deserialize)]
pub(crate) struct ChangeSettings {
    #[serde(default)]
    sections: BTreeMap<String, String>,
    #[serde(default)]
    region: Option<String>,
}

pub(crate) async fn change_settings(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<ChangeSettings>,
) -> Result<Json<Value>, ApiError> {
    let patient = patient_of(&id)?;
    authorize(&state, &principal, Action::ManageSettings, &patient).await?;
    principal.require_scope("write")?;
    let mut changes = Vec::new();
    for (metric, section) in &body.sections {
        let m = Metric::from_name(metric).ok_or_else(|| {
            ApiError::field(
                "sections",
                "unknown_metric",
                format!("unknown metric {metric:?}"),
            )
        })?;
        let s = Section::from_name(section).ok_or_else(|| {
            ApiError::field(
                "sections",
                "invalid_section",
                "a section is open or protected",
            )
        })?;
        changes.push((m, s));
    }
    if let Some(region) = &body.region
        && (region.len() > 64 || region.trim().is_empty())
    {
        return Err(ApiError::field(
            "region",
            "invalid_region",
            "a region of 1 to 64 characters",
        ));
    }
    for (m, s) in changes {
        state.store.set_section(&patient, m, s).await?;
    }
    if let Some(region) = &body.region {
        state
            .store
            .set_region(&patient, Some(region.trim()))
            .await?;
    }
    Ok(Json(
        json!({ "sections": sections_of(&state, &patient).await? }),
    ))
}

/// How long a pairing code lasts.
const PAIRING_TTL_MS: i64 = 10 * 60_000;

/// `POST /patients/{id}/pairing-codes` body.
#[derive(Debug, Deserialize)]
pub(crate) struct NewPairingCode {
    #[serde(default)]
    name: Option<String>,
}

/// A short, single-use code a phone trades for its device token (`POST /api/v1/pair`),
/// for devices where typing a token is impractical. 8 digits, valid 10 minutes; pairing
/// attempts are rate limited like sign-in.
pub(crate) async fn pairing_code(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<NewPairingCode>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    use rand::Rng;
    let patient = patient_of(&id)?;
    authorize(&state, &principal, Action::ManageDevices, &patient).await?;
    principal.require_scope("write")?;
    let name = body
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("phone");
    if name.len() > 100 {
        return Err(ApiError::field(
            "name",
            "invalid_name",
            "a name of 1 to 100 characters",
        ));
    }
    let code = format!("{:08}", rand::rng().random_range(0..100_000_000u32));
    let expires_at = now_ms() + PAIRING_TTL_MS;
    state
        .store
        .create_pairing_code(tokens::hash(&code), &patient, name, expires_at)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "code": code, "expires_at": expires_at, "page": "/phone" })),
    ))
}

/// `POST /pair` body.
#[derive(Debug, Deserialize)]
pub(crate) struct Pair {
    code: String,
}

/// Trades a pairing code for a device token (shown once).
pub(crate) async fn pair_with_code(
    State(state): State<AppState>,
    connect: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    Json(body): Json<Pair>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let addr = connect.map(|axum::Extension(axum::extract::ConnectInfo(a))| a.ip());
    state.limiter.check("pairing", addr)?;
    let code = body.code.trim();
    let token = tokens::generate("vtd_");
    let paired = if code.len() == 8 && code.bytes().all(|b| b.is_ascii_digit()) {
        state
            .store
            .redeem_pairing_code(tokens::hash(code), tokens::hash(&token), now_ms())
            .await?
    } else {
        None
    };
    let Some((patient, device)) = paired else {
        state.limiter.fail("pairing", addr);
        return Err(ApiError::refused(
            StatusCode::UNAUTHORIZED,
            "invalid_pairing_code",
            "unknown, used or expired pairing code",
        ));
    };
    tracing::info!(%device, "device paired with a code");
    Ok((
        StatusCode::CREATED,
        Json(json!({ "device": device, "patient_id": patient, "token": token })),
    ))
}

/// The phone page: pair with a code, then send step counts.
pub(crate) async fn phone_page() -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut response = axum::response::Html(PHONE_PAGE).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_str(phone_policy())
            .expect("a policy of ASCII hashes is a valid header"),
    );
    response
}

/// The phone page: one file with its style and script inline.
const PHONE_PAGE: &str = include_str!("../../assets/phone.html");

/// A policy that allows exactly the page's own inline script and style (by their
/// SHA-256, CSP level 2) and connections to this origin, and nothing else.
fn phone_policy() -> &'static str {
    static POLICY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    POLICY.get_or_init(|| {
        use base64::Engine;
        use sha2::Digest;
        let hash_of = |open: &str, close: &str| {
            let start = PHONE_PAGE.find(open).map(|i| i + open.len());
            let body = start
                .and_then(|s| PHONE_PAGE[s..].find(close).map(|e| &PHONE_PAGE[s..s + e]))
                .unwrap_or("");
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body))
        };
        format!(
            "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; \
             connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; \
             frame-ancestors 'none'",
            hash_of("<script>", "</script>"),
            hash_of("<style>", "</style>"),
        )
    })
}
