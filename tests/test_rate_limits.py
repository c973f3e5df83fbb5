"""Budgets per caller: the request budget (429 + headers), the cost budget (rateLimit, /invoke), per-key
budgets, and the WebSocket limits (connections per address, frame size, the legacy protocol)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import TYPE_CHECKING, Any

import httpx2
import pytest
import websockets
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import Route

from schema.cost import COST_WEIGHTS
from signal_api.security.principal import PRINCIPAL_STATE_KEY, Principal
from signal_api.security.ratelimit import LimitPolicy, RateLimitMiddleware, RateLimits
from tests.conftest import CASSETTE_NAMES, load_cassette_json, running_service

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from starlette.requests import Request
    from starlette.types import ASGIApp, Receive, Scope, Send

SYMBOLS_50 = [f"ZZ{n}" for n in range(50)]  # unknown symbols: answered quickly as SYMBOL_NOT_FOUND
SIGNALS_QUERY = "query($s: [String!]!) { signals(symbols: $s) { __typename } rateLimit { cost limit remaining } }"
ALIASES_QUERY = """query($s: [String!]!) {
  a: signals(symbols: $s) { __typename }
  b: signals(symbols: $s) { __typename }
  c: signal(symbol: "ZZ1") { __typename }
  rateLimit { cost limit remaining resetAt }
}"""
PER_SIGNAL = COST_WEIGHTS["Query.signals"].weight
ONE_SIGNAL = COST_WEIGHTS["Query.signal"].weight
QUERY = {"query": "{ rateLimit { cost } }"}


@pytest.fixture
def cassette() -> dict[str, Any]:
    return load_cassette_json(CASSETTE_NAMES[0])


async def post(base: str, query: str, variables: dict[str, Any] | None = None) -> httpx2.Response:
    async with httpx2.AsyncClient(timeout=20) as client:
        return await client.post(f"{base}/graphql", json={"query": query, "variables": variables or {}})


def budget_headers(response: httpx2.Response, prefix: str = "x-ratelimit") -> tuple[int, int, int]:
    h = response.headers
    return int(h[f"{prefix}-limit"]), int(h[f"{prefix}-remaining"]), int(h[f"{prefix}-reset"])


async def test_request_budget_answers_429_with_headers_and_retry_after(cassette: dict[str, Any]) -> None:
    async with running_service(cassette, rate_limit_anonymous_requests=3) as (base, _):
        remaining = []
        for _ in range(3):
            response = await post(base, "{ rateLimit { cost } }")
            assert response.status_code == 200, response.text
            limit, left, reset = budget_headers(response)
            assert limit == 3
            assert time.time() - 1 <= reset <= time.time() + 61
            remaining.append(left)
        assert remaining == [2, 1, 0]
        refused = await post(base, "{ rateLimit { cost } }")
        assert refused.status_code == 429
        assert refused.json() == {
            "ok": False,
            "error": {"code": "RATE_LIMITED", "message": refused.json()["error"]["message"]},
        }
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert budget_headers(refused)[:2] == (3, 0)
        async with httpx2.AsyncClient(timeout=10) as client:  # operator routes are not budgeted
            health = await client.get(f"{base}/health")
            assert health.status_code == 200
            assert "x-ratelimit-limit" not in health.headers


async def test_rate_limit_off_sends_no_budget_headers(cassette: dict[str, Any]) -> None:
    async with running_service(cassette, rate_limit_enabled=False, rate_limit_anonymous_requests=1) as (base, _):
        for _ in range(3):
            response = await post(base, "{ rateLimit { cost limit remaining } }")
            assert response.status_code == 200
            assert "x-ratelimit-limit" not in response.headers
            assert response.json()["data"]["rateLimit"] == {"cost": 1, "limit": None, "remaining": None}


async def test_cost_of_fifty_symbols_and_of_aliases_is_charged(cassette: dict[str, Any]) -> None:
    async with running_service(cassette, cost_limit_anonymous=500) as (base, _):
        first = await post(base, SIGNALS_QUERY, {"s": SYMBOLS_50})
        assert first.status_code == 200, first.text
        status = first.json()["data"]["rateLimit"]
        assert status == {"cost": 50 * PER_SIGNAL, "limit": 500, "remaining": 500 - 50 * PER_SIGNAL}
        assert first.headers["x-ratelimit-cost"] == str(50 * PER_SIGNAL)
        assert budget_headers(first, "x-ratelimit-cost")[:2] == (500, status["remaining"])

        second = await post(base, ALIASES_QUERY, {"s": SYMBOLS_50[:10]})
        assert second.status_code == 200, second.text
        aliased = second.json()["data"]["rateLimit"]
        expected = 2 * 10 * PER_SIGNAL + ONE_SIGNAL  # each alias runs, so each is charged
        assert aliased["cost"] == expected
        assert aliased["remaining"] == status["remaining"] - expected
        assert aliased["resetAt"] is not None


async def test_cost_budget_spent_answers_429_before_executing(cassette: dict[str, Any]) -> None:
    async with running_service(cassette, cost_limit_anonymous=60) as (base, _):
        ok = await post(base, SIGNALS_QUERY, {"s": SYMBOLS_50})
        assert ok.status_code == 200
        assert len(ok.json()["data"]["signals"]) == 50
        refused = await post(base, SIGNALS_QUERY, {"s": SYMBOLS_50})
        assert refused.status_code == 429
        body = refused.json()
        assert body["data"] is None  # refused before execution: no signals at all
        assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert budget_headers(refused, "x-ratelimit-cost")[:2] == (60, 60 - 50 * PER_SIGNAL)
        # a cheaper operation still fits in what is left
        cheap = await post(base, "{ rateLimit { cost remaining } }")
        assert cheap.status_code == 200
        assert cheap.json()["data"]["rateLimit"]["remaining"] == 60 - 50 * PER_SIGNAL - 1


async def test_invoke_gets_the_headers_and_429_of_both_budgets(cassette: dict[str, Any]) -> None:
    async with (
        running_service(cassette, rate_limit_anonymous_requests=4, cost_limit_anonymous=30) as (base, _),
        httpx2.AsyncClient(timeout=20) as client,
    ):
        batch = {"operation": "signals.batch", "symbols": ",".join(SYMBOLS_50[:20])}
        first = await client.post(f"{base}/invoke", json=batch)
        assert first.status_code in (200, 404), first.text  # unknown symbols: SYMBOL_NOT_FOUND
        assert budget_headers(first)[:2] == (4, 3)
        assert first.headers["x-ratelimit-cost"] == str(20 * PER_SIGNAL)
        over = await client.post(f"{base}/invoke", json=batch)  # 20 more points do not fit in 10
        assert over.status_code == 429
        assert over.json()["error"]["code"] == "RATE_LIMITED"
        assert 1 <= int(over.headers["retry-after"]) <= 60
        assert budget_headers(over)[:2] == (4, 2)
        get = await client.get(f"{base}/v1/symbols/list")
        assert get.status_code != 429
        assert budget_headers(get)[:2] == (4, 1)
        await client.get(f"{base}/v1/symbols/list")
        spent = await client.post(f"{base}/invoke", json={"operation": "symbols.list"})
        assert spent.status_code == 429
        assert spent.json()["error"]["code"] == "RATE_LIMITED"
        assert "retry-after" in spent.headers


# --- per-key budgets (the middleware alone, with a stand-in for the authentication middleware) ---------


class FakeAuthentication:
    """Puts a keyed Principal in the scope when ``X-Test-Key`` is sent, as the real middleware does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        key = headers.get(b"x-test-key")
        if key is not None:
            rate = headers.get(b"x-test-rate")
            principal = Principal(
                address="127.0.0.1", key_id=key.decode(), name="t", rate_per_minute=int(rate) if rate else None
            )
            scope.setdefault("state", {})[PRINCIPAL_STATE_KEY] = principal
        await self.app(scope, receive, send)


def limited_app(policy: LimitPolicy) -> Starlette:
    async def ok(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[Route("/graphql", ok, methods=["POST"]), Route("/health", ok)],
        middleware=[Middleware(FakeAuthentication), Middleware(RateLimitMiddleware, limits=RateLimits(policy))],
    )


async def test_each_key_has_its_own_budget_apart_from_anonymous_callers() -> None:
    app = limited_app(LimitPolicy(anonymous_requests=2, key_requests=5))
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
        anonymous = [(await client.post("/graphql")).status_code for _ in range(3)]
        assert anonymous == [200, 200, 429]
        keyed = [await client.post("/graphql", headers={"X-Test-Key": "k1"}) for _ in range(6)]
        assert [r.status_code for r in keyed] == [200] * 5 + [429]
        assert keyed[0].headers["x-ratelimit-limit"] == "5"
        other = await client.post("/graphql", headers={"X-Test-Key": "k2"})  # another key: a fresh budget
        assert other.status_code == 200
        assert other.headers["x-ratelimit-remaining"] == "4"
        own = await client.post("/graphql", headers={"X-Test-Key": "k3", "X-Test-Rate": "1"})  # the key's own rate
        assert own.headers["x-ratelimit-limit"] == "1"
        assert (await client.post("/graphql", headers={"X-Test-Key": "k3", "X-Test-Rate": "1"})).status_code == 429


async def test_key_connection_slots_are_counted_and_released() -> None:
    limits = RateLimits(LimitPolicy(ws_per_key=2))
    keyed = {"state": {PRINCIPAL_STATE_KEY: Principal(address="10.0.0.1", key_id="k")}}
    slots = [limits.admit_key_connection(keyed) for _ in range(3)]
    assert slots[:2] == ["key:k", "key:k"]
    assert slots[2] is None
    limits.close_connection("key:k")
    assert limits.admit_key_connection(keyed) == "key:k"
    assert limits.admit_key_connection({"state": {}}) == ""  # anonymous: counted by address only


# --- WebSocket limits over the real app ---------------------------------------------------------------


@contextlib.asynccontextmanager
async def initialised(url: str) -> AsyncIterator[Any]:
    async with websockets.connect(url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")]) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "connection_ack"
        yield ws


async def test_websocket_connections_per_address_are_limited(cassette: dict[str, Any]) -> None:
    async with running_service(cassette, ws_max_connections_per_address=2) as (base, _):
        url = base.replace("http://", "ws://") + "/graphql"
        async with initialised(url), initialised(url):
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with initialised(url):
                    pass
            assert refused.value.response.status_code == 429
            assert json.loads(refused.value.response.body)["error"]["code"] == "RATE_LIMITED"
        deadline = time.monotonic() + 5  # the server releases the slots when the sockets end
        while True:
            try:
                async with initialised(url), initialised(url):
                    break
            except websockets.InvalidStatus:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)


async def test_websocket_frame_over_the_body_cap_closes_the_socket(cassette: dict[str, Any]) -> None:
    async with running_service(cassette, max_body_bytes=2048) as (base, _):
        url = base.replace("http://", "ws://") + "/graphql"
        async with initialised(url) as ws:
            await ws.send(json.dumps({"type": "ping", "payload": {"pad": "x" * 1500}}))  # under the cap: answered
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "pong"
            await ws.send(json.dumps({"type": "ping", "payload": {"pad": "x" * 3000}}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1009


async def test_legacy_graphql_ws_protocol_is_refused(cassette: dict[str, Any]) -> None:
    async with running_service(cassette) as (base, _):
        url = base.replace("http://", "ws://") + "/graphql"
        async with websockets.connect(url, subprotocols=[websockets.Subprotocol("graphql-ws")]) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 4406


async def test_websocket_operations_are_charged_to_the_same_cost_budget(cassette: dict[str, Any]) -> None:
    shared_cost = COST_WEIGHTS["Subscription.liquidations"].weight
    updates_cost = 2 * COST_WEIGHTS["Subscription.signalUpdates"].weight
    budget = min(shared_cost, updates_cost)  # after a 1-point query, neither subscription fits; another query does
    async with running_service(cassette, cost_limit_anonymous=budget) as (base, _):
        url = base.replace("http://", "ws://") + "/graphql"
        async with initialised(url) as ws:

            async def frames(op_id: str, query: str) -> list[dict[str, Any]]:
                await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": query}}))
                received: list[dict[str, Any]] = []
                while not received or received[-1]["type"] not in ("complete", "error"):
                    received.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
                return received

            first = await frames("q1", "{ rateLimit { cost limit remaining } }")
            assert first[0]["payload"]["data"]["rateLimit"] == {"cost": 1, "limit": budget, "remaining": budget - 1}
            shared = await frames("s1", 'subscription { liquidations(symbols: ["BTC"]) { symbol } }')
            assert shared[-1]["type"] == "error"  # the shared fan-out is charged before it starts
            assert shared[-1]["payload"][0]["extensions"]["code"] == "RATE_LIMITED"
            own = await frames("s2", 'subscription { signalUpdates(symbols: ["BTC", "ETH"]) { __typename } }')
            # signalUpdates runs shared too (signal_api.fanout): its refusal is an ``error`` message (a list)
            errors = [e for f in own if f["type"] == "error" for e in f["payload"]]
            errors += [e for f in own if f["type"] == "next" for e in (f["payload"].get("errors") or [])]
            assert [e["extensions"]["code"] for e in errors] == ["RATE_LIMITED"]
            second = await frames("q2", "{ rateLimit { remaining } }")
            assert second[0]["payload"]["data"]["rateLimit"] == {"remaining": budget - 2}  # refusals cost nothing


async def test_openapi_documents_429_with_retry_after(cassette: dict[str, Any]) -> None:
    async with running_service(cassette) as (base, _), httpx2.AsyncClient(timeout=10) as client:
        spec = (await client.get(f"{base}/openapi.json")).json()
    routes = [op for path in spec["paths"].values() for op in path.values() if isinstance(op, dict)]
    documented = [op["responses"]["429"] for op in routes if "504" in op.get("responses", {})]  # the operations
    assert documented, "no operation found in the OpenAPI document"
    assert all("Retry-After" in answer["headers"] for answer in documented)
    assert all(
        answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorEnvelope"}
        for answer in documented
    )


async def test_real_keys_get_their_own_budget_and_connection_limit(tmp_path: Path) -> None:
    """With the real authentication (keys in the database): a key's budget is its own, not its address's,
    and its WebSocket connections are counted once ``connection_init`` names it."""
    from tests.test_auth import bearer, keyed_service

    settings = {"rate_limit_anonymous_requests": 2, "rate_limit_key_requests": 3, "ws_max_connections_per_key": 1}
    async with asyncio.timeout(90), keyed_service(tmp_path, **settings) as served:
        anonymous = [(await post(served.base_url, "{ rateLimit { cost } }")).status_code for _ in range(3)]
        assert anonymous == [200, 200, 429]
        async with httpx2.AsyncClient(timeout=20) as client:
            keyed = [
                await client.post(f"{served.base_url}/graphql", json=QUERY, headers=bearer(served.key("reader")))
                for _ in range(4)
            ]
        assert [r.status_code for r in keyed] == [200, 200, 200, 429]  # same address, the key's own budget
        assert keyed[0].headers["x-ratelimit-limit"] == "3"

        init = json.dumps({"type": "connection_init", "payload": {"apiKey": served.key("streamer")}})
        protocols = [websockets.Subprotocol("graphql-transport-ws")]
        async with websockets.connect(served.ws_url, subprotocols=protocols) as first:
            await first.send(init)
            assert json.loads(await asyncio.wait_for(first.recv(), 5))["type"] == "connection_ack"
            async with websockets.connect(served.ws_url, subprotocols=protocols) as second:
                await second.send(init)
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    while True:  # an ack may come first: the key is known only once connection_init is read
                        await asyncio.wait_for(second.recv(), 5)
                assert closed.value.rcvd is not None
                assert closed.value.rcvd.code == 4429
        deadline = time.monotonic() + 5  # the slot is released when the server ends the first socket
        while True:
            try:
                async with websockets.connect(served.ws_url, subprotocols=protocols) as again:
                    await again.send(init)
                    assert json.loads(await asyncio.wait_for(again.recv(), 5))["type"] == "connection_ack"
                    await again.send(json.dumps({"type": "ping"}))
                    assert json.loads(await asyncio.wait_for(again.recv(), 5))["type"] == "pong"
                    break
            except websockets.ConnectionClosed:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)


def metric(text: str, name: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


async def test_metrics_count_refusals_connections_and_subscriptions(cassette: dict[str, Any]) -> None:
    refusals = 'rate_limit_refusals_total{limit="requests"}'
    async with (
        running_service(cassette, rate_limit_anonymous_requests=1) as (base, _),
        httpx2.AsyncClient(timeout=10) as client,
    ):
        before = (await client.get(f"{base}/metrics")).text
        assert (await post(base, "{ rateLimit { cost } }")).status_code == 200
        assert (await post(base, "{ rateLimit { cost } }")).status_code == 429
        url = base.replace("http://", "ws://") + "/graphql"
        async with initialised(url) as ws:
            query = 'subscription { liquidations(symbols: ["BTC"]) { symbol } }'
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
            await asyncio.sleep(0.2)  # the subscription is registered when the frame is handled
            during = (await client.get(f"{base}/metrics")).text
        assert metric(during, refusals) == metric(before, refusals) + 1
        connections, subscriptions = "websocket_connections_active", "websocket_subscriptions_active"
        assert metric(during, connections) == metric(before, connections) + 1
        assert metric(during, subscriptions) == metric(before, subscriptions) + 1
        deadline = time.monotonic() + 5  # both go back down when the socket ends
        while True:
            after = (await client.get(f"{base}/metrics")).text
            if metric(after, connections) == metric(before, connections) and metric(after, subscriptions) == metric(
                before, subscriptions
            ):
                break
            assert time.monotonic() < deadline, after
            await asyncio.sleep(0.05)
