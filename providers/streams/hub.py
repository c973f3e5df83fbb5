"""The owner of every upstream socket: refcounted streams with a grace period (see the package docstring).

``acquire(key)`` starts the key's :class:`~providers.streams.client.StreamConnection` on the first
subscriber (one socket per key, whatever the number of subscribers) and returns an idempotent release
callback. When the last subscriber releases, a stop is scheduled ``grace_seconds`` later; an acquire
within the grace cancels it and reuses the open socket. ``aclose()`` cancels the pending stops and
closes every connection; afterwards no task of the hub is left. Must be used from within the event loop.

``check(key)`` says, without opening anything, whether ``acquire(key)`` could ever deliver: it raises
:class:`UnsupportedStream` for a venue without a WebSocket URL or a stream the venue does not offer, and
:class:`StreamNotRecorded` when the upstream is a replayed cassette without that stream (``recorded``,
set by the composition root in replay mode). Subscriptions call it first, so the subscriber is told.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from providers.streams.client import Backoff, StreamConnection, venue_stream
from providers.streams.parsers import StreamNotRecorded, UnsupportedStream

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime

    from providers.streams import Publisher, StreamKey
    from providers.streams.parsers import ContractValue, VenueStream


@dataclass(slots=True)
class _Entry:
    connection: StreamConnection
    subscribers: int = 0
    stop_task: asyncio.Task[None] | None = None


@dataclass(frozen=True, slots=True)
class StreamStatus:
    topic: str
    subscribers: int
    state: str
    messages: int
    events: int
    reconnects: int
    parse_errors: int
    watchdog_timeouts: int
    last_message_age_seconds: float | None


@dataclass
class StreamHub:
    publisher: Publisher
    ws_base_urls: Mapping[str, str]  # provider → ws base URL (wss://fstream.binance.com, ...)
    clock: Callable[[], datetime]
    grace_seconds: float = 30.0
    silence_seconds: float = 60.0
    ctval: ContractValue | None = None  # OKX instId → coins per contract
    backoff: Backoff = field(default_factory=Backoff)
    rng: random.Random = field(default_factory=random.Random)
    proxy: str | Literal[True] | None = True
    # replay: (venue, stream specifics) → why the cassette cannot serve it, or None when it can
    recorded: Callable[[str, VenueStream], str | None] | None = None
    _entries: dict[StreamKey, _Entry] = field(default_factory=dict, init=False)
    _stopping: set[StreamConnection] = field(default_factory=set, init=False)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set, init=False)
    _closed: bool = field(default=False, init=False)

    def check(self, key: StreamKey) -> None:
        """Raise :class:`UnsupportedStream` (or :class:`StreamNotRecorded`) when ``key`` cannot deliver here."""
        if key.venue not in self.ws_base_urls:
            raise UnsupportedStream(f"no WebSocket base URL configured for {key.venue}")
        spec = venue_stream(key, self.ctval)
        refusal = self.recorded(key.venue, spec) if self.recorded is not None else None
        if refusal is not None:
            raise StreamNotRecorded(refusal)

    def acquire(self, key: StreamKey) -> Callable[[], None]:
        """Subscribe to ``key``'s stream; call the returned function (once) to unsubscribe."""
        if self._closed:
            raise RuntimeError("StreamHub is closed")
        entry = self._entries.get(key)
        if entry is None:
            base = self.ws_base_urls.get(key.venue)
            if base is None:
                raise UnsupportedStream(f"no WebSocket base URL configured for {key.venue}")
            spec = venue_stream(key, self.ctval)
            connection = StreamConnection(
                key=key,
                spec=spec,
                url=base.rstrip("/") + spec.path,
                publisher=self.publisher,
                clock=self.clock,
                silence_seconds=self.silence_seconds,
                backoff=self.backoff,
                rng=self.rng,
                proxy=self.proxy,
            )
            connection.start()
            entry = self._entries[key] = _Entry(connection)
        if entry.stop_task is not None:
            entry.stop_task.cancel()
            entry.stop_task = None
        entry.subscribers += 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            entry.subscribers -= 1
            if entry.subscribers == 0 and not self._closed and self._entries.get(key) is entry:
                task = asyncio.get_running_loop().create_task(self._stop_later(key, entry))
                entry.stop_task = task
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

        return release

    async def _stop_later(self, key: StreamKey, entry: _Entry) -> None:
        await asyncio.sleep(self.grace_seconds)
        if entry.subscribers or self._entries.get(key) is not entry:
            return
        del self._entries[key]
        self._stopping.add(entry.connection)
        try:
            await entry.connection.aclose()
        finally:
            self._stopping.discard(entry.connection)

    def stats(self) -> dict[StreamKey, StreamStatus]:
        now = asyncio.get_running_loop().time()
        result = {}
        for key, entry in self._entries.items():
            s = entry.connection.stats
            last = s.last_message_monotonic
            result[key] = StreamStatus(
                topic=key.topic,
                subscribers=entry.subscribers,
                state=s.state.value,
                messages=s.messages,
                events=s.events,
                reconnects=s.reconnects,
                parse_errors=s.parse_errors,
                watchdog_timeouts=s.watchdog_timeouts,
                last_message_age_seconds=None if last is None else now - last,
            )
        return result

    async def aclose(self) -> None:
        """Stop every stream now (grace ignored) and wait for all the hub's tasks to finish."""
        self._closed = True
        connections = [e.connection for e in self._entries.values()] + list(self._stopping)
        self._entries.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        for connection in connections:
            with contextlib.suppress(Exception):
                await connection.aclose()
