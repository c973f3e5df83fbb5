-- Each signal with its outcomes as a jsonb array in horizon order: written once here, read by the history
-- page and the export (queries/signals.sql). A plain view: the planner folds it into the query, so a page
-- evaluates the LATERAL part only for the rows it returns.
CREATE VIEW signals_with_outcomes AS
SELECT s.id, s.symbol, s.recommendation, s.score, s.confidence, s.mode, s.timeframe, s.price, s.generated_at,
       s.recorded_at, s.factors, s.data_quality, s.sources, s.data_quality_score,
       COALESCE(o.outcomes, '[]'::jsonb) AS outcomes
FROM signals AS s
LEFT JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_object(
               'horizon_hours', so.horizon_hours, 'return_pct', so.return_pct, 'exit_price', so.exit_price,
               'entry_price', so.entry_price, 'window_start', so.window_start,
               'max_favourable_pct', so.max_favourable_pct, 'max_adverse_pct', so.max_adverse_pct,
               'verdict', so.verdict, 'price_source', so.price_source, 'evaluated_at', so.evaluated_at
           ) ORDER BY so.horizon_hours) AS outcomes
    FROM signal_outcomes AS so
    WHERE so.signal_id = s.id
) AS o ON true;
