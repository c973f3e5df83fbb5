"""REDIS_URL: the shared provider cache, response cache, rate-limit counters, broker and leases, each
against a real redis-server (tests/redis_helpers.py). Two instances of each stand for two replicas: they
share nothing but the Redis server."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import pytest
from redis.asyncio import Redis

from engine.market import Liquidation, PositionSide
from providers.freshness import track, untrack
from providers.redis_cache import RedisCache
from providers.streams import StreamKey, StreamKind
from resolvers.leases import LeasedHub, LeaseGate, RedisLeases
from resolvers.redis_broker import RedisBroker
from signal_api.redis_response_cache import RedisResponseCache
from signal_api.response_cache import CachedResponse, etag_of
from signal_api.security.principal import Principal
from signal_api.security.ratelimit import LimitPolicy, RateLimits
from tests.redis_helpers import running_redis

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from persistence.outcomes import OutcomeJob
    from providers.streams.hub import StreamHub
    from resolvers.gateway import MarketGateway
    from resolvers.spike_monitor import SpikeMonitor


@pytest.fixture
async def redis_url(tmp_path: Path) -> AsyncIterator[str]:
    with running_redis(tmp_path) as url:
        yield url


@pytest.fixture
async def clients(redis_url: str) -> AsyncIterator[tuple[Redis, Redis]]:
    """Two clients (two replicas' connections) to the same server."""
    a, b = Redis.from_url(redis_url), Redis.from_url(redis_url)
    yield a, b
    await a.aclose()
    await b.aclose()


async def test_provider_cache_one_load_for_two_replicas(clients: tuple[Redis, Redis]) -> None:
    a, b = RedisCache(clients[0]), RedisCache(clients[1])
    calls = 0

    async def load() -> dict[str, float]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.2)  # an upstream round trip: the other replica arrives while it is in flight
        return {"price": 117_000.5}

    first, second = await asyncio.gather(a.get_or_load("k", 30, load), b.get_or_load("k", 30, load))
    assert first == second == {"price": 117_000.5}
    assert calls == 1  # one replica waited for the other's load instead of calling upstream
    assert a.remote_waits + b.remote_waits == 1
    freshness, token = track()
    try:
        assert await b.get_or_load("k", 30, load) == {"price": 117_000.5}  # its own copy now
    finally:
        untrack(token)
    assert calls == 1
    assert 29 < freshness.ttl <= 30  # the shared entry's remaining lifetime, not a fresh 30 s


async def test_provider_cache_keys_carry_the_value_format(clients: tuple[Redis, Redis]) -> None:
    """Replicas of two releases share one Redis during a rolling deploy: a release whose parsed types differ
    (another VALUE_FORMAT) neither reads nor overwrites the other's entries."""
    from providers.redis_cache import VALUE_FORMAT

    old, new = RedisCache(clients[0], prefix="fsa:pc:v1:"), RedisCache(clients[1])
    assert await old.get_or_load("klines", 30, _value("an old release's parsed form")) == "an old release's parsed form"
    assert await new.get_or_load("klines", 30, _value("the new form")) == "the new form"  # loaded, not unpickled
    keys = sorted(key.decode() for key in await clients[0].keys("fsa:pc:*"))
    assert keys == ["fsa:pc:v1:klines", f"fsa:pc:v{VALUE_FORMAT}:klines"] and VALUE_FORMAT > 1


def _value(value: str) -> Callable[[], Any]:
    async def load() -> str:
        return value

    return load


async def test_provider_cache_errors_are_not_shared_and_expiry_reloads(clients: tuple[Redis, Redis]) -> None:
    a, b = RedisCache(clients[0]), RedisCache(clients[1])

    async def fail() -> int:
        raise RuntimeError("upstream 503")

    with pytest.raises(RuntimeError):
        await a.get_or_load("e", 30, fail)
    loads = 0

    async def load() -> int:
        nonlocal loads
        loads += 1
        return loads

    assert await b.get_or_load("e", 0.3, load) == 1  # the failure left nothing behind
    assert await a.get_or_load("e", 0.3, load) == 1  # shared
    await asyncio.sleep(0.4)
    assert await a.get_or_load("e", 0.3, load) == 2  # expired on both: loaded again
    assert loads == 2


async def test_response_cache_shared_until_expiry(clients: tuple[Redis, Redis]) -> None:
    a, b = RedisResponseCache(clients[0]), RedisResponseCache(clients[1])
    body = b'{"data":{"signal":{"recommendation":"LONG"}}}'
    await a.put("rc:1", CachedResponse(body, etag_of(body), time.time() + 0.5))
    got = await b.get("rc:1")
    assert got is not None
    assert (got.body, got.etag, got.content_type) == (body, etag_of(body), "application/json")
    assert await b.get("rc:2") is None
    await asyncio.sleep(0.6)
    assert await b.get("rc:1") is None  # Redis expired it at expires_at
    assert b.stats().hits == 1
    assert b.stats().misses == 2


async def test_rate_limit_budget_shared_by_replicas(redis_url: str) -> None:
    policy = LimitPolicy(window_seconds=60, anonymous_requests=3)
    one, two = RateLimits(policy, redis_url), RateLimits(policy, redis_url)
    caller = Principal(address="203.0.113.9")
    try:
        charges = [await one.charge_request(caller), await two.charge_request(caller), await one.charge_request(caller)]
        assert [c.allowed for c in charges] == [True, True, True]
        refused = await two.charge_request(caller)
        assert not refused.allowed  # the fourth request, on the other replica, is over the shared budget
        assert refused.remaining == 0
    finally:
        await one.aclose()
        await two.aclose()


def _liquidation(symbol: str, usd: float) -> Liquidation:
    return Liquidation("binance", symbol, PositionSide.LONG, 100.0, usd / 100.0, datetime(2025, 10, 10, tzinfo=UTC))


async def test_broker_every_subscriber_on_any_replica_gets_every_event(clients: tuple[Redis, Redis]) -> None:
    a, b = RedisBroker(clients[0]), RedisBroker(clients[1])
    await a.start()
    await b.start()
    try:
        on_a = a.subscribe("liquidations:binance:*")
        on_b = b.subscribe("liquidations:binance:*")
        only_eth = b.subscribe("liquidations:binance:ETHUSDT")
        events = [_liquidation("BTCUSDT", 50_000), _liquidation("ETHUSDT", 20_000)]
        for event in events:
            a.publish(f"liquidations:binance:{event.symbol}", event)
        got_b = [await asyncio.wait_for(anext(aiter(on_b)), 5) for _ in events]
        assert got_b == events  # the other replica's subscriber, in order, equal after the round trip
        assert await asyncio.wait_for(anext(aiter(only_eth)), 5) == events[1]
        got_a = [await asyncio.wait_for(anext(aiter(on_a)), 5) for _ in events]
        assert got_a == events
        await asyncio.sleep(0.2)
        assert len(on_a) == 0  # the publisher's own subscriber got each event once (its echo is skipped)
        assert (a.remote_sent, b.remote_received, a.remote_received) == (2, 2, 0)
    finally:
        await a.aclose()
        await b.aclose()


async def _until(condition: Callable[[], bool], seconds: float) -> float:
    """Seconds until ``condition()`` holds (polled every 50 ms, at most ``seconds``); fails otherwise."""
    started = time.monotonic()
    for _ in range(int(seconds / 0.05) + 1):
        if condition():
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError(f"not true within {seconds} s")


async def test_lease_one_holder_and_takeover_after_death(clients: tuple[Redis, Redis]) -> None:
    a = RedisLeases(clients[0], "replica-a", ttl_seconds=1.0)
    b = RedisLeases(clients[1], "replica-b", ttl_seconds=1.0)
    a.start()
    b.start()
    changes: list[bool] = []
    try:
        assert await a.want("job:outcomes") is True
        assert await b.want("job:outcomes", changes.append) is False
        assert await b.holder_of("job:outcomes") == "replica-a"
        await asyncio.sleep(1.5)  # renewed by a's keeper past its TTL
        assert a.holds("job:outcomes")
        assert not b.holds("job:outcomes")
        # a dies: its keeper stops without giving anything up
        assert a._task is not None
        a._task.cancel()
        took = await _until(lambda: b.holds("job:outcomes"), 3.0)
        assert took <= 1.0 * 4 / 3 + 0.6  # TTL plus one keeper tick (and a loaded machine)
        assert changes == [True]
        assert not a.holds("job:outcomes")  # a's own view expired with its last renewal
        await b.drop("job:outcomes")  # a clean stop gives it up at once
        assert await a.holder_of("job:outcomes") is None
    finally:
        await a.aclose()
        await b.aclose()


class RecordingHub:
    """Stands in for the stream hub (not for Redis): records which streams this replica opens upstream."""

    def __init__(self) -> None:
        self.open: list[StreamKey] = []

    def check(self, key: StreamKey) -> None:
        return None

    def acquire(self, key: StreamKey) -> Callable[[], None]:
        self.open.append(key)
        return lambda: self.open.remove(key)

    def stats(self) -> dict[StreamKey, object]:
        return {}


async def test_one_replica_ingests_each_stream(clients: tuple[Redis, Redis]) -> None:
    leases_a = RedisLeases(clients[0], "replica-a", ttl_seconds=1.0)
    leases_b = RedisLeases(clients[1], "replica-b", ttl_seconds=1.0)
    hub_a, hub_b = RecordingHub(), RecordingHub()
    broker_a, broker_b = RedisBroker(clients[0]), RedisBroker(clients[1])
    await broker_a.start()
    await broker_b.start()
    a = LeasedHub(cast_hub(hub_a), leases_a, broker_a)
    b = LeasedHub(cast_hub(hub_b), leases_b, broker_b)
    leases_a.start()
    leases_b.start()
    key = StreamKey(StreamKind.LIQUIDATIONS, "binance")
    try:
        release_a = a.acquire(key)
        await _until(lambda: hub_a.open == [key], 2.0)
        release_b = b.acquire(key)
        await asyncio.sleep(0.8)  # two keeper ticks
        assert hub_b.open == []  # the stream is ingested once for both replicas
        assert (a.takeovers(key), b.takeovers(key)) == (1, 1)  # both saw a open it
        gate_a = LeaseGate(broker_a)
        gate_a.hub = a
        watcher = broker_b.subscribe("liquidations:binance:*")
        gate_a.publish("liquidations:binance:BTCUSDT", _liquidation("BTCUSDT", 9_000))  # a holds it: goes out
        assert await asyncio.wait_for(anext(aiter(watcher)), 5) == _liquidation("BTCUSDT", 9_000)
        release_a()  # a's last subscriber leaves: it gives the lease up, b opens the stream
        await _until(lambda: hub_b.open == [key], 2.0)
        assert hub_a.open == []
        # a's socket may linger in the hub's grace period: what it still reads is not published again
        assert (a.publishing("liquidations:binance:ETHUSDT"), b.publishing("liquidations:binance:ETHUSDT")) == (
            False,
            True,
        )
        gate_a.publish("liquidations:binance:ETHUSDT", _liquidation("ETHUSDT", 9_000))
        assert gate_a.dropped == 1
        await asyncio.sleep(0.3)
        assert len(watcher) == 0
        # the takeover is a gap on every replica (the trade window restarts its coverage on it)
        await _until(lambda: (a.takeovers(key), b.takeovers(key)) == (2, 2), 2.0)
        release_b()
        await _until(lambda: hub_b.open == [], 2.0)
    finally:
        for closing in (a, b, leases_a, leases_b, broker_a, broker_b):
            await closing.aclose()


def cast_hub(hub: RecordingHub) -> StreamHub:
    return cast("StreamHub", hub)


async def test_redis_gone_degrades_to_uncached_and_unbudgeted(tmp_path: Path) -> None:
    """Redis stops: provider reads go upstream, the response cache misses, budgets are not enforced; no
    request fails because of it."""
    with running_redis(tmp_path) as url:
        client = Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        cache, responses = RedisCache(client), RedisResponseCache(client)
        limits = RateLimits(LimitPolicy(window_seconds=60, anonymous_requests=1), url)
        caller = Principal(address="203.0.113.10")
        assert (await limits.charge_request(caller)).allowed
        assert not (await limits.charge_request(caller)).allowed  # working: the budget of 1 is spent
        broker = RedisBroker(client)
        await broker.start()
        assert broker.connected
    # the server is stopped now
    await _until(lambda: not broker.connected, 3.0)  # /health says redis_unavailable
    await broker.aclose()
    loads = 0

    async def load() -> int:
        nonlocal loads
        loads += 1
        return loads

    try:
        assert await cache.get_or_load("x", 30, load) == 1
        assert await responses.get("rc:x") is None
        body = b"{}"
        await responses.put("rc:x", CachedResponse(body, etag_of(body), time.time() + 5))  # skipped, no error
        charge = await limits.charge_request(caller)
        assert charge.allowed
        assert limits.storage_errors == 1
    finally:
        await limits.aclose()
        await client.aclose()


class RecordingJob:
    """Stands in for the outcome job (the lease logic is under test, not the evaluation): the time of
    every round it is asked to run."""

    def __init__(self) -> None:
        self.rounds: list[float] = []

    async def run_once(self, now: datetime) -> int:
        self.rounds.append(time.monotonic())
        return 1


async def test_outcome_job_runs_on_one_replica_and_moves_when_it_dies(redis_url: str) -> None:
    from signal_api.cluster import open_cluster, run_outcome_job

    def clock() -> datetime:
        return datetime(2025, 11, 14, tzinfo=UTC)

    jobs = [RecordingJob(), RecordingJob()]
    async with (
        open_cluster(Redis.from_url(redis_url), 1.0) as first,
        open_cluster(Redis.from_url(redis_url), 1.0) as second,
    ):
        tasks = [
            asyncio.ensure_future(run_outcome_job(c, cast("OutcomeJob", j), 0.3, clock))
            for c, j in zip((first, second), jobs, strict=True)
        ]
        try:
            await asyncio.sleep(1.5)
            running = [i for i, job in enumerate(jobs) if job.rounds]
            assert len(running) == 1  # one replica evaluates outcomes, the other waits
            holder, other = (first, second) if running == [0] else (second, first)
            assert len(jobs[running[0]].rounds) >= 3  # a round at once, then every 0.3 s
            # the holder dies: its keeper and its job stop, its lease is not given up
            assert holder.leases._task is not None
            holder.leases._task.cancel()
            tasks[running[0]].cancel()
            died = time.monotonic()
            waiting = jobs[1 - running[0]]
            took = await _until(lambda: bool(waiting.rounds), 3.0)
            assert took <= 1.0 * 4 / 3 + 0.5
            assert waiting.rounds[0] > max(jobs[running[0]].rounds)  # never two replicas' rounds at once
            assert other.jobs["outcomes"].rounds >= 1
            assert time.monotonic() - died < 3
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


class RecordingSpikes:
    """Stands in for the spike monitor: the times it sampled (its upstream reads are tested elsewhere)."""

    def __init__(self) -> None:
        self.samples: list[float] = []

    async def sample(self, gateway: object) -> None:
        self.samples.append(time.monotonic())


async def test_spike_poller_samples_upstream_once_and_every_replica_follows(redis_url: str) -> None:
    from signal_api.cluster import SPIKES_LEASE, open_cluster, run_spike_poller

    monitors = [RecordingSpikes(), RecordingSpikes()]
    async with (
        open_cluster(Redis.from_url(redis_url), 1.0) as first,
        open_cluster(Redis.from_url(redis_url), 1.0) as second,
    ):
        gateway = cast("MarketGateway", object())
        tasks = [
            asyncio.ensure_future(run_spike_poller(c, cast("SpikeMonitor", m), gateway, 0.3))
            for c, m in zip((first, second), monitors, strict=True)
        ]
        try:
            await _until(lambda: all(len(m.samples) >= 3 for m in monitors), 5.0)
            leader = 0 if first.leases.holds(SPIKES_LEASE) else 1
            assert (first.leases.holds(SPIKES_LEASE), second.leases.holds(SPIKES_LEASE)).count(True) == 1
            rounds = (first, second)[leader].jobs["spikes"].rounds
            assert rounds >= 3  # only the leader's rounds sample (upstream); the follower never runs a round
            assert (first, second)[1 - leader].jobs["spikes"].rounds == 0
            lead, follow = monitors[leader].samples, monitors[1 - leader].samples
            assert all(any(0 <= f - t < 0.5 for f in follow) for t in lead[:-1])  # each followed at once
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_lease_lapses_when_redis_goes_away(tmp_path: Path) -> None:
    """Cut off from Redis, a holder stops acting as one when its last renewal runs out (before another
    replica could take the expired lease), and says so to the lease's owner (the stream is closed)."""
    changes: list[bool] = []
    with running_redis(tmp_path) as url:
        client = Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        leases = RedisLeases(client, "replica-a", ttl_seconds=1.0)
        leases.start()
        assert await leases.want("stream:liquidations:binance:*", changes.append)
    # the server is stopped now
    try:
        took = await _until(lambda: changes == [True, False], 3.0)
        assert took <= 1.0 + 1.0 / 3 + 0.6  # the TTL of the last renewal, plus at most one keeper tick
        assert not leases.holds("stream:liquidations:binance:*")
    finally:
        await leases.aclose()
        await client.aclose()


async def test_scanner_lease_on_redis_one_scanner_and_a_clean_stop_hands_over(redis_url: str) -> None:
    from signal_api.cluster import ClusterLeaseStore, open_cluster

    async with (
        open_cluster(Redis.from_url(redis_url), 1.0) as first,
        open_cluster(Redis.from_url(redis_url), 1.0) as second,
    ):
        one, two = ClusterLeaseStore(first.leases), ClusterLeaseStore(second.leases)
        # the scanner asks once per round, for longer than its interval; the keeper holds it meanwhile
        assert await one.acquire("scanner", "scanner-1", 630) is True
        assert await two.acquire("scanner", "scanner-2", 630) is False
        await asyncio.sleep(1.5)  # past the lease time: still the first replica's (renewed)
        assert await one.acquire("scanner", "scanner-1", 630) is True
        assert await two.acquire("scanner", "scanner-2", 630) is False
    # both stopped cleanly: the lease was given up at once, a new replica takes it without waiting
    async with open_cluster(Redis.from_url(redis_url), 1.0) as third:
        assert await ClusterLeaseStore(third.leases).acquire("scanner", "scanner-3", 630) is True
