"""Several replicas on one Redis (``REDIS_URL``): what the composition root wires when it is set.

Unset (the default, one process): nothing here runs and every cache, counter, broker and job is in-process.
Set: the provider cache (:mod:`providers.redis_cache`), the response cache
(:mod:`signal_api.redis_response_cache`), the rate-limit counters (``limits``' Redis storage), the stream
broker (:mod:`resolvers.redis_broker`) are shared, and leases (:mod:`resolvers.leases`, ``REDIS_LEASE_SECONDS``)
make each upstream stream, the outcome job, the scanner and the spike poller run on one replica at a time.
A replica that dies loses its leases within ``REDIS_LEASE_SECONDS``; another one takes them on its next
keeper tick (``ttl/3``), so within ``4/3 x REDIS_LEASE_SECONDS`` (under 7 s by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from resolvers.leases import LeasedHub, RedisLeases
from resolvers.redis_broker import RedisBroker

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from datetime import datetime

    from persistence.outcomes import OutcomeJob
    from resolvers.gateway import MarketGateway
    from resolvers.spike_monitor import SpikeMonitor

log = structlog.get_logger(__name__)
OUTCOME_LEASE = "job:outcomes"
SPIKES_LEASE = "job:spikes"
SPIKES_TOPIC = "cluster:spikes:sampled"  # the spike poller's leader says it sampled; the others read the same
MAX_ROUNDS = 10_000_000  # the job loops' bound


class RedisUnavailable(RuntimeError):
    """REDIS_URL is set but Redis does not answer at start-up: refuse to start rather than run alone."""


@dataclass
class JobCounts:
    rounds: int = 0
    stored: int = 0  # outcomes stored (outcome job) or samples taken (spikes)
    last_round_at: float | None = None  # wall clock, epoch seconds
    last_error: str | None = None


@dataclass
class Cluster:
    redis: Redis
    replica: str
    leases: RedisLeases
    broker: RedisBroker
    hub: LeasedHub | None = None
    jobs: dict[str, JobCounts] = field(default_factory=dict)

    def view(self) -> dict[str, Any]:
        """For /health: who this replica is, what it holds and ingests, what its jobs did."""
        return {
            "replica": self.replica,
            "redis": "connected" if self.broker.connected else "unreachable",
            "lease_seconds": self.leases.ttl_seconds,
            "leases_held": self.leases.held(),
            "ingesting": [k.topic for k in self.hub.ingesting()] if self.hub is not None else [],
            "jobs": {name: vars(counts) for name, counts in sorted(self.jobs.items())},
            "events": {
                "sent": self.broker.remote_sent,
                "received": self.broker.remote_received,
                "dropped": self.broker.remote_dropped,
            },
        }


def replica_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def redis_client(redis_url: str) -> Redis:
    """The process's one Redis client (connections are opened on first use, in the serving loop)."""
    return Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=10, health_check_interval=30)


@contextlib.asynccontextmanager
async def open_cluster(redis: Redis, lease_seconds: float) -> AsyncIterator[Cluster]:
    """Check Redis answers (refusing to start when it does not), start the leases' keeper and the broker;
    on exit give the leases up (another replica takes them at once) and close the client."""
    try:
        await redis.ping()
    except RedisError as exc:
        await redis.aclose()
        raise RedisUnavailable(f"REDIS_URL is set but Redis does not answer: {exc.__class__.__name__}") from exc
    replica = replica_id()
    leases = RedisLeases(redis, replica, ttl_seconds=lease_seconds)
    broker = RedisBroker(redis)
    await broker.start()
    leases.start()
    log.info("cluster mode: shared caches, broker and leases on redis", replica=replica, lease_seconds=lease_seconds)
    try:
        yield Cluster(redis, replica, leases, broker)
    finally:
        await leases.aclose()
        await broker.aclose()
        await redis.aclose()


async def run_outcome_job(
    cluster: Cluster, job: OutcomeJob, interval_seconds: float, clock: Callable[[], datetime]
) -> None:
    """The outcome job on the replica holding ``job:outcomes``: a round every ``interval_seconds``, and one
    at once when the lease is taken over (the previous holder may have died mid-interval). A round runs only
    while the lease is held, so two replicas never evaluate the same outcomes (and the insert ignores a
    (signal, horizon) already stored)."""
    counts = cluster.jobs.setdefault("outcomes", JobCounts())
    leases = cluster.leases
    await leases.want(OUTCOME_LEASE)
    tick = min(1.0, interval_seconds)
    due_at = 0.0  # monotonic: the first holder runs a round at once
    was = False
    for _ in range(MAX_ROUNDS):
        holds = leases.holds(OUTCOME_LEASE)
        if holds and (not was or time.monotonic() >= due_at):
            due_at = time.monotonic() + interval_seconds
            try:
                counts.stored += await job.run_once(clock())
                counts.last_error = None
            except Exception as exc:  # a round must never end the job; the next one retries
                log.exception("outcome job round failed")
                counts.last_error = exc.__class__.__name__
            counts.rounds += 1
            counts.last_round_at = time.time()
        was = holds
        await asyncio.sleep(tick)


async def run_spike_poller(
    cluster: Cluster, spikes: SpikeMonitor, gateway: MarketGateway, interval_seconds: float
) -> None:
    """The spike history on every replica from one upstream sampling: the holder of ``job:spikes`` samples
    every interval and says so on the broker; every other replica then samples too, reading the same
    answers from the shared provider cache (no upstream call), so each keeps the same history."""
    counts = cluster.jobs.setdefault("spikes", JobCounts())
    leases = cluster.leases
    await leases.want(SPIKES_LEASE)
    subscription = cluster.broker.subscribe(SPIKES_TOPIC, maxsize=4)

    async def follow() -> None:
        async for _ in subscription:
            if not leases.holds(SPIKES_LEASE):
                with contextlib.suppress(Exception):
                    await spikes.sample(gateway)
                    counts.stored += 1

    following = asyncio.ensure_future(follow())
    try:
        for _ in range(MAX_ROUNDS):
            await asyncio.sleep(interval_seconds)
            if not leases.holds(SPIKES_LEASE):
                continue
            try:
                await spikes.sample(gateway)
                counts.stored += 1
                counts.last_error = None
                cluster.broker.publish(SPIKES_TOPIC, time.time())
            except Exception as exc:
                log.exception("spike sample failed")
                counts.last_error = exc.__class__.__name__
            counts.rounds += 1
            counts.last_round_at = time.time()
    finally:
        subscription.close()
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following


class ClusterLeaseStore:
    """The scanner's lease store (``acquire``/``release`` like :class:`persistence.alerts.LeaseRepository`)
    over the Redis keeper: held while this replica is alive, whatever TTL the caller asks for."""

    def __init__(self, leases: RedisLeases) -> None:
        self._leases = leases

    async def acquire(self, name: str, holder: str, ttl_seconds: float) -> bool:
        return await self._leases.want("job:" + name)

    async def release(self, name: str, holder: str) -> None:
        await self._leases.drop("job:" + name)
