"""MemoryCache: TTL with an injected clock, LRU eviction, errors never cached, and single-flight (one load
per key however many callers wait; a cancelled caller does not cancel the others' load), also end to end
through ProviderHttp against a local server."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from providers.cache import MemoryCache
from providers.replay import serve_in_background
from providers.upstream_client import UpstreamClient
from tests.providers_helpers import make_http

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Loader:
    """Counts its calls; returns ``value`` (after ``delay`` seconds) or raises ``error``."""

    def __init__(self, value: object = "v", delay: float = 0.0, error: Exception | None = None) -> None:
        self.value = value
        self.delay = delay
        self.error = error
        self.calls = 0

    def __call__(self) -> Awaitable[object]:
        self.calls += 1
        return self._run(self.calls)

    async def _run(self, n: int) -> object:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return (self.value, n)


async def test_hit_within_ttl_and_reload_after_expiry() -> None:
    clock = Clock()
    cache = MemoryCache(clock=clock)
    load = Loader()
    assert await cache.get_or_load("k", 10, load) == ("v", 1)
    clock.now += 9.999
    assert await cache.get_or_load("k", 10, load) == ("v", 1)
    clock.now += 0.001  # exactly at expiry: stale
    assert await cache.get_or_load("k", 10, load) == ("v", 2)
    assert load.calls == 2
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.coalesced, stats.entries) == (1, 2, 0, 1)


async def test_each_entry_has_its_own_ttl() -> None:
    clock = Clock()
    cache = MemoryCache(clock=clock)
    short, long = Loader("short"), Loader("long")
    await cache.get_or_load("a", 5, short)
    await cache.get_or_load("b", 60, long)
    clock.now += 30
    await cache.get_or_load("a", 5, short)
    await cache.get_or_load("b", 60, long)
    assert (short.calls, long.calls) == (2, 1)


async def test_zero_ttl_is_not_stored() -> None:
    cache = MemoryCache(clock=Clock())
    load = Loader()
    await cache.get_or_load("k", 0, load)
    await cache.get_or_load("k", 0, load)
    assert load.calls == 2
    assert cache.stats().entries == 0


async def test_lru_eviction() -> None:
    cache = MemoryCache(max_entries=2, clock=Clock())
    loads = {key: Loader(key) for key in "abcd"}
    await cache.get_or_load("a", 60, loads["a"])
    await cache.get_or_load("b", 60, loads["b"])
    await cache.get_or_load("a", 60, loads["a"])  # a is now the most recently used
    await cache.get_or_load("c", 60, loads["c"])  # evicts b, the least recently used
    stats = cache.stats()
    assert (stats.evictions, stats.entries) == (1, 2)

    await cache.get_or_load("a", 60, loads["a"])
    assert loads["a"].calls == 1  # still cached
    await cache.get_or_load("b", 60, loads["b"])  # evicted: loaded again, evicts c
    assert loads["b"].calls == 2
    await cache.get_or_load("d", 60, loads["d"])  # evicts a
    stats = cache.stats()
    assert (stats.evictions, stats.entries) == (3, 2)
    await cache.get_or_load("c", 60, loads["c"])
    assert loads["c"].calls == 2


async def test_errors_are_not_cached() -> None:
    cache = MemoryCache(clock=Clock())
    failing = Loader(error=RuntimeError("upstream down"))
    for _ in range(2):
        with pytest.raises(RuntimeError, match="upstream down"):
            await cache.get_or_load("k", 60, failing)
    assert failing.calls == 2
    assert cache.stats().entries == 0
    # and the next successful load is stored
    ok = Loader()
    assert await cache.get_or_load("k", 60, ok) == ("v", 1)
    assert await cache.get_or_load("k", 60, ok) == ("v", 1)
    assert ok.calls == 1


async def test_clear() -> None:
    cache = MemoryCache(clock=Clock())
    load = Loader()
    await cache.get_or_load("k", 60, load)
    cache.clear()
    assert cache.stats().entries == 0
    await cache.get_or_load("k", 60, load)
    assert load.calls == 2


async def test_single_flight_100_concurrent_callers() -> None:
    cache = MemoryCache()
    load = Loader(delay=0.05)
    results = await asyncio.gather(*(cache.get_or_load("k", 60, load) for _ in range(100)))
    assert load.calls == 1
    assert results == [("v", 1)] * 100
    stats = cache.stats()
    assert stats.misses == 1
    assert stats.coalesced == 99
    assert stats.hits == 0
    # once loaded, a later caller is a plain hit
    assert await cache.get_or_load("k", 60, load) == ("v", 1)
    assert cache.stats().hits == 1


async def test_single_flight_is_per_key() -> None:
    cache = MemoryCache()
    loads = {key: Loader(key, delay=0.02) for key in ("a", "b")}
    results = await asyncio.gather(*(cache.get_or_load(k, 60, loads[k]) for k in ("a", "b") * 10))
    assert (loads["a"].calls, loads["b"].calls) == (1, 1)
    assert results == [("a", 1), ("b", 1)] * 10
    stats = cache.stats()
    assert (stats.misses, stats.coalesced) == (2, 18)


async def test_single_flight_error_reaches_every_waiter_and_is_not_cached() -> None:
    cache = MemoryCache()
    failing = Loader(delay=0.02, error=RuntimeError("boom"))
    results = await asyncio.gather(*(cache.get_or_load("k", 60, failing) for _ in range(10)), return_exceptions=True)
    assert failing.calls == 1
    assert all(isinstance(r, RuntimeError) and str(r) == "boom" for r in results)
    ok = Loader()
    assert await cache.get_or_load("k", 60, ok) == ("v", 1)


async def _waiting(cache: MemoryCache, loader: Callable[[], Awaitable[object]], n: int) -> list[asyncio.Task[object]]:
    tasks = [asyncio.create_task(cache.get_or_load("k", 60, loader)) for _ in range(n)]
    await asyncio.sleep(0)  # every caller is now awaiting the shared load
    return tasks


@pytest.mark.parametrize("cancelled_index", [0, 1])  # the caller that started the load, or a coalesced one
async def test_cancelled_waiter_does_not_cancel_the_shared_load(cancelled_index: int) -> None:
    cache = MemoryCache()
    release = asyncio.Event()
    calls = 0

    async def loader() -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        return "value"

    tasks = await _waiting(cache, loader, 3)
    tasks[cancelled_index].cancel()
    await asyncio.sleep(0)
    release.set()
    others = [t for i, t in enumerate(tasks) if i != cancelled_index]
    assert await asyncio.gather(*others) == ["value", "value"]
    with pytest.raises(asyncio.CancelledError):
        await tasks[cancelled_index]
    assert calls == 1
    stats = cache.stats()
    assert (stats.misses, stats.coalesced) == (1, 2)


async def test_load_survives_when_every_waiter_is_cancelled() -> None:
    cache = MemoryCache()
    release = asyncio.Event()
    calls = 0

    async def loader() -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        return "value"

    tasks = await _waiting(cache, loader, 2)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    release.set()
    for _ in range(5):  # let the shielded load finish and store its value
        await asyncio.sleep(0)
    assert await cache.get_or_load("k", 60, loader) == "value"
    assert calls == 1
    assert cache.stats().hits == 1


# --------------------------------------------------------------------------------------------------
# through ProviderHttp


class CountingUpstream:
    def __init__(self) -> None:
        self.calls = 0
        self.app = Starlette(routes=[Route("/fapi/v1/openInterest", self.open_interest)])

    async def open_interest(self, request: Request) -> Response:
        self.calls += 1
        await asyncio.sleep(0.05)
        body = {"symbol": request.query_params["symbol"], "openInterest": "106312.376", "time": 1789478297197}
        return Response(json.dumps(body), media_type="application/json")


@pytest.mark.parametrize("ttl", [60.0, 0.0])
async def test_100_concurrent_identical_gets_make_one_upstream_call(ttl: float) -> None:
    upstream = CountingUpstream()
    cache = MemoryCache()
    async with serve_in_background(upstream.app) as server:
        client = UpstreamClient()
        try:
            http = make_http("binance", client, server.base_url, cache=cache)

            def get() -> Awaitable[float]:
                return http.get(
                    "/fapi/v1/openInterest",
                    {"symbol": "BTCUSDT"},
                    endpoint="openInterest",
                    ttl=ttl,
                    parse=lambda body: float(body["openInterest"]),
                )

            values = await asyncio.gather(*(get() for _ in range(100)))
            assert values == [106312.376] * 100
            assert upstream.calls == 1
            stats = cache.stats()
            assert (stats.misses, stats.coalesced) == (1, 99)

            await get()  # after the load: a hit with a TTL, a new call without one
            assert upstream.calls == (1 if ttl else 2)
        finally:
            await client.aclose()
