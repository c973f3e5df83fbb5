"""TTL cache with single-flight, behind a small interface so a shared (Redis) cache can replace it.

Single-flight: while a load for a key is in flight, every other caller for that key awaits the same
task instead of calling upstream again ("coalesced"). Errors are not cached; the next caller retries.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from providers.freshness import note_ttl, refuse

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

T = TypeVar("T")


@dataclass(slots=True)
class CacheStats:
    hits: int = 0
    misses: int = 0
    coalesced: int = 0
    evictions: int = 0
    entries: int = 0


class Cache(Protocol):
    async def get_or_load(self, key: str, ttl: float, load: Callable[[], Awaitable[T]]) -> T: ...

    def stats(self) -> CacheStats: ...

    def clear(self) -> None: ...


class MemoryCache:
    """In-process LRU of at most ``max_entries`` values, each valid for its own TTL in seconds."""

    def __init__(self, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[Any]] = {}
        self._stats = CacheStats()

    async def get_or_load(self, key: str, ttl: float, load: Callable[[], Awaitable[T]]) -> T:
        entry = self._entries.get(key)
        if entry is not None:
            expires_at, value = entry
            now = self._clock()
            if expires_at > now:
                self._stats.hits += 1
                self._entries.move_to_end(key)
                note_ttl(expires_at - now)  # a cached answer built on this entry lives no longer
                return value  # type: ignore[no-any-return]
            del self._entries[key]
        note_ttl(ttl)  # loaded now (or joining a load in flight): fresh for its whole TTL
        task = self._inflight.get(key)
        if task is not None:
            self._stats.coalesced += 1
        else:
            self._stats.misses += 1
            task = asyncio.ensure_future(self._load_and_store(key, ttl, load))
            self._inflight[key] = task
        # shield: one cancelled caller must not cancel the load the others are waiting for
        try:
            return await asyncio.shield(task)
        except Exception:
            refuse("an upstream read failed")  # not cached here either: the next request retries it
            raise

    async def _load_and_store(self, key: str, ttl: float, load: Callable[[], Awaitable[T]]) -> T:
        try:
            value = await load()
            if ttl > 0:
                self._entries[key] = (self._clock() + ttl, value)
                self._entries.move_to_end(key)
                while len(self._entries) > self._max_entries:
                    self._entries.popitem(last=False)
                    self._stats.evictions += 1
            return value
        finally:
            self._inflight.pop(key, None)

    def stats(self) -> CacheStats:
        self._stats.entries = len(self._entries)
        return CacheStats(**{f: getattr(self._stats, f) for f in CacheStats.__dataclass_fields__})

    def clear(self) -> None:
        self._entries.clear()
