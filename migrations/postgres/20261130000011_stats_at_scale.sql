-- The rollups gain a scope for each two narrowings together (a kind and an
-- agent, an approver and a group, ...), so a view narrowed two ways reads
-- rollups too. The rollups are counted again from the approvals at the
-- next start.
UPDATE stats_state SET rebuild_pending = TRUE WHERE id = 1;

-- The backlog narrowed by kind or agent reads the kind and the key from
-- the index too, instead of looking up each pending approval; the route
-- and creation time still lead, for the approvals ahead of one.
DROP INDEX approvals_pending_by_route;
CREATE INDEX approvals_pending_by_route
    ON approvals (approver_id, group_id, created_at, action, api_key_id)
    WHERE status = 'pending';
