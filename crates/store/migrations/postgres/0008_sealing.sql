-- Protected records sealed at rest (see src/sealing.rs).
--
-- An epoch key wrapped for the patient (HPKE) and, when institutions may read, under a
-- CP-ABE policy. Records' data keys are wrapped under their epoch's key.
CREATE TABLE seal_epochs (
    id           BIGSERIAL PRIMARY KEY,
    patient_id   TEXT    NOT NULL REFERENCES patients (id),
    patient_wrap BYTEA   NOT NULL,
    policy       TEXT,
    policy_wrap  BYTEA,
    created_at   BIGINT  NOT NULL
);
CREATE INDEX seal_epochs_patient ON seal_epochs (patient_id);

-- A sealed record's data key, wrapped under its epoch's key: beside the record, outside
-- its CID, so it can be wrapped again without changing the record.
CREATE TABLE record_keys (
    record_id   TEXT    PRIMARY KEY REFERENCES records (id),
    epoch_id    BIGINT  NOT NULL REFERENCES seal_epochs (id),
    wrapped_key BYTEA   NOT NULL
);

-- Minute rollups of sealed readings: one row per record, metric and hour, encrypted under
-- the node's rollup key (kept out of the database).
CREATE TABLE sealed_rollups (
    patient_id TEXT    NOT NULL,
    metric     TEXT    NOT NULL,
    hour       BIGINT  NOT NULL,
    record_id  TEXT    NOT NULL,
    sealed     BYTEA   NOT NULL,
    PRIMARY KEY (patient_id, metric, hour, record_id)
);

-- A sealed reading is indexed without its value: v1 may be NULL.
ALTER TABLE readings ALTER COLUMN v1 DROP NOT NULL;

-- CP-ABE attribute keys the attribute authority (the supervisor) issued to institution
-- accounts: the key's encoding sealed under a random key, which is wrapped (HPKE) for
-- the account's own key, so only that account's signed-in session opens it.
CREATE TABLE attribute_keys (
    account_id     TEXT    PRIMARY KEY REFERENCES accounts (id),
    institution_id TEXT    NOT NULL REFERENCES institutions (id),
    attributes     TEXT    NOT NULL,
    wrapped_key    BYTEA    NOT NULL,
    sealed_key     BYTEA    NOT NULL,
    issued_at      BIGINT NOT NULL,
    revoked_at     BIGINT
);

-- The access policy a patient chose for their protected records (NULL: the default,
-- institutions holding consent to read the protected section).
ALTER TABLE patients ADD COLUMN access_policy TEXT;

-- A patient's key for opening sealed records, wrapped under a key derived from an API
-- token, so that requests with the token can open what the patient can.
ALTER TABLE api_tokens ADD COLUMN key_wrap BYTEA;

-- An account's public key for receiving attribute keys (HPKE, X25519; derived from the
-- account's secret like a patient's), published at each session start.
ALTER TABLE accounts ADD COLUMN seal_public_key BYTEA;

-- Attributes the supervisor gives an institution's keys beyond its role and id
-- (space-separated); accounts issued later get them too.
ALTER TABLE institutions ADD COLUMN key_attributes TEXT NOT NULL DEFAULT '';
