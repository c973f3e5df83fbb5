"""Gathers one :class:`MarketSnapshot` per symbol: every upstream call in one parallel round.

Every input has an ordered list of sources, and the order is data (:data:`DEFAULT_SOURCE_ORDER`, which
the ``SOURCE_ORDER`` setting can reorder): the gateway asks the registry for the venues named there that
serve the input's capability and are enabled (a keyed venue without its key is absent), and reaches
each only through the venue interface (:class:`~providers.venue.MarketProvider`). A failing source
falls through to the next; the reading names the source that answered (``venue.endpoint``) and the
ones that failed, so the engine's data-quality report can say exactly what is missing. Whether the
symbol exists is asked of every listing source in the same round, so a symbol is found when Binance is
unreachable or geo-blocked.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from engine.backtest import CANDLE_WINDOW
from engine.inputs import MarketSnapshot, Reading
from engine.market import CandleInterval, split_candles
from providers.errors import InvalidSymbol, MalformedPayload, UpstreamError
from providers.venue import Capability

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping, Sequence
    from datetime import datetime

    from engine.hype import SocialMetrics, TrendingCoin
    from engine.listings import CoinMarket
    from engine.market import (
        Candle,
        FearGreed,
        FundingRate,
        LiquidationTotals,
        LongShortPoint,
        OpenInterest,
        OpenInterestPoint,
        OrderBook,
        SocialSentiment,
        SymbolInfo,
        Ticker24h,
        Timeframe,
        Trade,
    )
    from engine.mss import CoinDetails
    from providers.registry import Registry
    from providers.symbols import Instrument
    from providers.venue import MarketProvider
    from resolvers.liquidation_window import LiquidationWindow
    from resolvers.loaders import Loaders

T = TypeVar("T")

# The closed bars momentum scores live: the backtest's window, so both read the same bars. One more is
# asked for because the venue's last bar is usually still forming and is split off (see ``_candles``).
CANDLE_LIMIT = CANDLE_WINDOW + 1
LIQUIDATIONS_NEED_KEY = "no keyless liquidation source yet; set COINGLASS_API_KEY to enable this factor"
# The latest ratio point is what is scored; 30 points are asked for, as every ratio source serves them.
RATIO_POINTS = 30

# The exchanges whose all-symbol endpoints make up the USD-M universe (listings, screeners, spikes).
UNIVERSE_VENUES: tuple[str, ...] = ("binance", "bybit", "okx")

# Input → the venue capability that serves it. "listing" decides whether a symbol exists; "mark_price"
# is the price's last resort (a funding answer's mark price, from the request's funding loader).
INPUT_CAPABILITIES: Mapping[str, Capability] = MappingProxyType(
    {
        "listing": Capability.INSTRUMENTS,
        "price": Capability.TICKER,
        "mark_price": Capability.FUNDING,
        "candles": Capability.CANDLES,
        "funding": Capability.FUNDING,
        "global_long_short": Capability.LONG_SHORT_RATIO,
        "top_trader_positions": Capability.TOP_TRADER_POSITIONS,
        "open_interest": Capability.OPEN_INTEREST_HISTORY,
        "liquidations": Capability.LIQUIDATION_TOTALS,
        "social": Capability.SOCIAL,
        "fear_greed": Capability.FEAR_GREED,
    }
)
# Input → provider names, asked in this order. Keyless exchanges first for market data (Binance is the
# deepest USDT-perpetual market); keyed aggregates first where they see more than one venue (CoinGlass's
# cross-venue ratios and OI; LunarCrush's Galaxy Score). A name not enabled is skipped.
DEFAULT_SOURCE_ORDER: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "listing": ("binance", "bybit", "okx", "hyperliquid"),
        "price": ("binance", "bybit", "okx", "hyperliquid"),
        "mark_price": ("binance",),
        "candles": ("binance", "bybit", "okx", "hyperliquid", "coinapi"),
        "funding": ("binance", "bybit", "okx", "hyperliquid"),
        "global_long_short": ("coinglass", "binance", "bybit", "okx"),
        "top_trader_positions": ("coinglass", "binance"),
        "open_interest": ("coinglass", "binance", "bybit", "okx"),
        "liquidations": ("coinglass",),
        "social": ("lunarcrush", "coingecko"),
        "fear_greed": ("alternative_me",),
    }
)


@dataclass(frozen=True, slots=True)
class SourceOrder:
    """Which providers each input asks, in order: the defaults with any input's list replaced."""

    by_input: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: DEFAULT_SOURCE_ORDER)

    @classmethod
    def of(cls, overrides: Mapping[str, Sequence[str]] | None = None) -> SourceOrder:
        """The defaults, each input named in ``overrides`` reordered (or narrowed) to its list."""
        overrides = overrides or {}
        unknown = sorted(set(overrides) - set(DEFAULT_SOURCE_ORDER))
        if unknown:
            raise ValueError(f"unknown inputs in the source order: {', '.join(unknown)}")
        merged = {name: tuple(overrides.get(name, default)) for name, default in DEFAULT_SOURCE_ORDER.items()}
        return cls(MappingProxyType(merged))

    def __getitem__(self, name: str) -> tuple[str, ...]:
        return self.by_input[name]

    def providers(self) -> set[str]:
        return {p for names in self.by_input.values() for p in names}


class SymbolNotListed(Exception):
    """No listing source that answered lists the symbol as a tradable USDT perpetual."""

    def __init__(self, symbol: str) -> None:
        super().__init__(f"{symbol} is not a tradable USDT perpetual on any venue that answered")
        self.symbol = symbol


async def _answer(
    sources: Sequence[tuple[str, Callable[[], Awaitable[T]]]],
    observed: Callable[[T], datetime | None] = lambda _: None,
) -> tuple[Reading[T], bool]:
    """Try sources in order; the first that answers wins, the failures are kept for the response. The
    flag says every source was tried and each said the symbol does not exist."""
    failed: list[str] = []
    rejected = bool(sources)
    for name, fetch in sources:
        try:
            value = await fetch()
        except UpstreamError as exc:
            failed.append(f"{name}: {exc.message}")
            rejected = rejected and isinstance(exc, InvalidSymbol)
            continue
        return Reading(value=value, source=name, failed=tuple(failed), observed_at=observed(value)), False
    last = sources[-1][0] if sources else None
    missing: Reading[T] = Reading.missing(
        "; ".join(failed) or "no source configured", source=last, failed=tuple(failed)
    )
    return missing, rejected


async def first_answer(
    sources: Sequence[tuple[str, Callable[[], Awaitable[T]]]],
    observed: Callable[[T], datetime | None] = lambda _: None,
) -> Reading[T]:
    """Try sources in order; the first that answers wins, the failures are kept for the response."""
    return (await _answer(sources, observed))[0]


def _latest(series: tuple[Any, ...]) -> Any:
    if not series:
        raise MalformedPayload("gateway", "latest", "the source answered with an empty series")
    return series[-1]


class MarketGateway:
    """Turns the registry's venues into engine inputs. Stateless: safe to share across requests."""

    def __init__(
        self,
        registry: Registry,
        clock: Callable[[], datetime],
        source_order: SourceOrder | None = None,
        liquidation_window: LiquidationWindow | None = None,
        min_window_coverage: timedelta = timedelta(hours=1),
    ) -> None:
        self._registry = registry
        self._clock = clock
        self._order = source_order or SourceOrder.of()
        unknown = sorted(self._order.providers() - set(registry.status))
        if unknown:
            raise ValueError(f"unknown providers in the source order: {', '.join(unknown)}")
        self._window = liquidation_window
        self._min_coverage = min_window_coverage

    @property
    def registry(self) -> Registry:
        return self._registry

    @property
    def source_order(self) -> SourceOrder:
        return self._order

    def now(self) -> datetime:
        return self._clock()

    def sources(self, name: str) -> list[MarketProvider]:
        """The enabled venues that serve input ``name``, in its source order."""
        return self._registry.sources(INPUT_CAPABILITIES[name], self._order[name])

    async def check_listed(self, instrument: Instrument, loaders: Loaders) -> None:
        """Raise :class:`SymbolNotListed` when the listing sources say so (no opinion if none answer)."""
        if await self._listed(instrument.canonical) is False:
            raise SymbolNotListed(instrument.canonical)

    async def symbol_list(self) -> Reading[Mapping[str, SymbolInfo]]:
        """The first listing source's tradable USDT perpetuals, by symbol; every failure named."""
        return await first_answer([(v.source(Capability.INSTRUMENTS), v.instruments) for v in self.sources("listing")])

    async def candle_window(
        self, instrument: Instrument, interval: CandleInterval, limit: int
    ) -> Reading[tuple[Candle, ...]]:
        """Up to ``limit`` closed bars of ``interval``, oldest first, from the first candle source that answers
        (one more is asked for: the forming bar is split off at the service clock, as in ``_candles``).
        A venue that caps its limit lower answers fewer bars; the reading's value says how many."""
        served = await first_answer(
            [
                (v.source(Capability.CANDLES), _call(v.candles, instrument, interval, limit + 1))
                for v in self.sources("candles")
            ]
        )
        if served.value is None:
            return served
        closed = split_candles(served.value, interval.duration, self._clock()).closed[-limit:]
        if not closed:
            error = f"no closed {interval.value} candle yet (only the forming bar was served)"
            return Reading.missing(error, source=served.source, failed=served.failed)
        return replace(served, value=closed, observed_at=closed[-1].open_time + interval.duration)

    async def snapshot(self, instrument: Instrument, timeframe: Timeframe, loaders: Loaders) -> MarketSnapshot:
        """Fetch everything for one symbol concurrently; raise :class:`SymbolNotListed` for unknown ones."""
        symbol = instrument.canonical
        listing = asyncio.ensure_future(self._listed(symbol))
        price = asyncio.ensure_future(self._price(instrument, loaders))
        candles = asyncio.ensure_future(self._candles(instrument, timeframe))
        funding = asyncio.ensure_future(self._funding(instrument, loaders))
        global_ls = asyncio.ensure_future(self._ratio("global_long_short", instrument, timeframe))
        top_ls = asyncio.ensure_future(self._ratio("top_trader_positions", instrument, timeframe))
        oi = asyncio.ensure_future(self._open_interest(instrument, timeframe))
        liquidations = asyncio.ensure_future(self._liquidations(instrument))
        social = asyncio.ensure_future(self._social(instrument))
        fear_greed = asyncio.ensure_future(self._fear_greed())
        await asyncio.gather(listing, price, candles, funding, global_ls, top_ls, oi, liquidations, social, fear_greed)
        candle_reading, forming_candle = candles.result()
        price_reading, price_rejected = price.result()
        listed = listing.result()
        if listed is None and price_rejected:  # no listing answered: every price source said "no such symbol"
            listed = False
        if listed is False:
            raise SymbolNotListed(symbol)
        return MarketSnapshot(
            symbol=symbol,
            timeframe=timeframe,
            as_of=self._clock(),
            price=price_reading,
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

    async def closed_candles(self, instrument: Instrument, timeframe: Timeframe) -> Reading[tuple[Candle, ...]]:
        """The closed bars a signal of ``timeframe`` scores (same sources, split and window as the snapshot;
        the upstream cache answers a repeat within its TTL): the trade plan's ATR reads them."""
        return (await self._candles(instrument, timeframe))[0]

    async def ticker_24h(self, instrument: Instrument, loaders: Loaders) -> Reading[Ticker24h]:
        """The first 24 h ticker that answers (the request's ticker loader: the price already asked it)."""
        return await first_answer(
            [(v.source(Capability.TICKER), _call(loaders.ticker(v).load, instrument)) for v in self.sources("price")],
            observed=lambda t: t.close_time,
        )

    async def _listed(self, symbol: str) -> bool | None:
        """Listed if a listing source lists it; not listed only if every one that answered says no; None
        (no opinion) when none answered. Sources are asked in order until one lists the symbol, so the
        usual case costs one (cached) listing call."""
        answered = False
        for venue in self.sources("listing"):
            try:
                listing = await venue.instruments()
            except UpstreamError:
                continue
            if symbol in listing:
                return True
            answered = True
        return False if answered else None

    async def _price(self, instrument: Instrument, loaders: Loaders) -> tuple[Reading[float], bool]:
        """The last price from the first ticker that answers; a funding answer's mark price as the last
        resort (the request's funding loader: no extra call)."""

        def from_ticker(venue: MarketProvider) -> Callable[[], Awaitable[tuple[float, datetime | None]]]:
            async def fetch() -> tuple[float, datetime | None]:
                ticker = await loaders.ticker(venue).load(instrument)
                return ticker.last_price, ticker.close_time

            return fetch

        def from_mark(venue: MarketProvider) -> Callable[[], Awaitable[tuple[float, datetime | None]]]:
            async def fetch() -> tuple[float, datetime | None]:
                funding = await loaders.funding(venue).load(instrument)
                if funding.mark_price is None:
                    raise MalformedPayload(venue.name, "funding", "the funding answer carries no mark price")
                return funding.mark_price, funding.time

            return fetch

        reading, rejected = await _answer(
            [
                *((v.source(Capability.TICKER), from_ticker(v)) for v in self.sources("price")),
                *((v.source(Capability.FUNDING), from_mark(v)) for v in self.sources("mark_price")),
            ],
            observed=lambda v: v[1],
        )
        value = reading.value[0] if reading.value is not None else None
        return Reading(value, reading.source, reading.error, reading.failed, reading.observed_at), rejected

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
                (v.source(Capability.CANDLES), _call(v.candles, instrument, interval, CANDLE_LIMIT))
                for v in self.sources("candles")
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
        """The current rate with its interval as the venue reports it; when the venue had to assume the
        interval, its note joins the failures (the interval is a default, not observed)."""
        reading = await first_answer(
            [
                (v.source(Capability.FUNDING), _call(loaders.funding(v).load, instrument))
                for v in self.sources("funding")
            ],
            observed=lambda f: f.time,
        )
        if reading.value is not None and reading.value.interval_note:
            return replace(reading, failed=(*reading.failed, reading.value.interval_note))
        return reading

    async def _ratio(self, name: str, instrument: Instrument, timeframe: Timeframe) -> Reading[LongShortPoint]:
        """The latest point of a long/short ratio input (``global_long_short`` or ``top_trader_positions``)."""
        capability = INPUT_CAPABILITIES[name]
        interval = CandleInterval.of(timeframe)

        def latest(venue: MarketProvider) -> Callable[[], Awaitable[LongShortPoint]]:
            async def fetch() -> LongShortPoint:
                if capability is Capability.TOP_TRADER_POSITIONS:
                    series = await venue.top_trader_positions(instrument, interval, RATIO_POINTS)
                else:
                    series = await venue.long_short_ratio(instrument, interval, RATIO_POINTS)
                point: LongShortPoint = _latest(series)
                return point

            return fetch

        return await first_answer(
            [(v.source(capability), latest(v)) for v in self.sources(name)], observed=lambda p: p.time
        )

    async def _open_interest(
        self, instrument: Instrument, timeframe: Timeframe
    ) -> Reading[tuple[OpenInterestPoint, ...]]:
        # enough points to reach 24 h back, plus slack for a missing bar
        limit = min(500, int(86_400 / timeframe.duration.total_seconds()) + 6)
        interval = CandleInterval.of(timeframe)
        return await first_answer(
            [
                (
                    v.source(Capability.OPEN_INTEREST_HISTORY),
                    _call(v.open_interest_history, instrument, interval, limit),
                )
                for v in self.sources("open_interest")
            ],
            observed=lambda series: series[-1].time if series else None,
        )

    async def _liquidations(self, instrument: Instrument) -> Reading[LiquidationTotals]:
        """A venue's 24 h aggregate (CoinGlass, keyed); else the rolling window of the live liquidation
        stream, once it has been up long enough to mean something (its coverage is named in the source)."""
        venues = self.sources("liquidations")
        failed: tuple[str, ...] = ()
        if venues:
            reading = await first_answer(
                [(v.source(Capability.LIQUIDATION_TOTALS), _call(v.liquidation_totals, instrument)) for v in venues]
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
        return await first_answer(
            [(v.source(Capability.SOCIAL), _call(v.social, instrument)) for v in self.sources("social")]
        )

    async def _fear_greed(self) -> Reading[FearGreed]:
        return await first_answer(
            [(v.source(Capability.FEAR_GREED), v.fear_greed) for v in self.sources("fear_greed")],
            observed=lambda f: f.time,
        )

    # -- order books, flow and scalping (issue 12, items 2 and 4): one reading per venue or input --

    async def order_books(
        self, instrument: Instrument, venues: Sequence[str], depth: int
    ) -> dict[str, Reading[OrderBook]]:
        """Each named venue's order book in parallel, observed at the venue's own book time; a venue that is
        off, serves no books or fails has a missing reading saying which."""
        readings = await self._per_venue(Capability.ORDER_BOOK, venues, lambda v: v.order_book(instrument, depth))
        return {n: r if r.value is None else replace(r, observed_at=r.value.time) for n, r in readings.items()}

    async def funding_reading(self, instrument: Instrument, loaders: Loaders) -> Reading[FundingRate]:
        """The current funding rate from the first funding source that answers (the snapshot's rule)."""
        return await self._funding(instrument, loaders)

    async def long_short_reading(self, instrument: Instrument, timeframe: Timeframe) -> Reading[LongShortPoint]:
        """The latest accounts' long/short point of ``timeframe``'s period (the snapshot's sources)."""
        return await self._ratio("global_long_short", instrument, timeframe)

    async def fear_greed_reading(self) -> Reading[FearGreed]:
        return await self._fear_greed()

    def stream_liquidations(self, instrument: Instrument, window: timedelta) -> Reading[LiquidationTotals]:
        """Liquidations of the last ``window`` from the live liquidation stream, only once it has covered
        the whole window (a partial sum would read as a quiet market)."""
        if self._window is None:
            return Reading.missing("the liquidation stream is off on this server", source=None)
        coverage = self._window.coverage
        source = f"binance.forceOrder stream ({_hours(coverage)} covered)"
        if coverage < window:
            error = f"the liquidation stream has been up {_hours(coverage)}; the window needs {_hours(window)}"
            return Reading.missing(error, source=source)
        totals = self._window.totals(instrument.canonical, window)
        return Reading(value=totals, source=source, observed_at=self._clock())

    # -- the whole universe (listings, screeners, spikes): all-symbol endpoints, one reading per venue --
    # Stable API (helper D's mssScan builds on listings and coin_markets).

    async def listings(self, venues: Sequence[str] = UNIVERSE_VENUES) -> dict[str, Reading[Mapping[str, SymbolInfo]]]:
        """Each venue's tradable USDT perpetuals with their listing dates (Binance ``onboardDate``, OKX
        ``listTime``, Bybit ``launchTime``): one call per venue (Bybit pages at 1,000)."""
        return await self._per_venue(Capability.INSTRUMENTS, venues, lambda v: v.instruments())

    async def universe_tickers(
        self, venues: Sequence[str] = UNIVERSE_VENUES
    ) -> dict[str, Reading[Mapping[str, Ticker24h]]]:
        """Every symbol's 24 h ticker per venue, one call each."""
        return await self._per_venue(Capability.TICKERS, venues, lambda v: v.tickers())

    async def universe_open_interest(
        self, venues: Sequence[str] = UNIVERSE_VENUES
    ) -> dict[str, Reading[Mapping[str, OpenInterest]]]:
        """Every symbol's open interest per venue that serves it in one call (Bybit tickers, OKX
        open-interest); Binance has no all-symbol open interest, so its reading is missing and says so."""
        return await self._per_venue(Capability.OPEN_INTEREST_ALL, venues, lambda v: v.open_interest_all())

    async def universe_funding(
        self, venues: Sequence[str] = UNIVERSE_VENUES
    ) -> dict[str, Reading[Mapping[str, FundingRate]]]:
        """Every symbol's current funding per venue that serves it from a fixed handful of calls (Binance
        premiumIndex + fundingInfo, Bybit tickers); OKX has none (one call per swap), so it is missing."""
        return await self._per_venue(Capability.FUNDING_ALL, venues, lambda v: v.funding_all())

    async def coin_markets(self, pages: int = 1) -> Reading[tuple[CoinMarket, ...]]:
        """The top ``pages`` × 250 coins by market cap (CoinGecko ``coins/markets``): market cap, FDV and
        supply. Pages are fetched in order and a failed page ends the read; the reading names what is left out."""
        venues = self._registry.with_capability(Capability.COIN_MARKETS)
        if not venues:
            return Reading.missing("no enabled source serves coin markets", source=None)
        venue = venues[0]
        source = venue.source(Capability.COIN_MARKETS)
        coins: list[CoinMarket] = []
        for page in range(1, pages + 1):
            try:
                coins.extend(await venue.coin_markets(page))
            except UpstreamError as exc:
                if not coins:
                    return Reading.missing(exc.message, source=source, failed=(f"{source}: {exc.message}",))
                left_out = f"{source} page {page}: {exc.message} (coins ranked below {len(coins)} left out)"
                return Reading(value=tuple(coins), source=source, failed=(left_out,), observed_at=self._clock())
        return Reading(value=tuple(coins), source=source, observed_at=self._clock())

    async def venue_candles(
        self, venue: str, instrument: Instrument, interval: CandleInterval, limit: int
    ) -> Reading[tuple[Candle, ...]]:
        """One venue's candles (oldest-first), for figures that belong to that venue (a listing's first day)."""
        readings = await self._per_venue(Capability.CANDLES, (venue,), lambda v: v.candles(instrument, interval, limit))
        return readings[venue]

    async def _per_venue(
        self, capability: Capability, venues: Sequence[str], call: Callable[[MarketProvider], Awaitable[T]]
    ) -> dict[str, Reading[T]]:
        """``call`` on each named venue in parallel; a venue that is off, lacks ``capability`` or fails has a
        missing reading saying which."""

        async def one(name: str) -> Reading[T]:
            venue = self._registry.providers.get(name)
            if venue is None:
                return Reading.missing(f"{name}: {self._registry.status.get(name, 'unknown venue')}", source=None)
            source = venue.source(capability)
            if not venue.supports(capability):
                return Reading.missing(f"{name} does not serve {capability.value}", source=source)
            try:
                value = await call(venue)
            except UpstreamError as exc:
                return Reading.missing(exc.message, source=source, failed=(f"{source}: {exc.message}",))
            return Reading(value=value, source=source, observed_at=self._clock())

        answers = await asyncio.gather(*(one(name) for name in venues))
        return dict(zip(venues, answers, strict=True))

    # -- MSS and social hype (issue 13, items 3 and 4): a coin's facts, its social numbers, the trending list --

    async def coin_details(self, instrument: Instrument) -> Reading[CoinDetails]:
        """The coin's FDV, supplies and keyless social numbers (CoinGecko ``coins/{id}``), observed when the
        vendor last updated them."""
        venues = self._registry.with_capability(Capability.COIN_DETAILS)
        return await first_answer(
            [(v.source(Capability.COIN_DETAILS), _call(v.coin_details, instrument)) for v in venues],
            observed=lambda d: d.market.last_updated,
        )

    async def social_metrics(
        self, instrument: Instrument, *, keyed_only: bool = False, topic: bool = False
    ) -> Reading[SocialMetrics]:
        """The coin's social numbers from the ``social`` input's sources in order (LunarCrush first when keyed);
        ``keyed_only`` asks only keyed vendors (the keyless numbers already came with :meth:`coin_details`)."""
        venues = [
            v
            for v in self._registry.sources(Capability.SOCIAL_METRICS, self._order["social"])
            if v.keyed or not keyed_only
        ]
        if not venues:
            return Reading.missing("no keyed social source enabled; set LUNARCRUSH_API_KEY", source=None)
        return await first_answer(
            [(v.source(Capability.SOCIAL_METRICS), _social_call(v, instrument, topic)) for v in venues],
            observed=lambda m: m.time,
        )

    async def trending(self) -> Reading[tuple[TrendingCoin, ...]]:
        """The first trending list that answers (CoinGecko ``search/trending``, keyless), most searched first."""
        venues = self._registry.with_capability(Capability.TRENDING)
        return await first_answer([(v.source(Capability.TRENDING), v.trending) for v in venues])

    async def recent_trades(self, instrument: Instrument, limit: int) -> Reading[tuple[Trade, ...]]:
        """The latest ``limit`` trades from the first venue serving them over REST (Binance ``aggTrades``),
        oldest first, observed at the newest trade."""
        venues = self._registry.with_capability(Capability.TRADES, ("binance",))
        return await first_answer(
            [(v.source(Capability.TRADES), _call(v.trades, instrument, limit)) for v in venues],
            observed=lambda trades: trades[-1].time if trades else None,
        )

    async def top_trader_reading(self, instrument: Instrument, timeframe: Timeframe) -> Reading[LongShortPoint]:
        """The latest top traders' long/short (by position) point of ``timeframe``'s period."""
        return await self._ratio("top_trader_positions", instrument, timeframe)

    async def open_interest_reading(
        self, instrument: Instrument, timeframe: Timeframe
    ) -> Reading[tuple[OpenInterestPoint, ...]]:
        """Open interest history reaching 24 h back at ``timeframe``'s period (the snapshot's sources)."""
        return await self._open_interest(instrument, timeframe)


def _hours(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"


def _social_call(venue: MarketProvider, instrument: Instrument, topic: bool) -> Callable[[], Awaitable[SocialMetrics]]:
    return lambda: venue.social_metrics(instrument, topic=topic)


def _call(fetch: Callable[..., Awaitable[T]], *args: Any) -> Callable[[], Awaitable[T]]:
    """``fetch(*args)`` deferred: a source that is only called if the ones before it fail."""
    return lambda: fetch(*args)
