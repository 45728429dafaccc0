//! The block store: the embedded chain on disk (`chain.db`, SQLite through sqlx).
//!
//! A block is stored in one database transaction with its transactions, receipts, logs
//! and state changes, so after a crash the chain is at some block boundary, never between
//! two. The node publishes a block (makes its receipts visible) only after that
//! transaction has committed.

use std::str::FromStr;

use alloy::consensus::{Header, TxEnvelope};
use alloy::eips::Decodable2718;
use alloy::primitives::{Address, B256, Bytes, Log, LogData, U256};
use alloy::rlp::{Decodable, Encodable};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use crate::block::{MinedBlock, StoredReceipt};
use crate::state::{AccountRow, WorldState, restore};

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Rows per multi-row INSERT (at most 12 parameters a row, under SQLite's 32,766).
const CHUNK: usize = 2_000;

/// A block store failure.
#[derive(Debug, thiserror::Error)]
pub enum BlockStoreError {
    /// The database failed.
    #[error("chain database: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("chain database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Stored bytes do not decode: the file is damaged or from another program.
    #[error("chain database is corrupt: {0}")]
    Corrupt(String),
}

type Result<T> = std::result::Result<T, BlockStoreError>;

/// A stored header and its hash.
#[derive(Debug, Clone)]
pub struct StoredHeader {
    /// The header.
    pub header: Header,
    /// Its hash.
    pub hash: B256,
}

/// A stored transaction with where it is and its receipt.
#[derive(Debug, Clone)]
pub struct StoredTx {
    /// The transaction.
    pub envelope: TxEnvelope,
    /// Its signer.
    pub sender: Address,
    /// Its block.
    pub block_number: u64,
    /// Its position in the block.
    pub index: u64,
    /// Index of its first log within the block.
    pub first_log_index: u64,
    /// Its receipt.
    pub receipt: StoredReceipt,
}

/// A stored log with where it is.
#[derive(Debug, Clone)]
pub struct StoredLog {
    /// The log.
    pub log: Log,
    /// Its block.
    pub block_number: u64,
    /// Its index within the block.
    pub log_index: u64,
    /// Its transaction's position in the block.
    pub tx_index: u64,
}

/// The chain on disk.
#[derive(Debug, Clone)]
pub struct BlockStore {
    /// Reads.
    pool: SqlitePool,
    /// Writes: one connection.
    writer: SqlitePool,
}

fn corrupt(what: impl std::fmt::Display) -> BlockStoreError {
    BlockStoreError::Corrupt(what.to_string())
}

fn b256(bytes: &[u8]) -> Result<B256> {
    B256::try_from(bytes).map_err(|_| corrupt("bad 32-byte value"))
}

fn address(bytes: &[u8]) -> Result<Address> {
    Address::try_from(bytes).map_err(|_| corrupt("bad address"))
}

fn u256(bytes: &[u8]) -> Result<U256> {
    U256::try_from_be_slice(bytes).ok_or_else(|| corrupt("bad 256-bit value"))
}

impl BlockStore {
    /// Opens (creating if needed) the chain database at `path`.
    pub async fn open(path: &std::path::Path) -> Result<BlockStore> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(std::time::Duration::from_secs(10))
            // A block's multi-row inserts need statement journals: keep them in memory,
            // not in temporary files.
            .pragma("temp_store", "memory");
        // One connection writes, so that its page cache (64 MiB) stays valid from block
        // to block (SQLite drops a connection's cache when another connection has written).
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone().pragma("cache_size", "-65536"))
            .await?;
        MIGRATIONS.run(&writer).await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        Ok(BlockStore { pool, writer })
    }

    /// A value of the `meta` table.
    pub async fn meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT value FROM meta WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Sets a value of the `meta` table.
    pub async fn set_meta(&self, key: &str, value: &[u8]) -> Result<()> {
        sqlx::query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Stores a block with everything in it, atomically.
    pub async fn commit_block(&self, block: &MinedBlock) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        let mut header = Vec::new();
        block.header.encode(&mut header);
        sqlx::query("INSERT INTO blocks (number, hash, header, tx_count) VALUES (?, ?, ?, ?)")
            .bind(block.header.number as i64)
            .bind(block.hash.as_slice())
            .bind(header)
            .bind(block.transactions.len() as i64)
            .execute(&mut *tx)
            .await?;

        let number = block.header.number as i64;
        let mut log_index = 0i64;
        let mut first_logs = Vec::with_capacity(block.transactions.len());
        for t in &block.transactions {
            first_logs.push(log_index);
            log_index += t.receipt.logs.len() as i64;
        }
        for (chunk_no, chunk) in block.transactions.chunks(CHUNK).enumerate() {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO transactions (hash, block_number, idx, sender, raw, success, gas_used, \
                 cumulative_gas_used, effective_gas_price, contract_address, first_log_index, log_count) ",
            );
            q.push_values(chunk.iter().enumerate(), |mut row, (i, t)| {
                let idx = chunk_no * CHUNK + i;
                let r = &t.receipt;
                row.push_bind(t.tx.hash.to_vec())
                    .push_bind(number)
                    .push_bind(idx as i64)
                    .push_bind(t.tx.sender.to_vec())
                    .push_bind(t.tx.raw.to_vec())
                    .push_bind(r.success)
                    .push_bind(r.gas_used as i64)
                    .push_bind(r.cumulative_gas_used as i64)
                    .push_bind(r.effective_gas_price.to_be_bytes().to_vec())
                    .push_bind(r.contract_address.map(|a| a.to_vec()))
                    .push_bind(first_logs[idx])
                    .push_bind(r.logs.len() as i64);
            });
            q.build().execute(&mut *tx).await?;
        }

        let logs: Vec<(usize, &Log)> = block
            .transactions
            .iter()
            .enumerate()
            .flat_map(|(i, t)| t.receipt.logs.iter().map(move |l| (i, l)))
            .collect();
        for (chunk_no, chunk) in logs.chunks(CHUNK).enumerate() {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO logs (block_number, log_index, tx_idx, address, topic0, topic1, topic2, topic3, data) ",
            );
            q.push_values(chunk.iter().enumerate(), |mut row, (i, (tx_idx, log))| {
                let topic = |n: usize| log.data.topics().get(n).map(|t| t.to_vec());
                row.push_bind(number)
                    .push_bind((chunk_no * CHUNK + i) as i64)
                    .push_bind(*tx_idx as i64)
                    .push_bind(log.address.to_vec())
                    .push_bind(topic(0))
                    .push_bind(topic(1))
                    .push_bind(topic(2))
                    .push_bind(topic(3))
                    .push_bind(log.data.data.to_vec());
            });
            q.build().execute(&mut *tx).await?;
        }

        let diff = &block.diff;
        for a in &diff.cleared {
            sqlx::query("DELETE FROM storage WHERE address = ?")
                .bind(a.as_slice())
                .execute(&mut *tx)
                .await?;
        }
        for chunk in diff.accounts.chunks(CHUNK) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT OR REPLACE INTO accounts (address, nonce, balance, code_hash) ",
            );
            q.push_values(chunk, |mut row, a| {
                row.push_bind(a.address.to_vec())
                    .push_bind(a.nonce as i64)
                    .push_bind(a.balance.to_be_bytes::<32>().to_vec())
                    .push_bind(a.code_hash.to_vec());
            });
            q.build().execute(&mut *tx).await?;
        }
        for chunk in diff.storage.chunks(CHUNK) {
            let mut q: QueryBuilder<Sqlite> =
                QueryBuilder::new("INSERT OR REPLACE INTO storage (address, slot, value) ");
            q.push_values(chunk, |mut row, (a, slot, value)| {
                row.push_bind(a.to_vec())
                    .push_bind(slot.to_be_bytes::<32>().to_vec())
                    .push_bind(value.to_be_bytes::<32>().to_vec());
            });
            q.build().execute(&mut *tx).await?;
        }
        for (hash, bytes) in &diff.code {
            sqlx::query("INSERT OR IGNORE INTO code (hash, bytes) VALUES (?, ?)")
                .bind(hash.as_slice())
                .bind(bytes.as_ref())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Reads the whole world state.
    pub async fn load_state(&self) -> Result<WorldState> {
        let accounts = sqlx::query("SELECT address, nonce, balance, code_hash FROM accounts")
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|r| {
                Ok(AccountRow {
                    address: address(r.get(0))?,
                    nonce: r.get::<i64, _>(1) as u64,
                    balance: u256(r.get(2))?,
                    code_hash: b256(r.get(3))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let storage = sqlx::query("SELECT address, slot, value FROM storage")
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|r| Ok((address(r.get(0))?, u256(r.get(1))?, u256(r.get(2))?)))
            .collect::<Result<Vec<_>>>()?;
        let code = sqlx::query("SELECT hash, bytes FROM code")
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|r| Ok((b256(r.get(0))?, Bytes::from(r.get::<Vec<u8>, _>(1)))))
            .collect::<Result<Vec<_>>>()?;
        Ok(restore(accounts, storage, code))
    }

    fn header_row(row: sqlx::sqlite::SqliteRow) -> Result<StoredHeader> {
        let bytes: Vec<u8> = row.get(1);
        let header = Header::decode(&mut bytes.as_slice()).map_err(corrupt)?;
        Ok(StoredHeader {
            header,
            hash: b256(row.get(0))?,
        })
    }

    /// The newest block.
    pub async fn head(&self) -> Result<Option<StoredHeader>> {
        sqlx::query("SELECT hash, header FROM blocks ORDER BY number DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await?
            .map(Self::header_row)
            .transpose()
    }

    /// A block's header by number.
    pub async fn header_by_number(&self, number: u64) -> Result<Option<StoredHeader>> {
        sqlx::query("SELECT hash, header FROM blocks WHERE number = ?")
            .bind(number as i64)
            .fetch_optional(&self.pool)
            .await?
            .map(Self::header_row)
            .transpose()
    }

    /// A block's header by hash.
    pub async fn header_by_hash(&self, hash: B256) -> Result<Option<StoredHeader>> {
        sqlx::query("SELECT hash, header FROM blocks WHERE hash = ?")
            .bind(hash.as_slice())
            .fetch_optional(&self.pool)
            .await?
            .map(Self::header_row)
            .transpose()
    }

    const TX_COLUMNS: &str = "raw, sender, block_number, idx, success, gas_used, cumulative_gas_used, \
         effective_gas_price, contract_address, first_log_index, log_count, hash";

    async fn tx_row(&self, row: sqlx::sqlite::SqliteRow) -> Result<StoredTx> {
        let raw: Vec<u8> = row.get(0);
        let envelope = TxEnvelope::decode_2718(&mut raw.as_slice()).map_err(corrupt)?;
        let block_number = row.get::<i64, _>(2) as u64;
        let first_log_index = row.get::<i64, _>(9) as u64;
        let log_count = row.get::<i64, _>(10) as u64;
        let logs = if log_count == 0 {
            Vec::new()
        } else {
            self.logs_of_tx(block_number, first_log_index, log_count)
                .await?
        };
        let price: Vec<u8> = row.get(7);
        let price: [u8; 16] = price.try_into().map_err(|_| corrupt("bad gas price"))?;
        let contract: Option<Vec<u8>> = row.get(8);
        Ok(StoredTx {
            receipt: StoredReceipt {
                tx_type: alloy::consensus::Typed2718::ty(&envelope),
                success: row.get(4),
                gas_used: row.get::<i64, _>(5) as u64,
                cumulative_gas_used: row.get::<i64, _>(6) as u64,
                effective_gas_price: u128::from_be_bytes(price),
                contract_address: contract.as_deref().map(address).transpose()?,
                logs,
            },
            envelope,
            sender: address(row.get(1))?,
            block_number,
            index: row.get::<i64, _>(3) as u64,
            first_log_index,
        })
    }

    async fn logs_of_tx(&self, block: u64, first: u64, count: u64) -> Result<Vec<Log>> {
        let rows = sqlx::query(
            "SELECT address, topic0, topic1, topic2, topic3, data FROM logs \
             WHERE block_number = ? AND log_index >= ? AND log_index < ? ORDER BY log_index",
        )
        .bind(block as i64)
        .bind(first as i64)
        .bind((first + count) as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(|r| log_from_row(&r, 0)).collect()
    }

    /// A transaction by hash.
    pub async fn tx_by_hash(&self, hash: B256) -> Result<Option<StoredTx>> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM transactions WHERE hash = ?",
            Self::TX_COLUMNS
        ))
        .bind(hash.as_slice())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Some(self.tx_row(row).await?)),
            None => Ok(None),
        }
    }

    /// A block's transactions in order.
    pub async fn txs_in_block(&self, number: u64) -> Result<Vec<StoredTx>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM transactions WHERE block_number = ? ORDER BY idx",
            Self::TX_COLUMNS
        ))
        .bind(number as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.tx_row(row).await?);
        }
        Ok(out)
    }

    /// A block's transaction hashes in order.
    pub async fn tx_hashes_in_block(&self, number: u64) -> Result<Vec<B256>> {
        sqlx::query("SELECT hash FROM transactions WHERE block_number = ? ORDER BY idx")
            .bind(number as i64)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|r| b256(r.get(0)))
            .collect()
    }

    /// The hash of the transaction at a position.
    pub async fn tx_hash_at(&self, number: u64, index: u64) -> Result<Option<B256>> {
        sqlx::query("SELECT hash FROM transactions WHERE block_number = ? AND idx = ?")
            .bind(number as i64)
            .bind(index as i64)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| b256(r.get(0)))
            .transpose()
    }

    /// Logs of blocks `from..=to`, of the given addresses (all when empty), in chain
    /// order, at most `limit + 1` (so that the caller can tell "more than limit").
    pub async fn logs(
        &self,
        from: u64,
        to: u64,
        addresses: &[Address],
        limit: usize,
    ) -> Result<Vec<StoredLog>> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT block_number, log_index, tx_idx, address, topic0, topic1, topic2, topic3, data \
             FROM logs WHERE block_number >= ",
        );
        q.push_bind(from as i64)
            .push(" AND block_number <= ")
            .push_bind(to as i64);
        if !addresses.is_empty() {
            q.push(" AND address IN (");
            let mut sep = q.separated(", ");
            for a in addresses {
                sep.push_bind(a.to_vec());
            }
            q.push(")");
        }
        q.push(" ORDER BY block_number, log_index LIMIT ")
            .push_bind((limit + 1) as i64);
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|r| {
                Ok(StoredLog {
                    log: log_from_row(&r, 3)?,
                    block_number: r.get::<i64, _>(0) as u64,
                    log_index: r.get::<i64, _>(1) as u64,
                    tx_index: r.get::<i64, _>(2) as u64,
                })
            })
            .collect()
    }
}

/// A log from columns `address, topic0..3, data` starting at `at`.
fn log_from_row(row: &sqlx::sqlite::SqliteRow, at: usize) -> Result<Log> {
    let mut topics = Vec::with_capacity(4);
    for i in 0..4 {
        if let Some(t) = row.get::<Option<Vec<u8>>, _>(at + 1 + i) {
            topics.push(b256(&t)?);
        }
    }
    let data: Vec<u8> = row.get(at + 5);
    Ok(Log {
        address: address(row.get(at))?,
        data: LogData::new(topics, Bytes::from(data)).ok_or_else(|| corrupt("too many topics"))?,
    })
}
