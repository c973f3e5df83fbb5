-- The watchlist: coins a user follows, and each watched coin's MSS history (one row per measurement).
-- Removing a coin removes its history (ON DELETE CASCADE): the history belongs to the watch.
CREATE TABLE watchlist (
    symbol    text PRIMARY KEY,  -- canonical USDT perpetual, BTCUSDT
    note      text,
    added_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE watchlist_mss (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    symbol          text NOT NULL REFERENCES watchlist (symbol) ON DELETE CASCADE,
    measured_at     timestamptz NOT NULL,
    total           double precision NOT NULL,  -- points of the available phases
    measurable_max  double precision NOT NULL,  -- the most those phases could score (100 when all are available)
    total_low       double precision NOT NULL,  -- the full score's range whatever the missing inputs are
    total_high      double precision NOT NULL,
    tier            text,                       -- null when the missing inputs could change it
    phases          jsonb NOT NULL              -- [{name, points, maxPoints, available, passes, missing}]
);

CREATE INDEX watchlist_mss_symbol_measured_at_idx ON watchlist_mss (symbol, measured_at);
