"""Per-request batching: one DataLoader per venue and per batchable input, typed end to end.

Built inside the running event loop for each request (aiodataloader binds futures to the loop), never
at import time. A venue that answers every symbol in one call declares it (``Capability.TICKERS``,
``FUNDINGS``, ``OPEN_INTERESTS``): then a request's concurrent single-symbol calls become one
all-symbol call, while a lone symbol still takes the small single-symbol route. Venues without the
capability get a loader too (identical calls within the request are made once). The signal gateway
and the market view share the loaders of a request.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, TypeVar

from aiodataloader import DataLoader

from providers.errors import InvalidSymbol, UpstreamError
from providers.venue import Capability, MarketProvider

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence

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
    from providers.registry import Registry
    from providers.symbols import Instrument

V = TypeVar("V")


def _batched(
    venue: MarketProvider,
    one: Callable[[Instrument], Awaitable[V]],
    every: Callable[[list[Instrument]], Awaitable[Mapping[str, V]]] | None,
    capability: Capability,
) -> Callable[[list[Instrument]], Coroutine[Any, Any, list[Any]]]:
    """A DataLoader batch function: one instrument (or no batch form) → the single-symbol route; several
    → the all-symbols route once. Each key gets its value or its own :class:`UpstreamError`."""

    async def attempt(instrument: Instrument) -> V | UpstreamError:
        try:
            return await one(instrument)
        except UpstreamError as exc:
            return exc

    async def load(instruments: list[Instrument]) -> list[Any]:
        if len(instruments) == 1 or every is None:
            return list(await asyncio.gather(*(attempt(i) for i in instruments)))
        try:
            by_symbol = await every(instruments)
        except UpstreamError as exc:
            return [exc for _ in instruments]
        endpoint = venue.source(capability).partition(".")[2]
        return [
            by_symbol.get(i.canonical)
            or InvalidSymbol(venue.name, endpoint, f"{i.canonical} is not in the all-symbols answer")
            for i in instruments
        ]

    return load


class Loaders:
    """This request's loaders; create one instance per GraphQL operation (or per subscription event)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._tickers: dict[str, DataLoader[Instrument, Ticker24h]] = {}
        self._fundings: dict[str, DataLoader[Instrument, FundingRate]] = {}
        self._open_interests: dict[str, DataLoader[Instrument, OpenInterest]] = {}
        self._views: dict[str, MarketProvider] = {}

    def ticker(self, venue: MarketProvider) -> DataLoader[Instrument, Ticker24h]:
        """``venue``'s 24 h tickers for this request (batched through ``tickers()`` when it has TICKERS)."""
        loader = self._tickers.get(venue.name)
        if loader is None:

            async def every(_: Sequence[Instrument]) -> Mapping[str, Ticker24h]:
                return await venue.tickers()

            batch = every if venue.supports(Capability.TICKERS) else None
            loader = DataLoader(_batched(venue, venue.ticker, batch, Capability.TICKERS))
            self._tickers[venue.name] = loader
        return loader

    def funding(self, venue: MarketProvider) -> DataLoader[Instrument, FundingRate]:
        """``venue``'s current funding for this request (batched through ``fundings()`` with FUNDINGS)."""
        loader = self._fundings.get(venue.name)
        if loader is None:
            batch = venue.fundings if venue.supports(Capability.FUNDINGS) else None
            loader = DataLoader(_batched(venue, venue.funding, batch, Capability.FUNDINGS))
            self._fundings[venue.name] = loader
        return loader

    def open_interest(self, venue: MarketProvider) -> DataLoader[Instrument, OpenInterest]:
        """``venue``'s current open interest for this request (batched through ``open_interests()``)."""
        loader = self._open_interests.get(venue.name)
        if loader is None:
            batch = venue.open_interests if venue.supports(Capability.OPEN_INTERESTS) else None
            loader = DataLoader(_batched(venue, venue.open_interest, batch, Capability.OPEN_INTERESTS))
            self._open_interests[venue.name] = loader
        return loader

    def venue(self, provider: MarketProvider) -> MarketProvider:
        """``provider`` for this request: its ticker and funding go through this request's loaders."""
        view = self._views.get(provider.name)
        if view is None:
            view = self._views[provider.name] = RequestVenue(provider, self)
        return view


class RequestVenue(MarketProvider):
    """A venue seen through one request's loaders: the same name and capabilities; ``ticker``, ``funding``
    and ``open_interest`` batched per request, every other read passed straight to the venue."""

    def __init__(self, venue: MarketProvider, loaders: Loaders) -> None:
        self._venue = venue
        self._loaders = loaders
        self.name = venue.name
        self.capabilities = venue.capabilities
        self.keyed = venue.keyed
        self.endpoints = venue.endpoints

    async def ticker(self, instrument: Instrument) -> Ticker24h:
        return await self._loaders.ticker(self._venue).load(instrument)

    async def funding(self, instrument: Instrument) -> FundingRate:
        return await self._loaders.funding(self._venue).load(instrument)

    async def tickers(self) -> Mapping[str, Ticker24h]:
        return await self._venue.tickers()

    async def fundings(self, instruments: Sequence[Instrument]) -> Mapping[str, FundingRate]:
        return await self._venue.fundings(instruments)

    async def instruments(self) -> Mapping[str, SymbolInfo]:
        return await self._venue.instruments()

    async def candles(self, instrument: Instrument, interval: CandleInterval, limit: int) -> tuple[Candle, ...]:
        return await self._venue.candles(instrument, interval, limit)

    async def funding_history(self, instrument: Instrument, limit: int) -> tuple[FundingRate, ...]:
        return await self._venue.funding_history(instrument, limit)

    async def open_interest(self, instrument: Instrument) -> OpenInterest:
        return await self._loaders.open_interest(self._venue).load(instrument)

    async def open_interests(self, instruments: Sequence[Instrument]) -> Mapping[str, OpenInterest]:
        return await self._venue.open_interests(instruments)

    async def open_interest_history(
        self, instrument: Instrument, interval: CandleInterval, limit: int
    ) -> tuple[OpenInterestPoint, ...]:
        return await self._venue.open_interest_history(instrument, interval, limit)

    async def long_short_ratio(
        self, instrument: Instrument, interval: CandleInterval, limit: int
    ) -> tuple[LongShortPoint, ...]:
        return await self._venue.long_short_ratio(instrument, interval, limit)

    async def top_trader_positions(
        self, instrument: Instrument, interval: CandleInterval, limit: int
    ) -> tuple[LongShortPoint, ...]:
        return await self._venue.top_trader_positions(instrument, interval, limit)

    async def liquidations(self, instrument: Instrument, limit: int) -> tuple[Liquidation, ...]:
        return await self._venue.liquidations(instrument, limit)

    async def liquidation_totals(self, instrument: Instrument) -> LiquidationTotals:
        return await self._venue.liquidation_totals(instrument)

    async def order_book(self, instrument: Instrument, depth: int) -> OrderBook:
        return await self._venue.order_book(instrument, depth)

    async def trades(self, instrument: Instrument, limit: int) -> tuple[Trade, ...]:
        return await self._venue.trades(instrument, limit)

    async def social(self, instrument: Instrument) -> SocialSentiment:
        return await self._venue.social(instrument)

    async def fear_greed(self) -> FearGreed:
        return await self._venue.fear_greed()
