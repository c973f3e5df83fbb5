"""Fault injection for the shared HTTP layer: a small Starlette app on 127.0.0.1 misbehaves on purpose,
and each test checks the taxonomy error raised, that it names the provider and endpoint, and how many
calls the server saw (what was retried and what was not). Timeouts are ~0.2 s so the file stays fast.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from providers.binance.raw import binance_error_hook
from providers.cache import MemoryCache
from providers.errors import (
    AuthenticationFailed,
    GeoBlocked,
    InvalidRequest,
    InvalidSymbol,
    MalformedPayload,
    RateLimited,
    RetryableError,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from providers.replay import serve_in_background
from providers.upstream_client import UpstreamClient
from tests.providers_helpers import make_http

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.requests import Request

    from providers.http import ErrorHook, ProviderHttp

CLIENT_TIMEOUT = 0.2
# documented Binance bodies (shape of shared/fixtures/binance/error_-1121_invalid_symbol.json and
# fapi_v1_fundingRate.error_envelope_http200.json)
BINANCE_INVALID_SYMBOL = {"code": -1121, "msg": "Invalid symbol."}
BINANCE_ENVELOPE_200 = {
    "status": "ERROR",
    "type": "GENERAL",
    "code": "99099990",
    "errorData": "illegal params.",
    "data": None,
    "subData": None,
    "params": None,
}
PREMIUM_INDEX = {
    "symbol": "BTCUSDT",
    "markPrice": "63086.40000000",
    "indexPrice": "63112.91239130",
    "estimatedSettlePrice": "63129.34966963",
    "lastFundingRate": "0.00009145",
    "interestRate": "0.00010000",
    "nextFundingTime": 1785686400000,
    "time": 1785676356000,
}


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status_code=status, headers=headers, media_type="application/json")


class FaultyUpstream:
    """Routes that fail in one specific way each, counting the calls they receive."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.app = Starlette(
            routes=[
                Route("/ok", self.ok),
                Route("/slow", self.slow),
                Route("/flaky-429", self.flaky_429),
                Route("/429-long", self.rate_limited_long),
                Route("/429-short", self.rate_limited_short),
                Route("/500", self.error_500),
                Route("/503", self.error_503),
                Route("/451", self.geo_blocked),
                Route("/401", self.unauthorized),
                Route("/403", self.forbidden),
                Route("/binance-400", self.binance_400),
                Route("/binance-envelope", self.binance_envelope),
                Route("/bad-json", self.bad_json),
                Route("/truncated", self.truncated),
                Route("/empty", self.empty),
                Route("/echo", self.echo, methods=["POST"]),
            ]
        )

    def _count(self, request: Request) -> int:
        self.calls[request.url.path] += 1
        return self.calls[request.url.path]

    async def ok(self, request: Request) -> Response:
        self._count(request)
        await asyncio.sleep(0.05)  # long enough for concurrent callers to overlap
        return _json(PREMIUM_INDEX)

    async def slow(self, request: Request) -> Response:
        self._count(request)
        await asyncio.sleep(CLIENT_TIMEOUT * 2.5)
        return _json(PREMIUM_INDEX)

    async def flaky_429(self, request: Request) -> Response:
        if self._count(request) == 1:
            return _json({"code": -1003, "msg": "Too many requests."}, 429, {"Retry-After": "0"})
        return _json(PREMIUM_INDEX)

    async def rate_limited_long(self, request: Request) -> Response:
        self._count(request)
        return _json({"code": -1003, "msg": "Too many requests."}, 429, {"Retry-After": "60"})

    async def rate_limited_short(self, request: Request) -> Response:
        if self._count(request) == 1:
            return _json({"code": -1003, "msg": "Too many requests."}, 429, {"Retry-After": "0.15"})
        return _json(PREMIUM_INDEX)

    async def error_500(self, request: Request) -> Response:
        self._count(request)
        return _json({"code": -1000, "msg": "An unknown error occured while processing the request."}, 500)

    async def error_503(self, request: Request) -> Response:
        self._count(request)
        return Response(b"Service Unavailable", status_code=503, media_type="text/plain")

    async def geo_blocked(self, request: Request) -> Response:
        self._count(request)
        return _json({"code": 0, "msg": "Service unavailable from a restricted location."}, 451)

    async def unauthorized(self, request: Request) -> Response:
        self._count(request)
        return _json({"code": "401", "msg": "Unauthorized", "data": None}, 401)

    async def forbidden(self, request: Request) -> Response:
        self._count(request)
        return Response(b"Forbidden", status_code=403, media_type="text/plain")

    async def binance_400(self, request: Request) -> Response:
        self._count(request)
        return _json(BINANCE_INVALID_SYMBOL, 400)

    async def binance_envelope(self, request: Request) -> Response:
        self._count(request)
        return _json(BINANCE_ENVELOPE_200, 200)

    async def bad_json(self, request: Request) -> Response:
        self._count(request)
        return Response(b"<html>upstream error page</html>", media_type="application/json")

    async def truncated(self, request: Request) -> Response:
        self._count(request)
        text = json.dumps([PREMIUM_INDEX, PREMIUM_INDEX]).encode()
        # Starlette sets Content-Length from the body, so it matches the truncated bytes exactly
        return Response(text[: len(text) // 2], media_type="application/json")

    async def empty(self, request: Request) -> Response:
        self._count(request)
        return Response(b"", media_type="application/json")

    async def echo(self, request: Request) -> Response:
        self._count(request)
        return _json({"received": json.loads(await request.body()), "type": request.headers["content-type"]})


# One server for the module (starting and stopping uvicorn costs ~0.2 s); its counters reset per test.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def running_upstream() -> AsyncIterator[tuple[str, FaultyUpstream]]:
    faulty = FaultyUpstream()
    async with serve_in_background(faulty.app) as server:
        yield server.base_url, faulty


@pytest_asyncio.fixture(loop_scope="module")
async def upstream(running_upstream: tuple[str, FaultyUpstream]) -> AsyncIterator[tuple[str, FaultyUpstream]]:
    running_upstream[1].calls.clear()
    yield running_upstream


@pytest_asyncio.fixture(loop_scope="module")
async def client() -> AsyncIterator[UpstreamClient]:
    http_client = UpstreamClient()
    try:
        yield http_client
    finally:
        await http_client.aclose()


def provider(
    client: UpstreamClient,
    base: str,
    *,
    name: str = "binance",
    attempts: int = 3,
    keyed: bool = False,
    error_hook: ErrorHook | None = binance_error_hook,
) -> ProviderHttp:
    return make_http(
        name,
        client,
        base,
        attempts=attempts,
        max_wait_seconds=0.2,
        timeout_seconds=CLIENT_TIMEOUT,
        keyed=keyed,
        error_hook=error_hook,
    )


def identity(payload: Any) -> Any:
    return payload


async def fetch(http: ProviderHttp, path: str, endpoint: str = "premiumIndex") -> Any:
    return await http.get(path, {"symbol": "BTCUSDT"}, endpoint=endpoint, ttl=0, parse=identity)


def assert_names_source(error: UpstreamError, provider_name: str = "binance", endpoint: str = "premiumIndex") -> None:
    assert error.provider == provider_name
    assert error.endpoint == endpoint
    assert error.source == f"{provider_name}.{endpoint}"
    assert error.describe().startswith(f"{provider_name}.{endpoint}: ")


# --------------------------------------------------------------------------------------------------


async def test_ok_baseline(upstream: tuple[str, FaultyUpstream], client: UpstreamClient) -> None:
    base, faulty = upstream
    payload = await fetch(provider(client, base), "/ok")
    assert payload["markPrice"] == "63086.40000000"
    assert faulty.calls["/ok"] == 1


async def test_timeout_is_retried_then_raised(upstream: tuple[str, FaultyUpstream], client: UpstreamClient) -> None:
    base, faulty = upstream
    started = time.perf_counter()
    with pytest.raises(UpstreamTimeout) as info:
        await fetch(provider(client, base, attempts=2), "/slow")
    elapsed = time.perf_counter() - started
    assert_names_source(info.value)
    assert "timed out" in info.value.message
    assert faulty.calls["/slow"] == 2
    assert elapsed < CLIENT_TIMEOUT * 2 + 0.2 + 0.5  # two timeouts and one capped wait, not the handler's sleep


async def test_429_with_retry_after_zero_is_retried(
    upstream: tuple[str, FaultyUpstream], client: UpstreamClient
) -> None:
    base, faulty = upstream
    payload = await fetch(provider(client, base), "/flaky-429")
    assert payload["lastFundingRate"] == "0.00009145"
    assert faulty.calls["/flaky-429"] == 2


async def test_429_retry_after_is_honoured(upstream: tuple[str, FaultyUpstream], client: UpstreamClient) -> None:
    base, faulty = upstream
    started = time.perf_counter()
    payload = await fetch(provider(client, base), "/429-short")
    assert time.perf_counter() - started >= 0.15
    assert payload["symbol"] == "BTCUSDT"
    assert faulty.calls["/429-short"] == 2


async def test_429_with_retry_after_beyond_the_cap_fails_over_at_once(
    upstream: tuple[str, FaultyUpstream], client: UpstreamClient
) -> None:
    base, faulty = upstream
    started = time.perf_counter()
    with pytest.raises(RateLimited) as info:
        await fetch(provider(client, base), "/429-long")
    assert time.perf_counter() - started < 1.0
    assert info.value.retry_after == 60
    assert info.value.status == 429
    assert_names_source(info.value)
    assert faulty.calls["/429-long"] == 1


async def test_500_is_retried_attempts_times(upstream: tuple[str, FaultyUpstream], client: UpstreamClient) -> None:
    base, faulty = upstream
    with pytest.raises(UpstreamUnavailable) as info:
        await fetch(provider(client, base, attempts=3), "/500")
    assert info.value.status == 500
    assert "HTTP 500" in info.value.describe()
    assert_names_source(info.value)
    assert faulty.calls["/500"] == 3


async def test_503_is_retried_attempts_times(upstream: tuple[str, FaultyUpstream], client: UpstreamClient) -> None:
    base, faulty = upstream
    with pytest.raises(UpstreamUnavailable) as info:
        await fetch(provider(client, base, attempts=2), "/503")
    assert info.value.status == 503
    assert_names_source(info.value)
    assert faulty.calls["/503"] == 2


async def test_451_is_geo_blocked_and_not_retried(upstream: tuple[str, FaultyUpstream], client: UpstreamClient) -> None:
    base, faulty = upstream
    with pytest.raises(GeoBlocked) as info:
        await fetch(provider(client, base), "/451")
    assert info.value.status == 451
    assert "geo-blocked" in info.value.describe()
    assert_names_source(info.value)
    assert faulty.calls["/451"] == 1


async def test_401_on_a_keyed_provider(upstream: tuple[str, FaultyUpstream], client: UpstreamClient) -> None:
    base, faulty = upstream
    http = provider(client, base, name="coinglass", keyed=True, error_hook=None)
    with pytest.raises(AuthenticationFailed) as info:
        await fetch(http, "/401", endpoint="liquidation.aggregated-history")
    assert info.value.status == 401
    assert_names_source(info.value, "coinglass", "liquidation.aggregated-history")
    assert faulty.calls["/401"] == 1


async def test_403_depends_on_whether_the_provider_is_keyed(
    upstream: tuple[str, FaultyUpstream], client: UpstreamClient
) -> None:
    base, faulty = upstream
    with pytest.raises(AuthenticationFailed):
        await fetch(provider(client, base, name="coinglass", keyed=True, error_hook=None), "/403")
    with pytest.raises(GeoBlocked):
        await fetch(provider(client, base), "/403")
    assert faulty.calls["/403"] == 2


async def test_binance_400_invalid_symbol(upstream: tuple[str, FaultyUpstream], client: UpstreamClient) -> None:
    base, faulty = upstream
    with pytest.raises(InvalidSymbol) as info:
        await fetch(provider(client, base), "/binance-400")
    assert info.value.status == 400
    assert info.value.describe() == "binance.premiumIndex: code -1121: Invalid symbol."
    assert faulty.calls["/binance-400"] == 1


async def test_binance_error_envelope_with_http_200(
    upstream: tuple[str, FaultyUpstream], client: UpstreamClient
) -> None:
    base, faulty = upstream
    with pytest.raises(InvalidRequest) as info:
        await fetch(provider(client, base), "/binance-envelope", endpoint="fundingRate")
    assert type(info.value) is InvalidRequest
    assert "illegal params." in info.value.describe()
    assert_names_source(info.value, endpoint="fundingRate")
    assert faulty.calls["/binance-envelope"] == 1


async def test_invalid_json_with_200(upstream: tuple[str, FaultyUpstream], client: UpstreamClient) -> None:
    base, faulty = upstream
    with pytest.raises(MalformedPayload) as info:
        await fetch(provider(client, base), "/bad-json")
    assert "invalid JSON" in info.value.message
    assert_names_source(info.value)
    assert faulty.calls["/bad-json"] == 1


async def test_truncated_body(upstream: tuple[str, FaultyUpstream], client: UpstreamClient) -> None:
    base, faulty = upstream
    with pytest.raises(MalformedPayload) as info:
        await fetch(provider(client, base), "/truncated")
    assert "invalid JSON" in info.value.message
    assert_names_source(info.value)
    assert faulty.calls["/truncated"] == 1


async def test_empty_body_with_200(upstream: tuple[str, FaultyUpstream], client: UpstreamClient) -> None:
    base, faulty = upstream
    with pytest.raises(MalformedPayload, match="empty body"):
        await fetch(provider(client, base), "/empty")
    assert faulty.calls["/empty"] == 1


async def test_connection_refused(client: UpstreamClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # the socket is closed: nothing listens on the port
    with pytest.raises(UpstreamUnavailable) as info:
        await fetch(provider(client, f"http://127.0.0.1:{port}", attempts=2), "/ok")
    assert "connection failed" in info.value.message
    assert info.value.status is None
    assert_names_source(info.value)
    assert isinstance(info.value, RetryableError)


async def test_parse_error_is_malformed_payload(upstream: tuple[str, FaultyUpstream], client: UpstreamClient) -> None:
    base, faulty = upstream

    def parse(payload: dict[str, Any]) -> float:
        return float(payload["fundingRate"])  # not a premiumIndex field: KeyError

    http = provider(client, base)
    with pytest.raises(MalformedPayload) as info:
        await http.get("/ok", {"symbol": "BTCUSDT"}, endpoint="premiumIndex", ttl=60, parse=parse)
    assert isinstance(info.value.__cause__, KeyError)
    assert "fundingRate" in info.value.message
    assert_names_source(info.value)
    assert faulty.calls["/ok"] == 1  # a shape error is not retried


async def test_errors_are_not_cached(upstream: tuple[str, FaultyUpstream], client: UpstreamClient) -> None:
    base, faulty = upstream
    http = provider(client, base, attempts=1)
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable):
            await http.get("/500", None, endpoint="premiumIndex", ttl=60, parse=identity)
    assert faulty.calls["/500"] == 2


async def test_successes_are_cached_per_query(upstream: tuple[str, FaultyUpstream], client: UpstreamClient) -> None:
    base, faulty = upstream
    cache = MemoryCache()
    http = make_http("binance", client, base, cache=cache, timeout_seconds=CLIENT_TIMEOUT)
    for _ in range(3):
        await http.get("/ok", {"symbol": "BTCUSDT"}, endpoint="premiumIndex", ttl=60, parse=identity)
    await http.get("/ok", {"symbol": "ETHUSDT"}, endpoint="premiumIndex", ttl=60, parse=identity)
    assert faulty.calls["/ok"] == 2
    stats = cache.stats()
    assert (stats.hits, stats.misses) == (2, 2)


async def test_post_sends_json_and_caches_by_body(upstream: tuple[str, FaultyUpstream], client: UpstreamClient) -> None:
    base, faulty = upstream
    http = provider(client, base, name="hyperliquid", error_hook=None)
    body = {"type": "fundingHistory", "coin": "BTC", "startTime": 1683849600000}
    first = await http.post("/echo", body, endpoint="info.fundingHistory", ttl=60, parse=identity)
    same = await http.post(
        "/echo", dict(reversed(body.items())), endpoint="info.fundingHistory", ttl=60, parse=identity
    )
    assert first == same
    assert first["received"] == body
    assert first["type"] == "application/json"
    assert faulty.calls["/echo"] == 1


async def test_every_venue_endpoint_has_its_series_from_start_up_and_each_is_a_real_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``declare_endpoints`` creates an endpoint's series at zero; the composition root declares the endpoint
    names each registered venue gives, and each is one that venue's client passes as its endpoint (a
    misspelt name would be a series no call ever moves)."""
    from prometheus_client import REGISTRY

    import signal_api.container
    from providers.http import declare_endpoints
    from signal_api.container import build_container
    from signal_api.settings import Settings

    declare_endpoints("test", ["declared.only"])
    samples = {
        (s.labels["provider"], s.labels["endpoint"]): s.value
        for metric in REGISTRY.collect()
        if metric.name == "upstream_request_seconds"
        for s in metric.samples
        if s.name == "upstream_request_seconds_count"
    }
    assert samples[("test", "declared.only")] == 0.0

    declared: dict[str, set[str]] = {}
    monkeypatch.setattr(
        signal_api.container, "declare_endpoints", lambda name, names: declared.setdefault(name, set(names))
    )
    container = build_container(Settings(_env_file=None))  # type: ignore[call-arg]
    await container.aclose()
    assert set(declared) == set(container.registry.providers)
    assert {"klines", "ticker24hr", "premiumIndex", "fundingRate", "openInterestHist"} <= declared["binance"]
    for name, endpoints in declared.items():
        source = _client_source(name)  # an endpoint name is passed as a literal (endpoint="klines", or to a helper)
        missing = sorted(e for e in endpoints if f'"{e}"' not in source)
        assert not missing, f"{name}: declared but no call names them: {missing}"


def _client_source(provider: str) -> str:
    """``providers/<provider>/``'s modules but the venue's declaration (which holds the names themselves)."""
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "providers" / provider
    return "".join(path.read_text() for path in sorted(package.glob("*.py")) if path.name != "venue.py")
