//! Ciphertext-policy attribute-based encryption for Vitalis: a record's 32-byte data key
//! is encapsulated under a policy such as `role:clinician AND org:H1`, and only keys
//! whose attributes satisfy the policy recover it. The supervisor is the attribute
//! authority: it runs [`setup`] once and issues keys with [`keygen`]. Pure: no I/O, no
//! async, no clock; randomness is passed in as a `rand_core::CryptoRng`.
//!
//! # Scheme
//!
//! FAME, the ciphertext-policy scheme of Shashank Agrawal and Melissa Chase, "FAME:
//! Fast Attribute-based Message Encryption", ACM CCS 2017 (doi:10.1145/3133956.3134014;
//! full version IACR ePrint 2017/807, construction in §3), instantiated with k = 2
//! (decisional linear assumption), fully secure in the random-oracle model on Type-III
//! pairings. The algorithms are written out in the paper's notation in the `fame`
//! module. Two deviations from the paper, both on the outside of the scheme:
//!
//! - It is a KEM: the pairing value `T1^s1 · T2^s2` that the paper multiplies into a
//!   message becomes an HKDF-SHA256 key that seals the caller's data key with
//!   ChaCha20-Poly1305, the whole ciphertext as associated data. An altered ciphertext
//!   fails to decrypt instead of giving a wrong key.
//! - Each attribute may occur only once in a policy ([`PolicyError::RepeatedAttribute`]
//!   explains the attack that repetition would allow with this construction).
//!
//! Policies ([`policy`]) are AND, OR and k-of-n thresholds of any arity, nested freely,
//! turned into monotone span programs by the Lewko–Waters conversion for AND and OR and
//! Vandermonde rows for thresholds (Liu–Cao–Wong).
//!
//! # Pairing library
//!
//! BLS12-381, which targets the 128-bit security level (BN254, used by the `rabe`
//! crate, is estimated at about 100 bits since the tower number field sieve of Kim and
//! Barbulescu, CRYPTO 2016), through `blstrs`, the Rust binding of supranational's
//! `blst` maintained by the Filecoin project. Chosen over the alternatives because:
//!
//! - `blst` is audited and widely deployed (Ethereum consensus clients), multiplies
//!   points in constant time and implements the hash to G1 of RFC 9380 that FAME's
//!   random oracle needs;
//! - it is fast where FAME spends its time: measured here, a G1 scalar multiplication
//!   took 117 µs against 356 µs with zkcrypto's `bls12_381` 0.9, a G2 one 164 µs against
//!   1,144 µs, a final exponentiation 347 µs against 821 µs (see `docs/PERFORMANCE.md`);
//! - zkcrypto's `bls12_381` cannot serialize elements of GT, which the public key
//!   holds; arkworks' `ark-bls12-381` makes no constant-time claims.
//!
//! Known limitation: `blstrs` exponentiates in GT by a variable-time square-and-multiply
//! and offers no field arithmetic to replace it, so the time taken by `T1^s1 · T2^s2` in
//! [`encrypt`] depends on the bit patterns of the one-time exponents `s1`, `s2`. Setup
//! and key generation do not exponentiate in GT with secrets.
//!
//! # Secrets
//!
//! [`MasterKey`], [`SecretKey`], their encodings and decrypted [`DataKey`]s are wiped
//! (`zeroize`) when dropped, as are the main secret scalars of key generation and
//! encryption. Temporaries inside the pairing library are not.
//!
//! # Example
//!
//! ```
//! use rand_chacha::ChaCha20Rng;
//! use rand_core::SeedableRng;
//! use vitalis_abe::{Ciphertext, Error, Policy, decrypt, encrypt, keygen, setup};
//!
//! // Seeded for the example; use an OS-seeded generator such as `rand::rng()` for real.
//! let mut rng = ChaCha20Rng::from_seed([7; 32]);
//! let (public_key, master_key) = setup(&mut rng);
//!
//! // Seal a record's data key under a policy; store the ciphertext's bytes with it.
//! let policy: Policy =
//!     "role:clinician AND (org:H1 OR org:H2) AND 2 of (dept:cardiology, dept:icu, cert:acls)"
//!         .parse()?;
//! let data_key = [42u8; 32];
//! let stored = encrypt(&public_key, &policy, &data_key, &mut rng).to_bytes();
//!
//! // A clinician of H2 in intensive care with ACLS certification may read it.
//! let clinician = keygen(
//!     &master_key,
//!     &["role:clinician", "org:H2", "dept:icu", "cert:acls"],
//!     &mut rng,
//! )?;
//! let ciphertext = Ciphertext::from_bytes(&stored)?;
//! assert_eq!(*decrypt(&clinician, &ciphertext)?, data_key);
//!
//! // A researcher with the same other attributes may not.
//! let researcher = keygen(
//!     &master_key,
//!     &["role:researcher", "org:H2", "dept:icu", "cert:acls"],
//!     &mut rng,
//! )?;
//! assert!(!researcher.can_decrypt(&ciphertext));
//! assert_eq!(decrypt(&researcher, &ciphertext), Err(Error::NotSatisfied));
//! # Ok::<(), Error>(())
//! ```

mod encoding;
mod error;
mod fame;
mod hash;
mod keys;
mod msp;
pub mod policy;
mod secret;
#[cfg(test)]
mod testing;
mod wrap;

pub use encoding::DecodeError;
pub use error::{Error, Result};
pub use fame::{decrypt, encrypt, keygen, setup};
pub use keys::{Ciphertext, MAX_KEY_ATTRIBUTES, MasterKey, PublicKey, SecretKey};
pub use policy::{ParseError, Policy, PolicyError, is_satisfiable, satisfies, validate_attribute};
pub use wrap::{DATA_KEY_LEN, DataKey};
