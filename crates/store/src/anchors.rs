//! Anchoring bookkeeping of [`SqlStore`]: claiming records into anchors, pending anchors,
//! confirmation.
//!
//! Claiming happens in one transaction: the oldest records in no anchor are read, the
//! RFC 6962 Merkle tree over their commitments is built, and the anchor row (root,
//! count, interval) and every record's inclusion proof are written together. Because the
//! claim is stored before the root goes to the ledger, a crash between the two leaves a
//! pending anchor with the very same root, which is sent again (or found already on the
//! ledger) after the restart: a record is anchored exactly once. On PostgreSQL,
//! concurrent nodes skip each other's claimed rows (`FOR UPDATE SKIP LOCKED`).

use sqlx::Row;
use sqlx::any::AnyRow;
use vitalis_crypto::merkle::MerkleTree;
use vitalis_model::Timestamp;

use crate::sql::{Backend, SqlStore, corrupt, fixed_bytes};
use crate::{AnchorOnChain, AnchorSummary, PendingAnchor, RecordAnchor, Result};

pub(crate) async fn claim(store: &SqlStore, limit: u32) -> Result<Option<PendingAnchor>> {
    let mut tx = match store.backend {
        Backend::Sqlite => store.pool.begin_with("BEGIN IMMEDIATE").await?,
        Backend::Postgres => store.pool.begin().await?,
    };
    let lock = match store.backend {
        Backend::Sqlite => "",
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
    };
    let rows = sqlx::query(&format!(
        "SELECT id, commitment, created_at FROM records WHERE anchor_id IS NULL \
         ORDER BY created_at, id LIMIT $1{lock}"
    ))
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut ids = Vec::with_capacity(rows.len());
    let mut leaves = Vec::with_capacity(rows.len());
    let (mut start, mut end) = (i64::MAX, i64::MIN);
    for row in &rows {
        ids.push(row.try_get::<String, _>("id")?);
        leaves.push(fixed_bytes::<32>(
            &row.try_get::<Vec<u8>, _>("commitment")?,
        )?);
        let created: i64 = row.try_get("created_at")?;
        start = start.min(created);
        end = end.max(created);
    }
    let tree = MerkleTree::from_leaves(&leaves);
    let root = tree.root();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let id: i64 = sqlx::query(
        "INSERT INTO anchors (root, record_count, interval_start, interval_end, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(root.to_vec())
    .bind(ids.len() as i64)
    .bind(start)
    .bind(end)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    for (leaf, record) in ids.iter().enumerate() {
        let proof = tree.proof(leaf).map_err(corrupt)?;
        sqlx::query("UPDATE records SET anchor_id = $1, anchor_proof = $2 WHERE id = $3")
            .bind(id)
            .bind(proof.to_bytes())
            .bind(record.as_str())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(Some(PendingAnchor {
        id,
        root,
        record_count: ids.len() as u32,
        interval_start: Timestamp::new(start).map_err(corrupt)?,
        interval_end: Timestamp::new(end).map_err(corrupt)?,
    }))
}

pub(crate) async fn pending(store: &SqlStore) -> Result<Vec<PendingAnchor>> {
    let rows = sqlx::query(
        "SELECT id, root, record_count, interval_start, interval_end FROM anchors \
         WHERE chain_index IS NULL ORDER BY id",
    )
    .fetch_all(&store.pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(PendingAnchor {
                id: row.try_get("id")?,
                root: fixed_bytes(&row.try_get::<Vec<u8>, _>("root")?)?,
                record_count: u32::try_from(row.try_get::<i64, _>("record_count")?)
                    .map_err(corrupt)?,
                interval_start: Timestamp::new(row.try_get("interval_start")?).map_err(corrupt)?,
                interval_end: Timestamp::new(row.try_get("interval_end")?).map_err(corrupt)?,
            })
        })
        .collect()
}

/// The newest `limit` anchors, newest first.
pub(crate) async fn recent(store: &SqlStore, limit: u32) -> Result<Vec<AnchorSummary>> {
    let rows = sqlx::query(
        "SELECT id, root, record_count, interval_start, interval_end, chain_index, \
         block_number, tx_hash FROM anchors ORDER BY id DESC LIMIT $1",
    )
    .bind(i64::from(limit))
    .fetch_all(&store.pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(AnchorSummary {
                id: row.try_get("id")?,
                root: fixed_bytes(&row.try_get::<Vec<u8>, _>("root")?)?,
                record_count: u32::try_from(row.try_get::<i64, _>("record_count")?)
                    .map_err(corrupt)?,
                interval_start: row.try_get("interval_start")?,
                interval_end: row.try_get("interval_end")?,
                on_chain: on_chain_columns(row)?,
            })
        })
        .collect()
}

pub(crate) async fn confirm(store: &SqlStore, id: i64, on_chain: &AnchorOnChain) -> Result<()> {
    sqlx::query(
        "UPDATE anchors SET chain_index = $1, block_number = $2, tx_hash = $3 WHERE id = $4",
    )
    .bind(on_chain.index as i64)
    .bind(on_chain.block_number as i64)
    .bind(on_chain.tx_hash.to_vec())
    .bind(id)
    .execute(&store.pool)
    .await?;
    Ok(())
}

/// The anchor columns of a records query joined with `anchors` (`anchor_proof`, `root`,
/// `chain_index`, `block_number`, `tx_hash`).
pub(crate) fn record_anchor(row: &AnyRow) -> Result<Option<RecordAnchor>> {
    let Some(proof) = row.try_get::<Option<Vec<u8>>, _>("anchor_proof")? else {
        return Ok(None);
    };
    let root: Vec<u8> = row.try_get("root")?;
    Ok(Some(RecordAnchor {
        root: fixed_bytes(&root)?,
        proof,
        on_chain: on_chain_columns(row)?,
    }))
}

/// Where a batch is on the ledger, from the columns `chain_index`, `block_number` and
/// `tx_hash` (all set once it is mined; `None` while pending).
pub(crate) fn on_chain_columns(row: &AnyRow) -> Result<Option<AnchorOnChain>> {
    Ok(
        match (
            row.try_get::<Option<i64>, _>("chain_index")?,
            row.try_get::<Option<i64>, _>("block_number")?,
            row.try_get::<Option<Vec<u8>>, _>("tx_hash")?,
        ) {
            (Some(index), Some(block), Some(tx)) => Some(AnchorOnChain {
                index: index as u64,
                block_number: block as u64,
                tx_hash: fixed_bytes(&tx)?,
            }),
            _ => None,
        },
    )
}
