"""Durable before sent: ``signal-api serve`` killed with SIGKILL under load loses no answered LONG/SHORT.

The service runs as a real subprocess on 127.0.0.1 in replay mode (a cassette from ``../shared``, whose
clock is "now") with the history on a test PostgreSQL. Replayed signals of one symbol and mode are
identical (same moment, same score), so the dedup window is set to 0: every answered LONG/SHORT then
inserts exactly one row, and "nothing lost" is countable without an id in the answer: for each (symbol,
recommendation, mode, timeframe) the database holds at least as many rows as answers went out (it may
hold more: a row committed whose answer the kill cut off).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import httpx2

from engine.market import Timeframe
from tests.conftest import shared_path
from tests.history_helpers import fresh_database
from tests.process_helpers import free_port, stop_process

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

LOAD_SECONDS_BEFORE_KILL = 2.5  # the kill lands while every worker is mid-request
WORKERS = 24
MAX_REQUESTS = 5_000  # a bound on the load, whatever the machine's speed
START_TIMEOUT_SECONDS = 60.0
QUERY = """query($mode: Mode!) { signal(symbol: "BTC", mode: $mode) {
  __typename ... on Signal { symbol recommendation mode timeframe } } }"""
MODES = ("AGGRESSIVE", "CONSERVATIVE", "ULTRA")

Key = tuple[str, str, str, str]


@contextlib.contextmanager
def _serve(cassette: Path, env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "signal_api.cli", "serve", "--replay", str(cassette)]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield proc
    finally:
        stop_process(proc)


async def _wait_until(url: str, proc: subprocess.Popen[bytes], log: Path, ok: Any = None) -> dict[str, Any]:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    async with httpx2.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"service exited early:\n{_tail(log)}"
            with contextlib.suppress(httpx2.TransportError):
                response = await client.get(url)
                body: dict[str, Any] = response.json()
                if response.status_code == 200 and (ok is None or ok(body)):
                    return body
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} not as expected in {START_TIMEOUT_SECONDS}s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text()[-3000:]


async def _load(base: str, answered: collections.Counter[Key], stop: asyncio.Event) -> int:
    """Concurrent signal requests until ``stop`` or the process dies; count every answered LONG/SHORT."""
    sent = 0

    async def worker(n: int, client: httpx2.AsyncClient) -> None:
        nonlocal sent
        i = n
        while not stop.is_set() and sent < MAX_REQUESTS:
            sent += 1
            mode = MODES[i % len(MODES)]
            i += 1
            try:
                response = await client.post(f"{base}/graphql", json={"query": QUERY, "variables": {"mode": mode}})
            except httpx2.TransportError:
                return  # killed: this answer never arrived, so it is not counted
            body = response.json()["data"]["signal"]
            if body["__typename"] == "Signal" and body["recommendation"] in ("LONG", "SHORT"):
                # the key as the table spells it: mode and timeframe by value ("aggressive", "4h")
                key = (body["symbol"], body["recommendation"], mode.lower(), Timeframe[body["timeframe"]].value)
                answered[key] += 1

    limits = httpx2.Limits(max_connections=WORKERS)
    async with httpx2.AsyncClient(timeout=10.0, limits=limits) as client:
        await asyncio.gather(*(worker(n, client) for n in range(WORKERS)))
    return sent


async def test_every_answered_long_short_is_stored_after_a_sigkill(tmp_path: Path) -> None:
    cassette = shared_path("cassettes", "btc-2025-10-11-falling.json")  # SHORT in every mode but the strictest
    log = tmp_path / "serve.log"
    async with fresh_database(tmp_path / "db") as (database, url):
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "DATA_DIR": str(tmp_path / "data"),
            "HISTORY_ENABLED": "true",
            "HISTORY_IN_REPLAY": "true",
            "SIGNAL_DEDUP_WINDOW_SECONDS": "0",
            # every request computes (and stores) its signal: a response-cache hit re-sends an answer already
            # stored, so counting answers against rows would mean nothing with the cache on
            "RESPONSE_CACHE_ENABLED": "false",
            "RATE_LIMIT_ENABLED": "false",
            "STREAMS_ENABLED": "false",
            "OUTCOME_JOB_INTERVAL_SECONDS": "3600",
            "LOG_LEVEL": "WARNING",
            "LOG_JSON": "true",
        }
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        answered: collections.Counter[Key] = collections.Counter()
        with _serve(cassette, env, port, log) as proc:
            await _wait_until(f"{base}/health/live", proc, log)
            stop = asyncio.Event()
            load = asyncio.create_task(_load(base, answered, stop))
            await asyncio.sleep(LOAD_SECONDS_BEFORE_KILL)
            assert not load.done(), "the load ended before the kill: raise MAX_REQUESTS"
            os.kill(proc.pid, signal.SIGKILL)  # no shutdown, no drain: only what was durable survives
            proc.wait(10)
            stop.set()
            async with asyncio.timeout(30):
                sent = await load
        # the same database and data dir (spool): the restart replays whatever was spooled
        with _serve(cassette, env, port, log) as proc:

            def settled(body: dict[str, Any]) -> bool:
                codes = {r["code"] for r in body["reasons"]}
                return not codes & {"spool_non_empty", "database_down"}

            health = await _wait_until(f"{base}/health", proc, log, settled)
        async with database.connection() as conn:
            rows = await conn.fetch(
                "SELECT symbol, recommendation, mode, timeframe, count(*) AS n FROM signals "
                "GROUP BY symbol, recommendation, mode, timeframe"
            )
        stored = {(r["symbol"], r["recommendation"], r["mode"], r["timeframe"]): int(r["n"]) for r in rows}
        lost = {k: n - stored.get(k, 0) for k, n in answered.items() if n > stored.get(k, 0)}
        total_answered = sum(answered.values())
        total_stored = sum(stored.values())
        print(
            f"\nSIGKILL durability: {sent} requests sent, {total_answered} LONG/SHORT answered, "
            f"{total_stored} rows stored, {sum(lost.values())} lost; by key answered={dict(answered)} "
            f"stored={stored}; health after restart: {health['status']}"
        )
        assert total_answered >= 100, "too little load to mean anything"
        assert lost == {}
