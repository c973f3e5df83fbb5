"""The last hour of trades of the symbols someone asked flow for, per venue, from the live trade streams.

``flow`` and ``scalping`` call :meth:`TradeWindow.follow`: the first call for a (venue, symbol) acquires
its trade stream from the hub and keeps it open while the symbol is asked for (released after ``idle``
without a request; at most ``max_streams`` followed at once, the least recently asked released first).
The window also stores trades that reach it from streams other subscribers opened, for followed keys only.

**Coverage** of a (venue, symbol) starts at the venue time of the first trade received after following
began: a socket that never connected covers nothing, and a replayed recording covers what it recorded.
A window read is complete only when coverage reaches back over the whole window; the flow resolver says
so instead of reporting a partial sum as the window's. Memory is bounded: trades older than
``MAX_WINDOW`` are pruned on every add and read, and each key keeps at most ``max_events`` trades (the
oldest go first, and coverage then starts after them). Trades the broker had to drop before they reached
the window (a full queue) restart every key's coverage at the next trade: a gap is never summed as quiet.
A stream that reconnected (the hub's count) lost what was traded meanwhile: its coverage restarts then.
A trade equal to one held (venue time, side, price, size) is counted once: a replayed cassette loops.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from engine.market import Trade
from providers.streams import StreamKey, StreamKind
from providers.streams.parsers import StreamNotRecorded, UnsupportedStream

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Callable
    from datetime import datetime

MAX_WINDOW = timedelta(hours=1)
_Key = tuple[str, str]  # (venue, canonical symbol)


@dataclass(slots=True)
class _Followed:
    release: Callable[[], None]
    last_asked: datetime
    covered_since: datetime | None = None  # venue time of the first trade received
    reconnects: int = 0  # the hub's reconnect count of the stream when last looked at


class TradeWindow:
    def __init__(
        self,
        clock: Callable[[], datetime],
        acquire: Callable[[StreamKey], Callable[[], None]],
        check: Callable[[StreamKey], object],
        *,
        idle: timedelta = timedelta(hours=2),
        max_streams: int = 20,
        max_events: int = 100_000,
        reconnects: Callable[[StreamKey], int] | None = None,
    ) -> None:
        self._clock = clock
        self._acquire = acquire
        self._check = check
        self._idle = idle
        self._max_streams = max_streams
        self._max_events = max_events
        self._reconnects = reconnects  # the hub's reconnect count per stream: a reconnect is a gap
        self._followed: dict[_Key, _Followed] = {}
        self._trades: dict[_Key, deque[Trade]] = {}
        self._held: dict[_Key, set[tuple[datetime, str, float, float]]] = {}
        self._expired_at: datetime | None = None  # last idle sweep (follow sweeps too; add at most each minute)

    def follow(self, venue: str, symbol: str) -> str | None:
        """Keep (venue, symbol)'s trade stream open; ``None`` when it is followed, else why it cannot be."""
        now = self._clock()
        self._expire(now)
        key = (venue, symbol)
        followed = self._followed.get(key)
        if followed is not None:
            followed.last_asked = now
            return None
        stream = StreamKey(StreamKind.TRADES, venue, symbol)
        try:
            self._check(stream)
            release = self._acquire(stream)
        except StreamNotRecorded as exc:
            return f"{venue} trades are not in the replayed recording: {exc}"
        except UnsupportedStream as exc:
            return f"{venue} has no trade stream here: {exc}"
        if len(self._followed) >= self._max_streams:
            oldest = min(self._followed, key=lambda k: self._followed[k].last_asked)
            self._drop(oldest)
        seen = self._reconnects(stream) if self._reconnects is not None else 0
        self._followed[key] = _Followed(release=release, last_asked=now, reconnects=seen)
        return None

    def coverage_start(self, venue: str, symbol: str) -> datetime | None:
        """The venue time coverage of (venue, symbol) starts at, or None while nothing is covered. The
        stream reconnected since the last look (trades during the gap are lost): coverage restarts now."""
        followed = self._followed.get((venue, symbol))
        if followed is None:
            return None
        if self._reconnects is not None:
            count = self._reconnects(StreamKey(StreamKind.TRADES, venue, symbol))
            if count != followed.reconnects:
                followed.reconnects = count
                if followed.covered_since is not None:
                    followed.covered_since = max(followed.covered_since, self._clock())
        return followed.covered_since

    def add(self, trade: Trade) -> None:
        now = self._clock()
        if self._expired_at is None or now - self._expired_at >= timedelta(minutes=1):
            self._expire(now)  # streams nobody asks for any more close even if no request comes
        key = (trade.venue, trade.symbol)
        followed = self._followed.get(key)
        if followed is None:
            return  # nobody asked flow for it: not kept
        if trade.time <= now - MAX_WINDOW:
            return
        entry = (trade.time, trade.taker_side, trade.price, trade.size)
        held = self._held.setdefault(key, set())
        if entry in held:
            return
        trades = self._trades.setdefault(key, deque())
        if len(trades) >= self._max_events:
            old = trades.popleft()
            held.discard((old.time, old.taker_side, old.price, old.size))
            # what was dropped is no longer covered: coverage now starts after it
            if followed.covered_since is not None and trades:
                followed.covered_since = max(followed.covered_since, trades[0].time)
        held.add(entry)
        trades.append(trade)  # read order does not matter: readers filter by time
        if followed.covered_since is None:
            followed.covered_since = trade.time
        self._prune(key, now)

    def lost_events(self, at: datetime) -> None:
        """Events were dropped before they reached the window (a full broker queue): every followed key is
        covered only from ``at`` on, so no window read claims the gap."""
        for followed in self._followed.values():
            if followed.covered_since is not None:
                followed.covered_since = max(followed.covered_since, at)

    def trades(self, venue: str, symbol: str) -> tuple[Trade, ...]:
        """Every held trade of (venue, symbol) within the last :data:`MAX_WINDOW`."""
        key = (venue, symbol)
        self._prune(key, self._clock())
        return tuple(self._trades.get(key, ()))

    def followed(self) -> list[_Key]:
        return sorted(self._followed)

    def _prune(self, key: _Key, now: datetime) -> None:
        """Drop trades from the head while they are outside the window (streams arrive nearly in order; a
        late straggler left behind is filtered by every reader's time bounds and goes with the head later)."""
        trades = self._trades.get(key)
        if not trades:
            return
        cutoff = now - MAX_WINDOW
        held = self._held[key]
        while trades and trades[0].time <= cutoff:
            old = trades.popleft()
            held.discard((old.time, old.taker_side, old.price, old.size))

    def _expire(self, now: datetime) -> None:
        self._expired_at = now
        for key in [k for k, f in self._followed.items() if now - f.last_asked > self._idle]:
            self._drop(key)

    def _drop(self, key: _Key) -> None:
        followed = self._followed.pop(key)
        followed.release()
        self._trades.pop(key, None)
        self._held.pop(key, None)

    def close(self) -> None:
        """Release every stream (the lifespan's shutdown)."""
        for key in list(self._followed):
            self._drop(key)

    async def run(self, events: AsyncIterable[object]) -> None:
        """Consume a broker subscription (``trades:<venue>:*``) until it ends; when the subscription reports
        dropped events (its ``dropped`` count grows), coverage restarts at the next trade's time."""
        dropped = getattr(events, "dropped", 0)
        async for event in events:
            if not isinstance(event, Trade):
                continue
            now_dropped = getattr(events, "dropped", 0)
            if now_dropped != dropped:
                dropped = now_dropped
                self.lost_events(event.time)
            self.add(event)
