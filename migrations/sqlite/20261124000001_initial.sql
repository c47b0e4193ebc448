-- Times are Unix milliseconds (INTEGER), the same representation as on PostgreSQL.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'approver')),
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    key_hash            TEXT NOT NULL UNIQUE,
    default_approver_id TEXT REFERENCES users (id),
    created_at          INTEGER NOT NULL,
    revoked_at          INTEGER
);
-- A name identifies one live key; a revoked key's name may be reused.
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (name) WHERE revoked_at IS NULL;

CREATE TABLE approvals (
    id               TEXT PRIMARY KEY,
    api_key_id       TEXT NOT NULL REFERENCES api_keys (id),
    status           TEXT NOT NULL
                     CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'cancelled')),
    title            TEXT NOT NULL,
    body_html        TEXT NOT NULL,
    data_json        TEXT NOT NULL,
    action           TEXT,
    approver_id      TEXT REFERENCES users (id),
    reason           TEXT,
    decided_by       TEXT REFERENCES users (id),
    decided_at       INTEGER,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    idempotency_key  TEXT,
    request_hash     TEXT,
    UNIQUE (api_key_id, idempotency_key)
);
CREATE INDEX approvals_by_key ON approvals (api_key_id, id);
CREATE INDEX approvals_by_status ON approvals (status, id);
CREATE INDEX approvals_pending_deadline ON approvals (expires_at) WHERE status = 'pending';

-- Append-only history of every change, written in the transaction of the change.
CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    approval_id TEXT NOT NULL REFERENCES approvals (id),
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    detail      TEXT,
    at          INTEGER NOT NULL
);
CREATE INDEX audit_events_by_approval ON audit_events (approval_id, id);
