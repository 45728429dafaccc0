-- Pairing codes: a patient asks for a short code, types it into a phone (or any device
-- without a keyboard-friendly token), and the phone trades it once for a device token.
CREATE TABLE pairing_codes (
    code_hash   BYTEA    PRIMARY KEY,
    patient_id  TEXT    NOT NULL REFERENCES patients (id),
    name        TEXT    NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
