//! Property tests of sealing: what is sealed opens with the same password or recovery key
//! and associated data, and with nothing else; any altered byte fails to open.

use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use vitalis_crypto::seal::{
    SealError, hash_password, new_recovery_key, open_with_password, open_with_recovery,
    parse_recovery_key, seal_with_password, seal_with_recovery, verify_password,
};

proptest! {
    // Argon2id at 19 MiB costs tens of milliseconds per derivation: few cases suffice.
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn password_sealing_opens_only_with_the_same_password_and_aad(
        secret in proptest::collection::vec(any::<u8>(), 1..64),
        password in "[ -~]{1,24}",
        other in "[ -~]{1,24}",
        flip in any::<prop::sample::Index>(),
        seed in any::<[u8; 32]>(),
    ) {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let sealed = seal_with_password(&password, &secret, b"acct-1", &mut rng).unwrap();
        let opened = open_with_password(&password, &sealed, b"acct-1").unwrap();
        prop_assert_eq!(opened.as_slice(), &secret[..]);
        prop_assert_eq!(open_with_password(&password, &sealed, b"acct-2").unwrap_err(), SealError::Open);
        if other != password {
            prop_assert_eq!(open_with_password(&other, &sealed, b"acct-1").unwrap_err(), SealError::Open);
        }
        let mut altered = sealed.clone();
        let i = flip.index(altered.len());
        altered[i] ^= 0x01;
        prop_assert!(open_with_password(&password, &altered, b"acct-1").is_err());
        prop_assert!(open_with_password(&password, &sealed[..sealed.len() - 1], b"acct-1").is_err());
    }

    #[test]
    fn recovery_sealing_opens_only_with_the_same_key(
        secret in proptest::collection::vec(any::<u8>(), 1..64),
        seed in any::<[u8; 32]>(),
    ) {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let (key, shown) = new_recovery_key(&mut rng);
        let parsed = parse_recovery_key(&shown).unwrap();
        prop_assert_eq!(parsed.as_ref(), key.as_ref());
        let loose = parse_recovery_key(&shown.to_uppercase().replace('-', " ")).unwrap();
        prop_assert_eq!(loose.as_ref(), key.as_ref());
        let sealed = seal_with_recovery(&key, &secret, b"acct-1", &mut rng).unwrap();
        let opened = open_with_recovery(&key, &sealed, b"acct-1").unwrap();
        prop_assert_eq!(opened.as_slice(), &secret[..]);
        let (other, _) = new_recovery_key(&mut rng);
        prop_assert_eq!(open_with_recovery(&other, &sealed, b"acct-1").unwrap_err(), SealError::Open);
    }
}

#[test]
fn password_hashes_verify_only_the_password() {
    let mut rng = ChaCha20Rng::from_seed([3; 32]);
    let stored = hash_password("correct horse battery staple", &mut rng).unwrap();
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    assert!(verify_password(&stored, "correct horse battery staple").unwrap());
    assert!(!verify_password(&stored, "correct horse battery stapler").unwrap());
    assert_eq!(verify_password("not a hash", "x"), Err(SealError::Hash));
}

#[test]
fn malformed_recovery_keys_are_refused() {
    assert_eq!(
        parse_recovery_key("abcd").unwrap_err(),
        SealError::RecoveryKey
    );
    assert_eq!(
        parse_recovery_key(&"zz".repeat(32)).unwrap_err(),
        SealError::RecoveryKey
    );
}
