//! Sealing end to end on a real store: the sealer starts epochs for the patient and for
//! the institutions holding consent, records are sealed, and each reader opens exactly
//! what its keys allow (the patient by HPKE, institutions by CP-ABE attribute keys).

use std::sync::Arc;

use vitalis_access::Role;
use vitalis_crypto::chameleon::ChameleonTrapdoor;
use vitalis_crypto::envelope::{DataKey, PatientSecretKey};
use vitalis_ingest::sealer::{
    InstitutionReader, PatientReader, Sealer, institution_attributes, issue_attribute_key,
    open_attribute_key,
};
use vitalis_model::{Metric, PatientId, Reading, Section, Timestamp, Value};
use vitalis_store::directory::{
    AccountStatus, ConsentRecord, NewAccount, NewInstitution, SealedKey,
};
use vitalis_store::sealing::RecordKeys;
use vitalis_store::{Directory, NewBatch, ReaderKeys, ReadingQuery, SqlStore, Store, StoreError};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn institution(store: &SqlStore, email: &str, role: Role, n: u8) -> String {
    let account = store
        .create_account(NewAccount {
            role,
            email: email.to_owned(),
            name: email.to_owned(),
            password_hash: None,
            status: AccountStatus::Active,
            institution: Some(NewInstitution {
                name: email.to_owned(),
            }),
            // Its chain account; sealed bytes that nothing here opens.
            key: Some(SealedKey {
                address: [n; 20],
                by_password: vec![n],
                by_recovery: vec![n],
            }),
        })
        .await
        .unwrap();
    account.institution.unwrap()
}

async fn grant(store: &SqlStore, patient: &PatientId, institution: &str, n: u8) -> [u8; 32] {
    let grant_id = [n; 32];
    store
        .put_consent(&ConsentRecord {
            grant_id,
            patient: patient.clone(),
            institution: institution.to_owned(),
            access: 1,
            sections: 3,
            metrics: Vec::new(),
            purpose: "care".to_owned(),
            expires_at: now() + 86_400_000,
            created_at: now(),
            block_number: 1,
            tx_hash: [n; 32],
            revoked_at: None,
            revoke_tx: None,
        })
        .await
        .unwrap();
    grant_id
}

fn heart(t0: i64, n: i64) -> Vec<Reading> {
    let now = Timestamp::new(now()).unwrap();
    (0..n)
        .map(|i| {
            Reading::new(
                Metric::HeartRate,
                Timestamp::new(t0 + i * 1000).unwrap(),
                Value::Scalar(70.0 + i as f64),
                now,
            )
            .unwrap()
        })
        .collect()
}

async fn read_heart(
    store: &SqlStore,
    patient: &PatientId,
    keys: Arc<dyn RecordKeys>,
) -> Result<usize, StoreError> {
    let page = store
        .readings(&ReadingQuery {
            patient: patient.clone(),
            metric: Some(Metric::HeartRate),
            metrics: None,
            sections: None,
            from: Timestamp::new(0).unwrap(),
            to: Timestamp::new(now()).unwrap(),
            after: None,
            limit: 10_000,
            keys: Some(ReaderKeys(keys)),
        })
        .await?;
    Ok(page.readings.len())
}

#[tokio::test]
async fn institutions_open_exactly_what_consent_and_attributes_allow() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("vitalis.db").display());
    let trapdoor = ChameleonTrapdoor::generate(&mut rand::rng());
    let store = SqlStore::open(&url, &trapdoor.public_key())
        .await
        .unwrap()
        .with_rollup_key(DataKey::generate(&mut rand::rng()));
    let shared: Arc<dyn Store> = Arc::new(store.clone());
    let (authority, master) = vitalis_abe::setup(&mut rand::rng());
    let sealer = Sealer::new(shared, authority);

    let patient = store.create_patient([1; 32]).await.unwrap();
    let device = store.create_device(&patient, [2; 32]).await.unwrap();
    let h1 = institution(&store, "h1@example.org", Role::Hospital, 1).await;
    let h2 = institution(&store, "h2@example.org", Role::Hospital, 2).await;
    let e1 = institution(&store, "e1@example.org", Role::Enterprise, 3).await;
    // Each institution's account key opens the attribute key issued to it, and no other.
    let key_of = |id: &str, role| {
        let account = PatientSecretKey::generate(&mut rand::rng());
        let issued = issue_attribute_key(
            &master,
            &format!("acct-{id}"),
            id,
            &institution_attributes(id, role),
            account.public_key(),
            now(),
        )
        .unwrap();
        let stranger = PatientSecretKey::generate(&mut rand::rng());
        assert!(open_attribute_key(&issued, &stranger).is_none());
        let key = open_attribute_key(&issued, &account).unwrap();
        assert_eq!(
            key.attributes(),
            ["role:".to_owned() + role.name(), "org:".to_owned() + id]
        );
        Arc::new(InstitutionReader(key))
    };
    let (h1_keys, h2_keys, e1_keys) = (
        key_of(&h1, Role::Hospital),
        key_of(&h2, Role::Hospital),
        key_of(&e1, Role::Enterprise),
    );

    // No sealing key published yet: nothing to seal under, records stay plain.
    assert!(sealer.key_for(&patient).await.unwrap().is_none());
    let secret = PatientSecretKey::from_seed(&[9; 32]);
    store
        .set_seal_public_key(&patient, secret.public_key().to_bytes())
        .await
        .unwrap();
    grant(&store, &patient, &h1, 1).await;
    grant(&store, &patient, &e1, 2).await; // an enterprise never reads protected data

    let append = |readings: Vec<Reading>, seal| {
        let store = store.clone();
        let (patient, device) = (patient.clone(), device.clone());
        async move {
            store
                .append(vec![NewBatch {
                    patient,
                    device,
                    idempotency_key: None,
                    parts: vec![(Section::Protected, readings)],
                    received_at: Timestamp::new(now()).unwrap(),
                    seal,
                }])
                .await
                .unwrap()
        }
    };
    let t0 = now() - 3_600_000;
    let seal = sealer.key_for(&patient).await.unwrap().unwrap();
    assert_eq!(
        sealer.key_for(&patient).await.unwrap().unwrap().epoch,
        seal.epoch,
        "one epoch until forgotten"
    );
    append(heart(t0, 30), Some(seal)).await;

    let records = store.records(&patient, 0, 10).await.unwrap();
    assert!(vitalis_model::is_sealed(records[0].header.encoding));
    let patient_keys = Arc::new(PatientReader(secret));
    assert_eq!(
        read_heart(&store, &patient, patient_keys.clone())
            .await
            .unwrap(),
        30
    );
    assert_eq!(
        read_heart(&store, &patient, h1_keys.clone()).await.unwrap(),
        30
    );
    for outsider in [h2_keys.clone(), e1_keys.clone()] {
        let read = read_heart(&store, &patient, outsider).await;
        assert!(matches!(read, Err(StoreError::Sealed { .. })), "{read:?}");
    }

    // The patient consents to h2 as well: from the next epoch on, h2 opens new records;
    // the earlier epoch is still sealed to h1 alone until it is wrapped again.
    grant(&store, &patient, &h2, 3).await;
    sealer.forget(&patient);
    let seal = sealer.key_for(&patient).await.unwrap().unwrap();
    append(heart(t0 + 100_000, 30), Some(seal)).await;
    assert_eq!(
        read_heart(&store, &patient, patient_keys.clone())
            .await
            .unwrap(),
        60
    );
    assert_eq!(
        read_heart(&store, &patient, h1_keys.clone()).await.unwrap(),
        60
    );
    assert!(matches!(
        read_heart(&store, &patient, h2_keys.clone()).await,
        Err(StoreError::Sealed { .. })
    ));
    let epochs = store.seal_epochs(&patient).await.unwrap();
    assert_eq!(epochs.len(), 2);
    let policy = epochs[1].policy.as_deref().unwrap();
    assert!(policy.contains(&h1) && policy.contains(&h2) && !policy.contains(&e1));

    // Wrapping the earlier epochs again (the patient's key) gives h2 the earlier records
    // too, without touching a record.
    let cids: Vec<_> = store
        .records(&patient, 0, 10)
        .await
        .unwrap()
        .iter()
        .map(|r| r.cid)
        .collect();
    let progress = sealer.rewrap(&patient, &patient_keys.0).await.unwrap();
    assert_eq!((progress.done, progress.total), (2, 2));
    assert_eq!(sealer.progress(&patient), Some(progress));
    assert_eq!(
        read_heart(&store, &patient, h2_keys.clone()).await.unwrap(),
        60
    );
    let after: Vec<_> = store
        .records(&patient, 0, 10)
        .await
        .unwrap()
        .iter()
        .map(|r| r.cid)
        .collect();
    assert_eq!(cids, after);

    // h1 is revoked and the epochs wrapped again: h1 opens nothing any more.
    let grant_h1 = [1u8; 32];
    store.revoke_consent(grant_h1, now()).await.unwrap();
    sealer.rewrap(&patient, &patient_keys.0).await.unwrap();
    assert!(matches!(
        read_heart(&store, &patient, h1_keys.clone()).await,
        Err(StoreError::Sealed { .. })
    ));
    assert_eq!(read_heart(&store, &patient, h2_keys).await.unwrap(), 60);
    assert_eq!(
        read_heart(&store, &patient, patient_keys).await.unwrap(),
        60
    );
}
