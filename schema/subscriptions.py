"""Root subscription fields: live liquidations, large trades, candles and signal updates.

Sources come from ``services.extras["streams"]``, a :class:`StreamServices` (the broker the ingestion
publishes to and the hub that opens upstream sockets). Each subscription acquires the stream keys it
needs from the hub (released when it ends), reads one bounded broker subscription (drop-oldest, so a
slow client loses old events rather than holding memory) and applies its filters before anything is
executed.

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

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncGenerator  # noqa: TC003 - strawberry reads resolver annotations at runtime
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import strawberry
from graphql import GraphQLError
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import Info  # noqa: TC002 - strawberry reads annotations at runtime

from engine import DEFAULT_MODE, Mode
from engine.market import CandleInterval, CandleUpdate, Liquidation, Timeframe, Trade
from providers.streams import StreamKey, StreamKind
from providers.symbols import InvalidSymbolFormat, parse_symbol
from resolvers.context import RequestContext
from resolvers.signals import resolve_signal
from schema.errors import InvalidInput, SymbolNotFound
from schema.types import ModeEnum, Signal, TimeframeEnum

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

    from graphql.execution import Executor

    from resolvers.broker import Broker
    from resolvers.broker import Subscription as BrokerSubscription

STREAMS_KEY = "streams"
ACTIVE_KEY = "active_subscriptions"
DEFAULT_TIMEFRAME = Timeframe.H4


class StreamHubLike(Protocol):
    """What fan-out needs from :class:`providers.streams.hub.StreamHub`."""

    def acquire(self, key: StreamKey) -> Callable[[], None]: ...


@dataclasses.dataclass(frozen=True, slots=True)
class StreamServices:
    """Registered by the composition root as ``services.extras["streams"]``."""

    broker: Broker
    hub: StreamHubLike
    venues: tuple[str, ...] = ("binance",)  # the default when a subscription names none
    max_subscriptions_per_connection: int = 20
    buffer_size: int = 256  # per subscription; the oldest events go first when it is full
    signal_interval_seconds: float = 60.0  # signalUpdates re-evaluates at least this often
    liquidation_min_value_usd: float = 5_000.0  # liquidations' default minValueUsd
    large_trade_threshold_usd: float = 100_000.0  # largeTrades' default minValueUsd


class LeakFreeExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Each subscription event gets its own subfield memo instead of growing the operation's forever."""

    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        return executor


def _error(code: str, message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


def _streams(info: Info[RequestContext, None]) -> StreamServices:
    streams = info.context.services.extras.get(STREAMS_KEY)
    if not isinstance(streams, StreamServices):
        raise _error("STREAMS_UNAVAILABLE", "live streams are not enabled on this server")
    return streams


def _check_capacity(info: Info[RequestContext, None], streams: StreamServices) -> None:
    if info.context.extras.get(ACTIVE_KEY, 0) >= streams.max_subscriptions_per_connection:
        raise _error(
            "TOO_MANY_SUBSCRIPTIONS",
            f"at most {streams.max_subscriptions_per_connection} subscriptions per connection",
        )


@contextlib.contextmanager
def _slot(info: Info[RequestContext, None], streams: StreamServices) -> Iterator[None]:
    _check_capacity(info, streams)  # again: another subscribe may have started since the first check
    extras = info.context.extras
    extras[ACTIVE_KEY] = extras.get(ACTIVE_KEY, 0) + 1
    try:
        yield
    finally:
        extras[ACTIVE_KEY] -= 1


@contextlib.asynccontextmanager
async def _open(
    info: Info[RequestContext, None], streams: StreamServices, keys: list[StreamKey], topics: list[str]
) -> AsyncIterator[BrokerSubscription]:
    """Hold a connection slot, the upstream streams and a broker subscription for the block."""
    with _slot(info, streams):
        subscription = streams.broker.subscribe(topics, streams.buffer_size)
        releases: list[Callable[[], None]] = []
        try:
            for key in keys:
                releases.append(streams.hub.acquire(key))
            yield subscription
        finally:
            subscription.close()
            for release in reversed(releases):
                release()


def _symbols(symbols: list[str] | None) -> frozenset[str] | None:
    if symbols is None:
        return None
    try:
        return frozenset(parse_symbol(s).canonical for s in symbols)
    except InvalidSymbolFormat as exc:
        raise _error("INVALID_INPUT", str(exc)) from exc


def _venues(venues: list[str] | None, streams: StreamServices) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(v.strip().lower() for v in venues)) if venues else streams.venues
    if not chosen or any(not v or ":" in v for v in chosen):
        raise _error("INVALID_INPUT", "venues must be non-empty names such as binance")
    return chosen


def _keys(kind: StreamKind, venues: tuple[str, ...], symbols: frozenset[str] | None) -> list[StreamKey]:
    if symbols is None:
        return [StreamKey(kind, venue) for venue in venues]
    return [StreamKey(kind, venue, symbol) for venue in venues for symbol in sorted(symbols)]


def _wildcards(kind: StreamKind, venues: tuple[str, ...]) -> list[str]:
    """Per venue, the symbol wildcard: receives per-symbol and all-symbol publications alike."""
    return [StreamKey(kind, venue).topic for venue in venues]


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


def signal_changed(previous: Signal | None, current: Signal, score_threshold: float) -> bool:
    """Push when there is no previous signal, the recommendation changed, or the score moved enough."""
    if previous is None:
        return True
    if previous.recommendation is not current.recommendation:
        return True
    return abs(current.score - previous.score) > score_threshold


def _market_stream(
    info: Info[RequestContext, None],
    streams: StreamServices,
    kind: StreamKind,
    event_type: type[Liquidation] | type[Trade],
    symbols: list[str] | None,
    venues: list[str] | None,
    min_value_usd: float,
) -> AsyncGenerator[Any, None]:
    """Liquidations and large trades: the same checks, stream keys and value filter, another event type."""
    _check_capacity(info, streams)
    wanted, chosen = _symbols(symbols), _venues(venues, streams)
    return _filtered(
        info, streams, _keys(kind, chosen, wanted), _wildcards(kind, chosen), event_type, wanted, min_value_usd
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
        streams = _streams(info)
        minimum = streams.liquidation_min_value_usd if min_value_usd is None else min_value_usd
        return _market_stream(info, streams, StreamKind.LIQUIDATIONS, Liquidation, symbols, venues, minimum)

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
        streams = _streams(info)
        minimum = streams.large_trade_threshold_usd if min_value_usd is None else min_value_usd
        return _market_stream(info, streams, StreamKind.TRADES, Trade, symbols, venues, minimum)

    @strawberry.subscription(description="Candle updates of one symbol, venue and interval (1m, 5m, 1h, ...).")
    async def candles(
        self, info: Info[RequestContext, None], symbol: str, venue: str = "binance", interval: str = "1m"
    ) -> AsyncGenerator[LiveCandle, None]:
        streams = _streams(info)
        _check_capacity(info, streams)
        wanted = _symbols([symbol])
        assert wanted is not None
        (canonical,) = wanted
        (chosen,) = _venues([venue], streams)
        try:
            parsed = CandleInterval(interval.strip())
        except ValueError as exc:
            choices = ", ".join(i.value for i in CandleInterval)
            raise _error("INVALID_INPUT", f"unknown interval {interval!r}; expected one of {choices}") from exc
        key = StreamKey(StreamKind.CANDLES, chosen, canonical, parsed.value)
        return _candles(info, streams, key)

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
        streams = _streams(info)
        _check_capacity(info, streams)
        limit = info.context.services.max_symbols_per_request
        wanted = _symbols(symbols)
        if not wanted or len(wanted) > limit:
            raise _error("INVALID_INPUT", f"give between 1 and {limit} symbols")
        return _signal_updates(info, streams, sorted(wanted), Mode(mode), Timeframe(timeframe), score_threshold)


async def _filtered(
    info: Info[RequestContext, None],
    streams: StreamServices,
    keys: list[StreamKey],
    topics: list[str],
    event_type: type[Liquidation] | type[Trade],
    symbols: frozenset[str] | None,
    min_value_usd: float,
) -> AsyncGenerator[Any, None]:
    async with _open(info, streams, keys, topics) as subscription:
        async for event in subscription:
            if not isinstance(event, event_type) or event.usd < min_value_usd:
                continue
            if symbols is not None and event.symbol not in symbols:
                continue
            yield LiveLiquidation.of(event) if isinstance(event, Liquidation) else LiveTrade.of(event)


async def _candles(
    info: Info[RequestContext, None], streams: StreamServices, key: StreamKey
) -> AsyncGenerator[LiveCandle, None]:
    async with _open(info, streams, [key], [key.topic]) as subscription:
        async for event in subscription:
            if isinstance(event, CandleUpdate):
                yield LiveCandle.of(event)


async def _signal_updates(
    info: Info[RequestContext, None],
    streams: StreamServices,
    symbols: list[str],
    mode: Mode,
    timeframe: Timeframe,
    score_threshold: float,
) -> AsyncGenerator[Signal, None]:
    keys = [StreamKey(StreamKind.CANDLES, "binance", s, timeframe.value) for s in symbols]
    services = info.context.services
    last: dict[str, Signal] = {}
    async with _open(info, streams, keys, [k.topic for k in keys]) as subscription:
        events = aiter(subscription)
        due = set(symbols)
        while True:
            for symbol in sorted(due):
                # fresh loaders per evaluation: the connection's context outlives any cache
                outcome = await resolve_signal(RequestContext.create(services), symbol, mode, timeframe)
                if isinstance(outcome, InvalidInput | SymbolNotFound):
                    raise _error(outcome.code, outcome.message)
                if isinstance(outcome, Signal) and signal_changed(last.get(symbol), outcome, score_threshold):
                    last[symbol] = outcome
                    yield outcome
                # InsufficientData is transient (an upstream gap): keep the last signal, try again later
            try:
                event = await asyncio.wait_for(anext(events), timeout=streams.signal_interval_seconds)
            except TimeoutError:
                due = set(symbols)
                continue
            except StopAsyncIteration:
                return
            due = {event.symbol} if isinstance(event, CandleUpdate) and event.closed else set()
