"""CORS allow-list (HTTP preflight and WebSocket Origin) and the security headers on every answer."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

import httpx2
import pytest
import websockets

from tests.conftest import CASSETTE_NAMES, load_cassette_json, running_service

ALLOWED = "https://app.example.com"
EVIL = "https://evil.example.net"
QUERY = {"query": "{ rateLimit { cost } }"}
SUBPROTOCOLS = [websockets.Subprotocol("graphql-transport-ws")]


@pytest.fixture
def cassette() -> dict[str, Any]:
    return load_cassette_json(CASSETTE_NAMES[0])


def preflight_headers(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, x-api-key, content-type",
    }


async def test_preflight_and_requests_from_an_allowed_origin(cassette: dict[str, Any]) -> None:
    async with (
        running_service(cassette, cors_origins=[ALLOWED]) as (base, _),
        httpx2.AsyncClient(timeout=10) as client,
    ):
        for path in ("/graphql", "/invoke"):
            preflight = await client.options(f"{base}{path}", headers=preflight_headers(ALLOWED))
            assert preflight.status_code == 200, preflight.text
            assert preflight.headers["access-control-allow-origin"] == ALLOWED
            allowed = {h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")}
            assert {"authorization", "x-api-key", "content-type"} <= allowed
            assert "POST" in preflight.headers["access-control-allow-methods"]
            assert "x-ratelimit-limit" not in preflight.headers  # a preflight spends no budget
        answer = await client.post(
            f"{base}/graphql", json={"query": "{ rateLimit { cost } }"}, headers={"Origin": ALLOWED}
        )
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == ALLOWED
        exposed = {h.strip().lower() for h in answer.headers["access-control-expose-headers"].split(",")}
        assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-request-id"} <= exposed


async def test_other_origins_are_refused_and_the_default_list_is_empty(cassette: dict[str, Any]) -> None:
    async with (
        running_service(cassette, cors_origins=[ALLOWED]) as (base, _),
        httpx2.AsyncClient(timeout=10) as client,
    ):
        preflight = await client.options(f"{base}/graphql", headers=preflight_headers(EVIL))
        assert preflight.status_code == 400
        assert "access-control-allow-origin" not in preflight.headers
        answer = await client.post(
            f"{base}/graphql", json={"query": "{ rateLimit { cost } }"}, headers={"Origin": EVIL}
        )
        assert "access-control-allow-origin" not in answer.headers  # the browser will not let the page read it
    async with running_service(cassette) as (base, _), httpx2.AsyncClient(timeout=10) as client:
        preflight = await client.options(f"{base}/graphql", headers=preflight_headers(ALLOWED))
        assert preflight.status_code == 400
        assert "access-control-allow-origin" not in preflight.headers


async def test_star_allows_every_origin_only_when_chosen(cassette: dict[str, Any]) -> None:
    async with running_service(cassette, cors_origins=["*"]) as (base, _), httpx2.AsyncClient(timeout=10) as client:
        preflight = await client.options(f"{base}/invoke", headers=preflight_headers(EVIL))
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "*"


async def _handshake(url: str, origin: str | None) -> int:
    """The handshake's outcome: 101 when accepted, else the HTTP status of the refusal."""
    try:
        async with websockets.connect(
            url,
            origin=websockets.Origin(origin) if origin else None,
            subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
        ) as ws:
            await ws.send(json.dumps({"type": "connection_init"}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            return 101
    except websockets.InvalidStatus as exc:
        return exc.response.status_code


async def test_websocket_origin_checked_against_the_same_list(cassette: dict[str, Any]) -> None:
    async with running_service(cassette, cors_origins=[ALLOWED]) as (base, _):
        url = base.replace("http://", "ws://") + "/graphql"
        assert await _handshake(url, ALLOWED) == 101
        assert await _handshake(url, EVIL) == 403
        assert await _handshake(url, None) == 101  # no Origin: not a browser
        assert await _handshake(url, base) == 101  # the page served by this service (GraphiQL)


async def test_security_headers_on_every_answer(cassette: dict[str, Any]) -> None:
    async with running_service(cassette) as (base, _), httpx2.AsyncClient(timeout=10) as client:
        answers = {
            "health": await client.get(f"{base}/health"),
            "graphql": await client.post(f"{base}/graphql", json={"query": "{ rateLimit { cost } }"}),
            "not found": await client.get(f"{base}/nowhere"),
            "metrics": await client.get(f"{base}/metrics"),
        }
        for name, answer in answers.items():
            assert answer.headers["x-content-type-options"] == "nosniff", name
            assert answer.headers["referrer-policy"] == "no-referrer", name
            assert answer.headers["content-security-policy"].startswith("default-src 'none'"), name
            assert "strict-transport-security" not in answer.headers, name  # published over http
        for path in ("/docs", "/redoc", "/graphql"):
            page = await client.get(f"{base}{path}", headers={"Accept": "text/html"})
            assert page.status_code == 200, path
            assert page.headers["content-type"].startswith("text/html"), path
            csp = page.headers["content-security-policy"]
            assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0], path
            for script in re.findall(r"<script\b(?![^>]*\bsrc=)[^>]*>(.*?)</script>", page.text, re.DOTALL):
                digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
                assert f"'sha256-{digest}'" in csp, path  # every inline script of the page may run
            assert "http://" not in csp and "https://" not in csp, path  # no other host: everything is ours
            for src in re.findall(r'<(?:script|link)[^>]*\b(?:src|href)="([^"]+)"', page.text):
                assert src.startswith(("/", "data:")), (path, src)  # every script and style is served from here


async def test_hsts_when_published_over_https(cassette: dict[str, Any]) -> None:
    async with (
        running_service(cassette, public_base_url="https://signals.example.com") as (base, _),
        httpx2.AsyncClient(timeout=10) as client,
    ):
        answer = await client.get(f"{base}/health")
        assert answer.headers["strict-transport-security"].startswith("max-age=")
