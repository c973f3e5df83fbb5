"""One upstream WebSocket per stream: connect, subscribe, parse, publish; reconnect and watchdog.

A :class:`~providers.streams.parsers.VenueStream` holds a venue's specifics for one
:class:`~providers.streams.StreamKey` (URL path, subscribe frames, parser, application-level keepalive);
:func:`venue_stream` asks the venue's own streams module for it (the :data:`OPEN_STREAM` table). A
:class:`StreamConnection` runs it as one kept task:

- connects with ``websockets.connect`` to ``ws_base_url + spec.path``, sends the subscribe frames,
  then reads frames; each is JSON-decoded (non-JSON text such as OKX's ``pong`` is passed as ``str``),
  parsed with our receipt time from the injected clock, and every event is published on
  ``key.topic``. When the key names a symbol, events of other symbols (OKX ``liquidation-orders`` is
  per instrument *type*) are dropped, and so are events of another kind or candle interval.
- sends the venue's keepalive text (OKX ``ping`` every 25 s, Bybit ``{"op":"ping"}`` every 20 s,
  Hyperliquid ``{"method":"ping"}`` every 50 s) when due;
- watchdog: when no frame at all (data, ack or pong) arrives for ``silence_seconds`` the socket is
  dropped and reconnected;
- on any failure it reconnects after a capped, jittered exponential backoff (:class:`Backoff`:
  0.5 s doubling to 30 s, "equal jitter" = half fixed, half random) and resubscribes. The attempt
  counter resets once a connection delivers a frame.
- ``aclose()`` cancels the task and awaits it (the socket is closed by ``async with``).
"""

from __future__ import annotations

import asyncio
import enum
import errno
import logging
import random
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from engine.market import CandleUpdate, Liquidation, Trade
from providers.binance import streams as binance_streams
from providers.bybit import streams as bybit_streams
from providers.hyperliquid import streams as hyperliquid_streams
from providers.normalize import first_non_finite
from providers.okx import streams as okx_streams
from providers.streams import Publisher, StreamKey, StreamKind
from providers.streams.parsers import ContractValue, Event, VenueStream, no_such_stream

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from websockets.asyncio.client import ClientConnection

log = logging.getLogger(__name__)

DEFAULT_WS_BASE_URLS = {
    "binance": "wss://fstream.binance.com",
    "bybit": "wss://stream.bybit.com",
    "okx": "wss://ws.okx.com:8443",
    "hyperliquid": "wss://api.hyperliquid.xyz",
}


# each venue's streams module (providers/<venue>/streams.py): how to open a key there, and its parser
OPEN_STREAM: dict[str, Callable[[StreamKey, ContractValue | None], VenueStream]] = {
    "binance": binance_streams.open_stream,
    "bybit": bybit_streams.open_stream,
    "okx": okx_streams.open_stream,
    "hyperliquid": hyperliquid_streams.open_stream,
}


STREAM_VENUES = frozenset(OPEN_STREAM)
"""The venues with public streams here; every other venue has none (a subscription there is refused)."""


def venue_stream(key: StreamKey, ctval: ContractValue | None = None) -> VenueStream:
    """The venue specifics of ``key``; raise :class:`UnsupportedStream` for a stream we cannot open."""
    open_stream = OPEN_STREAM.get(key.venue)
    if open_stream is None:
        raise no_such_stream(key)
    return open_stream(key, ctval)


def _size_unknown(inst_id: str) -> float:
    raise KeyError(inst_id)


def check_stream(key: StreamKey) -> VenueStream:
    """Whether ``key`` can be opened at all (no socket): its venue specifics, or :class:`UnsupportedStream`.

    The contract-size lookup is not needed to decide, so a placeholder that knows no size stands in."""
    return venue_stream(key, _size_unknown)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff with equal jitter: ``d = min(cap, initial·2^n)``, wait ``d/2 + U(0, d/2)``."""

    initial_seconds: float = 0.5
    cap_seconds: float = 30.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.cap_seconds, self.initial_seconds * (2.0 ** min(attempt, 30)))
        return ceiling / 2.0 + rng.uniform(0.0, ceiling / 2.0)


class ConnectionState(enum.Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    OPEN = "open"
    BACKOFF = "backoff"
    CLOSED = "closed"


@dataclass(slots=True)
class StreamStats:
    messages: int = 0  # frames received (data, acks, pongs)
    events: int = 0  # normalized events published
    reconnects: int = 0  # connections opened after the first
    parse_errors: int = 0
    watchdog_timeouts: int = 0
    state: ConnectionState = ConnectionState.IDLE
    last_message_monotonic: float | None = None  # loop.time() of the last frame
    last_error: str | None = None


class _Silence(Exception):
    pass


@dataclass(eq=False)  # identity semantics: hashable, kept in sets
class StreamConnection:
    """One upstream socket for ``key``, publishing its events to ``publisher`` (see the module docstring)."""

    key: StreamKey
    spec: VenueStream
    url: str
    publisher: Publisher
    clock: Callable[[], datetime]
    silence_seconds: float = 60.0
    backoff: Backoff = field(default_factory=Backoff)
    rng: random.Random = field(default_factory=random.Random)
    open_timeout_seconds: float = 10.0
    proxy: str | Literal[True] | None = True  # websockets' default: the environment's proxy settings
    stats: StreamStats = field(default_factory=StreamStats)
    _task: asyncio.Task[None] | None = field(default=None, init=False, repr=False)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"stream {self.key.topic}")

    async def aclose(self) -> None:
        task = self._task
        if task is not None:
            task.cancel()
            await asyncio.wait({task})  # never swallows a cancellation of the caller
            self._task = None
        self.stats.state = ConnectionState.CLOSED

    async def _run(self) -> None:
        attempt = 0
        connections = 0
        failing: str | None = None  # the failure already logged at warning; repeats of it go to debug
        while True:
            self.stats.state = ConnectionState.CONNECTING
            if connections:
                self.stats.reconnects += 1
            connections += 1
            try:
                async with connect(
                    self.url,
                    open_timeout=self.open_timeout_seconds,
                    close_timeout=2.0,
                    proxy=self.proxy,
                    max_size=2**22,
                ) as ws:
                    self.stats.state = ConnectionState.OPEN
                    for frame in self.spec.subscribe:
                        await ws.send(frame)
                    async for _ in self._frames(ws):
                        if failing is not None:
                            log.info("stream %s: connected again", self.key.topic)
                        attempt, failing = 0, None  # this connection works: start the backoff over next time
                log.info("stream %s: upstream closed the socket", self.key.topic)
            except _Silence:
                self.stats.watchdog_timeouts += 1
                self.stats.last_error = f"silent for {self.silence_seconds}s"
                log.warning("stream %s: no frame for %ss, reconnecting", self.key.topic, self.silence_seconds)
            except (OSError, TimeoutError, WebSocketException) as exc:
                self.stats.last_error = repr(exc)
                failing = self._log_failure(exc, failing)
            self.stats.state = ConnectionState.BACKOFF
            await asyncio.sleep(self.backoff.delay(attempt, self.rng))
            attempt += 1

    def _log_failure(self, exc: BaseException, failing: str | None) -> str:
        """Say a failure once: the first at warning, its repeats (the same kind, e.g. a DNS error every few
        seconds without network) at debug until a connection works again; ``/health`` keeps the last."""
        kind = _failure_kind(exc)
        if kind == failing:
            log.debug("stream %s: %r, reconnecting", self.key.topic, exc)
        elif kind == "unreachable":
            log.warning(
                "stream %s: upstream unreachable (%r); retrying quietly with backoff up to %ss",
                self.key.topic,
                exc,
                self.backoff.cap_seconds,
            )
        else:
            log.warning("stream %s: %r, reconnecting", self.key.topic, exc)
        return kind

    async def _frames(self, ws: ClientConnection) -> Any:
        """Read, parse and publish until the socket closes; yield after each frame; raise ``_Silence``."""
        loop = asyncio.get_running_loop()
        last_frame = loop.time()
        next_ping = last_frame + self.spec.ping_seconds if self.spec.ping_text else float("inf")
        while True:
            now = loop.time()
            silence_deadline = last_frame + self.silence_seconds
            if now >= silence_deadline:
                raise _Silence
            if now >= next_ping and self.spec.ping_text is not None:
                await ws.send(self.spec.ping_text)
                next_ping = now + self.spec.ping_seconds
            try:
                async with asyncio.timeout(min(silence_deadline, next_ping) - now):
                    raw = await ws.recv()
            except TimeoutError:
                continue
            except WebSocketException:
                return  # closed (cleanly or not): reconnect
            last_frame = loop.time()
            self._handle(raw)
            yield

    def _handle(self, raw: str | bytes) -> None:
        self.stats.messages += 1
        self.stats.last_message_monotonic = asyncio.get_running_loop().time()
        try:
            message: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            message = raw if isinstance(raw, str) else raw.decode(errors="replace")
        try:
            events = self.spec.parse(message, self.clock())
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            self.stats.parse_errors += 1
            log.warning("stream %s: unparseable message (%r): %.200s", self.key.topic, exc, raw)
            return
        where = first_non_finite(events)
        if where is not None:  # a "NaN" price parses as a float: count it as unparseable, never publish it
            self.stats.parse_errors += 1
            log.warning("stream %s: non-finite number at %s: %.200s", self.key.topic, where, raw)
            return
        for event in events:
            if not self._wanted(event):
                continue
            self.stats.events += 1
            self.publisher.publish(self.key.topic, event)

    def _wanted(self, event: Event) -> bool:
        """Only events of the key's kind, symbol (when named) and candle interval go out on its topic."""
        key = self.key
        if not isinstance(event, _KIND_TYPES[key.kind]):
            return False
        if key.symbol is not None and event.symbol != key.symbol:
            return False
        return not (isinstance(event, CandleUpdate) and key.interval and event.interval.value != key.interval)


def _failure_kind(exc: BaseException) -> str:
    """``unreachable`` for name resolution and refused or unroutable connections (no network, a wrong
    host), else the exception's type: what decides whether a repeat is news."""
    if isinstance(exc, socket.gaierror | ConnectionRefusedError) or (
        isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH)
    ):
        return "unreachable"
    return type(exc).__name__


_KIND_TYPES: dict[StreamKind, type[Event]] = {
    StreamKind.LIQUIDATIONS: Liquidation,
    StreamKind.TRADES: Trade,
    StreamKind.CANDLES: CandleUpdate,
}
