"""Root subscription fields: live liquidations, large trades, candles and signal updates.

The work is :mod:`resolvers.streams` (``Services.streams``: the broker the ingestion publishes to and
the hub that opens upstream sockets; the slots, stream keys and filters); it yields engine events, which
this module turns into GraphQL types, and its refusals (``StreamRefused``) into errors.

Errors (a ``GraphQLError`` with ``extensions.code``), raised before the stream starts, so
graphql-transport-ws answers with an ``error`` message:

- ``STREAMS_UNAVAILABLE``: no stream services configured in this process.
- ``TOO_MANY_SUBSCRIPTIONS``: the connection already runs ``max_subscriptions_per_connection``.
- ``INVALID_INPUT``: a symbol, venue or interval that cannot be parsed.
- ``EXCHANGE_NOT_FOUND``: no provider has that venue name.
- ``SYMBOL_NOT_FOUND``: a symbol no listing source lists.
- ``STREAM_UNSUPPORTED``: the venue offers no such stream (Binance trades of every symbol, Hyperliquid
  liquidations, any stream of a REST-only provider).
- ``STREAM_NOT_RECORDED``: replay mode, and the cassette holds no such stream (it would never send).

Execution cost: graphql-core 3.3.2 executes each event through a per-event copy of the operation's
executor that shares its ``_relevant_sub_fields`` memo; every event adds entries keyed by fresh field
lists, never cleared (~2.2 KB per message). :class:`LeakFreeExecutionContext` gives each per-event
executor its own memo; a schema serving subscriptions must be built with
``execution_context_class=LeakFreeExecutionContext``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator  # noqa: TC003 - strawberry reads resolver annotations at runtime
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import Info  # noqa: TC002 - strawberry reads annotations at runtime

from engine import DEFAULT_MODE, Mode
from engine.market import Timeframe
from resolvers import streams
from resolvers.context import RequestContext  # noqa: TC001
from resolvers.problems import Problem
from schema.alerts import Alert
from schema.alerts import alerts as alert_stream
from schema.enums import (
    CandleIntervalEnum,
    ModeEnum,
    PositionSideEnum,
    TakerSide,
    TakerSideEnum,
    TimeframeEnum,
    Venue,
    VenueEnum,
)
from schema.types import Signal
from schema.universe import MinZArg, SpikeScan, spike_scans

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from graphql.execution import Executor

    from engine.market import CandleUpdate, Liquidation, Trade

DEFAULT_TIMEFRAME = Timeframe.H4
log = logging.getLogger(__name__)
T = TypeVar("T")
SymbolsFilter = Annotated[
    list[str] | None,
    strawberry.argument(description="Only these USDT perpetuals (BTC, ETHUSDT ...); null: every symbol."),
]
VenuesFilter = Annotated[
    list[str] | None,
    strawberry.argument(
        description="Only these venues, case-insensitive (binance, bybit ...); null: the server's default (binance)."
    ),
]
G = TypeVar("G")


class LeakFreeExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Each subscription event gets its own subfield memo instead of growing the operation's forever."""

    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        return executor


def _error(code: str, message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


async def _checked(open_stream: Callable[[], Awaitable[AsyncGenerator[T, None]]]) -> AsyncGenerator[T, None]:
    """The resolver's checks run now: a refusal becomes a ``GraphQLError`` before the stream starts."""
    try:
        return await open_stream()
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
        except GraphQLError:
            raise
        except Exception as exc:  # a bug, not a refusal: logged, and the subscriber still gets a code
            log.exception("subscription stream failed")
            raise _error("INTERNAL_SERVER_ERROR", "the stream failed on the server") from exc


@strawberry.type(description="A forced liquidation; side is the liquidated position's side.")
class LiveLiquidation:
    venue: VenueEnum = strawberry.field(description="Where the position was liquidated.")  # type: ignore[valid-type]
    symbol: str = strawberry.field(description="The USDT perpetual, canonical spelling (BTCUSDT).")
    side: PositionSideEnum = strawberry.field(  # type: ignore[valid-type]
        description="The liquidated position's side: LONG (forced sell) or SHORT (forced buy)."
    )
    price: float = strawberry.field(description="Fill price in USDT.")
    size: float = strawberry.field(description="In coins of the base asset.")
    value_usd: float = strawberry.field(description="price × size, in USD(T).")
    time: datetime = strawberry.field(description="The venue's event time (UTC, ISO-8601).")
    received_at: datetime | None = strawberry.field(
        description="When this server received it (UTC, ISO-8601): minus time, the feed's delay."
    )

    @classmethod
    def of(cls, e: Liquidation) -> LiveLiquidation:
        return cls(
            venue=Venue(e.venue),
            symbol=e.symbol,
            side=e.side,
            price=e.price,
            size=e.size,
            value_usd=e.usd,
            time=e.time,
            received_at=e.received_at,
        )


@strawberry.type(description="A trade at or above the subscription's minValueUsd; takerSide is the aggressor.")
class LiveTrade:
    venue: VenueEnum = strawberry.field(description="Where the trade printed.")  # type: ignore[valid-type]
    symbol: str = strawberry.field(description="The USDT perpetual, canonical spelling (BTCUSDT).")
    taker_side: TakerSideEnum = strawberry.field(  # type: ignore[valid-type]
        description="The aggressor: BUY (lifted the ask) or SELL (hit the bid)."
    )
    price: float = strawberry.field(description="Trade price in USDT.")
    size: float = strawberry.field(description="In coins of the base asset.")
    value_usd: float = strawberry.field(description="price × size, in USD(T).")
    time: datetime = strawberry.field(description="The venue's trade time (UTC, ISO-8601).")
    received_at: datetime | None = strawberry.field(description="When this server received it (UTC, ISO-8601).")

    @classmethod
    def of(cls, e: Trade) -> LiveTrade:
        return cls(
            venue=Venue(e.venue),
            symbol=e.symbol,
            taker_side=TakerSide(e.taker_side.upper()),
            price=e.price,
            size=e.size,
            value_usd=e.usd,
            time=e.time,
            received_at=e.received_at,
        )


@strawberry.type(description="The forming (closed: false) or just-closed (closed: true) candle.")
class LiveCandle:
    venue: VenueEnum = strawberry.field(description="The venue.")  # type: ignore[valid-type]
    symbol: str = strawberry.field(description="The USDT perpetual, canonical spelling (BTCUSDT).")
    interval: CandleIntervalEnum = strawberry.field(description="The candle's length.")  # type: ignore[valid-type]
    open_time: datetime = strawberry.field(description="When the candle opened (UTC, ISO-8601).")
    open: float = strawberry.field(description="First price in USDT.")
    high: float = strawberry.field(description="Highest price in USDT so far.")
    low: float = strawberry.field(description="Lowest price in USDT so far.")
    close: float = strawberry.field(description="Last price in USDT (the current price while forming).")
    volume: float = strawberry.field(description="Traded volume in coins of the base asset.")
    closed: bool = strawberry.field(description="true once the candle is final; false while it forms.")
    received_at: datetime = strawberry.field(description="When this server received the update (UTC, ISO-8601).")

    @classmethod
    def of(cls, e: CandleUpdate) -> LiveCandle:
        c = e.candle
        return cls(
            venue=Venue(e.venue),
            symbol=e.symbol,
            interval=e.interval,
            open_time=c.open_time,
            open=c.open,
            high=c.high,
            low=c.low,
            close=c.close,
            volume=c.volume,
            closed=e.closed,
            received_at=e.received_at,
        )


@strawberry.type(
    description="Live streams over graphql-transport-ws (/graphql). A refused subscription ends with an `error` "
    "message carrying extensions.code."
)
class Subscription:
    @strawberry.subscription(
        description="Forced liquidations of at least minValueUsd (default LIQUIDATION_MIN_VALUE_USD, 5,000)."
    )
    async def liquidations(
        self,
        info: Info[RequestContext, None],
        symbols: SymbolsFilter = None,
        venues: VenuesFilter = None,
        min_value_usd: Annotated[
            float | None,
            strawberry.argument(description="Smallest liquidation in USD to receive; null: the server's default."),
        ] = None,
    ) -> AsyncGenerator[LiveLiquidation, None]:
        events = await _checked(lambda: streams.liquidations(info.context, symbols, venues, min_value_usd))
        return _mapped(events, LiveLiquidation.of)

    @strawberry.subscription(
        description="Trades of at least minValueUsd (default LARGE_TRADE_THRESHOLD_USD, 100,000); the taker side."
    )
    async def large_trades(
        self,
        info: Info[RequestContext, None],
        symbols: SymbolsFilter = None,
        venues: VenuesFilter = None,
        min_value_usd: Annotated[
            float | None,
            strawberry.argument(description="Smallest trade in USD to receive; null: the server's default."),
        ] = None,
    ) -> AsyncGenerator[LiveTrade, None]:
        events = await _checked(lambda: streams.large_trades(info.context, symbols, venues, min_value_usd))
        return _mapped(events, LiveTrade.of)

    @strawberry.subscription(description="Candle updates of one symbol, venue and interval (1m, 5m, 1h, ...).")
    async def candles(
        self,
        info: Info[RequestContext, None],
        symbol: Annotated[str, strawberry.argument(description="The USDT perpetual: BTC, BTCUSDT, BTC-USDT ...")],
        venue: Annotated[
            str, strawberry.argument(description="The venue's name, case-insensitive (binance by default).")
        ] = "binance",
        interval: Annotated[
            str,
            strawberry.argument(
                description="Candle length: 1m (default), 3m, 5m, 15m, 30m, 1h, 2h, 4h ... or M1, H1 ..."
            ),
        ] = "1m",
    ) -> AsyncGenerator[LiveCandle, None]:
        events = await _checked(lambda: streams.candles(info.context, symbol, venue, interval))
        return _mapped(events, LiveCandle.of)

    @strawberry.subscription(
        description="The signal, pushed first and then whenever the recommendation changes or the score moves "
        "by more than scoreThreshold; re-evaluated on each closed candle of the timeframe and on a timer."
    )
    async def signal_updates(
        self,
        info: Info[RequestContext, None],
        symbols: Annotated[
            list[str], strawberry.argument(description="USDT perpetuals to watch: BTC, ETHUSDT ... (one event each).")
        ],
        mode: Annotated[
            ModeEnum,  # type: ignore[valid-type]
            strawberry.argument(description="Threshold set: CONSERVATIVE, AGGRESSIVE (default) or ULTRA."),
        ] = DEFAULT_MODE,
        timeframe: Annotated[
            TimeframeEnum,  # type: ignore[valid-type]
            strawberry.argument(description="Candle interval the factors are read on: M15, H1, H4 (default), D1."),
        ] = DEFAULT_TIMEFRAME,
        score_threshold: Annotated[
            float,
            strawberry.argument(description="Push when the score moves by more than this many points (0..100 scale)."),
        ] = 2.0,
    ) -> AsyncGenerator[Signal, None]:
        events = await _checked(
            lambda: streams.signal_updates(info.context, symbols, Mode(mode), Timeframe(timeframe), score_threshold)
        )
        return _mapped(events, Signal.of)

    @strawberry.subscription(
        description="Spike scans of the whole USD-M universe: one now, then one a minute (one shared scan for "
        "every subscriber with the same minZ); each lists the readings at or over their threshold."
    )
    async def spikes(self, info: Info[RequestContext, None], min_z: MinZArg = None) -> AsyncGenerator[SpikeScan, None]:
        return await spike_scans(info.context, min_z)

    @strawberry.subscription(
        description="Your alert rules' alerts as the scanner fires them (an admin key gets every rule's); "
        "ALERTS_UNAVAILABLE without the history database."
    )
    async def alerts(self, info: Info[RequestContext, None]) -> AsyncGenerator[Alert, None]:
        async for alert in alert_stream(info):
            yield alert
