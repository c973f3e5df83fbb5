"""Shared signal evaluation for ``signalUpdates``: one evaluation per symbol, mode and timeframe.

Every ``signalUpdates`` subscriber used to evaluate its symbols itself (a snapshot, the engine, a plan),
on every closed candle and every timer tick: N subscribers of BTC/H4 cost N evaluations per candle. A
:class:`SignalFeed` evaluates one (symbol, mode, timeframe) for all of them: on start, on each closed
candle of that symbol and timeframe (Binance's candle stream, held once through the hub), and at least
every ``signal_interval_seconds``. Each evaluation's :class:`engine.Signal` is handed to every
:class:`SignalListener`; each subscriber then applies its own ``scoreThreshold`` (so subscribers with
different thresholds still share the evaluation). A subscriber that joins a running feed gets the
feed's latest signal at once (the "pushed first" promise), not at the next candle.

A listener keeps only the newest pending signal per symbol: a signal is a state, so a slow subscriber
skips stale states instead of queueing them, and its memory is bounded by its symbols.

A feed ends for all of its listeners when its evaluation says the input can never work
(``InvalidArgument``/``UnknownSymbol``: the code and message are passed on), when its candle stream is
refused (``STREAM_UNSUPPORTED``/``STREAM_NOT_RECORDED``), or on an unexpected failure (logged once,
passed on as ``INTERNAL_SERVER_ERROR``). ``NotEnoughData`` is transient (an upstream gap): the last signal
stays and the next evaluation tries again. The last listener to leave cancels the feed's task, which
releases its broker subscription and hub stream.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import TYPE_CHECKING

from engine import Signal
from engine.market import CandleUpdate
from providers.streams import StreamKey, StreamKind
from providers.streams.parsers import StreamNotRecorded, UnsupportedStream
from resolvers.context import RequestContext
from resolvers.problems import InvalidArgument, UnknownSymbol
from resolvers.signals import resolve_signal

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine import Mode
    from engine.market import Timeframe
    from resolvers.context import Services
    from resolvers.streams import StreamServices

log = logging.getLogger(__name__)

FeedKey = tuple[str, str, str]  # canonical symbol, mode, timeframe


class FeedEnded:
    """Why a feed stopped: a refusal's ``code`` and ``message``; ``code`` None when its stream simply ended."""

    __slots__ = ("code", "message")

    def __init__(self, code: str | None, message: str = "") -> None:
        self.code = code
        self.message = message


class SignalListener:
    """One subscriber's inbox over several feeds: the newest pending signal per symbol, then an end."""

    __slots__ = ("_pending", "_waiter", "ended")

    def __init__(self) -> None:
        self._pending: dict[str, Signal] = {}
        self._waiter: asyncio.Future[None] | None = None
        self.ended: FeedEnded | None = None

    def put(self, signal: Signal) -> None:
        self._pending.pop(signal.symbol, None)  # re-inserted last: arrival order, one state per symbol
        self._pending[signal.symbol] = signal
        self._wake()

    def end(self, ended: FeedEnded) -> None:
        if self.ended is None:
            self.ended = ended
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self) -> Signal | FeedEnded:
        """The next signal; a feed's end once nothing is pending (the signals before it are delivered)."""
        while True:
            if self._pending:
                symbol = next(iter(self._pending))
                return self._pending.pop(symbol)
            if self.ended is not None:
                return self.ended
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None


class SignalFeed:
    """The evaluation of one (symbol, mode, timeframe) for every listener of it."""

    def __init__(
        self, feeds: SignalFeeds, key: FeedKey, services: Services, streams: StreamServices, mode: Mode, tf: Timeframe
    ) -> None:
        self.feeds = feeds
        self.key = key
        self.symbol = key[0]
        self.mode = mode
        self.timeframe = tf
        self.services = services
        self.streams = streams
        self.listeners: set[SignalListener] = set()
        self.last: Signal | None = None
        self.evaluations = 0
        self.task: asyncio.Task[None] = asyncio.create_task(self._run(), name=f"signal-feed:{':'.join(key)}")

    def join(self, listener: SignalListener) -> None:
        self.listeners.add(listener)
        if self.last is not None:
            listener.put(self.last)

    def leave(self, listener: SignalListener) -> None:
        self.listeners.discard(listener)
        if not self.listeners:
            self.feeds.forget(self)
            self.task.cancel()

    def _end(self, ended: FeedEnded) -> None:
        self.feeds.forget(self)  # a new subscriber starts afresh
        for listener in tuple(self.listeners):
            listener.end(ended)

    async def _evaluate(self) -> bool:
        """One evaluation for every listener; False when the input can never work (the feed ended)."""
        # fresh loaders per evaluation: the provider cache decides freshness, not a long-lived context
        outcome = await resolve_signal(RequestContext.create(self.services), self.symbol, self.mode, self.timeframe)
        self.evaluations += 1
        self.feeds.evaluations += 1
        if isinstance(outcome, InvalidArgument | UnknownSymbol):
            self._end(FeedEnded(outcome.code, outcome.message))
            return False
        if isinstance(outcome, Signal):
            self.last = outcome
            for listener in tuple(self.listeners):
                listener.put(outcome)
        return True  # NotEnoughData: transient, the last signal stays

    async def _run(self) -> None:
        streams = self.streams
        key = StreamKey(StreamKind.CANDLES, "binance", self.symbol, self.timeframe.value)
        subscription = streams.broker.subscribe([key.topic], streams.buffer_size)
        release: Callable[[], None] | None = None
        try:
            release = streams.hub.acquire(key)
            events = aiter(subscription)
            loop = asyncio.get_running_loop()
            while await self._evaluate():
                deadline = loop.time() + streams.signal_interval_seconds
                while True:  # until a closed candle of this symbol, or the timer
                    try:
                        event = await asyncio.wait_for(anext(events), timeout=max(deadline - loop.time(), 0.0))
                    except TimeoutError:
                        break
                    if isinstance(event, CandleUpdate) and event.closed:
                        break
        except UnsupportedStream as exc:
            code = "STREAM_NOT_RECORDED" if isinstance(exc, StreamNotRecorded) else "STREAM_UNSUPPORTED"
            self._end(FeedEnded(code, str(exc)))
        except StopAsyncIteration:  # the broker closed the subscription: the stream is over
            self._end(FeedEnded(None))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("signal feed failed", extra={"feed": self.key})
            self._end(FeedEnded("INTERNAL_SERVER_ERROR", "the stream failed on the server"))
        finally:
            subscription.close()
            if release is not None:
                release()


class SignalFeeds:
    """The running feeds of one broker (one process's streams), by (symbol, mode, timeframe)."""

    def __init__(self) -> None:
        self.feeds: dict[FeedKey, SignalFeed] = {}
        self.evaluations = 0  # over all feeds, ever: the figure the shared evaluation keeps low
        self.started = 0  # feeds ever started

    def join(
        self,
        listener: SignalListener,
        services: Services,
        streams: StreamServices,
        symbol: str,
        mode: Mode,
        timeframe: Timeframe,
    ) -> SignalFeed:
        key: FeedKey = (symbol, mode.value, timeframe.value)
        feed = self.feeds.get(key)
        if feed is None:
            feed = self.feeds[key] = SignalFeed(self, key, services, streams, mode, timeframe)
            self.started += 1
        feed.join(listener)
        return feed

    def forget(self, feed: SignalFeed) -> None:
        if self.feeds.get(feed.key) is feed:
            del self.feeds[feed.key]


_FEEDS: weakref.WeakKeyDictionary[object, SignalFeeds] = weakref.WeakKeyDictionary()
_STRONG: dict[int, tuple[object, SignalFeeds]] = {}


def feeds_of(streams: StreamServices) -> SignalFeeds:
    """The feeds of ``streams``' broker (created on first use): every subscriber of a process shares them."""
    broker = streams.broker
    try:
        feeds = _FEEDS.get(broker)
        if feeds is None:
            feeds = _FEEDS[broker] = SignalFeeds()
    except TypeError:  # a broker without weak references: kept for the process's life (one per process)
        feeds = _STRONG.setdefault(id(broker), (broker, SignalFeeds()))[1]
    return feeds


__all__ = ["FeedEnded", "SignalFeed", "SignalFeeds", "SignalListener", "feeds_of"]
