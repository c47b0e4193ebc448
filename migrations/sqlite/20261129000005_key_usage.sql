-- When each API key was last used (kept to the minute: the server writes
-- it at most once a minute per key), for the admin's Keys page.
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;
