-- Policies: how a request is ruled before a person sees it (README,
-- "Policies"). The most specific matching policy wins; none means gate.
CREATE TABLE policies (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    action_pattern TEXT NOT NULL,
    api_key_id     TEXT REFERENCES api_keys (id),
    condition      TEXT,
    mode           TEXT NOT NULL CHECK (mode IN ('gate', 'sample', 'auto', 'deny')),
    sample_percent INTEGER NOT NULL DEFAULT 0 CHECK (sample_percent BETWEEN 0 AND 100),
    deny_reason    TEXT,
    deny_repeats   BOOLEAN NOT NULL DEFAULT FALSE,
    -- Why a flag in sampled review put it back to gate (cleared on edit).
    reverted_note  TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

-- The re-raise guard: a hash of the request's action kind and canonical
-- data, and the recent denial of the same key and hash it repeats.
ALTER TABLE approvals ADD COLUMN repeat_hash TEXT;
ALTER TABLE approvals ADD COLUMN repeat_of TEXT;
-- The policy that decided it (decided_by names a person).
ALTER TABLE approvals ADD COLUMN decided_by_policy TEXT;
CREATE INDEX approvals_denied_by_hash
    ON approvals (api_key_id, repeat_hash, decided_at) WHERE status = 'denied';

-- Approvals a sampling policy let through and picked for a person to
-- confirm or flag after the fact.
CREATE TABLE sampled_reviews (
    approval_id     TEXT PRIMARY KEY REFERENCES approvals (id),
    policy_id       TEXT NOT NULL,
    policy_name     TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('waiting', 'confirmed', 'flagged')),
    reviewer_id     TEXT REFERENCES users (id),
    note            TEXT,
    approved_at     BIGINT NOT NULL,
    reviewed_at     BIGINT,
    -- An admin put the flag's notice away.
    acknowledged_at BIGINT
);
CREATE INDEX sampled_reviews_by_state ON sampled_reviews (state, approved_at);
