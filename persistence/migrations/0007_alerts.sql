-- Alert rules (issue 14): typed conditions and an optional checked expression, the channels each rule
-- delivers to, the claim of every delivery (an alert goes out once per channel, across replicas and
-- restarts), leases for jobs one replica runs at a time (the scanner), and replayed signals kept apart.
CREATE TABLE alert_rules (
    id              uuid PRIMARY KEY,
    owner           text,                      -- the API key id that created it; NULL: an anonymous caller
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    conditions      jsonb NOT NULL,            -- {symbols, recommendations, min_score, ...}
    expression      text,                      -- checked by engine.alert_rules before it is stored
    channels        text[] NOT NULL,           -- TELEGRAM, WEBHOOK, SUBSCRIPTION
    webhook_url     text,
    webhook_secret  text,                      -- HMAC key; never answered back
    paused          boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    fired_count     bigint NOT NULL DEFAULT 0,
    last_fired_at   timestamptz
);
CREATE INDEX alert_rules_owner_idx ON alert_rules (owner);

CREATE TABLE alert_deliveries (
    dedup_key   text NOT NULL,                 -- rule, symbol, call, timeframe, mode and the signal's moment
    channel     text NOT NULL,
    rule_id     uuid NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    claimed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dedup_key, channel)
);

-- One holder per named job until expires_at; a holder renews before it expires, another takes it after.
CREATE TABLE leases (
    name        text PRIMARY KEY,
    holder      text NOT NULL,
    expires_at  timestamptz NOT NULL
);

-- A signal stored by `serve --replay FILE --record-history` is replayed, not live: the process sets
-- signal_api.replayed=on on its connections (persistence.db.create_pool), every other writer leaves false.
ALTER TABLE signals
    ADD COLUMN replayed boolean NOT NULL
        DEFAULT COALESCE(NULLIF(current_setting('signal_api.replayed', true), ''), 'off')::boolean;
