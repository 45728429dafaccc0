//! Byte and hex encodings of chameleon keys, digests and randomness: what they accept,
//! what they reject (with an error, never a panic), and a pinned opening that fails if
//! the hash's format ever changes under stored commitments.

use curve25519_dalek::constants::RISTRETTO_BASEPOINT_COMPRESSED;
use curve25519_dalek::scalar::Scalar;
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use vitalis_crypto::chameleon::{
    self, ChameleonDigest, ChameleonError, ChameleonPublicKey, ChameleonTrapdoor, Randomness,
};

/// ℓ = 2²⁵² + 27742317777372353535851937790883648493, little-endian: the group order,
/// the smallest non-canonical scalar.
const GROUP_ORDER: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// Point encodings RFC 9496 §4.3.1 rejects, by construction: p = 2²⁵⁵ − 19 (not reduced),
/// all ones (not reduced, top bit set), and 1 (odd, i.e. "negative").
fn invalid_point_encodings() -> [[u8; 32]; 3] {
    let mut p = [0xff; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    let mut one = [0; 32];
    one[0] = 1;
    [p, [0xff; 32], one]
}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::from_seed([42; 32])
}

#[test]
fn the_group_order_constant_is_the_group_order() {
    assert_eq!(Scalar::from_bytes_mod_order(GROUP_ORDER), Scalar::ZERO);
    assert_eq!(
        Scalar::from_bytes_mod_order(GROUP_ORDER) - Scalar::ONE,
        -Scalar::ONE
    );
}

#[test]
fn public_keys_reject_invalid_points_and_the_identity() {
    for bytes in invalid_point_encodings() {
        assert_eq!(
            ChameleonPublicKey::from_bytes(bytes),
            Err(ChameleonError::InvalidPublicKey)
        );
    }
    assert_eq!(
        ChameleonPublicKey::from_bytes([0; 32]),
        Err(ChameleonError::InvalidPublicKey)
    );
    let generator = ChameleonPublicKey::from_bytes(RISTRETTO_BASEPOINT_COMPRESSED.to_bytes());
    assert_eq!(
        generator.unwrap().to_bytes(),
        RISTRETTO_BASEPOINT_COMPRESSED.to_bytes()
    );
}

#[test]
fn public_keys_round_trip_through_hex() {
    let pk = ChameleonTrapdoor::generate(&mut rng()).public_key();
    assert_eq!(ChameleonPublicKey::from_hex(&pk.to_hex()), Ok(pk));
    assert_eq!(pk.to_string(), pk.to_hex());
    assert_eq!(
        ChameleonPublicKey::from_hex("abcd"),
        Err(ChameleonError::InvalidHex { expected: 64 })
    );
}

#[test]
fn trapdoors_reject_zero_and_unreduced_scalars() {
    let mut above = GROUP_ORDER;
    above[0] += 1;
    for bytes in [[0; 32], GROUP_ORDER, above, [0xff; 32]] {
        assert_eq!(
            ChameleonTrapdoor::from_bytes(bytes).map(|t| t.public_key()),
            Err(ChameleonError::InvalidTrapdoor)
        );
    }
    let trapdoor = ChameleonTrapdoor::generate(&mut rng());
    let again = ChameleonTrapdoor::from_bytes(*trapdoor.to_bytes()).unwrap();
    assert_eq!(again.public_key(), trapdoor.public_key());
}

#[test]
fn trapdoor_debug_shows_only_the_public_key() {
    let trapdoor = ChameleonTrapdoor::generate(&mut rng());
    let shown = format!("{trapdoor:?} {trapdoor:#?}");
    assert!(!shown.contains(&hex::encode(*trapdoor.to_bytes())));
    assert!(shown.contains(&trapdoor.public_key().to_hex()));
}

#[test]
fn digests_reject_invalid_points() {
    for bytes in invalid_point_encodings() {
        assert_eq!(
            ChameleonDigest::from_bytes(bytes),
            Err(ChameleonError::InvalidDigest)
        );
    }
    let pk = ChameleonTrapdoor::generate(&mut rng()).public_key();
    let (digest, _) = chameleon::hash(&pk, b"m", &mut rng());
    assert_eq!(ChameleonDigest::from_hex(&digest.to_hex()), Ok(digest));
    assert_eq!(digest.as_bytes(), &digest.to_bytes());
}

#[test]
fn randomness_rejects_invalid_points_and_unreduced_scalars() {
    let pk = ChameleonTrapdoor::generate(&mut rng()).public_key();
    let (_, randomness) = chameleon::hash(&pk, b"m", &mut rng());
    let good = randomness.to_bytes();
    assert_eq!(Randomness::from_bytes(&good), Ok(randomness));
    assert_eq!(Randomness::from_hex(&randomness.to_hex()), Ok(randomness));
    assert_eq!(good[..32], randomness.r_point());
    assert_eq!(good[32..], randomness.s());

    for point in invalid_point_encodings() {
        let mut bytes = good;
        bytes[..32].copy_from_slice(&point);
        assert_eq!(
            Randomness::from_bytes(&bytes),
            Err(ChameleonError::InvalidRandomnessPoint)
        );
    }
    let mut bytes = good;
    bytes[32..].copy_from_slice(&GROUP_ORDER);
    assert_eq!(
        Randomness::from_bytes(&bytes),
        Err(ChameleonError::InvalidRandomnessScalar)
    );
    assert_eq!(
        Randomness::from_hex(&"00".repeat(63)),
        Err(ChameleonError::InvalidHex { expected: 128 })
    );
}

/// A fixed opening and correction, produced once by this implementation. Stored
/// commitments depend on the exact format (domain string, byte order, hash to scalar);
/// this fails if any of it changes.
#[test]
fn a_pinned_opening_still_checks() {
    let trapdoor = ChameleonTrapdoor::from_bytes([7; 32]).unwrap();
    assert_eq!(trapdoor.public_key().to_hex(), PINNED_PUBLIC_KEY);
    let pk = ChameleonPublicKey::from_hex(PINNED_PUBLIC_KEY).unwrap();
    let digest = ChameleonDigest::from_hex(PINNED_DIGEST).unwrap();
    let randomness = Randomness::from_hex(PINNED_RANDOMNESS).unwrap();
    let corrected = Randomness::from_hex(PINNED_CORRECTED).unwrap();
    assert!(chameleon::check(&pk, b"vitalis", &randomness, &digest));
    assert!(chameleon::check(&pk, b"corrected", &corrected, &digest));
    assert!(!chameleon::check(&pk, b"corrected", &randomness, &digest));
}

const PINNED_PUBLIC_KEY: &str = "aaf82404e5f7bfa7352ce093e4aabe82435385d64aa870090a56d1aa36169800";
const PINNED_DIGEST: &str = "24429166de95bb1226756b4d9ad42371896362b8a9eda7e7769f18261c72f34e";
const PINNED_RANDOMNESS: &str = "6485b801964727aed4d96b0c9d3ba88c3d5c66abce8f005e3798206bb876d47e\
                                 09169132d1c9e6ad73fa65c3ede9df2a411eae91c1561cb825d9119d27ad7407";
const PINNED_CORRECTED: &str = "ba0c551ec487958db148db35f65b9836d4828237e47e58e3450a0ec1b1639844\
                                7dc416251abfacd64932fd6cb0c22185d0358ab0b76cb84303d0f10036697c04";

proptest! {
    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in any::<[u8; 32]>(), wide in prop::collection::vec(any::<u8>(), 64)) {
        let _ = ChameleonPublicKey::from_bytes(bytes);
        let _ = ChameleonDigest::from_bytes(bytes);
        let _ = ChameleonTrapdoor::from_bytes(bytes).map(|t| t.public_key());
        let wide: [u8; 64] = wide.try_into().unwrap();
        if let Ok(randomness) = Randomness::from_bytes(&wide) {
            prop_assert_eq!(randomness.to_bytes(), wide);
        }
    }
}
