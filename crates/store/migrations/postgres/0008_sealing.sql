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
