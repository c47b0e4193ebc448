-- Why a gate or deny policy applied to an approval although its condition
-- could not be evaluated on the request (it failed closed): shown on the
-- card and kept in the approval's `created` audit entry.
ALTER TABLE approvals ADD COLUMN policy_note TEXT;

-- Policies belong to the agent, not to one of its keys: an API key's name
-- is shared by the keys `rotate-key` gives it, so a policy narrowed to an
-- agent keeps applying after a rotation, and to each of its live keys.
-- (api_key_id stays for the rows written before; nothing reads it.)
ALTER TABLE policies ADD COLUMN agent TEXT;
UPDATE policies SET agent = (SELECT k.name FROM api_keys k WHERE k.id = policies.api_key_id)
    WHERE api_key_id IS NOT NULL;

-- Browsers that signed in to an account before (OWASP's device cookies):
-- their failed sign-ins to that account are counted on their own, so
-- guesses from elsewhere cannot lock the owner out. The token's hash only.
CREATE TABLE sign_in_devices (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL
);
CREATE INDEX sign_in_devices_by_user ON sign_in_devices (user_id, created_at);
