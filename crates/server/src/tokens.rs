//! Bearer tokens for devices and patients: 256 random bits, shown once, stored only as
//! their SHA-256 hash (a token is high-entropy, so a fast hash is enough; a password
//! would need Argon2id).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use vitalis_model::{DeviceId, PatientId};
use vitalis_store::{Result, Store};

/// A new random token with the given prefix (`vtd_` devices, `vtp_` patients).
pub fn generate(prefix: &str) -> String {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(secret))
}

/// The stored form of a token.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A new patient and the token that authenticates them.
#[derive(Debug, Clone)]
pub struct PatientCredentials {
    /// The patient.
    pub patient: PatientId,
    /// Their API token (shown once).
    pub token: String,
}

/// A new device and the token it uploads with.
#[derive(Debug, Clone)]
pub struct DeviceCredentials {
    /// The device.
    pub device: DeviceId,
    /// Its patient.
    pub patient: PatientId,
    /// Its upload token (shown once).
    pub token: String,
}

/// Registers a patient with a fresh token.
pub async fn add_patient(store: &dyn Store) -> Result<PatientCredentials> {
    let token = generate("vtp_");
    let patient = store.create_patient(hash(&token)).await?;
    crate::sealing::publish_token_patient_key(store, &patient, &token).await?;
    Ok(PatientCredentials { patient, token })
}

/// Binds a new device with a fresh token to `patient`.
pub async fn add_device(store: &dyn Store, patient: &PatientId) -> Result<DeviceCredentials> {
    let token = generate("vtd_");
    let device = store.create_device(patient, hash(&token)).await?;
    Ok(DeviceCredentials {
        device,
        patient: patient.clone(),
        token,
    })
}
