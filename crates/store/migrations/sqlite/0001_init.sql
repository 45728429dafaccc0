-- Patients, devices, records (the unit of storage and proof), content-addressed blobs,
-- the reading index and idempotency receipts.

CREATE TABLE patients (
    id              TEXT    PRIMARY KEY,
    token_hash      BLOB    NOT NULL UNIQUE,
    created_at      INTEGER NOT NULL,
    head_seq        INTEGER NOT NULL DEFAULT 0,
    head_commitment BLOB    NOT NULL
);

CREATE TABLE devices (
    id          TEXT    PRIMARY KEY,
    patient_id  TEXT    NOT NULL REFERENCES patients (id),
    token_hash  BLOB    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE blobs (
    cid   TEXT PRIMARY KEY,
    bytes BLOB NOT NULL
);

CREATE TABLE records (
    id            TEXT    PRIMARY KEY,
    patient_id    TEXT    NOT NULL REFERENCES patients (id),
    seq           INTEGER NOT NULL,
    source        TEXT    NOT NULL REFERENCES devices (id),
    section       TEXT    NOT NULL,
    encoding      INTEGER NOT NULL,
    t_from        INTEGER NOT NULL,
    t_to          INTEGER NOT NULL,
    prev          BLOB    NOT NULL,
    commitment    BLOB    NOT NULL,
    cid           TEXT    NOT NULL REFERENCES blobs (cid),
    reading_count INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (patient_id, seq)
);

-- One row per reading. The primary key is both the read index (patient, metric, time)
-- and the duplicate check: a device belongs to one patient, so (patient, metric, t,
-- device) is unique exactly when (device, metric, t) is.
CREATE TABLE readings (
    patient_id TEXT    NOT NULL,
    metric     TEXT    NOT NULL,
    t          INTEGER NOT NULL,
    device_id  TEXT    NOT NULL,
    record_id  TEXT    NOT NULL,
    v1         REAL    NOT NULL,
    v2         REAL,
    v3         REAL,
    PRIMARY KEY (patient_id, metric, t, device_id)
) WITHOUT ROWID;

CREATE TABLE idempotency (
    device_id  TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    receipt    TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (device_id, key)
);
