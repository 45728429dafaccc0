//! Who can open sealed records in a request (see `vitalis_store::sealing`).
//!
//! - A patient's session: the key derived from the account's secret, which the session
//!   holds unsealed in the [`Keyring`](crate::accounts::Keyring).
//! - A patient's API token: the same key, wrapped under a key derived from the token when
//!   the token was made (tokens made before sealing, and script patients' tokens, derive
//!   the key from the token itself).
//! - An institution account's session: the CP-ABE attribute key the attribute authority
//!   issued to the account, opened with the account's own key. The first read of an
//!   approved institution's account on a node that holds the authority's key issues it.
//!
//! Everything else (devices, enterprise and supervisor accounts) opens nothing.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use vitalis_access::Role;
use vitalis_crypto::envelope::{self, DataKey, PatientSecretKey};
use vitalis_ingest::sealer::{
    InstitutionReader, PatientReader, Sealer, institution_attributes, issue_attribute_key,
    open_attribute_key,
};
use vitalis_model::PatientId;
use vitalis_store::ReaderKeys;
use vitalis_store::directory::AccountStatus;
use zeroize::Zeroizing;

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;

/// The node's sealing: the sealer, and the attribute authority's key when this node
/// holds it (the supervisor's node).
#[derive(Clone)]
pub struct Sealing {
    /// Hands out epoch keys and wraps epochs again.
    pub sealer: Arc<Sealer>,
    /// The attribute authority's master key, for issuing attribute keys.
    pub authority: Option<Arc<vitalis_abe::MasterKey>>,
}

/// How long a consent or policy change waits for earlier epochs to be wrapped again
/// before answering (the rest goes on in the background).
const REWRAP_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Domain tag of [`token_key`].
const TOKEN_KEY_TAG: &[u8] = b"vitalis api token key v1";
/// Associated data of a patient key wrapped under a token key.
const TOKEN_WRAP_AD: &[u8] = b"vitalis patient key under api token v1";

/// The key derived from an API token (a token is 256 random bits, so a hash suffices).
pub fn token_key(token: &str) -> Zeroizing<[u8; 32]> {
    let mut h = Sha256::new();
    h.update(TOKEN_KEY_TAG);
    h.update(token.as_bytes());
    Zeroizing::new(h.finalize().into())
}

/// The patient key of an account's secret.
pub(crate) fn account_key(signer: &alloy::signers::local::PrivateKeySigner) -> PatientSecretKey {
    let secret = Zeroizing::new(<[u8; 32]>::from(signer.to_bytes()));
    PatientSecretKey::from_account_secret(&secret)
}

/// Wraps the patient's key under a new token's key, so the token can open what the
/// patient can.
pub(crate) async fn wrap_for_token(
    state: &AppState,
    token: &str,
    key: &PatientSecretKey,
) -> Result<(), ApiError> {
    let wrapping = DataKey::from_bytes(*token_key(token));
    let seed = DataKey::from_bytes(*key.seed());
    let wrap = envelope::wrap_with_key(&wrapping, &seed, TOKEN_WRAP_AD, &mut rand::rng());
    state
        .store
        .set_token_key_wrap(crate::tokens::hash(token), &wrap)
        .await?;
    Ok(())
}

/// Publishes the sealing key of a script patient (no account key): derived from its
/// token, so that requests with the token open what is sealed for it.
pub async fn publish_token_patient_key(
    store: &dyn vitalis_store::Store,
    patient: &PatientId,
    token: &str,
) -> vitalis_store::Result<()> {
    let key = PatientSecretKey::from_seed(&token_key(token));
    store
        .set_seal_public_key(patient, key.public_key().to_bytes())
        .await
}

/// The patient's own key, when the caller is the patient and holds it (a session, or an
/// API token).
pub(crate) async fn patient_key(
    state: &AppState,
    who: &Principal,
) -> Result<Option<PatientSecretKey>, ApiError> {
    if who.role != Role::Patient || who.account.is_none() {
        return Ok(None);
    }
    if let Some(session) = who.session {
        return Ok(state.keyring.get(&session).map(|s| account_key(&s)));
    }
    let Some(token_key) = &who.token_key else {
        return Ok(None);
    };
    let wrapping = DataKey::from_bytes(**token_key);
    if let Some(hash) = &who.token_hash
        && let Some(wrap) = state.store.token_key_wrap(*hash).await?
        && let Ok(seed) = envelope::unwrap_with_key(&wrapping, &wrap, TOKEN_WRAP_AD)
    {
        return Ok(Some(PatientSecretKey::from_seed(seed.as_bytes())));
    }
    Ok(Some(PatientSecretKey::from_seed(token_key)))
}

/// After the set of readers changed (a consent granted or revoked, a policy set): the
/// next protected record starts a new epoch, and, when the caller holds the patient's
/// key, earlier epochs are wrapped for the new readers: the answer waits up to
/// [`REWRAP_WAIT`], the rest goes on in the background (progress at
/// `GET /patients/{id}/sealing`).
pub(crate) async fn readers_changed(
    state: &AppState,
    who: &Principal,
    patient: &PatientId,
) -> Result<(), ApiError> {
    let Some(sealing) = &state.sealing else {
        return Ok(());
    };
    sealing.sealer.forget(patient);
    let Some(key) = patient_key(state, who).await? else {
        return Ok(());
    };
    let (sealer, patient) = (sealing.sealer.clone(), patient.clone());
    let task = tokio::spawn(async move {
        if let Err(e) = sealer.rewrap(&patient, &key).await {
            tracing::error!(error = %e, %patient, "wrapping earlier epochs for new readers");
        }
    });
    // A few epochs take milliseconds: the answer waits for them, so the new reader reads
    // everything at once. Many go on in the background.
    let _ = tokio::time::timeout(REWRAP_WAIT, task).await;
    Ok(())
}

/// The keys the caller opens sealed records with, if any.
pub(crate) async fn reader_keys(
    state: &AppState,
    who: &Principal,
) -> Result<Option<ReaderKeys>, ApiError> {
    let Some(account) = &who.account else {
        return Ok(None);
    };
    if let Some(session) = who.session {
        if let Some(keys) = state.keyring.reader(&session) {
            return Ok(Some(keys));
        }
        let Some(signer) = state.keyring.get(&session) else {
            return Ok(None);
        };
        let key = account_key(&signer);
        return match who.role {
            Role::Patient => {
                let keys = ReaderKeys(Arc::new(PatientReader(key)));
                state.keyring.set_reader(session, keys.clone());
                Ok(Some(keys))
            }
            Role::Hospital | Role::Researcher => {
                institution_reader(state, session, account, key).await
            }
            _ => Ok(None),
        };
    }
    Ok(patient_key(state, who)
        .await?
        .map(|key| ReaderKeys(Arc::new(PatientReader(key)))))
}

/// An approved institution account's attribute key, issued on first use by a node that
/// holds the authority's key.
async fn institution_reader(
    state: &AppState,
    session: [u8; 32],
    account: &vitalis_store::directory::Account,
    key: PatientSecretKey,
) -> Result<Option<ReaderKeys>, ApiError> {
    let Some(institution) = &account.institution else {
        return Ok(None);
    };
    let record = match state.store.attribute_key(&account.id).await? {
        Some(record) => {
            if let Some(keys) = state.keyring.attribute_key(&session, record.issued_at) {
                return Ok(Some(keys));
            }
            record
        }
        None => {
            let Some(authority) = state.sealing.as_ref().and_then(|s| s.authority.clone()) else {
                return Ok(None);
            };
            let Some(inst) = state.store.institution(institution).await? else {
                return Ok(None);
            };
            if inst.status != AccountStatus::Active {
                return Ok(None);
            }
            let mut attributes = institution_attributes(institution, inst.role);
            attributes.extend(state.store.institution_key_attributes(institution).await?);
            let record = issue_attribute_key(
                &authority,
                &account.id,
                institution,
                &attributes,
                key.public_key(),
                crate::accounts::now_ms(),
            )
            .map_err(|e| {
                tracing::error!(error = %e, "issuing an attribute key");
                ApiError::refused(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the attribute key could not be issued",
                )
            })?;
            state.store.put_attribute_key(&record).await?;
            record
        }
    };
    let keys =
        open_attribute_key(&record, &key).map(|k| ReaderKeys(Arc::new(InstitutionReader(k))));
    if let Some(keys) = &keys {
        state
            .keyring
            .set_attribute_key(session, record.issued_at, keys.clone());
    }
    Ok(keys)
}
