"""Binance USD-M futures on the common :class:`~providers.venue.MarketProvider` interface."""

from __future__ import annotations

import asyncio
from types import MappingProxyType
from typing import TYPE_CHECKING

from engine.market import OpenInterest, OrderBook, Trade, utc_from_ms
from providers.binance.domain import PROVIDER, BinanceMarket, to_funding
from providers.binance.raw import BinanceFuturesClient, binance_error_hook
from providers.errors import UpstreamError
from providers.normalize import DEFAULT_FUNDING_INTERVAL_HOURS
from providers.venue import Capability, MarketProvider

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from engine.market import (
        Candle,
        CandleInterval,
        FundingRate,
        LongShortPoint,
        OpenInterestPoint,
        SymbolInfo,
        Ticker24h,
    )
    from providers.binance.models import BinanceAggTrade, BinanceOpenInterest, BinancePremiumIndex
    from providers.symbols import Instrument
    from providers.venue import ProviderDeps

DEFAULT_BASE_URL = "https://fapi.binance.com"
# USD-M market data: 2,400 request weight per minute per IP; our calls weigh 1-10 (klines 200 rows: 2,
# all-symbol tickers: 40). 15/s keeps a busy replica well inside it.
RATE_LIMIT_PER_SECOND = 15.0


class BinanceProvider(MarketProvider):
    """Binance USD-M through the normalized interface. ``ticker/24hr`` and ``premiumIndex`` also answer
    every symbol at once (TICKERS, FUNDINGS), so a request's concurrent symbols cost one call each."""

    name = PROVIDER
    capabilities = frozenset(
        {
            Capability.TICKER,
            Capability.TICKERS,
            Capability.CANDLES,
            Capability.FUNDING,
            Capability.FUNDINGS,
            Capability.FUNDING_HISTORY,
            Capability.OPEN_INTEREST,
            Capability.OPEN_INTERESTS,
            Capability.OPEN_INTEREST_HISTORY,
            Capability.LONG_SHORT_RATIO,
            Capability.TOP_TRADER_POSITIONS,
            Capability.ORDER_BOOK,
            Capability.TRADES,
            Capability.INSTRUMENTS,
            Capability.FUNDING_ALL,
        }
    )
    endpoints = MappingProxyType(
        {
            Capability.TICKER: "ticker24hr",
            Capability.TICKERS: "ticker24hr.all",
            Capability.CANDLES: "klines",
            Capability.FUNDING: "premiumIndex",
            Capability.FUNDINGS: "premiumIndex.all",
            Capability.FUNDING_HISTORY: "fundingRate",
            Capability.OPEN_INTEREST: "openInterest",
            Capability.OPEN_INTERESTS: "openInterest",
            Capability.OPEN_INTEREST_HISTORY: "openInterestHist",
            Capability.LONG_SHORT_RATIO: "globalLongShortAccountRatio",
            Capability.TOP_TRADER_POSITIONS: "topLongShortPositionRatio",
            Capability.ORDER_BOOK: "depth",
            Capability.TRADES: "aggTrades",
            Capability.INSTRUMENTS: "exchangeInfo",
            Capability.FUNDING_ALL: "premiumIndex.all+fundingInfo",
        }
    )

    def __init__(self, market: BinanceMarket) -> None:
        self.market = market

    async def _premium(self, symbol: str) -> BinancePremiumIndex:
        return await self.market.raw.premium_index(symbol)

    async def _interval(self, instrument: Instrument) -> tuple[float, str | None]:
        """The funding interval from the funding history's spacing (``premiumIndex`` does not carry it);
        Binance's default, with a note saying so, when that call fails."""
        try:
            return await self.market.funding_interval_hours(instrument), None
        except UpstreamError as exc:
            hours = DEFAULT_FUNDING_INTERVAL_HOURS
            return hours, f"{exc.describe()} (funding interval assumed {hours:g}h)"

    async def _intervals(self, instruments: Sequence[Instrument]) -> list[tuple[float, str | None]]:
        try:
            adjusted = await self.market.raw.funding_info()
        except UpstreamError:
            return list(await asyncio.gather(*(self._interval(i) for i in instruments)))
        hours = {row.symbol: float(row.fundingIntervalHours) for row in adjusted}
        return [(hours.get(i.for_provider(PROVIDER), DEFAULT_FUNDING_INTERVAL_HOURS), None) for i in instruments]

    async def ticker(self, instrument: Instrument) -> Ticker24h:
        return await self.market.ticker(instrument)

    async def tickers(self) -> Mapping[str, Ticker24h]:
        return await self.market.tickers()

    async def instruments(self) -> Mapping[str, SymbolInfo]:
        return await self.market.listed()

    async def candles(self, instrument: Instrument, interval: CandleInterval, limit: int) -> tuple[Candle, ...]:
        return (await self.market.candles(instrument, interval, limit))[-limit:]

    async def funding(self, instrument: Instrument) -> FundingRate:
        premium, (interval, note) = await asyncio.gather(
            self._premium(instrument.for_provider(PROVIDER)), self._interval(instrument)
        )
        return to_funding(premium, interval, note)

    async def fundings(self, instruments: Sequence[Instrument]) -> Mapping[str, FundingRate]:
        """Every rate from one ``premiumIndex`` call; the intervals from one ``fundingInfo`` call (the adjusted
        symbols; the others settle every 8 h, Binance's documented default), in the same round: two calls
        for any number of symbols. When ``fundingInfo`` fails, each symbol's interval comes from its (cached)
        history as for a single symbol; an unlisted symbol is dropped."""
        rows, intervals = await asyncio.gather(self.market.raw.premium_indexes(), self._intervals(instruments))
        premiums = {p.symbol: p for p in rows}
        return {
            i.canonical: to_funding(premiums[i.for_provider(PROVIDER)], hours, note)
            for i, (hours, note) in zip(instruments, intervals, strict=True)
            if i.for_provider(PROVIDER) in premiums
        }

    async def funding_all(self) -> Mapping[str, FundingRate]:
        """Every USDT perpetual's rate from one ``premiumIndex`` call; intervals from one ``fundingInfo`` call,
        which lists the adjusted symbols only (the others settle every 8 h, Binance's documented default)."""
        premiums, adjusted = await asyncio.gather(self.market.raw.premium_indexes(), self.market.raw.funding_info())
        hours = {row.symbol: float(row.fundingIntervalHours) for row in adjusted}
        return {
            p.symbol: to_funding(p, hours.get(p.symbol, DEFAULT_FUNDING_INTERVAL_HOURS))
            for p in premiums
            if p.lastFundingRate is not None and p.nextFundingTime and p.symbol.endswith("USDT")
        }

    async def funding_history(self, instrument: Instrument, limit: int) -> tuple[FundingRate, ...]:
        return (await self.market.funding_history(instrument, limit))[-limit:]

    async def open_interest(self, instrument: Instrument) -> OpenInterest:
        """Coins from ``openInterest``; USD at the mark price of ``premiumIndex`` (fetched together)."""
        symbol = instrument.for_provider(PROVIDER)
        oi, premium = await asyncio.gather(self.market.raw.open_interest(symbol), self._premium(symbol))
        return _open_interest(oi, premium)

    async def open_interests(self, instruments: Sequence[Instrument]) -> Mapping[str, OpenInterest]:
        """Each symbol's ``openInterest`` (no all-symbols form), priced by one all-symbols ``premiumIndex``
        asked at the same time: one round trip, not two (a symbol Binance does not list fails alone)."""
        symbols = [i.for_provider(PROVIDER) for i in instruments]
        premium_task = asyncio.ensure_future(self.market.raw.premium_indexes())
        try:
            rows = await asyncio.gather(
                *(self.market.raw.open_interest(symbol) for symbol in symbols), return_exceptions=True
            )
            premiums = {p.symbol: p for p in await premium_task}
        finally:
            premium_task.cancel()  # only when this call was cancelled first (awaited inline, as it was before)
        answers: dict[str, OpenInterest] = {}
        for instrument, symbol, row in zip(instruments, symbols, rows, strict=True):
            if symbol not in premiums or isinstance(row, UpstreamError):
                continue  # that symbol alone fails (the loader reports it as not in the answer)
            if isinstance(row, BaseException):
                raise row
            answers[instrument.canonical] = _open_interest(row, premiums[symbol])
        return answers

    async def open_interest_history(
        self, instrument: Instrument, interval: CandleInterval, limit: int
    ) -> tuple[OpenInterestPoint, ...]:
        return (await self.market.open_interest_history(instrument, interval, limit))[-limit:]

    async def long_short_ratio(
        self, instrument: Instrument, interval: CandleInterval, limit: int
    ) -> tuple[LongShortPoint, ...]:
        return await self.market.global_long_short(instrument, interval, limit)

    async def top_trader_positions(
        self, instrument: Instrument, interval: CandleInterval, limit: int
    ) -> tuple[LongShortPoint, ...]:
        return await self.market.top_trader_positions(instrument, interval, limit)

    async def trades(self, instrument: Instrument, limit: int) -> tuple[Trade, ...]:
        """The latest ``limit`` (at most 1000) aggregate trades, oldest first; the taker's side from ``m``."""
        symbol = instrument.for_provider(PROVIDER)
        rows = await self.market.raw.agg_trades(symbol, min(max(limit, 1), 1000))
        return tuple(_trade(instrument.canonical, r) for r in rows)

    async def order_book(self, instrument: Instrument, depth: int) -> OrderBook:
        symbol = instrument.for_provider(PROVIDER)
        book = await self.market.raw.depth(symbol, limit=_depth_limit(depth))
        return OrderBook(
            symbol=symbol,
            bids=book.bids[:depth],
            asks=book.asks[:depth],
            time=utc_from_ms(book.E or book.T or 0),
        )


def _trade(symbol: str, row: BinanceAggTrade) -> Trade:
    return Trade(PROVIDER, symbol, "SELL" if row.m else "BUY", row.p, row.q, utc_from_ms(row.T))


def _open_interest(oi: BinanceOpenInterest, premium: BinancePremiumIndex) -> OpenInterest:
    """Coins from ``openInterest``; USD at the mark price of ``premiumIndex``."""
    return OpenInterest(
        symbol=oi.symbol, coins=oi.openInterest, usd=oi.openInterest * premium.markPrice, time=utc_from_ms(oi.time)
    )


def _depth_limit(depth: int) -> int:
    """Binance serves depth in fixed sizes only."""
    return next((size for size in (5, 10, 20, 50, 100, 500, 1000) if size >= depth), 1000)


def build(deps: ProviderDeps) -> BinanceProvider:
    client = BinanceFuturesClient(deps.http(PROVIDER, binance_error_hook), deps.ttls)
    return BinanceProvider(BinanceMarket(client, deps.cache))
