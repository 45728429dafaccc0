//! [`SqlStore`]: the [`Store`] on SQLite or PostgreSQL through sqlx's `Any` driver.
//!
//! Both backends take the same SQL text (`$n` placeholders); where they differ
//! ([`Backend`]) is how a write transaction begins and how a patient's chain head is
//! locked. SQLite serialises writers with `BEGIN IMMEDIATE`; PostgreSQL locks the
//! patient row with `FOR UPDATE`, taking locks in patient-id order so that concurrent
//! nodes cannot deadlock.

use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, Executor, Row};
use vitalis_crypto::chameleon::{self, ChameleonPublicKey};
use vitalis_model::{
    Commitment, ContentId, DeviceId, ENCODING_SEALED, ENCODING_V1, Metric, Opening, PatientId,
    PayloadHash, Position, Reading, RecordHeader, RecordId, Section, SleepStage, Timestamp, Value,
    encode_payload,
};

use crate::types::{
    AppendReceipt, DeviceAuth, NewBatch, NewDocument, ReadingCursor, ReadingQuery, ReadingsPage,
    RecordReceipt, StoredReading, StoredRecord,
};
use crate::{Result, Store, StoreError};
use vitalis_crypto::envelope::DataKey;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Readings per multi-row INSERT: 8 parameters each keeps a statement under both
/// backends' parameter limits (SQLite 32766, PostgreSQL 65535).
const INSERT_CHUNK: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// A [`Store`] on SQLite (`sqlite://PATH`) or PostgreSQL (`postgres://…`).
#[derive(Debug, Clone)]
pub struct SqlStore {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    /// The supervisor's chameleon-hash key that every record's payload hash is made with.
    payload_key: ChameleonPublicKey,
    /// The node's key for the minute rollups of sealed readings (never stored in the
    /// database); without it protected records cannot be sealed.
    rollup_key: Option<DataKey>,
}

/// The `settings` key of the supervisor's chameleon-hash public key.
const PAYLOAD_KEY_SETTING: &str = "supervisor_chameleon_public_key";

impl SqlStore {
    /// Opens (creating if needed) the database at `url`, applies pending migrations, and
    /// binds it to the supervisor's chameleon-hash public key: the first open records
    /// `payload_key`; a later open with another key fails with
    /// [`StoreError::KeyMismatch`], because the key is fixed for the life of the records.
    pub async fn open(url: &str, payload_key: &ChameleonPublicKey) -> Result<SqlStore> {
        sqlx::any::install_default_drivers();
        let (backend, url, max_connections) = if let Some(path) = url.strip_prefix("sqlite://") {
            // One writer at a time is SQLite's rule; extra connections serve reads.
            (Backend::Sqlite, format!("sqlite://{path}?mode=rwc"), 4)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned(), 16)
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the writer; FULL makes a commit
                        // durable before `append` returns.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                             PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        let store = SqlStore {
            pool,
            backend,
            payload_key: *payload_key,
            rollup_key: None,
        };
        store.bind_payload_key().await?;
        Ok(store)
    }

    async fn bind_payload_key(&self) -> Result<()> {
        let key = self.payload_key.to_bytes().to_vec();
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(PAYLOAD_KEY_SETTING)
        .bind(key.clone())
        .execute(&self.pool)
        .await?;
        let stored: Vec<u8> = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(PAYLOAD_KEY_SETTING)
            .fetch_one(&self.pool)
            .await?
            .try_get("value")?;
        if stored != key {
            return Err(StoreError::KeyMismatch {
                stored: hex::encode(&stored),
            });
        }
        Ok(())
    }

    /// Gives the store the node's rollup key, which protects the minute rollups of sealed
    /// readings. The key is kept outside the database (a file in the node's key
    /// directory), so a copy of the database alone reveals no protected value.
    pub fn with_rollup_key(mut self, key: DataKey) -> SqlStore {
        self.rollup_key = Some(key);
        self
    }

    /// The rollup key, or an error naming what is missing.
    pub(crate) fn rollup_key(&self) -> Result<&DataKey> {
        self.rollup_key.as_ref().ok_or_else(|| {
            StoreError::Invalid(
                "this store was opened without a rollup key, so it cannot seal or read sealed rollups"
                    .into(),
            )
        })
    }

    /// The supervisor's chameleon-hash public key this store commits records under.
    pub fn payload_key(&self) -> &ChameleonPublicKey {
        &self.payload_key
    }

    /// Begins a write transaction (SQLite takes the write lock at once).
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn lock_head_sql(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "SELECT head_seq, head_commitment FROM patients WHERE id = $1",
            Backend::Postgres => {
                "SELECT head_seq, head_commitment FROM patients WHERE id = $1 FOR UPDATE"
            }
        }
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub(crate) fn new_id(prefix: &str) -> String {
    // 80 random bits: short enough for every index row, far beyond collision range.
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}{}", &id[..20])
}

/// `rows` parenthesised groups of `cols` numbered placeholders, starting at `$first`;
/// a single column gives a flat list (`$5, $6`) for `IN (…)`. sqlx's query builder
/// writes `?` under the `Any` driver, which PostgreSQL does not accept.
fn placeholders(first: usize, cols: usize, rows: usize) -> String {
    placeholder_list(first, cols, rows, true)
}

/// Like [`placeholders`], but in the backend's cheapest form for a statement whose
/// parameters are all bound in order from the first: plain `?` on SQLite. sqlx resolves
/// every numbered SQLite parameter by name, and SQLite looks a name up by walking a list,
/// so a statement of n numbered parameters costs O(n²) to bind: with 8,000 parameters
/// that was most of the time of an upload of 1,000 readings.
pub(crate) fn sequential_placeholders(backend: Backend, cols: usize, rows: usize) -> String {
    placeholder_list(1, cols, rows, backend == Backend::Postgres)
}

fn placeholder_list(first: usize, cols: usize, rows: usize, numbered: bool) -> String {
    let mut out = String::with_capacity(rows * cols * 6);
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        if cols > 1 {
            out.push('(');
        }
        for col in 0..cols {
            if col > 0 {
                out.push_str(", ");
            }
            if numbered {
                out.push('$');
                out.push_str(&(first + row * cols + col).to_string());
            } else {
                out.push('?');
            }
        }
        if cols > 1 {
            out.push(')');
        }
    }
    out
}

/// A column of exactly `N` bytes.
pub(crate) fn fixed_bytes<const N: usize>(bytes: &[u8]) -> Result<[u8; N]> {
    bytes
        .try_into()
        .map_err(|_| corrupt(format!("expected {N} bytes, found {}", bytes.len())))
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn commitment_from(bytes: &[u8]) -> Result<Commitment> {
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| corrupt("commitment is not 32 bytes"))?;
    Ok(Commitment(arr))
}

/// A value as the three index columns hold it.
fn value_columns(value: &Value) -> (f64, Option<f64>, Option<f64>) {
    match value {
        Value::Scalar(v) => (*v, None, None),
        Value::SleepStage(s) => (*s as u8 as f64, None, None),
        Value::Position(p) => (p.lat, Some(p.lon), p.accuracy),
    }
}

fn value_from_columns(metric: Metric, v1: f64, v2: Option<f64>, v3: Option<f64>) -> Result<Value> {
    Ok(match metric.spec().kind {
        vitalis_model::ValueKind::Scalar => Value::Scalar(v1),
        vitalis_model::ValueKind::SleepStage => Value::SleepStage(
            *SleepStage::ALL
                .get(v1 as usize)
                .ok_or_else(|| corrupt("sleep stage code"))?,
        ),
        vitalis_model::ValueKind::Location => Value::Position(Position {
            lat: v1,
            lon: v2.ok_or_else(|| corrupt("location without longitude"))?,
            accuracy: v3,
        }),
    })
}

fn parse_metric(name: &str) -> Result<Metric> {
    Metric::from_name(name).ok_or_else(|| corrupt(format!("unknown metric {name:?}")))
}

fn parse_id<T>(text: String, make: fn(String) -> Result<T, vitalis_model::InvalidId>) -> Result<T> {
    make(text).map_err(corrupt)
}

#[async_trait]
impl Store for SqlStore {
    async fn create_patient(&self, token_hash: [u8; 32]) -> Result<PatientId> {
        use crate::directory::{AccountStatus, Directory, NewAccount};
        let placeholder_email = format!("{}@patients.invalid", new_id("script-"));
        let account = self
            .create_account(NewAccount {
                role: vitalis_access::Role::Patient,
                email: placeholder_email,
                name: "scripted patient".to_owned(),
                password_hash: None,
                status: AccountStatus::Active,
                institution: None,
                key: None,
            })
            .await?;
        self.create_api_token(
            token_hash,
            &account.id,
            "patient token",
            &["read".to_owned(), "write".to_owned()],
            None,
        )
        .await?;
        account
            .patient
            .ok_or_else(|| corrupt("patient account without a patient"))
    }

    async fn create_device(&self, patient: &PatientId, token_hash: [u8; 32]) -> Result<DeviceId> {
        let exists = sqlx::query("SELECT 1 FROM patients WHERE id = $1")
            .bind(patient.as_str())
            .fetch_optional(&self.pool)
            .await?;
        if exists.is_none() {
            return Err(StoreError::UnknownPatient(patient.to_string()));
        }
        let id = DeviceId::new(new_id("d")).map_err(corrupt)?;
        sqlx::query(
            "INSERT INTO devices (id, patient_id, token_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id.as_str())
        .bind(patient.as_str())
        .bind(token_hash.to_vec())
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    async fn device_by_token(&self, token_hash: [u8; 32]) -> Result<Option<DeviceAuth>> {
        let row = sqlx::query(
            "SELECT id, patient_id, public_key, upload_interval_s FROM devices \
             WHERE token_hash = $1 AND kind = 'device' AND revoked_at IS NULL",
        )
        .bind(token_hash.to_vec())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(DeviceAuth {
                device: parse_id(row.try_get("id")?, DeviceId::new)?,
                patient: parse_id(row.try_get("patient_id")?, PatientId::new)?,
                public_key: row
                    .try_get::<Option<Vec<u8>>, _>("public_key")?
                    .map(|k| fixed_bytes(&k))
                    .transpose()?,
                upload_interval_s: u32::try_from(row.try_get::<i64, _>("upload_interval_s")?)
                    .map_err(corrupt)?,
            })
        })
        .transpose()
    }

    async fn patient_by_token(&self, token_hash: [u8; 32]) -> Result<Option<PatientId>> {
        use crate::directory::Directory;
        Ok(self
            .api_token(token_hash, now_ms())
            .await?
            .and_then(|(account, _)| account.patient))
    }

    async fn patient_count(&self) -> Result<u64> {
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM patients")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        Ok(n as u64)
    }

    async fn append(&self, batches: Vec<NewBatch>) -> Result<Vec<AppendReceipt>> {
        // Lock heads in patient-id order (see module doc); answer in the caller's order.
        let mut order: Vec<usize> = (0..batches.len()).collect();
        order.sort_by(|&a, &b| batches[a].patient.cmp(&batches[b].patient));

        let mut tx = self.begin_write().await?;
        let mut receipts: Vec<Option<AppendReceipt>> = vec![None; batches.len()];
        for i in order {
            receipts[i] = Some(self.append_one(&mut tx, &batches[i]).await?);
        }
        tx.commit().await?;
        Ok(receipts.into_iter().flatten().collect())
    }

    async fn append_document(&self, doc: NewDocument) -> Result<RecordReceipt> {
        self.append_document_row(&doc).await
    }

    async fn readings(&self, q: &ReadingQuery) -> Result<ReadingsPage> {
        let mut sql = String::from(
            "SELECT metric, t, device_id, record_id, v1, v2, v3 FROM readings \
             WHERE patient_id = $1 AND t >= $2 AND t <= $3",
        );
        let mut n = 3;
        if q.metric.is_some() {
            n += 1;
            sql.push_str(&format!(" AND metric = ${n}"));
        }
        if let Some(metrics) = &q.metrics {
            sql.push_str(&format!(
                " AND metric IN ({})",
                placeholders(n + 1, 1, metrics.len().max(1))
            ));
            n += metrics.len().max(1);
        }
        if let Some(sections) = &q.sections {
            sql.push_str(&format!(
                " AND record_id IN (SELECT id FROM records WHERE patient_id = $1 AND section IN ({}))",
                placeholders(n + 1, 1, sections.len().max(1))
            ));
            n += sections.len().max(1);
        }
        if q.after.is_some() {
            // Keyset pagination on (t, metric, device_id).
            let (t, m, d) = (n + 1, n + 2, n + 3);
            n += 3;
            sql.push_str(&format!(
                " AND (t > ${t} OR (t = ${t} AND (metric > ${m} OR (metric = ${m} AND device_id > ${d}))))"
            ));
        }
        sql.push_str(&format!(" ORDER BY t, metric, device_id LIMIT ${}", n + 1));
        let mut query = sqlx::query(&sql)
            .bind(q.patient.as_str())
            .bind(q.from.millis())
            .bind(q.to.millis());
        if let Some(metric) = q.metric {
            query = query.bind(metric.name());
        }
        if let Some(metrics) = &q.metrics {
            if metrics.is_empty() {
                query = query.bind("");
            }
            for m in metrics {
                query = query.bind(m.name());
            }
        }
        if let Some(sections) = &q.sections {
            if sections.is_empty() {
                query = query.bind("");
            }
            for s in sections {
                query = query.bind(s.name());
            }
        }
        if let Some(c) = &q.after {
            query = query
                .bind(c.t.millis())
                .bind(c.metric.name())
                .bind(c.device.as_str());
        }
        let rows = query
            .bind(i64::from(q.limit) + 1)
            .fetch_all(&self.pool)
            .await?;
        let rows = rows
            .iter()
            .map(stored_reading)
            .collect::<Result<Vec<_>>>()?;
        let mut readings = self.fill_sealed(rows, q.keys.as_ref()).await?;
        let next = if readings.len() > q.limit as usize {
            readings.truncate(q.limit as usize);
            readings.last().map(|r| ReadingCursor {
                t: r.t,
                metric: r.metric,
                device: r.device.clone(),
            })
        } else {
            None
        };
        Ok(ReadingsPage { readings, next })
    }

    async fn records(
        &self,
        patient: &PatientId,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<StoredRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {RECORD_COLUMNS} FROM {RECORD_FROM} \
             WHERE r.patient_id = $1 AND r.seq > $2 ORDER BY r.seq LIMIT $3"
        ))
        .bind(patient.as_str())
        .bind(after_seq as i64)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored_record).collect()
    }

    async fn blob(&self, cid: &ContentId) -> Result<Option<Vec<u8>>> {
        // An erased payload keeps its row (records refer to it) with no bytes.
        let row = sqlx::query("SELECT bytes FROM blobs WHERE cid = $1 AND length(bytes) > 0")
            .bind(cid.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("bytes")).transpose()?)
    }

    async fn setting(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("value")).transpose()?)
    }

    async fn put_setting_once(&self, key: &str, value: &[u8]) -> Result<Vec<u8>> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value.to_vec())
        .execute(&self.pool)
        .await?;
        self.setting(key)
            .await?
            .ok_or_else(|| corrupt(format!("setting {key} vanished")))
    }

    async fn patient_ids(&self) -> Result<Vec<PatientId>> {
        sqlx::query("SELECT id FROM patients ORDER BY id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| parse_id(row.try_get("id")?, PatientId::new))
            .collect()
    }

    async fn claim_for_anchor(&self, limit: u32) -> Result<Option<crate::PendingAnchor>> {
        crate::anchors::claim(self, limit).await
    }

    async fn pending_anchors(&self) -> Result<Vec<crate::PendingAnchor>> {
        crate::anchors::pending(self).await
    }

    async fn recent_anchors(&self, limit: u32) -> Result<Vec<crate::AnchorSummary>> {
        crate::anchors::recent(self, limit).await
    }

    async fn confirm_anchor(&self, id: i64, on_chain: &crate::AnchorOnChain) -> Result<()> {
        crate::anchors::confirm(self, id, on_chain).await
    }

    async fn create_seal_epoch(&self, epoch: &crate::sealing::NewSealEpoch) -> Result<i64> {
        self.create_seal_epoch_row(epoch).await
    }

    async fn seal_epochs(&self, patient: &PatientId) -> Result<Vec<crate::sealing::SealEpoch>> {
        self.seal_epoch_rows(patient).await
    }

    async fn rewrap_seal_epoch(
        &self,
        id: i64,
        policy: Option<&str>,
        policy_wrap: Option<&[u8]>,
    ) -> Result<()> {
        self.rewrap_seal_epoch_row(id, policy, policy_wrap).await
    }

    async fn open_payload(
        &self,
        record: &StoredRecord,
        keys: Option<&crate::ReaderKeys>,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>> {
        self.open_payload_of(record, keys.map(|k| &*k.0)).await
    }

    async fn create_dataset_request(
        &self,
        new: &crate::research::NewDatasetRequest,
    ) -> Result<crate::research::DatasetRequest> {
        self.create_dataset_request_row(new).await
    }

    async fn dataset_request(&self, id: &str) -> Result<Option<crate::research::DatasetRequest>> {
        self.dataset_request_row(id).await
    }

    async fn dataset_requests(
        &self,
        institution: Option<&str>,
        now: i64,
    ) -> Result<Vec<crate::research::DatasetRequest>> {
        self.dataset_requests_row(institution, now).await
    }

    async fn dataset_answers(
        &self,
        patient: &PatientId,
    ) -> Result<Vec<(String, crate::research::DatasetAnswer)>> {
        self.dataset_answers_row(patient).await
    }

    async fn answer_dataset_request(
        &self,
        request: &str,
        patient: &PatientId,
        answer: crate::research::DatasetAnswer,
        grant_id: Option<[u8; 32]>,
    ) -> Result<()> {
        self.answer_dataset_request_row(request, patient, answer, grant_id)
            .await
    }

    async fn set_institution_key_attributes(
        &self,
        institution: &str,
        attributes: &[String],
    ) -> Result<()> {
        sqlx::query("UPDATE institutions SET key_attributes = $1 WHERE id = $2")
            .bind(attributes.join(" "))
            .bind(institution)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn institution_key_attributes(&self, institution: &str) -> Result<Vec<String>> {
        let row = sqlx::query("SELECT key_attributes FROM institutions WHERE id = $1")
            .bind(institution)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => row
                .try_get::<String, _>("key_attributes")?
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            None => Vec::new(),
        })
    }

    async fn set_account_seal_key(&self, account: &str, key: [u8; 32]) -> Result<()> {
        sqlx::query("UPDATE accounts SET seal_public_key = $1 WHERE id = $2")
            .bind(key.to_vec())
            .bind(account)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn account_seal_key(&self, account: &str) -> Result<Option<[u8; 32]>> {
        let row = sqlx::query("SELECT seal_public_key FROM accounts WHERE id = $1")
            .bind(account)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => row
                .try_get::<Option<Vec<u8>>, _>("seal_public_key")?
                .map(|b| fixed_bytes::<32>(&b))
                .transpose(),
            None => Ok(None),
        }
    }

    async fn put_attribute_key(&self, key: &crate::sealing::AttributeKeyRecord) -> Result<()> {
        self.put_attribute_key_row(key).await
    }

    async fn attribute_key(
        &self,
        account: &str,
    ) -> Result<Option<crate::sealing::AttributeKeyRecord>> {
        Ok(self.attribute_key_rows(Some(account)).await?.pop())
    }

    async fn attribute_keys(&self) -> Result<Vec<crate::sealing::AttributeKeyRecord>> {
        self.attribute_key_rows(None).await
    }

    async fn access_policy(&self, patient: &PatientId) -> Result<Option<String>> {
        let row = sqlx::query("SELECT access_policy FROM patients WHERE id = $1")
            .bind(patient.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::UnknownPatient(patient.to_string()))?;
        Ok(row.try_get("access_policy")?)
    }

    async fn set_access_policy(&self, patient: &PatientId, policy: Option<&str>) -> Result<()> {
        let done = sqlx::query("UPDATE patients SET access_policy = $1 WHERE id = $2")
            .bind(policy.map(str::to_owned))
            .bind(patient.as_str())
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::UnknownPatient(patient.to_string()));
        }
        Ok(())
    }

    async fn set_token_key_wrap(&self, token_hash: [u8; 32], wrap: &[u8]) -> Result<()> {
        sqlx::query("UPDATE api_tokens SET key_wrap = $1 WHERE token_hash = $2")
            .bind(wrap.to_vec())
            .bind(token_hash.to_vec())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn token_key_wrap(&self, token_hash: [u8; 32]) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT key_wrap FROM api_tokens WHERE token_hash = $1")
            .bind(token_hash.to_vec())
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => row.try_get("key_wrap")?,
            None => None,
        })
    }

    async fn erase_patient(
        &self,
        account: &str,
        patient: &PatientId,
        at: i64,
    ) -> Result<crate::sealing::Erasure> {
        self.erase_patient_rows(account, patient, at).await
    }

    async fn head(&self, patient: &PatientId) -> Result<(u64, Commitment)> {
        let row = sqlx::query("SELECT head_seq, head_commitment FROM patients WHERE id = $1")
            .bind(patient.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::UnknownPatient(patient.to_string()))?;
        let seq: i64 = row.try_get("head_seq")?;
        Ok((
            seq as u64,
            commitment_from(&row.try_get::<Vec<u8>, _>("head_commitment")?)?,
        ))
    }
}

impl SqlStore {
    /// Stores one batch inside the group's transaction.
    async fn append_one(
        &self,
        conn: &mut AnyConnection,
        batch: &NewBatch,
    ) -> Result<AppendReceipt> {
        let head = sqlx::query(self.lock_head_sql())
            .bind(batch.patient.as_str())
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| StoreError::UnknownPatient(batch.patient.to_string()))?;

        if let Some(key) = &batch.idempotency_key {
            let seen =
                sqlx::query("SELECT receipt FROM idempotency WHERE device_id = $1 AND key = $2")
                    .bind(batch.device.as_str())
                    .bind(key.as_str())
                    .fetch_optional(&mut *conn)
                    .await?;
            if let Some(row) = seen {
                let mut receipt: AppendReceipt =
                    serde_json::from_str(&row.try_get::<String, _>("receipt")?).map_err(corrupt)?;
                receipt.replayed = true;
                return Ok(receipt);
            }
        }

        let mut seq = head.try_get::<i64, _>("head_seq")? as u64;
        let mut prev = commitment_from(&head.try_get::<Vec<u8>, _>("head_commitment")?)?;
        let mut receipt = AppendReceipt {
            records: Vec::new(),
            accepted: 0,
            duplicates: 0,
            replayed: false,
        };

        for (section, readings) in &self.assign_sections(conn, batch).await? {
            let fresh = self.drop_stored(conn, batch, readings).await?;
            receipt.duplicates += (readings.len() - fresh.len()) as u64;
            if fresh.is_empty() {
                continue;
            }
            seq += 1;
            let record = self
                .insert_record(conn, batch, *section, &fresh, seq, prev)
                .await?;
            prev = Commitment::from_hex(&record.commitment).ok_or_else(|| corrupt("commitment"))?;
            receipt.accepted += record.readings;
            receipt.records.push(record);
        }

        sqlx::query("UPDATE devices SET last_upload_at = $1 WHERE id = $2")
            .bind(batch.received_at.millis())
            .bind(batch.device.as_str())
            .execute(&mut *conn)
            .await?;
        if !receipt.records.is_empty() {
            sqlx::query("UPDATE patients SET head_seq = $1, head_commitment = $2 WHERE id = $3")
                .bind(seq as i64)
                .bind(prev.0.to_vec())
                .bind(batch.patient.as_str())
                .execute(&mut *conn)
                .await?;
        }
        if let Some(key) = &batch.idempotency_key {
            sqlx::query(
                "INSERT INTO idempotency (device_id, key, receipt, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(batch.device.as_str())
            .bind(key.as_str())
            .bind(serde_json::to_string(&receipt).map_err(corrupt)?)
            .bind(batch.received_at.millis())
            .execute(&mut *conn)
            .await?;
        }
        Ok(receipt)
    }

    /// The batch's readings regrouped by the patient's section choices (metrics without a
    /// choice keep the section the batch gave them), inside the append transaction so a
    /// change of choice applies to every record stored after it.
    async fn assign_sections(
        &self,
        conn: &mut AnyConnection,
        batch: &NewBatch,
    ) -> Result<Vec<(Section, Vec<Reading>)>> {
        let rows =
            sqlx::query("SELECT metric, section FROM patient_sections WHERE patient_id = $1")
                .bind(batch.patient.as_str())
                .fetch_all(&mut *conn)
                .await?;
        if rows.is_empty() {
            return Ok(batch.parts.clone());
        }
        let mut choices = std::collections::HashMap::new();
        for row in &rows {
            let metric = parse_metric(&row.try_get::<String, _>("metric")?)?;
            let section: String = row.try_get("section")?;
            choices.insert(
                metric,
                Section::from_name(&section).ok_or_else(|| corrupt("section"))?,
            );
        }
        let mut protected = Vec::new();
        let mut open = Vec::new();
        for (section, readings) in &batch.parts {
            for r in readings {
                match choices.get(&r.metric()).copied().unwrap_or(*section) {
                    Section::Protected => protected.push(*r),
                    Section::Open => open.push(*r),
                }
            }
        }
        Ok([(Section::Protected, protected), (Section::Open, open)]
            .into_iter()
            .filter(|(_, r)| !r.is_empty())
            .collect())
    }

    /// The readings of `readings` not yet stored for this device.
    async fn drop_stored(
        &self,
        conn: &mut AnyConnection,
        batch: &NewBatch,
        readings: &[Reading],
    ) -> Result<Vec<Reading>> {
        let Some(from) = readings.iter().map(|r| r.t().millis()).min() else {
            return Ok(Vec::new());
        };
        let to = readings
            .iter()
            .map(|r| r.t().millis())
            .max()
            .unwrap_or(from);
        // `metric IN (…)` plus a time range walks only this batch's span of the primary key.
        let metrics: Vec<Metric> = readings
            .iter()
            .map(|r| r.metric())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let sql = format!(
            "SELECT metric, t FROM readings WHERE patient_id = $1 AND device_id = $2 \
             AND t >= $3 AND t <= $4 AND metric IN ({})",
            placeholders(5, 1, metrics.len())
        );
        let mut query = sqlx::query(&sql)
            .bind(batch.patient.as_str())
            .bind(batch.device.as_str())
            .bind(from)
            .bind(to);
        for metric in &metrics {
            query = query.bind(metric.name());
        }
        let rows = query.fetch_all(&mut *conn).await?;
        if rows.is_empty() {
            return Ok(readings.to_vec());
        }
        let stored: HashSet<(String, i64)> = rows
            .iter()
            .map(|r| Ok((r.try_get::<String, _>("metric")?, r.try_get::<i64, _>("t")?)))
            .collect::<Result<_>>()?;
        Ok(readings
            .iter()
            .filter(|r| !stored.contains(&(r.metric().name().to_owned(), r.t().millis())))
            .copied()
            .collect())
    }

    async fn insert_record(
        &self,
        conn: &mut AnyConnection,
        batch: &NewBatch,
        section: Section,
        readings: &[Reading],
        seq: u64,
        prev: Commitment,
    ) -> Result<RecordReceipt> {
        let times = readings.iter().map(|r| r.t());
        let t_from = times.clone().min().unwrap_or(batch.received_at);
        let t_to = times.max().unwrap_or(batch.received_at);
        let seal = batch
            .seal
            .as_ref()
            .filter(|_| section == Section::Protected);
        let payload = encode_payload(readings);
        let sealed = seal.map(|key| {
            crate::sql_sealing::seal(key, &batch.patient, seq, section, t_from, t_to, &payload)
        });
        let row = RecordRow {
            patient: &batch.patient,
            source: &batch.device,
            section,
            encoding: if sealed.is_some() {
                ENCODING_V1 | ENCODING_SEALED
            } else {
                ENCODING_V1
            },
            t_from,
            t_to,
            payload: match &sealed {
                Some(s) => s.bytes.clone(),
                None => payload,
            },
            reading_count: readings.len() as u64,
            created_at: batch.received_at,
        };
        let (id, receipt) = self.insert_record_row(conn, row, seq, prev).await?;
        if let Some(sealed) = &sealed {
            // The values stay out of the index and the plain rollups.
            self.insert_record_key(conn, &id, sealed).await?;
            self.add_to_sealed_rollups(conn, &batch.patient, &id, readings)
                .await?;
        } else {
            self.add_to_rollups(conn, &batch.patient, readings).await?;
        }

        for chunk in readings.chunks(INSERT_CHUNK) {
            let sql = format!(
                "INSERT INTO readings (patient_id, metric, t, device_id, record_id, v1, v2, v3) \
                 VALUES {}",
                sequential_placeholders(self.backend, 8, chunk.len())
            );
            let mut insert = sqlx::query(&sql);
            for r in chunk {
                let (v1, v2, v3) = match sealed {
                    Some(_) => (None, None, None),
                    None => {
                        let (v1, v2, v3) = value_columns(&r.value());
                        (Some(v1), v2, v3)
                    }
                };
                insert = insert
                    .bind(batch.patient.as_str())
                    .bind(r.metric().name())
                    .bind(r.t().millis())
                    .bind(batch.device.as_str())
                    .bind(id.as_str())
                    .bind(v1)
                    .bind(v2)
                    .bind(v3);
            }
            insert.execute(&mut *conn).await?;
        }

        Ok(receipt)
    }

    /// Writes a record's blob and row (sequence, link, payload hash, commitment).
    async fn insert_record_row(
        &self,
        conn: &mut AnyConnection,
        row: RecordRow<'_>,
        seq: u64,
        prev: Commitment,
    ) -> Result<(RecordId, RecordReceipt)> {
        let cid = ContentId::of(&row.payload);
        let (payload_hash, opening) =
            chameleon::hash(&self.payload_key, &cid.digest(), &mut rand::rng());
        let header = RecordHeader {
            patient: row.patient.clone(),
            source: row.source.clone(),
            section: row.section,
            encoding: row.encoding,
            t_from: row.t_from,
            t_to: row.t_to,
            seq,
            prev,
            payload_hash: PayloadHash(payload_hash.to_bytes()),
        };
        let commitment = header.commitment();
        let id = RecordId::new(uuid::Uuid::now_v7().simple().to_string()).map_err(corrupt)?;
        let cid_text = cid.to_string();
        sqlx::query("INSERT INTO blobs (cid, bytes) VALUES ($1, $2) ON CONFLICT (cid) DO NOTHING")
            .bind(cid_text.as_str())
            .bind(row.payload)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "INSERT INTO records (id, patient_id, seq, source, section, encoding, t_from, t_to, \
             prev, commitment, cid, reading_count, created_at, payload_hash, opening) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(id.as_str())
        .bind(row.patient.as_str())
        .bind(seq as i64)
        .bind(row.source.as_str())
        .bind(row.section.name())
        .bind(i64::from(header.encoding))
        .bind(header.t_from.millis())
        .bind(header.t_to.millis())
        .bind(prev.0.to_vec())
        .bind(commitment.0.to_vec())
        .bind(cid_text.as_str())
        .bind(row.reading_count as i64)
        .bind(row.created_at.millis())
        .bind(header.payload_hash.0.to_vec())
        .bind(opening.to_bytes().to_vec())
        .execute(&mut *conn)
        .await?;
        let receipt = RecordReceipt {
            id: id.clone(),
            seq,
            section: row.section,
            readings: row.reading_count,
            cid: cid_text,
            commitment: commitment.to_hex(),
        };
        Ok((id, receipt))
    }

    /// Appends one document record (a clinical note) to the patient's chain.
    pub(crate) async fn append_document_row(&self, doc: &NewDocument) -> Result<RecordReceipt> {
        let mut tx = self.begin_write().await?;
        let head = sqlx::query(self.lock_head_sql())
            .bind(doc.patient.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::UnknownPatient(doc.patient.to_string()))?;
        let seq = head.try_get::<i64, _>("head_seq")? as u64 + 1;
        let prev = commitment_from(&head.try_get::<Vec<u8>, _>("head_commitment")?)?;
        let sealed = doc
            .seal
            .as_ref()
            .filter(|_| doc.section == Section::Protected)
            .map(|key| {
                crate::sql_sealing::seal(
                    key,
                    &doc.patient,
                    seq,
                    doc.section,
                    doc.t,
                    doc.t,
                    &doc.payload,
                )
            });
        let row = RecordRow {
            patient: &doc.patient,
            source: &doc.source,
            section: doc.section,
            encoding: match &sealed {
                Some(_) => doc.encoding | ENCODING_SEALED,
                None => doc.encoding,
            },
            t_from: doc.t,
            t_to: doc.t,
            payload: match &sealed {
                Some(s) => s.bytes.clone(),
                None => doc.payload.clone(),
            },
            reading_count: 0,
            created_at: doc.received_at,
        };
        let (id, receipt) = self.insert_record_row(&mut tx, row, seq, prev).await?;
        if let Some(sealed) = &sealed {
            self.insert_record_key(&mut tx, &id, sealed).await?;
        }
        sqlx::query("UPDATE patients SET head_seq = $1, head_commitment = $2 WHERE id = $3")
            .bind(seq as i64)
            .bind(
                Commitment::from_hex(&receipt.commitment)
                    .ok_or_else(|| corrupt("commitment"))?
                    .0
                    .to_vec(),
            )
            .bind(doc.patient.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(receipt)
    }
}

/// What a record row is made of, whatever its payload.
struct RecordRow<'a> {
    patient: &'a PatientId,
    source: &'a DeviceId,
    section: Section,
    encoding: u16,
    t_from: Timestamp,
    t_to: Timestamp,
    payload: Vec<u8>,
    reading_count: u64,
    created_at: Timestamp,
}

/// A row of the reading index: the reading, or where to find a sealed one's value.
enum IndexRow {
    Plain(StoredReading),
    Sealed {
        metric: Metric,
        t: Timestamp,
        device: DeviceId,
        record: RecordId,
    },
}

fn stored_reading(row: &AnyRow) -> Result<IndexRow> {
    let metric = parse_metric(&row.try_get::<String, _>("metric")?)?;
    let t = Timestamp::new(row.try_get("t")?).map_err(corrupt)?;
    let device = parse_id(row.try_get("device_id")?, DeviceId::new)?;
    let record = parse_id(row.try_get("record_id")?, RecordId::new)?;
    let Some(v1) = row.try_get::<Option<f64>, _>("v1")? else {
        return Ok(IndexRow::Sealed {
            metric,
            t,
            device,
            record,
        });
    };
    Ok(IndexRow::Plain(StoredReading {
        metric,
        t,
        value: value_from_columns(metric, v1, row.try_get("v2")?, row.try_get("v3")?)?,
        device,
        record,
    }))
}

impl SqlStore {
    /// The readings of index rows, sealed ones opened with `keys` (each record once).
    async fn fill_sealed(
        &self,
        rows: Vec<IndexRow>,
        keys: Option<&crate::ReaderKeys>,
    ) -> Result<Vec<StoredReading>> {
        let mut seen = HashSet::new();
        let records: Vec<RecordId> = rows
            .iter()
            .filter_map(|row| match row {
                IndexRow::Sealed { record, .. } if seen.insert(record) => Some(record.clone()),
                _ => None,
            })
            .collect();
        let opened = match (records.first(), keys) {
            (None, _) => Default::default(),
            (Some(first), None) => {
                return Err(StoreError::Sealed {
                    record: first.to_string(),
                });
            }
            (Some(_), Some(keys)) => self.open_sealed_readings(&records, &*keys.0).await?,
        };
        rows.into_iter()
            .map(|row| match row {
                IndexRow::Plain(r) => Ok(r),
                IndexRow::Sealed {
                    metric,
                    t,
                    device,
                    record,
                } => {
                    let value = opened
                        .get(&record)
                        .and_then(|values| values.get(&(metric, t.millis())))
                        .copied()
                        .ok_or_else(|| {
                            corrupt(format!("record {record} does not hold its indexed reading"))
                        })?;
                    Ok(StoredReading {
                        metric,
                        t,
                        value,
                        device,
                        record,
                    })
                }
            })
            .collect()
    }
}

/// Every column [`stored_record`] reads, of `records r` joined with its anchor `a`
/// ([`RECORD_FROM`]).
pub(crate) const RECORD_COLUMNS: &str = "r.id, r.patient_id, r.seq, r.source, r.section, r.encoding, r.t_from, r.t_to, \
     r.prev, r.commitment, r.cid, r.reading_count, r.created_at, r.payload_hash, \
     r.opening, r.anchor_proof, a.root, a.chain_index, a.block_number, a.tx_hash";

/// `records r` joined with its anchor `a`.
pub(crate) const RECORD_FROM: &str = "records r LEFT JOIN anchors a ON a.id = r.anchor_id";

pub(crate) fn stored_record(row: &AnyRow) -> Result<StoredRecord> {
    let section: String = row.try_get("section")?;
    let cid: String = row.try_get("cid")?;
    let header = RecordHeader {
        patient: parse_id(row.try_get("patient_id")?, PatientId::new)?,
        source: parse_id(row.try_get("source")?, DeviceId::new)?,
        section: Section::from_name(&section).ok_or_else(|| corrupt("section"))?,
        encoding: u16::try_from(row.try_get::<i64, _>("encoding")?).map_err(corrupt)?,
        t_from: Timestamp::new(row.try_get("t_from")?).map_err(corrupt)?,
        t_to: Timestamp::new(row.try_get("t_to")?).map_err(corrupt)?,
        seq: row.try_get::<i64, _>("seq")? as u64,
        prev: commitment_from(&row.try_get::<Vec<u8>, _>("prev")?)?,
        payload_hash: PayloadHash(fixed_bytes(&row.try_get::<Vec<u8>, _>("payload_hash")?)?),
    };
    Ok(StoredRecord {
        id: parse_id(row.try_get("id")?, RecordId::new)?,
        header,
        cid: ContentId::parse(&cid).ok_or_else(|| corrupt("cid"))?,
        opening: Opening(fixed_bytes(&row.try_get::<Vec<u8>, _>("opening")?)?),
        anchor: crate::anchors::record_anchor(row)?,
        commitment: commitment_from(&row.try_get::<Vec<u8>, _>("commitment")?)?,
        reading_count: row.try_get::<i64, _>("reading_count")? as u64,
        created_at: Timestamp::new(row.try_get("created_at")?).map_err(corrupt)?,
    })
}
