-- Named queries of the signals aggregate, loaded by persistence.sql.load_queries("signals").
-- Parameterized only ($n); every optional filter is "$n IS NULL OR ...".

-- name: lock_signal_keys
-- Serializes the dedup check of each (symbol, recommendation, mode, timeframe) key in $1 across writers:
-- transaction-scoped advisory locks, taken in a stable order in one round trip.
SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0)))
FROM (SELECT DISTINCT k FROM unnest($1::text[]) AS k ORDER BY k) AS keys;

-- name: insert_signals
-- The one insert, for one row or a batch (group commit): $1 is a jsonb array of rows in their spool form,
-- without repeats of each other (the caller removes them). Each is inserted unless a stored signal with
-- the same symbol, recommendation, mode and timeframe lies within $2 seconds (either side) with a score
-- less than $3 apart; idempotent by id. Returns the ids inserted.
INSERT INTO signals (id, symbol, recommendation, score, confidence, mode, timeframe, price, generated_at,
                     factors, data_quality, sources, data_quality_score,
                     verdict, risk_mode, decided_by, fallback_reason, rules_verdict, plan)
SELECT r.id, r.symbol, r.recommendation, r.score, r.confidence, r.mode, r.timeframe, r.price, r.generated_at,
       r.factors, r.data_quality, r.sources, r.data_quality_score,
       r.verdict, r.risk_mode, r.decided_by, r.fallback_reason, r.rules_verdict, r.plan
FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, symbol text, recommendation text, score float8,
                                        confidence float8, mode text, timeframe text, price float8,
                                        generated_at timestamptz, factors jsonb, data_quality jsonb,
                                        sources jsonb, data_quality_score float8,
                                        verdict text, risk_mode text, decided_by text, fallback_reason text,
                                        rules_verdict text, plan jsonb)
-- a LATERAL probe with LIMIT 1, not NOT EXISTS: the planner would hash the whole table for a batch
LEFT JOIN LATERAL (
    SELECT 1 AS hit
    FROM signals AS s
    WHERE s.symbol = r.symbol
      AND s.recommendation = r.recommendation
      AND s.mode = r.mode
      AND s.timeframe = r.timeframe
      AND s.generated_at > r.generated_at - make_interval(secs => $2::float8)
      AND s.generated_at < r.generated_at + make_interval(secs => $2::float8)
      AND abs(s.score - r.score) < $3::float8
    LIMIT 1
) AS repeat ON true
WHERE repeat.hit IS NULL
ON CONFLICT (id) DO NOTHING
RETURNING id;

-- name: signals_page
-- Newest first, each with its outcomes (the view signals_with_outcomes, migration 0004); the keyset
-- ($5, $6) is the (generated_at, id) of the last row of the previous page.
SELECT s.id, s.symbol, s.recommendation, s.score, s.confidence, s.mode, s.timeframe, s.price, s.generated_at,
       s.factors, s.data_quality, s.sources, s.data_quality_score, s.outcomes,
       s.verdict, s.risk_mode, s.decided_by, s.fallback_reason, s.rules_verdict, s.plan
FROM signals_with_outcomes AS s
WHERE ($1::text IS NULL OR s.symbol = $1::text)
  AND ($2::text IS NULL OR s.recommendation = $2::text)
  AND ($3::timestamptz IS NULL OR s.generated_at >= $3::timestamptz)
  AND ($4::timestamptz IS NULL OR s.generated_at < $4::timestamptz)
  AND ($5::timestamptz IS NULL OR (s.generated_at, s.id) < ($5::timestamptz, $6::uuid))
ORDER BY s.generated_at DESC, s.id DESC
LIMIT $7::int;

-- name: performance_rows
-- One row per evaluated signal at horizon $1 hours; replayed signals (migration 0007) are not live performance.
SELECT s.recommendation, s.mode, o.return_pct, o.verdict,
       s.verdict AS judge_verdict, s.decided_by, s.rules_verdict, o.exit_first
FROM signal_outcomes AS o
JOIN signals AS s ON s.id = o.signal_id
WHERE o.horizon_hours = $1::int
  AND NOT s.replayed
  AND ($2::text IS NULL OR s.symbol = $2::text)
  AND ($3::text IS NULL OR s.mode = $3::text)
  AND ($4::timestamptz IS NULL OR s.generated_at >= $4::timestamptz)
  AND ($5::timestamptz IS NULL OR s.generated_at < $5::timestamptz);

-- name: count_pending
-- Stored signals in the same filter without an outcome at horizon $1 yet (too recent, or no candles).
SELECT count(*)
FROM signals AS s
WHERE ($2::text IS NULL OR s.symbol = $2::text)
  AND NOT s.replayed
  AND ($3::text IS NULL OR s.mode = $3::text)
  AND ($4::timestamptz IS NULL OR s.generated_at >= $4::timestamptz)
  AND ($5::timestamptz IS NULL OR s.generated_at < $5::timestamptz)
  AND NOT EXISTS (
      SELECT 1 FROM signal_outcomes AS o WHERE o.signal_id = s.id AND o.horizon_hours = $1::int
  );

-- name: factor_rows
-- Each evaluated signal of one symbol at horizon $1 with its factors, for factor agreement.
SELECT s.recommendation, s.factors, o.verdict
FROM signal_outcomes AS o
JOIN signals AS s ON s.id = o.signal_id
WHERE o.horizon_hours = $1::int
  AND s.symbol = $2::text
  AND NOT s.replayed;

-- name: export_signals
-- The whole history, oldest first, with its outcomes (signals_with_outcomes); streamed through a
-- server-side cursor.
SELECT s.id, s.symbol, s.recommendation, s.score, s.confidence, s.mode, s.timeframe, s.price, s.generated_at,
       s.recorded_at, s.factors, s.data_quality, s.sources, s.data_quality_score, s.outcomes,
       s.verdict, s.risk_mode, s.decided_by, s.fallback_reason, s.rules_verdict, s.plan
FROM signals_with_outcomes AS s
WHERE ($1::text IS NULL OR s.symbol = $1::text)
  AND ($2::timestamptz IS NULL OR s.generated_at >= $2::timestamptz)
  AND ($3::timestamptz IS NULL OR s.generated_at < $3::timestamptz)
ORDER BY s.generated_at, s.id;
