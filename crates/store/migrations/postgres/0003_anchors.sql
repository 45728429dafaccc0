-- Anchoring: records are claimed into an anchor (the Merkle root over their commitments)
-- before the root is sent to the ledger; the on-chain position is filled in once the
-- transaction is mined. An anchor without chain_index is pending (sent again after a
-- restart); a record without anchor_id waits for the next interval.
CREATE TABLE anchors (
    id             BIGSERIAL PRIMARY KEY,
    root           BYTEA  NOT NULL UNIQUE,
    record_count   BIGINT NOT NULL,
    interval_start BIGINT NOT NULL,
    interval_end   BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    chain_index    BIGINT,
    block_number   BIGINT,
    tx_hash        BYTEA
);

ALTER TABLE records ADD COLUMN anchor_id BIGINT REFERENCES anchors (id);
ALTER TABLE records ADD COLUMN anchor_proof BYTEA;
CREATE INDEX records_unanchored ON records (created_at, id) WHERE anchor_id IS NULL;
