-- A key may read the export of decided approvals (GET /api/v1/decisions)
-- only when an admin has allowed it.
ALTER TABLE api_keys ADD COLUMN reads_decisions BOOLEAN NOT NULL DEFAULT FALSE;
-- Decided approvals by id: the history, newest first, the inbox's last
-- decision and the export of decisions, in order, without a sort. Its
-- condition is one no other partial index has, so the planner cannot pick
-- the one on decided_at and sort a million rows instead.
CREATE INDEX approvals_decided_by_id ON approvals (id) WHERE status <> 'pending';
