//! Sealing and opening protected records: the work a record costs on the way in (a fresh
//! data key, the payload encrypted under it, the key wrapped under the patient's epoch
//! key) and on the way out (unwrap, open), at the size of a small upload and of a
//! 1,000-reading record (about 45 KB of payload). Criterion reports bytes per second;
//! records per second is one over the time per iteration. The epoch key's own wraps
//! (HPKE for the patient) happen once per epoch and are measured on their own.
//!
//! `cargo bench -p vitalis-crypto --bench envelope`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use vitalis_crypto::envelope::{
    self, DataKey, PatientSecretKey, open_payload, seal_payload, unwrap_with_key, wrap_with_key,
};

/// The associated data of a record (patient, seq, section, time range): about 70 bytes.
const CONTEXT: &[u8] = b"vitalis/sealed-record/v1 p0123456789abcdef protected 42 1763900000000";

fn bench(c: &mut Criterion) {
    let mut rng = rand::rng();
    let epoch = DataKey::generate(&mut rng);
    let mut group = c.benchmark_group("record");
    for size in [1_024usize, 45_000] {
        let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("seal", size), &payload, |b, payload| {
            b.iter(|| {
                let key = DataKey::generate(&mut rng);
                let sealed = seal_payload(&key, CONTEXT, payload, &mut rng);
                let wrapped = wrap_with_key(&epoch, &key, CONTEXT, &mut rng);
                (sealed, wrapped)
            })
        });
        let key = DataKey::generate(&mut rng);
        let sealed = seal_payload(&key, CONTEXT, &payload, &mut rng);
        let wrapped = wrap_with_key(&epoch, &key, CONTEXT, &mut rng);
        group.bench_with_input(BenchmarkId::new("open", size), &sealed, |b, sealed| {
            b.iter(|| {
                let key = unwrap_with_key(&epoch, &wrapped, CONTEXT).unwrap();
                open_payload(&key, CONTEXT, sealed).unwrap()
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("epoch");
    let patient = PatientSecretKey::generate(&mut rng);
    group.bench_function("wrap for patient (HPKE)", |b| {
        b.iter(|| envelope::wrap_for_patient(patient.public_key(), &epoch, CONTEXT, &mut rng))
    });
    let wrapped = envelope::wrap_for_patient(patient.public_key(), &epoch, CONTEXT, &mut rng);
    group.bench_function("unwrap by patient (HPKE)", |b| {
        b.iter(|| envelope::unwrap_for_patient(&patient, &wrapped, CONTEXT).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
