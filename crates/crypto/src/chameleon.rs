//! Key-exposure-free chameleon hash over ristretto255: record commitments that the
//! supervisor can open to a corrected payload without changing them (DESIGN.md §4,
//! "Redaction").
//!
//! The scheme is the key-exposure-free chameleon hash of G. Ateniese and B. de Medeiros,
//! "On the Key Exposure Problem in Chameleon Hashes", SCN 2004 (LNCS 3352), in the
//! secret-coin form used for redactable blockchains by G. Ateniese, B. Magri, D. Venturi
//! and E. Andrade, "Redactable Blockchain – or – Rewriting History in Bitcoin and
//! Friends", IEEE EuroS&P 2017. It is written additively over the prime-order group
//! ristretto255 (RFC 9496) of order ℓ with generator G:
//!
//! - keys: trapdoor x ∈ Z_ℓ, x ≠ 0; public key Y = x·G;
//! - [`hash`]: pick r, s at random; R = r·G; e = H(R, m); the digest is
//!   CH = R − (e·Y + s·G) and the randomness is (R, s);
//! - [`check`]: recompute e = H(R, m) and compare R − (e·Y + s·G) with CH;
//! - [`adapt`] (needs x): pick k′ at random; R′ = CH + k′·G; e′ = H(R′, m′);
//!   s′ = k′ − e′·x. Then R′ − (e′·Y + s′·G) = CH + k′·G − e′x·G − k′·G + e′x·G = CH.
//!
//! H(R, m) is SHA-512 over `"vitalis/chameleon/v1" ‖ R (32 bytes, compressed) ‖ m`,
//! reduced mod ℓ. The message is a byte string; Vitalis passes the SHA-256 digest of a
//! record's stored payload.
//!
//! *Key-exposure free* means that published collisions do not reveal the trapdoor. In the
//! classic Krawczyk–Rabin hash CH = m·G + r·Y, one collision (m, r), (m′, r′) gives
//! x = (m − m′)/(r′ − r), so after the first redaction anyone could rewrite anything.
//! Here each collision brings a fresh R′ whose discrete logarithm nobody publishes, so the
//! equations an observer can write always have one unknown more than they have
//! equations; the papers prove the property under the discrete-logarithm assumption in
//! the random-oracle model.

use std::fmt;
use std::hash::{Hash, Hasher};

use curve25519_dalek::constants::RISTRETTO_BASEPOINT_TABLE;
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use rand_core::CryptoRng;
use sha2::{Digest, Sha512};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Domain separator of the hash H(R, m).
const CHALLENGE_DOMAIN: &[u8] = b"vitalis/chameleon/v1";

/// Why bytes are not a valid key, digest or randomness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChameleonError {
    /// Not the canonical encoding of a ristretto255 point, or the identity (which would
    /// let anyone find collisions).
    #[error("public key is not a canonical ristretto255 encoding of a non-identity point")]
    InvalidPublicKey,
    /// Not a canonical (reduced) non-zero scalar.
    #[error("trapdoor is not a canonical non-zero scalar")]
    InvalidTrapdoor,
    /// Not the canonical encoding of a ristretto255 point.
    #[error("digest is not a canonical ristretto255 encoding")]
    InvalidDigest,
    /// The point R of the randomness is not a canonical ristretto255 encoding.
    #[error("randomness point is not a canonical ristretto255 encoding")]
    InvalidRandomnessPoint,
    /// The scalar s of the randomness is not reduced mod the group order.
    #[error("randomness scalar is not canonical")]
    InvalidRandomnessScalar,
    /// Text that is not the expected number of hex digits.
    #[error("expected {expected} hex digits")]
    InvalidHex {
        /// How many hex digits the value has.
        expected: usize,
    },
}

/// A public key Y = x·G: 32 bytes, the compressed ristretto255 point.
#[derive(Clone, Copy)]
pub struct ChameleonPublicKey {
    point: RistrettoPoint,
    encoded: CompressedRistretto,
}

impl ChameleonPublicKey {
    /// Parses the 32-byte encoding, rejecting non-canonical encodings, bytes that are no
    /// point, and the identity.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<ChameleonPublicKey, ChameleonError> {
        let encoded = CompressedRistretto(bytes);
        let point = encoded
            .decompress()
            .filter(|p| !p.is_identity())
            .ok_or(ChameleonError::InvalidPublicKey)?;
        Ok(ChameleonPublicKey { point, encoded })
    }

    /// The 32-byte encoding.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.encoded.to_bytes()
    }

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Result<ChameleonPublicKey, ChameleonError> {
        ChameleonPublicKey::from_bytes(decode_hex(text)?)
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.encoded.as_bytes())
    }
}

impl PartialEq for ChameleonPublicKey {
    fn eq(&self, other: &Self) -> bool {
        // Encodings are canonical: equal points have equal bytes.
        self.encoded == other.encoded
    }
}

impl Eq for ChameleonPublicKey {}

impl Hash for ChameleonPublicKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.encoded.hash(state);
    }
}

impl fmt::Debug for ChameleonPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChameleonPublicKey({})", self.to_hex())
    }
}

impl fmt::Display for ChameleonPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The trapdoor x: whoever holds it can open any digest to any message ([`adapt`]).
/// Zeroized on drop; `Debug` shows only the public key.
pub struct ChameleonTrapdoor {
    secret: Scalar,
    public: ChameleonPublicKey,
}

impl ChameleonTrapdoor {
    /// A fresh trapdoor from `rng`.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> ChameleonTrapdoor {
        loop {
            let secret = random_scalar(rng);
            if secret != Scalar::ZERO {
                return ChameleonTrapdoor::from_scalar(secret);
            }
        }
    }

    /// Parses the 32-byte little-endian scalar, rejecting non-canonical values and zero.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<ChameleonTrapdoor, ChameleonError> {
        let secret: Option<Scalar> = Scalar::from_canonical_bytes(bytes).into();
        match secret {
            Some(secret) if secret != Scalar::ZERO => Ok(ChameleonTrapdoor::from_scalar(secret)),
            _ => Err(ChameleonError::InvalidTrapdoor),
        }
    }

    /// The 32-byte little-endian scalar, zeroized when the returned value is dropped.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.secret.to_bytes())
    }

    /// The public key Y = x·G.
    pub fn public_key(&self) -> ChameleonPublicKey {
        self.public
    }

    fn from_scalar(secret: Scalar) -> ChameleonTrapdoor {
        let point = &secret * RISTRETTO_BASEPOINT_TABLE;
        let public = ChameleonPublicKey {
            point,
            encoded: point.compress(),
        };
        ChameleonTrapdoor { secret, public }
    }
}

impl Drop for ChameleonTrapdoor {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

impl ZeroizeOnDrop for ChameleonTrapdoor {}

impl fmt::Debug for ChameleonTrapdoor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChameleonTrapdoor")
            .field("public_key", &self.public)
            .finish_non_exhaustive()
    }
}

/// A chameleon digest CH: 32 bytes, the compressed ristretto255 point.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChameleonDigest([u8; 32]);

impl ChameleonDigest {
    /// Parses the 32-byte encoding, rejecting bytes that are not a canonical point.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<ChameleonDigest, ChameleonError> {
        CompressedRistretto(bytes)
            .decompress()
            .ok_or(ChameleonError::InvalidDigest)?;
        Ok(ChameleonDigest(bytes))
    }

    /// The 32-byte encoding.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// The 32-byte encoding, borrowed.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Result<ChameleonDigest, ChameleonError> {
        ChameleonDigest::from_bytes(decode_hex(text)?)
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    fn point(&self) -> RistrettoPoint {
        CompressedRistretto(self.0)
            .decompress()
            .expect("a ChameleonDigest holds a valid encoding: from_bytes and hash check it")
    }
}

impl fmt::Debug for ChameleonDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChameleonDigest({})", self.to_hex())
    }
}

impl fmt::Display for ChameleonDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The randomness (R, s) that opens a digest to one message. Public: it is stored next
/// to the payload it opens.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Randomness {
    r_point: CompressedRistretto,
    s: Scalar,
}

impl Randomness {
    /// `R (32 bytes, compressed point) ‖ s (32 bytes, little-endian scalar)`.
    pub fn to_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(self.r_point.as_bytes());
        out[32..].copy_from_slice(self.s.as_bytes());
        out
    }

    /// Parses [`Randomness::to_bytes`]'s output, rejecting a point that is not a canonical
    /// encoding and a scalar that is not reduced.
    pub fn from_bytes(bytes: &[u8; 64]) -> Result<Randomness, ChameleonError> {
        let (r_bytes, s_bytes) = bytes.split_at(32);
        let r_point = CompressedRistretto::from_slice(r_bytes)
            .map_err(|_| ChameleonError::InvalidRandomnessPoint)?;
        r_point
            .decompress()
            .ok_or(ChameleonError::InvalidRandomnessPoint)?;
        let mut s = [0u8; 32];
        s.copy_from_slice(s_bytes);
        let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s))
            .ok_or(ChameleonError::InvalidRandomnessScalar)?;
        Ok(Randomness { r_point, s })
    }

    /// The point R, compressed.
    pub fn r_point(&self) -> [u8; 32] {
        self.r_point.to_bytes()
    }

    /// The scalar s, little-endian.
    pub fn s(&self) -> [u8; 32] {
        self.s.to_bytes()
    }

    /// Parses 128 hex digits.
    pub fn from_hex(text: &str) -> Result<Randomness, ChameleonError> {
        Randomness::from_bytes(&decode_hex(text)?)
    }

    /// Lower-case hex of [`Randomness::to_bytes`].
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_bytes())
    }
}

impl fmt::Debug for Randomness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Randomness({})", self.to_hex())
    }
}

/// Hashes `message` under `public_key` with fresh randomness from `rng`.
pub fn hash<R: CryptoRng + ?Sized>(
    public_key: &ChameleonPublicKey,
    message: &[u8],
    rng: &mut R,
) -> (ChameleonDigest, Randomness) {
    let mut r = random_scalar(rng);
    let s = random_scalar(rng);
    let r_point = &r * RISTRETTO_BASEPOINT_TABLE;
    r.zeroize();
    let r_encoded = r_point.compress();
    let digest = ChameleonDigest(opening(public_key, &r_point, &r_encoded, &s, message));
    (
        digest,
        Randomness {
            r_point: r_encoded,
            s,
        },
    )
}

/// Whether `randomness` opens `digest` to `message` under `public_key`.
pub fn check(
    public_key: &ChameleonPublicKey,
    message: &[u8],
    randomness: &Randomness,
    digest: &ChameleonDigest,
) -> bool {
    // A `Randomness` always holds a valid point; the guard keeps this panic-free anyway.
    let Some(r_point) = randomness.r_point.decompress() else {
        return false;
    };
    opening(
        public_key,
        &r_point,
        &randomness.r_point,
        &randomness.s,
        message,
    ) == digest.0
}

/// New randomness that opens `digest` to `message`: a collision, which only the holder of
/// the trapdoor can find. The digest stays what it was, so every commitment, Merkle root
/// and proof built over it stays valid.
pub fn adapt<R: CryptoRng + ?Sized>(
    trapdoor: &ChameleonTrapdoor,
    digest: &ChameleonDigest,
    message: &[u8],
    rng: &mut R,
) -> Randomness {
    let mut k = random_scalar(rng);
    let r_point = digest.point() + &k * RISTRETTO_BASEPOINT_TABLE;
    let r_encoded = r_point.compress();
    let e = challenge(&r_encoded, message);
    // k and e·x each reveal x together with the published (R′, s′): wipe them.
    let mut ex = e * trapdoor.secret;
    let s = k - ex;
    ex.zeroize();
    k.zeroize();
    Randomness {
        r_point: r_encoded,
        s,
    }
}

/// e = H(R, m) as a scalar.
fn challenge(r_encoded: &CompressedRistretto, message: &[u8]) -> Scalar {
    Scalar::from_hash(
        Sha512::new()
            .chain_update(CHALLENGE_DOMAIN)
            .chain_update(r_encoded.as_bytes())
            .chain_update(message),
    )
}

/// R − (e·Y + s·G), compressed. Variable time is fine: Y, R, s and e are all public once
/// the randomness is published, and no secret enters this computation.
fn opening(
    public_key: &ChameleonPublicKey,
    r_point: &RistrettoPoint,
    r_encoded: &CompressedRistretto,
    s: &Scalar,
    message: &[u8],
) -> [u8; 32] {
    let e = challenge(r_encoded, message);
    let masked = RistrettoPoint::vartime_double_scalar_mul_basepoint(&e, &public_key.point, s);
    (r_point - masked).compress().to_bytes()
}

/// A uniformly random scalar: 64 random bytes reduced mod ℓ, exactly as
/// `Scalar::random` draws it (which takes a rand_core 0.6 generator, while the workspace
/// uses rand_core 0.9). The bias is below 2⁻²⁵⁹.
fn random_scalar<R: CryptoRng + ?Sized>(rng: &mut R) -> Scalar {
    let mut wide = Zeroizing::new([0u8; 64]);
    rng.fill_bytes(wide.as_mut());
    Scalar::from_bytes_mod_order_wide(&wide)
}

fn decode_hex<const N: usize>(text: &str) -> Result<[u8; N], ChameleonError> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out)
        .map_err(|_| ChameleonError::InvalidHex { expected: 2 * N })?;
    Ok(out)
}
