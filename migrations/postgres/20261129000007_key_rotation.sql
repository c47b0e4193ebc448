-- An agent may have several live keys at once, so a key can be rotated
-- without downtime: the new key is made beside the old, which the admin
-- revokes once the agent has switched. Names repeat; the service refuses a
-- new agent under a name that is taken.
DROP INDEX api_keys_live_name;
CREATE INDEX api_keys_by_name ON api_keys (name);
