-- What the market did after a signal, one row per (signal, horizon), by the rule of engine/outcomes.py.
CREATE TABLE signal_outcomes (
    signal_id           uuid NOT NULL REFERENCES signals (id) ON DELETE CASCADE,
    horizon_hours       integer NOT NULL CHECK (horizon_hours > 0),
    evaluated_at        timestamptz NOT NULL DEFAULT now(),
    window_start        timestamptz NOT NULL,  -- the first candle open read (the signal time on the candle grid)
    entry_price         double precision NOT NULL,
    exit_price          double precision NOT NULL,
    return_pct          double precision NOT NULL,  -- in the signal's direction
    max_favourable_pct  double precision NOT NULL,
    max_adverse_pct     double precision NOT NULL,
    verdict             text NOT NULL CHECK (verdict IN ('WIN', 'LOSS', 'FLAT')),
    price_source        text NOT NULL,  -- venue and candle interval, e.g. binance:5m
    PRIMARY KEY (signal_id, horizon_hours)
);

CREATE INDEX signal_outcomes_horizon_verdict_idx ON signal_outcomes (horizon_hours, verdict);
