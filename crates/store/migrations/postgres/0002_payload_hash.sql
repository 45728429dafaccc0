-- Redactable commitments: each record keeps the chameleon hash of its payload digest
-- (what the commitment binds) and the randomness that opens it to the stored payload.
-- `settings` holds values fixed for the life of the store, such as the supervisor's
-- chameleon-hash public key.
ALTER TABLE records ADD COLUMN payload_hash BYTEA NOT NULL DEFAULT ''::bytea;
ALTER TABLE records ADD COLUMN opening BYTEA NOT NULL DEFAULT ''::bytea;

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
