//! Vitalis cryptographic schemes, built on maintained primitives (curve25519-dalek's
//! ristretto255, RustCrypto's SHA-2). Pure: no I/O, no async, no clock; randomness is
//! passed in.
//!
//! - [`chameleon`]: the key-exposure-free chameleon hash of Ateniese and de Medeiros
//!   (SCN 2004), as used for redactable blockchains by Ateniese, Magri, Venturi and
//!   Andrade (IEEE EuroS&P 2017). Anyone can hash a message and check a digest; only the
//!   holder of the trapdoor (the supervisor) can find randomness that opens the same
//!   digest to a different message, and such published collisions do not reveal the
//!   trapdoor. A record commitment built on a chameleon digest therefore survives the
//!   correction of its payload.
//! - [`merkle`]: the Merkle Hash Tree of RFC 6962 §2.1 over an interval's record
//!   commitments, with inclusion proofs verified as RFC 9162 §2.1.3.2 prescribes. Only
//!   the root goes on chain; each record keeps its proof.
//! - [`seal`]: Argon2id password hashes, and small secrets (an account's signing key)
//!   sealed with XChaCha20-Poly1305 under a password-derived key or a recovery key.
//! - [`envelope`]: protected records encrypted under per-record data keys
//!   (XChaCha20-Poly1305, the record header as associated data), the keys wrapped for the
//!   patient with HPKE (RFC 9180, X25519) or under another key.
//!
//! A correction, end to end:
//!
//! ```
//! use rand_chacha::ChaCha20Rng;
//! use rand_core::SeedableRng;
//! use sha2::{Digest, Sha256};
//! use vitalis_crypto::chameleon::{self, ChameleonTrapdoor};
//! use vitalis_crypto::merkle::MerkleTree;
//!
//! // Seeded for the example; use an OS-seeded generator such as `rand::rng()` for real.
//! let mut rng = ChaCha20Rng::from_seed([7; 32]);
//! let supervisor = ChameleonTrapdoor::generate(&mut rng);
//! let public_key = supervisor.public_key();
//!
//! // Commit to a record's payload digest, and anchor the commitment in an interval's tree.
//! let payload: [u8; 32] = Sha256::digest(br#"[{"m":"heart_rate","t":1,"v":300}]"#).into();
//! let (digest, randomness) = chameleon::hash(&public_key, &payload, &mut rng);
//! assert!(chameleon::check(&public_key, &payload, &randomness, &digest));
//! let tree = MerkleTree::from_leaves(&[[1; 32], digest.to_bytes(), [3; 32]]);
//! let root = tree.root();
//! let proof = tree.proof(1).unwrap();
//!
//! // The supervisor corrects the payload: new randomness, same digest.
//! let corrected: [u8; 32] = Sha256::digest(br#"[{"m":"heart_rate","t":1,"v":60}]"#).into();
//! let new_randomness = chameleon::adapt(&supervisor, &digest, &corrected, &mut rng);
//! assert!(chameleon::check(&public_key, &corrected, &new_randomness, &digest));
//! assert!(!chameleon::check(&public_key, &corrected, &randomness, &digest));
//!
//! // The anchored root and the record's proof are untouched.
//! assert_eq!(proof.verify(&digest.to_bytes(), &root), Ok(()));
//! let proof = vitalis_crypto::merkle::InclusionProof::from_bytes(&proof.to_bytes()).unwrap();
//! assert_eq!(proof.verify(&digest.to_bytes(), &root), Ok(()));
//! ```

pub mod chameleon;
pub mod envelope;
pub mod merkle;
pub mod seal;
