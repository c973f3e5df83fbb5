"""CoinGecko on the common :class:`~providers.venue.MarketProvider` interface: the ``SOCIAL`` capability.

The score is the share of CoinGecko community votes that are "up" (0..100), timed by the coin's
``last_updated`` (see :mod:`providers.coingecko.domain`).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from providers.coingecko.domain import PROVIDER, CoinGeckoClient
from providers.venue import Capability, SocialVenue

if TYPE_CHECKING:
    from engine.hype import SocialMetrics, TrendingCoin
    from engine.listings import CoinMarket
    from engine.mss import CoinDetails
    from providers.symbols import Instrument
    from providers.venue import MarketProvider, ProviderDeps

DEFAULT_BASE_URL = "https://api.coingecko.com/api/v3"
KEY_SETTING = "COINGECKO_API_KEY"  # optional: a demo key, sent as x-cg-demo-api-key
# Docs, "Common Errors & Rate Limit": the keyless public API allows 5 to 15 calls per minute depending on
# load (a demo key 30); design for the floor of 5 a minute. Social answers are cached for 5 minutes.
RATE_LIMIT_PER_SECOND = 5 / 60
DEMO_KEY_HEADER = "x-cg-demo-api-key"


class CoinGeckoVenue(SocialVenue):
    """The share of up-votes, timed by ``last_updated``."""

    name = PROVIDER
    keyed = False
    capabilities = frozenset(
        {
            Capability.SOCIAL,
            Capability.COIN_MARKETS,
            Capability.COIN_DETAILS,
            Capability.SOCIAL_METRICS,
            Capability.TRENDING,
        }
    )
    endpoints = MappingProxyType(
        {
            Capability.SOCIAL: "coins",
            Capability.COIN_MARKETS: "coins.markets.page",
            Capability.COIN_DETAILS: "coins.details",
            Capability.SOCIAL_METRICS: "coins.details",
            Capability.TRENDING: "search.trending",
        }
    )
    raw: CoinGeckoClient

    def __init__(self, client: CoinGeckoClient) -> None:
        super().__init__(client, client.sentiment)

    async def coin_markets(self, page: int) -> tuple[CoinMarket, ...]:
        return await self.raw.market_page(page)

    async def coin_details(self, instrument: Instrument) -> CoinDetails:
        return await self.raw.details(instrument)

    async def social_metrics(self, instrument: Instrument, *, topic: bool = False) -> SocialMetrics:
        """CoinGecko has no social topics: ``topic`` is ignored (the metrics say so by leaving it null)."""
        return await self.raw.social_metrics(instrument)

    async def trending(self) -> tuple[TrendingCoin, ...]:
        return await self.raw.trending_coins()


def build(deps: ProviderDeps) -> MarketProvider | None:
    """Always built (keyless); a configured demo key only raises the rate limit."""
    key = deps.key(PROVIDER)
    headers = {DEMO_KEY_HEADER: key} if key else None
    return CoinGeckoVenue(CoinGeckoClient(deps.http(PROVIDER, None, headers), deps.ttls))
