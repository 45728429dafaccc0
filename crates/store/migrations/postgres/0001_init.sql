-- Patients, devices, records (the unit of storage and proof), content-addressed blobs,
-- the reading index and idempotency receipts.

CREATE TABLE patients (
    id              TEXT    PRIMARY KEY,
    token_hash      BYTEA   NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL,
    head_seq        BIGINT NOT NULL DEFAULT 0,
    head_commitment BYTEA   NOT NULL
);

CREATE TABLE devices (
    id          TEXT    PRIMARY KEY,
    patient_id  TEXT    NOT NULL REFERENCES patients (id),
    token_hash  BYTEA   NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE blobs (
    cid   TEXT PRIMARY KEY,
    bytes BYTEA NOT NULL
);

CREATE TABLE records (
    id            TEXT    PRIMARY KEY,
    patient_id    TEXT    NOT NULL REFERENCES patients (id),
    seq           BIGINT NOT NULL,
    source        TEXT    NOT NULL REFERENCES devices (id),
    section       TEXT    NOT NULL,
    encoding      BIGINT NOT NULL,
    t_from        BIGINT NOT NULL,
    t_to          BIGINT NOT NULL,
    prev          BYTEA   NOT NULL,
    commitment    BYTEA   NOT NULL,
    cid           TEXT    NOT NULL REFERENCES blobs (cid),
    reading_count BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    UNIQUE (patient_id, seq)
);

-- One row per reading. The primary key is both the read index (patient, metric, time)
-- and the duplicate check: a device belongs to one patient, so (patient, metric, t,
-- device) is unique exactly when (device, metric, t) is.
CREATE TABLE readings (
    patient_id TEXT    NOT NULL,
    metric     TEXT    NOT NULL,
    t          BIGINT NOT NULL,
    device_id  TEXT    NOT NULL,
    record_id  TEXT    NOT NULL,
    v1         DOUBLE PRECISION    NOT NULL,
    v2         DOUBLE PRECISION,
    v3         DOUBLE PRECISION,
    PRIMARY KEY (patient_id, metric, t, device_id)
);

CREATE TABLE idempotency (
    device_id  TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    receipt    TEXT    NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, key)
);
