//! End-to-end tests of the public API: decryption succeeds exactly when a key satisfies
//! the policy (property-tested over random nested policies and attribute sets), policies
//! survive display and parsing, and no byte string makes a decoder panic or an altered
//! ciphertext decrypt.

use std::sync::OnceLock;

use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use vitalis_abe::{
    Ciphertext, DecodeError, Error, MasterKey, Policy, PublicKey, SecretKey, decrypt, encrypt,
    keygen, satisfies, setup,
};

#[path = "../src/testing.rs"]
mod testing;

use testing::{ALPHABET, arbitrary_policy, attribute_subset, large_policy};

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// One authority for the whole test binary: setup is not what is under test here.
fn authority() -> &'static (PublicKey, MasterKey) {
    static AUTHORITY: OnceLock<(PublicKey, MasterKey)> = OnceLock::new();
    AUTHORITY.get_or_init(|| setup(&mut rng(1)))
}

fn policy(text: &str) -> Policy {
    text.parse().unwrap()
}

#[test]
fn a_satisfying_key_recovers_the_data_key() {
    let (pk, msk) = authority();
    let mut rng = rng(2);
    let policy = policy("role:clinician AND (org:H1 OR org:H2) AND 2 of (a, b, c)");
    let ct = encrypt(pk, &policy, &[9; 32], &mut rng);
    for attributes in [
        vec!["role:clinician", "org:H1", "a", "b"],
        vec!["role:clinician", "org:H2", "b", "c", "x"],
        vec!["role:clinician", "org:H1", "org:H2", "a", "b", "c"],
    ] {
        let sk = keygen(msk, &attributes, &mut rng).unwrap();
        assert_eq!(*decrypt(&sk, &ct).unwrap(), [9; 32], "{attributes:?}");
    }
    for attributes in [
        vec!["role:clinician", "org:H1", "a"],
        vec!["org:H1", "a", "b", "c"],
        vec!["role:clinician", "a", "b", "c"],
    ] {
        let sk = keygen(msk, &attributes, &mut rng).unwrap();
        assert_eq!(
            decrypt(&sk, &ct),
            Err(Error::NotSatisfied),
            "{attributes:?}"
        );
    }
}

#[test]
fn and_of_fifty_attributes() {
    let (pk, msk) = authority();
    let mut rng = rng(3);
    let names: Vec<String> = (0..50).map(|i| format!("attr:{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let policy = policy(&refs.join(" AND "));
    assert_eq!(policy.len(), 50);
    let ct = encrypt(pk, &policy, &[5; 32], &mut rng);
    let all = keygen(msk, &refs, &mut rng).unwrap();
    assert_eq!(*decrypt(&all, &ct).unwrap(), [5; 32]);
    let all_but_one = keygen(msk, &refs[1..], &mut rng).unwrap();
    assert_eq!(decrypt(&all_but_one, &ct), Err(Error::NotSatisfied));
}

#[test]
fn a_key_of_another_authority_fails_cleanly() {
    let (pk, _) = authority();
    let (_, other_msk) = setup(&mut rng(4));
    let mut rng = rng(5);
    let ct = encrypt(pk, &policy("a OR b"), &[1; 32], &mut rng);
    let stranger = keygen(&other_msk, &["a"], &mut rng).unwrap();
    assert_eq!(decrypt(&stranger, &ct), Err(Error::DecryptionFailed));
}

#[test]
fn colluding_keys_do_not_combine() {
    // Two keys that together hold both attributes: neither alone satisfies the policy,
    // and the scheme binds each key's parts to its own randomness.
    let (pk, msk) = authority();
    let mut rng = rng(6);
    let ct = encrypt(pk, &policy("a AND b"), &[2; 32], &mut rng);
    let with_a = keygen(msk, &["a"], &mut rng).unwrap();
    let with_b = keygen(msk, &["b"], &mut rng).unwrap();
    assert_eq!(decrypt(&with_a, &ct), Err(Error::NotSatisfied));
    assert_eq!(decrypt(&with_b, &ct), Err(Error::NotSatisfied));
    // Graft b's part of one key into the other through the encoding: a key with both
    // names but parts from two keys.
    let mut forged = with_a.to_bytes().to_vec();
    let b_bytes = with_b.to_bytes();
    let header_and_fixed = 6 + 3 * 96 + 3 * 48;
    let b_entry = &b_bytes[header_and_fixed + 2..];
    forged[header_and_fixed..header_and_fixed + 2].copy_from_slice(&2u16.to_be_bytes());
    forged.extend_from_slice(b_entry);
    let forged = SecretKey::from_bytes(&forged).unwrap();
    assert_eq!(forged.attributes(), ["a", "b"]);
    assert_eq!(decrypt(&forged, &ct), Err(Error::DecryptionFailed));
}

#[test]
fn keys_and_ciphertexts_survive_their_encodings() {
    let (pk, msk) = authority();
    let mut rng = rng(7);
    assert_eq!(&PublicKey::from_bytes(&pk.to_bytes()).unwrap(), pk);
    let msk_again = MasterKey::from_bytes(&msk.to_bytes()).unwrap();
    assert_eq!(&msk_again.public_key(), pk);
    let sk = keygen(&msk_again, &["org:H1", "role:clinician"], &mut rng).unwrap();
    let sk = SecretKey::from_bytes(&sk.to_bytes()).unwrap();
    let ct = encrypt(pk, &policy("role:clinician AND org:H1"), &[3; 32], &mut rng);
    let bytes = ct.to_bytes();
    let decoded = Ciphertext::from_bytes(&bytes).unwrap();
    assert_eq!(decoded, ct);
    assert_eq!(*decrypt(&sk, &decoded).unwrap(), [3; 32]);
}

#[test]
fn decoders_name_what_is_wrong() {
    let (pk, _) = authority();
    let ct = encrypt(pk, &policy("a"), &[0; 32], &mut rng(8)).to_bytes();
    assert_eq!(
        PublicKey::from_bytes(&ct),
        Err(DecodeError::WrongKind {
            expected: "public key",
            found: 4
        })
    );
    assert_eq!(Ciphertext::from_bytes(b"nope"), Err(DecodeError::BadMagic));
    let mut future = ct.clone();
    future[4] = 2;
    assert_eq!(
        Ciphertext::from_bytes(&future),
        Err(DecodeError::UnsupportedVersion(2))
    );
    assert!(matches!(
        Ciphertext::from_bytes(&ct[..ct.len() - 1]),
        Err(DecodeError::Truncated { .. })
    ));
    let mut longer = ct.clone();
    longer.push(0);
    assert_eq!(
        Ciphertext::from_bytes(&longer),
        Err(DecodeError::TrailingBytes(1))
    );
    // "a" written as "(a)" parses to the same policy but is not canonical.
    let mut bracketed = ct[..6].to_vec();
    bracketed.extend_from_slice(&3u32.to_be_bytes());
    bracketed.extend_from_slice(b"(a)");
    bracketed.extend_from_slice(&ct[6 + 4 + 1..]);
    assert_eq!(
        Ciphertext::from_bytes(&bracketed),
        Err(DecodeError::NonCanonicalPolicy)
    );
}

#[test]
fn keygen_refuses_bad_attribute_sets() {
    let (_, msk) = authority();
    let mut rng = rng(9);
    assert_eq!(
        keygen(msk, &[], &mut rng).unwrap_err(),
        Error::AttributeCount(0)
    );
    assert!(matches!(
        keygen(msk, &["role:clinician", "AND"], &mut rng),
        Err(Error::InvalidAttribute(_))
    ));
    let sk = keygen(msk, &["a", "b", "a"], &mut rng).unwrap();
    assert_eq!(sk.attributes(), ["a", "b"]);
}

/// A key needs at least one attribute; an attribute outside every policy stands in for
/// the empty set.
fn key_attributes(held: &[String]) -> Vec<&str> {
    let mut attributes: Vec<&str> = held.iter().map(String::as_str).collect();
    attributes.push("role:visitor");
    attributes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn decryption_succeeds_exactly_when_the_attributes_satisfy_the_policy(
        policy in arbitrary_policy(),
        held in attribute_subset(),
        data_key in any::<[u8; 32]>(),
        seed in any::<u64>(),
    ) {
        let (pk, msk) = authority();
        let mut rng = rng(seed);
        let attributes = key_attributes(&held);
        let ct = encrypt(pk, &policy, &data_key, &mut rng);
        let ct = Ciphertext::from_bytes(&ct.to_bytes()).unwrap();
        let sk = keygen(msk, &attributes, &mut rng).unwrap();
        let result = decrypt(&sk, &ct);
        if satisfies(&policy, &attributes) {
            prop_assert_eq!(*result.unwrap(), data_key);
        } else {
            prop_assert_eq!(result, Err(Error::NotSatisfied));
        }
    }

    #[test]
    fn an_altered_ciphertext_never_decrypts(
        policy in arbitrary_policy(),
        position in any::<prop::sample::Index>(),
        flip in 1..=255u8,
        cut in any::<prop::sample::Index>(),
        seed in any::<u64>(),
    ) {
        let (pk, msk) = authority();
        let mut rng = rng(seed);
        let sk = keygen(msk, &ALPHABET, &mut rng).unwrap();
        let bytes = encrypt(pk, &policy, &[7; 32], &mut rng).to_bytes();

        let mut altered = bytes.clone();
        altered[position.index(bytes.len())] ^= flip;
        if let Ok(ct) = Ciphertext::from_bytes(&altered) {
            // Decoding is canonical: what decodes re-encodes to the same bytes.
            prop_assert_eq!(ct.to_bytes(), altered);
            prop_assert!(decrypt(&sk, &ct).is_err());
        }
        prop_assert!(Ciphertext::from_bytes(&bytes[..cut.index(bytes.len())]).is_err());
    }

    #[test]
    fn altered_keys_decode_canonically_or_not_at_all(
        position in any::<prop::sample::Index>(),
        flip in 1..=255u8,
    ) {
        let (pk, msk) = authority();
        let sk = keygen(msk, &["org:H1", "role:clinician"], &mut rng(10)).unwrap();
        let encodings = [pk.to_bytes(), msk.to_bytes().to_vec(), sk.to_bytes().to_vec()];
        for (kind, bytes) in encodings.iter().enumerate() {
            let mut altered = bytes.clone();
            altered[position.index(bytes.len())] ^= flip;
            let again = match kind {
                0 => PublicKey::from_bytes(&altered).map(|k| k.to_bytes()),
                1 => MasterKey::from_bytes(&altered).map(|k| k.to_bytes().to_vec()),
                _ => SecretKey::from_bytes(&altered).map(|k| k.to_bytes().to_vec()),
            };
            if let Ok(again) = again {
                prop_assert_eq!(again, altered);
            }
        }
    }

    #[test]
    fn decoders_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        kind in 1..=4u8,
    ) {
        // As given, and behind a valid header so that the field decoders are reached.
        let mut framed = b"vABE\x01".to_vec();
        framed.push(kind);
        framed.extend_from_slice(&bytes);
        for candidate in [&bytes, &framed] {
            let _ = PublicKey::from_bytes(candidate);
            let _ = MasterKey::from_bytes(candidate);
            let _ = SecretKey::from_bytes(candidate);
            let _ = Ciphertext::from_bytes(candidate);
        }
    }

    #[test]
    fn display_then_parse_gives_the_same_policy(policy in large_policy()) {
        let text = policy.to_string();
        prop_assert_eq!(Policy::parse(&text), Ok(policy));
    }

    #[test]
    fn the_parser_never_panics(
        tokens in prop::collection::vec(
            prop::sample::select(vec![
                "a", "b", "c", "x:1", "AND", "or", "of", "2", "0", "(", ")", ",", " ", "&", "é",
            ]),
            0..40,
        ),
        raw in ".{0,40}",
    ) {
        for text in [tokens.concat(), tokens.join(" "), raw] {
            if let Ok(policy) = Policy::parse(&text) {
                prop_assert_eq!(Policy::parse(&policy.to_string()), Ok(policy));
            }
        }
    }
}
