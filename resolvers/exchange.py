"""The per-venue API: argument checks, one provider call, and every failure mapped to a typed problem."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from engine.market import CandleInterval
from providers.errors import InvalidSymbol, UpstreamError
from providers.symbols import InvalidSymbolFormat, parse_symbol
from providers.venue import CapabilityNotSupported, IntervalNotSupported
from schema.errors import (
    CapabilityUnsupported,
    InvalidInput,
    SymbolNotFound,
    UpstreamUnavailable,
    invalid_input,
    symbol_not_found,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from providers.symbols import Instrument
    from providers.venue import MarketProvider

T = TypeVar("T")
MAX_LIMIT = 1000
Problem = InvalidInput | SymbolNotFound | CapabilityUnsupported | UpstreamUnavailable


def check_limit(limit: int) -> InvalidInput | None:
    if not 1 <= limit <= MAX_LIMIT:
        return invalid_input("limit", f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    return None


def parse_interval(text: str, field: str = "interval") -> CandleInterval | InvalidInput:
    try:
        return CandleInterval.parse(text)
    except ValueError as exc:
        return invalid_input(field, str(exc))


async def call_venue(venue: MarketProvider, symbol: str, call: Callable[[Instrument], Awaitable[T]]) -> T | Problem:
    """Parse the symbol, call the venue, and turn every expected failure into a typed problem."""
    try:
        instrument = parse_symbol(symbol)
    except InvalidSymbolFormat as exc:
        return invalid_input("symbol", str(exc))
    try:
        return await call(instrument)
    except CapabilityNotSupported as exc:
        return CapabilityUnsupported(
            code="CAPABILITY_NOT_SUPPORTED", message=exc.message, exchange=venue.name, capability=exc.capability.value
        )
    except IntervalNotSupported as exc:
        return invalid_input("interval", exc.message)
    except InvalidSymbol as exc:
        return symbol_not_found(
            instrument.canonical, f"{venue.name} does not list {instrument.canonical}: {exc.message}"
        )
    except UpstreamError as exc:
        return UpstreamUnavailable(
            code="UPSTREAM_UNAVAILABLE", message=f"{venue.name} did not answer", failed_sources=[exc.describe()]
        )
