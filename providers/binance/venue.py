"""Binance USD-M futures on the common :class:`~providers.venue.MarketProvider` interface."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiodataloader import DataLoader

from engine.market import OpenInterest, OrderBook, utc_from_ms
from providers.binance.domain import PROVIDER, BinanceMarket, to_funding
from providers.binance.raw import BinanceFuturesClient, binance_error_hook
from providers.errors import InvalidSymbol, UpstreamError
from providers.venue import Capability, MarketProvider

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine, Mapping

    from engine.market import (
        Candle,
        CandleInterval,
        FundingRate,
        LongShortPoint,
        OpenInterestPoint,
        Ticker24h,
    )
    from providers.binance.models import BinancePremiumIndex
    from providers.symbols import Instrument
    from providers.venue import ProviderDeps

DEFAULT_BASE_URL = "https://fapi.binance.com"
# USD-M market data: 2,400 request weight per minute per IP; our calls weigh 1-10 (klines 200 rows: 2,
# all-symbol tickers: 40). 15/s keeps a busy replica well inside it.
RATE_LIMIT_PER_SECOND = 15.0


def _batched(
    one: Callable[[str], Awaitable[Any]],
    every: Callable[[], Awaitable[Mapping[str, Any]]],
    endpoint: str,
) -> Callable[[list[str]], Coroutine[Any, Any, list[Any]]]:
    """A DataLoader batch function: one symbol → the single-symbol route (a 300-byte answer); several →
    the all-symbols route once."""

    async def load(symbols: list[str]) -> list[Any]:
        if len(symbols) == 1:
            try:
                return [await one(symbols[0])]
            except UpstreamError as exc:
                return [exc]
        try:
            by_symbol = await every()
        except UpstreamError as exc:
            return [exc for _ in symbols]
        return [
            by_symbol.get(s) or InvalidSymbol(PROVIDER, endpoint, f"{s} is not in the all-symbols answer")
            for s in symbols
        ]

    return load


class BinanceProvider(MarketProvider):
    name = PROVIDER
    capabilities = frozenset(
        {
            Capability.TICKER,
            Capability.CANDLES,
            Capability.FUNDING,
            Capability.FUNDING_HISTORY,
            Capability.OPEN_INTEREST,
            Capability.OPEN_INTEREST_HISTORY,
            Capability.LONG_SHORT_RATIO,
            Capability.ORDER_BOOK,
        }
    )

    def __init__(self, market: BinanceMarket) -> None:
        self.market = market

    def per_request(self) -> BinanceRequestScope:
        return BinanceRequestScope(self.market)

    async def _premium(self, symbol: str) -> BinancePremiumIndex:
        return await self.market.raw.premium_index(symbol)

    async def ticker(self, instrument: Instrument) -> Ticker24h:
        return await self.market.ticker(instrument)

    async def candles(self, instrument: Instrument, interval: CandleInterval, limit: int) -> tuple[Candle, ...]:
        return (await self.market.candles(instrument, interval, limit))[-limit:]

    async def funding(self, instrument: Instrument) -> FundingRate:
        premium, interval = await asyncio.gather(
            self._premium(instrument.for_provider(PROVIDER)), self.market.funding_interval_hours(instrument)
        )
        return to_funding(premium, interval)

    async def funding_history(self, instrument: Instrument, limit: int) -> tuple[FundingRate, ...]:
        return (await self.market.funding_history(instrument, limit))[-limit:]

    async def open_interest(self, instrument: Instrument) -> OpenInterest:
        """Coins from ``openInterest``; USD at the mark price of ``premiumIndex`` (fetched together)."""
        symbol = instrument.for_provider(PROVIDER)
        oi, premium = await asyncio.gather(self.market.raw.open_interest(symbol), self._premium(symbol))
        return OpenInterest(
            symbol=symbol, coins=oi.openInterest, usd=oi.openInterest * premium.markPrice, time=utc_from_ms(oi.time)
        )

    async def open_interest_history(
        self, instrument: Instrument, interval: CandleInterval, limit: int
    ) -> tuple[OpenInterestPoint, ...]:
        return (await self.market.open_interest_history(instrument, interval, limit))[-limit:]

    async def long_short_ratio(
        self, instrument: Instrument, interval: CandleInterval, limit: int
    ) -> tuple[LongShortPoint, ...]:
        return await self.market.global_long_short(instrument, interval, limit)

    async def order_book(self, instrument: Instrument, depth: int) -> OrderBook:
        symbol = instrument.for_provider(PROVIDER)
        book = await self.market.raw.depth(symbol, limit=_depth_limit(depth))
        return OrderBook(
            symbol=symbol,
            bids=book.bids[:depth],
            asks=book.asks[:depth],
            time=utc_from_ms(book.E or book.T or 0),
        )


class BinanceRequestScope(BinanceProvider):
    """Binance for one request: concurrent single-symbol ``ticker/24hr`` and ``premiumIndex`` calls of the
    request become one all-symbols call each (aiodataloader). Build it inside the running loop."""

    def __init__(self, market: BinanceMarket) -> None:
        super().__init__(market)
        raw = market.raw

        async def premiums() -> dict[str, BinancePremiumIndex]:
            return {p.symbol: p for p in await raw.premium_indexes()}

        self.ticker_loader: DataLoader[str, Ticker24h] = DataLoader(
            _batched(market.ticker_by_symbol, market.tickers, "ticker24hr.all")
        )
        self.premium_loader: DataLoader[str, BinancePremiumIndex] = DataLoader(
            _batched(raw.premium_index, premiums, "premiumIndex.all")
        )

    def per_request(self) -> BinanceRequestScope:
        return self

    async def _premium(self, symbol: str) -> BinancePremiumIndex:
        premium: BinancePremiumIndex = await self.premium_loader.load(symbol)
        return premium

    async def ticker(self, instrument: Instrument) -> Ticker24h:
        ticker: Ticker24h = await self.ticker_loader.load(instrument.for_provider(PROVIDER))
        return ticker


def _depth_limit(depth: int) -> int:
    """Binance serves depth in fixed sizes only."""
    return next((size for size in (5, 10, 20, 50, 100, 500, 1000) if size >= depth), 1000)


def build(deps: ProviderDeps) -> BinanceProvider:
    client = BinanceFuturesClient(deps.http(PROVIDER, binance_error_hook), deps.ttls)
    return BinanceProvider(BinanceMarket(client, deps.cache))
