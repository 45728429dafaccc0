//! Properties of the chameleon hash, and an experiment on key exposure.
//!
//! The properties (hash then check; check rejects other messages, altered randomness and
//! other keys; adapt finds collisions only with the right trapdoor) are tested on random
//! keys, messages and seeds.
//!
//! The key-exposure experiment runs one attacker against two schemes. The attacker sees
//! two openings of one digest (as everyone will, once a record has been corrected),
//! takes the scalars each opening exposes, and solves every linear equation
//! `A₁ + x·B₁ = A₂ + x·B₂` whose sides A and B are ±1-combinations of those scalars,
//! keeping a candidate x if x·G equals the public key. Against the classic
//! Krawczyk–Rabin hash (CH = m·G + r·Y), implemented here only as a baseline, the attacker
//! recovers the trapdoor, which shows the experiment can fail. Against our scheme it does
//! not: the relation `R₁ − e₁·Y − s₁·G = R₂ − e₂·Y − s₂·G` involves the discrete
//! logarithms of R₁ and R₂, which are never published, so the equation has two unknowns
//! more than the attacker can eliminate. A control shows the other side of that coin:
//! whoever learns the nonce k′ of an adaptation learns x, so adapt's randomness must be as
//! good as the trapdoor.
//!
//! What this does not prove: that no other attack exists. It rules out the algebraic
//! extraction that breaks Krawczyk–Rabin and its simple variants, nothing more. The
//! security argument is the proof of Ateniese and de Medeiros (SCN 2004) under the
//! discrete-logarithm assumption in the random-oracle model. This test guards the
//! implementation against mistakes that would void that proof: with a fixed nonce k′ in
//! adapt, for one, two corrections satisfy `s′₁ + e′₁·x = s′₂ + e′₂·x` and the attacker
//! finds x.

use curve25519_dalek::constants::RISTRETTO_BASEPOINT_TABLE;
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use sha2::{Digest, Sha512};
use vitalis_crypto::chameleon::{
    self, ChameleonDigest, ChameleonPublicKey, ChameleonTrapdoor, Randomness,
};

fn message() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..96)
}

fn scalar(rng: &mut ChaCha20Rng) -> Scalar {
    let mut wide = [0u8; 64];
    rng.fill_bytes(&mut wide);
    Scalar::from_bytes_mod_order_wide(&wide)
}

/// A message as a scalar, for the Krawczyk–Rabin baseline and for the attacker.
fn message_scalar(message: &[u8]) -> Scalar {
    Scalar::hash_from_bytes::<Sha512>(message)
}

fn base(s: &Scalar) -> RistrettoPoint {
    s * RISTRETTO_BASEPOINT_TABLE
}

// ── The attacker ────────────────────────────────────────────────────────────

/// Every `x` with `A(v₁) + x·B(v₁) = A(v₂) + x·B(v₂)`, where A and B range over the
/// nonzero combinations of the exposed scalars with coefficients in {−1, 0, 1} (up to
/// sign, with both signs of x kept).
fn extraction_candidates(first: &[Scalar], second: &[Scalar]) -> Vec<Scalar> {
    assert_eq!(first.len(), second.len());
    let forms = signed_combinations(first.len());
    let apply = |form: &[i8], values: &[Scalar]| -> Scalar {
        form.iter()
            .zip(values)
            .map(|(c, v)| match c {
                1 => *v,
                -1 => -v,
                _ => Scalar::ZERO,
            })
            .sum()
    };
    let mut candidates = Vec::new();
    for a in &forms {
        for b in &forms {
            let denominator = apply(b, second) - apply(b, first);
            if denominator == Scalar::ZERO {
                continue;
            }
            let x = (apply(a, first) - apply(a, second)) * denominator.invert();
            candidates.extend([x, -x]);
        }
    }
    candidates
}

/// Coefficient vectors in {−1, 0, 1}ⁿ, nonzero, one of each ± pair.
fn signed_combinations(n: usize) -> Vec<Vec<i8>> {
    let mut all: Vec<Vec<i8>> = vec![Vec::new()];
    for _ in 0..n {
        all = all
            .into_iter()
            .flat_map(|v| {
                [-1, 0, 1].map(|c| {
                    let mut w = v.clone();
                    w.push(c);
                    w
                })
            })
            .collect();
    }
    // Keep the vectors whose first nonzero coefficient is +1.
    all.retain(|v| v.iter().find(|c| **c != 0) == Some(&1));
    all
}

fn finds_trapdoor(candidates: &[Scalar], public_key: &RistrettoPoint) -> bool {
    candidates.iter().any(|x| base(x) == *public_key)
}

// ── Krawczyk–Rabin, the baseline that leaks its key ────────────────────────

/// H. Krawczyk and T. Rabin, "Chameleon Signatures", NDSS 2000: CH = m·G + r·Y.
fn krawczyk_rabin_hash(public_key: &RistrettoPoint, m: &Scalar, r: &Scalar) -> RistrettoPoint {
    base(m) + r * public_key
}

/// The collision for m′: r′ = r + (m − m′)/x.
fn krawczyk_rabin_collide(trapdoor: &Scalar, m: &Scalar, r: &Scalar, new_m: &Scalar) -> Scalar {
    r + (m - new_m) * trapdoor.invert()
}

// ── Our scheme, written out from its definition ────────────────────────────

/// e = H("vitalis/chameleon/v1" ‖ R ‖ m), independently of the crate.
fn spec_challenge(r_point: &CompressedRistretto, message: &[u8]) -> Scalar {
    Scalar::from_hash(
        Sha512::new()
            .chain_update(b"vitalis/chameleon/v1")
            .chain_update(r_point.as_bytes())
            .chain_update(message),
    )
}

fn randomness_of(r_point: &RistrettoPoint, s: &Scalar) -> Randomness {
    let mut bytes = [0u8; 64];
    bytes[..32].copy_from_slice(r_point.compress().as_bytes());
    bytes[32..].copy_from_slice(s.as_bytes());
    Randomness::from_bytes(&bytes).unwrap()
}

/// The scalars one opening exposes to an observer: e (recomputable), s, the message as a
/// scalar, and the bytes of R read as a scalar (a naive stand-in for its discrete log).
fn exposed_scalars(message: &[u8], randomness: &Randomness) -> Vec<Scalar> {
    let r_point = CompressedRistretto(randomness.r_point());
    vec![
        spec_challenge(&r_point, message),
        Scalar::from_canonical_bytes(randomness.s()).unwrap(),
        message_scalar(message),
        Scalar::from_bytes_mod_order(randomness.r_point()),
    ]
}

fn point_of(key: &ChameleonPublicKey) -> RistrettoPoint {
    CompressedRistretto(key.to_bytes()).decompress().unwrap()
}

fn secret_of(trapdoor: &ChameleonTrapdoor) -> Scalar {
    Scalar::from_canonical_bytes(*trapdoor.to_bytes()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn hash_then_check_succeeds(seed in any::<[u8; 32]>(), m in message()) {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let pk = ChameleonTrapdoor::generate(&mut rng).public_key();
        let (digest, randomness) = chameleon::hash(&pk, &m, &mut rng);
        prop_assert!(chameleon::check(&pk, &m, &randomness, &digest));
        // Through the byte encodings too, as storage will carry them.
        let randomness = Randomness::from_bytes(&randomness.to_bytes()).unwrap();
        let digest = ChameleonDigest::from_bytes(digest.to_bytes()).unwrap();
        let pk = ChameleonPublicKey::from_bytes(pk.to_bytes()).unwrap();
        prop_assert!(chameleon::check(&pk, &m, &randomness, &digest));
    }

    #[test]
    fn check_fails_for_another_message(
        seed in any::<[u8; 32]>(),
        m in message(),
        other in message(),
    ) {
        prop_assume!(m != other);
        let mut rng = ChaCha20Rng::from_seed(seed);
        let pk = ChameleonTrapdoor::generate(&mut rng).public_key();
        let (digest, randomness) = chameleon::hash(&pk, &m, &mut rng);
        prop_assert!(!chameleon::check(&pk, &other, &randomness, &digest));
    }

    #[test]
    fn check_fails_for_altered_randomness(
        seed in any::<[u8; 32]>(),
        m in message(),
        bit in 0usize..512,
    ) {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let pk = ChameleonTrapdoor::generate(&mut rng).public_key();
        let (digest, randomness) = chameleon::hash(&pk, &m, &mut rng);
        let mut bytes = randomness.to_bytes();
        bytes[bit / 8] ^= 1 << (bit % 8);
        // A flipped bit either makes the bytes invalid or yields randomness that fails.
        if let Ok(altered) = Randomness::from_bytes(&bytes) {
            prop_assert!(!chameleon::check(&pk, &m, &altered, &digest));
        }
        // Fresh randomness for the same message opens a different digest.
        let (_, fresh) = chameleon::hash(&pk, &m, &mut rng);
        prop_assert!(!chameleon::check(&pk, &m, &fresh, &digest));
    }

    #[test]
    fn check_fails_under_another_public_key(seed in any::<[u8; 32]>(), m in message()) {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let pk = ChameleonTrapdoor::generate(&mut rng).public_key();
        let other = ChameleonTrapdoor::generate(&mut rng).public_key();
        let (digest, randomness) = chameleon::hash(&pk, &m, &mut rng);
        prop_assert!(!chameleon::check(&other, &m, &randomness, &digest));
    }

    #[test]
    fn adapt_opens_the_same_digest_to_a_new_message(
        seed in any::<[u8; 32]>(),
        m in message(),
        corrected in message(),
        corrected_again in message(),
    ) {
        prop_assume!(m != corrected);
        let mut rng = ChaCha20Rng::from_seed(seed);
        let trapdoor = ChameleonTrapdoor::generate(&mut rng);
        let pk = trapdoor.public_key();
        let (digest, randomness) = chameleon::hash(&pk, &m, &mut rng);

        let adapted = chameleon::adapt(&trapdoor, &digest, &corrected, &mut rng);
        prop_assert!(chameleon::check(&pk, &corrected, &adapted, &digest));
        prop_assert!(!chameleon::check(&pk, &m, &adapted, &digest));
        prop_assert!(!chameleon::check(&pk, &corrected, &randomness, &digest));

        // A second correction of the same record works the same way.
        let again = chameleon::adapt(&trapdoor, &digest, &corrected_again, &mut rng);
        prop_assert!(chameleon::check(&pk, &corrected_again, &again, &digest));
    }

    #[test]
    fn adapt_with_a_wrong_trapdoor_fails(
        seed in any::<[u8; 32]>(),
        m in message(),
        corrected in message(),
    ) {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let pk = ChameleonTrapdoor::generate(&mut rng).public_key();
        let wrong = ChameleonTrapdoor::generate(&mut rng);
        let (digest, _) = chameleon::hash(&pk, &m, &mut rng);
        let forged = chameleon::adapt(&wrong, &digest, &corrected, &mut rng);
        prop_assert!(!chameleon::check(&pk, &corrected, &forged, &digest));
        // It is a collision only under the wrong trapdoor's own key.
        prop_assert!(chameleon::check(&wrong.public_key(), &corrected, &forged, &digest));
    }

    #[test]
    fn the_crate_implements_the_scheme_as_written(seed in any::<[u8; 32]>(), m in message()) {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let trapdoor = ChameleonTrapdoor::generate(&mut rng);
        let (x, y) = (secret_of(&trapdoor), point_of(&trapdoor.public_key()));
        prop_assert_eq!(base(&x), y);
        // hash: R = r·G, e = H(R, m), CH = R − (e·Y + s·G).
        let (r, s) = (scalar(&mut rng), scalar(&mut rng));
        let r_point = base(&r);
        let e = spec_challenge(&r_point.compress(), &m);
        let ch = r_point - (e * y + base(&s));
        let digest = ChameleonDigest::from_bytes(ch.compress().to_bytes()).unwrap();
        prop_assert!(chameleon::check(&trapdoor.public_key(), &m, &randomness_of(&r_point, &s), &digest));
        // adapt: R′ = CH + k′·G, e′ = H(R′, m′), s′ = k′ − e′·x.
        let k = scalar(&mut rng);
        let new_r_point = ch + base(&k);
        let new_e = spec_challenge(&new_r_point.compress(), b"corrected");
        let new_s = k - new_e * x;
        let adapted = randomness_of(&new_r_point, &new_s);
        prop_assert!(chameleon::check(&trapdoor.public_key(), b"corrected", &adapted, &digest));
        // Control: whoever learns k′ learns x = (k′ − s′)/e′.
        prop_assert_eq!((k - new_s) * new_e.invert(), x);
    }
}

proptest! {
    // Each case tries thousands of candidates.
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn two_collisions_expose_the_krawczyk_rabin_trapdoor(
        seed in any::<[u8; 32]>(),
        m in message(),
        corrected in message(),
    ) {
        prop_assume!(message_scalar(&m) != message_scalar(&corrected));
        let mut rng = ChaCha20Rng::from_seed(seed);
        let x = scalar(&mut rng);
        let y = base(&x);
        let (m1, m2) = (message_scalar(&m), message_scalar(&corrected));
        let r1 = scalar(&mut rng);
        let r2 = krawczyk_rabin_collide(&x, &m1, &r1, &m2);
        prop_assert_eq!(krawczyk_rabin_hash(&y, &m1, &r1), krawczyk_rabin_hash(&y, &m2, &r2));
        let candidates = extraction_candidates(&[m1, r1], &[m2, r2]);
        prop_assert!(finds_trapdoor(&candidates, &y));
    }

    #[test]
    fn the_same_attack_does_not_expose_our_trapdoor(
        seed in any::<[u8; 32]>(),
        m in message(),
        corrected in message(),
        corrected_again in message(),
    ) {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let trapdoor = ChameleonTrapdoor::generate(&mut rng);
        let pk = trapdoor.public_key();
        let (digest, original) = chameleon::hash(&pk, &m, &mut rng);
        let first = chameleon::adapt(&trapdoor, &digest, &corrected, &mut rng);
        let second = chameleon::adapt(&trapdoor, &digest, &corrected_again, &mut rng);
        let openings = [
            exposed_scalars(&m, &original),
            exposed_scalars(&corrected, &first),
            exposed_scalars(&corrected_again, &second),
        ];
        let y = point_of(&pk);
        for (i, j) in [(0, 1), (0, 2), (1, 2)] {
            let candidates = extraction_candidates(&openings[i], &openings[j]);
            prop_assert!(candidates.len() > 1000);
            prop_assert!(!finds_trapdoor(&candidates, &y), "openings {} and {}", i, j);
        }
    }
}
