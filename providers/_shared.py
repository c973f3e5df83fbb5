"""What the venue folders (``providers/<venue>/``) share, so no venue copies it.

- :class:`VenueModel`: the base of every venue's wire models (frozen, unknown fields ignored, NaN refused).
- :class:`RowModel`: a wire model read from a positional JSON array (candles, statistics rows).
- :data:`OptFloat` / :data:`OptInt`: a field that venues send as ``""`` or omit when it has no value.
- :func:`converted`: venue models → our models under the same rules the HTTP layer applies to a parse,
  so a conversion that fails, or yields a NaN or infinity, is a typed ``MalformedPayload`` naming the
  endpoint, never a crash.
- :class:`Conversions`: the same, once per raw answer: a cached answer is not converted again on every call.
- :class:`ErrorCodes`: a venue's error-envelope codes mapped onto our error taxonomy in one place.
- :data:`PERPETUALS_CORE`: what every perpetual-futures exchange adapter serves; each adds its own.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Generic, Self, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, TypeAdapter

from providers.errors import (
    InvalidRequest,
    InvalidSymbol,
    RateLimited,
    UpstreamError,
    UpstreamUnavailable,
    non_finite,
    unexpected_shape,
)
from providers.normalize import clamp_limit, first_non_finite
from providers.venue import Capability, MarketProvider, interval_code

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping, Sequence

    from engine.market import CandleInterval
    from providers.symbols import Instrument

A = TypeVar("A")
R = TypeVar("R")
M = TypeVar("M", bound=BaseModel)


class VenueModel(BaseModel):
    """Shaped like the venue's JSON (its field names). Numbers sent as strings parse to float (the written
    decision in :mod:`engine.market`); a missing documented field is a ``ValidationError``, which the HTTP
    layer reports as MalformedPayload. ``allow_inf_nan=False``: ``"NaN"`` is a malformed payload, not a value.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)


class RowModel(VenueModel):
    """A row sent as a JSON array: the fields are named in declaration order; trailing optional fields may
    be absent, and extra trailing columns are ignored."""

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Self:
        if not isinstance(row, list | tuple):
            raise TypeError(f"{cls.__name__} row is {type(row).__name__}, expected a list")
        return cls.model_validate(dict(zip(field_names(cls), row, strict=False)))


@functools.cache
def field_names(model: type[BaseModel]) -> tuple[str, ...]:
    """A model's field names in declaration order, read once: pydantic's ``model_fields`` is a
    deprecation-checking property (about 3 µs a read, once per candle row before)."""
    return tuple(model.model_fields)


def rows_as(model: type[M], rows: Sequence[Any]) -> tuple[M, ...]:
    """Rows as models: objects validated by field name (:func:`rows_parser`), arrays (a :class:`RowModel`)
    by position."""
    if issubclass(model, RowModel):
        return tuple(model.from_row(row) for row in rows)
    return rows_parser(model)(rows)


@functools.cache
def rows_parser(model: type[M]) -> Callable[[Any], tuple[M, ...]]:
    """A JSON array of objects as ``model`` rows, validated in one pydantic call for the whole answer (about
    half the cost of a ``model_validate`` per row; an error's location starts with the row's index). Built
    once per model, when first asked: Binance asks at import (``providers.binance.raw``), so no request of
    its pays for building a validator; OKX and Bybit build theirs on their first answer of each kind."""
    return TypeAdapter(tuple[model, ...]).validate_python  # type: ignore[valid-type]


def _blank_is_none(value: Any) -> Any:
    return None if value == "" else value


OptFloat = Annotated[float | None, BeforeValidator(_blank_is_none)]
OptInt = Annotated[int | None, BeforeValidator(_blank_is_none)]


def converted(provider: str, endpoint: str, value: A, convert: Callable[[A], R]) -> R:
    """``convert(value)``, with a bad shape or a non-finite result reported as the HTTP layer would."""
    try:
        result = convert(value)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise unexpected_shape(provider, endpoint, exc) from exc
    where = first_non_finite(result)
    if where is not None:
        raise non_finite(provider, endpoint, where)
    return result


class Conversions:
    """:func:`converted`, memoized per raw answer object.

    The HTTP layer caches venue models for their TTL and hands out the same object on every hit; converting
    it again on each call costs more than the call (300 OKX candles: ~5 ms). The memo is keyed by the
    answer's identity (and the conversion's extra arguments) and holds the answer, so an identity is never
    reused while its entry lives; a new answer after the TTL is a new key. Bounded: least recently used
    entries go first.
    """

    def __init__(self, provider: str, size: int = 128) -> None:
        self._provider = provider
        self._size = size
        self._memo: OrderedDict[tuple[object, ...], tuple[object, object]] = OrderedDict()

    def __call__(self, endpoint: str, value: A, convert: Callable[..., R], *args: object) -> R:
        key = (endpoint, convert, id(value), *args)
        hit = self._memo.get(key)
        if hit is not None and hit[0] is value:
            self._memo.move_to_end(key)
            result: R = hit[1]  # type: ignore[assignment]
            return result
        result = converted(self._provider, endpoint, value, lambda v: convert(v, *args))
        self._memo[key] = (value, result)
        if len(self._memo) > self._size:
            self._memo.popitem(last=False)
        return result


PERPETUALS_CORE = frozenset(
    {
        Capability.TICKER,
        Capability.CANDLES,
        Capability.FUNDING,
        Capability.FUNDING_HISTORY,
        Capability.OPEN_INTEREST,
        Capability.ORDER_BOOK,
    }
)


CEX_MARKET_DATA = frozenset(
    {
        Capability.OPEN_INTEREST_HISTORY,
        Capability.LONG_SHORT_RATIO,
        Capability.TRADES,
        Capability.INSTRUMENTS,
        Capability.TICKERS,
    }
)
"""What the centralized exchanges' public APIs add to :data:`PERPETUALS_CORE` (Bybit and OKX alike)."""


@dataclass(frozen=True, slots=True)
class PeriodSeries:
    """One statistics endpoint of a venue: its name, its period spellings, the most rows one answer holds."""

    endpoint: str
    periods: Mapping[CandleInterval, str]
    max_rows: int


ClientT = TypeVar("ClientT")


class ExchangeVenue(MarketProvider, Generic[ClientT]):
    """An exchange adapter over its raw client: ``raw`` answers in the venue's models, ``_convert`` turns
    each (cached) answer into engine models once (:class:`Conversions`)."""

    def __init__(self, client: ClientT) -> None:
        self.raw = client
        self._convert = Conversions(self.name)

    async def _period_series(
        self,
        spec: PeriodSeries,
        fetch: Callable[[str, str, int], Awaitable[A]],
        convert: Callable[[A], R],
        asked: tuple[Instrument, CandleInterval, int],
    ) -> R:
        """A statistics series asked as (venue symbol, venue period, rows): open-interest history and
        account ratios, spelled the venue's way, capped at what one answer serves, converted once."""
        instrument, interval, limit = asked
        period = interval_code(self.name, spec.endpoint, interval, spec.periods)
        rows = await fetch(instrument.for_provider(self.name), period, clamp_limit(limit, spec.max_rows))
        return self._convert(spec.endpoint, rows, convert)


def status_decides(status: int) -> bool:
    """HTTP 418 / 429 / 451 / 5xx are classified by their status (with ``Retry-After``) in
    :func:`providers.errors.classify_status`, whatever the body says."""
    return status in (418, 429, 451) or status >= 500


@dataclass(frozen=True, slots=True)
class ErrorCodes:
    """A venue's error-envelope codes by what the caller should do; any other code is a bad request."""

    rate_limited: frozenset[str]
    unavailable: frozenset[str]
    bad_symbol: frozenset[str] = frozenset()

    def error(
        self, provider: str, endpoint: str, status: int, code: str, message: str, *, bad_symbol: bool = False
    ) -> UpstreamError:
        """``bad_symbol``: the venue said so in words rather than by code (Bybit)."""
        if code in self.rate_limited:
            return RateLimited(provider, endpoint, message, status=status)
        if code in self.unavailable:
            return UpstreamUnavailable(provider, endpoint, message, status=status)
        if bad_symbol or code in self.bad_symbol:
            return InvalidSymbol(provider, endpoint, message, status=status)
        return InvalidRequest(provider, endpoint, message, status=status)
