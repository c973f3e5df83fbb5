-- Named queries of the watchlist aggregate, loaded by persistence.sql.load_queries("watchlist").
-- Parameterized only ($n). The owner is the API key id as text, '' for the anonymous callers' shared list;
-- "$n::boolean OR owner = $m" lets an admin (true) read every owner's rows, anyone else only their own.

-- name: add_entry
-- Idempotent per owner: adding a watched coin again keeps its first added_at and updates the note when given.
INSERT INTO watchlist (owner, symbol, note, added_at)
VALUES ($1::text, $2::text, $3::text, $4::timestamptz)
ON CONFLICT (owner, symbol) DO UPDATE SET note = coalesce(EXCLUDED.note, watchlist.note)
RETURNING owner, symbol, note, added_at;

-- name: has_entry
SELECT EXISTS (SELECT 1 FROM watchlist WHERE owner = $1::text AND symbol = $2::text);

-- name: count_owned
SELECT count(*) FROM watchlist WHERE owner = $1::text;

-- name: remove_entry
-- The owner's entry; the coin's MSS history goes too when no other owner watches it (both statements see
-- the same snapshot, so "another owner" is any row of the coin whose owner is not $1).
WITH gone AS (
    DELETE FROM watchlist WHERE owner = $1::text AND symbol = $2::text RETURNING symbol
), purged AS (
    DELETE FROM watchlist_mss
    WHERE symbol = $2::text
      AND EXISTS (SELECT 1 FROM gone)
      AND NOT EXISTS (SELECT 1 FROM watchlist WHERE symbol = $2::text AND owner <> $1::text)
)
SELECT symbol FROM gone;

-- name: list_entries
SELECT owner, symbol, note, added_at
FROM watchlist
WHERE $1::boolean OR owner = $2::text
ORDER BY owner, added_at, symbol
LIMIT $3::int;

-- name: is_watched
-- By anyone: an MSS answer of such a coin joins its history.
SELECT EXISTS (SELECT 1 FROM watchlist WHERE symbol = $1::text);

-- name: record_mss
-- Only for a coin someone watches (no row otherwise: a coin removed meanwhile records nothing).
INSERT INTO watchlist_mss (symbol, measured_at, total, measurable_max, total_low, total_high, tier, phases)
SELECT $1::text, $2::timestamptz, $3::float8, $4::float8, $5::float8, $6::float8, $7::text, $8::jsonb
WHERE EXISTS (SELECT 1 FROM watchlist WHERE symbol = $1::text)
RETURNING id;

-- name: mss_history
-- For each window i (coin $1[i], since $2[i]: when its owner added it), the newest $3 measurements of the coin
-- at or after since, newest first; entry_no is i (1-based), so several owners' windows of one coin stay apart.
SELECT w.i AS entry_no, m.symbol, m.measured_at, m.total, m.measurable_max, m.total_low, m.total_high, m.tier,
       m.phases
FROM unnest($1::text[], $2::timestamptz[]) WITH ORDINALITY AS w (symbol, since, i)
CROSS JOIN LATERAL (
    SELECT * FROM watchlist_mss AS h
    WHERE h.symbol = w.symbol AND h.measured_at >= w.since
    ORDER BY h.measured_at DESC, h.id DESC
    LIMIT $3::int
) AS m
ORDER BY w.i, m.measured_at DESC, m.id DESC;
