-- Roles gain `viewer`; people can be grouped, and approvals and API keys
-- routed to a group; the audit trail records admin actions too (an entry
-- about a person, a group or a key has no approval).
--
-- SQLite cannot change a CHECK constraint or a NOT NULL in place, so
-- `users` and `audit_events` are rebuilt the documented way: create, copy,
-- drop, rename. The store runs migrations with foreign keys off (dropping
-- `users` would otherwise delete every session) and checks them after.

CREATE TABLE users_rebuilt (
    id                TEXT PRIMARY KEY,
    email             TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name              TEXT NOT NULL,
    password_hash     TEXT NOT NULL,
    role              TEXT NOT NULL CHECK (role IN ('admin', 'approver', 'viewer')),
    active            INTEGER NOT NULL DEFAULT 1,
    created_at        INTEGER NOT NULL,
    -- Strictly increasing mark of the last change to what this person may
    -- do (sessions ended, role or groups changed): instances watching for
    -- it re-check the person's open inboxes.
    access_changed_at INTEGER
);
INSERT INTO users_rebuilt (id, email, name, password_hash, role, active, created_at,
                           access_changed_at)
    SELECT id, email, name, password_hash, role, active, created_at, sessions_ended_at
    FROM users;
DROP TABLE users;
ALTER TABLE users_rebuilt RENAME TO users;

CREATE TABLE audit_events_rebuilt (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    approval_id TEXT REFERENCES approvals (id),
    -- What an admin action was about (`user:ID`, `group:ID`, `key:ID`);
    -- NULL for an approval's own events.
    subject     TEXT,
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    detail      TEXT,
    at          INTEGER NOT NULL
);
INSERT INTO audit_events_rebuilt (id, approval_id, kind, actor, detail, at)
    SELECT id, approval_id, kind, actor, detail, at FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_rebuilt RENAME TO audit_events;
CREATE INDEX audit_events_by_approval ON audit_events (approval_id, id);

CREATE TABLE approver_groups (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES approver_groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members (user_id);

ALTER TABLE approvals ADD COLUMN group_id TEXT REFERENCES approver_groups (id);
ALTER TABLE api_keys ADD COLUMN default_group_id TEXT REFERENCES approver_groups (id);
