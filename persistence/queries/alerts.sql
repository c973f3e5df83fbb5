-- Named queries of the alert rules, deliveries and leases, loaded by persistence.sql.load_queries("alerts").
-- Parameterized only ($n). $owner filters are "$n::boolean OR owner IS NOT DISTINCT FROM $m": an admin
-- passes true and sees every rule, any other caller only its own (NULL owner: anonymous rules).

-- name: insert_rule
INSERT INTO alert_rules (id, owner, name, conditions, expression, channels, webhook_url, webhook_secret)
VALUES ($1::uuid, $2::text, $3::text, $4::jsonb, $5::text, $6::text[], $7::text, $8::text)
RETURNING id, owner, name, conditions, expression, channels, webhook_url, paused, created_at, fired_count,
          last_fired_at;

-- name: list_rules
SELECT id, owner, name, conditions, expression, channels, webhook_url, paused, created_at, fired_count,
       last_fired_at
FROM alert_rules
WHERE $1::boolean OR owner IS NOT DISTINCT FROM $2::text
ORDER BY created_at, id
LIMIT $3::int;

-- name: set_paused
UPDATE alert_rules SET paused = $3::boolean
WHERE id = $4::uuid AND ($1::boolean OR owner IS NOT DISTINCT FROM $2::text)
RETURNING id, owner, name, conditions, expression, channels, webhook_url, paused, created_at, fired_count,
          last_fired_at;

-- name: delete_rule
DELETE FROM alert_rules WHERE id = $3::uuid AND ($1::boolean OR owner IS NOT DISTINCT FROM $2::text)
RETURNING id;

-- name: count_owned
SELECT count(*) FROM alert_rules WHERE owner IS NOT DISTINCT FROM $1::text;

-- name: active_rules
-- What the dispatcher matches signals against (secrets included: it signs the webhooks).
SELECT id, owner, name, conditions, expression, channels, webhook_url, webhook_secret, paused, created_at,
       fired_count, last_fired_at
FROM alert_rules
WHERE NOT paused
ORDER BY created_at, id;

-- name: claim_delivery
-- True when this process is the first to deliver the alert on the channel (then it sends), else no row.
INSERT INTO alert_deliveries (dedup_key, channel, rule_id) VALUES ($1::text, $2::text, $3::uuid)
ON CONFLICT (dedup_key, channel) DO NOTHING
RETURNING true;

-- name: count_fired
UPDATE alert_rules SET fired_count = fired_count + 1, last_fired_at = now() WHERE id = $1::uuid;

-- name: acquire_lease
-- Take the lease when it is free, expired or already ours (renewal); returns the holder after the statement.
INSERT INTO leases (name, holder, expires_at) VALUES ($1::text, $2::text, now() + make_interval(secs => $3::float8))
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE leases.holder = excluded.holder OR leases.expires_at < now()
RETURNING holder;

-- name: release_lease
DELETE FROM leases WHERE name = $1::text AND holder = $2::text;
