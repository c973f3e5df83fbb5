"""The stream broker across replicas: every subscriber on any replica receives every event (``REDIS_URL``).

Each process keeps an :class:`InProcessBroker` for its own subscribers (the drop-oldest buffers stay
local). ``publish`` delivers to the local subscribers at once and enqueues the event for one writer task
(``PUBLISH fsa:ev:<topic>``, pipelined); one reader task per process (``PSUBSCRIBE fsa:ev:*``) hands the
other replicas' events to the local broker. Each message starts with the publishing process's id, so a
process never delivers its own event twice. Events are the engine's dataclasses, pickled: Redis must be
private (see :mod:`providers.redis_cache`).

``publish`` stays synchronous and non-blocking: a full outbox (Redis too slow or down) drops the event
for the other replicas only, counted in ``remote_dropped``. A lost Redis connection is retried with
backoff; events published meanwhile reach local subscribers only.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import uuid
from typing import TYPE_CHECKING

import structlog
from redis.exceptions import RedisError

from resolvers.broker import DEFAULT_MAXSIZE, BrokerStats, BufferedSubscription, InProcessBroker

if TYPE_CHECKING:
    from collections.abc import Iterable

    from redis.asyncio import Redis

log = structlog.get_logger(__name__)
PREFIX = "fsa:ev:"
MAX_RECONNECTS = 10_000_000  # the reader's loop bound (retries of a lost connection)
BATCH = 512  # events per pipelined write


class RedisBroker:
    """:class:`resolvers.broker.Broker` shared by every process on the same Redis."""

    def __init__(self, redis: Redis, *, outbox_size: int = 100_000, prefix: str = PREFIX) -> None:
        self._redis = redis
        self._prefix = prefix
        self._local = InProcessBroker()
        self._origin = uuid.uuid4().bytes  # 16 bytes at the head of every message we publish
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(maxsize=outbox_size)
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()
        self.remote_sent = 0
        self.remote_received = 0
        self.remote_dropped = 0

    async def start(self, timeout_seconds: float = 5.0) -> None:
        """Start the reader and writer; returns once the pattern subscription is active (or the timeout)."""
        self._tasks = [asyncio.ensure_future(self._read()), asyncio.ensure_future(self._write())]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout_seconds)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def publish(self, topic: str, event: object) -> None:
        self._local.publish(topic, event)
        try:
            payload = self._origin + pickle.dumps(event, protocol=pickle.HIGHEST_PROTOCOL)
            self._outbox.put_nowait((topic, payload))
        except asyncio.QueueFull:
            self.remote_dropped += 1

    @property
    def connected(self) -> bool:
        """Whether the pattern subscription is up (other replicas' events are arriving)."""
        return self._subscribed.is_set()

    def subscribe(self, topics: str | Iterable[str], maxsize: int = DEFAULT_MAXSIZE) -> BufferedSubscription:
        return self._local.subscribe(topics, maxsize)

    def stats(self) -> BrokerStats:
        return self._local.stats()

    async def _write(self) -> None:
        while True:
            batch = [await self._outbox.get()]
            while len(batch) < BATCH and not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for topic, payload in batch:
                        pipe.publish(self._prefix + topic, payload)
                    await pipe.execute()
                self.remote_sent += len(batch)
            except RedisError as exc:
                self.remote_dropped += len(batch)
                log.warning(
                    "redis publish failed: events reached this replica only", events=len(batch), error=repr(exc)
                )
                await asyncio.sleep(0.5)

    async def _read(self) -> None:
        delay = 0.1
        for _ in range(MAX_RECONNECTS):
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(self._prefix + "*")
                self._subscribed.set()
                delay = 0.1
                skip = len(self._prefix)
                async for message in pubsub.listen():
                    data = message.get("data")
                    if message.get("type") != "pmessage" or not isinstance(data, bytes):
                        continue
                    if data[:16] == self._origin:
                        continue  # ours: already delivered locally
                    try:
                        event = pickle.loads(data[16:])  # our replicas' events, private Redis
                    except Exception:
                        log.warning("undecodable event from redis skipped")
                        continue
                    self.remote_received += 1
                    self._local.publish(message["channel"].decode()[skip:], event)
            except RedisError as exc:
                self._subscribed.clear()
                log.warning("redis event subscription lost; reconnecting", error=repr(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
