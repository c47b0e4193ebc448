-- History search: trigram indexes over titles and denial reasons (pg_trgm,
-- a trusted extension since PostgreSQL 13: the database's owner may create
-- it), so a substring search stays fast at millions of decided approvals.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX approvals_title_trgm ON approvals USING gin (lower(title) gin_trgm_ops);
CREATE INDEX approvals_reason_trgm ON approvals USING gin (lower(reason) gin_trgm_ops);
