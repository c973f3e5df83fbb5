-- API keys of the service's clients (signal-api keys create / list / revoke).
-- Only a SHA-256 of the key is stored: keys are 256-bit random, so a fast hash is right (there is
-- nothing to guess) and a lookup is one index probe per request. ``prefix`` is the key's first
-- characters, not secret, so an operator can tell keys apart in ``keys list``. A revoked key keeps its
-- row (revoked_at set) so the list shows what existed and when it stopped working.
CREATE TABLE api_keys (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name             text NOT NULL CHECK (name <> ''),
    prefix           text NOT NULL,
    key_hash         bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    scopes           text[] NOT NULL,
    rate_per_minute  integer CHECK (rate_per_minute > 0),  -- the key's request budget; NULL: the default
    cost_per_minute  integer CHECK (cost_per_minute > 0),  -- the key's query-cost budget; NULL: the default
    created_at       timestamptz NOT NULL DEFAULT now(),
    revoked_at       timestamptz,
    last_used_at     timestamptz  -- refreshed at most once a minute per key
);
