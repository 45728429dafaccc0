//! Envelope encryption of protected records (DESIGN.md §5).
//!
//! - Each record's payload is encrypted under its own random 256-bit [`DataKey`] with
//!   XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha: RFC 8439's AEAD with a 192-bit random
//!   nonce). The caller passes the record header (patient, sequence, section, time range)
//!   as associated data, so a ciphertext moved to another record, or a header altered,
//!   fails to open.
//! - The data key is wrapped for the patient with HPKE (RFC 9180) in base mode with the
//!   suite DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305, so the server
//!   can seal for a patient who is not signed in, but only the holder of the patient's
//!   private key ([`PatientSecretKey`]) can unwrap.
//! - [`wrap_with_key`] wraps a data key under another symmetric key (XChaCha20-Poly1305),
//!   for key hierarchies such as a policy key that is itself encrypted under an ABE
//!   policy.
//!
//! The sealed payload is what the store keeps and what the record's CID and commitment
//! cover, so integrity is checked without decrypting. Wrapped keys are kept beside it, not
//! inside, so a key can be wrapped again for a new reader without changing the record.
//!
//! Layouts (every one starts with a version byte):
//! - sealed payload: `1 ‖ nonce (24) ‖ ciphertext ‖ tag (16)`;
//! - wrapped for a patient: `1 ‖ encapsulated key (32) ‖ ciphertext (32) ‖ tag (16)`;
//! - wrapped under a key: `1 ‖ nonce (24) ‖ ciphertext (32) ‖ tag (16)`.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hpke::aead::ChaCha20Poly1305 as HpkeChaCha;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const KEY_LEN: usize = 32;
const ENCAPPED_LEN: usize = 32;

/// HPKE `info`: names the use, so a wrapped key is never taken for anything else.
const HPKE_INFO: &[u8] = b"vitalis record data key v1";

/// Domain tag of [`PatientSecretKey::from_account_secret`].
const ACCOUNT_DERIVATION_TAG: &[u8] = b"vitalis patient hpke key v1";

/// Length of a sealed payload of `n` plaintext bytes.
pub const fn sealed_len(n: usize) -> usize {
    1 + NONCE_LEN + n + TAG_LEN
}

/// Length of a data key wrapped for a patient.
pub const PATIENT_WRAP_LEN: usize = 1 + ENCAPPED_LEN + KEY_LEN + TAG_LEN;

/// Length of a data key wrapped under a key.
pub const KEY_WRAP_LEN: usize = 1 + NONCE_LEN + KEY_LEN + TAG_LEN;

/// Opening or unwrapping failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Wrong key, wrong associated data, or altered bytes.
    #[error("wrong key or altered data")]
    Open,
    /// The bytes are not in the expected layout (too short, unknown version).
    #[error("malformed sealed data")]
    Malformed,
}

/// A record's data key: 256 random bits, zeroized when dropped.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; KEY_LEN]>);

impl DataKey {
    /// A fresh random key.
    pub fn generate(rng: &mut impl CryptoRng) -> DataKey {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rng.fill_bytes(key.as_mut());
        DataKey(key)
    }

    /// A key from its bytes (e.g. a policy key recovered from an ABE ciphertext).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> DataKey {
        DataKey(Zeroizing::new(bytes))
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

fn xchacha_seal(key: &[u8; KEY_LEN], msg: &[u8], aad: &[u8], rng: &mut impl CryptoRng) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let ciphertext = XChaCha20Poly1305::new(key.into())
        .encrypt(XNonce::from_slice(&nonce), Payload { msg, aad })
        // Encryption fails only for messages beyond 2^38 bytes, far above any record.
        .expect("XChaCha20-Poly1305 encrypts any record-sized message");
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
    out.push(VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    out
}

fn xchacha_open(
    key: &[u8; KEY_LEN],
    sealed: &[u8],
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
    if sealed.len() < 1 + NONCE_LEN + TAG_LEN || sealed[0] != VERSION {
        return Err(EnvelopeError::Malformed);
    }
    let (nonce, ciphertext) = sealed[1..].split_at(NONCE_LEN);
    XChaCha20Poly1305::new(key.into())
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| EnvelopeError::Open)
}

/// Encrypts a record's payload under its data key, binding `header` (the record's
/// identity) as associated data.
pub fn seal_payload(
    key: &DataKey,
    header: &[u8],
    payload: &[u8],
    rng: &mut impl CryptoRng,
) -> Vec<u8> {
    xchacha_seal(key.as_bytes(), payload, header, rng)
}

/// Decrypts what [`seal_payload`] sealed; fails unless `key` and `header` are the ones it
/// was sealed with and not a byte changed.
pub fn open_payload(
    key: &DataKey,
    header: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
    xchacha_open(key.as_bytes(), sealed, header)
}

/// Wraps a data key under a symmetric key (`aad` names what is wrapped).
pub fn wrap_with_key(
    wrapping: &DataKey,
    key: &DataKey,
    aad: &[u8],
    rng: &mut impl CryptoRng,
) -> Vec<u8> {
    xchacha_seal(wrapping.as_bytes(), key.as_bytes(), aad, rng)
}

/// Unwraps what [`wrap_with_key`] wrapped.
pub fn unwrap_with_key(
    wrapping: &DataKey,
    wrapped: &[u8],
    aad: &[u8],
) -> Result<DataKey, EnvelopeError> {
    if wrapped.len() != KEY_WRAP_LEN {
        return Err(EnvelopeError::Malformed);
    }
    data_key_from(&xchacha_open(wrapping.as_bytes(), wrapped, aad)?)
}

fn data_key_from(bytes: &[u8]) -> Result<DataKey, EnvelopeError> {
    let bytes: [u8; KEY_LEN] = bytes.try_into().map_err(|_| EnvelopeError::Malformed)?;
    Ok(DataKey::from_bytes(bytes))
}

/// A patient's public key for wrapping data keys (X25519, 32 bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct PatientPublicKey(<X25519HkdfSha256 as hpke::Kem>::PublicKey);

impl PatientPublicKey {
    /// The key's 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes().into()
    }

    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<PatientPublicKey, EnvelopeError> {
        <X25519HkdfSha256 as hpke::Kem>::PublicKey::from_bytes(bytes)
            .map(PatientPublicKey)
            .map_err(|_| EnvelopeError::Malformed)
    }
}

impl std::fmt::Debug for PatientPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PatientPublicKey({})", hex::encode(self.to_bytes()))
    }
}

/// A patient's private key: derived (RFC 9180 §7.1.3 `DeriveKeyPair`) from a 32-byte seed,
/// which is what gets sealed under the password and the recovery key. Zeroized on drop.
pub struct PatientSecretKey {
    seed: Zeroizing<[u8; 32]>,
    secret: <X25519HkdfSha256 as hpke::Kem>::PrivateKey,
    public: PatientPublicKey,
}

impl PatientSecretKey {
    /// A fresh key pair.
    pub fn generate(rng: &mut impl CryptoRng) -> PatientSecretKey {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        PatientSecretKey::from_seed(&seed)
    }

    /// The key pair of a seed.
    pub fn from_seed(seed: &[u8; 32]) -> PatientSecretKey {
        let (secret, public) = X25519HkdfSha256::derive_keypair(seed);
        PatientSecretKey {
            seed: Zeroizing::new(*seed),
            secret,
            public: PatientPublicKey(public),
        }
    }

    /// The key pair of an account: derived from the account's sealed 32-byte secret (its
    /// secp256k1 signing key) as `DeriveKeyPair(SHA-256("vitalis patient hpke key v1" ‖
    /// secret))`. The domain tag keeps the two uses of the secret apart, and the account
    /// needs no second sealed secret: whatever unseals its signing key (password,
    /// recovery key) unseals this one, and a password change re-seals both at once.
    pub fn from_account_secret(secret: &[u8; 32]) -> PatientSecretKey {
        let mut hasher = Sha256::new();
        hasher.update(ACCOUNT_DERIVATION_TAG);
        hasher.update(secret);
        let seed = Zeroizing::new(<[u8; 32]>::from(hasher.finalize()));
        PatientSecretKey::from_seed(&seed)
    }

    /// The seed to seal for storage.
    pub fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    /// The public half.
    pub fn public_key(&self) -> &PatientPublicKey {
        &self.public
    }
}

impl std::fmt::Debug for PatientSecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PatientSecretKey(public {:?})", self.public)
    }
}

/// Wraps a data key for a patient (HPKE base mode); `aad` names the record.
pub fn wrap_for_patient(
    patient: &PatientPublicKey,
    key: &DataKey,
    aad: &[u8],
    rng: &mut impl CryptoRng,
) -> Vec<u8> {
    let (encapped, ciphertext) =
        hpke::single_shot_seal::<HpkeChaCha, HkdfSha256, X25519HkdfSha256, _>(
            &OpModeS::Base,
            &patient.0,
            HPKE_INFO,
            key.as_bytes(),
            aad,
            rng,
        )
        // Base-mode sealing to a valid X25519 key fails only if the shared secret is all
        // zeros, which a key that passed `from_bytes` or came from `derive_keypair` rules out.
        .expect("HPKE seals to a valid X25519 public key");
    let mut out = Vec::with_capacity(PATIENT_WRAP_LEN);
    out.push(VERSION);
    out.extend_from_slice(&encapped.to_bytes());
    out.extend_from_slice(&ciphertext);
    out
}

/// Unwraps what [`wrap_for_patient`] wrapped.
pub fn unwrap_for_patient(
    patient: &PatientSecretKey,
    wrapped: &[u8],
    aad: &[u8],
) -> Result<DataKey, EnvelopeError> {
    if wrapped.len() != PATIENT_WRAP_LEN || wrapped[0] != VERSION {
        return Err(EnvelopeError::Malformed);
    }
    let (encapped, ciphertext) = wrapped[1..].split_at(ENCAPPED_LEN);
    let encapped = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(encapped)
        .map_err(|_| EnvelopeError::Malformed)?;
    let plain = hpke::single_shot_open::<HpkeChaCha, HkdfSha256, X25519HkdfSha256>(
        &OpModeR::Base,
        &patient.secret,
        &encapped,
        HPKE_INFO,
        ciphertext,
        aad,
    )
    .map_err(|_| EnvelopeError::Open)?;
    let plain = Zeroizing::new(plain);
    data_key_from(&plain)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;

    fn rng(seed: u8) -> ChaCha20Rng {
        ChaCha20Rng::from_seed([seed; 32])
    }

    #[test]
    fn a_sealed_payload_opens_with_its_key_and_header_only() {
        let mut r = rng(1);
        let key = DataKey::generate(&mut r);
        let sealed = seal_payload(&key, b"p1/7/protected", b"readings", &mut r);
        assert_eq!(sealed.len(), sealed_len(8));
        assert_eq!(
            open_payload(&key, b"p1/7/protected", &sealed)
                .unwrap()
                .as_slice(),
            b"readings"
        );
        // Moved to another record: the header differs.
        assert_eq!(
            open_payload(&key, b"p1/8/protected", &sealed).unwrap_err(),
            EnvelopeError::Open
        );
        let other = DataKey::generate(&mut r);
        assert_eq!(
            open_payload(&other, b"p1/7/protected", &sealed).unwrap_err(),
            EnvelopeError::Open
        );
        assert_eq!(
            open_payload(&key, b"p1/7/protected", &sealed[..20]).unwrap_err(),
            EnvelopeError::Malformed
        );
    }

    #[test]
    fn a_wrapped_key_opens_for_its_patient_only() {
        let mut r = rng(2);
        let alice = PatientSecretKey::generate(&mut r);
        let bob = PatientSecretKey::generate(&mut r);
        let key = DataKey::generate(&mut r);
        let wrapped = wrap_for_patient(alice.public_key(), &key, b"record 1", &mut r);
        assert_eq!(wrapped.len(), PATIENT_WRAP_LEN);
        let back = unwrap_for_patient(&alice, &wrapped, b"record 1").unwrap();
        assert_eq!(back.as_bytes(), key.as_bytes());
        assert_eq!(
            unwrap_for_patient(&bob, &wrapped, b"record 1").unwrap_err(),
            EnvelopeError::Open
        );
        assert_eq!(
            unwrap_for_patient(&alice, &wrapped, b"record 2").unwrap_err(),
            EnvelopeError::Open
        );
        // The seed gives back the same key pair, and the public key survives its bytes.
        let again = PatientSecretKey::from_seed(alice.seed());
        assert_eq!(again.public_key(), alice.public_key());
        assert_eq!(
            &PatientPublicKey::from_bytes(&alice.public_key().to_bytes()).unwrap(),
            alice.public_key()
        );
        assert!(unwrap_for_patient(&again, &wrapped, b"record 1").is_ok());
    }

    #[test]
    fn an_account_secret_gives_one_key_pair_of_its_own() {
        let a = PatientSecretKey::from_account_secret(&[1; 32]);
        assert_eq!(
            a.public_key(),
            PatientSecretKey::from_account_secret(&[1; 32]).public_key()
        );
        assert_ne!(
            a.public_key(),
            PatientSecretKey::from_account_secret(&[2; 32]).public_key()
        );
        // Not the secret used as a seed directly.
        assert_ne!(
            a.public_key(),
            PatientSecretKey::from_seed(&[1; 32]).public_key()
        );
    }

    #[test]
    fn keys_wrap_under_keys() {
        let mut r = rng(3);
        let policy_key = DataKey::generate(&mut r);
        let key = DataKey::generate(&mut r);
        let wrapped = wrap_with_key(&policy_key, &key, b"record 1", &mut r);
        assert_eq!(wrapped.len(), KEY_WRAP_LEN);
        let back = unwrap_with_key(&policy_key, &wrapped, b"record 1").unwrap();
        assert_eq!(back.as_bytes(), key.as_bytes());
        assert_eq!(
            unwrap_with_key(&key, &wrapped, b"record 1").unwrap_err(),
            EnvelopeError::Open
        );
    }

    proptest! {
        #[test]
        fn any_payload_round_trips_and_any_flipped_bit_is_caught(
            payload in proptest::collection::vec(any::<u8>(), 0..2048),
            header in proptest::collection::vec(any::<u8>(), 0..64),
            seed in any::<[u8; 32]>(),
            flip in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let mut r = ChaCha20Rng::from_seed(seed);
            let key = DataKey::generate(&mut r);
            let mut sealed = seal_payload(&key, &header, &payload, &mut r);
            let opened = open_payload(&key, &header, &sealed).unwrap();
            prop_assert_eq!(opened.as_slice(), &payload[..]);
            let i = flip.index(sealed.len());
            sealed[i] ^= 1 << bit;
            prop_assert!(open_payload(&key, &header, &sealed).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_unwrap_or_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..128),
            seed in any::<[u8; 32]>(),
        ) {
            let patient = PatientSecretKey::from_seed(&seed);
            prop_assert!(unwrap_for_patient(&patient, &bytes, b"").is_err());
            prop_assert!(unwrap_with_key(&DataKey::from_bytes(seed), &bytes, b"").is_err());
            prop_assert!(open_payload(&DataKey::from_bytes(seed), b"", &bytes).is_err());
        }

        #[test]
        fn any_flipped_bit_of_a_wrapped_key_is_caught(
            seed in any::<[u8; 32]>(),
            flip in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let mut r = ChaCha20Rng::from_seed(seed);
            let patient = PatientSecretKey::generate(&mut r);
            let key = DataKey::generate(&mut r);
            let mut wrapped = wrap_for_patient(patient.public_key(), &key, b"r", &mut r);
            let i = flip.index(wrapped.len());
            wrapped[i] ^= 1 << bit;
            prop_assert!(unwrap_for_patient(&patient, &wrapped, b"r").is_err());
        }
    }
}
