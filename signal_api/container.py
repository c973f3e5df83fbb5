"""Builds the process-wide object graph from :class:`Settings`: one HTTP client, one cache, the
provider clients, the gateway. Keyed providers are built only when their key is set."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from engine import WEIGHTS, validate_weights
from providers.alternative_me import AlternativeMeClient, alternative_me_error_hook
from providers.binance.domain import BinanceMarket
from providers.binance.raw import BinanceFuturesClient, binance_error_hook
from providers.cache import MemoryCache
from providers.coingecko import CoinGeckoClient
from providers.coinglass import CoinGlassClient, coinglass_error_hook
from providers.http import ProviderHttp, RetryPolicy, create_http_client
from resolvers.context import Services
from resolvers.gateway import MarketGateway, Providers

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx2

    from providers.http import ErrorHook
    from signal_api.settings import Settings


@dataclass
class Container:
    http: httpx2.AsyncClient
    cache: MemoryCache
    providers: Providers
    services: Services
    provider_status: dict[str, str]

    async def aclose(self) -> None:
        await self.http.aclose()


def system_clock() -> datetime:
    return datetime.now(UTC)


def build_container(settings: Settings, clock: Callable[[], datetime] = system_clock) -> Container:
    validate_weights(WEIGHTS)  # the weights must sum to exactly 100 before we serve a single signal
    http = create_http_client(max_connections=settings.upstream_max_connections)
    cache = MemoryCache(max_entries=settings.cache_max_entries)
    ttls = settings.cache_ttls()
    retry = RetryPolicy(
        attempts=settings.upstream_retry_attempts, max_wait_seconds=settings.upstream_max_retry_wait_seconds
    )

    def provider_http(
        name: str, base_url: str, hook: ErrorHook | None, headers: dict[str, str] | None = None
    ) -> ProviderHttp:
        return ProviderHttp(
            name,
            http,
            base_url,
            cache=cache,
            timeout_seconds=settings.upstream_timeout_seconds,
            retry=retry,
            headers=headers,
            keyed=bool(headers),
            error_hook=hook,
        )

    status = {"binance": "enabled", "alternative_me": "enabled", "coingecko": "enabled"}
    coingecko_headers = (
        {"x-cg-demo-api-key": settings.coingecko_api_key.get_secret_value()} if settings.coingecko_api_key else None
    )
    coinglass = None
    if settings.coinglass_api_key is not None:
        coinglass = CoinGlassClient(
            provider_http(
                "coinglass",
                settings.coinglass_base_url,
                coinglass_error_hook,
                {"CG-API-KEY": settings.coinglass_api_key.get_secret_value()},
            ),
            ttls,
        )
        status["coinglass"] = "enabled"
    else:
        status["coinglass"] = "disabled: set COINGLASS_API_KEY"
    providers = Providers(
        binance=BinanceMarket(
            BinanceFuturesClient(provider_http("binance", settings.binance_base_url, binance_error_hook), ttls), cache
        ),
        alternative_me=AlternativeMeClient(
            provider_http("alternative_me", settings.alternative_me_base_url, alternative_me_error_hook), ttls
        ),
        coingecko=CoinGeckoClient(
            provider_http("coingecko", settings.coingecko_base_url, None, coingecko_headers), ttls
        ),
        coinglass=coinglass,
    )
    services = Services(
        gateway=MarketGateway(providers, clock), max_symbols_per_request=settings.max_symbols_per_request
    )
    return Container(http=http, cache=cache, providers=providers, services=services, provider_status=status)
