"""The whole USD-M universe from all-symbol endpoints: new listings, screeners and spike scans.

Upstream calls per cold scan (answers are cached for their TTL, so repeats within it cost nothing):

- ``newListings``: 3 listing calls (Binance ``exchangeInfo``, Bybit ``instruments-info``, OKX
  ``public/instruments``), cached an hour, plus one hourly-candle call per listing given first-day figures
  (the newest :data:`PERFORMANCE_LISTINGS` only).
- ``screener``: Binance ``ticker/24hr`` + ``premiumIndex`` + ``fundingInfo``, Bybit ``tickers`` (volume,
  funding and open interest in one answer), OKX ``market/tickers`` + ``public/open-interest``, CoinGecko
  ``coins/markets`` page 1: 7 calls.
- ``spikes``: Binance ``ticker/24hr``, Bybit ``tickers``, OKX ``market/tickers`` + ``public/open-interest``: 4.

Binance has no all-symbol open interest (one call per symbol), OKX no all-symbol funding: those readings are
missing and named in every answer, never filled with a default.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from engine.listings import VenueListing, coins_by_base, listing_performance, new_listings
from engine.market import CandleInterval
from engine.screener import ScreenKind, ScreenOutcome, merge_universe, screen
from engine.spikes import MIN_WINDOWS, Horizon, Spike
from providers.symbols import InvalidSymbolFormat, parse_symbol
from resolvers.gateway import UNIVERSE_VENUES
from resolvers.problems import InvalidArgument, UpstreamDown

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from engine.inputs import Reading
    from engine.listings import CoinMarket, Listing
    from engine.market import SymbolInfo
    from resolvers.context import RequestContext

MAX_WITHIN_HOURS = 720.0  # 30 days
MAX_LIMIT = 100
MAX_SPIKES = 200
PERFORMANCE_LISTINGS = 20  # listings given first-day figures per request: one hourly-candle call each
MAX_CANDLE_HOURS = 500
COIN_PAGES = 1  # 250 coins: the keyless CoinGecko budget (5 calls a minute at worst) is shared with social reads
MAX_SUBSCRIPTION_SCANS = 1_000_000  # the spikes subscription's loop bound (about two years at one a minute)
COIN_WAIT_SECONDS = 3.0  # coins/markets waits at most this long behind the CoinGecko rate limiter


@dataclass(frozen=True, slots=True)
class NewListings:
    as_of: datetime
    listings: tuple[Listing, ...]
    venues: tuple[str, ...]
    missing: tuple[str, ...]  # each venue whose listing could not be read, with why


@dataclass(frozen=True, slots=True)
class ScreenerResult:
    as_of: datetime
    kind: ScreenKind
    outcome: ScreenOutcome
    venues: tuple[str, ...]
    missing: tuple[str, ...]  # every reading that was missing (venue, figure, why)
    coins_covered: int  # coins CoinGecko answered (the top by market cap); the others have no market cap


@dataclass(frozen=True, slots=True)
class SpikeScan:
    as_of: datetime
    spikes: tuple[Spike, ...]
    thresholds: Mapping[Horizon, float]
    venues: tuple[str, ...]
    symbols_tracked: int
    history_since: datetime | None
    warming_up: tuple[str, ...]  # horizons without enough history yet, with how much there is
    missing: tuple[str, ...]


def parse_venues(venues: Sequence[str] | None) -> tuple[str, ...]:
    """The universe venues asked for (case-insensitive), or all of them; an unknown name is an input error."""
    if venues is None:
        return UNIVERSE_VENUES
    chosen: list[str] = []
    for name in venues:
        cleaned = name.strip().lower()
        if cleaned not in UNIVERSE_VENUES:
            raise InvalidArgument(
                "venues", f"unknown venue {name!r}; the universe venues are {', '.join(UNIVERSE_VENUES)}"
            )
        if cleaned not in chosen:
            chosen.append(cleaned)
    if not chosen:
        raise InvalidArgument("venues", "give at least one venue, or null for all")
    return tuple(chosen)


def _missing(label: str, readings: Mapping[str, Reading[Any]]) -> list[str]:
    return [f"{label} {venue}: {r.error}" for venue, r in readings.items() if not r.available]


async def resolve_new_listings(
    ctx: RequestContext, within_hours: float, venues: Sequence[str] | None
) -> NewListings | InvalidArgument | UpstreamDown:
    """Listings younger than ``within_hours`` on ``venues``, newest first; every venue's listing is read so
    each answer says which other venues list the symbol."""
    if not (math.isfinite(within_hours) and 0 < within_hours <= MAX_WITHIN_HOURS):
        return InvalidArgument("withinHours", f"withinHours must be in (0, {MAX_WITHIN_HOURS:g}]")
    try:
        chosen = parse_venues(venues)
    except InvalidArgument as exc:
        return exc
    gateway = ctx.services.gateway
    readings = await gateway.listings(UNIVERSE_VENUES)
    answered = {v: _venue_listings(v, r.value) for v, r in readings.items() if r.value is not None}
    if not any(v in answered for v in chosen):
        failed = tuple(f for v in chosen for f in (readings[v].failed or (f"{v}: {readings[v].error}",)))
        return UpstreamDown("no listing of the venues asked could be read", failed)
    now = gateway.now()
    unavailable = [v for v in UNIVERSE_VENUES if v not in answered]
    found = [
        item for item in new_listings(answered, now, timedelta(hours=within_hours), unavailable) if item.venue in chosen
    ]
    with_figures = await asyncio.gather(*(_with_performance(ctx, item, now) for item in found[:PERFORMANCE_LISTINGS]))
    skipped = f"first-day figures are derived for the newest {PERFORMANCE_LISTINGS} listings of a request only"
    rest = [item.with_performance(None, skipped) for item in found[PERFORMANCE_LISTINGS:]]
    return NewListings(
        as_of=now,
        listings=(*with_figures, *rest),
        venues=chosen,
        missing=tuple(_missing("listing", {v: readings[v] for v in chosen})),
    )


def _venue_listings(venue: str, listed: Mapping[str, SymbolInfo]) -> dict[str, VenueListing]:
    return {
        symbol: VenueListing(
            symbol=symbol, venue=venue, listed_at=info.onboard_date, status=info.status, base_asset=info.base_asset
        )
        for symbol, info in listed.items()
    }


async def _with_performance(ctx: RequestContext, item: Listing, now: datetime) -> Listing:
    """First-day and since-listing figures from the listing venue's hourly candles (one call)."""
    try:
        instrument = parse_symbol(item.symbol)
    except InvalidSymbolFormat as exc:
        return item.with_performance(None, str(exc))
    hours = min(math.ceil(item.age_hours) + 2, MAX_CANDLE_HOURS)
    reading = await ctx.services.gateway.venue_candles(item.venue, instrument, CandleInterval.H1, hours)
    if reading.value is None:
        return item.with_performance(None, f"{reading.source or item.venue} candles: {reading.error}")
    figures = listing_performance(reading.value, item.listed_at, now)
    if figures is None:
        return item.with_performance(None, f"{reading.source} serves no hourly candles back to the listing hour")
    return item.with_performance(figures)


async def resolve_screener(
    ctx: RequestContext, kind: ScreenKind, limit: int, min_quote_volume_usd: float, venues: Sequence[str] | None
) -> ScreenerResult | InvalidArgument | UpstreamDown:
    """The top ``limit`` symbols for ``kind`` over ``venues``, every symbol's figures merged across them."""
    if not 1 <= limit <= MAX_LIMIT:
        return InvalidArgument("limit", f"limit must be between 1 and {MAX_LIMIT}")
    if not (math.isfinite(min_quote_volume_usd) and min_quote_volume_usd >= 0):
        return InvalidArgument("minQuoteVolumeUsd", "minQuoteVolumeUsd must be a finite number >= 0")
    try:
        chosen = parse_venues(venues)
    except InvalidArgument as exc:
        return exc
    gateway = ctx.services.gateway
    tickers, funding, interest, coins = await asyncio.gather(
        gateway.universe_tickers(chosen),
        gateway.universe_funding(chosen),
        gateway.universe_open_interest(chosen),
        _coins(ctx),
    )
    if not any(r.available for r in tickers.values()):
        failed = tuple(f for r in tickers.values() for f in (r.failed or (f"{r.source}: {r.error}",)))
        return UpstreamDown("no venue's tickers could be read", failed)
    coin_list, coin_missing = coins
    rows = merge_universe(
        {v: r.value for v, r in tickers.items() if r.value is not None},
        {v: r.value for v, r in funding.items() if r.value is not None},
        {v: r.value for v, r in interest.items() if r.value is not None},
        coins_by_base(coin_list),
    )
    missing = [
        *_missing("tickers", tickers),
        *_missing("funding", funding),
        *_missing("open interest", interest),
        *coin_missing,
    ]
    return ScreenerResult(
        as_of=gateway.now(),
        kind=kind,
        outcome=screen(rows, kind, limit, min_quote_volume_usd),
        venues=chosen,
        missing=tuple(missing),
        coins_covered=len(coin_list),
    )


async def _coins(ctx: RequestContext) -> tuple[tuple[CoinMarket, ...], list[str]]:
    """CoinGecko's top coins, or none with the reason (bounded wait: the screener never stalls on it)."""
    try:
        # shielded: a slow page keeps loading into the cache for the next request instead of being cancelled
        load = asyncio.ensure_future(ctx.services.gateway.coin_markets(COIN_PAGES))
        load.add_done_callback(lambda task: task.cancelled() or task.exception())  # retrieved: never a warning
        reading = await asyncio.wait_for(asyncio.shield(load), COIN_WAIT_SECONDS)
    except TimeoutError:
        return (), [f"coin markets: coingecko did not answer within {COIN_WAIT_SECONDS:g}s (keyless rate limit)"]
    notes = [f"coin markets: {f}" for f in reading.failed]
    if reading.value is None:
        return (), notes or [f"coin markets: {reading.error}"]
    left_out = f"coin markets: only the top {len(reading.value)} coins by market cap are read; smaller ones have none"
    return reading.value, [*notes, left_out]


async def resolve_spikes(
    ctx: RequestContext, min_z: float | None, venues: Sequence[str] | None, limit: int
) -> SpikeScan | InvalidArgument | UpstreamDown:
    """Sample the universe now, then every reading at or over its threshold (``min_z`` replaces the default
    3.0 / 2.5 / 2.0 at every horizon), strongest first."""
    if min_z is not None and not (math.isfinite(min_z) and 0 < min_z <= 100):
        return InvalidArgument("minZ", "minZ must be in (0, 100], or null for the default thresholds")
    if not 1 <= limit <= MAX_SPIKES:
        return InvalidArgument("limit", f"limit must be between 1 and {MAX_SPIKES}")
    try:
        chosen = parse_venues(venues)
    except InvalidArgument as exc:
        return exc
    monitor = ctx.services.spikes
    sample = await monitor.sample(ctx.services.gateway)
    if not sample.volume_venues and not sample.open_interest_venues:
        return UpstreamDown("no venue's volume or open interest could be read", sample.missing)
    history = monitor.history
    thresholds = {h: min_z if min_z is not None else h.threshold for h in Horizon}
    spikes = [s for s in history.spikes(thresholds) if s.venue in chosen]
    warming = tuple(
        f"{h.value}: {n} of {MIN_WINDOWS} past windows sampled"
        for h in Horizon
        if (n := history.windows_available(h)) < MIN_WINDOWS
    )
    return SpikeScan(
        as_of=sample.time,
        spikes=tuple(spikes[:limit]),
        thresholds=thresholds,
        venues=chosen,
        symbols_tracked=len(history),
        history_since=history.first_sample,
        warming_up=warming,
        missing=sample.missing,
    )
