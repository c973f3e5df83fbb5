-- Named queries of the outcomes aggregate, loaded by persistence.sql.load_queries("outcomes").

-- name: due_outcomes
-- (signal, horizon) pairs whose horizon has passed at $2 and that have no outcome yet; signals older
-- than $3 are left alone (no venue serves candles that far back). Newest first so a backlog never
-- starves fresh signals.
SELECT s.id, s.symbol, s.recommendation, s.price, s.generated_at, h.hours AS horizon_hours,
       (s.plan ->> 'stop')::float8 AS stop, (s.plan ->> 'take_profit')::float8 AS take_profit
FROM signals AS s
CROSS JOIN unnest($1::int[]) AS h (hours)
WHERE s.generated_at >= $3::timestamptz
  AND s.generated_at + make_interval(hours => h.hours) <= $2::timestamptz
  AND NOT EXISTS (
      SELECT 1 FROM signal_outcomes AS o WHERE o.signal_id = s.id AND o.horizon_hours = h.hours
  )
ORDER BY s.generated_at DESC, s.id, h.hours
LIMIT $4::int;

-- name: insert_outcome
INSERT INTO signal_outcomes (signal_id, horizon_hours, window_start, entry_price, exit_price, return_pct,
                             max_favourable_pct, max_adverse_pct, verdict, price_source, exit_first)
VALUES ($1::uuid, $2::int, $3::timestamptz, $4::float8, $5::float8, $6::float8, $7::float8, $8::float8,
        $9::text, $10::text, $11::text)
ON CONFLICT (signal_id, horizon_hours) DO NOTHING
RETURNING signal_id;
