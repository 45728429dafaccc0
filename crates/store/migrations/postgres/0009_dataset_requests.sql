-- Researchers' dataset requests: a study asks patients for consent to a set of metrics
-- and sections; each patient answers once (accepted with the consent it granted, or
-- declined).
CREATE TABLE dataset_requests (
    id             TEXT    PRIMARY KEY,
    institution_id TEXT    NOT NULL REFERENCES institutions (id),
    title          TEXT    NOT NULL,
    purpose        TEXT    NOT NULL,
    metrics        TEXT    NOT NULL,
    sections       BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    closed_at      BIGINT
);
CREATE INDEX dataset_requests_institution ON dataset_requests (institution_id);

CREATE TABLE dataset_answers (
    request_id  TEXT    NOT NULL REFERENCES dataset_requests (id),
    patient_id  TEXT    NOT NULL REFERENCES patients (id),
    answer      TEXT    NOT NULL,
    grant_id    BYTEA,
    answered_at BIGINT NOT NULL,
    PRIMARY KEY (request_id, patient_id)
);
