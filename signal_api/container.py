"""Builds the process-wide object graph from :class:`Settings`: one HTTP client, one cache, the
provider clients, the gateway. Keyed providers are built only when their key is set."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from engine import WEIGHTS, validate_weights
from providers.cache import Cache, MemoryCache
from providers.http import ProviderHttp, RetryPolicy, create_http_client, declare_endpoints
from providers.registry import build_registry, rate_limits
from providers.resilience import CircuitBreaker, OutgoingLimiter, RateLimit
from providers.upstream_client import UpstreamClient
from providers.venue import ProviderDeps
from resolvers.ai_judge import AiJudge, DailyBudget, SharedDailyBudget
from resolvers.backtest import BacktestService
from resolvers.context import Services
from resolvers.discovery import Discovery, DiscoveryConfig
from resolvers.gateway import MarketGateway, SourceOrder
from resolvers.liquidation_window import LiquidationWindow
from resolvers.model import load_state as load_model_state
from resolvers.order_flow import OrderFlowConfig
from signal_api.security.auth import is_loopback

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import httpx2
    from redis.asyncio import Redis

    from persistence.runtime import HistoryRuntime
    from providers.http import ErrorHook
    from providers.registry import Registry
    from resolvers.streams import StreamServices
    from signal_api.alerts import AlertsRuntime
    from signal_api.cluster import Cluster
    from signal_api.settings import Settings


@dataclass
class Container:
    http: httpx2.AsyncClient  # the low-volume senders: alerts, Telegram, the OpenAI SDK
    upstream: UpstreamClient  # every market-data call (providers.upstream_client: why not httpx2)
    cache: Cache  # MemoryCache, or RedisCache shared by the replicas when REDIS_URL is set
    registry: Registry  # every enabled venue; the gateway reaches them only through the venue interface
    services: Services
    provider_status: dict[str, str]
    breakers: dict[str, CircuitBreaker]
    liquidation_window: LiquidationWindow | None = None
    history: HistoryRuntime | None = None  # the opened history (database, spool), for /health and /metrics
    alerts: AlertsRuntime | None = None  # Telegram outbox, alert service, scanner (signal_api.alerts)
    cluster: Cluster | None = None  # REDIS_URL: leases, shared broker (signal_api.cluster), for /health

    def attach_history(self, history: HistoryRuntime) -> None:
        """The lifespan opened the history: its repository serves the history fields, and its recorder
        (or, with no database this run, the spool) makes LONG/SHORT signals durable."""
        from resolvers.history import HistoryService  # with the database layer: only when history is on

        self.history = history
        if history.signals is not None:
            self.services = dataclasses.replace(
                self.services, recorder=history.recorder, history=HistoryService(history.signals)
            )
        elif history.fallback is not None:  # no database this run: LONG/SHORT rows stay durable in the spool
            self.services = dataclasses.replace(self.services, recorder=history.fallback)
        if history.database is not None:  # the watchlist lives in the same database
            from persistence.watchlist import WatchlistRepository

            self.services.discovery.watchlist = WatchlistRepository(history.database)

    def attach_streams(self, streams: StreamServices) -> None:
        """The lifespan opened the broker and the stream hub: the subscriptions read them."""
        self.services = dataclasses.replace(self.services, streams=streams)

    async def aclose(self) -> None:
        if self.services.backtest is not None:
            self.services.backtest.close()  # its worker processes
        await self.upstream.aclose()
        await self.http.aclose()


def system_clock() -> datetime:
    return datetime.now(UTC)


def build_ai_judge(
    settings: Settings, http: httpx2.AsyncClient, clock: Callable[[], datetime], redis: Redis | None = None
) -> AiJudge:
    """The AI judge on the shared HTTP client; only built when ``OPENAI_API_KEY`` is set. With ``REDIS_URL``
    its daily budget is the cluster's (one count on Redis for every replica)."""
    from providers.openai.client import OpenAiJudgeClient  # the openai SDK is imported only when keyed

    assert settings.openai_api_key is not None
    client = OpenAiJudgeClient(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        model=settings.openai_model,
        timeout_seconds=settings.openai_timeout_seconds,
        http_client=http,
    )
    limit = settings.openai_daily_call_budget
    budget = DailyBudget(limit, clock) if redis is None else SharedDailyBudget(limit, clock, redis)
    return AiJudge(client, budget, clock, model=settings.openai_model)


def build_container(
    settings: Settings, clock: Callable[[], datetime] = system_clock, *, redis: Redis | None = None
) -> Container:
    validate_weights(WEIGHTS)  # the weights must sum to exactly 100 before we serve a single signal
    http = create_http_client(max_connections=settings.upstream_max_connections)
    upstream = UpstreamClient(max_per_host=settings.upstream_max_connections)
    cache: Cache = MemoryCache(max_entries=settings.cache_max_entries)
    if redis is not None:  # REDIS_URL: one upstream load per key and TTL for every replica
        from providers.redis_cache import RedisCache

        cache = RedisCache(redis, max_local_entries=settings.cache_max_entries)
    ttls = settings.cache_ttls()
    retry = RetryPolicy(
        attempts=settings.upstream_retry_attempts, max_wait_seconds=settings.upstream_max_retry_wait_seconds
    )

    limits = {**rate_limits(), **settings.rate_limits}
    limiters: dict[str, OutgoingLimiter] = {}
    breakers: dict[str, CircuitBreaker] = {}

    def provider_http(
        provider: str, base_url: str, error_hook: ErrorHook | None, headers: Mapping[str, str] | None = None
    ) -> ProviderHttp:
        """One ProviderHttp per client, but one limiter and one breaker per provider, shared by all."""
        if provider in limits and provider not in limiters:
            limiters[provider] = OutgoingLimiter(
                provider, RateLimit(per_second=limits[provider], max_wait=settings.rate_limit_max_wait_seconds)
            )
        breaker = breakers.setdefault(
            provider,
            CircuitBreaker(
                provider,
                failure_threshold=settings.breaker_failure_threshold,
                cooldown_seconds=settings.breaker_cooldown_seconds,
            ),
        )
        return ProviderHttp(
            provider,
            upstream,
            base_url,
            cache=cache,
            timeout_seconds=settings.upstream_timeout_seconds,
            retry=retry,
            headers=headers,
            keyed=bool(headers),
            error_hook=error_hook,
            limiter=limiters.get(provider),
            breaker=breaker,
        )

    base_urls = settings.base_urls()
    keys = settings.api_keys()
    deps = ProviderDeps(base_urls=base_urls, keys=keys, ttls=ttls, cache=cache, http_factory=provider_http)
    registry = build_registry(deps)
    for name, venue in registry.providers.items():
        declare_endpoints(name, venue.named_endpoints())
    window = LiquidationWindow(clock) if settings.streams_enabled and settings.liquidation_stream_enabled else None
    services = Services(
        gateway=MarketGateway(
            registry,
            clock,
            source_order=SourceOrder.of(settings.source_order),
            liquidation_window=window,
            min_window_coverage=timedelta(seconds=settings.liquidation_window_min_coverage_seconds),
        ),
        max_symbols_per_request=settings.max_symbols_per_request,
        discovery=Discovery(
            DiscoveryConfig(
                summary_symbols=tuple(settings.market_summary_symbols),
                summary_ttl_seconds=settings.market_summary_ttl_seconds,
                scan_max_coins=settings.mss_scan_max_coins,
                scan_coingecko_calls=settings.mss_scan_coingecko_calls,
                scan_lunarcrush_calls=settings.mss_scan_lunarcrush_calls,
                watchlist_anonymous=is_loopback(settings.host),
            )
        ),
        order_flow=OrderFlowConfig(
            wall_multiple=settings.orderbook_wall_multiple,
            band_pct=settings.orderbook_wall_band_pct,
            depth=settings.orderbook_depth,
            large_trade_usd=settings.large_trade_threshold_usd,
        ),
        backtest=BacktestService(
            settings.backtest_history_dir,
            timeout_seconds=settings.backtest_timeout_seconds,
            workers=settings.backtest_workers,
        ),
        model=load_model_state(settings.calibrated_model_path),
    )
    if settings.openai_api_key is not None:
        services = dataclasses.replace(services, ai_judge=build_ai_judge(settings, http, clock, redis))
    return Container(
        http=http,
        upstream=upstream,
        cache=cache,
        registry=registry,
        services=services,
        provider_status=dict(registry.status),
        breakers=breakers,
        liquidation_window=window,
    )
