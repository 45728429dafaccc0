//! Merkle tree over the record commitments of one anchoring interval, and inclusion
//! proofs (DESIGN.md §2, "Anchor").
//!
//! The tree is the Merkle Hash Tree of RFC 6962 §2.1 with SHA-256 (the same definition is
//! RFC 9162 §2.1.1): for an ordered list of n inputs D\[n\],
//!
//! - MTH({}) = SHA-256() (the empty string);
//! - MTH({d₀}) = SHA-256(0x00 ‖ d₀) (the leaf hash);
//! - for n > 1, with k the largest power of two smaller than n,
//!   MTH(D\[n\]) = SHA-256(0x01 ‖ MTH(D\[0:k\]) ‖ MTH(D\[k:n\])).
//!
//! The 0x00 / 0x01 prefixes keep a leaf from being passed off as an interior node.
//! Vitalis's leaves are 32-byte record commitments ([`MerkleTree::from_leaves`]); any byte
//! strings can be leaves ([`MerkleTree::from_leaf_data`]), which is how the known-answer
//! vectors of Certificate Transparency are tested.
//!
//! [`MerkleTree`] keeps every level, so it is built in O(n) time and memory (at most 2n
//! hashes) and a proof is read off the stored levels in O(log n). Building level by level,
//! pairing neighbours and carrying a lone last node up unchanged, gives exactly the
//! recursive MTH: the split at the largest power of two is what leaves a lone node at
//! the right edge. An [`InclusionProof`] is the audit path of RFC 6962 §2.1.1, and
//! [`InclusionProof::verify`] is the verification algorithm of RFC 9162 §2.1.3.2.

use sha2::{Digest, Sha256};

/// Prefix of a leaf hash.
const LEAF_PREFIX: u8 = 0x00;
/// Prefix of an interior node hash.
const NODE_PREFIX: u8 = 0x01;
/// Bytes before the path in [`InclusionProof::to_bytes`]: index and size, u64 each.
const PROOF_HEADER_LEN: usize = 16;

/// Why a proof does not verify, a proof cannot be made, or bytes are not a proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The audit path has the wrong number of hashes for its index and tree size.
    #[error("audit path has {found} hashes, a proof of this leaf in this tree has {expected}")]
    PathLength {
        /// The length the index and tree size call for.
        expected: usize,
        /// The length of the path given.
        found: usize,
    },
    /// The path does not lead from this leaf to this root: the leaf, a path element, the
    /// index or the root is wrong.
    #[error("the audit path does not lead from the leaf to the root")]
    RootMismatch,
    /// Serialized proof shorter than its 16-byte header.
    #[error("proof is {len} bytes, shorter than its 16-byte header")]
    Truncated {
        /// The length given.
        len: usize,
    },
    /// Serialized proof whose path is not a whole number of 32-byte hashes.
    #[error("proof path is {len} bytes, not a multiple of 32")]
    RaggedPath {
        /// The length of the path part.
        len: usize,
    },
}

/// SHA-256(0x00 ‖ data): the hash of one leaf.
pub fn leaf_hash(data: &[u8]) -> [u8; 32] {
    Sha256::new()
        .chain_update([LEAF_PREFIX])
        .chain_update(data)
        .finalize()
        .into()
}

/// SHA-256(0x01 ‖ left ‖ right): the hash of an interior node.
pub fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    Sha256::new()
        .chain_update([NODE_PREFIX])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// SHA-256 of the empty string: the root of a tree without leaves.
pub fn empty_root() -> [u8; 32] {
    Sha256::digest([]).into()
}

/// A Merkle tree with all its levels kept, so that proofs are cheap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerkleTree {
    /// `levels[0]` holds the leaf hashes, each next level the parents of the one before
    /// (a lone last node is carried up unchanged); the last level holds the root. A tree
    /// without leaves has one empty level.
    levels: Vec<Vec<[u8; 32]>>,
}

impl MerkleTree {
    /// The tree over record commitments, in order; each is hashed as a leaf.
    pub fn from_leaves(leaves: &[[u8; 32]]) -> MerkleTree {
        MerkleTree::from_leaf_data(leaves)
    }

    /// The tree over arbitrary leaf byte strings, in order; each is hashed as a leaf.
    pub fn from_leaf_data<T: AsRef<[u8]>>(leaves: &[T]) -> MerkleTree {
        MerkleTree::from_leaf_hashes(leaves.iter().map(|l| leaf_hash(l.as_ref())).collect())
    }

    /// The tree over leaf hashes already computed with [`leaf_hash`].
    pub fn from_leaf_hashes(leaf_hashes: Vec<[u8; 32]>) -> MerkleTree {
        let mut levels = vec![leaf_hashes];
        while let Some(below) = levels.last().filter(|level| level.len() > 1) {
            let above: Vec<[u8; 32]> = below
                .chunks(2)
                .map(|pair| match pair {
                    [left, right] => node_hash(left, right),
                    [lone] => *lone,
                    _ => unreachable!("chunks(2) yields one or two hashes"),
                })
                .collect();
            levels.push(above);
        }
        MerkleTree { levels }
    }

    /// The number of leaves.
    pub fn len(&self) -> usize {
        self.levels[0].len()
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The root (Merkle Tree Hash); [`empty_root`] for a tree without leaves.
    pub fn root(&self) -> [u8; 32] {
        self.levels
            .last()
            .and_then(|top| top.first())
            .copied()
            .unwrap_or_else(empty_root)
    }

    /// The hash of leaf `index`.
    pub fn leaf_hash(&self, index: usize) -> Option<[u8; 32]> {
        self.levels[0].get(index).copied()
    }

    /// The inclusion proof of leaf `index`.
    pub fn proof(&self, index: usize) -> Result<InclusionProof, MerkleError> {
        if index >= self.len() {
            return Err(MerkleError::IndexOutOfRange {
                index: index as u64,
                size: self.len() as u64,
            });
        }
        let mut path = Vec::with_capacity(self.levels.len() - 1);
        let mut position = index;
        // Bottom up: the sibling at each level, where there is one.
        for level in &self.levels[..self.levels.len() - 1] {
            if let Some(sibling) = level.get(position ^ 1) {
                path.push(*sibling);
            }
            position /= 2;
        }
        Ok(InclusionProof {
            leaf_index: index as u64,
            tree_size: self.len() as u64,
            path,
        })
    }
}

/// Proof that a leaf is at `leaf_index` in a tree of `tree_size` leaves: the audit path,
/// sibling hashes from the leaf up to the root (RFC 6962 §2.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    leaf_index: u64,
    tree_size: u64,
    path: Vec<[u8; 32]>,
}

impl InclusionProof {
    /// A proof from its parts, as received; nothing is checked until [`InclusionProof::verify`].
    pub fn new(leaf_index: u64, tree_size: u64, path: Vec<[u8; 32]>) -> InclusionProof {
        InclusionProof {
            leaf_index,
            tree_size,
            path,
        }
    }

    /// The index of the leaf, from 0.
    pub fn leaf_index(&self) -> u64 {
        self.leaf_index
    }

    /// The number of leaves in the tree.
    pub fn tree_size(&self) -> u64 {
        self.tree_size
    }

    /// The audit path, from the leaf's sibling up.
    pub fn path(&self) -> &[[u8; 32]] {
        &self.path
    }

    /// Checks that the 32-byte `leaf` (a record commitment, hashed here as a leaf) is
    /// included under `root`.
    pub fn verify(&self, leaf: &[u8; 32], root: &[u8; 32]) -> Result<(), MerkleError> {
        self.verify_leaf_hash(&leaf_hash(leaf), root)
    }

    /// Checks that the leaf whose [`leaf_hash`] is `leaf_hash` is included under `root`,
    /// following RFC 9162 §2.1.3.2 step by step.
    pub fn verify_leaf_hash(
        &self,
        leaf_hash: &[u8; 32],
        root: &[u8; 32],
    ) -> Result<(), MerkleError> {
        let wrong_length = || MerkleError::PathLength {
            expected: audit_path_len(self.leaf_index, self.tree_size),
            found: self.path.len(),
        };
        // 1. leaf_index must be below tree_size.
        if self.leaf_index >= self.tree_size {
            return Err(MerkleError::IndexOutOfRange {
                index: self.leaf_index,
                size: self.tree_size,
            });
        }
        // 2.–3.
        let mut f_n = self.leaf_index;
        let mut s_n = self.tree_size - 1;
        let mut r = *leaf_hash;
        // 4.
        for p in &self.path {
            // 4a. The path is longer than the tree is high.
            if s_n == 0 {
                return Err(wrong_length());
            }
            if f_n & 1 == 1 || f_n == s_n {
                // 4b. The sibling is on the left.
                r = node_hash(p, &r);
                if f_n & 1 == 0 {
                    // The node is the last of its level: skip the levels where it has no
                    // sibling.
                    while f_n & 1 == 0 && f_n != 0 {
                        f_n >>= 1;
                        s_n >>= 1;
                    }
                }
            } else {
                // The sibling is on the right.
                r = node_hash(&r, p);
            }
            // 4c.
            f_n >>= 1;
            s_n >>= 1;
        }
        // 5. The path must reach the top, and the hash must be the root.
        if s_n != 0 {
            return Err(wrong_length());
        }
        if &r != root {
            return Err(MerkleError::RootMismatch);
        }
        Ok(())
    }

    /// `leaf_index (u64 big-endian) ‖ tree_size (u64 big-endian) ‖ path (32 bytes each)`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PROOF_HEADER_LEN + 32 * self.path.len());
        out.extend_from_slice(&self.leaf_index.to_be_bytes());
        out.extend_from_slice(&self.tree_size.to_be_bytes());
        for hash in &self.path {
            out.extend_from_slice(hash);
        }
        out
    }

    /// Parses [`InclusionProof::to_bytes`]'s output, rejecting a short header, a path that
    /// is not whole hashes, an index outside the tree, and a path of the wrong length for
    /// its index and tree size.
    pub fn from_bytes(bytes: &[u8]) -> Result<InclusionProof, MerkleError> {
        let Some((header, path_bytes)) = bytes.split_first_chunk::<PROOF_HEADER_LEN>() else {
            return Err(MerkleError::Truncated { len: bytes.len() });
        };
        let (mut index, mut size) = ([0u8; 8], [0u8; 8]);
        index.copy_from_slice(&header[..8]);
        size.copy_from_slice(&header[8..]);
        let (leaf_index, tree_size) = (u64::from_be_bytes(index), u64::from_be_bytes(size));
        if leaf_index >= tree_size {
            return Err(MerkleError::IndexOutOfRange {
                index: leaf_index,
                size: tree_size,
            });
        }
        let (hashes, ragged) = path_bytes.as_chunks::<32>();
        if !ragged.is_empty() {
            return Err(MerkleError::RaggedPath {
                len: path_bytes.len(),
            });
        }
        let expected = audit_path_len(leaf_index, tree_size);
        if hashes.len() != expected {
            return Err(MerkleError::PathLength {
                expected,
                found: hashes.len(),
            });
        }
        Ok(InclusionProof::new(leaf_index, tree_size, hashes.to_vec()))
    }
}

/// The length of the audit path of leaf `index` in a tree of `size` leaves: one hash per
/// level at which the node on the way up has a sibling (0 if `index` is not in the tree).
fn audit_path_len(index: u64, size: u64) -> usize {
    if index >= size {
        return 0;
    }
    let (mut position, mut width, mut len) = (index, size, 0);
    while width > 1 {
        if position ^ 1 < width {
            len += 1;
        }
        position /= 2;
        width = width.div_ceil(2);
    }
    len
}
