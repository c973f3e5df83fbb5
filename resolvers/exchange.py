"""The per-venue API (``exchanges``, ``exchange(name) { ... }``): argument checks, one provider call, and
every expected failure as a domain problem. ``schema.market`` turns the results into GraphQL types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from engine.market import CandleInterval
from providers.errors import InvalidSymbol, UpstreamError
from providers.symbols import InvalidSymbolFormat, parse_symbol
from providers.venue import Capability, CapabilityNotSupported, IntervalNotSupported
from resolvers.problems import InvalidArgument, UnknownExchange, UnknownSymbol, UnsupportedCapability, UpstreamDown

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from engine.market import Candle, FundingRate, OpenInterest, OpenInterestPoint
    from providers.registry import Registry
    from providers.symbols import Instrument
    from providers.venue import MarketProvider

__all__ = ["Capability", "ExchangeStatus", "Series", "VenueApi", "exchange", "exchange_statuses"]

T = TypeVar("T")
MAX_LIMIT = 1000
VenueProblem = InvalidArgument | UnknownSymbol | UnsupportedCapability | UpstreamDown


@dataclass(frozen=True, slots=True)
class Series(Generic[T]):
    """A venue's series for one symbol (canonical spelling), oldest first."""

    exchange: str
    symbol: str
    items: tuple[T, ...]
    interval: CandleInterval | None = None  # of candles, or the period of a history


@dataclass(frozen=True, slots=True)
class ExchangeStatus:
    name: str
    enabled: bool
    status: str
    capabilities: tuple[Capability, ...]


def _capabilities(venue: MarketProvider) -> tuple[Capability, ...]:
    return tuple(sorted(venue.capabilities, key=lambda c: c.value))


def check_limit(limit: int) -> InvalidArgument | None:
    if not 1 <= limit <= MAX_LIMIT:
        return InvalidArgument("limit", f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    return None


def parse_interval(text: str, field: str = "interval") -> CandleInterval | InvalidArgument:
    try:
        return CandleInterval.parse(text)
    except ValueError as exc:
        return InvalidArgument(field, str(exc))


class VenueApi:
    """One enabled venue, as the ``exchange(name)`` field serves it."""

    def __init__(self, venue: MarketProvider) -> None:
        self._venue = venue
        self.name = venue.name
        self.capabilities = _capabilities(venue)

    async def _call(self, symbol: str, call: Callable[[Instrument], Awaitable[T]]) -> tuple[str, T] | VenueProblem:
        """Parse the symbol, call the venue, and turn every expected failure into a domain problem."""
        try:
            instrument = parse_symbol(symbol)
        except InvalidSymbolFormat as exc:
            return InvalidArgument("symbol", str(exc))
        try:
            return instrument.canonical, await call(instrument)
        except CapabilityNotSupported as exc:
            return UnsupportedCapability(self.name, exc.capability.value, exc.message)
        except IntervalNotSupported as exc:
            return InvalidArgument("interval", exc.message)
        except InvalidSymbol as exc:
            canonical = instrument.canonical
            return UnknownSymbol(canonical, f"{self.name} does not list {canonical}: {exc.message}")
        except UpstreamError as exc:
            return UpstreamDown(f"{self.name} did not answer", (exc.describe(),))

    async def _series(
        self,
        symbol: str,
        call: Callable[[Instrument], Awaitable[tuple[T, ...]]],
        interval: CandleInterval | None = None,
    ) -> Series[T] | VenueProblem:
        result = await self._call(symbol, call)
        if not isinstance(result, tuple):
            return result
        canonical, items = result
        return Series(self.name, canonical, items, interval)

    async def candles(self, symbol: str, interval: str, limit: int) -> Series[Candle] | VenueProblem:
        parsed = parse_interval(interval)
        if isinstance(parsed, InvalidArgument):
            return parsed
        if (problem := check_limit(limit)) is not None:
            return problem
        return await self._series(symbol, lambda i: self._venue.candles(i, parsed, limit), parsed)

    async def open_interest(self, symbol: str) -> OpenInterest | VenueProblem:
        result = await self._call(symbol, self._venue.open_interest)
        return result[1] if isinstance(result, tuple) else result

    async def open_interest_history(
        self, symbol: str, period: str, limit: int
    ) -> Series[OpenInterestPoint] | VenueProblem:
        parsed = parse_interval(period, "period")
        if isinstance(parsed, InvalidArgument):
            return parsed
        if (problem := check_limit(limit)) is not None:
            return problem
        return await self._series(symbol, lambda i: self._venue.open_interest_history(i, parsed, limit), parsed)

    async def funding(self, symbol: str) -> FundingRate | VenueProblem:
        result = await self._call(symbol, self._venue.funding)
        return result[1] if isinstance(result, tuple) else result

    async def funding_history(self, symbol: str, limit: int) -> Series[FundingRate] | VenueProblem:
        if (problem := check_limit(limit)) is not None:
            return problem
        return await self._series(symbol, lambda i: self._venue.funding_history(i, limit))


def exchange_statuses(registry: Registry) -> list[ExchangeStatus]:
    """Every known exchange and data vendor, enabled or not."""
    return [
        ExchangeStatus(
            name=name,
            enabled=name in registry.providers,
            status=status,
            capabilities=_capabilities(registry.providers[name]) if name in registry.providers else (),
        )
        for name, status in registry.status.items()
    ]


def exchange(registry: Registry, name: str) -> VenueApi | UnknownExchange:
    wanted = name.strip().lower()
    venue = registry.providers.get(wanted)
    if venue is not None:
        return VenueApi(venue)
    if wanted in registry.status:
        return UnknownExchange(name, f"{name} is disabled here: {registry.status[wanted]}")
    return UnknownExchange(name, f"unknown exchange {name!r}; known: {', '.join(registry.status)}")
