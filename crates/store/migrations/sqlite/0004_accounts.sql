-- Accounts, sessions, API tokens, institutions, device management, per-patient section
-- choices, consent grants and the access log.
--
-- Patient API tokens move to `api_tokens` (copied below). `patients.token_hash` stays
-- (SQLite cannot drop a UNIQUE column) and is never looked up again: new patients get a
-- random value there.

CREATE TABLE institutions (
    id          TEXT    PRIMARY KEY,
    role        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    address     BLOB    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    decided_at  INTEGER
);

CREATE TABLE accounts (
    id              TEXT    PRIMARY KEY,
    role            TEXT    NOT NULL,
    email           TEXT    NOT NULL UNIQUE,
    name            TEXT    NOT NULL,
    password_hash   TEXT,
    status          TEXT    NOT NULL,
    patient_id      TEXT    REFERENCES patients (id),
    institution_id  TEXT    REFERENCES institutions (id),
    key_address     BLOB,
    key_sealed      BLOB,
    key_recovery    BLOB,
    created_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX accounts_patient ON accounts (patient_id);

CREATE TABLE sessions (
    id_hash     BLOB    PRIMARY KEY,
    account_id  TEXT    NOT NULL REFERENCES accounts (id),
    csrf        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE api_tokens (
    token_hash  BLOB    PRIMARY KEY,
    account_id  TEXT    NOT NULL REFERENCES accounts (id),
    name        TEXT    NOT NULL,
    scopes      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    revoked_at  INTEGER
);

INSERT INTO accounts (id, role, email, name, password_hash, status, patient_id, created_at)
    SELECT 'acct_' || id, 'patient', id || '@patients.invalid', id, NULL, 'active', id, created_at
    FROM patients;
INSERT INTO api_tokens (token_hash, account_id, name, scopes, created_at)
    SELECT token_hash, 'acct_' || id, 'patient token', 'read write', created_at FROM patients;

-- A source is a device of the patient's, the patient's own manual entries, or an
-- institution writing clinical results: records name their source here.
ALTER TABLE devices ADD COLUMN kind TEXT NOT NULL DEFAULT 'device';
ALTER TABLE devices ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN public_key BLOB;
ALTER TABLE devices ADD COLUMN upload_interval_s INTEGER NOT NULL DEFAULT 60;
ALTER TABLE devices ADD COLUMN revoked_at INTEGER;
ALTER TABLE devices ADD COLUMN last_upload_at INTEGER;
ALTER TABLE devices ADD COLUMN institution_id TEXT REFERENCES institutions (id);

ALTER TABLE patients ADD COLUMN region TEXT;

CREATE TABLE patient_sections (
    patient_id  TEXT NOT NULL REFERENCES patients (id),
    metric      TEXT NOT NULL,
    section     TEXT NOT NULL,
    PRIMARY KEY (patient_id, metric)
);

CREATE TABLE consents (
    grant_id        BLOB    PRIMARY KEY,
    patient_id      TEXT    NOT NULL REFERENCES patients (id),
    institution_id  TEXT    NOT NULL REFERENCES institutions (id),
    access          INTEGER NOT NULL,
    sections        INTEGER NOT NULL,
    metrics         TEXT    NOT NULL,
    purpose         TEXT    NOT NULL,
    expires_at      INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    block_number    INTEGER NOT NULL,
    tx_hash         BLOB    NOT NULL,
    revoked_at      INTEGER,
    revoke_tx       BLOB
);
CREATE INDEX consents_patient ON consents (patient_id, institution_id);
CREATE INDEX consents_institution ON consents (institution_id);

CREATE TABLE access_batches (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    root          BLOB    NOT NULL UNIQUE,
    first_entry   INTEGER NOT NULL,
    entry_count   INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    chain_index   INTEGER,
    block_number  INTEGER,
    tx_hash       BLOB
);

-- One row per access. `entry_hash` is SHA-256 of the entry's canonical form; batches
-- commit the Merkle root of their entries' hashes on chain, entries keep their proof.
CREATE TABLE access_log (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at              INTEGER NOT NULL,
    account_id      TEXT    NOT NULL,
    role            TEXT    NOT NULL,
    institution_id  TEXT,
    patient_id      TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    detail          TEXT    NOT NULL,
    purpose         TEXT    NOT NULL,
    entry_hash      BLOB    NOT NULL,
    batch_id        INTEGER REFERENCES access_batches (id),
    position        INTEGER,
    proof           BLOB
);
CREATE INDEX access_log_patient ON access_log (patient_id, id);
CREATE INDEX access_log_unbatched ON access_log (id) WHERE batch_id IS NULL;
