"""Rolling liquidation totals per symbol (1 h, 4 h, 24 h; long and short USD) built from streamed events.

Fed by the broker (``run`` consumes a subscription such as ``liquidations:binance:*``) or directly with
:meth:`LiquidationWindow.add`. The clock is injected, so the arithmetic is testable with hand-built
events. Memory is bounded: events older than the longest window (24 h) are pruned on every add and
read, and each symbol keeps at most ``max_events_per_symbol`` events (the oldest go first).

``coverage`` says how long the window has been receiving: a 24 h total read after 20 minutes of
coverage is a 20-minute total, and callers must say so (or fall back to a REST source). A replayed
stream covers what its cassette recorded, so replay starts the window at the recording's start
(``start(since=...)``).

An event equal to one already held (same symbol, venue time, side and USD value) is counted once: a
replayed stream plays its recording in a loop, and Binance's ``!forceOrder@arr`` pushes at most one
liquidation per symbol per second, so two equal events are the same event seen twice.
"""

from __future__ import annotations

from collections import deque
from datetime import timedelta
from typing import TYPE_CHECKING

from engine.market import Liquidation, LiquidationTotals, PositionSide

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Callable
    from datetime import datetime

WINDOWS = (timedelta(hours=1), timedelta(hours=4), timedelta(hours=24))
MAX_WINDOW = max(WINDOWS)


class LiquidationWindow:
    def __init__(self, clock: Callable[[], datetime], *, max_events_per_symbol: int = 200_000) -> None:
        self._clock = clock
        self._max_events = max_events_per_symbol
        # per symbol, oldest first: (venue event time, liquidated side is long, usd)
        self._events: dict[str, deque[tuple[datetime, bool, float]]] = {}
        self._held: dict[str, set[tuple[datetime, bool, float]]] = {}  # the same entries, to drop repeats
        self._started_at: datetime | None = None

    def start(self, since: datetime | None = None) -> None:
        """Mark the moment we began receiving (``run`` calls it; idempotent): now, or ``since`` for a
        stream that already covers time before now (a replayed recording)."""
        if self._started_at is None:
            self._started_at = self._clock() if since is None else since

    @property
    def coverage(self) -> timedelta:
        """How long this window has been receiving events (zero before :meth:`start`)."""
        if self._started_at is None:
            return timedelta(0)
        return max(timedelta(0), self._clock() - self._started_at)

    @property
    def symbols(self) -> list[str]:
        return sorted(self._events)

    def add(self, event: Liquidation) -> None:
        self.start()
        now = self._clock()
        if event.time <= now - MAX_WINDOW:
            return  # already outside every window (a replayed or very late event)
        events = self._events.get(event.symbol)
        if events is None:
            events = self._events[event.symbol] = deque(maxlen=self._max_events)
            self._held[event.symbol] = set()
        held = self._held[event.symbol]
        entry = (event.time, event.side is PositionSide.LONG, event.usd)
        if entry in held:
            return  # seen already (a replay loop, a resend)
        if len(events) == events.maxlen:
            held.discard(events.popleft())  # make room ourselves, so the set forgets what the deque drops
        held.add(entry)
        if not events or events[-1][0] <= event.time:
            events.append(entry)  # the usual case: streams arrive nearly in order
        else:
            # keep time order (``totals`` stops at the first event outside the window): walk back from
            # the newest, which is short for the small reorderings venues produce
            position = len(events)
            while position > 0 and events[position - 1][0] > event.time:
                position -= 1
            events.insert(position, entry)
        self._prune(event.symbol, now)

    def totals(self, symbol: str, window: timedelta) -> LiquidationTotals:
        """Long and short USD liquidated on ``symbol`` with event time in ``(now - window, now]``."""
        if window > MAX_WINDOW:
            raise ValueError(f"window {window} exceeds the kept history of {MAX_WINDOW}")
        now = self._clock()
        self._prune(symbol, now)
        cutoff = now - window
        long_usd = short_usd = 0.0
        for time, is_long, usd in reversed(self._events.get(symbol, ())):
            if time <= cutoff:
                break  # oldest-first storage: everything further left is older still
            if time > now:
                continue  # a venue clock ahead of ours: counted once it is "now"
            if is_long:
                long_usd += usd
            else:
                short_usd += usd
        return LiquidationTotals(window=window, long_usd=long_usd, short_usd=short_usd)

    def event_count(self, symbol: str | None = None) -> int:
        if symbol is not None:
            return len(self._events.get(symbol, ()))
        return sum(len(d) for d in self._events.values())

    def _prune(self, symbol: str, now: datetime) -> None:
        events = self._events.get(symbol)
        if events is None:
            return
        cutoff = now - MAX_WINDOW
        held = self._held[symbol]
        while events and events[0][0] <= cutoff:
            held.discard(events.popleft())
        if not events:
            del self._events[symbol]
            del self._held[symbol]

    def prune_all(self) -> None:
        now = self._clock()
        for symbol in list(self._events):
            self._prune(symbol, now)

    async def run(self, events: AsyncIterable[object]) -> None:
        """Consume a broker subscription until it ends; non-liquidation events are ignored."""
        self.start()
        async for event in events:
            if isinstance(event, Liquidation):
                self.add(event)
