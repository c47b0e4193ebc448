-- A key may read the export of decided approvals (GET /api/v1/decisions)
-- only when an admin has allowed it.
ALTER TABLE api_keys ADD COLUMN reads_decisions BOOLEAN NOT NULL DEFAULT FALSE;
-- The export of decisions, in order, narrowed by time of decision.
CREATE INDEX approvals_decided_by_id ON approvals (id) WHERE decided_at IS NOT NULL;
