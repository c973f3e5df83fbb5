-- Named queries of the API keys aggregate, loaded by persistence.sql.load_queries("api_keys").
-- Keys are found by the SHA-256 of the key ($1 bytea); the key itself is never a parameter.

-- name: insert_key
INSERT INTO api_keys (name, prefix, key_hash, scopes, rate_per_minute, cost_per_minute)
VALUES ($1::text, $2::text, $3::bytea, $4::text[], $5::int, $6::int)
RETURNING id, name, prefix, scopes, rate_per_minute, cost_per_minute, created_at, revoked_at, last_used_at;

-- name: list_keys
SELECT id, name, prefix, scopes, rate_per_minute, cost_per_minute, created_at, revoked_at, last_used_at
FROM api_keys
ORDER BY id;

-- name: key_by_hash
-- One probe of the unique index on key_hash; revoked keys are returned too (the caller refuses them).
SELECT id, name, prefix, scopes, rate_per_minute, cost_per_minute, created_at, revoked_at, last_used_at
FROM api_keys
WHERE key_hash = $1::bytea;

-- name: key_by_id
SELECT id, name, prefix, scopes, rate_per_minute, cost_per_minute, created_at, revoked_at, last_used_at
FROM api_keys
WHERE id = $1::bigint;

-- name: revoke_key
-- Idempotent: an already revoked key keeps its first revocation time. No row: no such id.
UPDATE api_keys
SET revoked_at = coalesce(revoked_at, now())
WHERE id = $1::bigint
RETURNING id, name, prefix, scopes, rate_per_minute, cost_per_minute, created_at, revoked_at, last_used_at;

-- name: touch_key
-- At most one write per key per $2 seconds, however many requests it makes.
UPDATE api_keys
SET last_used_at = now()
WHERE id = $1::bigint
  AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2::float8));

-- name: count_active_keys
SELECT count(*) FROM api_keys WHERE revoked_at IS NULL;
