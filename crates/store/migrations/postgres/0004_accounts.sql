-- Accounts, sessions, API tokens, institutions, device management, per-patient section
-- choices, consent grants and the access log.
--
-- Patient API tokens move to `api_tokens` (copied below). `patients.token_hash` stays
-- (kept, like the SQLite schema) and is never looked up again: new patients get a
-- random value there.

CREATE TABLE institutions (
    id          TEXT    PRIMARY KEY,
    role        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    address     BYTEA    NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    decided_at  BIGINT
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
    key_address     BYTEA,
    key_sealed      BYTEA,
    key_recovery    BYTEA,
    created_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX accounts_patient ON accounts (patient_id);

CREATE TABLE sessions (
    id_hash     BYTEA    PRIMARY KEY,
    account_id  TEXT    NOT NULL REFERENCES accounts (id),
    csrf        TEXT    NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE api_tokens (
    token_hash  BYTEA    PRIMARY KEY,
    account_id  TEXT    NOT NULL REFERENCES accounts (id),
    name        TEXT    NOT NULL,
    scopes      TEXT    NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT,
    revoked_at  BIGINT
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
ALTER TABLE devices ADD COLUMN public_key BYTEA;
ALTER TABLE devices ADD COLUMN upload_interval_s BIGINT NOT NULL DEFAULT 60;
ALTER TABLE devices ADD COLUMN revoked_at BIGINT;
ALTER TABLE devices ADD COLUMN last_upload_at BIGINT;
ALTER TABLE devices ADD COLUMN institution_id TEXT REFERENCES institutions (id);

ALTER TABLE patients ADD COLUMN region TEXT;

CREATE TABLE patient_sections (
    patient_id  TEXT NOT NULL REFERENCES patients (id),
    metric      TEXT NOT NULL,
    section     TEXT NOT NULL,
    PRIMARY KEY (patient_id, metric)
);

CREATE TABLE consents (
    grant_id        BYTEA    PRIMARY KEY,
    patient_id      TEXT    NOT NULL REFERENCES patients (id),
    institution_id  TEXT    NOT NULL REFERENCES institutions (id),
    access          BIGINT NOT NULL,
    sections        BIGINT NOT NULL,
    metrics         TEXT    NOT NULL,
    purpose         TEXT    NOT NULL,
    expires_at      BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    block_number    BIGINT NOT NULL,
    tx_hash         BYTEA    NOT NULL,
    revoked_at      BIGINT,
    revoke_tx       BYTEA
);
CREATE INDEX consents_patient ON consents (patient_id, institution_id);
CREATE INDEX consents_institution ON consents (institution_id);

CREATE TABLE access_batches (
    id            BIGSERIAL PRIMARY KEY,
    root          BYTEA    NOT NULL UNIQUE,
    first_entry   BIGINT NOT NULL,
    entry_count   BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    chain_index   BIGINT,
    block_number  BIGINT,
    tx_hash       BYTEA
);

-- One row per access. `entry_hash` is SHA-256 of the entry's canonical form; batches
-- commit the Merkle root of their entries' hashes on chain, entries keep their proof.
CREATE TABLE access_log (
    id              BIGSERIAL PRIMARY KEY,
    at              BIGINT NOT NULL,
    account_id      TEXT    NOT NULL,
    role            TEXT    NOT NULL,
    institution_id  TEXT,
    patient_id      TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    detail          TEXT    NOT NULL,
    purpose         TEXT    NOT NULL,
    entry_hash      BYTEA    NOT NULL,
    batch_id        BIGINT REFERENCES access_batches (id),
    position        BIGINT,
    proof           BYTEA
);
CREATE INDEX access_log_patient ON access_log (patient_id, id);
CREATE INDEX access_log_unbatched ON access_log (id) WHERE batch_id IS NULL;
