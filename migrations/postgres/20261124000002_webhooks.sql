-- The outcome webhook: one endpoint per API key, the outbox of messages
-- (written in the transaction of the status change they report), and the
-- log of every delivery attempt. The same schema as migrations/sqlite, in
-- PostgreSQL's types.

CREATE TABLE webhook_endpoints (
    id                 TEXT COLLATE "C" PRIMARY KEY,
    api_key_id         TEXT NOT NULL UNIQUE REFERENCES api_keys (id),
    url                TEXT NOT NULL,
    -- The signing key must be usable to sign, so it is stored as issued.
    secret             TEXT NOT NULL,
    -- During a rotation: the old secret, also signed with until it expires.
    previous_secret    TEXT,
    previous_until     BIGINT,
    disabled_at        BIGINT,
    disabled_reason    TEXT,
    last_success_at    BIGINT,
    -- Failed attempts since the last success.
    failure_streak     BIGINT NOT NULL DEFAULT 0,
    created_at         BIGINT NOT NULL
);

CREATE TABLE webhook_messages (
    id              TEXT COLLATE "C" PRIMARY KEY,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id),
    -- NULL for test events.
    approval_id     TEXT COLLATE "C" REFERENCES approvals (id),
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    -- pending: waits for next_attempt_at; delivered; failed: retries used up.
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    -- Attempts since it was (re)queued: the position in the retry schedule.
    round_attempts  BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    -- A worker that claimed the message owns it until then.
    lease_until     BIGINT,
    claim_token     TEXT,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT
);
CREATE INDEX webhook_messages_due ON webhook_messages (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_messages_by_endpoint ON webhook_messages (endpoint_id, id);
CREATE INDEX webhook_messages_by_approval ON webhook_messages (approval_id);

CREATE TABLE webhook_attempts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id    TEXT COLLATE "C" NOT NULL REFERENCES webhook_messages (id),
    attempted_at  BIGINT NOT NULL,
    status_code   BIGINT,
    latency_ms    BIGINT NOT NULL,
    error         TEXT,
    -- The first 4 KiB of the answer.
    response_body TEXT
);
CREATE INDEX webhook_attempts_by_message ON webhook_attempts (message_id, id);
