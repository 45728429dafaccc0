//! The Merkle tree against the RFC 6962 known answers used by Certificate Transparency
//! implementations, and against a naive recursive implementation of RFC 6962 §2.1 written
//! here straight from the RFC's definitions (MTH and PATH), independent of the crate.

use proptest::prelude::*;
use sha2::{Digest, Sha256};
use vitalis_crypto::merkle::{InclusionProof, MerkleError, MerkleTree, empty_root, leaf_hash};

/// The leaves of the Certificate Transparency reference tree.
const CT_LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// Roots of the first 1..=8 CT leaves.
const CT_ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// CT inclusion proofs: (leaf index from 0, tree size, audit path).
const CT_PROOFS: [(usize, usize, &[&str]); 4] = [
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

fn h(text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).unwrap();
    out
}

fn ct_leaves() -> Vec<Vec<u8>> {
    CT_LEAVES.iter().map(|l| hex::decode(l).unwrap()).collect()
}

// ── Naive RFC 6962 §2.1, from the definitions ───────────────────────────────

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// The largest power of two smaller than `n` (n > 1).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// MTH(D[n]).
fn naive_root<T: AsRef<[u8]>>(leaves: &[T]) -> [u8; 32] {
    match leaves {
        [] => sha256(&[]),
        [leaf] => sha256(&[&[0x00], leaf.as_ref()]),
        _ => {
            let k = split(leaves.len());
            let (left, right) = (naive_root(&leaves[..k]), naive_root(&leaves[k..]));
            sha256(&[&[0x01], &left, &right])
        }
    }
}

/// PATH(m, D[n]).
fn naive_path<T: AsRef<[u8]>>(m: usize, leaves: &[T]) -> Vec<[u8; 32]> {
    if leaves.len() <= 1 {
        return Vec::new();
    }
    let k = split(leaves.len());
    let (mut path, sibling) = if m < k {
        (naive_path(m, &leaves[..k]), naive_root(&leaves[k..]))
    } else {
        (naive_path(m - k, &leaves[k..]), naive_root(&leaves[..k]))
    };
    path.push(sibling);
    path
}

fn flip(bytes: &mut [u8; 32], bit: usize) {
    bytes[bit / 8 % 32] ^= 1 << (bit % 8);
}

// ── Known answers ───────────────────────────────────────────────────────────

#[test]
fn empty_tree_root_is_sha256_of_nothing() {
    let expected = h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_eq!(empty_root(), expected);
    let tree = MerkleTree::from_leaves(&[]);
    assert!(tree.is_empty());
    assert_eq!(tree.root(), expected);
    assert_eq!(naive_root::<&[u8]>(&[]), expected);
    assert_eq!(
        tree.proof(0),
        Err(MerkleError::IndexOutOfRange { index: 0, size: 0 })
    );
}

#[test]
fn roots_match_the_certificate_transparency_vectors() {
    let leaves = ct_leaves();
    for (n, expected) in (1..=8).zip(CT_ROOTS) {
        let tree = MerkleTree::from_leaf_data(&leaves[..n]);
        assert_eq!(tree.len(), n);
        assert_eq!(hex::encode(tree.root()), expected, "size {n}");
        assert_eq!(
            hex::encode(naive_root(&leaves[..n])),
            expected,
            "naive, size {n}"
        );
    }
}

#[test]
fn proofs_match_the_certificate_transparency_vectors() {
    let leaves = ct_leaves();
    for (index, size, path) in CT_PROOFS {
        let tree = MerkleTree::from_leaf_data(&leaves[..size]);
        let proof = tree.proof(index).unwrap();
        let expected: Vec<[u8; 32]> = path.iter().map(|p| h(p)).collect();
        assert_eq!(proof.path(), expected, "leaf {index} of {size}");
        assert_eq!(naive_path(index, &leaves[..size]), expected);
        let root = h(CT_ROOTS[size - 1]);
        assert_eq!(
            proof.verify_leaf_hash(&leaf_hash(&leaves[index]), &root),
            Ok(())
        );
        let other_root = h(CT_ROOTS[0]);
        assert_eq!(
            proof.verify_leaf_hash(&leaf_hash(&leaves[index]), &other_root),
            Err(MerkleError::RootMismatch)
        );
    }
}

#[test]
fn commitments_are_hashed_as_leaves() {
    let commitments = [[1u8; 32], [2; 32], [3; 32]];
    let tree = MerkleTree::from_leaves(&commitments);
    assert_eq!(tree.root(), naive_root(&commitments));
    assert_eq!(tree.leaf_hash(1), Some(leaf_hash(&[2; 32])));
    assert_eq!(tree.leaf_hash(3), None);
    assert_eq!(
        tree.proof(2).unwrap().verify(&[3; 32], &tree.root()),
        Ok(())
    );
}

#[test]
fn a_large_tree_agrees_with_the_naive_root() {
    // Not a power of two, so lone nodes are carried at several levels.
    let leaves: Vec<[u8; 32]> = (0u32..100_003)
        .map(|i| sha256(&[&i.to_be_bytes()]))
        .collect();
    let tree = MerkleTree::from_leaves(&leaves);
    let root = tree.root();
    assert_eq!(root, naive_root(&leaves));
    for index in [0, 1, 65_535, 65_536, 99_999, 100_000, 100_002] {
        let proof = tree.proof(index).unwrap();
        assert_eq!(proof.verify(&leaves[index], &root), Ok(()), "leaf {index}");
    }
}

// ── Verification rejects what it must ───────────────────────────────────────

#[test]
fn verify_rejects_an_index_outside_the_tree() {
    let leaves = [[7u8; 32]; 5];
    let tree = MerkleTree::from_leaves(&leaves);
    let path = tree.proof(4).unwrap().path().to_vec();
    for (index, size) in [(5, 5), (6, 5), (0, 0), (u64::MAX, 5)] {
        let proof = InclusionProof::new(index, size, path.clone());
        assert_eq!(
            proof.verify(&leaves[0], &tree.root()),
            Err(MerkleError::IndexOutOfRange { index, size })
        );
    }
}

#[test]
fn verify_rejects_a_path_of_the_wrong_length() {
    let leaves: Vec<[u8; 32]> = (0u8..6).map(|i| [i; 32]).collect();
    let tree = MerkleTree::from_leaves(&leaves);
    let root = tree.root();
    let good = tree.proof(2).unwrap();
    assert_eq!(good.path().len(), 3);

    let mut long = good.path().to_vec();
    long.push([0; 32]);
    let mut short = good.path().to_vec();
    short.pop();
    for (path, found) in [(long, 4), (short, 2), (Vec::new(), 0)] {
        let proof = InclusionProof::new(2, 6, path);
        assert_eq!(
            proof.verify(&leaves[2], &root),
            Err(MerkleError::PathLength { expected: 3, found })
        );
    }
}

#[test]
fn proof_bytes_reject_malformed_input() {
    let leaves: Vec<[u8; 32]> = (0u8..6).map(|i| [i; 32]).collect();
    let tree = MerkleTree::from_leaves(&leaves);
    let bytes = tree.proof(2).unwrap().to_bytes();
    assert_eq!(bytes.len(), 16 + 3 * 32);
    assert_eq!(
        &bytes[..16],
        &[0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 6]
    );

    assert_eq!(
        InclusionProof::from_bytes(&bytes[..15]),
        Err(MerkleError::Truncated { len: 15 })
    );
    assert_eq!(
        InclusionProof::from_bytes(&bytes[..bytes.len() - 1]),
        Err(MerkleError::RaggedPath { len: 95 })
    );
    assert_eq!(
        InclusionProof::from_bytes(&bytes[..bytes.len() - 32]),
        Err(MerkleError::PathLength {
            expected: 3,
            found: 2
        })
    );
    let mut out_of_range = bytes.clone();
    out_of_range[7] = 6;
    assert_eq!(
        InclusionProof::from_bytes(&out_of_range),
        Err(MerkleError::IndexOutOfRange { index: 6, size: 6 })
    );
    assert_eq!(
        InclusionProof::from_bytes(&[0; 16]),
        Err(MerkleError::IndexOutOfRange { index: 0, size: 0 })
    );
    // A one-leaf tree's proof is the empty path.
    let single = InclusionProof::from_bytes(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(single.unwrap().path(), &[] as &[[u8; 32]]);
}

// ── Properties ──────────────────────────────────────────────────────────────

fn leaves_strategy() -> impl Strategy<Value = Vec<[u8; 32]>> {
    prop::collection::vec(any::<[u8; 32]>(), 1..300)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_proof_of_every_leaf_verifies(leaves in leaves_strategy()) {
        let tree = MerkleTree::from_leaves(&leaves);
        let root = tree.root();
        prop_assert_eq!(root, naive_root(&leaves));
        for (index, leaf) in leaves.iter().enumerate() {
            let proof = tree.proof(index).unwrap();
            prop_assert_eq!(proof.leaf_index(), index as u64);
            prop_assert_eq!(proof.tree_size(), leaves.len() as u64);
            prop_assert_eq!(proof.path().to_vec(), naive_path(index, &leaves));
            prop_assert_eq!(proof.verify(leaf, &root), Ok(()));
            let decoded = InclusionProof::from_bytes(&proof.to_bytes()).unwrap();
            prop_assert_eq!(&decoded, &proof);
        }
        prop_assert_eq!(
            tree.proof(leaves.len()),
            Err(MerkleError::IndexOutOfRange { index: leaves.len() as u64, size: leaves.len() as u64 })
        );
    }

    #[test]
    fn a_flipped_bit_anywhere_fails(
        leaves in leaves_strategy(),
        pick in any::<prop::sample::Index>(),
        bit in 0usize..256,
        index_bit in 0u32..64,
    ) {
        let tree = MerkleTree::from_leaves(&leaves);
        let root = tree.root();
        let index = pick.index(leaves.len());
        let proof = tree.proof(index).unwrap();

        let mut leaf = leaves[index];
        flip(&mut leaf, bit);
        prop_assert_eq!(proof.verify(&leaf, &root), Err(MerkleError::RootMismatch));

        let mut bad_root = root;
        flip(&mut bad_root, bit);
        prop_assert_eq!(proof.verify(&leaves[index], &bad_root), Err(MerkleError::RootMismatch));

        for element in 0..proof.path().len() {
            let mut path = proof.path().to_vec();
            flip(&mut path[element], bit);
            let bad = InclusionProof::new(proof.leaf_index(), proof.tree_size(), path);
            prop_assert_eq!(bad.verify(&leaves[index], &root), Err(MerkleError::RootMismatch));
        }

        let other_index = proof.leaf_index() ^ (1 << index_bit);
        let moved = InclusionProof::new(other_index, proof.tree_size(), proof.path().to_vec());
        prop_assert!(moved.verify(&leaves[index], &root).is_err());
    }

    #[test]
    fn proof_parsing_never_panics_and_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(proof) = InclusionProof::from_bytes(&bytes) {
            prop_assert_eq!(proof.to_bytes(), bytes);
        }
    }

    #[test]
    fn parsing_accepts_exactly_the_shapes_a_tree_makes(
        index in 0u64..12,
        size in 0u64..12,
        hashes in 0usize..6,
    ) {
        let mut bytes = [index.to_be_bytes(), size.to_be_bytes()].concat();
        bytes.resize(16 + 32 * hashes, 0xab);
        let parsed = InclusionProof::from_bytes(&bytes);
        let shape = (index < size).then(|| {
            let leaves = vec![[0u8; 32]; size as usize];
            MerkleTree::from_leaves(&leaves).proof(index as usize).unwrap().path().len()
        });
        prop_assert_eq!(parsed.is_ok(), shape == Some(hashes), "{:?}", parsed);
    }
}
