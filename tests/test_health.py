"""Health that tells the truth, over HTTP against the real app on 127.0.0.1: ``/health/live``,
``/health/ready`` and ``/health`` under a dead database (the answer still goes out and is spooled, then
replayed), with every price source failing (breakers open: down, 503) and with one failing (degraded);
the operator metrics on ``/metrics``."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import httpx2

from tests.conftest import CASSETTE_NAMES, load_cassette_json, running_service
from tests.history_helpers import fresh_database, restart_server, session_server, stop_server

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from starlette.types import Receive, Scope, Send

SIGNAL = '{ signal(symbol: "BTC") { __typename ... on Signal { recommendation } } }'


async def _get(client: httpx2.AsyncClient, url: str) -> tuple[int, dict[str, Any]]:
    response = await client.get(url)
    body: dict[str, Any] = response.json()
    return response.status_code, body


async def _until(
    client: httpx2.AsyncClient, url: str, done: Callable[[int, dict[str, Any]], bool], seconds: float = 20.0
) -> tuple[int, dict[str, Any]]:
    """Poll ``url`` until ``done(status, body)``; bounded in time."""
    status, body = await _get(client, url)
    async with asyncio.timeout(seconds):
        while not done(status, body):
            await asyncio.sleep(0.1)
            status, body = await _get(client, url)
    return status, body


def _codes(body: dict[str, Any]) -> set[str]:
    return {r["code"] for r in body["reasons"]}


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not exported")


async def test_dead_database_makes_ready_503_and_health_degraded_and_the_answer_is_spooled_then_replayed(
    tmp_path: Path,
) -> None:
    server = session_server()
    cassette = load_cassette_json(CASSETTE_NAMES[0])  # LONG in the default mode
    async with fresh_database(tmp_path / "db") as (database, url):
        settings: dict[str, Any] = {
            "history_enabled": True,
            "database_url": url,
            "data_dir": tmp_path / "data",
            "db_supervisor_interval_seconds": 0.2,
            "history_commit_timeout_seconds": 1.0,
        }
        async with running_service(cassette, **settings) as (base, _), httpx2.AsyncClient(timeout=10) as client:
            status, live = await _get(client, f"{base}/health/live")
            assert (status, live) == (200, {"status": "alive"})
            status, ready = await _until(client, f"{base}/health/ready", lambda s, _: s == 200)
            assert ready["ready"] and ready["price_sources"]["sources"]["binance"]["up"] is True
            status, health = await _get(client, f"{base}/health")
            assert (status, health["status"]) == (200, "ok") and health["reasons"] == []
            assert health["storage"]["database"]["up"] and "cache" in health and "circuit_breakers" in health

            await asyncio.to_thread(stop_server, server)
            try:
                status, ready = await _until(client, f"{base}/health/ready", lambda s, _: s == 503)
                assert not ready["ready"] and "database_down" in _codes(ready)
                status, health = await _get(client, f"{base}/health")
                assert (status, health["status"]) == (200, "degraded") and "database_down" in _codes(health)

                # the answer still goes out, and what it said is in the spool before it did
                answer = (await client.post(f"{base}/graphql", json={"query": SIGNAL})).json()["data"]["signal"]
                assert answer["recommendation"] == "LONG"
                status, health = await _get(client, f"{base}/health")
                assert "spool_non_empty" in _codes(health) and health["storage"]["spool"]["records"] == 1
                metrics = (await client.get(f"{base}/metrics")).text
                assert _metric(metrics, "history_spool_records") == 1
                assert _metric(metrics, "history_spool_bytes") > 100
                assert _metric(metrics, "history_spool_over_cap") == 0
            finally:
                await asyncio.to_thread(restart_server, server)

            status, ready = await _until(client, f"{base}/health/ready", lambda s, _: s == 200)
            status, health = await _until(client, f"{base}/health", lambda _, b: b["status"] == "ok")
            assert health["storage"]["spool"]["records"] == 0
            metrics = (await client.get(f"{base}/metrics")).text
            assert _metric(metrics, "history_spool_records") == 0
            assert 'db_pool_connections{state="max"}' in metrics
            assert _metric(metrics, "broker_dropped_events") == 0  # exported from the broker's counters
        async with database.connection() as conn:
            assert await conn.fetchval("SELECT count(*) FROM signals WHERE recommendation = 'LONG'") == 1


class Down:
    """An upstream whose every answer is a 503 (a provider-level failure: it counts against the breaker),
    except the paths that ``serve`` forwards to a real replay app."""

    def __init__(self, replay: Any = None, serve: tuple[str, ...] = ()) -> None:
        self.replay = replay
        self.serve = serve

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if self.replay is not None and scope["path"].startswith(self.serve):
            await self.replay(scope, receive, send)
            return
        body = b'{"code": -1001, "msg": "Internal error"}'
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@contextlib.asynccontextmanager
async def _service(upstream_app: Any) -> AsyncIterator[tuple[str, Any]]:
    from providers.replay import serve_in_background
    from signal_api.app import create_app
    from signal_api.settings import Settings

    async with serve_in_background(upstream_app) as upstream:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            history_enabled=False,
            streams_enabled=False,
            upstream_retry_attempts=1,
            breaker_failure_threshold=1,
            breaker_cooldown_seconds=600,
            health_probe_timeout_seconds=0.5,
        ).with_replay_base(upstream.base_url)
        app = create_app(settings)
        async with serve_in_background(app, lifespan="on") as service:
            yield service.base_url, app


async def test_every_price_source_failing_is_down_with_503() -> None:
    async with _service(Down()) as (base, app), httpx2.AsyncClient(timeout=10) as client:
        status, ready = await _get(client, f"{base}/health/ready")
        assert status == 503 and "no_price_source" in _codes(ready)
        await client.post(f"{base}/graphql", json={"query": SIGNAL})  # every source fails: breakers open
        price_sources = app.state.health.price_sources()
        assert "binance" in price_sources and len(price_sources) >= 2  # the fallback venues count too
        status, health = await _until(client, f"{base}/health", lambda s, _: s == 503)
        assert health["status"] == "down" and {"no_price_source", "breakers_open"} <= _codes(health)
        assert all(health["circuit_breakers"][name] == "open" for name in price_sources)
        status, _ = await _get(client, f"{base}/health/live")
        assert status == 200  # the process itself is fine: restarting it would not help


async def test_one_price_source_open_is_degraded_and_still_200() -> None:
    from providers.replay import Cassette, ReplayApp

    replay = ReplayApp(Cassette.model_validate(load_cassette_json(CASSETTE_NAMES[0]))).app
    # Binance answers; Bybit fails on every call
    upstream = Down(replay, serve=("/binance", "/alternative_me", "/coingecko", "/okx", "/hyperliquid"))
    async with _service(upstream) as (base, app), httpx2.AsyncClient(timeout=10) as client:
        await _until(client, f"{base}/health/ready", lambda s, _: s == 200)  # Binance answered the warm-up
        breakers = app.state.container.breakers
        for _ in range(3):  # Bybit is asked only when Binance fails: ask it once directly
            with contextlib.suppress(Exception):
                await app.state.container.registry.providers["bybit"].ticker(_btc())
        assert breakers["bybit"].state.value == "open" and breakers["binance"].state.value == "closed"
        status, health = await _get(client, f"{base}/health")
        assert (status, health["status"]) == (200, "degraded")
        assert {"code": "breakers_open", "detail": "bybit"} in health["reasons"]
        assert health["price_sources"]["sources"]["binance"]["up"] is True
        status, ready = await _get(client, f"{base}/health/ready")
        assert status == 200 and ready["ready"]


def _btc() -> Any:
    from providers.symbols import parse_symbol

    return parse_symbol("BTCUSDT")


def test_the_supervisors_restart_hook_counts_in_the_metric() -> None:
    from prometheus_client import REGISTRY

    from signal_api.health import count_embedded_restart

    before = REGISTRY.get_sample_value("embedded_db_restarts_total") or 0.0
    count_embedded_restart()
    assert REGISTRY.get_sample_value("embedded_db_restarts_total") == before + 1


async def test_spool_past_its_cap_is_said_loudly_and_the_answers_still_go_out(tmp_path: Path) -> None:
    server = session_server()
    cassette = load_cassette_json(CASSETTE_NAMES[0])
    async with fresh_database(tmp_path / "db") as (_database, url):
        settings: dict[str, Any] = {
            "history_enabled": True,
            "database_url": url,
            "data_dir": tmp_path / "data",
            "db_supervisor_interval_seconds": 0.2,
            "history_commit_timeout_seconds": 1.0,
            "history_spool_max_bytes": 4096,  # the smallest cap: about one row
            "signal_dedup_window_seconds": 0,
        }
        async with running_service(cassette, **settings) as (base, _), httpx2.AsyncClient(timeout=10) as client:
            await _until(client, f"{base}/health/ready", lambda s, _: s == 200)
            await asyncio.to_thread(stop_server, server)
            try:
                for mode in ("AGGRESSIVE", "ULTRA", "AGGRESSIVE"):
                    query = SIGNAL.replace('symbol: "BTC"', f'symbol: "BTC", mode: {mode}')
                    answer = (await client.post(f"{base}/graphql", json={"query": query})).json()["data"]["signal"]
                    assert answer["recommendation"] == "LONG"  # storage never fails the request
                status, health = await _get(client, f"{base}/health")
                assert (status, health["status"]) == (200, "degraded")
                assert {"spool_over_cap", "rows_not_durable", "database_down"} <= _codes(health)
                spool = health["storage"]["spool"]
                assert spool["over_cap"] and spool["bytes"] <= 4096 and spool["refused_rows"] >= 2
                assert health["storage"]["recorder"]["not_durable"]["spool_full"] == spool["refused_rows"]
                status, ready = await _get(client, f"{base}/health/ready")
                assert status == 503 and {"spool_over_cap", "database_down"} <= _codes(ready)
                metrics = (await client.get(f"{base}/metrics")).text
                assert _metric(metrics, "history_spool_over_cap") == 1
                assert 'history_rows_not_durable_total{reason="spool_full"}' in metrics
            finally:
                await asyncio.to_thread(restart_server, server)
