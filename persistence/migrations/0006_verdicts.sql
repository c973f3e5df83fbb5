-- Verdict tracking (issue 14): each stored LONG/SHORT keeps its ATR trade plan, the verdict it was answered
-- with and which judge decided (AI or RULES, with the reason the AI did not), plus the rules' own verdict,
-- so "did CONFIRM beat SKIP?" and "does the AI add anything over the rules?" are asked of the same rows.
-- Rows stored before this migration have NULLs: not judged.
ALTER TABLE signals
    ADD COLUMN verdict          text CHECK (verdict IN ('CONFIRM', 'DOWNSIZE', 'SKIP', 'WAIT')),
    ADD COLUMN risk_mode        text CHECK (risk_mode IN ('AVOID', 'REDUCED', 'NORMAL', 'AGGRESSIVE')),
    ADD COLUMN decided_by       text CHECK (decided_by IN ('AI', 'RULES')),
    ADD COLUMN fallback_reason  text,
    ADD COLUMN rules_verdict    text CHECK (rules_verdict IN ('CONFIRM', 'DOWNSIZE', 'SKIP', 'WAIT')),
    ADD COLUMN plan             jsonb;  -- {entry, stop, take_profit, atr, atr_pct, size_multiplier, risk_mode}

-- Which leg of the plan the price reached first within the horizon (engine.outcomes.first_exit); NULL when
-- the signal had no plan.
ALTER TABLE signal_outcomes
    ADD COLUMN exit_first text CHECK (exit_first IN ('TAKE_PROFIT', 'STOP', 'NEITHER', 'SAME_BAR'));

-- The history page and the export read the new columns through the view (columns appended at the end).
CREATE OR REPLACE VIEW signals_with_outcomes AS
SELECT s.id, s.symbol, s.recommendation, s.score, s.confidence, s.mode, s.timeframe, s.price, s.generated_at,
       s.recorded_at, s.factors, s.data_quality, s.sources, s.data_quality_score,
       COALESCE(o.outcomes, '[]'::jsonb) AS outcomes,
       s.verdict, s.risk_mode, s.decided_by, s.fallback_reason, s.rules_verdict, s.plan
FROM signals AS s
LEFT JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_object(
               'horizon_hours', so.horizon_hours, 'return_pct', so.return_pct, 'exit_price', so.exit_price,
               'entry_price', so.entry_price, 'window_start', so.window_start,
               'max_favourable_pct', so.max_favourable_pct, 'max_adverse_pct', so.max_adverse_pct,
               'verdict', so.verdict, 'price_source', so.price_source, 'evaluated_at', so.evaluated_at,
               'exit_first', so.exit_first
           ) ORDER BY so.horizon_hours) AS outcomes
    FROM signal_outcomes AS so
    WHERE so.signal_id = s.id
) AS o ON true;
