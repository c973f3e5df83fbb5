"""Signal history on PostgreSQL (asyncpg): every LONG/SHORT signal, what the market did after it, and
honest statistics over both.

Modules: :mod:`~persistence.db` (pool, embedded server, error classes), :mod:`~persistence.migrate`
(numbered SQL migrations), :mod:`~persistence.sql` (named queries in ``queries/*.sql``),
:mod:`~persistence.repository` (``SignalRepository``, ``OutcomeRepository``), :mod:`~persistence.spool`
(durable JSON-lines spool), :mod:`~persistence.recorder` (``HistoryRecorder``),
:mod:`~persistence.outcomes` (``OutcomeJob``), :mod:`~persistence.analytics` (performance and factor
agreement), :mod:`~persistence.runtime` (``open_history``: all of it as one unit for the lifespan).

The schema the migrations produce (``tests/test_history_persistence.py`` checks it line by line)::

    signals.id                          uuid                        NOT NULL
    signals.symbol                      text                        NOT NULL
    signals.recommendation              text                        NOT NULL
    signals.score                       double precision            NOT NULL
    signals.confidence                  double precision            NOT NULL
    signals.mode                        text                        NOT NULL
    signals.timeframe                   text                        NOT NULL
    signals.price                       double precision            NOT NULL
    signals.generated_at                timestamp with time zone    NOT NULL
    signals.recorded_at                 timestamp with time zone    NOT NULL
    signals.factors                     jsonb                       NOT NULL
    signals.data_quality                jsonb                       NOT NULL
    signals.sources                     jsonb                       NOT NULL
    signals.data_quality_score          double precision            NOT NULL
    signals.replayed                    boolean                     NOT NULL
    signals.verdict                     text                        NULL
    signals.risk_mode                   text                        NULL
    signals.decided_by                  text                        NULL
    signals.fallback_reason             text                        NULL
    signals.rules_verdict               text                        NULL
    signals.plan                        jsonb                       NULL
    signal_outcomes.signal_id           uuid                        NOT NULL
    signal_outcomes.horizon_hours       integer                     NOT NULL
    signal_outcomes.evaluated_at        timestamp with time zone    NOT NULL
    signal_outcomes.window_start        timestamp with time zone    NOT NULL
    signal_outcomes.entry_price         double precision            NOT NULL
    signal_outcomes.exit_price          double precision            NOT NULL
    signal_outcomes.return_pct          double precision            NOT NULL
    signal_outcomes.max_favourable_pct  double precision            NOT NULL
    signal_outcomes.max_adverse_pct     double precision            NOT NULL
    signal_outcomes.verdict             text                        NOT NULL
    signal_outcomes.price_source        text                        NOT NULL
    signal_outcomes.exit_first          text                        NULL
    api_keys.id                         bigint                      NOT NULL
    api_keys.name                       text                        NOT NULL
    api_keys.prefix                     text                        NOT NULL
    api_keys.key_hash                   bytea                       NOT NULL
    api_keys.scopes                     ARRAY                       NOT NULL
    api_keys.rate_per_minute            integer                     NULL
    api_keys.cost_per_minute            integer                     NULL
    api_keys.created_at                 timestamp with time zone    NOT NULL
    api_keys.revoked_at                 timestamp with time zone    NULL
    api_keys.last_used_at               timestamp with time zone    NULL
    alert_rules.id                      uuid                        NOT NULL
    alert_rules.owner                   text                        NULL
    alert_rules.name                    text                        NOT NULL
    alert_rules.conditions              jsonb                       NOT NULL
    alert_rules.expression              text                        NULL
    alert_rules.channels                ARRAY                       NOT NULL
    alert_rules.webhook_url             text                        NULL
    alert_rules.webhook_secret          text                        NULL
    alert_rules.paused                  boolean                     NOT NULL
    alert_rules.created_at              timestamp with time zone    NOT NULL
    alert_rules.fired_count             bigint                      NOT NULL
    alert_rules.last_fired_at           timestamp with time zone    NULL
    alert_deliveries.dedup_key          text                        NOT NULL
    alert_deliveries.channel            text                        NOT NULL
    alert_deliveries.rule_id            uuid                        NOT NULL
    alert_deliveries.claimed_at         timestamp with time zone    NOT NULL
    leases.name                         text                        NOT NULL
    leases.holder                       text                        NOT NULL
    leases.expires_at                   timestamp with time zone    NOT NULL
    watchlist.owner                     text                        NOT NULL
    watchlist.symbol                    text                        NOT NULL
    watchlist.note                      text                        NULL
    watchlist.added_at                  timestamp with time zone    NOT NULL
    watchlist_mss.id                    bigint                      NOT NULL
    watchlist_mss.symbol                text                        NOT NULL
    watchlist_mss.measured_at           timestamp with time zone    NOT NULL
    watchlist_mss.total                 double precision            NOT NULL
    watchlist_mss.measurable_max        double precision            NOT NULL
    watchlist_mss.total_low             double precision            NOT NULL
    watchlist_mss.total_high            double precision            NOT NULL
    watchlist_mss.tier                  text                        NULL
    watchlist_mss.phases                jsonb                       NOT NULL
    signals_with_outcomes.id                    uuid                        NULL
    signals_with_outcomes.symbol                text                        NULL
    signals_with_outcomes.recommendation        text                        NULL
    signals_with_outcomes.score                 double precision            NULL
    signals_with_outcomes.confidence            double precision            NULL
    signals_with_outcomes.mode                  text                        NULL
    signals_with_outcomes.timeframe             text                        NULL
    signals_with_outcomes.price                 double precision            NULL
    signals_with_outcomes.generated_at          timestamp with time zone    NULL
    signals_with_outcomes.recorded_at           timestamp with time zone    NULL
    signals_with_outcomes.factors               jsonb                       NULL
    signals_with_outcomes.data_quality          jsonb                       NULL
    signals_with_outcomes.sources               jsonb                       NULL
    signals_with_outcomes.data_quality_score    double precision            NULL
    signals_with_outcomes.outcomes              jsonb                       NULL
    signals_with_outcomes.verdict               text                        NULL
    signals_with_outcomes.risk_mode             text                        NULL
    signals_with_outcomes.decided_by            text                        NULL
    signals_with_outcomes.fallback_reason       text                        NULL
    signals_with_outcomes.rules_verdict         text                        NULL
    signals_with_outcomes.plan                  jsonb                       NULL
    schema_migrations.version           integer                     NOT NULL
    schema_migrations.name              text                        NOT NULL
    schema_migrations.applied_at        timestamp with time zone    NOT NULL
    schema_migrations.checksum          text                        NOT NULL
    index signals_pkey                              signals (id)
    index signals_symbol_generated_at_idx           signals (symbol, generated_at)
    index signals_recommendation_generated_at_idx   signals (recommendation, generated_at)
    index signals_generated_at_id_idx               signals (generated_at, id)
    index signal_outcomes_pkey                      signal_outcomes (signal_id, horizon_hours)
    index signal_outcomes_horizon_verdict_idx       signal_outcomes (horizon_hours, verdict)
    index api_keys_pkey                             api_keys (id)
    index api_keys_key_hash_key                     api_keys (key_hash)
    index alert_rules_pkey                          alert_rules (id)
    index alert_rules_owner_idx                     alert_rules (owner)
    index alert_deliveries_pkey                     alert_deliveries (dedup_key, channel)
    index leases_pkey                               leases (name)
    index watchlist_pkey                            watchlist (owner, symbol)
    index watchlist_symbol_idx                      watchlist (symbol)
    index watchlist_mss_pkey                        watchlist_mss (id)
    index watchlist_mss_symbol_measured_at_idx      watchlist_mss (symbol, measured_at)
    index schema_migrations_pkey                    schema_migrations (version)

``signals.recommendation`` is LONG or SHORT (a CHECK constraint; a NEUTRAL is never stored);
``signal_outcomes.verdict`` is WIN, LOSS or FLAT; ``signal_outcomes.signal_id`` references
``signals.id`` (ON DELETE CASCADE). ``api_keys`` holds the service's API keys, only a SHA-256 of each
(:mod:`~persistence.api_keys`). ``signals_with_outcomes`` is a view (migration 0004): each signal with its
outcomes as a jsonb array, the one definition the history page and the export read (views report every
column as nullable). Migration 0007 (:mod:`~persistence.alerts`) adds the alert rules, one claim per
delivered alert and channel (``alert_deliveries``: an alert goes out once), named job ``leases`` (one
scanner across replicas), and ``signals.replayed``: true for rows a ``serve --replay --record-history``
process stored (its connections set ``signal_api.replayed``); performance and insights leave them out.
Migration 0005 (:mod:`~persistence.watchlist`) adds the server's ``watchlist`` and each watched coin's MSS
history (``watchlist_mss``, deleted with its coin). Migration 0008 makes the list per owner: ``owner`` is the
API key id ('' the anonymous callers' shared list, where 0005's rows went), keyed ``(owner, symbol)``; the
MSS history stays one series per coin, deleted when the last owner removes the coin.
"""
