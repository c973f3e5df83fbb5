"""Every setting of the service, read from the environment (and an optional ``.env``) in one place."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from persistence.config import SPOOL_MAX_BYTES, HistoryConfig
from providers.config import CacheTtls
from signal_api.paths import default_data_dir, default_history_dir, default_model_path

_TTLS = CacheTtls()  # the defaults of the ttl_* settings below
_HISTORY = HistoryConfig(data_dir=Path())  # the defaults of the history settings below (not its data_dir)


class Settings(BaseSettings):
    """Environment variables use the field name in upper case, e.g. ``BINANCE_BASE_URL``."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # serving
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"
    log_json: bool | None = None  # unset: JSON lines unless stderr is a terminal (see signal_api/logging.py)
    graphiql: bool = True
    max_body_bytes: int = Field(default=65_536, ge=1024, description="larger POST bodies get HTTP 413")
    max_query_depth: int = Field(default=10, ge=2)
    max_query_tokens: int = Field(default=2_000, ge=50)
    max_symbols_per_request: int = Field(default=50, ge=1)

    # upstream base URLs (the real public hosts by default; the replay mode points them at 127.0.0.1)
    binance_base_url: str = "https://fapi.binance.com"
    alternative_me_base_url: str = "https://api.alternative.me"
    coingecko_base_url: str = "https://api.coingecko.com/api/v3"
    coinglass_base_url: str = "https://open-api-v4.coinglass.com"
    okx_base_url: str = "https://www.okx.com"
    bybit_base_url: str = "https://api.bybit.com"
    hyperliquid_base_url: str = "https://api.hyperliquid.xyz"
    coinapi_base_url: str = "https://rest.coinapi.io"
    lunarcrush_base_url: str = "https://lunarcrush.com/api4"

    # WebSocket streams (subscriptions, the keyless liquidation window)
    binance_ws_url: str = "wss://fstream.binance.com"
    bybit_ws_url: str = "wss://stream.bybit.com"
    okx_ws_url: str = "wss://ws.okx.com:8443"
    hyperliquid_ws_url: str = "wss://api.hyperliquid.xyz"
    streams_enabled: bool = True
    liquidation_stream_enabled: bool = True  # keep Binance's all-symbol liquidation stream up for the window
    stream_grace_seconds: float = Field(default=30.0, ge=0)
    stream_silence_seconds: float = Field(default=60.0, gt=0)
    liquidation_window_min_coverage_seconds: float = Field(default=3600.0, ge=0)
    max_subscriptions_per_connection: int = Field(default=20, ge=1)
    large_trade_threshold_usd: float = Field(default=100_000.0, ge=0)
    liquidation_min_value_usd: float = Field(default=5_000.0, ge=0)
    # order books (orderBook, scalping): a wall is >= this many x the average level size within the band
    orderbook_wall_multiple: float = Field(default=5.0, gt=1)
    orderbook_wall_band_pct: float = Field(default=2.0, gt=0, le=20)
    orderbook_depth: int = Field(default=500, ge=5, le=1000)  # levels per side asked of each venue
    # spikes: the in-process monitor samples the universe's OI and volume this often (4 calls); 0: scans only
    spike_poll_seconds: float = Field(default=60.0, ge=0)

    # keys of keyed providers: each provider is enabled only when its key is set
    coinglass_api_key: SecretStr | None = None
    coingecko_api_key: SecretStr | None = None  # optional demo key, sent as x-cg-demo-api-key
    coinapi_api_key: SecretStr | None = None
    lunarcrush_api_key: SecretStr | None = None

    # upstream behaviour
    upstream_timeout_seconds: float = Field(default=5.0, gt=0)
    upstream_retry_attempts: int = Field(default=3, ge=1, le=10)
    upstream_max_retry_wait_seconds: float = Field(default=2.0, ge=0)
    upstream_max_connections: int = Field(default=100, ge=1, description="open connections per upstream host")
    # opened to Binance at start-up (its ping endpoint), before the first query: a cold signal sends 7 calls
    # there at once (klines, prices, funding, ratios, open interest), each needing a connection of its own,
    # and 8 keeps one spare
    upstream_warm_connections: int = Field(
        default=8, ge=0, description="connections to Binance opened at start-up (≤ UPSTREAM_MAX_CONNECTIONS); 0: none"
    )
    rate_limits: dict[str, float] = Field(
        default_factory=dict, description='outgoing calls per second per provider, JSON: {"okx": 5}'
    )
    rate_limit_max_wait_seconds: float = Field(default=0.25, ge=0)
    # --- source order (gateway engineer; resolvers/gateway.py DEFAULT_SOURCE_ORDER) ---
    # Which providers each signal input asks, in order, replacing that input's default list, JSON:
    # SOURCE_ORDER='{"price": ["okx", "binance"], "candles": ["bybit", "binance"]}'. Inputs: listing,
    # price, mark_price, candles, funding, global_long_short, top_trader_positions, open_interest,
    # liquidations, social, fear_greed. Unknown inputs or providers refuse to start.
    source_order: dict[str, list[str]] = Field(
        default_factory=dict, description="input → ordered provider names; replaces that input's default order"
    )
    breaker_failure_threshold: int = Field(default=5, ge=1)
    breaker_cooldown_seconds: float = Field(default=30.0, gt=0)

    # cache TTLs in seconds, one ``TTL_<KIND>_SECONDS`` per field of CacheTtls (providers/config.py),
    # whose defaults are the only place the numbers are written
    ttl_price_seconds: float = Field(default=_TTLS.price, ge=0)
    ttl_liquidations_seconds: float = Field(default=_TTLS.liquidations, ge=0)
    ttl_funding_seconds: float = Field(default=_TTLS.funding, ge=0)
    ttl_candles_seconds: float = Field(default=_TTLS.candles, ge=0)
    ttl_ratios_seconds: float = Field(default=_TTLS.ratios, ge=0)
    ttl_open_interest_seconds: float = Field(default=_TTLS.open_interest, ge=0)
    ttl_social_seconds: float = Field(default=_TTLS.social, ge=0)
    ttl_fear_greed_seconds: float = Field(default=_TTLS.fear_greed, ge=0)
    ttl_exchange_info_seconds: float = Field(default=_TTLS.exchange_info, ge=0)
    cache_max_entries: int = Field(default=10_000, ge=100)

    # offline mode: serve a cassette in-process and treat its clock as "now"
    replay_cassette: Path | None = None
    replay_latency_ms: float = Field(default=0.0, ge=0)
    # or use a separately running `signal-api replay` server (and its clock)
    replay_url: str | None = None

    # REST shim (POST /invoke, GET /openapi.json, GET /gpt/action-schema)
    # the `servers` entry of the OpenAPI and GPT schemas and of /llms.txt (REST engineer, issue 10); unset:
    # the scheme and Host the caller used (signal_api.rest.server_url)
    public_base_url: str | None = None
    rest_max_response_chars: int = Field(default=100_000, ge=1_000)
    rest_default_timeout_seconds: float = Field(default=30.0, gt=0)
    operation_timeouts: dict[str, float] = Field(
        default_factory=dict, description='per-operation overrides, JSON: {"signals.batch": 45}'
    )
    persisted_queries_only: bool = False  # /graphql accepts only the registry's documents when true
    # trusted documents beyond the registry's: a JSON file, {"<sha256 of the text>": "<document>"} or a list
    trusted_documents_file: Path | None = None
    apq_max_entries: int = Field(default=5_000, ge=0, description="automatic persisted queries kept in memory")
    # response cache (signal_api.response_cache): identical /graphql queries answered from stored bytes
    response_cache_enabled: bool = True
    response_cache_max_seconds: float = Field(default=5.0, ge=0, description="cap for inputs outside the cache")
    response_cache_max_entries: int = Field(default=2_000, ge=1)
    # several replicas (signal_api/cluster.py): unset, everything is in-process. Set (redis://host:6379/0),
    # the provider and response caches, rate-limit counters and stream events are shared, and leases
    # (expiring REDIS_LEASE_SECONDS after a replica dies) run each stream, the outcome job, the scanner and
    # the spike poller once per cluster. Redis holds pickled values: keep it on a private network.
    redis_url: SecretStr | None = None
    redis_lease_seconds: float = Field(default=5.0, ge=1, le=60)

    # --- limits, cost budgets, WebSocket limits, CORS and security headers (limits engineer) ---
    # Budgets per caller (an API key, or the client address for anonymous callers) per fixed window;
    # a key's own rate (``keys create --rate``) overrides the key default, scaled to the window.
    rate_limit_enabled: bool = True  # false switches the request and cost budgets off (benchmarks)
    rate_limit_storage_uri: str = "memory://"  # a `limits` storage URI; redis:// shares budgets (limits[async-redis])
    rate_limit_window_seconds: int = Field(default=60, ge=1, le=86_400)
    rate_limit_anonymous_requests: int = Field(default=300, ge=1, description="requests per window per address")
    rate_limit_key_requests: int = Field(default=1_200, ge=1, description="requests per window per key")
    auth_failures_per_address: int = Field(
        default=30, ge=1, description="refused API keys per window per address before 429 (key guessing)"
    )
    cost_limit_anonymous: int = Field(default=1_000, ge=1, description="cost points per window per address")
    cost_limit_key: int = Field(default=5_000, ge=1, description="cost points per window per key")
    ws_max_connections_per_address: int = Field(default=20, ge=1)
    ws_max_connections_per_key: int = Field(default=50, ge=1)
    cors_origins: list[str] = Field(
        default_factory=list, description='browser origins allowed (HTTP and WebSocket), JSON: ["https://a.b"]; "*" all'
    )

    # backtest: the recorded history to replay (default: ../shared/fixtures/history next to the repo)
    backtest_history_dir: Path = Field(default_factory=default_history_dir)
    # CALIBRATED mode: the model artifact read once at start-up (default: the committed one, fitted on the
    # shared BTC year; `signal-api model fit --out PATH` writes another). Unreadable: the mode answers a problem.
    calibrated_model_path: Path = Field(default_factory=default_model_path)

    # --- query limits, query cost and the backtest's budget (validation engineer) ---
    # Every operation is costed before it runs (schema/cost.py: list arguments multiply, aliases add up);
    # over MAX_QUERY_COST it is refused with QUERY_TOO_COSTLY. A backtest runs in a worker process:
    # at most BACKTEST_WORKERS at a time, answered BACKTEST_TIMEOUT after BACKTEST_TIMEOUT_SECONDS.
    max_query_aliases: int = Field(default=30, ge=0)
    max_query_cost: int = Field(default=100, ge=1)
    backtest_timeout_seconds: float = Field(default=20.0, gt=0)
    backtest_workers: int = Field(default=1, ge=1, le=32)

    # signal history (PostgreSQL): unset DATABASE_URL means an embedded PostgreSQL under DATA_DIR
    history_enabled: bool = True
    database_url: SecretStr | None = None
    data_dir: Path = Field(default_factory=default_data_dir)  # $XDG_DATA_HOME/futures-signal-api or ~/.local/share/...
    db_pool_min: int = Field(default=_HISTORY.pool_min, ge=1)
    db_pool_max: int = Field(default=_HISTORY.pool_max, ge=1)
    signal_dedup_window_seconds: float = Field(default=_HISTORY.dedup_window_seconds, ge=0)
    signal_dedup_score_tolerance: float = Field(default=_HISTORY.dedup_score_tolerance, ge=0)
    outcome_job_interval_seconds: float = Field(default=_HISTORY.outcome_interval_seconds, gt=0)

    # --- health, durability and supervision (health engineer) ---
    # A LONG/SHORT is durable before it is answered: group commit into the database, waiting at most
    # HISTORY_COMMIT_TIMEOUT_SECONDS, else an fsync'd spool append capped at HISTORY_SPOOL_MAX_BYTES
    # (rows past the cap are refused, counted and reported, never silently dropped).
    history_spool_max_bytes: int = Field(default=SPOOL_MAX_BYTES, ge=4096)
    history_commit_timeout_seconds: float = Field(default=_HISTORY.commit_timeout_seconds, gt=0)
    history_in_replay: bool = False  # store replayed signals too (tests, demos); off: replays stay out
    # the database probe, which also restarts a dead embedded server
    db_supervisor_interval_seconds: float = Field(default=_HISTORY.supervisor_interval_seconds, gt=0)
    health_upstream_fresh_seconds: float = Field(default=120.0, gt=0)  # a price source call this recent counts
    health_probe_timeout_seconds: float = Field(default=2.0, gt=0)  # readiness waits this long for a probe

    # --- AI judge (issue 14; resolvers/ai_judge.py): Signal.verdict asks OpenAI when the key is set ---
    # One structured-output call per LONG/SHORT signal state, at most OPENAI_DAILY_CALL_BUDGET per UTC day;
    # a timeout, refusal, invalid answer or spent budget falls back to the keyless rules.
    openai_api_key: SecretStr | None = None
    openai_base_url: str = "https://api.openai.com/v1"
    openai_model: str = "gpt-4o-mini"
    openai_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    openai_daily_call_budget: int = Field(default=500, ge=0)

    # --- API keys and access (keys engineer; signal_api/security/auth.py) ---
    # Keys live in the history's database (`signal-api keys create/list/revoke`). Unset ALLOW_ANONYMOUS
    # (auto) serves callers without a key only while HOST is a loopback address; on any other address
    # the service needs at least one active key, or ALLOW_ANONYMOUS=true, or it refuses to start.
    # With anonymous access off, /metrics needs a key with the admin scope.
    allow_anonymous: bool | None = None

    # --- alerts: Telegram, alert rules and the scanner (issue 14; signal_api/alerts.py) ---
    # Telegram sends when both the token and at least one chat id are set; the token is part of every Bot
    # API URL, so it is a secret (redacted from every log line) and never appears in errors or /health.
    telegram_bot_token: SecretStr | None = None
    telegram_chat_ids: list[str] = Field(default_factory=list, description='JSON list: ["123456789", "@channel"]')
    telegram_base_url: str = "https://api.telegram.org"
    telegram_outbox_size: int = Field(default=1_000, ge=1, description="queued messages; more are dropped, counted")
    # webhooks go to public addresses only (no loopback, private or link-local target, by name or number)
    alert_webhooks_allow_internal: bool = False
    # The scanner computes, judges, records and alerts on these symbols every interval (one replica: a lease).
    scanner_enabled: bool = False
    scanner_interval_seconds: float = Field(default=300.0, ge=5)
    scanner_symbols: list[str] = Field(default_factory=lambda: ["BTCUSDT", "ETHUSDT"], max_length=50)
    scanner_modes: list[str] = Field(default_factory=lambda: ["aggressive"], min_length=1, max_length=4)
    scanner_timeframe: str = "4h"
    # or the screener's top SCANNER_SCREENER_LIMIT symbols each round (24 h quote volume >= $10M)
    scanner_screener: Literal["GAINERS", "LOSERS", "VOLUME", "FUNDING_HIGH", "FUNDING_LOW", "OPEN_INTEREST"] | None = (
        None
    )
    scanner_screener_limit: int = Field(default=10, ge=1, le=50)

    # --- MSS, social hype, watchlist, market summary (issue 13; resolvers/mss.py, resolvers/summary.py) ---
    market_summary_symbols: list[str] = Field(
        default_factory=lambda: ["BTC", "ETH", "SOL", "XRP", "BNB"], min_length=1, max_length=10
    )
    market_summary_ttl_seconds: float = Field(default=15.0, ge=0, description="served from memory this long")
    mss_scan_max_coins: int = Field(default=20, ge=1, le=50, description="the most coins one mssScan scores")
    # per scan, on the rate-limited vendors (CoinGecko keyless: 5 calls a minute; LunarCrush: 10 a minute)
    mss_scan_coingecko_calls: int = Field(default=3, ge=0, le=30)
    mss_scan_lunarcrush_calls: int = Field(default=5, ge=0, le=30)

    @model_validator(mode="after")
    def _warm_connections_within_the_host_limit(self) -> Self:
        """A warm-up over the host limit is refused when asked for; the default follows a lower limit."""
        if self.upstream_warm_connections > self.upstream_max_connections:
            if "upstream_warm_connections" in self.model_fields_set:
                raise ValueError(
                    f"UPSTREAM_WARM_CONNECTIONS ({self.upstream_warm_connections}) is over UPSTREAM_MAX_CONNECTIONS "
                    f"({self.upstream_max_connections}), the connections one host may have"
                )
            self.upstream_warm_connections = self.upstream_max_connections
        return self

    def cache_ttls(self) -> CacheTtls:
        """The providers' TTLs: each field of CacheTtls from its ``ttl_<field>_seconds`` setting."""
        return CacheTtls(**{f.name: getattr(self, f"ttl_{f.name}_seconds") for f in dataclasses.fields(CacheTtls)})

    def base_urls(self) -> dict[str, str]:
        """Provider name → base URL, from every ``<provider>_base_url`` field."""
        return {
            name.removesuffix("_base_url"): getattr(self, name)
            for name in type(self).model_fields
            if name.endswith("_base_url") and name != "public_base_url"
        }

    def api_keys(self) -> dict[str, str | None]:
        """Provider name → key (``None`` when unset), from every ``<provider>_api_key`` field."""
        keys: dict[str, str | None] = {}
        for name in type(self).model_fields:
            if name.endswith("_api_key"):
                secret: SecretStr | None = getattr(self, name)
                keys[name.removesuffix("_api_key")] = secret.get_secret_value() if secret is not None else None
        return keys

    def ws_urls(self) -> dict[str, str]:
        """Provider name → WebSocket base URL, from every ``<provider>_ws_url`` field."""
        return {
            name.removesuffix("_ws_url"): getattr(self, name)
            for name in type(self).model_fields
            if name.endswith("_ws_url")
        }

    def with_replay_base(self, base_url: str) -> Settings:
        """The same settings with every provider pointed at a replay server (``/<provider>`` prefixes),
        for HTTP and for WebSocket streams."""
        base = base_url.rstrip("/")
        ws_base = "ws" + base.removeprefix("http")
        return self.model_copy(
            update={
                **{f"{name}_base_url": f"{base}/{name}" for name in self.base_urls()},
                **{f"{name}_ws_url": f"{ws_base}/{name}" for name in self.ws_urls()},
            }
        )
