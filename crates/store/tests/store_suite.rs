//! One test suite, run against every backend: SQLite always; PostgreSQL when a server is
//! reachable at `VITALIS_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432`).
//! Without one the PostgreSQL half prints that it was skipped, unless
//! `VITALIS_REQUIRE_SERVICES=1` (as in CI), where a missing server fails the run.

use std::sync::Arc;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sqlx::{Connection, Executor, PgConnection};
use vitalis_crypto::chameleon::{
    self, ChameleonDigest, ChameleonPublicKey, ChameleonTrapdoor, Randomness,
};
use vitalis_crypto::envelope::{self, DataKey, PatientSecretKey};
use vitalis_model::{
    ChainLink, DeviceId, Metric, Opening, PatientId, PayloadHash, Reading, Section, Timestamp,
    Value, verify_chain,
};
use vitalis_store::sealing::{NewSealEpoch, RecordKeys, SealEpoch, SealKey, epoch_context};
use vitalis_store::{NewBatch, ReaderKeys, ReadingQuery, SqlStore, Store, StoreError};

const NOW: i64 = 1_763_900_000_000;

/// A store on a fresh database, and what must outlive it.
struct Fixture {
    store: SqlStore,
    _dir: Option<tempfile::TempDir>,
    /// (server URL, database) to drop afterwards.
    pg_database: Option<(String, String)>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let Some((base, name)) = self.pg_database.take() else {
            return;
        };
        // Drop runs outside async; a short-lived runtime on its own thread does the cleanup.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut admin) = PgConnection::connect(&format!("{base}/postgres")).await {
                    let _ = admin
                        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                        .await;
                }
            });
        })
        .join()
        .unwrap();
    }
}

/// The supervisor's chameleon-hash trapdoor of these tests (a fixed seed).
fn trapdoor() -> ChameleonTrapdoor {
    ChameleonTrapdoor::generate(&mut ChaCha20Rng::seed_from_u64(11))
}

fn key() -> ChameleonPublicKey {
    trapdoor().public_key()
}

/// The payload-hash check of `verify_chain`: the chameleon hash under [`key`].
fn rollup_key() -> DataKey {
    DataKey::from_bytes([5; 32])
}

fn opens(digest: &[u8; 32], opening: &Opening, hash: &PayloadHash) -> bool {
    match (
        Randomness::from_bytes(&opening.0),
        ChameleonDigest::from_bytes(hash.0),
    ) {
        (Ok(randomness), Ok(hash)) => chameleon::check(&key(), digest, &randomness, &hash),
        _ => false,
    }
}

async fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("vitalis.db").display());
    Fixture {
        store: SqlStore::open(&url, &key())
            .await
            .unwrap()
            .with_rollup_key(rollup_key()),
        _dir: Some(dir),
        pg_database: None,
    }
}

/// A fresh PostgreSQL database, or `None` (after saying so) when no server is reachable.
async fn postgres() -> Option<Fixture> {
    let base = std::env::var("VITALIS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
    let required = std::env::var("VITALIS_REQUIRE_SERVICES").is_ok_and(|v| v == "1");
    let mut admin = match PgConnection::connect(&format!("{base}/postgres")).await {
        Ok(admin) => admin,
        Err(e) if required => panic!("PostgreSQL required (VITALIS_REQUIRE_SERVICES=1): {e}"),
        Err(e) => {
            eprintln!("SKIPPED: PostgreSQL tests, no server at {base}: {e}");
            return None;
        }
    };
    let name = format!("vitalis_test_{}", unique_suffix());
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let store = SqlStore::open(&format!("{base}/{name}"), &key())
        .await
        .unwrap()
        .with_rollup_key(rollup_key());
    Some(Fixture {
        store,
        _dir: None,
        pg_database: Some((base, name)),
    })
}

fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs one scenario on SQLite and on PostgreSQL.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(#[tokio::test] async fn $name() {
                let f = super::sqlite().await;
                super::$name(f.store.clone()).await
            })*
        }
        mod postgres_backend {
            $(#[tokio::test] async fn $name() {
                if let Some(f) = super::postgres().await { super::$name(f.store.clone()).await }
            })*
        }
    };
}

both_backends!(
    stores_a_batch_as_records_per_section,
    chains_records_per_patient,
    skips_readings_already_stored,
    replays_an_idempotency_key,
    a_failed_group_stores_nothing,
    pages_through_readings,
    authenticates_tokens,
    claims_records_into_anchors_once,
    keeps_accounts_sessions_and_tokens,
    applies_section_choices_and_revokes_devices,
    batches_identical_access_entries_under_distinct_roots,
    keeps_the_first_seal_public_key,
    seals_protected_records_for_their_readers,
    erases_a_patient_but_keeps_the_commitments,
);

fn ts(ms: i64) -> Timestamp {
    Timestamp::new(ms).unwrap()
}

fn reading(metric: Metric, t: i64, v: f64) -> Reading {
    Reading::new(metric, ts(t), Value::Scalar(v), ts(NOW)).unwrap()
}

fn batch(patient: &PatientId, device: &DeviceId, readings: Vec<Reading>) -> NewBatch {
    let mut protected = Vec::new();
    let mut open = Vec::new();
    for r in readings {
        match r.metric().spec().default_section {
            Section::Protected => protected.push(r),
            Section::Open => open.push(r),
        }
    }
    NewBatch {
        patient: patient.clone(),
        device: device.clone(),
        idempotency_key: None,
        parts: vec![(Section::Protected, protected), (Section::Open, open)],
        received_at: ts(NOW),
        seal: None,
    }
}

async fn patient_with_device(store: &SqlStore, n: u8) -> (PatientId, DeviceId) {
    let patient = store.create_patient([n; 32]).await.unwrap();
    let device = store.create_device(&patient, [n + 100; 32]).await.unwrap();
    (patient, device)
}

fn all_of(patient: &PatientId) -> ReadingQuery {
    ReadingQuery {
        patient: patient.clone(),
        metric: None,
        metrics: None,
        sections: None,
        from: ts(0),
        to: ts(NOW),
        after: None,
        limit: 100_000,
        keys: None,
    }
}

async fn chain_of(store: &SqlStore, patient: &PatientId) -> Vec<ChainLink> {
    let mut links = Vec::new();
    for record in store.records(patient, 0, 10_000).await.unwrap() {
        let payload = store
            .blob(record.cid())
            .await
            .unwrap()
            .expect("payload stored");
        links.push(ChainLink {
            header: record.header,
            cid: record.cid,
            opening: record.opening,
            commitment: record.commitment,
            payload,
        });
    }
    links
}

async fn stores_a_batch_as_records_per_section(store: SqlStore) {
    let (p, d) = patient_with_device(&store, 1).await;
    let readings = vec![
        reading(Metric::HeartRate, NOW - 3000, 61.0),
        reading(Metric::Steps, NOW - 3000, 12.0),
        reading(Metric::HeartRate, NOW - 2000, 63.5),
    ];
    let receipts = store.append(vec![batch(&p, &d, readings)]).await.unwrap();
    let receipt = &receipts[0];
    assert_eq!((receipt.accepted, receipt.duplicates), (3, 0));
    let sections: Vec<_> = receipt
        .records
        .iter()
        .map(|r| (r.seq, r.section, r.readings))
        .collect();
    assert_eq!(
        sections,
        vec![(1, Section::Protected, 2), (2, Section::Open, 1)]
    );

    let page = store.readings(&all_of(&p)).await.unwrap();
    let got: Vec<_> = page
        .readings
        .iter()
        .map(|r| (r.metric, r.t.millis(), r.value))
        .collect();
    assert_eq!(
        got,
        vec![
            (Metric::HeartRate, NOW - 3000, Value::Scalar(61.0)),
            (Metric::Steps, NOW - 3000, Value::Scalar(12.0)),
            (Metric::HeartRate, NOW - 2000, Value::Scalar(63.5)),
        ]
    );
    let hr = ReadingQuery {
        metric: Some(Metric::HeartRate),
        metrics: None,
        sections: None,
        from: ts(NOW - 2500),
        ..all_of(&p)
    };
    assert_eq!(store.readings(&hr).await.unwrap().readings.len(), 1);
}

async fn chains_records_per_patient(store: SqlStore) {
    let (p1, d1) = patient_with_device(&store, 1).await;
    let (p2, d2) = patient_with_device(&store, 2).await;
    for i in 0..5 {
        // Interleave two patients in one group: each keeps its own chain.
        let t = NOW - 100_000 + i * 1000;
        store
            .append(vec![
                batch(&p1, &d1, vec![reading(Metric::HeartRate, t, 70.0)]),
                batch(
                    &p2,
                    &d2,
                    vec![
                        reading(Metric::Spo2, t, 97.0),
                        reading(Metric::Steps, t, 5.0),
                    ],
                ),
            ])
            .await
            .unwrap();
    }
    let chain1 = chain_of(&store, &p1).await;
    let chain2 = chain_of(&store, &p2).await;
    assert_eq!((chain1.len(), chain2.len()), (5, 10));
    verify_chain(&chain1, opens).unwrap();
    verify_chain(&chain2, opens).unwrap();
    let (seq, head) = store.head(&p2).await.unwrap();
    assert_eq!((seq, head), (10, chain2[9].commitment));
}

async fn skips_readings_already_stored(store: SqlStore) {
    let (p, d) = patient_with_device(&store, 1).await;
    let first = vec![
        reading(Metric::HeartRate, NOW - 5000, 70.0),
        reading(Metric::HeartRate, NOW - 4000, 71.0),
    ];
    store
        .append(vec![batch(&p, &d, first.clone())])
        .await
        .unwrap();

    // The same readings again, plus one new: only the new one is stored.
    let mut again = first.clone();
    again.push(reading(Metric::HeartRate, NOW - 3000, 72.0));
    let receipt = store
        .append(vec![batch(&p, &d, again)])
        .await
        .unwrap()
        .remove(0);
    assert_eq!((receipt.accepted, receipt.duplicates), (1, 2));

    // Entirely duplicate: no record, no sequence number used.
    let receipt = store
        .append(vec![batch(&p, &d, first)])
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        (receipt.accepted, receipt.duplicates, receipt.records.len()),
        (0, 2, 0)
    );
    assert_eq!(store.head(&p).await.unwrap().0, 2);
    assert_eq!(store.readings(&all_of(&p)).await.unwrap().readings.len(), 3);

    // Another device of the same patient may report the same instant.
    let d2 = store.create_device(&p, [77; 32]).await.unwrap();
    let receipt = store
        .append(vec![batch(
            &p,
            &d2,
            vec![reading(Metric::HeartRate, NOW - 5000, 69.0)],
        )])
        .await
        .unwrap()
        .remove(0);
    assert_eq!(receipt.accepted, 1);
}

async fn replays_an_idempotency_key(store: SqlStore) {
    let (p, d) = patient_with_device(&store, 1).await;
    let mut b = batch(&p, &d, vec![reading(Metric::Steps, NOW - 1000, 40.0)]);
    b.idempotency_key = Some("upload-1".into());
    let first = store.append(vec![b.clone()]).await.unwrap().remove(0);
    assert!(!first.replayed);

    // Same key, even with different content: the first receipt, nothing stored.
    b.parts = vec![(Section::Open, vec![reading(Metric::Steps, NOW - 500, 41.0)])];
    let again = store.append(vec![b]).await.unwrap().remove(0);
    assert!(again.replayed);
    assert_eq!(again.records, first.records);
    assert_eq!(store.readings(&all_of(&p)).await.unwrap().readings.len(), 1);
}

async fn a_failed_group_stores_nothing(store: SqlStore) {
    let (p, d) = patient_with_device(&store, 1).await;
    let good = batch(&p, &d, vec![reading(Metric::HeartRate, NOW - 1000, 70.0)]);
    let ghost = PatientId::new("no-such-patient").unwrap();
    let bad = batch(
        &ghost,
        &d,
        vec![reading(Metric::HeartRate, NOW - 1000, 70.0)],
    );
    let err = store.append(vec![good, bad]).await.unwrap_err();
    assert!(matches!(err, StoreError::UnknownPatient(_)), "{err}");
    assert!(
        store
            .readings(&all_of(&p))
            .await
            .unwrap()
            .readings
            .is_empty()
    );
    assert!(store.records(&p, 0, 10).await.unwrap().is_empty());
    assert_eq!(store.head(&p).await.unwrap().0, 0);
}

async fn pages_through_readings(store: SqlStore) {
    let (p, d) = patient_with_device(&store, 1).await;
    let d2 = store.create_device(&p, [55; 32]).await.unwrap();
    let mut expected = Vec::new();
    for (dev, offset) in [(&d, 0.0), (&d2, 1.0)] {
        let readings: Vec<_> = (0..25)
            .map(|i| reading(Metric::HeartRate, NOW - 50_000 + i * 1000, 60.0 + offset))
            .collect();
        store.append(vec![batch(&p, dev, readings)]).await.unwrap();
    }
    for i in 0..25 {
        expected.push(NOW - 50_000 + i * 1000);
        expected.push(NOW - 50_000 + i * 1000);
    }
    let mut got = Vec::new();
    let mut query = ReadingQuery {
        limit: 7,
        ..all_of(&p)
    };
    loop {
        let page = store.readings(&query).await.unwrap();
        got.extend(page.readings.iter().map(|r| r.t.millis()));
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    assert_eq!(got, expected);
}

async fn keeps_the_first_seal_public_key(store: SqlStore) {
    use vitalis_store::Directory;
    let (p, _) = patient_with_device(&store, 11).await;
    assert_eq!(store.seal_public_key(&p).await.unwrap(), None);
    store.set_seal_public_key(&p, [7; 32]).await.unwrap();
    // The same key again is fine; another one would orphan sealed records.
    store.set_seal_public_key(&p, [7; 32]).await.unwrap();
    assert!(matches!(
        store.set_seal_public_key(&p, [8; 32]).await,
        Err(StoreError::Conflict(what)) if what == "seal_public_key"
    ));
    assert_eq!(store.seal_public_key(&p).await.unwrap(), Some([7; 32]));
    let ghost = PatientId::new("ghost").unwrap();
    assert!(matches!(
        store.set_seal_public_key(&ghost, [7; 32]).await,
        Err(StoreError::UnknownPatient(_))
    ));
}

async fn authenticates_tokens(store: SqlStore) {
    let (p, d) = patient_with_device(&store, 9).await;
    let auth = store.device_by_token([109; 32]).await.unwrap().unwrap();
    assert_eq!((auth.device, auth.patient), (d, p.clone()));
    assert_eq!(store.patient_by_token([9; 32]).await.unwrap(), Some(p));
    assert!(store.device_by_token([9; 32]).await.unwrap().is_none());
    assert!(store.patient_by_token([1; 32]).await.unwrap().is_none());
    let ghost = PatientId::new("ghost").unwrap();
    assert!(matches!(
        store.create_device(&ghost, [3; 32]).await,
        Err(StoreError::UnknownPatient(_))
    ));
}

#[tokio::test]
async fn sqlite_data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("v.db").display());
    let store = SqlStore::open(&url, &key()).await.unwrap();
    let (p, d) = patient_with_device(&store, 4).await;
    store
        .append(vec![batch(
            &p,
            &d,
            vec![reading(Metric::Weight, NOW - 1, 70.0)],
        )])
        .await
        .unwrap();
    store.close().await;
    let store = Arc::new(SqlStore::open(&url, &key()).await.unwrap());
    assert_eq!(store.readings(&all_of(&p)).await.unwrap().readings.len(), 1);
    assert_eq!(store.head(&p).await.unwrap().0, 1);
    store.close().await;

    // The supervisor key is fixed for the life of the store.
    let other = ChameleonTrapdoor::generate(&mut ChaCha20Rng::seed_from_u64(12)).public_key();
    let err = SqlStore::open(&url, &other).await.unwrap_err();
    assert!(matches!(err, StoreError::KeyMismatch { .. }), "{err}");
}

#[tokio::test]
async fn a_correction_with_the_trapdoor_keeps_every_commitment() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("v.db").display());
    let store = SqlStore::open(&url, &key()).await.unwrap();
    let (p, d) = patient_with_device(&store, 5).await;
    for i in 0..3 {
        store
            .append(vec![batch(
                &p,
                &d,
                vec![reading(
                    Metric::HeartRate,
                    NOW - 10_000 + i,
                    60.0 + i as f64,
                )],
            )])
            .await
            .unwrap();
    }
    let mut chain = chain_of(&store, &p).await;
    verify_chain(&chain, opens).unwrap();

    // Record 2 corrected: new payload and CID, randomness adapted with the trapdoor.
    let corrected = vitalis_model::encode_payload(&[reading(Metric::HeartRate, NOW - 9_999, 71.0)]);
    let cid = vitalis_model::ContentId::of(&corrected);
    let digest = ChameleonDigest::from_bytes(chain[1].header.payload_hash.0).unwrap();
    let randomness = chameleon::adapt(
        &trapdoor(),
        &digest,
        &cid.digest(),
        &mut ChaCha20Rng::seed_from_u64(3),
    );
    chain[1].payload = corrected.clone();
    chain[1].cid = cid;
    chain[1].opening = Opening(randomness.to_bytes());
    verify_chain(&chain, opens).unwrap();

    // Without the trapdoor's adapted randomness, the new payload does not open.
    let mut forged = chain_of(&store, &p).await;
    forged[1].payload = corrected;
    forged[1].cid = cid;
    assert_eq!(
        verify_chain(&forged, opens),
        Err(vitalis_model::ChainError::PayloadHashMismatch { seq: 2 })
    );
}

async fn claims_records_into_anchors_once(store: SqlStore) {
    assert_eq!(store.claim_for_anchor(10).await.unwrap(), None);
    let (p, d) = patient_with_device(&store, 6).await;
    for i in 0..3 {
        store
            .append(vec![batch(
                &p,
                &d,
                vec![reading(Metric::HeartRate, NOW - 5_000 + i, 60.0)],
            )])
            .await
            .unwrap();
    }
    // At most two per anchor: the third record waits for the next claim.
    let first = store.claim_for_anchor(2).await.unwrap().unwrap();
    assert_eq!(first.record_count, 2);
    let second = store.claim_for_anchor(2).await.unwrap().unwrap();
    assert_eq!(second.record_count, 1);
    assert_eq!(store.claim_for_anchor(2).await.unwrap(), None);
    assert_eq!(
        store.pending_anchors().await.unwrap(),
        vec![first.clone(), second.clone()]
    );

    let on_chain = vitalis_store::AnchorOnChain {
        index: 0,
        block_number: 9,
        tx_hash: [3; 32],
    };
    store.confirm_anchor(first.id, &on_chain).await.unwrap();
    assert_eq!(store.pending_anchors().await.unwrap(), vec![second.clone()]);

    let records = store.records(&p, 0, 10).await.unwrap();
    let roots: Vec<[u8; 32]> = records
        .iter()
        .map(|r| r.anchor.as_ref().unwrap().root)
        .collect();
    assert_eq!(roots, vec![first.root, first.root, second.root]);
    assert_eq!(records[0].anchor.as_ref().unwrap().on_chain, Some(on_chain));
    assert_eq!(records[2].anchor.as_ref().unwrap().on_chain, None);
    for r in &records[..2] {
        let anchor = r.anchor.as_ref().unwrap();
        vitalis_crypto::merkle::InclusionProof::from_bytes(&anchor.proof)
            .unwrap()
            .verify(&r.commitment.0, &anchor.root)
            .unwrap();
    }
}

async fn keeps_accounts_sessions_and_tokens(store: SqlStore) {
    use vitalis_access::Role;
    use vitalis_store::Directory;
    use vitalis_store::directory::{AccountStatus, NewAccount};
    let new = |email: &str| NewAccount {
        role: Role::Patient,
        email: email.to_owned(),
        name: "n".to_owned(),
        password_hash: Some("$argon2id$x".to_owned()),
        status: AccountStatus::Active,
        institution: None,
        key: None,
    };
    let account = store.create_account(new("Ann@Example.org")).await.unwrap();
    assert_eq!(account.email, "ann@example.org");
    assert!(
        account.patient.is_some(),
        "a patient account has its patient"
    );
    assert!(matches!(
        store.create_account(new("ann@example.ORG")).await,
        Err(StoreError::Conflict(field)) if field == "email"
    ));
    let found = store
        .account_by_email(" ANN@example.org ")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, account);

    store
        .create_session([1; 32], &account.id, "csrf", NOW + 10)
        .await
        .unwrap();
    assert_eq!(
        store.session([1; 32], NOW).await.unwrap().unwrap().csrf,
        "csrf"
    );
    assert!(
        store.session([1; 32], NOW + 10).await.unwrap().is_none(),
        "expired"
    );
    store
        .set_password(&account.id, "$argon2id$y", None)
        .await
        .unwrap();
    assert!(
        store.session([1; 32], NOW).await.unwrap().is_none(),
        "a new password ends sessions"
    );

    store
        .create_api_token([2; 32], &account.id, "script", &["read".to_owned()], None)
        .await
        .unwrap();
    let (who, scopes) = store.api_token([2; 32], NOW).await.unwrap().unwrap();
    assert_eq!(
        (who.id.as_str(), scopes),
        (account.id.as_str(), vec!["read".to_owned()])
    );
    let id = store.api_tokens(&account.id).await.unwrap()[0].id.clone();
    assert!(store.revoke_api_token(&account.id, &id, NOW).await.unwrap());
    assert!(store.api_token([2; 32], NOW).await.unwrap().is_none());
}

async fn applies_section_choices_and_revokes_devices(store: SqlStore) {
    use vitalis_store::Directory;
    let (p, d) = patient_with_device(&store, 21).await;
    store
        .set_section(&p, Metric::Steps, Section::Protected)
        .await
        .unwrap();
    assert_eq!(
        store.section_choices(&p).await.unwrap(),
        vec![(Metric::Steps, Section::Protected)]
    );
    let steps = Reading::new(Metric::Steps, ts(NOW - 1000), Value::Scalar(30.0), ts(NOW)).unwrap();
    let receipt = store
        .append(vec![NewBatch {
            patient: p.clone(),
            device: d.clone(),
            idempotency_key: None,
            parts: vec![(Section::Open, vec![steps])],
            received_at: ts(NOW),
            seal: None,
        }])
        .await
        .unwrap();
    assert_eq!(
        receipt[0].records[0].section,
        Section::Protected,
        "the patient's choice wins"
    );
    assert!(store.revoke_device(&p, &d, NOW).await.unwrap());
    assert!(
        store.device_by_token([121; 32]).await.unwrap().is_none(),
        "a revoked token is refused"
    );
    assert!(
        !store.revoke_device(&p, &d, NOW).await.unwrap(),
        "revoked once"
    );
}

async fn batches_identical_access_entries_under_distinct_roots(store: SqlStore) {
    use vitalis_access::Role;
    use vitalis_store::Directory;
    use vitalis_store::directory::{AccessEntry, NewAccessEntry};
    let (p, _) = patient_with_device(&store, 22).await;
    let entry = NewAccessEntry {
        at: NOW,
        account: "acct".to_owned(),
        role: Role::Hospital,
        institution: Some("inst".to_owned()),
        patient: p.clone(),
        action: "read_protected".to_owned(),
        detail: "same".to_owned(),
        purpose: "care".to_owned(),
    };
    store
        .log_access(std::slice::from_ref(&entry))
        .await
        .unwrap();
    let first = store.claim_access_batch(100).await.unwrap().unwrap();
    store
        .log_access(std::slice::from_ref(&entry))
        .await
        .unwrap();
    let second = store.claim_access_batch(100).await.unwrap().unwrap();
    assert_ne!(first.root, second.root, "the entry id is part of the leaf");
    assert_eq!((first.first_entry, second.first_entry), (0, 1));
    let log = store.access_log(Some(&p), None, 10).await.unwrap();
    assert_eq!(log.len(), 2);
    for e in &log {
        let batch = e.batch.as_ref().unwrap();
        let proof = vitalis_crypto::merkle::InclusionProof::from_bytes(&batch.proof).unwrap();
        proof
            .verify(&AccessEntry::leaf(e.id, &e.entry_hash), &batch.root)
            .unwrap();
    }
}

/// A patient's keys as a reader: opens the epochs wrapped for them.
struct PatientKeys(PatientSecretKey);

impl RecordKeys for PatientKeys {
    fn epoch_key(&self, epoch: &SealEpoch) -> Option<DataKey> {
        envelope::unwrap_for_patient(&self.0, &epoch.patient_wrap, &epoch_context(&epoch.patient))
            .ok()
    }
}

/// Starts an epoch for `patient` wrapped for `secret`'s holder.
async fn epoch_for(store: &SqlStore, patient: &PatientId, secret: &PatientSecretKey) -> SealKey {
    let key = DataKey::generate(&mut rand::rng());
    let patient_wrap = envelope::wrap_for_patient(
        secret.public_key(),
        &key,
        &epoch_context(patient),
        &mut rand::rng(),
    );
    let epoch = store
        .create_seal_epoch(&NewSealEpoch {
            patient: patient.clone(),
            patient_wrap,
            policy: None,
            policy_wrap: None,
            created_at: NOW,
        })
        .await
        .unwrap();
    SealKey { epoch, key }
}

async fn seals_protected_records_for_their_readers(store: SqlStore) {
    let (p, d) = patient_with_device(&store, 61).await;
    let secret = PatientSecretKey::from_seed(&[61; 32]);
    let seal = epoch_for(&store, &p, &secret).await;
    let heart: Vec<Reading> = (0..120)
        .map(|i| {
            reading(
                Metric::HeartRate,
                NOW - 7_200_000 + i * 60_000,
                60.0 + i as f64,
            )
        })
        .collect();
    let steps = reading(Metric::Steps, NOW - 60_000, 4321.0);
    let mut batch = batch(&p, &d, [heart.clone(), vec![steps]].concat());
    batch.seal = Some(seal.clone());
    let receipt = store.append(vec![batch.clone()]).await.unwrap().remove(0);
    assert_eq!(receipt.accepted, 121);

    // The protected record is sealed: its stored bytes are not the plain payload, yet the
    // chain (CIDs, payload hashes, commitments) verifies without opening anything.
    let records = store.records(&p, 0, 10).await.unwrap();
    let protected = records
        .iter()
        .find(|r| r.header.section == Section::Protected)
        .unwrap();
    let open = records
        .iter()
        .find(|r| r.header.section == Section::Open)
        .unwrap();
    assert!(vitalis_model::is_sealed(protected.header.encoding));
    assert!(!vitalis_model::is_sealed(open.header.encoding));
    let stored = store.blob(&protected.cid).await.unwrap().unwrap();
    let plain = vitalis_model::encode_payload(&heart);
    assert_ne!(stored, plain);
    assert!(!String::from_utf8_lossy(&stored).contains("heart_rate"));
    verify_chain(&chain_of(&store, &p).await, opens).unwrap();

    // Without keys, a page that holds a sealed reading is refused; the open section reads.
    let mut query = all_of(&p);
    assert!(matches!(
        store.readings(&query).await,
        Err(StoreError::Sealed { record }) if record == protected.id.to_string()
    ));
    query.sections = Some(vec![Section::Open]);
    let page = store.readings(&query).await.unwrap();
    assert_eq!(page.readings.len(), 1);
    assert_eq!(page.readings[0].value, Value::Scalar(4321.0));

    // Another patient's key does not open it; the patient's does, value for value.
    query.sections = None;
    query.keys = Some(ReaderKeys(Arc::new(PatientKeys(
        PatientSecretKey::from_seed(&[62; 32]),
    ))));
    assert!(matches!(
        store.readings(&query).await,
        Err(StoreError::Sealed { .. })
    ));
    let keys = ReaderKeys(Arc::new(PatientKeys(secret)));
    query.keys = Some(keys.clone());
    query.metric = Some(Metric::HeartRate);
    let page = store.readings(&query).await.unwrap();
    let values: Vec<Value> = page.readings.iter().map(|r| r.value).collect();
    let expected: Vec<Value> = heart.iter().map(|r| r.value()).collect();
    assert_eq!(values, expected);
    assert_eq!(
        *store.open_payload(protected, Some(&keys)).await.unwrap(),
        plain
    );
    assert!(matches!(
        store.open_payload(protected, None).await,
        Err(StoreError::Sealed { .. })
    ));

    // Duplicates are still recognised without the values.
    let again = store.append(vec![batch]).await.unwrap().remove(0);
    assert_eq!((again.accepted, again.duplicates), (0, 121));

    // Rollups of sealed readings: minute buckets and wider groups, as if plain.
    use vitalis_store::Analysis;
    let minutes = store
        .rollups(&p, Metric::HeartRate, NOW - 7_200_000, NOW)
        .await
        .unwrap();
    assert_eq!(minutes.len(), 120);
    assert_eq!(minutes[0].mean(), 60.0);
    let hours = store
        .rollups_grouped(&p, Metric::HeartRate, 0, NOW, 3_600_000)
        .await
        .unwrap();
    assert_eq!(hours.iter().map(|b| b.n).sum::<u64>(), 120);
    let total: f64 = hours.iter().map(|b| b.sum).sum();
    assert_eq!(total, (0..120).map(|i| 60.0 + i as f64).sum::<f64>());
    assert_eq!(hours.iter().map(|b| b.max).fold(0.0, f64::max), 179.0);
}

/// A copy of the SQLite file (and its write-ahead log) holds no protected value: each
/// heart-rate value is looked for in every form SQLite or the payload could store it,
/// and an open value is found the same way, so the search itself can fail.
#[tokio::test]
async fn a_copied_database_file_reveals_no_sealed_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vitalis.db");
    let store = SqlStore::open(&format!("sqlite://{}", path.display()), &key())
        .await
        .unwrap()
        .with_rollup_key(rollup_key());
    let (p, d) = patient_with_device(&store, 71).await;
    let seal = epoch_for(&store, &p, &PatientSecretKey::from_seed(&[71; 32])).await;
    let odd = |i: i64| 97.0 + i as f64 / 8.0 + 0.0625;
    let heart: Vec<Reading> = (0..50)
        .map(|i| reading(Metric::HeartRate, NOW - 3_600_000 + i * 1000, odd(i)))
        .collect();
    let steps = reading(Metric::Steps, NOW - 60_000, 4321.0);
    let mut batch = batch(&p, &d, [heart, vec![steps]].concat());
    batch.seal = Some(seal);
    store.append(vec![batch]).await.unwrap();
    store.close().await;

    let mut bytes = std::fs::read(&path).unwrap();
    if let Ok(wal) = std::fs::read(dir.path().join("vitalis.db-wal")) {
        bytes.extend(wal);
    }
    let holds = |v: f64| {
        let forms = [
            v.to_be_bytes().to_vec(),
            v.to_le_bytes().to_vec(),
            format!("{v}").into_bytes(),
            format!("{v:?}").into_bytes(),
        ];
        forms
            .iter()
            .any(|form| bytes.windows(form.len()).any(|w| w == form.as_slice()))
    };
    assert!(holds(4321.0), "the open steps value is stored in plain");
    for i in 0..50 {
        assert!(!holds(odd(i)), "heart rate {} found in the file", odd(i));
    }
}

/// A patient's account (with its patient) signed up as `email`.
async fn patient_account(store: &SqlStore, email: &str) -> vitalis_store::directory::Account {
    use vitalis_store::Directory;
    use vitalis_store::directory::{AccountStatus, NewAccount};
    store
        .create_account(NewAccount {
            role: vitalis_access::Role::Patient,
            email: email.to_owned(),
            name: email.to_owned(),
            password_hash: Some("$argon2id$x".to_owned()),
            status: AccountStatus::Active,
            institution: None,
            key: None,
        })
        .await
        .unwrap()
}

async fn erases_a_patient_but_keeps_the_commitments(store: SqlStore) {
    use vitalis_store::Directory;
    use vitalis_store::directory::AccountStatus;
    let account = patient_account(&store, "gone@example.org").await;
    let p = account.patient.clone().unwrap();
    let d = store.create_device(&p, [81; 32]).await.unwrap();
    let (other, other_device) = patient_with_device(&store, 82).await;
    let readings = vec![
        reading(Metric::HeartRate, NOW - 60_000, 70.0),
        reading(Metric::Steps, NOW - 60_000, 100.0),
    ];
    store
        .append(vec![
            batch(&p, &d, readings.clone()),
            batch(&other, &other_device, readings),
        ])
        .await
        .unwrap();
    let before = store.records(&p, 0, 10).await.unwrap();
    let erased = store.erase_patient(&account.id, &p, NOW).await.unwrap();
    assert_eq!(erased.records_kept, before.len() as u64);
    assert_eq!(erased.readings, 2);
    // Identical payloads of another patient share a CID: those bytes stay.
    let after = store.records(&p, 0, 10).await.unwrap();
    assert_eq!(
        after.iter().map(|r| r.commitment).collect::<Vec<_>>(),
        before.iter().map(|r| r.commitment).collect::<Vec<_>>()
    );
    assert!(
        store
            .readings(&all_of(&p))
            .await
            .unwrap()
            .readings
            .is_empty()
    );
    assert_eq!(
        store
            .readings(&all_of(&other))
            .await
            .unwrap()
            .readings
            .len(),
        2
    );
    assert!(
        store
            .account_by_email("gone@example.org")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.account(&account.id).await.unwrap().unwrap().status,
        AccountStatus::Deleted
    );
    // The device's token no longer authenticates, and the device is listed as revoked.
    assert!(store.device_by_token([81; 32]).await.unwrap().is_none());
    assert!(
        store
            .devices(&p)
            .await
            .unwrap()
            .iter()
            .all(|d| d.revoked_at.is_some())
    );
    // Another patient's account cannot be erased through this one.
    assert!(store.erase_patient(&account.id, &other, NOW).await.is_err());

    // A payload only this patient had is gone.
    let (p3, d3) = {
        let account = patient_account(&store, "alone@example.org").await;
        let p = account.patient.clone().unwrap();
        let d = store.create_device(&p, [83; 32]).await.unwrap();
        store
            .append(vec![batch(
                &p,
                &d,
                vec![reading(Metric::HeartRate, NOW - 5_000, 91.5)],
            )])
            .await
            .unwrap();
        store.erase_patient(&account.id, &p, NOW).await.unwrap();
        (p, d)
    };
    let _ = d3;
    for r in store.records(&p3, 0, 10).await.unwrap() {
        assert!(
            store.blob(&r.cid).await.unwrap().is_none(),
            "payload erased"
        );
    }
}
