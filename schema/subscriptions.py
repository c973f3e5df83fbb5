"""Root subscription fields: live liquidations, large trades, candles and signal updates.

The work is :mod:`resolvers.streams` (``Services.streams``: the broker the ingestion publishes to and
the hub that opens upstream sockets; the slots, stream keys and filters); it yields engine events, which
this module turns into GraphQL types, and its refusals (``StreamRefused``) into errors.

Errors (a ``GraphQLError`` with ``extensions.code``), raised before the stream starts, so
graphql-transport-ws answers with an ``error`` message:

- ``STREAMS_UNAVAILABLE``: no stream services configured in this process.
- ``TOO_MANY_SUBSCRIPTIONS``: the connection already runs ``max_subscriptions_per_connection``.
- ``INVALID_INPUT``: a symbol, venue or interval that cannot be parsed.
- ``SYMBOL_NOT_FOUND`` (``signalUpdates``): the symbol is not listed.

Execution cost: graphql-core 3.3.2 executes each event through a per-event copy of the operation's
executor that shares its ``_relevant_sub_fields`` memo; every event adds entries keyed by fresh field
lists, never cleared (~2.2 KB per message). :class:`LeakFreeExecutionContext` gives each per-event
executor its own memo; a schema serving subscriptions must be built with
``execution_context_class=LeakFreeExecutionContext``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator  # noqa: TC003 - strawberry reads resolver annotations at runtime
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import Info  # noqa: TC002 - strawberry reads annotations at runtime

from engine import DEFAULT_MODE, Mode
from engine.market import Timeframe
from resolvers import streams
from resolvers.context import RequestContext  # noqa: TC001
from resolvers.problems import Problem
from schema.types import ModeEnum, Signal, TimeframeEnum

if TYPE_CHECKING:
    from collections.abc import Callable

    from graphql.execution import Executor

    from engine.market import CandleUpdate, Liquidation, Trade

DEFAULT_TIMEFRAME = Timeframe.H4
T = TypeVar("T")
G = TypeVar("G")


class LeakFreeExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Each subscription event gets its own subfield memo instead of growing the operation's forever."""

    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        return executor


def _error(code: str, message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


def _checked(open_stream: Callable[[], AsyncGenerator[T, None]]) -> AsyncGenerator[T, None]:
    """The resolver's checks run now: a refusal becomes a ``GraphQLError`` before the stream starts."""
    try:
        return open_stream()
    except Problem as exc:
        raise _error(exc.code, exc.message) from exc


async def _mapped(events: AsyncGenerator[T, None], convert: Callable[[T], G]) -> AsyncGenerator[G, None]:
    """The resolver's events as GraphQL types; closing this closes them (slots, upstream streams)."""
    async with contextlib.aclosing(events):
        try:
            async for event in events:
                yield convert(event)
        except Problem as exc:
            raise _error(exc.code, exc.message) from exc


@strawberry.type(description="A forced liquidation; side is the liquidated position's side.")
class LiveLiquidation:
    venue: str
    symbol: str
    side: str
    price: float
    size: float = strawberry.field(description="In coins.")
    value_usd: float
    time: datetime
    received_at: datetime | None

    @classmethod
    def of(cls, e: Liquidation) -> LiveLiquidation:
        return cls(
            venue=e.venue,
            symbol=e.symbol,
            side=e.side.value,
            price=e.price,
            size=e.size,
            value_usd=e.usd,
            time=e.time,
            received_at=e.received_at,
        )


@strawberry.type(description="A trade at or above the subscription's minValueUsd; takerSide is the aggressor.")
class LiveTrade:
    venue: str
    symbol: str
    taker_side: str
    price: float
    size: float = strawberry.field(description="In coins.")
    value_usd: float
    time: datetime
    received_at: datetime | None

    @classmethod
    def of(cls, e: Trade) -> LiveTrade:
        return cls(
            venue=e.venue,
            symbol=e.symbol,
            taker_side=e.taker_side,
            price=e.price,
            size=e.size,
            value_usd=e.usd,
            time=e.time,
            received_at=e.received_at,
        )


@strawberry.type(description="The forming (closed: false) or just-closed (closed: true) candle.")
class LiveCandle:
    venue: str
    symbol: str
    interval: str
    open_time: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
    closed: bool
    received_at: datetime

    @classmethod
    def of(cls, e: CandleUpdate) -> LiveCandle:
        c = e.candle
        return cls(
            venue=e.venue,
            symbol=e.symbol,
            interval=e.interval.value,
            open_time=c.open_time,
            open=c.open,
            high=c.high,
            low=c.low,
            close=c.close,
            volume=c.volume,
            closed=e.closed,
            received_at=e.received_at,
        )


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Forced liquidations of at least minValueUsd (default LIQUIDATION_MIN_VALUE_USD, 5,000)."
    )
    async def liquidations(
        self,
        info: Info[RequestContext, None],
        symbols: list[str] | None = None,
        venues: list[str] | None = None,
        min_value_usd: float | None = None,
    ) -> AsyncGenerator[LiveLiquidation, None]:
        events = _checked(lambda: streams.liquidations(info.context, symbols, venues, min_value_usd))
        return _mapped(events, LiveLiquidation.of)

    @strawberry.subscription(
        description="Trades of at least minValueUsd (default LARGE_TRADE_THRESHOLD_USD, 100,000); the taker side."
    )
    async def large_trades(
        self,
        info: Info[RequestContext, None],
        symbols: list[str] | None = None,
        venues: list[str] | None = None,
        min_value_usd: float | None = None,
    ) -> AsyncGenerator[LiveTrade, None]:
        events = _checked(lambda: streams.large_trades(info.context, symbols, venues, min_value_usd))
        return _mapped(events, LiveTrade.of)

    @strawberry.subscription(description="Candle updates of one symbol, venue and interval (1m, 5m, 1h, ...).")
    async def candles(
        self, info: Info[RequestContext, None], symbol: str, venue: str = "binance", interval: str = "1m"
    ) -> AsyncGenerator[LiveCandle, None]:
        events = _checked(lambda: streams.candles(info.context, symbol, venue, interval))
        return _mapped(events, LiveCandle.of)

    @strawberry.subscription(
        description="The signal, pushed first and then whenever the recommendation changes or the score moves "
        "by more than scoreThreshold; re-evaluated on each closed candle of the timeframe and on a timer."
    )
    async def signal_updates(
        self,
        info: Info[RequestContext, None],
        symbols: list[str],
        mode: ModeEnum = DEFAULT_MODE,  # type: ignore[valid-type]
        timeframe: TimeframeEnum = DEFAULT_TIMEFRAME,  # type: ignore[valid-type]
        score_threshold: float = 2.0,
    ) -> AsyncGenerator[Signal, None]:
        events = _checked(
            lambda: streams.signal_updates(info.context, symbols, Mode(mode), Timeframe(timeframe), score_threshold)
        )
        return _mapped(events, Signal.of)
