-- Analysis: per-minute rollups kept up to date at ingest (count, sum, min, max, sum of
-- squares of each scalar metric), the patient's profile for analysis, alert rules and
-- the alerts they fired.
CREATE TABLE rollups (
    patient_id TEXT    NOT NULL,
    metric     TEXT    NOT NULL,
    bucket     INTEGER NOT NULL,
    n          INTEGER NOT NULL,
    sum        REAL    NOT NULL,
    min        REAL    NOT NULL,
    max        REAL    NOT NULL,
    sum_sq     REAL    NOT NULL,
    PRIMARY KEY (patient_id, metric, bucket)
) WITHOUT ROWID;

ALTER TABLE patients ADD COLUMN birth_year INTEGER;
ALTER TABLE patients ADD COLUMN sex TEXT;
ALTER TABLE patients ADD COLUMN resting_hr REAL;

CREATE TABLE alert_rules (
    id          TEXT    PRIMARY KEY,
    patient_id  TEXT    NOT NULL REFERENCES patients (id),
    kind        TEXT    NOT NULL,
    metric      TEXT,
    threshold   REAL,
    minutes     INTEGER,
    webhook     TEXT,
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    deleted_at  INTEGER
);
CREATE INDEX alert_rules_patient ON alert_rules (patient_id);

CREATE TABLE alerts (
    id               TEXT    PRIMARY KEY,
    patient_id       TEXT    NOT NULL REFERENCES patients (id),
    rule_id          TEXT    NOT NULL REFERENCES alert_rules (id),
    kind             TEXT    NOT NULL,
    metric           TEXT,
    device_id        TEXT,
    value            REAL,
    t                INTEGER NOT NULL,
    fired_at         INTEGER NOT NULL,
    message          TEXT    NOT NULL,
    acknowledged_at  INTEGER,
    resolved_at      INTEGER
);
CREATE INDEX alerts_patient ON alerts (patient_id, fired_at);
CREATE UNIQUE INDEX alerts_open_offline ON alerts (rule_id, device_id)
    WHERE kind = 'offline' AND resolved_at IS NULL;
