"""The live-stream services the subscriptions read: the broker the ingestion publishes to and the hub
that opens upstream sockets, with the per-connection and per-subscription limits.

Built by the composition root once the hub is open and attached as ``Services.streams``; ``None`` there
means live streams are off in this process.

Each subscription is checked when it is asked for (a :class:`StreamRefused` raised before anything
streams), then acquires the stream keys it needs from the hub (released when it ends), reads one bounded
broker subscription (drop-oldest, so a slow client loses old events rather than holding memory) and
applies its filters. The events are the engine's (``Liquidation``, ``Trade``, ``CandleUpdate``,
``Signal``); ``schema.subscriptions`` turns them into GraphQL types.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import TYPE_CHECKING, Protocol, TypeVar

from engine import Signal
from engine.market import CandleInterval, CandleUpdate, Liquidation, Trade
from providers.streams import StreamKey, StreamKind
from providers.symbols import InvalidSymbolFormat, parse_symbol
from resolvers.context import RequestContext
from resolvers.problems import InvalidArgument, Problem, UnknownSymbol
from resolvers.signals import resolve_signal

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator

    from engine import Mode
    from engine.market import Timeframe
    from resolvers.broker import Broker
    from resolvers.broker import Subscription as BrokerSubscription

E = TypeVar("E", Liquidation, Trade)


class StreamHubLike(Protocol):
    """What fan-out needs from :class:`providers.streams.hub.StreamHub`."""

    def acquire(self, key: StreamKey) -> Callable[[], None]: ...


@dataclasses.dataclass(frozen=True, slots=True)
class StreamServices:
    broker: Broker
    hub: StreamHubLike
    venues: tuple[str, ...] = ("binance",)  # the default when a subscription names none
    max_subscriptions_per_connection: int = 20
    buffer_size: int = 256  # per subscription; the oldest events go first when it is full
    signal_interval_seconds: float = 60.0  # signalUpdates re-evaluates at least this often
    liquidation_min_value_usd: float = 5_000.0  # liquidations' default minValueUsd
    large_trade_threshold_usd: float = 100_000.0  # largeTrades' default minValueUsd


class StreamRefused(Problem):
    """A subscription refused before (or, for ``signalUpdates``, while) it streams; ``code`` is one of
    ``STREAMS_UNAVAILABLE``, ``TOO_MANY_SUBSCRIPTIONS``, ``INVALID_INPUT``, ``SYMBOL_NOT_FOUND``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def streams_of(ctx: RequestContext) -> StreamServices:
    streams = ctx.services.streams
    if streams is None:
        raise StreamRefused("STREAMS_UNAVAILABLE", "live streams are not enabled on this server")
    return streams


def check_capacity(ctx: RequestContext, streams: StreamServices) -> None:
    if ctx.active_subscriptions >= streams.max_subscriptions_per_connection:
        raise StreamRefused(
            "TOO_MANY_SUBSCRIPTIONS", f"at most {streams.max_subscriptions_per_connection} subscriptions per connection"
        )


@contextlib.contextmanager
def _slot(ctx: RequestContext, streams: StreamServices) -> Iterator[None]:
    check_capacity(ctx, streams)  # again: another subscribe may have started since the first check
    ctx.active_subscriptions += 1
    try:
        yield
    finally:
        ctx.active_subscriptions -= 1


@contextlib.asynccontextmanager
async def _open(
    ctx: RequestContext, streams: StreamServices, keys: list[StreamKey], topics: list[str]
) -> AsyncIterator[BrokerSubscription]:
    """Hold a connection slot, the upstream streams and a broker subscription for the block."""
    with _slot(ctx, streams):
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
        raise StreamRefused("INVALID_INPUT", str(exc)) from exc


def _venues(venues: list[str] | None, streams: StreamServices) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(v.strip().lower() for v in venues)) if venues else streams.venues
    if not chosen or any(not v or ":" in v for v in chosen):
        raise StreamRefused("INVALID_INPUT", "venues must be non-empty names such as binance")
    return chosen


def _keys(kind: StreamKind, venues: tuple[str, ...], symbols: frozenset[str] | None) -> list[StreamKey]:
    if symbols is None:
        return [StreamKey(kind, venue) for venue in venues]
    return [StreamKey(kind, venue, symbol) for venue in venues for symbol in sorted(symbols)]


def _wildcards(kind: StreamKind, venues: tuple[str, ...]) -> list[str]:
    """Per venue, the symbol wildcard: receives per-symbol and all-symbol publications alike."""
    return [StreamKey(kind, venue).topic for venue in venues]


def liquidations(
    ctx: RequestContext, symbols: list[str] | None, venues: list[str] | None, min_value_usd: float | None
) -> AsyncGenerator[Liquidation, None]:
    """Checked now (a refusal raises before anything streams); the events once iterated."""
    streams = streams_of(ctx)
    minimum = streams.liquidation_min_value_usd if min_value_usd is None else min_value_usd
    return _market_stream(ctx, streams, StreamKind.LIQUIDATIONS, Liquidation, symbols, venues, minimum)


def large_trades(
    ctx: RequestContext, symbols: list[str] | None, venues: list[str] | None, min_value_usd: float | None
) -> AsyncGenerator[Trade, None]:
    streams = streams_of(ctx)
    minimum = streams.large_trade_threshold_usd if min_value_usd is None else min_value_usd
    return _market_stream(ctx, streams, StreamKind.TRADES, Trade, symbols, venues, minimum)


def _market_stream(
    ctx: RequestContext,
    streams: StreamServices,
    kind: StreamKind,
    event_type: type[E],
    symbols: list[str] | None,
    venues: list[str] | None,
    min_value_usd: float,
) -> AsyncGenerator[E, None]:
    """Liquidations and large trades: the same checks, stream keys and value filter, another event type."""
    check_capacity(ctx, streams)
    wanted, chosen = _symbols(symbols), _venues(venues, streams)
    return _filtered(
        ctx, streams, _keys(kind, chosen, wanted), _wildcards(kind, chosen), event_type, wanted, min_value_usd
    )


async def _filtered(
    ctx: RequestContext,
    streams: StreamServices,
    keys: list[StreamKey],
    topics: list[str],
    event_type: type[E],
    symbols: frozenset[str] | None,
    min_value_usd: float,
) -> AsyncGenerator[E, None]:
    async with _open(ctx, streams, keys, topics) as subscription:
        async for event in subscription:
            if not isinstance(event, event_type) or event.usd < min_value_usd:
                continue
            if symbols is not None and event.symbol not in symbols:
                continue
            yield event


def candles(ctx: RequestContext, symbol: str, venue: str, interval: str) -> AsyncGenerator[CandleUpdate, None]:
    streams = streams_of(ctx)
    check_capacity(ctx, streams)
    wanted = _symbols([symbol])
    assert wanted is not None
    (canonical,) = wanted
    (chosen,) = _venues([venue], streams)
    try:
        parsed = CandleInterval(interval.strip())
    except ValueError as exc:
        choices = ", ".join(i.value for i in CandleInterval)
        raise StreamRefused("INVALID_INPUT", f"unknown interval {interval!r}; expected one of {choices}") from exc
    return _candles(ctx, streams, StreamKey(StreamKind.CANDLES, chosen, canonical, parsed.value))


async def _candles(ctx: RequestContext, streams: StreamServices, key: StreamKey) -> AsyncGenerator[CandleUpdate, None]:
    async with _open(ctx, streams, [key], [key.topic]) as subscription:
        async for event in subscription:
            if isinstance(event, CandleUpdate):
                yield event


def signal_changed(previous: Signal | None, current: Signal, score_threshold: float) -> bool:
    """Push when there is no previous signal, the recommendation changed, or the score moved enough."""
    if previous is None:
        return True
    if previous.recommendation is not current.recommendation:
        return True
    return abs(current.score - previous.score) > score_threshold


def signal_updates(
    ctx: RequestContext, symbols: list[str], mode: Mode, timeframe: Timeframe, score_threshold: float
) -> AsyncGenerator[Signal, None]:
    streams = streams_of(ctx)
    check_capacity(ctx, streams)
    limit = ctx.services.max_symbols_per_request
    wanted = _symbols(symbols)
    if not wanted or len(wanted) > limit:
        raise StreamRefused("INVALID_INPUT", f"give between 1 and {limit} symbols")
    return _signal_updates(ctx, streams, sorted(wanted), mode, timeframe, score_threshold)


async def _signal_updates(
    ctx: RequestContext,
    streams: StreamServices,
    symbols: list[str],
    mode: Mode,
    timeframe: Timeframe,
    score_threshold: float,
) -> AsyncGenerator[Signal, None]:
    keys = [StreamKey(StreamKind.CANDLES, "binance", s, timeframe.value) for s in symbols]
    services = ctx.services
    last: dict[str, Signal] = {}
    async with _open(ctx, streams, keys, [k.topic for k in keys]) as subscription:
        events = aiter(subscription)
        due = set(symbols)
        while True:
            for symbol in sorted(due):
                # fresh loaders per evaluation: the connection's context outlives any cache
                outcome = await resolve_signal(RequestContext.create(services), symbol, mode, timeframe)
                if isinstance(outcome, InvalidArgument | UnknownSymbol):
                    raise StreamRefused(outcome.code, outcome.message)
                if isinstance(outcome, Signal) and signal_changed(last.get(symbol), outcome, score_threshold):
                    last[symbol] = outcome
                    yield outcome
                # NotEnoughData is transient (an upstream gap): keep the last signal, try again later
            try:
                event = await asyncio.wait_for(anext(events), timeout=streams.signal_interval_seconds)
            except TimeoutError:
                due = set(symbols)
                continue
            except StopAsyncIteration:
                return
            due = {event.symbol} if isinstance(event, CandleUpdate) and event.closed else set()
