"""Bybit USDT linear perpetuals on the common :class:`~providers.venue.MarketProvider` interface: the raw
client's venue models, converted by :mod:`providers.bybit.domain`."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import TYPE_CHECKING

from providers._shared import CEX_MARKET_DATA, PERPETUALS_CORE, ExchangeVenue, PeriodSeries
from providers.bybit import domain
from providers.bybit.domain import KLINE_INTERVALS, PROVIDER, STAT_PERIODS
from providers.bybit.raw import (
    MAX_ACCOUNT_RATIO,
    MAX_BOOK_DEPTH,
    MAX_FUNDING_HISTORY,
    MAX_KLINES,
    MAX_OPEN_INTEREST,
    MAX_TRADES,
    BybitClient,
    bybit_error_hook,
)
from providers.normalize import DEFAULT_FUNDING_INTERVAL_HOURS, clamp_limit
from providers.venue import Capability, MarketProvider, interval_code

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from engine.market import (
        Candle,
        CandleInterval,
        FundingRate,
        LongShortPoint,
        OpenInterest,
        OpenInterestPoint,
        OrderBook,
        SymbolInfo,
        Ticker24h,
        Trade,
    )
    from providers.bybit.models import BybitInstrument
    from providers.symbols import Instrument
    from providers.venue import ProviderDeps

DEFAULT_BASE_URL = "https://api.bybit.com"
# Bybit: "No more than 600 requests are allowed in any 5-second window" per IP, shared by all traffic to
# api.bybit.com (https://bybit-exchange.github.io/docs/v5/rate-limit), i.e. 120/s; breaking it bans the IP
# for 10+ minutes. We design for well under half of it, leaving room for other processes on the host.
RATE_LIMIT_PER_SECOND: float = 50.0
_FUNDING_INTERVAL_SAMPLE = 10
_TICKERS = "market.tickers"
_ALL_TICKERS = "market.tickers.all"
_MAX_INSTRUMENT_PAGES = 5

# batching and universe scans, all from the one all-symbols tickers answer
_UNIVERSE = frozenset(
    {Capability.FUNDINGS, Capability.OPEN_INTERESTS, Capability.OPEN_INTEREST_ALL, Capability.FUNDING_ALL}
)
_OI_HISTORY = PeriodSeries("market.open-interest", STAT_PERIODS, MAX_OPEN_INTEREST)
_ACCOUNT_RATIO = PeriodSeries("market.account-ratio", STAT_PERIODS, MAX_ACCOUNT_RATIO)


class BybitProvider(ExchangeVenue["BybitClient"]):
    """Bybit USDT linear perpetuals over the keyless v5 REST API. Ticker, funding and open interest share
    one cached tickers answer."""

    name = PROVIDER
    capabilities = PERPETUALS_CORE | CEX_MARKET_DATA | _UNIVERSE
    endpoints = MappingProxyType({Capability.OPEN_INTEREST_ALL: _ALL_TICKERS, Capability.FUNDING_ALL: _ALL_TICKERS})

    async def ticker(self, instrument: Instrument) -> Ticker24h:
        answer = await self.raw.tickers(instrument.for_provider(PROVIDER))
        return self._convert(_TICKERS, answer, domain.to_ticker)

    async def instruments(self) -> Mapping[str, SymbolInfo]:
        """Every trading USDT perpetual, following ``nextPageCursor`` (bounded: a page holds 1,000)."""
        rows: list[BybitInstrument] = []
        cursor = ""
        for _ in range(_MAX_INSTRUMENT_PAGES):
            page = await self.raw.instruments_info(cursor)
            rows.extend(page.rows)
            cursor = page.next_cursor
            if not cursor:
                break
        return domain.to_listing(tuple(rows))

    async def tickers(self) -> Mapping[str, Ticker24h]:
        """Every USDT perpetual's ticker from one ``tickers`` call without a symbol."""
        answers = await self.raw.all_tickers()
        return self._convert(_ALL_TICKERS, answers, domain.to_tickers)

    async def fundings(self, instruments: Sequence[Instrument]) -> Mapping[str, FundingRate]:
        """Rates from the one all-symbols ``tickers`` call; a row without ``fundingIntervalHour`` takes the
        single-symbol path (its interval from the funding history)."""
        by_symbol = {a.ticker.symbol: a for a in await self.raw.all_tickers()}
        rates: dict[str, FundingRate] = {}
        for instrument in instruments:
            answer = by_symbol.get(instrument.for_provider(PROVIDER))
            if answer is None:
                continue
            interval = answer.ticker.fundingIntervalHour
            rates[instrument.canonical] = (
                self._convert(_ALL_TICKERS, answer, domain.to_funding, interval)
                if interval is not None
                else await self.funding(instrument)
            )
        return rates

    async def open_interests(self, instruments: Sequence[Instrument]) -> Mapping[str, OpenInterest]:
        """Open interest from the same all-symbols ``tickers`` answer."""
        by_symbol = {a.ticker.symbol: a for a in await self.raw.all_tickers()}
        return {
            i.canonical: self._convert(_ALL_TICKERS, answer, domain.to_open_interest)
            for i in instruments
            if (answer := by_symbol.get(i.for_provider(PROVIDER))) is not None
        }

    async def open_interest_all(self) -> Mapping[str, OpenInterest]:
        """Every USDT perpetual's open interest (``openInterestValue`` USD) from the one all-symbols ``tickers``
        answer that also serves :meth:`tickers` and :meth:`funding_all`."""
        answers = await self.raw.all_tickers()
        return {
            a.ticker.symbol: self._convert(_ALL_TICKERS, a, domain.to_open_interest)
            for a in answers
            if a.ticker.symbol.endswith("USDT") and a.ticker.openInterest is not None
        }

    async def funding_all(self) -> Mapping[str, FundingRate]:
        """Every USDT perpetual's rate from the same answer; a row without ``fundingIntervalHour`` is read at
        Bybit's default interval, with a note saying it was assumed (no per-symbol history call)."""
        rates: dict[str, FundingRate] = {}
        for answer in await self.raw.all_tickers():
            row = answer.ticker
            if not row.symbol.endswith("USDT") or row.fundingRate is None:
                continue
            rate = self._convert(_ALL_TICKERS, answer, domain.to_funding, DEFAULT_FUNDING_INTERVAL_HOURS)
            if row.fundingIntervalHour is None:
                note = f"bybit.{_ALL_TICKERS}: no fundingIntervalHour (assumed {DEFAULT_FUNDING_INTERVAL_HOURS:g}h)"
                rate = dataclasses.replace(rate, interval_note=note)
            rates[row.symbol] = rate
        return rates

    async def funding(self, instrument: Instrument) -> FundingRate:
        """Rate from the ticker; interval from ``fundingIntervalHour``, else the funding history's spacing."""
        answer = await self.raw.tickers(instrument.for_provider(PROVIDER))
        interval = answer.ticker.fundingIntervalHour
        if interval is None:
            history = await self.funding_history(instrument, _FUNDING_INTERVAL_SAMPLE)
            interval = history[-1].interval_hours if history else DEFAULT_FUNDING_INTERVAL_HOURS
        return self._convert(_TICKERS, answer, domain.to_funding, interval)

    async def open_interest(self, instrument: Instrument) -> OpenInterest:
        answer = await self.raw.tickers(instrument.for_provider(PROVIDER))
        return self._convert(_TICKERS, answer, domain.to_open_interest)

    async def candles(self, instrument: Instrument, interval: CandleInterval, limit: int) -> tuple[Candle, ...]:
        code = interval_code(PROVIDER, "market.kline", interval, KLINE_INTERVALS)
        rows = await self.raw.kline(instrument.for_provider(PROVIDER), code, clamp_limit(limit, MAX_KLINES))
        return self._convert("market.kline", rows, domain.to_candles)

    async def funding_history(self, instrument: Instrument, limit: int) -> tuple[FundingRate, ...]:
        rows = await self.raw.funding_history(
            instrument.for_provider(PROVIDER), clamp_limit(limit, MAX_FUNDING_HISTORY)
        )
        return self._convert("market.funding-history", rows, domain.to_funding_history)

    async def open_interest_history(
        self, instrument: Instrument, interval: CandleInterval, limit: int
    ) -> tuple[OpenInterestPoint, ...]:
        return await self._period_series(
            _OI_HISTORY, self.raw.open_interest, domain.to_open_interest_history, (instrument, interval, limit)
        )

    async def long_short_ratio(
        self, instrument: Instrument, interval: CandleInterval, limit: int
    ) -> tuple[LongShortPoint, ...]:
        return await self._period_series(
            _ACCOUNT_RATIO, self.raw.account_ratio, domain.to_long_short, (instrument, interval, limit)
        )

    async def order_book(self, instrument: Instrument, depth: int) -> OrderBook:
        book = await self.raw.orderbook(instrument.for_provider(PROVIDER), clamp_limit(depth, MAX_BOOK_DEPTH))
        return self._convert("market.orderbook", book, domain.to_order_book)

    async def trades(self, instrument: Instrument, limit: int) -> tuple[Trade, ...]:
        rows = await self.raw.recent_trade(instrument.for_provider(PROVIDER), clamp_limit(limit, MAX_TRADES))
        return self._convert("market.recent-trade", rows, domain.to_trades)


def build(deps: ProviderDeps) -> MarketProvider:
    """The composition root's entry point: one ``ProviderHttp`` with the Bybit error hook."""
    return BybitProvider(BybitClient(deps.http(PROVIDER, bybit_error_hook), deps.ttls))
