"""One normalized interface over every exchange and data vendor, with a capability map.

Resolvers and the gateway ask ``provider.supports(Capability.FUNDING)`` instead of checking types.
Every method returns the normalized models of :mod:`engine.market`; a method a provider does not
serve raises :class:`CapabilityNotSupported`, and an interval it cannot serve raises
:class:`IntervalNotSupported` (both typed, never a 500). Adding a venue is one module with a
``build(deps)`` function plus one line in :mod:`providers.registry`.

Batching is a capability too: a venue whose API answers every symbol in one call declares ``TICKERS``
/ ``FUNDINGS`` and the per-request loaders turn a request's concurrent single-symbol calls into one.
Each capability names the venue endpoint that serves it (:meth:`MarketProvider.source`), so a reading
says which venue and endpoint answered.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

from providers.errors import NotRetryableError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping, Sequence

    from engine.hype import SocialMetrics, TrendingCoin
    from engine.listings import CoinMarket
    from engine.market import (
        Candle,
        CandleInterval,
        FearGreed,
        FundingRate,
        Liquidation,
        LiquidationTotals,
        LongShortPoint,
        OpenInterest,
        OpenInterestPoint,
        OrderBook,
        SocialSentiment,
        SymbolInfo,
        Ticker24h,
        Trade,
    )
    from engine.mss import CoinDetails
    from providers.cache import Cache
    from providers.config import CacheTtls
    from providers.http import ErrorHook, ProviderHttp
    from providers.symbols import Instrument


class Capability(enum.Enum):
    """What a provider can serve; one per method of :class:`MarketProvider` (the value is the method's name)."""

    TICKER = "ticker"
    TICKERS = "tickers"  # every symbol's ticker in one call (batching)
    CANDLES = "candles"
    FUNDING = "funding"
    FUNDINGS = "fundings"  # many symbols' funding with one call for the rates (batching)
    FUNDING_HISTORY = "funding_history"
    OPEN_INTEREST = "open_interest"
    OPEN_INTERESTS = "open_interests"  # many symbols' open interest, the shared part in one call (batching)
    OPEN_INTEREST_HISTORY = "open_interest_history"
    LONG_SHORT_RATIO = "long_short_ratio"
    TOP_TRADER_POSITIONS = "top_trader_positions"
    LIQUIDATIONS = "liquidations"
    LIQUIDATION_TOTALS = "liquidation_totals"
    ORDER_BOOK = "order_book"
    TRADES = "trades"
    SOCIAL = "social"
    FEAR_GREED = "fear_greed"
    INSTRUMENTS = "instruments"  # the venue's listing of tradable USDT perpetuals
    OPEN_INTEREST_ALL = "open_interest_all"  # every symbol's open interest from one call (universe scans)
    FUNDING_ALL = "funding_all"  # every symbol's current funding from a fixed handful of calls (universe scans)
    COIN_MARKETS = "coin_markets"  # CoinGecko coins/markets pages: market cap, FDV, supply
    SOCIAL_METRICS = "social_metrics"  # a coin's social numbers (Galaxy Score, AltRank, sentiment, community)
    TRENDING = "trending"  # the venue's trending coins, most searched first
    COIN_DETAILS = "coin_details"  # one coin's FDV, supply and social numbers from one answer (MSS discovery)


class CapabilityNotSupported(NotRetryableError):
    code = "CAPABILITY_NOT_SUPPORTED"

    def __init__(self, provider: str, capability: Capability) -> None:
        super().__init__(provider, capability.value, f"{provider} does not serve {capability.value}")
        self.capability = capability


class IntervalNotSupported(NotRetryableError):
    code = "INTERVAL_NOT_SUPPORTED"

    def __init__(self, provider: str, endpoint: str, interval: str, supported: tuple[str, ...]) -> None:
        super().__init__(
            provider, endpoint, f"interval {interval} is not served by {provider}; supported: {', '.join(supported)}"
        )


@dataclass(frozen=True, slots=True)
class ProviderDeps:
    """What the composition root hands every provider module's ``build``: configuration, not env."""

    base_urls: Mapping[str, str]
    keys: Mapping[str, str | None]
    ttls: CacheTtls
    cache: Cache
    http_factory: HttpFactory

    def key(self, provider: str) -> str | None:
        return self.keys.get(provider)

    def http(
        self, provider: str, error_hook: ErrorHook | None = None, headers: Mapping[str, str] | None = None
    ) -> ProviderHttp:
        return self.http_factory(provider, self.base_urls[provider], error_hook, headers)

    def keyed_http(
        self, provider: str, error_hook: ErrorHook | None, headers: Callable[[str], Mapping[str, str]]
    ) -> ProviderHttp | None:
        """A keyed venue's HTTP with its key sent as ``headers(key)``; ``None`` without a key (the registry
        then reports the venue as disabled)."""
        key = self.key(provider)
        return self.http(provider, error_hook, headers(key)) if key else None


class HttpFactory(Protocol):
    def __call__(
        self, provider: str, base_url: str, error_hook: ErrorHook | None, headers: Mapping[str, str] | None
    ) -> ProviderHttp: ...


class MarketProvider:
    """Base of every exchange / data-vendor adapter: each method raises until a subclass serves it.

    Subclasses set ``name`` and ``capabilities`` and override exactly the methods they list; a test
    checks that the two agree for every registered provider. ``endpoints`` names the venue endpoint
    behind a capability where it is not the capability's own name (Binance FUNDING: ``premiumIndex``).
    """

    name: str = "unnamed"
    capabilities: frozenset[Capability] = frozenset()
    keyed: bool = False
    endpoints: Mapping[Capability, str] = MappingProxyType({})

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def source(self, capability: Capability) -> str:
        """``venue.endpoint``: how readings and failures name this venue's answer for ``capability``."""
        return f"{self.name}.{self.endpoints.get(capability, capability.value)}"

    def named_endpoints(self) -> frozenset[str]:
        """The endpoint names ``endpoints`` gives (``"a+b"``: a capability answered by two calls, a and b)."""
        return frozenset(part for called in self.endpoints.values() for part in called.split("+"))

    def _unsupported(self, capability: Capability) -> CapabilityNotSupported:
        return CapabilityNotSupported(self.name, capability)

    async def ticker(self, instrument: Instrument) -> Ticker24h:
        raise self._unsupported(Capability.TICKER)

    async def tickers(self) -> Mapping[str, Ticker24h]:
        """Every listed symbol's ticker from one call, by canonical symbol (``BTCUSDT``)."""
        raise self._unsupported(Capability.TICKERS)

    async def instruments(self) -> Mapping[str, SymbolInfo]:
        """The tradable USDT-margined perpetuals the venue lists, by canonical symbol."""
        raise self._unsupported(Capability.INSTRUMENTS)

    async def open_interest_all(self) -> Mapping[str, OpenInterest]:
        """Every listed symbol's current open interest from one call, by canonical symbol."""
        raise self._unsupported(Capability.OPEN_INTEREST_ALL)

    async def funding_all(self) -> Mapping[str, FundingRate]:
        """Every listed symbol's current funding, by canonical symbol, from a fixed number of calls (never
        one per symbol)."""
        raise self._unsupported(Capability.FUNDING_ALL)

    async def coin_markets(self, page: int) -> tuple[CoinMarket, ...]:
        """One page (1-based) of coins by market cap, largest first."""
        raise self._unsupported(Capability.COIN_MARKETS)

    async def social_metrics(self, instrument: Instrument, *, topic: bool = False) -> SocialMetrics:
        """The coin's social numbers, each ``None`` where the venue has none; ``topic`` also asks for its
        social topic's trend where the venue has topics (one more call)."""
        raise self._unsupported(Capability.SOCIAL_METRICS)

    async def trending(self) -> tuple[TrendingCoin, ...]:
        """The venue's trending coins, most searched first."""
        raise self._unsupported(Capability.TRENDING)

    async def coin_details(self, instrument: Instrument) -> CoinDetails:
        """The instrument's coin: market facts (FDV, supplies) and social numbers."""
        raise self._unsupported(Capability.COIN_DETAILS)

    async def candles(self, instrument: Instrument, interval: CandleInterval, limit: int) -> tuple[Candle, ...]:
        """Oldest-first, at most ``limit`` candles ending now."""
        raise self._unsupported(Capability.CANDLES)

    async def funding(self, instrument: Instrument) -> FundingRate:
        """The current (or last settled, when the venue has no predicted rate) funding rate."""
        raise self._unsupported(Capability.FUNDING)

    async def fundings(self, instruments: Sequence[Instrument]) -> Mapping[str, FundingRate]:
        """The funding of ``instruments`` with one call for every rate, by canonical symbol (a symbol the
        venue does not list is absent)."""
        raise self._unsupported(Capability.FUNDINGS)

    async def funding_history(self, instrument: Instrument, limit: int) -> tuple[FundingRate, ...]:
        raise self._unsupported(Capability.FUNDING_HISTORY)

    async def open_interest(self, instrument: Instrument) -> OpenInterest:
        raise self._unsupported(Capability.OPEN_INTEREST)

    async def open_interests(self, instruments: Sequence[Instrument]) -> Mapping[str, OpenInterest]:
        """The open interest of ``instruments`` with the all-symbol part fetched once (Binance: the mark
        price that converts coins to USD), by canonical symbol; a symbol the venue does not list is absent."""
        raise self._unsupported(Capability.OPEN_INTERESTS)

    async def open_interest_history(
        self, instrument: Instrument, interval: CandleInterval, limit: int
    ) -> tuple[OpenInterestPoint, ...]:
        raise self._unsupported(Capability.OPEN_INTEREST_HISTORY)

    async def long_short_ratio(
        self, instrument: Instrument, interval: CandleInterval, limit: int
    ) -> tuple[LongShortPoint, ...]:
        """Share of accounts long (percent), oldest-first."""
        raise self._unsupported(Capability.LONG_SHORT_RATIO)

    async def top_trader_positions(
        self, instrument: Instrument, interval: CandleInterval, limit: int
    ) -> tuple[LongShortPoint, ...]:
        """Share of the top traders' positions that is long (percent), oldest-first."""
        raise self._unsupported(Capability.TOP_TRADER_POSITIONS)

    async def liquidations(self, instrument: Instrument, limit: int) -> tuple[Liquidation, ...]:
        """Recent liquidations, oldest-first, each normalized to the liquidated position's side."""
        raise self._unsupported(Capability.LIQUIDATIONS)

    async def liquidation_totals(self, instrument: Instrument) -> LiquidationTotals:
        """Long vs short liquidated USD over the last 24 h (an aggregate, not individual orders)."""
        raise self._unsupported(Capability.LIQUIDATION_TOTALS)

    async def order_book(self, instrument: Instrument, depth: int) -> OrderBook:
        raise self._unsupported(Capability.ORDER_BOOK)

    async def trades(self, instrument: Instrument, limit: int) -> tuple[Trade, ...]:
        raise self._unsupported(Capability.TRADES)

    async def social(self, instrument: Instrument) -> SocialSentiment:
        raise self._unsupported(Capability.SOCIAL)

    async def fear_greed(self) -> FearGreed:
        """The market-wide Fear & Greed index, latest value."""
        raise self._unsupported(Capability.FEAR_GREED)


class RawClient:
    """Base of a venue's raw client: the venue's HTTP and the cache TTLs its endpoints use."""

    def __init__(self, http: ProviderHttp, ttls: CacheTtls) -> None:
        self._http = http
        self._ttls = ttls


class SocialVenue(MarketProvider):
    """A venue that serves only ``SOCIAL`` (CoinGecko, LunarCrush): a score per instrument from ``score``;
    ``raw`` is the venue's client, for callers that want its other reads."""

    capabilities = frozenset({Capability.SOCIAL})

    def __init__(self, raw: object, score: Callable[[Instrument], Awaitable[SocialSentiment]]) -> None:
        self.raw = raw
        self._score = score

    async def social(self, instrument: Instrument) -> SocialSentiment:
        return await self._score(instrument)


def interval_code(provider: str, endpoint: str, interval: CandleInterval, table: Mapping[CandleInterval, str]) -> str:
    """A venue's spelling of an interval (OKX ``1H``, Bybit ``60``, CoinAPI ``1HRS``), or a typed error."""
    code = table.get(interval)
    if code is None:
        raise IntervalNotSupported(provider, endpoint, interval.value, tuple(i.value for i in table))
    return code
