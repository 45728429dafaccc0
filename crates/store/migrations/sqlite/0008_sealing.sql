-- Protected records sealed at rest (see src/sealing.rs).
--
-- An epoch key wrapped for the patient (HPKE) and, when institutions may read, under a
-- CP-ABE policy. Records' data keys are wrapped under their epoch's key.
CREATE TABLE seal_epochs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    patient_id   TEXT    NOT NULL REFERENCES patients (id),
    patient_wrap BLOB    NOT NULL,
    policy       TEXT,
    policy_wrap  BLOB,
    created_at   INTEGER NOT NULL
);
CREATE INDEX seal_epochs_patient ON seal_epochs (patient_id);

-- A sealed record's data key, wrapped under its epoch's key: beside the record, outside
-- its CID, so it can be wrapped again without changing the record.
CREATE TABLE record_keys (
    record_id   TEXT    PRIMARY KEY REFERENCES records (id),
    epoch_id    INTEGER NOT NULL REFERENCES seal_epochs (id),
    wrapped_key BLOB    NOT NULL
);

-- Minute rollups of sealed readings: one row per record, metric and hour, encrypted under
-- the node's rollup key (kept out of the database).
CREATE TABLE sealed_rollups (
    patient_id TEXT    NOT NULL,
    metric     TEXT    NOT NULL,
    hour       INTEGER NOT NULL,
    record_id  TEXT    NOT NULL,
    sealed     BLOB    NOT NULL,
    PRIMARY KEY (patient_id, metric, hour, record_id)
) WITHOUT ROWID;

-- A sealed reading is indexed without its value: v1 may be NULL.
CREATE TABLE readings_v2 (
    patient_id TEXT    NOT NULL,
    metric     TEXT    NOT NULL,
    t          INTEGER NOT NULL,
    device_id  TEXT    NOT NULL,
    record_id  TEXT    NOT NULL,
    v1         REAL,
    v2         REAL,
    v3         REAL,
    PRIMARY KEY (patient_id, metric, t, device_id)
) WITHOUT ROWID;
INSERT INTO readings_v2 (patient_id, metric, t, device_id, record_id, v1, v2, v3)
    SELECT patient_id, metric, t, device_id, record_id, v1, v2, v3 FROM readings;
DROP TABLE readings;
ALTER TABLE readings_v2 RENAME TO readings;

-- CP-ABE attribute keys the attribute authority (the supervisor) issued to institution
-- accounts: the key's encoding sealed under a random key, which is wrapped (HPKE) for
-- the account's own key, so only that account's signed-in session opens it.
CREATE TABLE attribute_keys (
    account_id     TEXT    PRIMARY KEY REFERENCES accounts (id),
    institution_id TEXT    NOT NULL REFERENCES institutions (id),
    attributes     TEXT    NOT NULL,
    wrapped_key    BLOB    NOT NULL,
    sealed_key     BLOB    NOT NULL,
    issued_at      INTEGER NOT NULL,
    revoked_at     INTEGER
);

-- The access policy a patient chose for their protected records (NULL: the default,
-- institutions holding consent to read the protected section).
ALTER TABLE patients ADD COLUMN access_policy TEXT;

-- A patient's key for opening sealed records, wrapped under a key derived from an API
-- token, so that requests with the token can open what the patient can.
ALTER TABLE api_tokens ADD COLUMN key_wrap BLOB;

-- An account's public key for receiving attribute keys (HPKE, X25519; derived from the
-- account's secret like a patient's), published at each session start.
ALTER TABLE accounts ADD COLUMN seal_public_key BLOB;

-- Attributes the supervisor gives an institution's keys beyond its role and id
-- (space-separated); accounts issued later get them too.
ALTER TABLE institutions ADD COLUMN key_attributes TEXT NOT NULL DEFAULT '';
