"""The ``orderBook`` field: each venue's book through the gateway, walls and imbalance from the engine.

Checks first, cheapest first: the symbol's spelling, the venues (a name no provider has, or one disabled
here: ``EXCHANGE_NOT_FOUND``; an enabled venue that serves no order books: ``CAPABILITY_NOT_SUPPORTED``),
then whether any listing source lists the symbol. Then one parallel round, one book per venue. A venue
that fails is named in ``failures`` and the others still answer; none answering is ``UPSTREAM_UNAVAILABLE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.orderbook import BookAnalysis, EmptyBook, analyze_book
from providers.venue import Capability
from resolvers.problems import (
    InvalidArgument,
    Problem,
    UnknownExchange,
    UnknownSymbol,
    UnsupportedCapability,
    UpstreamDown,
)
from resolvers.symbols import listed_instrument

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from engine.inputs import Reading
    from engine.market import OrderBook
    from resolvers.context import RequestContext
    from resolvers.order_flow import OrderFlowConfig

OrderBookProblem = InvalidArgument | UnknownSymbol | UnknownExchange | UnsupportedCapability | UpstreamDown


@dataclass(frozen=True, slots=True)
class VenueBook:
    venue: str
    source: str | None
    analysis: BookAnalysis


@dataclass(frozen=True, slots=True)
class OrderBookReport:
    symbol: str
    books: tuple[VenueBook, ...]  # in the order the venues were asked
    failures: tuple[str, ...]  # "venue: why" for each venue that did not answer
    wall_multiple: float
    band_pct: float
    generated_at: datetime


def checked_venues(
    ctx: RequestContext, venues: Sequence[str] | None, capability: Capability | None
) -> tuple[str, ...] | InvalidArgument | UnknownExchange | UnsupportedCapability:
    """The venues asked (deduplicated, lowercase) or the configured defaults that are enabled; each must be
    enabled here and, when ``capability`` is given, serve it."""
    config = ctx.services.order_flow
    registry = ctx.services.gateway.registry
    if venues is None:
        return tuple(v for v in config.venues if v in registry.providers)
    chosen = tuple(dict.fromkeys(v.strip().lower() for v in venues))
    if not chosen or len(chosen) > config.max_venues:
        return InvalidArgument("venues", f"give between 1 and {config.max_venues} venues")
    for name in chosen:
        venue = registry.providers.get(name)
        if venue is None:
            reason = registry.status.get(name)
            known = ", ".join(registry.status)
            message = f"{name} is disabled here: {reason}" if reason else f"unknown exchange {name!r}; known: {known}"
            return UnknownExchange(name, message)
        if capability is not None and not venue.supports(capability):
            message = f"{name} serves no {capability.value} here (see exchanges {{ capabilities }})"
            return UnsupportedCapability(name, capability.value, message)
    return chosen


def analyzed(reading: Reading[OrderBook], config: OrderFlowConfig) -> BookAnalysis | str:
    """The engine's reading of one venue's book, or why there is none."""
    if reading.value is None:
        return reading.error or "no answer"
    try:
        return analyze_book(reading.value, wall_multiple=config.wall_multiple, band_pct=config.band_pct)
    except EmptyBook as exc:
        return str(exc)


async def resolve_order_book(
    ctx: RequestContext, symbol: str, venues: Sequence[str] | None
) -> OrderBookReport | OrderBookProblem:
    chosen = checked_venues(ctx, venues, Capability.ORDER_BOOK)
    if not isinstance(chosen, tuple):
        return chosen
    instrument = await listed_instrument(ctx, symbol)
    if isinstance(instrument, Problem):
        return instrument
    config = ctx.services.order_flow
    gateway = ctx.services.gateway
    readings = await gateway.order_books(instrument, chosen, config.depth)
    books: list[VenueBook] = []
    failures: list[str] = []
    for name in chosen:
        result = analyzed(readings[name], config)
        if isinstance(result, str):
            failures.append(f"{name}: {result}")
        else:
            books.append(VenueBook(name, readings[name].source, result))
    if not books:
        return UpstreamDown(f"no venue answered with an order book for {instrument.canonical}", tuple(failures))
    return OrderBookReport(
        symbol=instrument.canonical,
        books=tuple(books),
        failures=tuple(failures),
        wall_multiple=config.wall_multiple,
        band_pct=config.band_pct,
        generated_at=gateway.now(),
    )
