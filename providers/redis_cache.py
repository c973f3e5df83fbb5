"""The provider cache shared by every replica through Redis (``REDIS_URL``), behind :class:`Cache`.

Why: without it, N replicas call each upstream N times per TTL. With it, one load per key and TTL serves
the whole cluster:

- A small in-process copy (L1) holds each value for the lifetime Redis said it had left, so a hot key costs
  no round trip; it never outlives the shared entry.
- Single flight, locally (one task per key) and across replicas: the first replica to miss takes a short
  lock (``SET NX PX``) and loads; the others poll for the stored value (bounded) and load themselves only
  when the lock disappears without a value (the loader failed) or the wait runs out.
- Values are pickled (they are the providers' parsed models). Redis is therefore as trusted as the
  database: keep it on a private network (compose.yaml does). An entry that cannot be pickled or
  unpickled is simply not shared.
- Keys carry :data:`VALUE_FORMAT`, the version of those parsed types: a release that changes one bumps it,
  so during a rolling deploy the replicas of two releases sharing one Redis never read each other's
  entries (an old replica would unpickle a new type into an object it cannot use).
- Redis down: every read loads from upstream as if uncached (logged once per outage), never an error.
"""

from __future__ import annotations

import asyncio
import pickle
import time
import uuid
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, TypeVar

import structlog
from redis.exceptions import RedisError

from providers.cache import CacheStats
from providers.freshness import note_ttl, refuse

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from redis.asyncio import Redis

T = TypeVar("T")
log = structlog.get_logger(__name__)

# v2: Binance klines are a row type (providers.binance.models.BinanceKline), no longer a pydantic model
VALUE_FORMAT = 2

# delete the lock only if it is still ours (a slow loader's lock may have expired and been retaken)
_UNLOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


class RedisCache:
    """:class:`providers.cache.Cache` over one Redis, shared by every process that uses the same ``prefix``."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = f"fsa:pc:v{VALUE_FORMAT}:",
        max_local_entries: int = 10_000,
        lock_seconds: float = 15.0,
        poll_seconds: float = 0.02,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._max_local = max_local_entries
        self._lock_ms = int(lock_seconds * 1000)
        self._poll = poll_seconds
        self._max_polls = max(1, int(lock_seconds / poll_seconds))
        self._clock = clock
        self._local: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[tuple[Any, float]]] = {}
        self._stats = CacheStats()
        self._down = False
        self.remote_waits = 0  # loads another replica did for us

    async def get_or_load(self, key: str, ttl: float, load: Callable[[], Awaitable[T]]) -> T:
        entry = self._local.get(key)
        if entry is not None:
            expires_at, value = entry
            now = self._clock()
            if expires_at > now:
                self._stats.hits += 1
                self._local.move_to_end(key)
                note_ttl(expires_at - now)
                return value  # type: ignore[no-any-return]
            del self._local[key]
        task = self._inflight.get(key)
        if task is not None:
            self._stats.coalesced += 1
        else:
            task = asyncio.ensure_future(self._fetch(key, ttl, load))
            self._inflight[key] = task
            task.add_done_callback(lambda _: self._inflight.pop(key, None))
        try:
            value, remaining = await asyncio.shield(task)
        except Exception:
            refuse("an upstream read failed")
            raise
        note_ttl(remaining)
        return value  # type: ignore[no-any-return]

    async def _fetch(self, key: str, ttl: float, load: Callable[[], Awaitable[T]]) -> tuple[T, float]:
        if ttl <= 0:
            self._stats.misses += 1
            return await load(), ttl
        shared = self._prefix + key
        try:
            found = await self._read(shared)
            if found is not None:
                self._stats.hits += 1
                return self._keep(key, *found)
            token = uuid.uuid4().hex
            if await self._redis.set(shared + ":lock", token, nx=True, px=self._lock_ms):
                try:
                    return await self._load_and_share(key, shared, ttl, load)
                finally:
                    await self._redis.eval(_UNLOCK, 1, shared + ":lock", token)
            for _ in range(self._max_polls):  # another replica is loading it: wait for its answer
                await asyncio.sleep(self._poll)
                found = await self._read(shared)
                if found is not None:
                    self._stats.coalesced += 1
                    self.remote_waits += 1
                    return self._keep(key, *found)
                if not await self._redis.exists(shared + ":lock"):
                    found = await self._read(shared)  # it may have stored and unlocked between our two reads
                    if found is not None:
                        self._stats.coalesced += 1
                        self.remote_waits += 1
                        return self._keep(key, *found)
                    break  # it failed (errors are not shared): try ourselves
            return await self._load_and_share(key, shared, ttl, load)
        except RedisError as exc:
            if not self._down:
                log.warning("redis unavailable: provider cache reads go upstream", error=repr(exc))
                self._down = True
            self._stats.misses += 1
            return await load(), ttl

    async def _read(self, shared: str) -> tuple[Any, float] | None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(shared)
            pipe.pttl(shared)
            raw, pttl = await pipe.execute()
        self._down = False
        if raw is None or pttl is None or pttl <= 0:
            return None
        try:
            return pickle.loads(raw), pttl / 1000.0  # our own entries on a private Redis
        except Exception:  # another version's entry: treat as a miss, the load replaces it
            return None

    async def _load_and_share(
        self, key: str, shared: str, ttl: float, load: Callable[[], Awaitable[T]]
    ) -> tuple[T, float]:
        self._stats.misses += 1
        value = await load()
        try:
            raw = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # not picklable: this replica keeps it, the others load their own
            log.debug("provider cache entry not shared (not picklable)", key=key)
        else:
            await self._redis.set(shared, raw, px=max(1, int(ttl * 1000)))
        return self._keep(key, value, ttl)

    def _keep(self, key: str, value: T, remaining: float) -> tuple[T, float]:
        self._local[key] = (self._clock() + remaining, value)
        self._local.move_to_end(key)
        while len(self._local) > self._max_local:
            self._local.popitem(last=False)
            self._stats.evictions += 1
        return value, remaining

    def stats(self) -> CacheStats:
        self._stats.entries = len(self._local)
        return CacheStats(**{f: getattr(self._stats, f) for f in CacheStats.__dataclass_fields__})

    def clear(self) -> None:
        """Forget this process's copies (the shared entries expire on their own TTL)."""
        self._local.clear()
