//! Sealing small secrets (an account's secp256k1 key) under a password or a recovery key,
//! and hashing passwords for sign-in.
//!
//! - Passwords are hashed with Argon2id (RFC 9106) at the parameters OWASP's Password
//!   Storage Cheat Sheet recommends as its first option: 19 MiB of memory, 2 passes, 1 lane
//!   ([`ARGON2_PARAMS`]), stored as a PHC string.
//! - A sealing key is derived from the password with the same Argon2id parameters and a
//!   separate random salt, so the stored password hash says nothing about it.
//! - A secret is sealed with XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha, RFC 8439's AEAD
//!   with a 192-bit random nonce), with associated data naming what is sealed and whose it
//!   is, so a sealed key moved to another account fails to open.
//! - A recovery key is 256 random bits, shown to the user once as 64 hex digits in
//!   groups of eight; it is used as an AEAD key directly (after SHA-256 with a domain tag).
//!
//! Sealed layout: `version (1) ‖ salt (16, zero for recovery) ‖ nonce (24) ‖ ciphertext`.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Argon2id parameters: m = 19 MiB, t = 2, p = 1 (OWASP).
pub const ARGON2_PARAMS: (u32, u32, u32) = (19 * 1024, 2, 1);

const VERSION: u8 = 1;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;

/// Sealing or opening failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Wrong password or key, or the sealed bytes were altered.
    #[error("wrong password or key, or altered data")]
    Open,
    /// The sealed bytes are not in the expected layout.
    #[error("malformed sealed data")]
    Malformed,
    /// The password hash is not a valid PHC string.
    #[error("malformed password hash")]
    Hash,
    /// A recovery key is not 64 hex digits.
    #[error("a recovery key is 64 hexadecimal digits")]
    RecoveryKey,
}

fn argon2() -> Argon2<'static> {
    let (m, t, p) = ARGON2_PARAMS;
    let params = Params::new(m, t, p, Some(32)).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password for storage (PHC string).
pub fn hash_password(password: &str, rng: &mut impl CryptoRng) -> Result<String, SealError> {
    let mut salt = [0u8; SALT_LEN];
    rng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|_| SealError::Hash)?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| SealError::Hash)
}

/// Whether `password` matches the stored PHC string.
pub fn verify_password(stored: &str, password: &str) -> Result<bool, SealError> {
    let parsed = PasswordHash::new(stored).map_err(|_| SealError::Hash)?;
    Ok(argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

/// A fresh recovery key and its display form.
pub fn new_recovery_key(rng: &mut impl CryptoRng) -> (Zeroizing<[u8; 32]>, String) {
    let mut key = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(key.as_mut());
    let text = hex::encode(key.as_ref())
        .as_bytes()
        .chunks(8)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-");
    (key, text)
}

/// Parses a recovery key as shown (dashes and spaces ignored, any case).
pub fn parse_recovery_key(text: &str) -> Result<Zeroizing<[u8; 32]>, SealError> {
    let digits: String = text.chars().filter(|c| !matches!(c, '-' | ' ')).collect();
    let mut key = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(digits, key.as_mut()).map_err(|_| SealError::RecoveryKey)?;
    Ok(key)
}

fn seal_with(
    key: &[u8; 32],
    salt: [u8; SALT_LEN],
    secret: &[u8],
    aad: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<Vec<u8>, SealError> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let cipher = XChaCha20Poly1305::new(key.into());
    let ciphertext = cipher
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: secret, aad })
        .map_err(|_| SealError::Open)?;
    Ok([&[VERSION][..], &salt, &nonce, &ciphertext].concat())
}

/// The parts of sealed bytes.
struct Sealed<'a> {
    salt: [u8; SALT_LEN],
    nonce: &'a [u8],
    ciphertext: &'a [u8],
}

fn split(sealed: &[u8]) -> Result<Sealed<'_>, SealError> {
    if sealed.len() < 1 + SALT_LEN + NONCE_LEN + 16 || sealed[0] != VERSION {
        return Err(SealError::Malformed);
    }
    let mut salt = [0u8; SALT_LEN];
    salt.copy_from_slice(&sealed[1..1 + SALT_LEN]);
    Ok(Sealed {
        salt,
        nonce: &sealed[1 + SALT_LEN..1 + SALT_LEN + NONCE_LEN],
        ciphertext: &sealed[1 + SALT_LEN + NONCE_LEN..],
    })
}

fn open_with(
    key: &[u8; 32],
    nonce: &[u8],
    ciphertext: &[u8],
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, SealError> {
    XChaCha20Poly1305::new(key.into())
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| SealError::Open)
}

fn password_key(password: &str, salt: &[u8; SALT_LEN]) -> Result<Zeroizing<[u8; 32]>, SealError> {
    let mut key = Zeroizing::new([0u8; 32]);
    argon2()
        .hash_password_into(password.as_bytes(), salt, key.as_mut())
        .map_err(|_| SealError::Hash)?;
    Ok(key)
}

fn recovery_aead_key(recovery: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    let mut hasher = Sha256::new();
    hasher.update(b"vitalis recovery key v1");
    hasher.update(recovery);
    Zeroizing::new(hasher.finalize().into())
}

/// Seals `secret` under a key derived from `password`; `aad` names what and whose it is.
pub fn seal_with_password(
    password: &str,
    secret: &[u8],
    aad: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<Vec<u8>, SealError> {
    let mut salt = [0u8; SALT_LEN];
    rng.fill_bytes(&mut salt);
    let key = password_key(password, &salt)?;
    seal_with(&key, salt, secret, aad, rng)
}

/// Opens what [`seal_with_password`] sealed.
pub fn open_with_password(
    password: &str,
    sealed: &[u8],
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, SealError> {
    let parts = split(sealed)?;
    let key = password_key(password, &parts.salt)?;
    open_with(&key, parts.nonce, parts.ciphertext, aad)
}

/// Seals `secret` under a recovery key.
pub fn seal_with_recovery(
    recovery: &[u8; 32],
    secret: &[u8],
    aad: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<Vec<u8>, SealError> {
    seal_with(
        &recovery_aead_key(recovery),
        [0; SALT_LEN],
        secret,
        aad,
        rng,
    )
}

/// Opens what [`seal_with_recovery`] sealed.
pub fn open_with_recovery(
    recovery: &[u8; 32],
    sealed: &[u8],
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, SealError> {
    let parts = split(sealed)?;
    open_with(
        &recovery_aead_key(recovery),
        parts.nonce,
        parts.ciphertext,
        aad,
    )
}
