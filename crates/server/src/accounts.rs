//! Accounts: sign-up, sign-in, sessions, password change, recovery, API tokens.
//!
//! - Passwords are stored as Argon2id hashes (`vitalis_crypto::seal`), verified off the
//!   async runtime. An unknown email costs the same hash as a wrong password.
//! - A session is 256 random bits in an `HttpOnly; SameSite=Strict` cookie (`Secure`
//!   when [`ApiConfig::secure_cookies`](crate::ApiConfig) says so); the store keeps only
//!   its SHA-256. State-changing requests on a session must repeat the session's CSRF
//!   token in the `X-CSRF-Token` header (synchronizer token pattern).
//! - Every patient and institution account has a secp256k1 key created at sign-up, sealed
//!   under the password and under the recovery key (shown once). Signing in unseals it into
//!   the [`Keyring`], in memory only, for the session's lifetime: consent is signed with it.
//!   A patient's key for unwrapping sealed records' data keys (HPKE, X25519) is derived
//!   from the same secret; its public half is recorded in the store at each session start.
//! - Sign-in and recovery are rate limited per email and per client address
//!   ([`LoginLimiter`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use alloy::signers::local::PrivateKeySigner;
use axum::Extension;
use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use vitalis_access::Role;
use vitalis_crypto::envelope::PatientSecretKey;
use vitalis_crypto::seal;
use vitalis_store::StoreError;
use vitalis_store::directory::{Account, AccountStatus, NewAccount, NewInstitution, SealedKey};

use crate::auth::{Principal, SESSION_COOKIE};
use crate::error::ApiError;
use crate::{AppState, tokens};

/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);
/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 12;

/// Unsealed account keys of live sessions, by session-id hash. Keys are zeroized when
/// dropped (k256 signing keys zeroize on drop).
#[derive(Default)]
pub struct Keyring {
    keys: Mutex<HashMap<[u8; 32], PrivateKeySigner>>,
    /// Keys for opening sealed records, derived from the account key on first use.
    readers: Mutex<HashMap<[u8; 32], vitalis_store::ReaderKeys>>,
    /// Institution sessions' opened attribute keys, with when the key was issued (a key
    /// issued again replaces the opened one).
    attribute_keys: Mutex<HashMap<[u8; 32], (i64, vitalis_store::ReaderKeys)>>,
}

impl Keyring {
    fn insert(&self, session: [u8; 32], key: PrivateKeySigner) {
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(session, key);
    }

    /// Drops the key of a session that has ended.
    pub(crate) fn forget(&self, session: &[u8; 32]) {
        self.remove(session);
    }

    fn remove(&self, session: &[u8; 32]) {
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(session);
        self.readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(session);
        self.attribute_keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(session);
    }

    /// The session's opened attribute key, if it was issued at `issued_at`.
    pub(crate) fn attribute_key(
        &self,
        session: &[u8; 32],
        issued_at: i64,
    ) -> Option<vitalis_store::ReaderKeys> {
        self.attribute_keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(session)
            .filter(|(at, _)| *at == issued_at)
            .map(|(_, keys)| keys.clone())
    }

    /// Keeps the session's opened attribute key.
    pub(crate) fn set_attribute_key(
        &self,
        session: [u8; 32],
        issued_at: i64,
        keys: vitalis_store::ReaderKeys,
    ) {
        self.attribute_keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(session, (issued_at, keys));
    }

    /// The session's keys for opening sealed records, once derived.
    pub(crate) fn reader(&self, session: &[u8; 32]) -> Option<vitalis_store::ReaderKeys> {
        self.readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(session)
            .cloned()
    }

    /// Keeps the session's keys for opening sealed records.
    pub(crate) fn set_reader(&self, session: [u8; 32], keys: vitalis_store::ReaderKeys) {
        self.readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(session, keys);
    }

    /// The unsealed key of a session, if it is held.
    pub(crate) fn get(&self, session: &[u8; 32]) -> Option<PrivateKeySigner> {
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(session)
            .cloned()
    }
}

/// Failed attempts per email and per client address within a window.
#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

/// Failures allowed per email within [`LIMIT_WINDOW`].
const MAX_FAILURES_PER_EMAIL: usize = 5;
/// Failures allowed per client address within [`LIMIT_WINDOW`].
const MAX_FAILURES_PER_ADDRESS: usize = 20;
const LIMIT_WINDOW: Duration = Duration::from_secs(15 * 60);

impl LoginLimiter {
    fn keys(email: &str, addr: Option<IpAddr>) -> [(String, usize); 2] {
        [
            (
                format!("email:{}", email.trim().to_lowercase()),
                MAX_FAILURES_PER_EMAIL,
            ),
            (
                format!("addr:{}", addr.map(|a| a.to_string()).unwrap_or_default()),
                MAX_FAILURES_PER_ADDRESS,
            ),
        ]
    }

    /// Refuses when either key has too many recent failures.
    pub(crate) fn check(&self, email: &str, addr: Option<IpAddr>) -> Result<(), ApiError> {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        for (key, max) in Self::keys(email, addr) {
            let list = failures.entry(key).or_default();
            list.retain(|t| now.duration_since(*t) < LIMIT_WINDOW);
            if list.len() >= max {
                return Err(ApiError::refused(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_attempts",
                    "too many failed attempts; try again in 15 minutes",
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn fail(&self, email: &str, addr: Option<IpAddr>) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for (key, _) in Self::keys(email, addr) {
            failures.entry(key).or_default().push(Instant::now());
        }
    }

    fn succeed(&self, email: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.remove(&format!("email:{}", email.trim().to_lowercase()));
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What the API shows of an account.
#[derive(Debug, Serialize)]
pub(crate) struct AccountView {
    id: String,
    role: Role,
    email: String,
    name: String,
    status: AccountStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    patient_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    institution_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<String>,
}

impl From<&Account> for AccountView {
    fn from(a: &Account) -> Self {
        AccountView {
            id: a.id.clone(),
            role: a.role,
            email: a.email.clone(),
            name: a.name.clone(),
            status: a.status,
            patient_id: a.patient.as_ref().map(|p| p.to_string()),
            institution_id: a.institution.clone(),
            address: a
                .key
                .as_ref()
                .map(|k| format!("0x{}", hex::encode(k.address))),
        }
    }
}

/// Associated data of an account's sealed key: binds it to the account's email.
fn key_aad(email: &str) -> Vec<u8> {
    format!("vitalis account key v1:{}", email.trim().to_lowercase()).into_bytes()
}

fn check_password(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(ApiError::field(
            "password",
            "weak_password",
            format!("a password has at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if password.len() > 1024 {
        return Err(ApiError::field(
            "password",
            "invalid_password",
            "a password has at most 1024 bytes",
        ));
    }
    Ok(())
}

fn check_email(email: &str) -> Result<(), ApiError> {
    let e = email.trim();
    let ok = e.len() <= 254
        && e.split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !e.contains(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(ApiError::field(
            "email",
            "invalid_email",
            "an email address like name@example.org",
        ))
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|_| {
        ApiError::refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    })
}

/// Seals an account's signing key under its password and under a fresh recovery key, as
/// sign-up does; returns the sealed key and the recovery key's display form (shown once).
/// For tools that create accounts outside the API.
pub fn seal_account_key(
    email: &str,
    password: &str,
    key: &PrivateKeySigner,
) -> Result<(SealedKey, String), seal::SealError> {
    let mut rng = rand::rng();
    let aad = key_aad(email);
    let secret = key.to_bytes();
    let (recovery, recovery_text) = seal::new_recovery_key(&mut rng);
    let by_password = seal::seal_with_password(password, secret.as_slice(), &aad, &mut rng)?;
    let by_recovery = seal::seal_with_recovery(&recovery, secret.as_slice(), &aad, &mut rng)?;
    Ok((
        SealedKey {
            address: key.address().into_array(),
            by_password,
            by_recovery,
        },
        recovery_text,
    ))
}

/// `POST /auth/signup` body.
#[derive(Debug, Deserialize)]
pub(crate) struct SignUp {
    role: String,
    email: String,
    password: String,
    name: String,
    #[serde(default)]
    institution_name: Option<String>,
}

/// Signs up a patient (active at once, signed in) or an institution (pending approval).
pub(crate) async fn sign_up(
    State(state): State<AppState>,
    Json(body): Json<SignUp>,
) -> Result<Response, ApiError> {
    let role = Role::from_name(&body.role)
        .filter(|r| *r == Role::Patient || r.is_institution())
        .ok_or_else(|| {
            ApiError::field(
                "role",
                "invalid_role",
                "role is one of patient, hospital, researcher, enterprise",
            )
        })?;
    check_email(&body.email)?;
    check_password(&body.password)?;
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::field(
            "name",
            "invalid_name",
            "a name of 1 to 200 characters",
        ));
    }
    let institution = if role.is_institution() {
        let inst = body
            .institution_name
            .as_deref()
            .unwrap_or("")
            .trim()
            .to_owned();
        if inst.is_empty() || inst.len() > 200 {
            return Err(ApiError::field(
                "institution_name",
                "invalid_name",
                "an institution needs a name of 1 to 200 characters",
            ));
        }
        Some(NewInstitution { name: inst })
    } else {
        None
    };

    let (password, email) = (body.password.clone(), body.email.clone());
    let (password_hash, key, recovery_text, signer) = blocking(move || {
        let signer = PrivateKeySigner::random();
        let (key, recovery_text) = seal_account_key(&email, &password, &signer)?;
        let hash = seal::hash_password(&password, &mut rand::rng())?;
        Ok::<_, seal::SealError>((hash, key, recovery_text, signer))
    })
    .await?
    .map_err(|e| ApiError::refused(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;

    let status = if role == Role::Patient {
        AccountStatus::Active
    } else {
        AccountStatus::Pending
    };
    let account = state
        .store
        .create_account(NewAccount {
            role,
            email: body.email.clone(),
            name,
            password_hash: Some(password_hash),
            status,
            institution,
            key: Some(key),
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ApiError::Refused {
                status: StatusCode::CONFLICT,
                code: "email_taken",
                message: "an account with this email exists".into(),
                field: Some("email"),
            },
            other => other.into(),
        })?;
    tracing::info!(account = %account.id, role = role.name(), "account created");

    let mut body = json!({
        "account": AccountView::from(&account),
        "recovery_key": recovery_text,
        "recovery_key_notice": "shown once: store it safely; it is the only way back into the account without the password",
    });
    if status == AccountStatus::Active {
        let (cookie, csrf) = start_session(&state, &account, Some(signer)).await?;
        body["csrf_token"] = json!(csrf);
        let mut response = (StatusCode::CREATED, Json(body)).into_response();
        response.headers_mut().insert(header::SET_COOKIE, cookie);
        return Ok(response);
    }
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Creates a session for `account`, keeps its unsealed key, and returns the cookie and CSRF
/// token.
async fn start_session(
    state: &AppState,
    account: &Account,
    key: Option<PrivateKeySigner>,
) -> Result<(HeaderValue, String), ApiError> {
    let mut id = [0u8; 32];
    rand::rng().fill_bytes(&mut id);
    let id_text = URL_SAFE_NO_PAD.encode(id);
    let id_hash = tokens::hash(&id_text);
    let csrf = tokens::generate("");
    let expires = now_ms() + SESSION_TTL.as_millis() as i64;
    state
        .store
        .create_session(id_hash, &account.id, &csrf, expires)
        .await?;
    if let Some(key) = key {
        if let Some(patient) = &account.patient {
            publish_seal_key(state, patient, &key).await?;
        }
        if account.institution.is_some() {
            // Where the supervisor's node seals this account's attribute keys to.
            let public = crate::sealing::account_key(&key).public_key().to_bytes();
            state
                .store
                .set_account_seal_key(&account.id, public)
                .await?;
        }
        state.keyring.insert(id_hash, key);
    }
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={id_text}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        SESSION_TTL.as_secs()
    );
    let cookie = HeaderValue::from_str(&cookie)
        .map_err(|_| ApiError::refused(StatusCode::INTERNAL_SERVER_ERROR, "internal", "cookie"))?;
    Ok((cookie, csrf))
}

/// Records the patient's public key for wrapping record data keys (derived from the
/// account's secret: [`PatientSecretKey::from_account_secret`]), so records can be sealed
/// for the patient while they are away. Accounts made before the key existed get it at
/// their next sign-in.
async fn publish_seal_key(
    state: &AppState,
    patient: &vitalis_model::PatientId,
    key: &PrivateKeySigner,
) -> Result<(), ApiError> {
    let secret = zeroize::Zeroizing::new(<[u8; 32]>::from(key.to_bytes()));
    let public = PatientSecretKey::from_account_secret(&secret)
        .public_key()
        .to_bytes();
    state.store.set_seal_public_key(patient, public).await?;
    Ok(())
}

/// `POST /auth/signin` body.
#[derive(Debug, Deserialize)]
pub(crate) struct SignIn {
    email: String,
    password: String,
}

fn client_addr(connect: Option<Extension<ConnectInfo<std::net::SocketAddr>>>) -> Option<IpAddr> {
    connect.map(|Extension(ConnectInfo(addr))| addr.ip())
}

/// A dummy hash verified for unknown emails, so timing does not reveal which exist.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        seal::hash_password("not a real password", &mut rand::rng()).unwrap_or_default()
    })
}

/// Signs in with email and password.
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    Json(body): Json<SignIn>,
) -> Result<Response, ApiError> {
    let addr = client_addr(connect);
    state.limiter.check(&body.email, addr)?;
    let account = state.store.account_by_email(&body.email).await?;
    let stored = account
        .as_ref()
        .and_then(|a| a.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_owned());
    let password = body.password.clone();
    let matches =
        blocking(move || seal::verify_password(&stored, &password).unwrap_or(false)).await?;
    let account = match account {
        Some(a) if matches && a.password_hash.is_some() => a,
        _ => {
            state.limiter.fail(&body.email, addr);
            tracing::info!("sign-in refused: wrong email or password");
            return Err(ApiError::refused(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "wrong email or password",
            ));
        }
    };
    match account.status {
        AccountStatus::Active => {}
        AccountStatus::Pending => {
            return Err(ApiError::denied(
                "account_pending",
                "this institution awaits the supervisor's approval",
            ));
        }
        AccountStatus::Suspended => {
            return Err(ApiError::denied(
                "account_suspended",
                "this account is suspended",
            ));
        }
        AccountStatus::Deleted => {
            return Err(ApiError::refused(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "wrong email or password",
            ));
        }
    }
    state.limiter.succeed(&body.email);
    let key = match &account.key {
        Some(sealed) => {
            let (password, sealed, aad) = (
                body.password.clone(),
                sealed.by_password.clone(),
                key_aad(&account.email),
            );
            let secret = blocking(move || seal::open_with_password(&password, &sealed, &aad))
                .await?
                .map_err(|_| {
                    ApiError::refused(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "the account key does not open",
                    )
                })?;
            Some(PrivateKeySigner::from_slice(&secret).map_err(|_| {
                ApiError::refused(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "bad account key",
                )
            })?)
        }
        None => None,
    };
    let (cookie, csrf) = start_session(&state, &account, key).await?;
    let mut response = Json(json!({
        "account": AccountView::from(&account),
        "csrf_token": csrf,
    }))
    .into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// Ends the session.
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    if let Some(session) = principal.session {
        state.store.delete_session(session).await?;
        state.keyring.remove(&session);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("vitalis_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    Ok(response)
}

/// `DELETE /auth/account` body.
#[derive(Debug, Deserialize)]
pub(crate) struct DeleteAccount {
    password: String,
}

/// Deletes the signed-in patient's account: the password again, then the patient's
/// consents are revoked on the ledger (signed with the session's key), and the store
/// erases every stored reading and payload and every credential. The ledger keeps only
/// what it always held: commitments, roots and the consent history.
pub(crate) async fn delete_account(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<DeleteAccount>,
) -> Result<Response, ApiError> {
    let account = principal.session_account()?.clone();
    let Some(patient) = account.patient.clone() else {
        return Err(ApiError::denied(
            "not_permitted",
            "only a patient's account can be deleted here; institutions ask the supervisor",
        ));
    };
    let stored = account.password_hash.clone().unwrap_or_default();
    let password = body.password.clone();
    if !blocking(move || seal::verify_password(&stored, &password).unwrap_or(false)).await? {
        return Err(ApiError::Refused {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_credentials",
            message: "the password is wrong".into(),
            field: Some("password"),
        });
    }
    let now = now_ms();
    if state.permissions.is_some() {
        for grant in state.store.consents_of_patient(&patient).await? {
            if grant.revoked_at.is_none() && grant.expires_at > now {
                let location = crate::routes::consent::revoke_on_chain(
                    &state,
                    &principal,
                    grant.grant_id,
                    &Default::default(),
                )
                .await?;
                // Recorded one by one, so that a deletion cut short and tried again does
                // not ask the contract to revoke a grant twice.
                state.store.revoke_consent(grant.grant_id, now).await?;
                state
                    .store
                    .set_revoke_tx(grant.grant_id, location.tx_hash.0)
                    .await?;
            }
        }
    }
    let erased = state
        .store
        .erase_patient(&account.id, &patient, now)
        .await?;
    if let Some(session) = principal.session {
        state.keyring.remove(&session);
    }
    if let Some(sealing) = &state.sealing {
        sealing.sealer.forget(&patient);
    }
    tracing::info!(patient = %patient, "account deleted");
    let mut response = Json(json!({ "erased": erased })).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("vitalis_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    Ok(response)
}

/// The signed-in account.
pub(crate) async fn whoami(principal: Principal) -> Result<Json<serde_json::Value>, ApiError> {
    let account = principal.account()?;
    Ok(Json(json!({
        "account": AccountView::from(account),
        "csrf_token": principal.csrf,
        "key_unlocked": principal.session.is_some(),
    })))
}

/// `POST /auth/password` body.
#[derive(Debug, Deserialize)]
pub(crate) struct ChangePassword {
    current_password: String,
    new_password: String,
}

/// Changes the password: re-seals the key, ends every session, starts a new one.
pub(crate) async fn change_password(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<ChangePassword>,
) -> Result<Response, ApiError> {
    let account = principal.session_account()?.clone();
    check_password(&body.new_password)?;
    let stored = account.password_hash.clone().unwrap_or_default();
    let current = body.current_password.clone();
    if !blocking(move || seal::verify_password(&stored, &current).unwrap_or(false)).await? {
        return Err(ApiError::refused(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "the current password is wrong",
        ));
    }
    let (current, new, sealed, aad) = (
        body.current_password.clone(),
        body.new_password.clone(),
        account.key.as_ref().map(|k| k.by_password.clone()),
        key_aad(&account.email),
    );
    let (hash, resealed, key) = blocking(move || {
        let mut rng = rand::rng();
        let hash = seal::hash_password(&new, &mut rng)?;
        let (resealed, key) = match sealed {
            Some(sealed) => {
                let secret = seal::open_with_password(&current, &sealed, &aad)?;
                (
                    Some(seal::seal_with_password(&new, &secret, &aad, &mut rng)?),
                    PrivateKeySigner::from_slice(&secret).ok(),
                )
            }
            None => (None, None),
        };
        Ok::<_, seal::SealError>((hash, resealed, key))
    })
    .await?
    .map_err(|e| ApiError::refused(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    state
        .store
        .set_password(&account.id, &hash, resealed)
        .await?;
    if let Some(session) = principal.session {
        state.keyring.remove(&session);
    }
    let (cookie, csrf) = start_session(&state, &account, key).await?;
    let mut response = Json(json!({ "csrf_token": csrf })).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// `POST /auth/recover` body.
#[derive(Debug, Deserialize)]
pub(crate) struct Recover {
    email: String,
    recovery_key: String,
    new_password: String,
}

/// Sets a new password with the recovery key (the key is re-sealed under it).
pub(crate) async fn recover(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    Json(body): Json<Recover>,
) -> Result<StatusCode, ApiError> {
    let addr = client_addr(connect);
    state.limiter.check(&body.email, addr)?;
    check_password(&body.new_password)?;
    let refused = || {
        ApiError::refused(
            StatusCode::UNAUTHORIZED,
            "invalid_recovery_key",
            "wrong email or recovery key",
        )
    };
    let recovery = seal::parse_recovery_key(&body.recovery_key).map_err(|_| {
        ApiError::field(
            "recovery_key",
            "invalid_recovery_key",
            "a recovery key is 64 hexadecimal digits",
        )
    })?;
    let Some(account) = state.store.account_by_email(&body.email).await? else {
        state.limiter.fail(&body.email, addr);
        return Err(refused());
    };
    let Some(sealed) = account.key.clone() else {
        state.limiter.fail(&body.email, addr);
        return Err(refused());
    };
    let (new, aad) = (body.new_password.clone(), key_aad(&account.email));
    let outcome = blocking(move || {
        let secret = seal::open_with_recovery(&recovery, &sealed.by_recovery, &aad)?;
        let mut rng = rand::rng();
        let resealed = seal::seal_with_password(&new, &secret, &aad, &mut rng)?;
        let hash = seal::hash_password(&new, &mut rng)?;
        Ok::<_, seal::SealError>((hash, resealed))
    })
    .await?;
    let Ok((hash, resealed)) = outcome else {
        state.limiter.fail(&body.email, addr);
        return Err(refused());
    };
    state
        .store
        .set_password(&account.id, &hash, Some(resealed))
        .await?;
    state.limiter.succeed(&body.email);
    tracing::info!(account = %account.id, "password reset with the recovery key");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /auth/tokens` body.
#[derive(Debug, Deserialize)]
pub(crate) struct NewToken {
    name: String,
    scopes: Vec<String>,
    #[serde(default)]
    expires_in_days: Option<u32>,
}

/// Creates an API token for programs (shown once). Sessions only.
pub(crate) async fn create_token(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<NewToken>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let account = principal.session_account()?;
    if body.scopes.is_empty() || body.scopes.iter().any(|s| s != "read" && s != "write") {
        return Err(ApiError::field(
            "scopes",
            "invalid_scopes",
            "scopes are read and/or write",
        ));
    }
    let name = body.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::field(
            "name",
            "invalid_name",
            "a name of 1 to 100 characters",
        ));
    }
    let token = tokens::generate("vtk_");
    let expires_at = body
        .expires_in_days
        .map(|d| now_ms() + i64::from(d) * 86_400_000);
    state
        .store
        .create_api_token(
            tokens::hash(&token),
            &account.id,
            name,
            &body.scopes,
            expires_at,
        )
        .await?;
    if account.patient.is_some()
        && let Some(signer) = principal.session.and_then(|s| state.keyring.get(&s))
    {
        // The token opens the patient's sealed records as the session does.
        crate::sealing::wrap_for_token(&state, &token, &crate::sealing::account_key(&signer))
            .await?;
    }
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "token": token, "id": hex::encode(&tokens::hash(&token)[..4]), "scopes": body.scopes, "expires_at": expires_at }),
        ),
    ))
}

/// The account's API tokens (never the tokens themselves).
pub(crate) async fn list_tokens(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<serde_json::Value>, ApiError> {
    let account = principal.account()?;
    Ok(Json(
        json!({ "tokens": state.store.api_tokens(&account.id).await? }),
    ))
}

/// Revokes one of the account's API tokens.
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let account = principal.account()?;
    if id.len() != 8 || hex::decode(&id).is_err() {
        return Err(ApiError::NotFound);
    }
    if state
        .store
        .revoke_api_token(&account.id, &id, now_ms())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

/// Keeps `HeaderMap` in the signature of handlers that read headers directly.
pub(crate) fn csrf_header(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-csrf-token").and_then(|v| v.to_str().ok())
}
