"""Fault injection at the product level: one upstream endpoint misbehaves in each documented way, and the
signal still answers, with exactly that input missing and the failure named (never a 500, never silence).

The upstream is the replay server of a real cassette wrapped by a small ASGI layer on 127.0.0.1 that
breaks one path: a timeout, 429 with Retry-After, 500, 503, 451, HTTP 200 with an error body, malformed
JSON, and a truncated body.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import CASSETTE_NAMES, load_cassette_json

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.types import Receive, Scope, Send

BROKEN_PATH = "/binance/futures/data/globalLongShortAccountRatio"
QUERY = """
query { signal(symbol: "BTC") { __typename ... on Problem { code message }
  ... on Signal { recommendation
    factors { name available source error failedSources }
    dataQuality { score missing } } } }
"""


class Faulty:
    """Forwards to the replay app, except ``BROKEN_PATH`` which fails in the way named by ``fault``."""

    def __init__(self, app: Any, fault: str) -> None:
        self.app = app
        self.fault = fault
        self.calls: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != BROKEN_PATH:
            await self.app(scope, receive, send)
            return
        self.calls[self.fault] += 1
        status, headers, body = 200, [(b"content-type", b"application/json")], b""
        match self.fault:
            case "timeout":
                await asyncio.sleep(1.0)  # the client's timeout in these tests is 0.3 s
                body = b"[]"
            case "429":
                status, body = 429, b'{"code": -1003, "msg": "Too many requests"}'
                headers.append((b"retry-after", b"0"))
            case "500" | "503":
                status, body = int(self.fault), b'{"code": -1001, "msg": "Internal error"}'
            case "451":
                status, body = 451, b'{"code": 0, "msg": "Service unavailable from a restricted location"}'
            case "error-200":
                body = b'{"status":"ERROR","type":"GENERAL","code":"99099990","errorData":"illegal params."}'
            case "malformed":
                body = b'[{"symbol": "BTCUSDT", "longShortRatio": '
            case "truncated":
                body = b'[{"symbol":"BTCUSDT","longShortRatio":"1.5","longAccount":"0.6","shortAccount":"0.4",'
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@contextlib.asynccontextmanager
async def faulty_service(fault: str) -> AsyncIterator[tuple[str, Faulty]]:
    from providers.replay import Cassette, ReplayApp, serve_in_background
    from signal_api.app import create_app
    from signal_api.settings import Settings

    cassette = Cassette.model_validate(load_cassette_json(CASSETTE_NAMES[0]))
    faulty = Faulty(ReplayApp(cassette).app, fault)
    async with serve_in_background(faulty) as upstream:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, history_enabled=False, upstream_timeout_seconds=0.3, upstream_max_retry_wait_seconds=0.05
        ).with_replay_base(upstream.base_url)
        async with serve_in_background(create_app(settings, clock=lambda: cassette.now), lifespan="on") as app:
            yield app.base_url, faulty


EXPECTED = {
    "timeout": ("timed out", 3),
    "429": ("HTTP 429", 3),
    "500": ("HTTP 500", 3),
    "503": ("HTTP 503", 3),
    "451": ("HTTP 451", 1),
    "error-200": ("error envelope", 1),
    "malformed": ("invalid JSON", 1),
    "truncated": ("invalid JSON", 1),
}


@pytest.mark.parametrize("fault", sorted(EXPECTED))
async def test_one_broken_endpoint_degrades_to_a_named_partial_answer(fault: str, graphql: Any) -> None:
    text, expected_calls = EXPECTED[fault]
    async with faulty_service(fault) as (url, faulty):
        status, body = await graphql(url, QUERY)
    assert status == 200 and "errors" not in body, body
    signal = body["data"]["signal"]
    assert signal["__typename"] == "Signal", signal
    long_short = next(f for f in signal["factors"] if f["name"] == "LONG_SHORT")
    assert long_short["available"] is False
    first_failure = long_short["failedSources"][0]
    assert first_failure.startswith("binance.globalLongShortAccountRatio: ") and text in first_failure, first_failure
    # every other Binance-fed factor still answered from its own source
    others = {f["name"]: f for f in signal["factors"]}
    assert others["MOMENTUM"]["available"] and others["FUNDING"]["available"] and others["OI_TREND"]["available"]
    assert any(m.startswith("global_long_short:") for m in signal["dataQuality"]["missing"])
    assert signal["dataQuality"]["score"] == pytest.approx(71.4)  # 5 of 7: no key for liquidations, and this
    # retryable faults are retried (3 attempts by default); the others are not
    assert faulty.calls[fault] == expected_calls
