-- Named queries of the watchlist aggregate, loaded by persistence.sql.load_queries("watchlist").

-- name: add_entry
-- Idempotent: adding a watched coin again keeps its first added_at and updates the note when one is given.
INSERT INTO watchlist (symbol, note)
VALUES ($1::text, $2::text)
ON CONFLICT (symbol) DO UPDATE SET note = coalesce(EXCLUDED.note, watchlist.note)
RETURNING symbol, note, added_at;

-- name: remove_entry
DELETE FROM watchlist WHERE symbol = $1::text RETURNING symbol;

-- name: list_entries
SELECT symbol, note, added_at FROM watchlist ORDER BY added_at, symbol LIMIT $1::int;

-- name: is_watched
SELECT EXISTS (SELECT 1 FROM watchlist WHERE symbol = $1::text);

-- name: record_mss
-- Only for a watched coin (no row otherwise: a coin removed meanwhile records nothing).
INSERT INTO watchlist_mss (symbol, measured_at, total, measurable_max, total_low, total_high, tier, phases)
SELECT $1::text, $2::timestamptz, $3::float8, $4::float8, $5::float8, $6::float8, $7::text, $8::jsonb
WHERE EXISTS (SELECT 1 FROM watchlist WHERE symbol = $1::text)
RETURNING id;

-- name: mss_history
-- The newest $2 measurements of each coin in $1, newest first per coin.
SELECT symbol, measured_at, total, measurable_max, total_low, total_high, tier, phases
FROM (
    SELECT m.*, row_number() OVER (PARTITION BY m.symbol ORDER BY m.measured_at DESC, m.id DESC) AS n
    FROM watchlist_mss AS m
    WHERE m.symbol = ANY($1::text[])
) AS ranked
WHERE n <= $2::int
ORDER BY symbol, measured_at DESC;
