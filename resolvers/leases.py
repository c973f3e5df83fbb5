"""Cluster-wide leases on Redis (``REDIS_URL``): one replica at a time runs each job and ingests each stream.

Why Redis and not the ``leases`` table of migration 0007: a lease must expire within seconds of its holder
dying (a replica killed mid-round must be replaced in under 10 s), and a stream's lease is taken the moment
its first subscriber appears; a heartbeat every ``ttl/3`` on Redis does both cheaply. (Without Redis there
is one replica and the scanner keeps the PostgreSQL lease it always had.)

:class:`RedisLeases` renews every lease this process wants from one keeper task (``SET NX PX`` to take,
a compare-and-``PEXPIRE`` to renew, a compare-and-``DEL`` to give up). A lease counts as held only until
``ttl`` after its last successful renewal: a replica cut off from Redis stops acting as holder before
another can take over. :class:`LeasedHub` puts the stream hub behind leases: a replica with subscribers
to a stream campaigns for ``stream:<topic>``; only the holder opens the upstream socket and publishes
(to every replica, through :class:`resolvers.redis_broker.RedisBroker`); when the holder dies or its last
subscriber leaves, another interested replica takes the lease and opens the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

import structlog
from redis.exceptions import RedisError

from resolvers.broker import wildcard_of

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from redis.asyncio import Redis

    from providers.streams import StreamKey
    from providers.streams.hub import StreamHub, StreamStatus
    from resolvers.broker import Broker, Subscription

log = structlog.get_logger(__name__)
PREFIX = "fsa:lease:"
TAKEN_TOPIC = "cluster:streams:taken"  # a replica opened a stream upstream: every replica counts a gap
MAX_TICKS = 10_000_000  # the keeper's loop bound
# take the lease when free, renew it when ours, in one step (so a renewal racing a take cannot disagree)
_TAKE_OR_RENEW = """
local holder = redis.call('get', KEYS[1])
if holder == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
if holder == false then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0
"""
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


class RedisLeases:
    """The leases this replica (``holder``) wants, kept by one task; see the module docstring."""

    def __init__(
        self,
        redis: Redis,
        holder: str,
        *,
        ttl_seconds: float = 5.0,
        prefix: str = PREFIX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.holder = holder
        self.ttl_seconds = ttl_seconds
        self._redis = redis
        self._prefix = prefix
        self._clock = clock
        self._wanted: dict[str, Callable[[bool], None] | None] = {}
        self._held_until: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._announced: set[str] = set()  # leases whose on_change last said "held"
        self._locks: dict[str, asyncio.Lock] = {}  # one campaign per lease at a time (keeper tick vs want)
        self.acquired = 0  # leases taken (first time or after losing them)
        self.lost = 0  # leases another replica held when we came to renew (or Redis was away too long)

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._keep())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for name in list(self._wanted):
            await self.drop(name)

    def holds(self, name: str) -> bool:
        until = self._held_until.get(name)
        return until is not None and until > self._clock()

    def held(self) -> list[str]:
        return sorted(n for n in self._held_until if self.holds(n))

    async def holder_of(self, name: str) -> str | None:
        value = await self._redis.get(self._prefix + name)
        return None if value is None else value.decode() if isinstance(value, bytes) else str(value)

    async def want(self, name: str, on_change: Callable[[bool], None] | None = None) -> bool:
        """Campaign for ``name`` from now on (at once, then every keeper tick); whether we hold it now.
        ``on_change(held)`` is called whenever this replica gains or loses it."""
        self._wanted[name] = on_change
        return await self._campaign(name)

    async def drop(self, name: str) -> None:
        """Stop campaigning; give the lease up at once if we hold it (another replica can take it now)."""
        on_change = self._wanted.pop(name, None)
        self._held_until.pop(name, None)
        if name in self._announced:
            self._announced.discard(name)
            if on_change is not None:
                on_change(False)
        with contextlib.suppress(RedisError):
            await self._redis.eval(_RELEASE, 1, self._prefix + name, self.holder)

    async def _keep(self) -> None:
        for _ in range(MAX_TICKS):
            await asyncio.sleep(self.ttl_seconds / 3)
            for name in list(self._wanted):
                await self._campaign(name)

    async def _campaign(self, name: str) -> bool:
        async with self._locks.setdefault(name, asyncio.Lock()):
            return await self._campaign_once(name)

    async def _campaign_once(self, name: str) -> bool:
        key = self._prefix + name
        ttl_ms = int(self.ttl_seconds * 1000)
        started = self._clock()
        was = self.holds(name)
        try:
            ok = bool(await self._redis.eval(_TAKE_OR_RENEW, 1, key, self.holder, ttl_ms))
        except RedisError as exc:
            log.warning("lease not renewed: redis unavailable", lease=name, error=repr(exc))
            ok = False
            if name in self._held_until and self.holds(name):
                return True  # still ours until the last renewal's TTL runs out (checked by holds)
        if name not in self._wanted:  # dropped while we were asking: give it back
            if ok:
                with contextlib.suppress(RedisError):
                    await self._redis.eval(_RELEASE, 1, key, self.holder)
            return False
        if ok:
            self._held_until[name] = started + self.ttl_seconds
            if not was:
                self.acquired += 1
                log.info("lease acquired", lease=name, holder=self.holder)
        elif name in self._held_until:
            del self._held_until[name]
            self.lost += 1
            log.warning("lease lost", lease=name, holder=self.holder)
        now = self.holds(name)
        if now != (name in self._announced):  # also after a hold lapsed while Redis was away
            if now:
                self._announced.add(name)
            else:
                self._announced.discard(name)
            on_change = self._wanted.get(name)
            if on_change is not None:
                on_change(now)
        return now


class LeasedHub:
    """The stream hub behind leases: ``acquire``/``check``/``stats`` like :class:`StreamHub`, but the upstream
    socket is opened only by the replica holding the stream's lease (the others receive its events).

    A takeover is a gap like a reconnect (events between the old holder's death and the new socket are
    lost): the new holder announces it on ``broker`` and every replica counts it in :meth:`takeovers`, which
    the trade window adds to the hub's reconnect count so its coverage restarts."""

    def __init__(self, hub: StreamHub, leases: RedisLeases, broker: Broker | None = None) -> None:
        self._hub = hub
        self._leases = leases
        self._broker = broker
        self._interest: dict[StreamKey, int] = {}
        self._upstream: dict[StreamKey, Callable[[], None]] = {}
        self._pending: set[asyncio.Task[object]] = set()
        self._takeovers: dict[str, int] = {}
        self._announcements: Subscription | None = None
        if broker is not None:
            self._announcements = broker.subscribe(TAKEN_TOPIC, maxsize=1_000)
            self._spawn(self._count_takeovers(self._announcements))

    def publishing(self, topic: str) -> bool:
        """Whether an event on ``topic`` comes from a stream this replica holds the lease of (a socket kept
        open by the hub's grace period after the lease went elsewhere must not publish duplicates)."""
        held = {key.topic for key in self._upstream}
        return topic in held or wildcard_of(topic) in held

    def takeovers(self, key: StreamKey) -> int:
        """How many times a replica (this one included) opened ``key`` upstream since this one started."""
        return self._takeovers.get(key.topic, 0)

    async def _count_takeovers(self, announcements: Subscription) -> None:
        async for topic in announcements:
            if isinstance(topic, str):
                self._takeovers[topic] = self._takeovers.get(topic, 0) + 1

    def check(self, key: StreamKey) -> None:
        self._hub.check(key)

    def stats(self) -> dict[StreamKey, StreamStatus]:
        return self._hub.stats()

    def ingesting(self) -> list[StreamKey]:
        return sorted(self._upstream, key=lambda k: k.topic)

    def acquire(self, key: StreamKey) -> Callable[[], None]:
        self._hub.check(key)  # refusals are raised now, as the hub would
        count = self._interest.get(key, 0)
        self._interest[key] = count + 1
        if count == 0:
            self._spawn(self._leases.want(_lease_name(key), lambda held: self._toggle(key, held)))
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            left = self._interest[key] - 1
            if left:
                self._interest[key] = left
                return
            del self._interest[key]
            self._toggle(key, False)
            self._spawn(self._leases.drop(_lease_name(key)))

        return release

    def _toggle(self, key: StreamKey, held: bool) -> None:
        if held and key in self._interest and key not in self._upstream:
            self._upstream[key] = self._hub.acquire(key)
            if self._broker is not None:
                self._broker.publish(TAKEN_TOPIC, key.topic)
        elif not held and key in self._upstream:
            self._upstream.pop(key)()

    def _spawn(self, work: Awaitable[object]) -> None:
        task: asyncio.Task[object] = asyncio.ensure_future(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def aclose(self) -> None:
        for release in self._upstream.values():
            release()
        self._upstream.clear()
        if self._announcements is not None:
            self._announcements.close()
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)


def _lease_name(key: StreamKey) -> str:
    return "stream:" + key.topic


class LeaseGate:
    """The stream hub's publisher in cluster mode: passes an event to the broker only while this replica
    holds the lease of the stream it came from (:meth:`LeasedHub.publishing`); the rest is counted."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self.hub: LeasedHub | None = None  # set once the leased hub exists (it wraps the hub this gate feeds)
        self.dropped = 0

    def publish(self, topic: str, event: object) -> None:
        if self.hub is not None and self.hub.publishing(topic):
            self._broker.publish(topic, event)
        else:
            self.dropped += 1
