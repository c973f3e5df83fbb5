"""The response cache shared by every replica through Redis (``REDIS_URL``): the
:class:`signal_api.response_cache.ResponseCache` interface over one hash per key.

An answer stored by one replica is served by all of them until its ``expires_at`` (Redis expires it then
too: ``PEXPIREAT``), so a round-robin load balancer does not execute the same query once per replica.
A Redis error is a miss (get) or a skipped store (put), logged once per outage, never a failed request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from redis.exceptions import RedisError

from signal_api.response_cache import CachedResponse, ResponseCacheStats

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = structlog.get_logger(__name__)


class RedisResponseCache:
    def __init__(self, redis: Redis, *, prefix: str = "fsa:", max_body_bytes: int = 4 * 1024 * 1024) -> None:
        self._redis = redis
        self._prefix = prefix
        self._max_body = max_body_bytes
        self._stats = ResponseCacheStats()
        self._down = False

    async def get(self, key: str) -> CachedResponse | None:
        try:
            fields: dict[bytes, bytes] = await self._redis.hgetall(self._prefix + key)  # type: ignore[assignment]
        except RedisError as exc:
            self._outage(exc)
            self._stats.misses += 1
            return None
        self._down = False
        if not fields:
            self._stats.misses += 1
            return None
        self._stats.hits += 1
        return CachedResponse(
            body=fields[b"body"],
            etag=fields[b"etag"].decode(),
            expires_at=float(fields[b"expires_at"]),
            content_type=fields[b"content_type"].decode(),
        )

    async def put(self, key: str, response: CachedResponse) -> None:
        if len(response.body) > self._max_body:
            return
        name = self._prefix + key
        mapping: dict[str, bytes | str] = {
            "body": response.body,
            "etag": response.etag,
            "expires_at": repr(response.expires_at),
            "content_type": response.content_type,
        }
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(name, mapping=mapping)  # type: ignore[arg-type]
                pipe.pexpireat(name, int(response.expires_at * 1000))
                await pipe.execute()
        except RedisError as exc:
            self._outage(exc)
            return
        self._stats.stores += 1

    def _outage(self, exc: RedisError) -> None:
        if not self._down:
            log.warning("redis unavailable: the response cache misses until it is back", error=repr(exc))
            self._down = True

    def stats(self) -> ResponseCacheStats:
        return ResponseCacheStats(self._stats.hits, self._stats.misses, self._stats.stores, 0, 0)
