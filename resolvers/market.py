"""The cross-venue market view: price from the first venue that answers, and funding, open interest and
long/short ratios from every venue that serves them, fetched in one concurrent round, each with its
source, and every failure named."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from providers.errors import InvalidSymbol, UpstreamError
from providers.venue import Capability
from resolvers.gateway import DEFAULT_SOURCE_ORDER
from resolvers.problems import InvalidArgument, Problem, UnknownSymbol, UpstreamDown
from resolvers.symbols import listed_instrument

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from datetime import datetime

    from engine.market import FundingRate, LongShortPoint, OpenInterest, Ticker24h
    from providers.registry import Registry
    from providers.symbols import Instrument
    from providers.venue import MarketProvider
    from resolvers.context import RequestContext

T = TypeVar("T")

# Which venue answers the single-valued fields first (the signal's price order); the others follow.
PRICE_ORDER = DEFAULT_SOURCE_ORDER["price"]
# The latest long/short reading; 4 h matches the default signal timeframe and every venue serves it.
RATIO_PERIOD = "4h"


@dataclass(frozen=True, slots=True)
class Sourced(Generic[T]):
    venue: str
    value: T


@dataclass(frozen=True, slots=True)
class MarketView:
    symbol: str
    ticker: Sourced[Ticker24h] | None
    funding: tuple[Sourced[FundingRate], ...]
    open_interest: tuple[Sourced[OpenInterest], ...]
    long_short: tuple[Sourced[LongShortPoint], ...]
    failures: tuple[str, ...]
    generated_at: datetime
    symbol_unknown: bool

    @property
    def open_interest_total_usd(self) -> float | None:
        values = [s.value.usd for s in self.open_interest if s.value.usd is not None]
        return sum(values) if values else None


async def _attempt(venue: MarketProvider, call: Callable[[], Awaitable[T]]) -> Sourced[T] | UpstreamError:
    try:
        return Sourced(venue.name, await call())
    except UpstreamError as exc:
        return exc


async def _first_ticker(
    venues: Callable[[Capability], list[MarketProvider]], instrument: Instrument
) -> tuple[Sourced[Ticker24h] | None, list[str], bool]:
    """Venues in :data:`PRICE_ORDER`, one after another, until one answers."""
    failures: list[str] = []
    rejected_by_all = True
    for venue in venues(Capability.TICKER):
        result = await _attempt(venue, lambda v=venue: v.ticker(instrument))  # type: ignore[misc]
        if isinstance(result, Sourced):
            return result, failures, False
        failures.append(result.describe())
        rejected_by_all = rejected_by_all and isinstance(result, InvalidSymbol)
    return None, failures, rejected_by_all and bool(failures)


def _split(
    results: list[Sourced[Any] | UpstreamError],
) -> tuple[list[Sourced[Any]], list[str]]:
    answered = [r for r in results if isinstance(r, Sourced)]
    failed = [r.describe() for r in results if isinstance(r, UpstreamError)]
    return answered, failed


async def market_view(
    registry: Registry,
    instrument: Instrument,
    now: datetime,
    per_request: Callable[[MarketProvider], MarketProvider] = lambda venue: venue,
) -> MarketView:
    """``per_request`` maps each venue to its request-scoped view, so that a query asking for many
    symbols batches the venues' all-symbol endpoints."""
    from engine.market import CandleInterval

    def venues(capability: Capability) -> list[MarketProvider]:
        return [per_request(v) for v in registry.with_capability(capability, PRICE_ORDER)]

    async def latest_ratio(venue: MarketProvider) -> LongShortPoint:
        points = await venue.long_short_ratio(instrument, CandleInterval(RATIO_PERIOD), 30)
        if not points:
            raise InvalidSymbol(venue.name, "long_short_ratio", "no ratio points returned")
        return points[-1]

    ticker_task = asyncio.ensure_future(_first_ticker(venues, instrument))
    funding_venues = venues(Capability.FUNDING)
    oi_venues = venues(Capability.OPEN_INTEREST)
    # one gather over every venue's reads (not one per input): a task fewer per input and symbol
    results = await asyncio.gather(
        *(_attempt(v, lambda v=v: v.funding(instrument)) for v in funding_venues),  # type: ignore[misc]
        *(_attempt(v, lambda v=v: v.open_interest(instrument)) for v in oi_venues),  # type: ignore[misc]
        *(_attempt(v, lambda v=v: latest_ratio(v)) for v in venues(Capability.LONG_SHORT_RATIO)),  # type: ignore[misc]
    )
    first_oi = len(funding_venues)
    first_ratio = first_oi + len(oi_venues)
    funding, f_fail = _split(results[:first_oi])
    oi, oi_fail = _split(results[first_oi:first_ratio])
    ratios, r_fail = _split(results[first_ratio:])
    ticker, t_fail, unknown = await ticker_task
    return MarketView(
        symbol=instrument.canonical,
        ticker=ticker,
        funding=tuple(funding),
        open_interest=tuple(oi),
        long_short=tuple(ratios),
        # one all-symbol upstream call serves several inputs (Bybit's tickers: price and funding), so the
        # same failure comes back once per input: name it once, in first-seen order
        failures=tuple(dict.fromkeys((*t_fail, *f_fail, *oi_fail, *r_fail))),
        generated_at=now,
        symbol_unknown=unknown and not funding and not oi,
    )


async def resolve_market(
    ctx: RequestContext, symbol: str
) -> MarketView | InvalidArgument | UnknownSymbol | UpstreamDown:
    """The ``market`` field: the symbol checked against every listing source, then :func:`market_view`
    through this request's loaders; a problem when no venue lists it or none answered."""
    instrument = await listed_instrument(ctx, symbol)
    if isinstance(instrument, Problem):
        return instrument
    gateway = ctx.services.gateway
    view = await market_view(gateway.registry, instrument, gateway.now(), ctx.loaders.venue)
    if view.symbol_unknown:
        return UnknownSymbol(view.symbol, f"no venue lists {view.symbol}")
    if view.ticker is None and not view.funding and not view.open_interest:
        return UpstreamDown(f"no venue answered for {view.symbol}", view.failures)
    return view
