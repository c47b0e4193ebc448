-- Roles gain `viewer`; people can be grouped, and approvals and API keys
-- routed to a group; the audit trail records admin actions too (an entry
-- about a person, a group or a key has no approval).
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('admin', 'approver', 'viewer'));
-- Strictly increasing mark of the last change to what this person may do
-- (sessions ended, role or groups changed): instances watching for it
-- re-check the person's open inboxes.
ALTER TABLE users RENAME COLUMN sessions_ended_at TO access_changed_at;

ALTER TABLE audit_events ALTER COLUMN approval_id DROP NOT NULL;
-- What an admin action was about (`user:ID`, `group:ID`, `key:ID`); NULL
-- for an approval's own events.
ALTER TABLE audit_events ADD COLUMN subject TEXT;

CREATE TABLE approver_groups (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES approver_groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members (user_id);

ALTER TABLE approvals ADD COLUMN group_id TEXT REFERENCES approver_groups (id);
ALTER TABLE api_keys ADD COLUMN default_group_id TEXT REFERENCES approver_groups (id);
