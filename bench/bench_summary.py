"""Benchmark of the market summary, ``mss`` and ``mssScan``: upstream calls and cold latency at 100 ms injected
upstream latency, against one bare HTTP round trip at the same latency and against the predecessor's way of
answering the summary (one ``signal`` per coin, one after another).

Run: ``.venv/bin/python bench/bench_summary.py [--runs N] [--latency-ms MS]``. Prints its numbers; not a test.

Each run starts a fresh service (empty caches) in this process, pointed at an in-process replay server on
127.0.0.1 that adds the latency to every answer and counts the calls it answers. The cassette is the shared
``btc-2025-11-14-latest.json`` plus the real CoinGecko ``coins/bitcoin`` and ``search/trending`` payloads and
daily candles aggregated from its 4 h candles, CoinGecko's ``coins/list`` fixture and an empty Binance
``fundingInfo`` (no symbol with an adjusted interval); ETH, SOL, XRP and BNB get BTC's payloads under their
own symbols (the bench measures calls and waiting, not the numbers). The service's start-up listing call is
waited for and the counters reset, so each query's calls are its own.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from providers.replay import Cassette, ReplayApp, serve_in_background  # noqa: E402
from signal_api.app import create_app  # noqa: E402
from signal_api.settings import Settings  # noqa: E402
from tests.test_summary_hype import five_coin_cassette  # noqa: E402

COINS = {"ETH": "ethereum", "SOL": "solana", "XRP": "ripple", "BNB": "binancecoin"}
WARM_UP_WAIT_S = 5.0
SUMMARY = "{ marketSummary { __typename ... on MarketSummary { overall explanationEn explanationId } } }"
MSS = '{ mss(symbol: "BTC") { __typename ... on MSSReport { total tier } } }'
SCAN = "{ mssScan(limit: 5, withinHours: 72) { __typename ... on MssScan { candidates items { symbol } } } }"
SIGNAL = '{ signal(symbol: "%s") { __typename } }'


def summary_cassette() -> dict[str, Any]:
    """The test suite's five-coin cassette (``tests/test_summary_hype.py``), TLMUSDT's payloads included."""
    return five_coin_cassette()


async def _round_trip(base: str) -> float:
    async with httpx2.AsyncClient(timeout=10) as client:
        started = time.perf_counter()
        await client.get(f"{base}/binance/fapi/v1/ping")
        return time.perf_counter() - started


async def _cold(
    queries: list[str], latency_ms: float, clock: datetime | None = None, *, sequential: bool = False
) -> tuple[float, int, str]:
    parsed = Cassette.model_validate(summary_cassette())
    replay = ReplayApp(parsed, latency_ms=latency_ms)
    now = clock or parsed.now
    async with serve_in_background(replay.app) as upstream:
        settings = Settings(_env_file=None, streams_enabled=False, spike_poll_seconds=0)  # type: ignore[call-arg]
        app = create_app(settings.with_replay_base(upstream.base_url), clock=lambda: now)
        async with serve_in_background(app, lifespan="on") as service:
            for _ in range(int(WARM_UP_WAIT_S / 0.05)):  # bounded: wait for the warm-up's listing call
                if replay.calls:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(latency_ms / 1000 + 0.05)
            replay.calls.clear()
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
            return elapsed, sum(replay.calls.values()), kind


async def main(runs: int, latency_ms: float) -> None:
    print(f"market summary and MSS, cold, {latency_ms:g} ms injected upstream latency, median of {runs} services")
    replay = ReplayApp(Cassette.model_validate(summary_cassette()), latency_ms=latency_ms)
    async with serve_in_background(replay.app) as upstream:
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
    print(f"  {'query':34} {'answer':14} {'calls':>5} {'median ms':>10} {'x round trip':>13}")
    for label, queries, clock, sequential in cases:
        results = [await _cold(queries, latency_ms, clock, sequential=sequential) for _ in range(runs)]
        median = statistics.median(r[0] for r in results)
        calls, kind = results[-1][1], results[-1][2]
        print(f"  {label:34} {kind:14} {calls:>5} {median * 1000:>10.0f} {median / baseline:>13.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh services per query (median)")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    args = parser.parse_args()
    asyncio.run(main(max(1, min(args.runs, 50)), args.latency_ms))
