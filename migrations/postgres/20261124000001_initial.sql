-- The same schema as migrations/sqlite, in PostgreSQL's types. Times are Unix
-- milliseconds (BIGINT) on both backends, so the store's SQL is shared.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    -- Stored lowercased by the application; the index keeps it unique anyway.
    email         TEXT NOT NULL,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'approver')),
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    key_hash            TEXT NOT NULL UNIQUE,
    default_approver_id TEXT REFERENCES users (id),
    created_at          BIGINT NOT NULL,
    revoked_at          BIGINT
);
-- A name identifies one live key; a revoked key's name may be reused.
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (name) WHERE revoked_at IS NULL;

-- IDs sort by creation time; "C" collation keeps that order byte-wise
-- whatever the database's locale (the list cursor relies on it).
CREATE TABLE approvals (
    id               TEXT COLLATE "C" PRIMARY KEY,
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
    decided_at       BIGINT,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    idempotency_key  TEXT,
    request_hash     TEXT,
    UNIQUE (api_key_id, idempotency_key)
);
CREATE INDEX approvals_by_key ON approvals (api_key_id, id);
CREATE INDEX approvals_by_status ON approvals (status, id);
CREATE INDEX approvals_pending_deadline ON approvals (expires_at) WHERE status = 'pending';

-- Append-only history of every change, written in the transaction of the change.
CREATE TABLE audit_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    approval_id TEXT COLLATE "C" NOT NULL REFERENCES approvals (id),
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    detail      TEXT,
    at          BIGINT NOT NULL
);
CREATE INDEX audit_events_by_approval ON audit_events (approval_id, id);
