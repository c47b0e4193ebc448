-- The rollups gain a scope for each two narrowings together (a kind and an
-- agent, an approver and a group, ...), so a view narrowed two ways reads
-- rollups too. The rollups are counted again from the approvals at the
-- next start.
UPDATE stats_state SET rebuild_pending = TRUE WHERE id = 1;
