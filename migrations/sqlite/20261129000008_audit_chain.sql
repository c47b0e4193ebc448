-- The audit trail becomes a hash chain: each entry has a position (`seq`,
-- 1, 2, 3, ... with no gaps) and `hash` = SHA-256 over the previous entry's
-- hash and this entry's canonical content (docs/audit.md). An edited,
-- inserted or deleted row breaks the chain, which `holdpoint audit verify`
-- walks. The head (last position and hash) is kept in one row that every
-- append updates, which serializes appends on PostgreSQL too.
ALTER TABLE audit_events ADD COLUMN seq INTEGER;
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_events ADD COLUMN hash TEXT;
CREATE UNIQUE INDEX audit_events_by_seq ON audit_events (seq);
CREATE INDEX audit_events_by_at ON audit_events (at, seq);
CREATE INDEX audit_events_by_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_by_kind ON audit_events (kind, seq);

CREATE TABLE audit_chain (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL,
    -- Entries written before the chain existed (ids up to this one) are
    -- chained once, at the first start after this migration; then NULL.
    unchained_until INTEGER
);
INSERT INTO audit_chain (id, seq, hash, unchained_until)
    VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000',
            (SELECT MAX(id) FROM audit_events));
