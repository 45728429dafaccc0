//! The crate's error type.

use crate::encoding::DecodeError;
use crate::keys::MAX_KEY_ATTRIBUTES;
use crate::policy::{ParseError, PolicyError};

/// Why key generation, decryption, parsing or decoding failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A key attribute that is not a valid attribute name.
    #[error("invalid attribute: {0}")]
    InvalidAttribute(PolicyError),
    /// A key with no attributes, or more than [`MAX_KEY_ATTRIBUTES`].
    #[error("a key needs 1 to {MAX_KEY_ATTRIBUTES} distinct attributes, not {0}")]
    AttributeCount(usize),
    /// The key's attributes do not satisfy the ciphertext's policy.
    #[error("the key's attributes do not satisfy the ciphertext's policy")]
    NotSatisfied,
    /// The ciphertext was altered, or the key was issued by another authority.
    #[error("decryption failed: the ciphertext was altered or the key is from another authority")]
    DecryptionFailed,
    /// A policy text that does not parse.
    #[error("policy: {0}")]
    Policy(#[from] ParseError),
    /// Bytes that are not a key or ciphertext.
    #[error("decode: {0}")]
    Decode(#[from] DecodeError),
}

/// The result of this crate's fallible operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
