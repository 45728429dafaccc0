//! The [`Directory`] of [`SqlStore`]: accounts, sessions, tokens, institutions, devices,
//! section choices, consent and the access log, in the same database as the records.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;
use vitalis_access::Role;
use vitalis_crypto::merkle::MerkleTree;
use vitalis_model::{Commitment, DeviceId, Metric, PatientId, Section};

use crate::directory::{
    AccessEntry, AccessEntryBatch, Account, AccountStatus, ApiTokenInfo, ConsentRecord, DeviceInfo,
    Directory, Institution, NewAccessEntry, NewAccount, NewDevice, PendingAccessBatch, SealedKey,
    Session, SourceKind,
};
use crate::sql::{Backend, SqlStore, corrupt, fixed_bytes, new_id, now_ms};
use crate::{AnchorOnChain, Result, StoreError};

const ACCOUNT_COLUMNS: &str = "a.id, a.role, a.email, a.name, a.password_hash, a.status, \
     a.patient_id, a.institution_id, a.key_address, a.key_sealed, a.key_recovery, a.created_at";

fn account_from(row: &AnyRow) -> Result<Account> {
    let role: String = row.try_get("role")?;
    let status: String = row.try_get("status")?;
    let key = match (
        row.try_get::<Option<Vec<u8>>, _>("key_address")?,
        row.try_get::<Option<Vec<u8>>, _>("key_sealed")?,
        row.try_get::<Option<Vec<u8>>, _>("key_recovery")?,
    ) {
        (Some(address), Some(by_password), Some(by_recovery)) => Some(SealedKey {
            address: fixed_bytes(&address)?,
            by_password,
            by_recovery,
        }),
        _ => None,
    };
    Ok(Account {
        id: row.try_get("id")?,
        role: Role::from_name(&role).ok_or_else(|| corrupt(format!("role {role}")))?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        password_hash: row.try_get("password_hash")?,
        status: AccountStatus::from_name(&status)
            .ok_or_else(|| corrupt(format!("status {status}")))?,
        patient: row
            .try_get::<Option<String>, _>("patient_id")?
            .map(|p| PatientId::new(p).map_err(corrupt))
            .transpose()?,
        institution: row.try_get("institution_id")?,
        key,
        created_at: row.try_get("created_at")?,
    })
}

fn institution_from(row: &AnyRow) -> Result<Institution> {
    let role: String = row.try_get("role")?;
    let status: String = row.try_get("status")?;
    Ok(Institution {
        id: row.try_get("id")?,
        role: Role::from_name(&role).ok_or_else(|| corrupt(format!("role {role}")))?,
        name: row.try_get("name")?,
        status: AccountStatus::from_name(&status)
            .ok_or_else(|| corrupt(format!("status {status}")))?,
        address: format!("0x{}", hex::encode(row.try_get::<Vec<u8>, _>("address")?)),
        created_at: row.try_get("created_at")?,
    })
}

fn device_from(row: &AnyRow) -> Result<DeviceInfo> {
    let kind: String = row.try_get("kind")?;
    Ok(DeviceInfo {
        id: DeviceId::new(row.try_get::<String, _>("id")?).map_err(corrupt)?,
        kind: match kind.as_str() {
            "device" => SourceKind::Device,
            "manual" => SourceKind::Manual,
            "institution" => SourceKind::Institution,
            "import" => SourceKind::Import,
            other => return Err(corrupt(format!("source kind {other}"))),
        },
        name: row.try_get("name")?,
        public_key: row
            .try_get::<Option<Vec<u8>>, _>("public_key")?
            .map(hex::encode),
        upload_interval_s: u32::try_from(row.try_get::<i64, _>("upload_interval_s")?)
            .map_err(corrupt)?,
        created_at: row.try_get("created_at")?,
        last_upload_at: row.try_get("last_upload_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

fn consent_from(row: &AnyRow) -> Result<ConsentRecord> {
    let metrics: String = row.try_get("metrics")?;
    Ok(ConsentRecord {
        grant_id: fixed_bytes(&row.try_get::<Vec<u8>, _>("grant_id")?)?,
        patient: PatientId::new(row.try_get::<String, _>("patient_id")?).map_err(corrupt)?,
        institution: row.try_get("institution_id")?,
        access: u8::try_from(row.try_get::<i64, _>("access")?).map_err(corrupt)?,
        sections: u8::try_from(row.try_get::<i64, _>("sections")?).map_err(corrupt)?,
        metrics: metrics
            .split(',')
            .filter(|m| !m.is_empty())
            .map(|m| m.parse::<Metric>().map_err(corrupt))
            .collect::<Result<_>>()?,
        purpose: row.try_get("purpose")?,
        expires_at: row.try_get("expires_at")?,
        created_at: row.try_get("created_at")?,
        block_number: row.try_get::<i64, _>("block_number")? as u64,
        tx_hash: fixed_bytes(&row.try_get::<Vec<u8>, _>("tx_hash")?)?,
        revoked_at: row.try_get("revoked_at")?,
        revoke_tx: row
            .try_get::<Option<Vec<u8>>, _>("revoke_tx")?
            .map(|t| fixed_bytes(&t))
            .transpose()?,
    })
}

fn access_from(row: &AnyRow) -> Result<AccessEntry> {
    let role: String = row.try_get("role")?;
    let entry = NewAccessEntry {
        at: row.try_get("at")?,
        account: row.try_get("account_id")?,
        role: Role::from_name(&role).ok_or_else(|| corrupt(format!("role {role}")))?,
        institution: row.try_get("institution_id")?,
        patient: PatientId::new(row.try_get::<String, _>("patient_id")?).map_err(corrupt)?,
        action: row.try_get("action")?,
        detail: row.try_get("detail")?,
        purpose: row.try_get("purpose")?,
    };
    let batch = match (
        row.try_get::<Option<Vec<u8>>, _>("root")?,
        row.try_get::<Option<Vec<u8>>, _>("proof")?,
    ) {
        (Some(root), Some(proof)) => Some(AccessEntryBatch {
            root: fixed_bytes(&root)?,
            proof,
            on_chain: crate::anchors::on_chain_columns(row)?,
        }),
        _ => None,
    };
    Ok(AccessEntry {
        id: row.try_get("id")?,
        entry,
        entry_hash: fixed_bytes(&row.try_get::<Vec<u8>, _>("entry_hash")?)?,
        batch,
    })
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

#[async_trait]
impl Directory for SqlStore {
    async fn create_account(&self, new: NewAccount) -> Result<Account> {
        let mut tx = self.begin_write().await?;
        let id = new_id("acct");
        let now = now_ms();
        let email = new.email.trim().to_lowercase();
        let patient = if new.role == Role::Patient {
            let patient = new_id("p");
            // `token_hash` is no longer looked up (see migration 0004): a random value.
            let filler: [u8; 32] = rand::random();
            sqlx::query(
                "INSERT INTO patients (id, token_hash, created_at, head_seq, head_commitment) \
                 VALUES ($1, $2, $3, 0, $4)",
            )
            .bind(patient.as_str())
            .bind(filler.to_vec())
            .bind(now)
            .bind(Commitment::GENESIS.0.to_vec())
            .execute(&mut *tx)
            .await?;
            Some(patient)
        } else {
            None
        };
        let institution = match &new.institution {
            Some(inst) => {
                let inst_id = new_id("inst");
                let address = new
                    .key
                    .as_ref()
                    .map(|k| k.address.to_vec())
                    .ok_or_else(|| StoreError::Invalid("an institution needs a key".to_owned()))?;
                sqlx::query(
                    "INSERT INTO institutions (id, role, name, status, address, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(inst_id.as_str())
                .bind(new.role.name())
                .bind(inst.name.as_str())
                .bind(new.status.name())
                .bind(address)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                Some(inst_id)
            }
            None => None,
        };
        let result = sqlx::query(
            "INSERT INTO accounts (id, role, email, name, password_hash, status, patient_id, \
             institution_id, key_address, key_sealed, key_recovery, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(id.as_str())
        .bind(new.role.name())
        .bind(email.as_str())
        .bind(new.name.as_str())
        .bind(new.password_hash.clone())
        .bind(new.status.name())
        .bind(patient.clone())
        .bind(institution.clone())
        .bind(new.key.as_ref().map(|k| k.address.to_vec()))
        .bind(new.key.as_ref().map(|k| k.by_password.clone()))
        .bind(new.key.as_ref().map(|k| k.by_recovery.clone()))
        .bind(now)
        .execute(&mut *tx)
        .await;
        match result {
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict("email".to_owned()));
            }
            other => {
                other?;
            }
        }
        tx.commit().await?;
        Ok(Account {
            id,
            role: new.role,
            email,
            name: new.name,
            password_hash: new.password_hash,
            status: new.status,
            patient: patient
                .map(|p| PatientId::new(p).map_err(corrupt))
                .transpose()?,
            institution,
            key: new.key,
            created_at: now,
        })
    }

    async fn account_by_email(&self, email: &str) -> Result<Option<Account>> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.email = $1"
        ))
        .bind(email.trim().to_lowercase())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(account_from).transpose()
    }

    async fn account(&self, id: &str) -> Result<Option<Account>> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(account_from).transpose()
    }

    async fn accounts_with_role(&self, role: Role) -> Result<Vec<Account>> {
        let rows = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.role = $1 ORDER BY a.created_at, a.id"
        ))
        .bind(role.name())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(account_from).collect()
    }

    async fn set_password(
        &self,
        account: &str,
        password_hash: &str,
        key_by_password: Option<Vec<u8>>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE accounts SET password_hash = $1, key_sealed = COALESCE($2, key_sealed) \
             WHERE id = $3",
        )
        .bind(password_hash)
        .bind(key_by_password)
        .bind(account)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM sessions WHERE account_id = $1")
            .bind(account)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_session(
        &self,
        id_hash: [u8; 32],
        account: &str,
        csrf: &str,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, account_id, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id_hash.to_vec())
        .bind(account)
        .bind(csrf)
        .bind(now_ms())
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session(&self, id_hash: [u8; 32], now: i64) -> Result<Option<Session>> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS}, s.csrf, s.expires_at AS session_expires FROM sessions s \
             JOIN accounts a ON a.id = s.account_id WHERE s.id_hash = $1 AND s.expires_at > $2"
        ))
        .bind(id_hash.to_vec())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(Session {
                account: account_from(&row)?,
                csrf: row.try_get("csrf")?,
                expires_at: row.try_get("session_expires")?,
            })
        })
        .transpose()
    }

    async fn delete_session(&self, id_hash: [u8; 32]) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash.to_vec())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn create_api_token(
        &self,
        token_hash: [u8; 32],
        account: &str,
        name: &str,
        scopes: &[String],
        expires_at: Option<i64>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_tokens (token_hash, account_id, name, scopes, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash.to_vec())
        .bind(account)
        .bind(name)
        .bind(scopes.join(" "))
        .bind(now_ms())
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn api_token(
        &self,
        token_hash: [u8; 32],
        now: i64,
    ) -> Result<Option<(Account, Vec<String>)>> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS}, t.scopes FROM api_tokens t \
             JOIN accounts a ON a.id = t.account_id WHERE t.token_hash = $1 \
             AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2)"
        ))
        .bind(token_hash.to_vec())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let scopes: String = row.try_get("scopes")?;
            Ok((
                account_from(&row)?,
                scopes.split_whitespace().map(str::to_owned).collect(),
            ))
        })
        .transpose()
    }

    async fn api_tokens(&self, account: &str) -> Result<Vec<ApiTokenInfo>> {
        let rows = sqlx::query(
            "SELECT token_hash, name, scopes, created_at, expires_at, revoked_at FROM api_tokens \
             WHERE account_id = $1 ORDER BY created_at",
        )
        .bind(account)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let hash: Vec<u8> = row.try_get("token_hash")?;
                let scopes: String = row.try_get("scopes")?;
                Ok(ApiTokenInfo {
                    id: hex::encode(&hash[..4.min(hash.len())]),
                    name: row.try_get("name")?,
                    scopes: scopes.split_whitespace().map(str::to_owned).collect(),
                    created_at: row.try_get("created_at")?,
                    expires_at: row.try_get("expires_at")?,
                    revoked_at: row.try_get("revoked_at")?,
                })
            })
            .collect()
    }

    async fn revoke_api_token(&self, account: &str, id: &str, now: i64) -> Result<bool> {
        for token in self.api_tokens(account).await? {
            if token.id == id && token.revoked_at.is_none() {
                let prefix = hex::decode(id).map_err(corrupt)?;
                let rows = sqlx::query(
                    "SELECT token_hash FROM api_tokens WHERE account_id = $1 AND revoked_at IS NULL",
                )
                .bind(account)
                .fetch_all(&self.pool)
                .await?;
                for row in rows {
                    let hash: Vec<u8> = row.try_get("token_hash")?;
                    if hash.starts_with(&prefix) {
                        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE token_hash = $2")
                            .bind(now)
                            .bind(hash)
                            .execute(&self.pool)
                            .await?;
                    }
                }
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn institutions(&self, status: Option<AccountStatus>) -> Result<Vec<Institution>> {
        let rows = sqlx::query(
            "SELECT id, role, name, status, address, created_at FROM institutions \
             WHERE ($1 = '' OR status = $1) ORDER BY created_at, id",
        )
        .bind(status.map(AccountStatus::name).unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(institution_from).collect()
    }

    async fn institution(&self, id: &str) -> Result<Option<Institution>> {
        let row = sqlx::query(
            "SELECT id, role, name, status, address, created_at FROM institutions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(institution_from).transpose()
    }

    async fn set_institution_status(&self, id: &str, status: AccountStatus, at: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE institutions SET status = $1, decided_at = $2 WHERE id = $3")
            .bind(status.name())
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE accounts SET status = $1 WHERE institution_id = $2")
            .bind(status.name())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if status != AccountStatus::Active {
            sqlx::query(
                "DELETE FROM sessions WHERE account_id IN \
                 (SELECT id FROM accounts WHERE institution_id = $1)",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn pair_device(&self, device: NewDevice) -> Result<DeviceId> {
        let id = DeviceId::new(new_id("d")).map_err(corrupt)?;
        sqlx::query(
            "INSERT INTO devices (id, patient_id, token_hash, created_at, kind, name, public_key, \
             upload_interval_s) VALUES ($1, $2, $3, $4, 'device', $5, $6, $7)",
        )
        .bind(id.as_str())
        .bind(device.patient.as_str())
        .bind(device.token_hash.to_vec())
        .bind(now_ms())
        .bind(device.name.as_str())
        .bind(device.public_key.map(|k| k.to_vec()))
        .bind(i64::from(device.upload_interval_s))
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    async fn create_pairing_code(
        &self,
        code_hash: [u8; 32],
        patient: &PatientId,
        name: &str,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO pairing_codes (code_hash, patient_id, name, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(code_hash.to_vec())
        .bind(patient.as_str())
        .bind(name)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn redeem_pairing_code(
        &self,
        code_hash: [u8; 32],
        token_hash: [u8; 32],
        now: i64,
    ) -> Result<Option<(PatientId, DeviceId)>> {
        let mut tx = self.begin_write().await?;
        // Claiming the code and pairing the device commit together, so a code pairs once.
        let claimed = sqlx::query(
            "UPDATE pairing_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL \
             AND expires_at > $1 RETURNING patient_id, name",
        )
        .bind(now)
        .bind(code_hash.to_vec())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = claimed else {
            return Ok(None);
        };
        let patient = PatientId::new(row.try_get::<String, _>("patient_id")?).map_err(corrupt)?;
        let name: String = row.try_get("name")?;
        let device = DeviceId::new(new_id("d")).map_err(corrupt)?;
        sqlx::query(
            "INSERT INTO devices (id, patient_id, token_hash, created_at, kind, name, upload_interval_s) \
             VALUES ($1, $2, $3, $4, 'device', $5, 60)",
        )
        .bind(device.as_str())
        .bind(patient.as_str())
        .bind(token_hash.to_vec())
        .bind(now)
        .bind(name.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some((patient, device)))
    }

    async fn devices(&self, patient: &PatientId) -> Result<Vec<DeviceInfo>> {
        let rows = sqlx::query(
            "SELECT id, kind, name, public_key, upload_interval_s, created_at, last_upload_at, \
             revoked_at FROM devices WHERE patient_id = $1 AND kind = 'device' \
             ORDER BY created_at, id",
        )
        .bind(patient.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(device_from).collect()
    }

    async fn set_upload_interval(
        &self,
        patient: &PatientId,
        device: &DeviceId,
        seconds: u32,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE devices SET upload_interval_s = $1 WHERE id = $2 AND patient_id = $3 \
             AND kind = 'device' AND revoked_at IS NULL",
        )
        .bind(i64::from(seconds))
        .bind(device.as_str())
        .bind(patient.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_device(&self, patient: &PatientId, device: &DeviceId, at: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE devices SET revoked_at = $1 WHERE id = $2 AND patient_id = $3 \
             AND kind = 'device' AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(device.as_str())
        .bind(patient.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn source(
        &self,
        patient: &PatientId,
        kind: SourceKind,
        institution: Option<&str>,
    ) -> Result<DeviceId> {
        let find = "SELECT id FROM devices WHERE patient_id = $1 AND kind = $2 \
                    AND COALESCE(institution_id, '') = $3";
        let existing = sqlx::query(find)
            .bind(patient.as_str())
            .bind(kind.name())
            .bind(institution.unwrap_or(""))
            .fetch_optional(&self.pool)
            .await?;
        if let Some(row) = existing {
            return DeviceId::new(row.try_get::<String, _>("id")?).map_err(corrupt);
        }
        let id = DeviceId::new(new_id("s")).map_err(corrupt)?;
        // Sources never authenticate with a token: a random, never-shown hash.
        let filler: [u8; 32] = rand::random();
        sqlx::query(
            "INSERT INTO devices (id, patient_id, token_hash, created_at, kind, name, institution_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.as_str())
        .bind(patient.as_str())
        .bind(filler.to_vec())
        .bind(now_ms())
        .bind(kind.name())
        .bind(kind.name())
        .bind(institution.map(str::to_owned))
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    async fn import_source(&self, patient: &PatientId, name: &str) -> Result<DeviceId> {
        let find = "SELECT id FROM devices WHERE patient_id = $1 AND kind = $2 AND name = $3 \
                    ORDER BY created_at, id";
        let existing = sqlx::query(find)
            .bind(patient.as_str())
            .bind(SourceKind::Import.name())
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        if let Some(row) = existing {
            return DeviceId::new(row.try_get::<String, _>("id")?).map_err(corrupt);
        }
        let id = DeviceId::new(new_id("s")).map_err(corrupt)?;
        // Like every source, it never authenticates: a random, never-shown token hash.
        let filler: [u8; 32] = rand::random();
        sqlx::query(
            "INSERT INTO devices (id, patient_id, token_hash, created_at, kind, name) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.as_str())
        .bind(patient.as_str())
        .bind(filler.to_vec())
        .bind(now_ms())
        .bind(SourceKind::Import.name())
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    async fn section_choices(&self, patient: &PatientId) -> Result<Vec<(Metric, Section)>> {
        let rows = sqlx::query(
            "SELECT metric, section FROM patient_sections WHERE patient_id = $1 ORDER BY metric",
        )
        .bind(patient.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let metric: String = row.try_get("metric")?;
                let section: String = row.try_get("section")?;
                Ok((
                    metric.parse::<Metric>().map_err(corrupt)?,
                    Section::from_name(&section).ok_or_else(|| corrupt("section"))?,
                ))
            })
            .collect()
    }

    async fn set_section(
        &self,
        patient: &PatientId,
        metric: Metric,
        section: Section,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM patient_sections WHERE patient_id = $1 AND metric = $2")
            .bind(patient.as_str())
            .bind(metric.name())
            .execute(&mut *tx)
            .await?;
        if section != metric.spec().default_section {
            sqlx::query(
                "INSERT INTO patient_sections (patient_id, metric, section) VALUES ($1, $2, $3)",
            )
            .bind(patient.as_str())
            .bind(metric.name())
            .bind(section.name())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn set_region(&self, patient: &PatientId, region: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE patients SET region = $1 WHERE id = $2")
            .bind(region.map(str::to_owned))
            .bind(patient.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn set_seal_public_key(&self, patient: &PatientId, key: [u8; 32]) -> Result<()> {
        let updated = sqlx::query(
            "UPDATE patients SET seal_public_key = $1 WHERE id = $2 AND seal_public_key IS NULL",
        )
        .bind(key.to_vec())
        .bind(patient.as_str())
        .execute(&self.pool)
        .await?
        .rows_affected();
        if updated == 1 {
            return Ok(());
        }
        match self.seal_public_key(patient).await? {
            Some(stored) if stored == key => Ok(()),
            Some(_) => Err(StoreError::Conflict("seal_public_key".into())),
            None => Err(StoreError::UnknownPatient(patient.to_string())),
        }
    }

    async fn seal_public_key(&self, patient: &PatientId) -> Result<Option<[u8; 32]>> {
        let row = sqlx::query("SELECT seal_public_key FROM patients WHERE id = $1")
            .bind(patient.as_str())
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Err(StoreError::UnknownPatient(patient.to_string()));
        };
        row.try_get::<Option<Vec<u8>>, _>("seal_public_key")?
            .map(|bytes| {
                <[u8; 32]>::try_from(bytes.as_slice())
                    .map_err(|_| StoreError::Corrupt("seal_public_key".into()))
            })
            .transpose()
    }

    async fn regions(&self, patients: &[PatientId]) -> Result<Vec<(PatientId, Option<String>)>> {
        let mut out = Vec::with_capacity(patients.len());
        for patient in patients {
            let row = sqlx::query("SELECT region FROM patients WHERE id = $1")
                .bind(patient.as_str())
                .fetch_optional(&self.pool)
                .await?;
            let region = match row {
                Some(row) => row.try_get::<Option<String>, _>("region")?,
                None => None,
            };
            out.push((patient.clone(), region));
        }
        Ok(out)
    }

    async fn put_consent(&self, c: &ConsentRecord) -> Result<()> {
        let metrics: Vec<&str> = c.metrics.iter().map(|m| m.name()).collect();
        sqlx::query(
            "INSERT INTO consents (grant_id, patient_id, institution_id, access, sections, \
             metrics, purpose, expires_at, created_at, block_number, tx_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(c.grant_id.to_vec())
        .bind(c.patient.as_str())
        .bind(c.institution.as_str())
        .bind(i64::from(c.access))
        .bind(i64::from(c.sections))
        .bind(metrics.join(","))
        .bind(c.purpose.as_str())
        .bind(c.expires_at)
        .bind(c.created_at)
        .bind(c.block_number as i64)
        .bind(c.tx_hash.to_vec())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn consent(&self, grant_id: [u8; 32]) -> Result<Option<ConsentRecord>> {
        let row = sqlx::query("SELECT * FROM consents WHERE grant_id = $1")
            .bind(grant_id.to_vec())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(consent_from).transpose()
    }

    async fn consents_of_patient(&self, patient: &PatientId) -> Result<Vec<ConsentRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM consents WHERE patient_id = $1 ORDER BY created_at DESC, grant_id",
        )
        .bind(patient.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(consent_from).collect()
    }

    async fn consents_of_institution(&self, institution: &str) -> Result<Vec<ConsentRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM consents WHERE institution_id = $1 ORDER BY created_at DESC, grant_id",
        )
        .bind(institution)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(consent_from).collect()
    }

    async fn revoke_consent(&self, grant_id: [u8; 32], at: i64) -> Result<()> {
        sqlx::query(
            "UPDATE consents SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(grant_id.to_vec())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn set_revoke_tx(&self, grant_id: [u8; 32], tx: [u8; 32]) -> Result<()> {
        sqlx::query("UPDATE consents SET revoke_tx = $1 WHERE grant_id = $2")
            .bind(tx.to_vec())
            .bind(grant_id.to_vec())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn log_access(&self, entries: &[NewAccessEntry]) -> Result<Vec<i64>> {
        let mut tx = self.begin_write().await?;
        let mut ids = Vec::with_capacity(entries.len());
        for e in entries {
            let id: i64 = sqlx::query(
                "INSERT INTO access_log (at, account_id, role, institution_id, patient_id, action, \
                 detail, purpose, entry_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 RETURNING id",
            )
            .bind(e.at)
            .bind(e.account.as_str())
            .bind(e.role.name())
            .bind(e.institution.clone())
            .bind(e.patient.as_str())
            .bind(e.action.as_str())
            .bind(e.detail.as_str())
            .bind(e.purpose.as_str())
            .bind(e.hash().to_vec())
            .fetch_one(&mut *tx)
            .await?
            .try_get("id")?;
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    async fn access_log(
        &self,
        patient: Option<&PatientId>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AccessEntry>> {
        let rows = sqlx::query(
            "SELECT l.*, b.root, b.chain_index, b.block_number, b.tx_hash FROM access_log l \
             LEFT JOIN access_batches b ON b.id = l.batch_id \
             WHERE ($1 = '' OR l.patient_id = $1) AND l.id < $2 ORDER BY l.id DESC LIMIT $3",
        )
        .bind(patient.map(|p| p.as_str()).unwrap_or(""))
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(access_from).collect()
    }

    async fn claim_access_batch(&self, limit: u32) -> Result<Option<PendingAccessBatch>> {
        let mut tx = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            // Batches number their entries cumulatively: one claimer at a time.
            sqlx::query("LOCK TABLE access_batches IN EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
        }
        let rows = sqlx::query(
            "SELECT id, entry_hash FROM access_log WHERE batch_id IS NULL ORDER BY id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let ids: Vec<i64> = rows
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<std::result::Result<_, _>>()?;
        let leaves: Vec<[u8; 32]> = rows
            .iter()
            .map(|r| {
                let hash = fixed_bytes(&r.try_get::<Vec<u8>, _>("entry_hash")?)?;
                Ok(AccessEntry::leaf(r.try_get("id")?, &hash))
            })
            .collect::<Result<_>>()?;
        let first: i64 = sqlx::query(
            "SELECT COALESCE(MAX(first_entry + entry_count), 0) AS next FROM access_batches",
        )
        .fetch_one(&mut *tx)
        .await?
        .try_get("next")?;
        let tree = MerkleTree::from_leaves(&leaves);
        let root = tree.root();
        let batch: i64 = sqlx::query(
            "INSERT INTO access_batches (root, first_entry, entry_count, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(root.to_vec())
        .bind(first)
        .bind(ids.len() as i64)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        for (position, id) in ids.iter().enumerate() {
            let proof = tree.proof(position).map_err(corrupt)?;
            sqlx::query(
                "UPDATE access_log SET batch_id = $1, position = $2, proof = $3 WHERE id = $4",
            )
            .bind(batch)
            .bind(position as i64)
            .bind(proof.to_bytes())
            .bind(*id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Some(PendingAccessBatch {
            id: batch,
            root,
            first_entry: first as u64,
            entry_count: ids.len() as u32,
        }))
    }

    async fn pending_access_batches(&self) -> Result<Vec<PendingAccessBatch>> {
        let rows = sqlx::query(
            "SELECT id, root, first_entry, entry_count FROM access_batches \
             WHERE chain_index IS NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PendingAccessBatch {
                    id: row.try_get("id")?,
                    root: fixed_bytes(&row.try_get::<Vec<u8>, _>("root")?)?,
                    first_entry: row.try_get::<i64, _>("first_entry")? as u64,
                    entry_count: u32::try_from(row.try_get::<i64, _>("entry_count")?)
                        .map_err(corrupt)?,
                })
            })
            .collect()
    }

    async fn confirm_access_batch(&self, id: i64, on_chain: &AnchorOnChain) -> Result<()> {
        sqlx::query(
            "UPDATE access_batches SET chain_index = $1, block_number = $2, tx_hash = $3 \
             WHERE id = $4",
        )
        .bind(on_chain.index as i64)
        .bind(on_chain.block_number as i64)
        .bind(on_chain.tx_hash.to_vec())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
