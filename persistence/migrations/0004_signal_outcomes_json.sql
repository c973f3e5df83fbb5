-- The outcomes of one signal as a jsonb array in horizon order: written once here, read by the history
-- page and the export (queries/signals.sql). STABLE: it reads tables and changes nothing.
CREATE FUNCTION signal_outcomes_json(target uuid) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT COALESCE(
        jsonb_agg(jsonb_build_object(
            'horizon_hours', so.horizon_hours, 'return_pct', so.return_pct, 'exit_price', so.exit_price,
            'entry_price', so.entry_price, 'window_start', so.window_start,
            'max_favourable_pct', so.max_favourable_pct, 'max_adverse_pct', so.max_adverse_pct,
            'verdict', so.verdict, 'price_source', so.price_source, 'evaluated_at', so.evaluated_at
        ) ORDER BY so.horizon_hours),
        '[]'::jsonb
    )
    FROM signal_outcomes AS so
    WHERE so.signal_id = target
$$;
