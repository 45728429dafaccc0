-- Analysis: per-minute rollups kept up to date at ingest (count, sum, min, max, sum of
-- squares of each scalar metric), the patient's profile for analysis, alert rules and
-- the alerts they fired.
CREATE TABLE rollups (
    patient_id TEXT    NOT NULL,
    metric     TEXT    NOT NULL,
    bucket     BIGINT NOT NULL,
    n          BIGINT NOT NULL,
    sum        DOUBLE PRECISION    NOT NULL,
    min        DOUBLE PRECISION    NOT NULL,
    max        DOUBLE PRECISION    NOT NULL,
    sum_sq     DOUBLE PRECISION    NOT NULL,
    PRIMARY KEY (patient_id, metric, bucket)
);

ALTER TABLE patients ADD COLUMN birth_year BIGINT;
ALTER TABLE patients ADD COLUMN sex TEXT;
ALTER TABLE patients ADD COLUMN resting_hr DOUBLE PRECISION;

CREATE TABLE alert_rules (
    id          TEXT    PRIMARY KEY,
    patient_id  TEXT    NOT NULL REFERENCES patients (id),
    kind        TEXT    NOT NULL,
    metric      TEXT,
    threshold   DOUBLE PRECISION,
    minutes     BIGINT,
    webhook     TEXT,
    created_by  TEXT    NOT NULL,
    created_at  BIGINT NOT NULL,
    deleted_at  BIGINT
);
CREATE INDEX alert_rules_patient ON alert_rules (patient_id);

CREATE TABLE alerts (
    id               TEXT    PRIMARY KEY,
    patient_id       TEXT    NOT NULL REFERENCES patients (id),
    rule_id          TEXT    NOT NULL REFERENCES alert_rules (id),
    kind             TEXT    NOT NULL,
    metric           TEXT,
    device_id        TEXT,
    value            DOUBLE PRECISION,
    t                BIGINT NOT NULL,
    fired_at         BIGINT NOT NULL,
    message          TEXT    NOT NULL,
    acknowledged_at  BIGINT,
    resolved_at      BIGINT
);
CREATE INDEX alerts_patient ON alerts (patient_id, fired_at);
CREATE UNIQUE INDEX alerts_open_offline ON alerts (rule_id, device_id)
    WHERE kind = 'offline' AND resolved_at IS NULL;
