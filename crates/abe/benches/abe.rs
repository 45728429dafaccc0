//! Key generation, encryption and decryption for a policy that is the AND of n
//! attributes, with a key holding exactly those n, for n = 1, 10, 20, 50; side by side
//! with the `rabe` crate's FAME (module `ac17`, on BN254) on the same policies and keys.
//!
//! `rabe` cannot take an AND of more than two inputs, so it gets the same conjunction
//! nested two at a time (`"a" and ("b" and ("c" and …)))`), which is the same policy and
//! the same span program. Both encrypt a 32-byte data key.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rabe::schemes::ac17;
use rabe::utils::policy::pest::PolicyLanguage;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use vitalis_abe::{Policy, decrypt, encrypt, keygen, setup};

const SIZES: [usize; 4] = [1, 10, 20, 50];
const DATA_KEY: [u8; 32] = [0x5a; 32];

fn attribute_names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("dept:unit-{i:02}")).collect()
}

/// `"a" and ("b" and ("c" …))` in rabe's human policy language.
fn rabe_policy(names: &[String]) -> String {
    match names {
        [] => unreachable!("policies have at least one attribute"),
        [last] => format!("\"{last}\""),
        [first, rest @ ..] => format!("\"{first}\" and ({})", rabe_policy(rest)),
    }
}

fn benches(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(2026);
    let (pk, msk) = setup(&mut rng);
    let (rabe_pk, rabe_msk) = ac17::setup();

    let mut keygen_group = c.benchmark_group("keygen");
    keygen_group.sample_size(10);
    for n in SIZES {
        let names = attribute_names(n);
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        keygen_group.bench_with_input(BenchmarkId::new("vitalis-abe", n), &refs, |b, refs| {
            b.iter(|| keygen(&msk, black_box(refs), &mut rng).unwrap())
        });
        keygen_group.bench_with_input(BenchmarkId::new("rabe", n), &refs, |b, refs| {
            b.iter(|| ac17::cp_keygen(&rabe_msk, black_box(refs)).unwrap())
        });
    }
    keygen_group.finish();

    let mut encrypt_group = c.benchmark_group("encrypt");
    encrypt_group.sample_size(10);
    for n in SIZES {
        let names = attribute_names(n);
        let policy: Policy = names.join(" AND ").parse().unwrap();
        let rabe_text = rabe_policy(&names);
        encrypt_group.bench_with_input(BenchmarkId::new("vitalis-abe", n), &policy, |b, policy| {
            b.iter(|| encrypt(&pk, black_box(policy), &DATA_KEY, &mut rng))
        });
        encrypt_group.bench_with_input(BenchmarkId::new("rabe", n), &rabe_text, |b, text| {
            b.iter(|| {
                ac17::cp_encrypt(
                    &rabe_pk,
                    black_box(text),
                    &DATA_KEY,
                    PolicyLanguage::HumanPolicy,
                )
                .unwrap()
            })
        });
    }
    encrypt_group.finish();

    let mut decrypt_group = c.benchmark_group("decrypt");
    decrypt_group.sample_size(10);
    for n in SIZES {
        let names = attribute_names(n);
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let policy: Policy = names.join(" AND ").parse().unwrap();
        let ct = encrypt(&pk, &policy, &DATA_KEY, &mut rng);
        let sk = keygen(&msk, &refs, &mut rng).unwrap();
        assert_eq!(*decrypt(&sk, &ct).unwrap(), DATA_KEY);
        let rabe_ct = ac17::cp_encrypt(
            &rabe_pk,
            &rabe_policy(&names),
            &DATA_KEY,
            PolicyLanguage::HumanPolicy,
        )
        .unwrap();
        let rabe_sk = ac17::cp_keygen(&rabe_msk, &refs).unwrap();
        assert_eq!(ac17::cp_decrypt(&rabe_sk, &rabe_ct).unwrap(), DATA_KEY);
        decrypt_group.bench_function(BenchmarkId::new("vitalis-abe", n), |b| {
            b.iter(|| decrypt(&sk, black_box(&ct)).unwrap())
        });
        decrypt_group.bench_function(BenchmarkId::new("rabe", n), |b| {
            b.iter(|| ac17::cp_decrypt(&rabe_sk, black_box(&rabe_ct)).unwrap())
        });
    }
    decrypt_group.finish();
}

criterion_group!(abe, benches);
criterion_main!(abe);
