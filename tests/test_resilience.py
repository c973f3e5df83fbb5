"""Circuit breaker and outgoing rate limiter, alone and through the real HTTP layer on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from providers.cache import MemoryCache
from providers.errors import GeoBlocked, InvalidSymbol, UpstreamUnavailable
from providers.http import ProviderHttp, RetryPolicy
from providers.replay import serve_in_background
from providers.resilience import BreakerState, CircuitBreaker, OutgoingLimiter, OwnRateLimit, RateLimit
from providers.upstream_client import UpstreamClient

if TYPE_CHECKING:
    from starlette.requests import Request


def test_breaker_opens_after_threshold_fails_fast_and_recovers_through_one_trial() -> None:
    now = [0.0]
    breaker = CircuitBreaker("okx", failure_threshold=3, cooldown_seconds=10, clock=lambda: now[0])
    outage = UpstreamUnavailable("okx", "candles", "HTTP 503")
    for _ in range(2):
        breaker.before_call("candles")
        breaker.record_failure(outage)
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure(outage)
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(UpstreamUnavailable, match="circuit open after 3 consecutive failures"):
        breaker.before_call("candles")

    now[0] = 10.0  # cooldown over: exactly one trial goes through
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.before_call("candles")
    with pytest.raises(UpstreamUnavailable):
        breaker.before_call("candles")
    breaker.record_failure(outage)  # the trial failed: open again for a full cooldown
    assert breaker.state is BreakerState.OPEN
    now[0] = 20.0
    breaker.before_call("candles")
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED


def test_request_specific_errors_do_not_open_the_breaker() -> None:
    breaker = CircuitBreaker("binance", failure_threshold=2)
    for _ in range(5):
        breaker.record_failure(InvalidSymbol("binance", "klines", "code -1121"))
        breaker.record_failure(OwnRateLimit("binance", "klines", "our budget"))
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure(GeoBlocked("binance", "klines", "HTTP 451"))
    breaker.record_failure(GeoBlocked("binance", "klines", "HTTP 451"))
    assert breaker.state is BreakerState.OPEN


async def test_limiter_refuses_instead_of_waiting_past_its_budget() -> None:
    limiter = OutgoingLimiter("coinglass", RateLimit(per_second=1, burst=2, max_wait=0.05))
    await limiter.acquire("x")
    await limiter.acquire("x")
    with pytest.raises(OwnRateLimit, match="outgoing rate limit of 1/s") as caught:
        await limiter.acquire("x")
    assert caught.value.retry_after == float("inf")


async def test_limiter_refuses_at_once_what_it_could_not_grant_in_time_and_waits_for_what_it_can() -> None:
    """CoinGecko's keyless budget (5 a minute, burst 5): the 6th call is refused without waiting out
    ``max_wait`` (a `signals` for 20 symbols waited 250 ms for 15 refusals); a fast bucket whose next slot
    frees within ``max_wait`` still waits for it."""
    coingecko = OutgoingLimiter("coingecko", RateLimit(per_second=5 / 60, max_wait=0.25))
    loop = asyncio.get_running_loop()
    started = loop.time()
    outcomes = await asyncio.gather(*(coingecko.acquire("coins") for _ in range(20)), return_exceptions=True)
    assert outcomes[:5] == [None] * 5  # 20 at once, as `signals` asks: the budget's 5, then 15 refusals
    assert all(isinstance(o, OwnRateLimit) for o in outcomes[5:])
    assert loop.time() - started < 0.05  # none waited

    fast = OutgoingLimiter("binance", RateLimit(per_second=50, burst=1, max_wait=0.25))
    await fast.acquire("klines")
    started = loop.time()
    await fast.acquire("klines")  # the next slot frees in 20 ms: worth the wait
    assert 0.01 <= loop.time() - started < 0.25


async def test_a_cancelled_waiter_does_not_make_the_limiter_refuse_a_caller_it_could_serve() -> None:
    """aiolimiter keeps a cancelled waiter in its heap until it reaches the top: counted, it made a caller
    whose slot frees in 0.18 s look 0.28 s away and be refused (``max_wait`` 0.25 s)."""
    limiter = OutgoingLimiter("venue", RateLimit(per_second=10, burst=1, max_wait=0.25))
    await limiter.acquire("e")  # the bucket is full: the next slot frees in 0.1 s
    first = asyncio.create_task(limiter.acquire("e"))
    gone = asyncio.create_task(limiter.acquire("e"))
    await asyncio.sleep(0.01)
    gone.cancel()  # its client went away
    await asyncio.sleep(0.01)
    await limiter.acquire("e")  # behind `first` only: served within max_wait, not refused
    await first


async def test_breaker_and_limiter_through_the_http_layer() -> None:
    calls: Counter[str] = Counter()

    async def down(request: Request) -> Response:
        calls["down"] += 1
        return Response(json.dumps({"msg": "maintenance"}), status_code=503, media_type="application/json")

    async def fine(request: Request) -> Response:
        calls["fine"] += 1
        return Response(json.dumps({"ok": int(request.query_params["n"])}), media_type="application/json")

    app = Starlette(routes=[Route("/down", down), Route("/fine", fine)])
    async with serve_in_background(app) as server:
        client = UpstreamClient()
        try:
            breaker = CircuitBreaker("vendor", failure_threshold=2, cooldown_seconds=60)
            http = ProviderHttp(
                "vendor",
                client,
                server.base_url,
                cache=MemoryCache(),
                timeout_seconds=1,
                retry=RetryPolicy(attempts=2, max_wait_seconds=0.05),
                breaker=breaker,
            )

            def ident(payload: Any) -> Any:
                return payload

            for _ in range(2):
                with pytest.raises(UpstreamUnavailable, match="HTTP 503"):
                    await http.get("/down", None, endpoint="down", ttl=0, parse=ident)
            assert calls["down"] == 4  # two requests, each retried once
            with pytest.raises(UpstreamUnavailable, match="circuit open"):
                await http.get("/fine", {"n": 1}, endpoint="fine", ttl=0, parse=ident)
            assert calls["fine"] == 0  # failed fast: the venue never saw it

            limited = ProviderHttp(
                "vendor",
                client,
                server.base_url,
                cache=MemoryCache(),
                timeout_seconds=1,
                retry=RetryPolicy(attempts=3, max_wait_seconds=0.05),
                limiter=OutgoingLimiter("vendor", RateLimit(per_second=1, burst=1, max_wait=0.05)),
            )
            assert await limited.get("/fine", {"n": 1}, endpoint="fine", ttl=0, parse=ident) == {"ok": 1}
            with pytest.raises(OwnRateLimit):
                await limited.get("/fine", {"n": 2}, endpoint="fine", ttl=0, parse=ident)
            assert calls["fine"] == 1  # the refused call was neither sent nor retried
        finally:
            await client.aclose()
