-- Redactable commitments: each record keeps the chameleon hash of its payload digest
-- (what the commitment binds) and the randomness that opens it to the stored payload.
-- `settings` holds values fixed for the life of the store, such as the supervisor's
-- chameleon-hash public key.
ALTER TABLE records ADD COLUMN payload_hash BLOB NOT NULL DEFAULT x'';
ALTER TABLE records ADD COLUMN opening BLOB NOT NULL DEFAULT x'';

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
