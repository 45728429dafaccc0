-- Anchoring: records are claimed into an anchor (the Merkle root over their commitments)
-- before the root is sent to the ledger; the on-chain position is filled in once the
-- transaction is mined. An anchor without chain_index is pending (sent again after a
-- restart); a record without anchor_id waits for the next interval.
CREATE TABLE anchors (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    root           BLOB    NOT NULL UNIQUE,
    record_count   INTEGER NOT NULL,
    interval_start INTEGER NOT NULL,
    interval_end   INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    chain_index    INTEGER,
    block_number   INTEGER,
    tx_hash        BLOB
);

ALTER TABLE records ADD COLUMN anchor_id INTEGER REFERENCES anchors (id);
ALTER TABLE records ADD COLUMN anchor_proof BLOB;
CREATE INDEX records_unanchored ON records (created_at, id) WHERE anchor_id IS NULL;
