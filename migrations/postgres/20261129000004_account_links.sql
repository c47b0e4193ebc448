-- One-time links that let a person choose a password: an invitation (the
-- account exists, with no password yet) or a reset. Only the token's
-- SHA-256 is kept; using a link spends every link of that person.
CREATE TABLE account_links (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('invite', 'reset')),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX account_links_by_user ON account_links (user_id);
