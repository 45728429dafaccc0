-- The embedded chain's block store: blocks, transactions with their receipts, logs, and
-- the current world state. One SQLite file in the data directory (`chain.db`).

CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
);

-- header: RLP of the consensus header.
CREATE TABLE blocks (
    number   INTEGER PRIMARY KEY NOT NULL,
    hash     BLOB NOT NULL UNIQUE,
    header   BLOB NOT NULL,
    tx_count INTEGER NOT NULL
);

-- raw: the EIP-2718 encoding; effective_gas_price: 16 bytes big-endian.
CREATE TABLE transactions (
    hash                BLOB PRIMARY KEY NOT NULL,
    block_number        INTEGER NOT NULL,
    idx                 INTEGER NOT NULL,
    sender              BLOB NOT NULL,
    raw                 BLOB NOT NULL,
    success             INTEGER NOT NULL,
    gas_used            INTEGER NOT NULL,
    cumulative_gas_used INTEGER NOT NULL,
    effective_gas_price BLOB NOT NULL,
    contract_address    BLOB,
    first_log_index     INTEGER NOT NULL,
    log_count           INTEGER NOT NULL
) WITHOUT ROWID;
CREATE UNIQUE INDEX transactions_by_position ON transactions (block_number, idx);

-- log_index counts within the block, as in receipts.
CREATE TABLE logs (
    block_number INTEGER NOT NULL,
    log_index    INTEGER NOT NULL,
    tx_idx       INTEGER NOT NULL,
    address      BLOB NOT NULL,
    topic0       BLOB,
    topic1       BLOB,
    topic2       BLOB,
    topic3       BLOB,
    data         BLOB NOT NULL,
    PRIMARY KEY (block_number, log_index)
) WITHOUT ROWID;
CREATE INDEX logs_by_address ON logs (address, block_number);

-- balance: 32 bytes big-endian.
CREATE TABLE accounts (
    address   BLOB PRIMARY KEY NOT NULL,
    nonce     INTEGER NOT NULL,
    balance   BLOB NOT NULL,
    code_hash BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE storage (
    address BLOB NOT NULL,
    slot    BLOB NOT NULL,
    value   BLOB NOT NULL,
    PRIMARY KEY (address, slot)
) WITHOUT ROWID;

CREATE TABLE code (
    hash  BLOB PRIMARY KEY NOT NULL,
    bytes BLOB NOT NULL
) WITHOUT ROWID;
