"""The live-stream services the subscriptions read: the broker the ingestion publishes to and the hub
that opens upstream sockets, with the per-connection and per-subscription limits.

Built by the composition root once the hub is open and attached as ``Services.streams``; ``None`` there
means live streams are off in this process.

Each subscription is checked when it is asked for (a :class:`StreamRefused` raised before anything
streams, so the subscriber gets an ``error`` message with its code instead of a silent wait): the
argument formats, then the venue (``EXCHANGE_NOT_FOUND`` when no provider has that name), then each
symbol against the listed symbols (the gateway's ``check_listed``: ``SYMBOL_NOT_FOUND`` only when the
listing sources that answered all say no), then each stream key (``StreamServices.check``, the hub's
``check`` in the app: ``STREAM_UNSUPPORTED`` for a stream the venue does not offer, such as Binance
trades of every symbol or Hyperliquid liquidations; ``STREAM_NOT_RECORDED`` when the upstream is a
replayed cassette without it). Liquidations and trades of named symbols fall back to the venue's
all-symbol stream (filtered here) when the per-symbol stream is refused and the all-symbol one is not:
a cassette records Binance's ``!forceOrder@arr``, not ``btcusdt@forceOrder``. Then it acquires
the stream keys it needs from the hub (released when it ends), reads one bounded
broker subscription (drop-oldest, so a slow client loses old events rather than holding memory) and
applies its filters. The events are the engine's (``Liquidation``, ``Trade``, ``CandleUpdate``,
``Signal``); ``schema.subscriptions`` turns them into GraphQL types.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import TYPE_CHECKING, Protocol, TypeVar

from engine.market import CandleInterval, CandleUpdate, Liquidation, Trade
from providers.streams import StreamKey, StreamKind
from providers.streams.client import STREAM_VENUES, check_stream
from providers.streams.parsers import StreamNotRecorded, UnsupportedStream
from providers.symbols import InvalidSymbolFormat, parse_symbol
from resolvers.gateway import SymbolNotListed
from resolvers.problems import Problem
from resolvers.signal_feeds import FeedEnded, SignalListener, feeds_of

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator

    from engine import Mode, Signal
    from engine.market import Timeframe
    from providers.symbols import Instrument
    from resolvers.broker import Broker
    from resolvers.broker import Subscription as BrokerSubscription
    from resolvers.context import RequestContext

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
    # whether a key can deliver (raises UnsupportedStream / StreamNotRecorded); the app passes hub.check
    check: Callable[[StreamKey], object] = check_stream
    known_venues: frozenset[str] = frozenset()  # every provider name (the registry's); others: EXCHANGE_NOT_FOUND


class StreamRefused(Problem):
    """A subscription refused before (or, for ``signalUpdates``, while) it streams; ``code`` is one of
    ``STREAMS_UNAVAILABLE``, ``TOO_MANY_SUBSCRIPTIONS``, ``INVALID_INPUT``, ``EXCHANGE_NOT_FOUND``,
    ``SYMBOL_NOT_FOUND``, ``STREAM_UNSUPPORTED``, ``STREAM_NOT_RECORDED``."""

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
                try:
                    releases.append(streams.hub.acquire(key))
                except UnsupportedStream as exc:  # checked before; typed all the same should it change
                    raise _refused(exc) from exc
            yield subscription
        finally:
            subscription.close()
            for release in reversed(releases):
                release()


def _instruments(symbols: list[str] | None) -> dict[str, Instrument] | None:
    """Canonical symbol → instrument (``None``: every symbol); a malformed one is ``INVALID_INPUT``."""
    if symbols is None:
        return None
    try:
        parsed = [parse_symbol(s) for s in symbols]
    except InvalidSymbolFormat as exc:
        raise StreamRefused("INVALID_INPUT", str(exc)) from exc
    return {i.canonical: i for i in parsed}


def _venues(venues: list[str] | None, streams: StreamServices) -> tuple[str, ...]:
    """The venues asked for (or the default), each a provider this service knows."""
    chosen = tuple(dict.fromkeys(v.strip().lower() for v in venues)) if venues else streams.venues
    if not chosen or any(not v or ":" in v for v in chosen):
        raise StreamRefused("INVALID_INPUT", "venues must be non-empty names such as binance")
    for venue in chosen:
        if venue not in STREAM_VENUES and venue not in streams.known_venues:
            raise StreamRefused(
                "EXCHANGE_NOT_FOUND",
                f"unknown exchange {venue!r}; live streams come from {', '.join(sorted(STREAM_VENUES))}",
            )
    return chosen


async def _check_listed(ctx: RequestContext, instruments: dict[str, Instrument] | None) -> None:
    """``SYMBOL_NOT_FOUND`` unless the listing sources list every symbol (no opinion when none answer:
    the stream is then tried, as the signal is)."""
    for instrument in (instruments or {}).values():
        try:
            await ctx.services.gateway.check_listed(instrument, ctx.loaders)
        except SymbolNotListed as exc:
            raise StreamRefused("SYMBOL_NOT_FOUND", str(exc)) from exc


def _refused(exc: UnsupportedStream) -> StreamRefused:
    code = "STREAM_NOT_RECORDED" if isinstance(exc, StreamNotRecorded) else "STREAM_UNSUPPORTED"
    return StreamRefused(code, str(exc))


def _checked_key(streams: StreamServices, key: StreamKey) -> StreamRefused | None:
    try:
        streams.check(key)
    except UnsupportedStream as exc:
        return _refused(exc)
    return None


def _keys(
    streams: StreamServices, kind: StreamKind, venues: tuple[str, ...], symbols: frozenset[str] | None
) -> list[StreamKey]:
    """Per venue, the per-symbol keys (or the all-symbol key); the all-symbol key instead when a
    per-symbol one is refused and it is not (its events reach the wildcard topics and are filtered)."""
    keys: list[StreamKey] = []
    for venue in venues:
        everything = StreamKey(kind, venue)
        wanted = [everything] if symbols is None else [StreamKey(kind, venue, s) for s in sorted(symbols)]
        refusal = next((r for r in (_checked_key(streams, k) for k in wanted) if r is not None), None)
        if refusal is not None:
            if symbols is None:
                raise StreamRefused(refusal.code, f'{refusal.message}; name the symbols (symbols: ["BTC"])')
            if _checked_key(streams, everything) is not None:
                raise refusal
            wanted = [everything]
        keys.extend(wanted)
    return keys


def _wildcards(kind: StreamKind, venues: tuple[str, ...]) -> list[str]:
    """Per venue, the symbol wildcard: receives per-symbol and all-symbol publications alike."""
    return [StreamKey(kind, venue).topic for venue in venues]


async def liquidations(
    ctx: RequestContext, symbols: list[str] | None, venues: list[str] | None, min_value_usd: float | None
) -> AsyncGenerator[Liquidation, None]:
    """Checked now (a refusal raises before anything streams); the events once iterated."""
    streams = streams_of(ctx)
    minimum = streams.liquidation_min_value_usd if min_value_usd is None else min_value_usd
    return await _market_stream(ctx, streams, StreamKind.LIQUIDATIONS, Liquidation, symbols, venues, minimum)


async def large_trades(
    ctx: RequestContext, symbols: list[str] | None, venues: list[str] | None, min_value_usd: float | None
) -> AsyncGenerator[Trade, None]:
    streams = streams_of(ctx)
    minimum = streams.large_trade_threshold_usd if min_value_usd is None else min_value_usd
    return await _market_stream(ctx, streams, StreamKind.TRADES, Trade, symbols, venues, minimum)


async def _market_stream(
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
    instruments, chosen = _instruments(symbols), _venues(venues, streams)
    await _check_listed(ctx, instruments)
    wanted = None if instruments is None else frozenset(instruments)
    keys = _keys(streams, kind, chosen, wanted)
    return _filtered(ctx, streams, keys, _wildcards(kind, chosen), event_type, wanted, min_value_usd)


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


async def candles(ctx: RequestContext, symbol: str, venue: str, interval: str) -> AsyncGenerator[CandleUpdate, None]:
    streams = streams_of(ctx)
    check_capacity(ctx, streams)
    instruments = _instruments([symbol])
    assert instruments is not None
    (canonical,) = instruments
    try:
        parsed = CandleInterval(interval.strip())
    except ValueError as exc:
        choices = ", ".join(i.value for i in CandleInterval)
        raise StreamRefused("INVALID_INPUT", f"unknown interval {interval!r}; expected one of {choices}") from exc
    (chosen,) = _venues([venue], streams)
    await _check_listed(ctx, instruments)
    key = StreamKey(StreamKind.CANDLES, chosen, canonical, parsed.value)
    refusal = _checked_key(streams, key)
    if refusal is not None:
        raise refusal
    return _candles(ctx, streams, key)


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


async def signal_updates(
    ctx: RequestContext, symbols: list[str], mode: Mode, timeframe: Timeframe, score_threshold: float
) -> AsyncGenerator[Signal, None]:
    """Checked now, symbols listed included; the candle streams are not required (a timer re-evaluates)."""
    streams = streams_of(ctx)
    check_capacity(ctx, streams)
    limit = ctx.services.max_symbols_per_request
    instruments = _instruments(symbols)
    if not instruments or len(instruments) > limit:
        raise StreamRefused("INVALID_INPUT", f"give between 1 and {limit} symbols")
    await _check_listed(ctx, instruments)
    return _signal_updates(ctx, streams, sorted(instruments), mode, timeframe, score_threshold)


async def _signal_updates(
    ctx: RequestContext,
    streams: StreamServices,
    symbols: list[str],
    mode: Mode,
    timeframe: Timeframe,
    score_threshold: float,
) -> AsyncGenerator[Signal, None]:
    """This subscriber's view of the shared feeds (:mod:`resolvers.signal_feeds`: one evaluation per
    symbol, mode and timeframe for every subscriber), filtered by its own score threshold."""
    with _slot(ctx, streams):
        listener = SignalListener()
        feeds = feeds_of(streams)
        joined = [feeds.join(listener, ctx.services, streams, s, mode, timeframe) for s in symbols]
        last: dict[str, Signal] = {}
        try:
            while True:
                item = await listener.get()
                if isinstance(item, FeedEnded):
                    if item.code is None:
                        return
                    raise StreamRefused(item.code, item.message)
                if signal_changed(last.get(item.symbol), item, score_threshold):
                    last[item.symbol] = item
                    yield item
        finally:
            for feed in joined:
                feed.leave(listener)
