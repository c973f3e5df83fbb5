"""Gathers one :class:`MarketSnapshot` per symbol: every upstream call in one parallel round.

Each input has an ordered list of sources (keyed CoinGlass first when configured, keyless Binance
next). A failing source falls through to the next; the reading names the source that answered and
the ones that failed, so the engine's data-quality report can say exactly what is missing. The only
sequential dependency, "does this symbol exist", is checked in the same round (``exchangeInfo`` is
fetched alongside the data and consulted afterwards).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from engine.backtest import CANDLE_WINDOW
from engine.inputs import MarketSnapshot, Reading
from engine.market import CandleInterval, split_candles, utc_from_ms
from providers.binance.domain import to_funding
from providers.errors import InvalidSymbol, MalformedPayload, UpstreamError
from providers.normalize import DEFAULT_FUNDING_INTERVAL_HOURS
from providers.venue import Capability

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from datetime import datetime

    from engine.market import (
        Candle,
        FearGreed,
        FundingRate,
        LiquidationTotals,
        LongShortPoint,
        OpenInterestPoint,
        SocialSentiment,
        SymbolInfo,
        Timeframe,
    )
    from providers.alternative_me.domain import AlternativeMeClient
    from providers.binance.domain import BinanceMarket
    from providers.coingecko.domain import CoinGeckoClient
    from providers.coinglass.domain import CoinGlassClient
    from providers.registry import Registry
    from providers.symbols import Instrument
    from providers.venue import MarketProvider
    from resolvers.liquidation_window import LiquidationWindow
    from resolvers.loaders import Loaders

T = TypeVar("T")

# The closed bars momentum scores live: the backtest's window, so both read the same bars. One more is
# asked for because the venue's last bar is usually still forming and is split off (see ``_candles``).
CANDLE_LIMIT = CANDLE_WINDOW + 1
# Venues asked, in order, when the primary sources (Binance keyless, CoinGlass keyed) fail.
FALLBACK_ORDER = ("bybit", "okx", "hyperliquid", "coinapi")
PRIMARY_SOURCES = frozenset({"binance", "coinglass", "coingecko"})
LIQUIDATIONS_NEED_KEY = "no keyless liquidation source yet; set COINGLASS_API_KEY to enable this factor"


class SymbolNotListed(Exception):
    """The venue does not list the symbol as a tradable USDT perpetual."""

    def __init__(self, symbol: str) -> None:
        super().__init__(f"{symbol} is not a tradable USDT perpetual on Binance USD-M futures")
        self.symbol = symbol


@dataclass(frozen=True, slots=True)
class Providers:
    """The provider clients the gateway may use; keyed ones are ``None`` when their key is unset."""

    binance: BinanceMarket
    alternative_me: AlternativeMeClient
    coingecko: CoinGeckoClient
    coinglass: CoinGlassClient | None = None
    registry: Registry | None = None  # every enabled venue, for fallbacks and the market view


async def first_answer(
    sources: list[tuple[str, Callable[[], Awaitable[T]]]],
    observed: Callable[[T], datetime | None] = lambda _: None,
) -> Reading[T]:
    """Try sources in order; the first that answers wins, the failures are kept for the response."""
    failed: list[str] = []
    for name, fetch in sources:
        try:
            value = await fetch()
        except UpstreamError as exc:
            failed.append(f"{name}: {exc.message}")
            continue
        return Reading(value=value, source=name, failed=tuple(failed), observed_at=observed(value))
    last = sources[-1][0] if sources else None
    return Reading.missing("; ".join(failed) or "no source configured", source=last, failed=tuple(failed))


def _latest(series: tuple[Any, ...]) -> Any:
    if not series:
        raise MalformedPayload("gateway", "latest", "the source answered with an empty series")
    return series[-1]


class MarketGateway:
    """Turns provider clients into engine inputs. Stateless: safe to share across requests."""

    def __init__(
        self,
        providers: Providers,
        clock: Callable[[], datetime],
        liquidation_window: LiquidationWindow | None = None,
        min_window_coverage: timedelta = timedelta(hours=1),
    ) -> None:
        self._p = providers
        self._clock = clock
        self._window = liquidation_window
        self._min_coverage = min_window_coverage

    @property
    def providers(self) -> Providers:
        return self._p

    def now(self) -> datetime:
        return self._clock()

    async def check_listed(self, instrument: Instrument, loaders: Loaders) -> None:
        """Raise :class:`SymbolNotListed` when Binance's symbol list says so (no opinion if it is down)."""
        if await self._listed(instrument.canonical, loaders) is False:
            raise SymbolNotListed(instrument.canonical)

    async def snapshot(self, instrument: Instrument, timeframe: Timeframe, loaders: Loaders) -> MarketSnapshot:
        """Fetch everything for one symbol concurrently; raise :class:`SymbolNotListed` for unknown ones."""
        symbol = instrument.canonical
        listing = asyncio.ensure_future(self._listed(symbol, loaders))
        price = asyncio.ensure_future(self._price(instrument, loaders))
        candles = asyncio.ensure_future(self._candles(instrument, timeframe))
        funding = asyncio.ensure_future(self._funding(instrument, loaders))
        global_ls = asyncio.ensure_future(self._global_long_short(instrument, timeframe))
        top_ls = asyncio.ensure_future(self._top_traders(instrument, timeframe))
        oi = asyncio.ensure_future(self._open_interest(instrument, timeframe))
        liquidations = asyncio.ensure_future(self._liquidations(instrument))
        social = asyncio.ensure_future(self._social(instrument))
        fear_greed = asyncio.ensure_future(self._fear_greed())
        await asyncio.gather(listing, price, candles, funding, global_ls, top_ls, oi, liquidations, social, fear_greed)
        candle_reading, forming_candle = candles.result()
        listed = await listing
        if listed is None:  # exchangeInfo failed: the venue's own answer decides (already loaded)
            try:
                await loaders.ticker.load(symbol)
            except InvalidSymbol:
                listed = False
            except UpstreamError:
                pass
        if listed is False:
            raise SymbolNotListed(symbol)
        return MarketSnapshot(
            symbol=symbol,
            timeframe=timeframe,
            as_of=self._clock(),
            price=price.result(),
            candles=candle_reading,
            funding=funding.result(),
            global_long_short=global_ls.result(),
            top_trader_positions=top_ls.result(),
            open_interest=oi.result(),
            liquidations=liquidations.result(),
            social=social.result(),
            fear_greed=fear_greed.result(),
            forming_candle=forming_candle,
        )

    def _venues(self, capability: Capability) -> list[MarketProvider]:
        registry = self._p.registry
        return registry.with_capability(capability, FALLBACK_ORDER) if registry is not None else []

    def _fallbacks(
        self, capability: Capability, what: str, call: Callable[[MarketProvider], Awaitable[T]]
    ) -> list[tuple[str, Callable[[], Awaitable[T]]]]:
        """The other venues that serve ``capability``, tried in :data:`FALLBACK_ORDER` after the primary
        sources fail (Binance answers HTTP 451 to US hosts; the market does not stop there)."""
        return [
            (f"{venue.name}.{what}", _venue_call(venue, call))
            for venue in self._venues(capability)
            if venue.name not in PRIMARY_SOURCES
        ]

    async def _listed(self, symbol: str, loaders: Loaders) -> bool | None:
        """True/False from exchangeInfo; None when exchangeInfo itself failed (then the venue decides)."""
        try:
            listed: dict[str, SymbolInfo] = await loaders.listed_symbols()
        except UpstreamError:
            return None
        return symbol in listed

    async def _price(self, instrument: Instrument, loaders: Loaders) -> Reading[float]:
        symbol = instrument.canonical

        async def from_ticker() -> tuple[float, datetime]:
            ticker = await loaders.ticker.load(symbol)
            return ticker.last_price, ticker.close_time

        async def from_mark() -> tuple[float, datetime]:
            premium = await loaders.premium_index.load(symbol)
            return premium.markPrice, utc_from_ms(premium.time)

        async def venue_ticker(venue: MarketProvider) -> tuple[float, datetime]:
            ticker = await venue.ticker(instrument)
            return ticker.last_price, ticker.close_time

        reading = await first_answer(
            [
                ("binance.ticker24hr", from_ticker),
                ("binance.premiumIndex", from_mark),
                *self._fallbacks(Capability.TICKER, "ticker", venue_ticker),
            ],
            observed=lambda v: v[1],
        )
        value = reading.value[0] if reading.value is not None else None
        return Reading(value, reading.source, reading.error, reading.failed, reading.observed_at)

    async def _candles(
        self, instrument: Instrument, timeframe: Timeframe
    ) -> tuple[Reading[tuple[Candle, ...]], Candle | None]:
        """The closed bars (the reading the score uses) and the forming bar, from whichever venue answered.

        Every venue's series passes through this one split (:func:`engine.market.split_candles`) at the
        service clock, so no venue's still-forming bar reaches the momentum factor, live or in replay,
        and the backtest (which only ever sees closed bars) scores the same bars for the same moment:
        the last ``CANDLE_WINDOW`` closed ones. The reading is observed at the last closed bar's close,
        as in the backtest.
        """
        interval = CandleInterval.of(timeframe)
        served = await first_answer(
            [
                ("binance.klines", lambda: self._p.binance.candles(instrument, timeframe, CANDLE_LIMIT)),
                *self._fallbacks(
                    Capability.CANDLES, "candles", lambda v: v.candles(instrument, interval, CANDLE_LIMIT)
                ),
            ]
        )
        if served.value is None:
            return served, None
        series = split_candles(served.value, timeframe.duration, self._clock())
        closed = series.closed[-CANDLE_WINDOW:]
        if not closed:
            error = f"no closed {timeframe.value} candle yet (only the forming bar was served)"
            return Reading.missing(error, source=served.source, failed=served.failed), series.forming
        observed = closed[-1].open_time + timeframe.duration
        return replace(served, value=closed, observed_at=observed), series.forming

    async def _funding(self, instrument: Instrument, loaders: Loaders) -> Reading[FundingRate]:
        symbol = instrument.canonical
        interval_failure: list[str] = []

        async def from_premium_index() -> FundingRate:
            mark, interval = await asyncio.gather(
                loaders.premium_index.load(symbol), self._funding_interval(instrument, interval_failure)
            )
            return to_funding(mark, interval)

        reading = await first_answer(
            [
                ("binance.premiumIndex", from_premium_index),
                *self._fallbacks(Capability.FUNDING, "funding", lambda v: v.funding(instrument)),
            ],
            observed=lambda f: f.time,
        )
        if interval_failure and reading.available:  # say that the interval is Binance's default, not observed
            return replace(reading, failed=(*reading.failed, *interval_failure))
        return reading

    async def _funding_interval(self, instrument: Instrument, failures: list[str]) -> float:
        """Binance's interval from its funding history; 8 h (its default) when that call fails."""
        try:
            return await self._p.binance.funding_interval_hours(instrument)
        except UpstreamError as exc:
            failures.append(f"{exc.describe()} (funding interval assumed {DEFAULT_FUNDING_INTERVAL_HOURS:g}h)")
            return DEFAULT_FUNDING_INTERVAL_HOURS

    def _ratio_sources(
        self,
        coinglass_name: str,
        coinglass_fetch: Callable[[], Awaitable[tuple[LongShortPoint, ...]]] | None,
        binance_name: str,
        binance_fetch: Callable[[], Awaitable[tuple[LongShortPoint, ...]]],
    ) -> list[tuple[str, Callable[[], Awaitable[LongShortPoint]]]]:
        sources: list[tuple[str, Callable[[], Awaitable[LongShortPoint]]]] = []
        if coinglass_fetch is not None:
            sources.append((coinglass_name, _latest_of(coinglass_fetch)))
        sources.append((binance_name, _latest_of(binance_fetch)))
        return sources

    async def _global_long_short(self, instrument: Instrument, timeframe: Timeframe) -> Reading[LongShortPoint]:
        cg = self._p.coinglass
        interval = CandleInterval.of(timeframe)
        return await first_answer(
            [
                *self._ratio_sources(
                    "coinglass.global-long-short-account-ratio",
                    (lambda: cg.global_long_short(instrument, timeframe)) if cg else None,
                    "binance.globalLongShortAccountRatio",
                    lambda: self._p.binance.global_long_short(instrument, timeframe),
                ),
                *self._fallbacks(
                    Capability.LONG_SHORT_RATIO,
                    "long_short_ratio",
                    lambda v: _latest_of(lambda: v.long_short_ratio(instrument, interval, 30))(),
                ),
            ],
            observed=lambda p: p.time,
        )

    async def _top_traders(self, instrument: Instrument, timeframe: Timeframe) -> Reading[LongShortPoint]:
        cg = self._p.coinglass
        return await first_answer(
            self._ratio_sources(
                "coinglass.top-long-short-position-ratio",
                (lambda: cg.top_trader_positions(instrument, timeframe)) if cg else None,
                "binance.topLongShortPositionRatio",
                lambda: self._p.binance.top_trader_positions(instrument, timeframe),
            ),
            observed=lambda p: p.time,
        )

    async def _open_interest(
        self, instrument: Instrument, timeframe: Timeframe
    ) -> Reading[tuple[OpenInterestPoint, ...]]:
        # enough points to reach 24 h back, plus slack for a missing bar
        limit = min(500, int(86_400 / timeframe.duration.total_seconds()) + 6)
        sources: list[tuple[str, Callable[[], Awaitable[tuple[OpenInterestPoint, ...]]]]] = []
        if (cg := self._p.coinglass) is not None:
            sources.append(
                (
                    "coinglass.open-interest.aggregated-history",
                    lambda: cg.open_interest_history(instrument, timeframe),
                )
            )
        sources.append(
            (
                "binance.openInterestHist",
                lambda: self._p.binance.open_interest_history(instrument, timeframe, limit),
            )
        )
        interval = CandleInterval.of(timeframe)
        sources.extend(
            self._fallbacks(
                Capability.OPEN_INTEREST_HISTORY,
                "open_interest_history",
                lambda v: v.open_interest_history(instrument, interval, limit),
            )
        )
        return await first_answer(sources, observed=lambda series: series[-1].time if series else None)

    async def _liquidations(self, instrument: Instrument) -> Reading[LiquidationTotals]:
        """CoinGlass's 24 h aggregate when keyed; else the rolling window of the live liquidation stream,
        once it has been up long enough to mean something (its coverage is named in the source)."""
        cg = self._p.coinglass
        failed: tuple[str, ...] = ()
        if cg is not None:
            reading = await first_answer(
                [("coinglass.liquidation.aggregated-history", lambda: cg.liquidations_24h(instrument))]
            )
            if reading.available or self._window is None:
                return reading
            failed = reading.failed
        if self._window is None:
            return Reading.missing(LIQUIDATIONS_NEED_KEY, source=None)
        coverage = self._window.coverage
        source = f"binance.forceOrder stream ({_hours(coverage)} of 24h covered)"
        if coverage < self._min_coverage:
            error = f"the liquidation stream has been up {_hours(coverage)}; it needs {_hours(self._min_coverage)}"
            return Reading.missing(error, source=source, failed=failed)
        totals = self._window.totals(instrument.canonical, timedelta(hours=24))
        return Reading(value=totals, source=source, failed=failed, observed_at=self._clock())

    async def _social(self, instrument: Instrument) -> Reading[SocialSentiment]:
        """LunarCrush's Galaxy Score when keyed, CoinGecko's community votes otherwise."""
        keyed = [
            (f"{v.name}.social", lambda v=v: v.social(instrument)) for v in self._venues(Capability.SOCIAL) if v.keyed
        ]
        return await first_answer([*keyed, ("coingecko.coins", lambda: self._p.coingecko.sentiment(instrument))])

    async def _fear_greed(self) -> Reading[FearGreed]:
        return await first_answer([("alternative_me.fng", self._p.alternative_me.latest)], observed=lambda f: f.time)


def _hours(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"


def _venue_call(venue: MarketProvider, call: Callable[[MarketProvider], Awaitable[T]]) -> Callable[[], Awaitable[T]]:
    return lambda: call(venue)


def _latest_of(
    fetch: Callable[[], Awaitable[tuple[LongShortPoint, ...]]],
) -> Callable[[], Awaitable[LongShortPoint]]:
    async def latest() -> LongShortPoint:
        point: LongShortPoint = _latest(await fetch())
        return point

    return latest
