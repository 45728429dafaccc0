//! The hash function `H` of FAME into G1, instantiated with the random-oracle hash to
//! curve of RFC 9380 (suite `BLS12381G1_XMD:SHA-256_SSWU_RO_`, as implemented by blst).
//!
//! FAME hashes two families of inputs (Agrawal–Chase, CCS 2017, §4 / Figure 3):
//! `H(y ℓ t)` for an attribute `y` and `H(0 j ℓ t)` for a column `j` of the span
//! program, with `ℓ ∈ {1, 2, 3}` and `t ∈ {1, 2}`. Here `ℓ` and `t` count from 0 and the
//! paper's column `j` is our column `j − 1`. The two families are kept apart by a tag
//! byte, and `ℓ`, `t` have fixed width, so no attribute input can equal a column input
//! or another attribute's.
//!
//! The column hashes depend on nothing but `j`, `ℓ` and `t`: they are constants of the
//! scheme, so [`columns`] computes each once per process and keeps it, like a table of
//! multiples of a generator. That takes six hashes per column off every encryption after
//! the first that uses the column; the table is bounded by the largest policy encrypted
//! (at most [`MAX_POLICY_ATTRIBUTES`] columns, 576 bytes each).

use std::sync::{PoisonError, RwLock};

use blstrs::{G1Affine, G1Projective};
use group::Curve;

use crate::policy::MAX_POLICY_ATTRIBUTES;

/// The domain separation tag (RFC 9380 §3.1).
const DST: &[u8] = b"VITALIS-ABE-V01-CS01-with-BLS12381G1_XMD:SHA-256_SSWU_RO_";

/// `H(y ℓ t)`.
pub(crate) fn attribute(attribute: &str, l: usize, t: usize) -> G1Projective {
    let mut message = Vec::with_capacity(3 + attribute.len());
    message.extend_from_slice(&[b'A', l as u8, t as u8]);
    message.extend_from_slice(attribute.as_bytes());
    G1Projective::hash_to_curve(&message, DST, &[])
}

/// `H(0 j ℓ t)` for our column `j` (the paper's `j + 1`).
pub(crate) fn column(j: usize, l: usize, t: usize) -> G1Projective {
    let mut message = [0u8; 11];
    message[..3].copy_from_slice(&[b'C', l as u8, t as u8]);
    message[3..].copy_from_slice(&(j as u64).to_be_bytes());
    G1Projective::hash_to_curve(&message, DST, &[])
}

/// `H(y ℓ t)` for all `ℓ`, `t`, indexed `[ℓ][t]`.
pub(crate) fn attribute_all(attribute_name: &str) -> [[G1Projective; 2]; 3] {
    std::array::from_fn(|l| std::array::from_fn(|t| attribute(attribute_name, l, t)))
}

/// `H(0 j ℓ t)` for all `ℓ`, `t`, indexed `[ℓ][t]`.
pub(crate) fn column_all(j: usize) -> [[G1Projective; 2]; 3] {
    std::array::from_fn(|l| std::array::from_fn(|t| column(j, l, t)))
}

/// The column hashes computed so far: entry `j` is `H(0 j ℓ t)` indexed `[ℓ][t]`.
static COLUMNS: RwLock<Vec<[[G1Affine; 2]; 3]>> = RwLock::new(Vec::new());

/// `H(0 j ℓ t)` for the columns `j < n`, indexed `[j][ℓ][t]`, from the table.
pub(crate) fn columns(n: usize) -> Vec<[[G1Affine; 2]; 3]> {
    debug_assert!(
        n <= MAX_POLICY_ATTRIBUTES,
        "a span program has at most one column per attribute"
    );
    // The table is only ever extended with correct values, so a panic elsewhere while it
    // was locked leaves nothing wrong in it.
    {
        let table = COLUMNS.read().unwrap_or_else(PoisonError::into_inner);
        if table.len() >= n {
            return table[..n].to_vec();
        }
    }
    let mut table = COLUMNS.write().unwrap_or_else(PoisonError::into_inner);
    while table.len() < n {
        let hashes = column_all(table.len());
        let mut affine = [[G1Affine::default(); 2]; 3];
        for (out, point) in affine.iter_mut().flatten().zip(hashes.iter().flatten()) {
            *out = point.to_affine();
        }
        table.push(affine);
    }
    table[..n].to_vec()
}
