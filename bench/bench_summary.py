"""Benchmark of the market summary, ``mss`` and ``mssScan``: upstream calls and cold latency at 100 ms injected
upstream latency, against one bare HTTP round trip at the same latency and against the predecessor's way of
answering the summary (one ``signal`` per coin, one after another).

Run: ``.venv/bin/python bench/bench_summary.py [--runs N] [--latency-ms MS]``. Prints its numbers; not a test.

Each run starts a fresh service (empty caches) in this process, pointed at a replay server on 127.0.0.1 that
adds the latency to every answer and counts the calls it answers. By default the replay server is a process of
its own (``signal-api replay``), so the time measured is the waiting plus the service's own CPU; with
``--in-process`` it shares the service's event loop, and its own work (routing and answering every call) is
counted as ours. The cassette is the shared
``btc-2025-11-14-latest.json`` plus the real CoinGecko ``coins/bitcoin`` and ``search/trending`` payloads and
daily candles aggregated from its 4 h candles, CoinGecko's ``coins/list`` fixture and an empty Binance
``fundingInfo`` (no symbol with an adjusted interval); ETH, SOL, XRP and BNB get BTC's payloads under their
own symbols (the bench measures calls and waiting, not the numbers). The service's start-up listing call is
waited for and the counters reset, so each query's calls are its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from providers.replay import Cassette, HttpEntry, ReplayApp, serve_in_background  # noqa: E402
from signal_api.app import create_app  # noqa: E402
from signal_api.settings import Settings  # noqa: E402
from tests.test_summary_hype import five_coin_cassette  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

COINS = {"ETH": "ethereum", "SOL": "solana", "XRP": "ripple", "BNB": "binancecoin"}
WARM_UP_WAIT_S = 5.0
SUMMARY = "{ marketSummary { __typename ... on MarketSummary { overall explanationEn explanationId } } }"
MSS = '{ mss(symbol: "BTC") { __typename ... on MSSReport { total tier } } }'
SCAN = "{ mssScan(limit: 5, withinHours: 72) { __typename ... on MssScan { candidates items { symbol } } } }"
SIGNAL = '{ signal(symbol: "%s") { __typename } }'


def summary_cassette() -> dict[str, Any]:
    """The test suite's five-coin cassette (``tests/test_summary_hype.py``), TLMUSDT's payloads included."""
    return five_coin_cassette()


@dataclass
class Upstream:
    """A replay server: where it answers, the calls it has answered by ``provider METHOD path``, and how to zero
    that count."""

    base_url: str
    calls: Callable[[], Awaitable[dict[str, int]]]
    reset: Callable[[], Awaitable[None]]


@contextlib.asynccontextmanager
async def in_process_upstream(latency_ms: float) -> AsyncIterator[Upstream]:
    """The replay server on this process's event loop (its CPU competes with the service's)."""
    replay = ReplayApp(Cassette.model_validate(summary_cassette()), latency_ms=latency_ms)

    async def calls() -> dict[str, int]:
        return dict(replay.calls)

    async def reset() -> None:
        replay.calls.clear()

    async with serve_in_background(replay.app) as upstream:
        yield Upstream(upstream.base_url, calls, reset)


@contextlib.asynccontextmanager
async def process_upstream(latency_ms: float) -> AsyncIterator[Upstream]:
    """``signal-api replay`` in a process of its own on 127.0.0.1, counted through ``/__replay__/stats``."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder:
        cassette = Path(folder) / "summary.json"
        cassette.write_text(json.dumps(summary_cassette()))
        command = [str(ROOT / ".venv/bin/signal-api"), "replay", "--cassette", str(cassette), "--port", str(port)]
        process = await asyncio.create_subprocess_exec(
            *command, "--latency-ms", str(latency_ms), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            async with httpx2.AsyncClient(timeout=10) as client:
                for _ in range(200):  # bounded: up to 20 s for the process to listen
                    with contextlib.suppress(httpx2.TransportError):
                        await client.get(f"{base}/__replay__/stats")
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise RuntimeError("signal-api replay did not start")

                async def calls() -> dict[str, int]:
                    counted: dict[str, int] = (await client.get(f"{base}/__replay__/stats")).json()["calls"]
                    return counted

                async def reset() -> None:
                    await client.post(f"{base}/__replay__/reset")

                yield Upstream(base, calls, reset)
        finally:
            process.terminate()
            await asyncio.wait_for(process.wait(), timeout=10)


async def _round_trip(base: str) -> float:
    async with httpx2.AsyncClient(timeout=10) as client:
        started = time.perf_counter()
        await client.get(f"{base}/binance/fapi/v1/ping")
        return time.perf_counter() - started


async def _cold(
    upstream: Upstream,
    queries: list[str],
    latency_ms: float,
    clock: datetime | None = None,
    *,
    sequential: bool = False,
) -> tuple[float, dict[str, int], str]:
    now = clock or Cassette.model_validate(summary_cassette()).now
    await upstream.reset()
    settings = Settings(_env_file=None, streams_enabled=False, spike_poll_seconds=0)  # type: ignore[call-arg]
    app = create_app(settings.with_replay_base(upstream.base_url), clock=lambda: now)
    async with serve_in_background(app, lifespan="on") as service:
        for _ in range(int(WARM_UP_WAIT_S / 0.05)):  # bounded: wait for the warm-up's listing call
            if sum((await upstream.calls()).values()):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(latency_ms / 1000 + 0.05)
        await upstream.reset()
        async with httpx2.AsyncClient(timeout=60) as client:

            async def post(query: str) -> Any:
                return (await client.post(f"{service.base_url}/graphql", json={"query": query})).json()

            started = time.perf_counter()
            if sequential:
                answers = [await post(q) for q in queries]
            else:
                answers = list(await asyncio.gather(*(post(q) for q in queries)))
            elapsed = time.perf_counter() - started
        data: dict[str, Any] = answers[-1].get("data") or {}
        first: dict[str, Any] = next(iter(data.values()), {})
        kind = str(first.get("__typename", "?"))
        return elapsed, await upstream.calls(), kind


async def _bare_parallel(base: str, calls: dict[str, int]) -> float:
    """The strongest simple baseline for a query: the same upstream calls (the cassette's entries for each
    counted ``provider METHOD path``) sent all at once by a bare httpx2 client on fresh connections, each answer
    JSON-decoded; no parsing into models, no engine, no GraphQL. For a query that needs two rounds (``mssScan``:
    the listings, then the coins) this one round is a lower bound, not a like-for-like baseline."""
    entries = [HttpEntry.model_validate(e) for e in summary_cassette()["http"]]
    wanted: list[HttpEntry] = []
    for key, count in calls.items():
        provider, method, path = key.split(" ", 2)
        same = [e for e in entries if (e.provider, e.method, e.path) == (provider, method, path)]
        wanted.extend((same * count)[:count] if same else [])
    async with httpx2.AsyncClient(timeout=30) as client:

        async def one(entry: HttpEntry) -> Any:
            url = f"{base}/{entry.provider}{entry.path}"
            if entry.method == "POST":
                return (await client.post(url, json=entry.match)).json()
            return (await client.get(url, params={k: str(v) for k, v in entry.match.items()})).json()

        started = time.perf_counter()
        await asyncio.gather(*(one(e) for e in wanted))
        return time.perf_counter() - started


async def main(runs: int, latency_ms: float, *, in_process: bool) -> None:
    where = "in this process" if in_process else "in a process of its own"
    print(f"market summary and MSS, cold, {latency_ms:g} ms injected upstream latency, median of {runs} services")
    print(f"  replay server {where}")
    serving = in_process_upstream if in_process else process_upstream
    async with serving(latency_ms) as upstream:
        baseline = statistics.median([await _round_trip(upstream.base_url) for _ in range(runs)])
        print(f"  baseline: one bare httpx2 GET round trip = {baseline * 1000:.0f} ms")
        info = next(e["body"] for e in summary_cassette()["http"] if e["path"] == "/fapi/v1/exchangeInfo")
        newest = max(s["onboardDate"] for s in info["symbols"])
        scan_clock = datetime.fromtimestamp(newest / 1000, tz=UTC) + timedelta(hours=24)
        cases: list[tuple[str, list[str], datetime | None, bool]] = [
            ("marketSummary (5 coins)", [SUMMARY], None, False),
            ("predecessor: 5 signals in turn", [SIGNAL % b for b in ("BTC", *COINS)], None, True),
            ("mss(BTC)", [MSS], None, False),
            ("mssScan(limit 5, 72 h)", [SCAN], scan_clock, False),
        ]
        print(f"  bare: the query's own calls sent at once by a bare httpx2 client (median of {runs})")
        head = f"  {'query':34} {'answer':14} {'calls':>5} {'median ms':>10} {'x round trip':>13} {'bare ms':>8}"
        print(head)
        for label, queries, clock, sequential in cases:
            results = [await _cold(upstream, queries, latency_ms, clock, sequential=sequential) for _ in range(runs)]
            median = statistics.median(r[0] for r in results)
            calls, kind = results[-1][1], results[-1][2]
            bare = statistics.median([await _bare_parallel(upstream.base_url, calls) for _ in range(runs)])
            total = sum(calls.values())
            numbers = f"{total:>5} {median * 1000:>10.0f} {median / baseline:>13.2f} {bare * 1000:>8.0f}"
            print(f"  {label:34} {kind:14} {numbers}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh services per query (median)")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument(
        "--in-process", action="store_true", help="run the replay server on the service's event loop (as before)"
    )
    args = parser.parse_args()
    asyncio.run(main(max(1, min(args.runs, 50)), args.latency_ms, in_process=args.in_process))
