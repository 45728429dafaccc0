//! [`SqlStore`]'s side of sealing (see [`crate::sealing`]): sealing a protected record's
//! payload inside the append transaction, opening sealed records for a reader, epochs,
//! and the sealed minute rollups.

use std::collections::{BTreeMap, HashMap};

use sqlx::{AnyConnection, Row};
use vitalis_crypto::envelope::{self, DataKey};
use vitalis_model::{
    Metric, PatientId, Reading, RecordId, Section, Timestamp, Value, decode_payload, is_sealed,
    sealing_context,
};
use zeroize::Zeroizing;

use crate::analysis::RollupBucket;
use crate::sealing::{
    EpochCache, HOUR_MS, NewSealEpoch, RecordKeys, SealEpoch, SealKey, open_rollup_hour,
    seal_rollup_hour,
};
use crate::sql::{
    RECORD_COLUMNS, RECORD_FROM, SqlStore, corrupt, sequential_placeholders, stored_record,
};
use crate::sql_analysis::buckets_of;
use crate::{Result, StoreError, StoredRecord};

/// Records opened per query.
const OPEN_CHUNK: usize = 500;

/// A record as stored, with its payload bytes and (sealed) its epoch and wrapped key.
struct StoredRow {
    record: StoredRecord,
    bytes: Option<Vec<u8>>,
    key: Option<(i64, Vec<u8>)>,
}

/// A payload sealed for storage, with its data key wrapped under the epoch key.
pub(crate) struct SealedPayload {
    pub(crate) bytes: Vec<u8>,
    pub(crate) epoch: i64,
    pub(crate) wrapped_key: Vec<u8>,
}

/// Seals `payload` under a fresh data key bound to the record's identity, and wraps that
/// key under the epoch key with the same binding.
pub(crate) fn seal(
    seal: &SealKey,
    patient: &PatientId,
    seq: u64,
    section: Section,
    t_from: Timestamp,
    t_to: Timestamp,
    payload: &[u8],
) -> SealedPayload {
    let context = sealing_context(patient, seq, section, t_from, t_to);
    let mut rng = rand::rng();
    let data_key = DataKey::generate(&mut rng);
    SealedPayload {
        bytes: envelope::seal_payload(&data_key, &context, payload, &mut rng),
        epoch: seal.epoch,
        wrapped_key: envelope::wrap_with_key(&seal.key, &data_key, &context, &mut rng),
    }
}

fn epoch_from(row: &sqlx::any::AnyRow) -> Result<SealEpoch> {
    Ok(SealEpoch {
        id: row.try_get("id")?,
        patient: PatientId::new(row.try_get::<String, _>("patient_id")?).map_err(corrupt)?,
        patient_wrap: row.try_get("patient_wrap")?,
        policy: row.try_get("policy")?,
        policy_wrap: row.try_get("policy_wrap")?,
        created_at: row.try_get("created_at")?,
    })
}

impl SqlStore {
    /// Stores a sealed record's wrapped data key (inside the record's transaction).
    pub(crate) async fn insert_record_key(
        &self,
        conn: &mut AnyConnection,
        record: &RecordId,
        sealed: &SealedPayload,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO record_keys (record_id, epoch_id, wrapped_key) VALUES ($1, $2, $3)",
        )
        .bind(record.as_str())
        .bind(sealed.epoch)
        .bind(sealed.wrapped_key.clone())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Adds a sealed record's readings to the sealed rollups: one row per metric and hour,
    /// under the rollup key.
    pub(crate) async fn add_to_sealed_rollups(
        &self,
        conn: &mut AnyConnection,
        patient: &PatientId,
        record: &RecordId,
        readings: &[Reading],
    ) -> Result<()> {
        let key = self.rollup_key()?;
        let mut hours: BTreeMap<(Metric, i64), Vec<RollupBucket>> = BTreeMap::new();
        for ((metric, _), bucket) in buckets_of(readings) {
            hours
                .entry((metric, bucket.bucket.div_euclid(HOUR_MS) * HOUR_MS))
                .or_default()
                .push(bucket);
        }
        let rows: Vec<_> = hours.into_iter().collect();
        for chunk in rows.chunks(200) {
            let sql = format!(
                "INSERT INTO sealed_rollups (patient_id, metric, hour, record_id, sealed) VALUES {}",
                sequential_placeholders(self.backend, 5, chunk.len())
            );
            let mut insert = sqlx::query(&sql);
            for ((metric, hour), buckets) in chunk {
                let sealed =
                    seal_rollup_hour(key, patient, *metric, *hour, record.as_str(), buckets);
                insert = insert
                    .bind(patient.as_str())
                    .bind(metric.name())
                    .bind(*hour)
                    .bind(record.as_str())
                    .bind(sealed);
            }
            insert.execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// The minute buckets of a patient's sealed readings of `metric` in `[from, to]`,
    /// merged by minute. Empty when the store keeps no sealed rollups for it.
    pub(crate) async fn sealed_minutes(
        &self,
        patient: &PatientId,
        metric: Metric,
        from: i64,
        to: i64,
    ) -> Result<Vec<RollupBucket>> {
        let rows = sqlx::query(
            "SELECT hour, record_id, sealed FROM sealed_rollups \
             WHERE patient_id = $1 AND metric = $2 AND hour >= $3 AND hour <= $4",
        )
        .bind(patient.as_str())
        .bind(metric.name())
        .bind(from.div_euclid(HOUR_MS) * HOUR_MS)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let key = self.rollup_key()?;
        let first_minute =
            from.div_euclid(crate::analysis::ROLLUP_BUCKET_MS) * crate::analysis::ROLLUP_BUCKET_MS;
        let mut parts = Vec::new();
        for row in &rows {
            let hour: i64 = row.try_get("hour")?;
            let record: String = row.try_get("record_id")?;
            let sealed: Vec<u8> = row.try_get("sealed")?;
            parts.extend(
                open_rollup_hour(key, patient, metric, hour, &record, &sealed)?
                    .into_iter()
                    .filter(|b| b.bucket >= first_minute && b.bucket <= to),
            );
        }
        Ok(crate::sealing::merge_minutes(parts).into_values().collect())
    }

    /// The values of sealed readings, opened with the reader's keys: for each record in
    /// `records`, its readings by (metric, time). Records, payloads and wrapped keys are
    /// read a chunk of records per query, each epoch once.
    pub(crate) async fn open_sealed_readings(
        &self,
        records: &[RecordId],
        keys: &dyn RecordKeys,
    ) -> Result<HashMap<RecordId, HashMap<(Metric, i64), Value>>> {
        let mut cache = EpochCache::new(keys);
        let mut epochs: HashMap<i64, SealEpoch> = HashMap::new();
        // Stored readings were validated when they came in; their time is not judged
        // against today's clock again.
        let stored = Timestamp::new(i64::MAX).map_err(corrupt)?;
        let mut out = HashMap::with_capacity(records.len());
        for chunk in records.chunks(OPEN_CHUNK) {
            for row in self.stored_rows(chunk).await? {
                let payload = self.open_row(&row, &mut cache, &mut epochs).await?;
                let id = &row.record.id;
                let readings = decode_payload(&payload, stored)
                    .map_err(|e| corrupt(format!("record {id}: {e}")))?;
                out.insert(
                    id.clone(),
                    readings
                        .into_iter()
                        .map(|r| ((r.metric(), r.t().millis()), r.value()))
                        .collect(),
                );
            }
        }
        Ok(out)
    }

    /// The records `ids` with their stored bytes and wrapped keys, in one query.
    async fn stored_rows(&self, ids: &[RecordId]) -> Result<Vec<StoredRow>> {
        let sql = format!(
            "SELECT {RECORD_COLUMNS}, b.bytes, k.epoch_id, k.wrapped_key FROM {RECORD_FROM} \
             LEFT JOIN blobs b ON b.cid = r.cid LEFT JOIN record_keys k ON k.record_id = r.id \
             WHERE r.id IN ({})",
            sequential_placeholders(self.backend, 1, ids.len())
        );
        let mut query = sqlx::query(&sql);
        for id in ids {
            query = query.bind(id.as_str());
        }
        let rows = query.fetch_all(&self.pool).await?;
        if rows.len() != ids.len() {
            return Err(corrupt("an indexed record is missing"));
        }
        rows.iter()
            .map(|row| {
                let key = match row.try_get::<Option<i64>, _>("epoch_id")? {
                    Some(epoch) => Some((epoch, row.try_get::<Vec<u8>, _>("wrapped_key")?)),
                    None => None,
                };
                Ok(StoredRow {
                    record: stored_record(row)?,
                    bytes: row.try_get("bytes")?,
                    key,
                })
            })
            .collect()
    }

    /// Opens a record's payload (plain records as stored).
    async fn open_row(
        &self,
        row: &StoredRow,
        cache: &mut EpochCache<'_>,
        epochs: &mut HashMap<i64, SealEpoch>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let record = &row.record;
        let stored = row
            .bytes
            .clone()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| corrupt(format!("record {}: payload missing", record.id)))?;
        if !is_sealed(record.header.encoding) {
            return Ok(Zeroizing::new(stored));
        }
        let (epoch_id, wrapped) = row
            .key
            .as_ref()
            .ok_or_else(|| corrupt(format!("record {}: wrapped key missing", record.id)))?;
        let epoch = match epochs.entry(*epoch_id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let row = sqlx::query(
                    "SELECT id, patient_id, patient_wrap, policy, policy_wrap, created_at \
                     FROM seal_epochs WHERE id = $1",
                )
                .bind(*epoch_id)
                .fetch_one(&self.pool)
                .await?;
                e.insert(epoch_from(&row)?)
            }
        };
        let sealed = || StoreError::Sealed {
            record: record.id.to_string(),
        };
        if epoch.patient != record.header.patient {
            return Err(corrupt(format!(
                "record {}: epoch of another patient",
                record.id
            )));
        }
        let epoch_key = cache.key(epoch).ok_or_else(sealed)?;
        let h = &record.header;
        let context = sealing_context(&h.patient, h.seq, h.section, h.t_from, h.t_to);
        let data_key =
            envelope::unwrap_with_key(&epoch_key, wrapped, &context).map_err(|_| sealed())?;
        envelope::open_payload(&data_key, &context, &stored)
            .map_err(|e| corrupt(format!("record {}: {e}", record.id)))
    }

    pub(crate) async fn create_seal_epoch_row(&self, epoch: &NewSealEpoch) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO seal_epochs (patient_id, patient_wrap, policy, policy_wrap, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(epoch.patient.as_str())
        .bind(epoch.patient_wrap.clone())
        .bind(epoch.policy.clone())
        .bind(epoch.policy_wrap.clone())
        .bind(epoch.created_at)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
                StoreError::UnknownPatient(epoch.patient.to_string())
            }
            _ => StoreError::Database(e),
        })?;
        Ok(row.try_get("id")?)
    }

    pub(crate) async fn seal_epoch_rows(&self, patient: &PatientId) -> Result<Vec<SealEpoch>> {
        let rows = sqlx::query(
            "SELECT id, patient_id, patient_wrap, policy, policy_wrap, created_at \
             FROM seal_epochs WHERE patient_id = $1 ORDER BY id",
        )
        .bind(patient.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(epoch_from).collect()
    }

    pub(crate) async fn rewrap_seal_epoch_row(
        &self,
        id: i64,
        policy: Option<&str>,
        policy_wrap: Option<&[u8]>,
    ) -> Result<()> {
        let done =
            sqlx::query("UPDATE seal_epochs SET policy = $1, policy_wrap = $2 WHERE id = $3")
                .bind(policy.map(str::to_owned))
                .bind(policy_wrap.map(<[u8]>::to_vec))
                .bind(id)
                .execute(&self.pool)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Invalid(format!("no sealing epoch {id}")));
        }
        Ok(())
    }

    pub(crate) async fn open_payload_of(
        &self,
        record: &StoredRecord,
        keys: Option<&dyn RecordKeys>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        struct NoKeys;
        impl RecordKeys for NoKeys {
            fn epoch_key(&self, _: &SealEpoch) -> Option<DataKey> {
                None
            }
        }
        let keys = keys.unwrap_or(&NoKeys);
        let row = self
            .stored_rows(std::slice::from_ref(&record.id))
            .await?
            .pop()
            .ok_or_else(|| corrupt(format!("record {} missing", record.id)))?;
        self.open_row(&row, &mut EpochCache::new(keys), &mut HashMap::new())
            .await
    }

    pub(crate) async fn put_attribute_key_row(
        &self,
        key: &crate::sealing::AttributeKeyRecord,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO attribute_keys (account_id, institution_id, attributes, wrapped_key, \
             sealed_key, issued_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (account_id) DO UPDATE SET institution_id = excluded.institution_id, \
             attributes = excluded.attributes, wrapped_key = excluded.wrapped_key, \
             sealed_key = excluded.sealed_key, issued_at = excluded.issued_at, revoked_at = NULL",
        )
        .bind(key.account.as_str())
        .bind(key.institution.as_str())
        .bind(key.attributes.join(" "))
        .bind(key.wrapped_key.clone())
        .bind(key.sealed_key.clone())
        .bind(key.issued_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(crate) async fn attribute_key_rows(
        &self,
        account: Option<&str>,
    ) -> Result<Vec<crate::sealing::AttributeKeyRecord>> {
        let sql = "SELECT account_id, institution_id, attributes, wrapped_key, sealed_key, \
                   issued_at FROM attribute_keys WHERE revoked_at IS NULL";
        let rows = match account {
            Some(account) => {
                sqlx::query(&format!("{sql} AND account_id = $1"))
                    .bind(account)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query(&format!("{sql} ORDER BY issued_at"))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter()
            .map(|row| {
                Ok(crate::sealing::AttributeKeyRecord {
                    account: row.try_get("account_id")?,
                    institution: row.try_get("institution_id")?,
                    attributes: row
                        .try_get::<String, _>("attributes")?
                        .split_whitespace()
                        .map(str::to_owned)
                        .collect(),
                    wrapped_key: row.try_get("wrapped_key")?,
                    sealed_key: row.try_get("sealed_key")?,
                    issued_at: row.try_get("issued_at")?,
                })
            })
            .collect()
    }

    pub(crate) async fn erase_patient_rows(
        &self,
        account: &str,
        patient: &PatientId,
        at: i64,
    ) -> Result<crate::sealing::Erasure> {
        let mut tx = self.begin_write().await?;
        let p = patient.as_str();
        let owner = sqlx::query("SELECT patient_id FROM accounts WHERE id = $1")
            .bind(account)
            .fetch_optional(&mut *tx)
            .await?;
        let owner: Option<String> = match owner {
            Some(row) => row.try_get("patient_id")?,
            None => None,
        };
        if owner.as_deref() != Some(p) {
            return Err(StoreError::Invalid(format!(
                "account {account} is not patient {patient}'s"
            )));
        }
        // Payloads no other patient's record shares are emptied: the row stays for the
        // records' references, the bytes go (an empty blob reads as absent).
        let payloads = sqlx::query(
            "UPDATE blobs SET bytes = $2 WHERE cid IN (SELECT cid FROM records WHERE patient_id = $1) \
             AND cid NOT IN (SELECT cid FROM records WHERE patient_id <> $1) AND length(bytes) > 0",
        )
        .bind(p)
        .bind(Vec::<u8>::new())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let readings = sqlx::query("DELETE FROM readings WHERE patient_id = $1")
            .bind(p)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        for sql in [
            "DELETE FROM rollups WHERE patient_id = $1",
            "DELETE FROM sealed_rollups WHERE patient_id = $1",
            "DELETE FROM record_keys WHERE record_id IN (SELECT id FROM records WHERE patient_id = $1)",
            "DELETE FROM seal_epochs WHERE patient_id = $1",
            "DELETE FROM alerts WHERE patient_id = $1",
            "DELETE FROM alert_rules WHERE patient_id = $1",
            "DELETE FROM patient_sections WHERE patient_id = $1",
            "DELETE FROM pairing_codes WHERE patient_id = $1",
            "DELETE FROM idempotency WHERE device_id IN (SELECT id FROM devices WHERE patient_id = $1)",
        ] {
            sqlx::query(sql).bind(p).execute(&mut *tx).await?;
        }
        for sql in [
            "DELETE FROM sessions WHERE account_id = $1",
            "DELETE FROM api_tokens WHERE account_id = $1",
        ] {
            sqlx::query(sql).bind(account).execute(&mut *tx).await?;
        }
        sqlx::query(
            "UPDATE devices SET revoked_at = COALESCE(revoked_at, $1), public_key = NULL, name = '' \
             WHERE patient_id = $2",
        )
        .bind(at)
        .bind(p)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE consents SET revoked_at = $1 WHERE patient_id = $2 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(p)
        .execute(&mut *tx)
        .await?;
        // The script token's hash is replaced by one nobody holds a token for.
        let mut unused = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut unused);
        sqlx::query(
            "UPDATE patients SET token_hash = $1, region = NULL, birth_year = NULL, sex = NULL, \
             resting_hr = NULL, seal_public_key = NULL, access_policy = NULL WHERE id = $2",
        )
        .bind(unused.to_vec())
        .bind(p)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE accounts SET email = $1, name = '', password_hash = NULL, key_address = NULL, \
             key_sealed = NULL, key_recovery = NULL, status = 'deleted' WHERE id = $2",
        )
        .bind(format!("deleted-{account}@deleted.invalid"))
        .bind(account)
        .execute(&mut *tx)
        .await?;
        let kept = sqlx::query("SELECT COUNT(*) AS n FROM records WHERE patient_id = $1")
            .bind(p)
            .fetch_one(&mut *tx)
            .await?
            .try_get::<i64, _>("n")?;
        tx.commit().await?;
        Ok(crate::sealing::Erasure {
            payloads,
            readings,
            records_kept: kept as u64,
        })
    }
}
