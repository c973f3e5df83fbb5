"""The state and settings behind MSS, social hype, the watchlist and the market summary (``Services.discovery``).

Built by the composition root from settings; the watchlist repository is attached once the database is
open (``None`` until then, and when history is off: the watchlist fields then answer a typed problem).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Hashable
    from datetime import datetime

    from persistence.watchlist import WatchlistRepository

T = TypeVar("T")

DEFAULT_SUMMARY_SYMBOLS = ("BTC", "ETH", "SOL", "XRP", "BNB")


@dataclass(frozen=True, slots=True)
class DiscoveryConfig:
    """``summary_ttl_seconds``: how long a market summary is served from memory (its inputs' freshest
    tier: funding and ratios refresh slower than this); the scan budgets bound the upstream calls of one
    ``mssScan`` on the rate-limited vendors (CoinGecko keyless: 5 a minute; LunarCrush: 10 a minute)."""

    summary_symbols: tuple[str, ...] = DEFAULT_SUMMARY_SYMBOLS
    summary_ttl_seconds: float = 15.0
    scan_max_coins: int = 20
    scan_coingecko_calls: int = 3
    scan_lunarcrush_calls: int = 5
    hype_history_points: int = 288  # per coin: a day at one reading per 5 minutes
    hype_min_interval_seconds: float = 300.0
    hype_max_coins: int = 500
    # anonymous callers share one watchlist only on a loopback-bound service (like alert rules); elsewhere a key
    watchlist_anonymous: bool = True


class HypeHistory:
    """Each coin's earlier hype scores, in memory (bounded per coin and in coins; least recently used coin
    dropped first). A reading closer than ``min_interval_seconds`` to the last kept one is not kept, so
    repeated requests do not flatten the history a spike is judged against."""

    def __init__(self, points: int, min_interval_seconds: float, max_coins: int) -> None:
        self._points = points
        self._min_interval = min_interval_seconds
        self._max_coins = max_coins
        self._by_symbol: OrderedDict[str, deque[tuple[datetime, float]]] = OrderedDict()

    def earlier(self, symbol: str, now: datetime) -> tuple[float, ...]:
        """Scores kept from before ``now - min_interval``: a reading within the interval counts as the current
        one, so requests in the same few minutes get the same answer."""
        return tuple(score for _, score in self.earlier_readings(symbol, now))

    def earlier_readings(self, symbol: str, now: datetime) -> tuple[tuple[datetime, float], ...]:
        """:meth:`earlier` with each score's time, oldest first (the first one dates the hype change)."""
        return tuple(
            (at, score)
            for at, score in self._by_symbol.get(symbol, ())
            if (now - at).total_seconds() >= self._min_interval
        )

    def record(self, symbol: str, at: datetime, score: float) -> bool:
        series = self._by_symbol.get(symbol)
        if series is None:
            series = self._by_symbol[symbol] = deque(maxlen=self._points)
            while len(self._by_symbol) > self._max_coins:
                self._by_symbol.popitem(last=False)
        self._by_symbol.move_to_end(symbol)
        if series and (at - series[-1][0]).total_seconds() < self._min_interval:
            return False
        series.append((at, score))
        return True


class TtlCache(Generic[T]):
    """One value per key for ``ttl_seconds`` (monotonic clock); concurrent misses of a key share one build."""

    def __init__(self, ttl_seconds: float, max_entries: int = 64) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._values: OrderedDict[Hashable, tuple[float, T]] = OrderedDict()
        self._building: dict[Hashable, asyncio.Future[T]] = {}

    async def get(self, key: Hashable, build: Callable[[], Awaitable[T]], keep: Callable[[T], bool]) -> T:
        """The cached value, or ``build()``'s; a built value is kept only when ``keep`` says so (a problem is not)."""
        hit = self._values.get(key)
        if hit is not None and time.monotonic() - hit[0] < self._ttl:
            return hit[1]
        pending = self._building.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._building[key] = future
        try:
            value = await build()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else waits
            raise
        finally:
            self._building.pop(key, None)
        future.set_result(value)
        if keep(value):
            self._values[key] = (time.monotonic(), value)
            while len(self._values) > self._max:
                self._values.popitem(last=False)
        return value


@dataclass(slots=True)
class Discovery:
    config: DiscoveryConfig = field(default_factory=DiscoveryConfig)
    watchlist: WatchlistRepository | None = None
    hype_history: HypeHistory = field(init=False)
    summaries: TtlCache[object] = field(init=False)

    def __post_init__(self) -> None:
        c = self.config
        self.hype_history = HypeHistory(c.hype_history_points, c.hype_min_interval_seconds, c.hype_max_coins)
        self.summaries = TtlCache(c.summary_ttl_seconds)
