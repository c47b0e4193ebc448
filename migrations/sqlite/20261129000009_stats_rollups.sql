-- Decision-latency statistics, kept in each change's own transaction so the
-- Stats page reads a few thousand rows whatever the number of approvals
-- (src/server/domain/stats.rs: buckets, dimensions, percentiles).

-- Decision times by scope ('' for every approval; `kind:K`, `agent:KEY_ID`,
-- `approver:USER_ID`, `group:GROUP_ID` for the views narrowed to one),
-- dimension (all, approver, group, kind, agent, route_kind; and
-- `delivery`: time to a webhook's first success, by endpoint), UTC day,
-- value and logarithmic bucket.
CREATE TABLE latency_rollup (
    scope     TEXT NOT NULL,
    dimension TEXT NOT NULL,
    day       INTEGER NOT NULL,
    value     TEXT NOT NULL,
    bucket    INTEGER NOT NULL,
    decisions INTEGER NOT NULL,
    PRIMARY KEY (scope, dimension, day, value, bucket)
);

-- How approvals ended (approved, denied, expired, cancelled), by scope
-- (as above), UTC day and action kind ('' for none).
CREATE TABLE outcome_rollup (
    scope     TEXT NOT NULL,
    day       INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    approvals INTEGER NOT NULL,
    PRIMARY KEY (scope, day, kind, outcome)
);

-- Webhook delivery attempts by UTC day and endpoint: how many, how many
-- answered 2xx, and how many were a message's first.
CREATE TABLE delivery_rollup (
    day         INTEGER NOT NULL,
    endpoint_id TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    successes   INTEGER NOT NULL,
    messages    INTEGER NOT NULL,
    PRIMARY KEY (day, endpoint_id)
);

-- Whether the rollups must be counted again from the approvals and the
-- attempt log (once, at the first start after this migration).
CREATE TABLE stats_state (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    rebuild_pending BOOLEAN NOT NULL
);
INSERT INTO stats_state (id, rebuild_pending) VALUES (1, TRUE);

-- Counting decisions in a time window (filtered views, and the last 24 h).
CREATE INDEX approvals_by_decided_at ON approvals (decided_at) WHERE decided_at IS NOT NULL;
-- The backlog by route, and the approvals ahead of one on its route.
CREATE INDEX approvals_pending_by_route ON approvals (approver_id, group_id, created_at)
    WHERE status = 'pending';
-- One value's decision times over a span of days (the expected wait for a
-- route and kind, read at each create).
CREATE INDEX latency_rollup_by_value ON latency_rollup (scope, dimension, value, day);
