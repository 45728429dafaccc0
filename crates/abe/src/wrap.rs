//! The KEM part: the pairing value `Z = T1^s1 · T2^s2` that FAME would multiply into a
//! message becomes, through HKDF-SHA256 (RFC 5869), a one-time key that seals the
//! caller's 32-byte data key with ChaCha20-Poly1305 (RFC 8439).
//!
//! The key-encryption key is fresh for every ciphertext (fresh `s1`, `s2`), so a fixed
//! nonce is safe. The associated data is the whole ciphertext encoding before the sealed
//! key (policy, `C0`, every row), so any change to a ciphertext makes decryption fail
//! with an error instead of yielding a wrong key. This detects tampering; it does not make
//! the scheme CCA-secure in the formal sense (FAME is proved CPA-secure).

use blstrs::Gt;
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::encoding::gt_to_bytes;

/// The length of a data key.
pub const DATA_KEY_LEN: usize = 32;
/// The Poly1305 tag.
const TAG_LEN: usize = 16;
/// A sealed data key: the encrypted key and its tag.
pub(crate) const WRAPPED_LEN: usize = DATA_KEY_LEN + TAG_LEN;

/// The HKDF `info`: names the scheme, the format version and the use.
const INFO: &[u8] = b"vitalis-abe v1 FAME/BLS12-381 data-key wrap";

/// A decrypted data key; wiped when dropped.
pub type DataKey = Zeroizing<[u8; DATA_KEY_LEN]>;

/// A one-time key-encryption key, derived from a pairing value `Z`; wiped on drop.
pub(crate) struct Kek(Zeroizing<[u8; 32]>);

impl Kek {
    /// The key for `z`, or `None` when `z` is the identity (which only a forged
    /// ciphertext yields in decryption; encryption draws new randomness then).
    pub(crate) fn derive(z: &Gt) -> Option<Kek> {
        let ikm = Zeroizing::new(gt_to_bytes(z)?);
        let mut okm = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's limit of 255 · 32.
        Hkdf::<Sha256>::new(None, ikm.as_ref())
            .expand(INFO, okm.as_mut())
            .ok()?;
        Some(Kek(okm))
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(self.0.as_ref()))
    }

    /// Seals `data_key`, binding `aad`.
    pub(crate) fn seal(&self, data_key: &[u8; DATA_KEY_LEN], aad: &[u8]) -> [u8; WRAPPED_LEN] {
        let mut out = [0u8; WRAPPED_LEN];
        out[..DATA_KEY_LEN].copy_from_slice(data_key);
        let tag = self
            .cipher()
            .encrypt_in_place_detached(&Nonce::default(), aad, &mut out[..DATA_KEY_LEN])
            .expect("ChaCha20-Poly1305 fails only beyond 256 GiB of plaintext");
        out[DATA_KEY_LEN..].copy_from_slice(&tag);
        out
    }

    /// Opens a sealed data key, or `None` when the tag does not verify.
    pub(crate) fn open(&self, wrapped: &[u8; WRAPPED_LEN], aad: &[u8]) -> Option<DataKey> {
        let mut key = Zeroizing::new([0u8; DATA_KEY_LEN]);
        key.copy_from_slice(&wrapped[..DATA_KEY_LEN]);
        let tag = Tag::from_slice(&wrapped[DATA_KEY_LEN..]);
        self.cipher()
            .decrypt_in_place_detached(&Nonce::default(), aad, key.as_mut(), tag)
            .ok()?;
        Some(key)
    }
}
