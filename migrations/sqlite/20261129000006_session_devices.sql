-- What a person sees of their own sessions: the browser that opened each
-- (its User-Agent, cut to 200 characters) and when it was last seen (kept
-- to the minute: written at most once a minute per session).
ALTER TABLE sessions ADD COLUMN device TEXT;
ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER;
