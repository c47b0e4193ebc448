-- When a person's sessions were last ended (deactivation, "end sessions"):
-- every instance polls this to close that person's open inboxes at once.
ALTER TABLE users ADD COLUMN sessions_ended_at INTEGER;

-- One-time links that create the first admin (`holdpoint admin setup-link`,
-- or printed at first start on a terminal). Only their SHA-256 is kept; all
-- are deleted once an account exists.
CREATE TABLE setup_tokens (
    token_hash TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
