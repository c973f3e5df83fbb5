"""OKX USDT-margined perpetual swaps (``BTC-USDT-SWAP``) on the common :class:`~providers.venue.MarketProvider`
interface: the raw client's venue models, converted by :mod:`providers.okx.domain`."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import TYPE_CHECKING

from providers._shared import CEX_MARKET_DATA, PERPETUALS_CORE, ExchangeVenue, PeriodSeries
from providers.normalize import clamp_limit
from providers.okx import domain
from providers.okx.domain import CANDLE_BARS, PROVIDER, STAT_PERIODS
from providers.okx.raw import (
    MAX_BOOK_DEPTH,
    MAX_CANDLES,
    MAX_FUNDING_HISTORY,
    MAX_LIQUIDATIONS,
    MAX_STAT_ROWS,
    MAX_TRADES,
    OkxClient,
    okx_error_hook,
)
from providers.venue import Capability, MarketProvider, interval_code

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from engine.market import (
        Candle,
        CandleInterval,
        FundingRate,
        Liquidation,
        LongShortPoint,
        OpenInterest,
        OpenInterestPoint,
        OrderBook,
        SymbolInfo,
        Ticker24h,
        Trade,
    )
    from providers.symbols import Instrument
    from providers.venue import ProviderDeps

DEFAULT_BASE_URL = "https://www.okx.com"
# OKX documents its public limits per endpoint and IP: 20 requests / 2 s for market data and public data
# (candles, ticker, funding-rate, open-interest, instruments, books, trades), 10 / 2 s for contract OI
# history and 5 / 2 s for the other trading-statistics (rubik) endpoints
# (https://www.okx.com/docs-v5/en/#overview-rate-limits and each endpoint's "Rate Limit" line).
# One budget for the whole provider, below the 10/s of a single market-data endpoint, so even a burst
# on one endpoint stays legal; rubik answers are cached for a minute (ttls.ratios / open_interest).
RATE_LIMIT_PER_SECOND: float = 8.0

_OI_HISTORY = PeriodSeries("rubik.open-interest-history", STAT_PERIODS, MAX_STAT_ROWS)
_ACCOUNT_RATIO = PeriodSeries("rubik.long-short-account-ratio-contract", STAT_PERIODS, MAX_STAT_ROWS)


class OkxProvider(ExchangeVenue["OkxClient"]):
    """OKX USDT-margined perpetual swaps over the keyless v5 REST API."""

    name = PROVIDER
    capabilities = (
        PERPETUALS_CORE
        | CEX_MARKET_DATA
        | {Capability.LIQUIDATIONS, Capability.OPEN_INTEREST_ALL, Capability.OPEN_INTERESTS, Capability.FUNDINGS}
    )
    endpoints = MappingProxyType(
        {
            Capability.FUNDINGS: "public.funding-rate.all",
            Capability.OPEN_INTEREST_ALL: "public.open-interest.all",
            Capability.OPEN_INTERESTS: "public.open-interest.all",
        }
    )

    async def contract_value(self, instrument: Instrument) -> float:
        """Coins per contract (``ctVal``), cached with the instruments answer (``ttls.exchange_info``)."""
        rows = await self.raw.instruments(instrument.for_provider(PROVIDER))
        return self._convert("public.instruments", rows, domain.contract_value)

    async def contract_values(self) -> dict[str, float]:
        """Every linear swap's ``ctVal`` in one call (the stream parsers need them synchronously)."""
        rows = await self.raw.instruments()
        return self._convert("public.instruments.all", rows, domain.contract_values)

    async def instruments(self) -> Mapping[str, SymbolInfo]:
        """Live USDT-margined linear swaps (the same cached answer as :meth:`contract_values`)."""
        rows = await self.raw.instruments()
        return self._convert("public.instruments.all", rows, domain.to_listing)

    async def mark_price(self, instrument: Instrument) -> float:
        return await self.raw.mark_price(instrument.for_provider(PROVIDER))

    async def ticker(self, instrument: Instrument) -> Ticker24h:
        row = await self.raw.ticker(instrument.for_provider(PROVIDER))
        return self._convert("market.ticker", row, domain.to_ticker)

    async def tickers(self) -> Mapping[str, Ticker24h]:
        """Every USDT-margined swap's ticker from one ``market/tickers?instType=SWAP`` call."""
        rows = await self.raw.tickers()
        return self._convert("market.tickers", rows, domain.to_tickers)

    async def candles(self, instrument: Instrument, interval: CandleInterval, limit: int) -> tuple[Candle, ...]:
        bar = interval_code(PROVIDER, "market.candles", interval, CANDLE_BARS)
        rows = await self.raw.candles(instrument.for_provider(PROVIDER), bar, clamp_limit(limit, MAX_CANDLES))
        return self._convert("market.candles", rows, domain.to_candles)

    async def funding(self, instrument: Instrument) -> FundingRate:
        row = await self.raw.funding_rate(instrument.for_provider(PROVIDER))
        return self._convert("public.funding-rate", row, domain.to_funding)

    async def fundings(self, instruments: Sequence[Instrument]) -> Mapping[str, FundingRate]:
        """Several symbols' funding from one ``public/funding-rate?instId=ANY`` call (a request's concurrent
        symbols: one call, not one each); a symbol OKX does not list is absent."""
        wanted = {i.for_provider(PROVIDER): i.canonical for i in instruments}
        rows = [r for r in await self.raw.funding_rates() if r.instId in wanted]
        return {wanted[r.instId]: self._convert("public.funding-rate.all", r, domain.to_funding) for r in rows}

    async def funding_history(self, instrument: Instrument, limit: int) -> tuple[FundingRate, ...]:
        rows = await self.raw.funding_rate_history(
            instrument.for_provider(PROVIDER), clamp_limit(limit, MAX_FUNDING_HISTORY)
        )
        return self._convert("public.funding-rate-history", rows, domain.to_funding_history)

    async def open_interest(self, instrument: Instrument) -> OpenInterest:
        """Coins from ``oiCcy``; USD from ``oiUsd``, or ``oiCcy × mark price`` when OKX omits it."""
        row = await self.raw.open_interest(instrument.for_provider(PROVIDER))
        oi = self._convert("public.open-interest", row, domain.to_open_interest)
        if oi.usd is None:
            oi = dataclasses.replace(oi, usd=oi.coins * await self.mark_price(instrument))
        return oi

    async def open_interest_all(self) -> Mapping[str, OpenInterest]:
        """Every USDT swap's open interest from one ``public/open-interest?instType=SWAP`` call; where OKX omits
        ``oiUsd``, USD is ``oiCcy × last`` from the all-swaps tickers (one more call, only then)."""
        rows = await self.raw.open_interests()
        answer = self._convert("public.open-interest.all", rows, domain.to_open_interests)
        if all(oi.usd is not None for oi in answer.values()):
            return answer
        tickers = await self.tickers()
        return {
            symbol: oi
            if oi.usd is not None or symbol not in tickers
            else dataclasses.replace(oi, usd=oi.coins * tickers[symbol].last_price)
            for symbol, oi in answer.items()
        }

    async def open_interests(self, instruments: Sequence[Instrument]) -> Mapping[str, OpenInterest]:
        """Several symbols' open interest from the one all-swaps call (a request's concurrent symbols: one
        call, not one each); a symbol OKX does not list is absent."""
        every = await self.open_interest_all()
        return {i.canonical: every[i.canonical] for i in instruments if i.canonical in every}

    async def open_interest_history(
        self, instrument: Instrument, interval: CandleInterval, limit: int
    ) -> tuple[OpenInterestPoint, ...]:
        return await self._period_series(
            _OI_HISTORY, self.raw.open_interest_history, domain.to_open_interest_history, (instrument, interval, limit)
        )

    async def long_short_ratio(
        self, instrument: Instrument, interval: CandleInterval, limit: int
    ) -> tuple[LongShortPoint, ...]:
        """Accounts net long vs net short on this contract (not the per-currency aggregate)."""
        return await self._period_series(
            _ACCOUNT_RATIO,
            self.raw.long_short_account_ratio_contract,
            domain.to_long_short,
            (instrument, interval, limit),
        )

    async def liquidations(self, instrument: Instrument, limit: int) -> tuple[Liquidation, ...]:
        inst_id = instrument.for_provider(PROVIDER)
        ctval = await self.contract_value(instrument)
        items = await self.raw.liquidation_orders(
            f"{instrument.base}-{instrument.quote}", clamp_limit(limit, MAX_LIQUIDATIONS)
        )
        rows = self._convert("public.liquidation-orders", items, domain.to_liquidations, ctval, inst_id)
        return rows[-limit:] if limit > 0 else ()

    async def order_book(self, instrument: Instrument, depth: int) -> OrderBook:
        ctval = await self.contract_value(instrument)
        book = await self.raw.books(instrument.for_provider(PROVIDER), clamp_limit(depth, MAX_BOOK_DEPTH))
        return self._convert("market.books", book, domain.to_order_book, ctval, instrument.canonical)

    async def trades(self, instrument: Instrument, limit: int) -> tuple[Trade, ...]:
        ctval = await self.contract_value(instrument)
        rows = await self.raw.trades(instrument.for_provider(PROVIDER), clamp_limit(limit, MAX_TRADES))
        return self._convert("market.trades", rows, domain.to_trades, ctval)


def build(deps: ProviderDeps) -> MarketProvider:
    """The composition root's entry point: one ``ProviderHttp`` with the OKX error hook."""
    return OkxProvider(OkxClient(deps.http(PROVIDER, okx_error_hook), deps.ttls))
