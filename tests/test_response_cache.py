"""The response cache over real HTTP: the app on 127.0.0.1 against a replay of a real cassette.

Hit and miss (the replay server counts upstream calls), ETag and 304, freshness bounded by the shortest
input TTL and new upstream data after it, scope isolation with real API keys, and what is never stored:
errors, problems, per-caller fields, mutations and subscriptions.
"""

from __future__ import annotations

import asyncio
import math
import re
from typing import Any

import httpx2
import orjson
import pytest
from graphql import parse

from providers.cache import MemoryCache
from providers.freshness import track, untrack
from schema.response_policy import _root_fields_cacheable
from signal_api.response_cache import CachedResponse, MemoryResponseCache, etag_of, request_key
from tests.conftest import load_cassette_json, running_service

SIGNAL = 'query Q { signal(symbol: "BTC") { ... on Signal { symbol recommendation score price } } }'
SIGNAL_VARS = "query Q($s: String!) { signal(symbol: $s) { ... on Signal { symbol price } ... on Problem { code } } }"
CASSETTE = "btc-2025-11-14-latest.json"


async def _upstream_calls(replay: Any) -> int:
    return sum(replay.calls.values())


async def test_identical_queries_hit_with_etag_and_304() -> None:
    async with (
        running_service(load_cassette_json(CASSETTE), rate_limit_enabled=False) as (url, replay),
        httpx2.AsyncClient(base_url=url, timeout=20) as client,
    ):
        first = await client.post("/graphql", json={"query": SIGNAL})
        calls = await _upstream_calls(replay)
        second = await client.post("/graphql", json={"query": SIGNAL})
        assert await _upstream_calls(replay) == calls  # no upstream call for the hit
        other = await client.post("/graphql", json={"query": SIGNAL_VARS, "variables": {"s": "BTC"}})
        again = await client.post("/graphql", json={"query": SIGNAL_VARS, "variables": {"s": "BTC"}})
        get = await client.get("/graphql", params={"query": SIGNAL}, headers={"accept": "application/json"})
        etag = get.headers["etag"]
        not_modified = await client.get(
            "/graphql", params={"query": SIGNAL}, headers={"accept": "application/json", "if-none-match": etag}
        )
        stale_tag = await client.get(
            "/graphql", params={"query": SIGNAL}, headers={"accept": "application/json", "if-none-match": '"x"'}
        )
        bypass = await client.post("/graphql", json={"query": SIGNAL}, headers={"cache-control": "no-cache"})
        metrics = (await client.get("/metrics")).text
    assert first.status_code == second.status_code == 200
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
    assert first.content == second.content and first.json()["data"]["signal"]["symbol"] == "BTCUSDT"
    assert first.headers["etag"] == second.headers["etag"] == etag_of(first.content)
    assert first.headers["cache-control"].startswith("private, max-age=")
    assert 0 <= int(second.headers["cache-control"].rsplit("=", 1)[1]) <= 5  # the price TTL, the shortest
    # other variables, other document: their own entry
    assert (other.headers["x-cache"], again.headers["x-cache"]) == ("MISS", "HIT")
    assert not_modified.status_code == 304 and not_modified.content == b"" and not_modified.headers["etag"] == etag
    assert stale_tag.status_code == 200 and stale_tag.content == get.content
    assert bypass.headers["x-cache"] == "MISS" and bypass.content == first.content
    hits = re.search(r'^response_cache_operations\{kind="hits"\} (\S+)$', metrics, re.M)
    assert hits is not None and float(hits.group(1)) >= 3  # the POST, the second variables and the 304


async def test_concurrent_identical_requests_execute_once() -> None:
    async with (
        running_service(load_cassette_json(CASSETTE), rate_limit_enabled=False, latency_ms=50) as (url, _),
        httpx2.AsyncClient(base_url=url, timeout=20) as client,
    ):
        answers = await asyncio.gather(*(client.post("/graphql", json={"query": SIGNAL}) for _ in range(8)))
    assert sorted(a.headers["x-cache"] for a in answers) == ["HIT"] * 7 + ["MISS"]
    assert len({a.content for a in answers}) == 1


async def test_entry_expires_with_its_shortest_input_and_new_data_is_served() -> None:
    """Price TTL 0.6 s (every other input lives far longer), cap 60 s: the answer is reused until the price
    entry expires, then the next request reads the changed upstream price."""
    cassette = load_cassette_json(CASSETTE)
    async with (
        running_service(cassette, rate_limit_enabled=False, ttl_price_seconds=0.6, response_cache_max_seconds=60.0) as (
            url,
            replay,
        ),
        httpx2.AsyncClient(base_url=url, timeout=20) as client,
    ):
        first = await client.post("/graphql", json={"query": SIGNAL})
        old_price = first.json()["data"]["signal"]["price"]
        new_price = round(old_price * 1.01, 1)
        fields = {"/fapi/v1/ticker/24hr": "lastPrice", "/fapi/v1/premiumIndex": "markPrice"}
        for entry in replay.cassette.http:  # the upstream moves: every last and mark price recorded
            if entry.provider == "binance" and entry.path in fields:
                rows = entry.body if isinstance(entry.body, list) else [entry.body]
                for row in rows:
                    row[fields[entry.path]] = str(new_price)
                replay._encoded[id(entry)] = orjson.dumps(entry.body)  # the replay's pre-encoded bytes
        within = await client.post("/graphql", json={"query": SIGNAL})
        await asyncio.sleep(0.8)
        after = await client.post("/graphql", json={"query": SIGNAL})
    assert first.headers["cache-control"] == "private, max-age=0"  # 0.6 s left, floored
    assert within.headers["x-cache"] == "HIT" and within.json()["data"]["signal"]["price"] == old_price
    assert after.headers["x-cache"] == "MISS" and after.json()["data"]["signal"]["price"] == new_price


async def test_errors_problems_and_per_caller_fields_are_never_stored() -> None:
    async with (
        running_service(load_cassette_json(CASSETTE), rate_limit_enabled=False) as (url, _),
        httpx2.AsyncClient(base_url=url, timeout=20) as client,
    ):

        async def twice(body: dict[str, Any]) -> list[httpx2.Response]:
            return [await client.post("/graphql", json=body) for _ in range(2)]

        invalid = await twice({"query": '{ signal(symbol: "BTC") { ... on Signal { nope } } }'})
        problem = await twice({"query": SIGNAL_VARS, "variables": {"s": "NOPECOIN"}})
        bad_input = await twice({"query": SIGNAL_VARS, "variables": {"s": "B T C"}})
        budget = await twice({"query": '{ rateLimit { cost } signal(symbol: "BTC") { __typename } }'})
        mutation = await twice({"query": "mutation { __typename }"})
        # ask runs the routed signal document inside this request: the outer operation decides
        routed = await twice({"query": '{ ask(question: "signal BTC") { ... on AskAnswer { operation answer } } }'})
    assert invalid[0].json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert problem[0].json()["data"]["signal"]["code"] == "SYMBOL_NOT_FOUND"
    assert bad_input[0].json()["data"]["signal"]["code"] == "INVALID_INPUT"
    assert budget[0].status_code == 200 and "errors" not in budget[0].json()
    assert routed[0].json()["data"]["ask"]["answer"]["symbol"] == "BTCUSDT"
    for pair in (invalid, problem, bad_input, budget, mutation, routed):
        for response in pair:
            assert "x-cache" not in response.headers, response.text
            assert response.headers["cache-control"] == "no-store"


async def test_rate_limits_still_apply_to_cached_answers() -> None:
    async with (
        running_service(load_cassette_json(CASSETTE), rate_limit_anonymous_requests=3) as (url, _),
        httpx2.AsyncClient(base_url=url, timeout=20) as client,
    ):
        answers = [await client.post("/graphql", json={"query": SIGNAL}) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers.get("x-cache") for a in answers[:3]] == ["MISS", "HIT", "HIT"]
    assert answers[1].headers["x-ratelimit-remaining"] == "1"  # the hit was charged one request
    assert "x-ratelimit-cost" in answers[0].headers and "x-ratelimit-cost" not in answers[1].headers


async def test_a_caller_without_the_scope_never_gets_a_cached_answer(tmp_path: Any) -> None:
    from tests.test_auth import bearer, codes, keyed_service

    async with (
        keyed_service(tmp_path, rate_limit_enabled=False) as served,
        httpx2.AsyncClient(base_url=served.base_url, timeout=20) as client,
    ):

        async def ask(name: str) -> httpx2.Response:
            return await client.post("/graphql", json={"query": SIGNAL}, headers=bearer(served.key(name)))

        reader, reader_again = await ask("reader"), await ask("reader")
        streamer = await ask("streamer")
        admin, historian = await ask("admin"), await ask("historian")
    assert (reader.headers["x-cache"], reader_again.headers["x-cache"]) == ("MISS", "HIT")
    assert streamer.status_code == 200 and codes(streamer.json()) == ["FORBIDDEN"]
    assert "x-cache" not in streamer.headers and streamer.json()["data"] is None
    # other scope sets: their own entries, computed for them (the same market answer)
    assert admin.headers["x-cache"] == "MISS" and historian.headers["x-cache"] == "MISS"
    assert admin.json() == reader.json()


def test_policy_stores_only_queries_of_market_fields() -> None:
    def cacheable(text: str, name: str | None = None) -> bool:
        return _root_fields_cacheable(parse(text), name)

    assert cacheable('{ signal(symbol: "BTC") { __typename } market(symbol: "BTC") { __typename } }')
    assert cacheable("query A { symbols { __typename } } query B { rateLimit { cost } }", "A")
    assert not cacheable("query A { symbols { __typename } } query B { rateLimit { cost } }", "B")
    assert not cacheable("mutation { pauseAlertRule(id: 1) { __typename } }")
    assert not cacheable('subscription { liquidations(symbols: ["BTC"]) { symbol } }')
    assert not cacheable("{ watchlist { __typename } }")
    assert not cacheable("{ ...F } fragment F on Query { signalHistory { __typename } }")  # a root fragment


async def test_provider_cache_reads_bound_the_answer_lifetime() -> None:
    now = [100.0]
    cache = MemoryCache(clock=lambda: now[0])

    async def load() -> int:
        return 1

    await cache.get_or_load("long", 60.0, load)
    await cache.get_or_load("short", 5.0, load)
    now[0] += 2.0
    freshness, token = track()
    try:
        await cache.get_or_load("long", 60.0, load)  # hit: 58 s left
        assert freshness.ttl == pytest.approx(58.0)
        await cache.get_or_load("short", 5.0, load)  # hit: 3 s left
        await cache.get_or_load("new", 30.0, load)  # loaded now: 30 s
    finally:
        untrack(token)
    assert freshness.ttl == pytest.approx(3.0) and freshness.refused is None

    async def fail() -> int:
        raise RuntimeError("upstream down")

    freshness, token = track()
    try:
        with pytest.raises(RuntimeError):
            await cache.get_or_load("failing", 5.0, fail)
    finally:
        untrack(token)
    assert freshness.refused is not None and not freshness.cacheable


async def test_memory_response_cache_expiry_and_bounds() -> None:
    now = [1_000.0]
    cache = MemoryResponseCache(max_entries=2, max_bytes=10, clock=lambda: now[0])

    def entry(body: bytes, ttl: float) -> CachedResponse:
        return CachedResponse(body=body, etag=etag_of(body), expires_at=now[0] + ttl)

    await cache.put("a", entry(b"aaaa", 1.0))
    await cache.put("b", entry(b"bbbb", 10.0))
    assert (await cache.get("a")) is not None
    now[0] += 1.0
    assert await cache.get("a") is None  # expired at its instant
    await cache.put("c", entry(b"cccc", 10.0))
    await cache.put("d", entry(b"dddd", 10.0))  # 3 × 4 bytes > 10: the least recently used goes
    assert await cache.get("b") is None and await cache.get("d") is not None
    stats = cache.stats()
    assert stats.entries == 2 and stats.evictions >= 1 and stats.stores == 4
    keys = {request_key("POST", "/graphql", b"", b"{}", b"", s) for s in (["read"], ["read", "history"], [])}
    assert len(keys) == 3 and all(len(k) <= 80 for k in keys)
    assert math.isfinite(now[0])
