"""Benchmark of the universe scans: upstream calls and cold latency of ``newListings``, a ``screener`` and a
``spikes`` scan at 100 ms injected upstream latency, against one bare HTTP round trip at the same latency.

Run: ``.venv/bin/python bench/bench_universe.py [--runs N] [--latency-ms MS]``. Prints its numbers; not a test.

Each run starts a fresh service (empty caches) in this process, pointed at an in-process replay server on
127.0.0.1 that adds the latency to every answer and counts the calls it answers. The cassette is built in
memory from the shared fixture files: Binance ``exchangeInfo`` (all USD-M symbols of 2021-07-22),
``ticker/24hr`` and ``premiumIndex`` (BTCUSDT rows), an empty ``fundingInfo``, CoinGecko ``coins/markets``;
Bybit and OKX have no all-symbol payloads in the fixtures, so their calls answer 404 (still one round trip
each, which is what is measured). The service fetches Binance's listing at start-up (its warm-up, as in
production); the counters are reset after it, so each query's calls are its own.

Baseline: one bare ``httpx2`` GET to the same replay server (one upstream round trip at the same latency):
a scan whose calls all run in parallel costs about one round trip; sequential calls would cost one each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from providers.replay import Cassette, ReplayApp, serve_in_background  # noqa: E402
from signal_api.app import create_app  # noqa: E402
from signal_api.settings import Settings  # noqa: E402

FIXTURES = ROOT.parent / "shared" / "fixtures"
CLOCK = 1626858243909  # exchangeInfo's serverTime
WARM_UP_WAIT_S = 5.0
QUERIES = {
    "newListings(withinHours: 150)": (
        "{ newListings(withinHours: 150) { __typename ... on NewListings { listings { symbol ageHours } } } }"
    ),
    "screener(kind: GAINERS)": (
        "{ screener(kind: GAINERS, minQuoteVolumeUsd: 0) { __typename ... on Screener { rows { symbol value } } } }"
    ),
    "spikes": "{ spikes { __typename ... on SpikeScan { symbolsTracked warmingUp } } }",
}


def _fixture(*parts: str) -> Any:
    return json.loads(FIXTURES.joinpath(*parts).read_text())


def _entry(provider: str, path: str, body: Any, match: dict[str, str] | None = None) -> dict[str, Any]:
    return {"provider": provider, "method": "GET", "path": path, "match": match or {}, "status": 200, "body": body}


def cassette() -> Cassette:
    markets = {"vs_currency": "usd", "order": "market_cap_desc", "per_page": "250", "page": "1"}
    return Cassette.model_validate(
        {
            "version": 1,
            "clock": CLOCK,
            "http": [
                _entry("binance", "/fapi/v1/exchangeInfo", _fixture("binance", "fapi_v1_exchangeInfo.json")),
                _entry("binance", "/fapi/v1/ticker/24hr", [_fixture("binance", "fapi_v1_ticker_24hr.json")]),
                _entry("binance", "/fapi/v1/premiumIndex", [_fixture("binance", "fapi_v1_premiumIndex.json")]),
                _entry("binance", "/fapi/v1/fundingInfo", []),
                _entry("coingecko", "/coins/markets", _fixture("coingecko", "coins_markets.json"), markets),
            ],
        }
    )


async def _round_trip(base: str) -> float:
    """The baseline: one bare GET to the replay server (a 404 path: the latency is added all the same)."""
    async with httpx2.AsyncClient(timeout=30) as client:
        started = time.perf_counter()
        await client.get(f"{base}/binance/fapi/v1/ping")
        return time.perf_counter() - started


async def _one_cold(query: str, latency_ms: float) -> tuple[float, dict[str, int], str]:
    parsed = cassette()
    replay = ReplayApp(parsed, latency_ms=latency_ms)
    async with serve_in_background(replay.app) as upstream:
        settings = Settings(_env_file=None, streams_enabled=False, spike_poll_seconds=0)  # type: ignore[call-arg]
        app = create_app(settings.with_replay_base(upstream.base_url), clock=lambda: parsed.now)
        async with serve_in_background(app, lifespan="on") as service:
            for _ in range(int(WARM_UP_WAIT_S / 0.05)):  # bounded: wait for the warm-up's listing call
                if replay.calls:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(latency_ms / 1000 + 0.05)
            replay.calls.clear()
            async with httpx2.AsyncClient(timeout=60) as client:
                started = time.perf_counter()
                response = await client.post(f"{service.base_url}/graphql", json={"query": query})
                elapsed = time.perf_counter() - started
            data: dict[str, Any] = response.json().get("data") or {}
            answer: dict[str, Any] = next(iter(data.values()), {})
            kind = str(answer.get("__typename", response.status_code))
            return elapsed, dict(replay.calls), kind


async def main(runs: int, latency_ms: float) -> None:
    print(f"universe scans, cold, {latency_ms:g} ms injected upstream latency, median of {runs} fresh services")
    replay = ReplayApp(cassette(), latency_ms=latency_ms)
    async with serve_in_background(replay.app) as upstream:
        baseline = statistics.median([await _round_trip(upstream.base_url) for _ in range(runs)])
    print(f"  baseline: one bare httpx2 GET round trip = {baseline * 1000:.0f} ms")
    print(f"  {'query':32} {'answer':14} {'calls':>5} {'median ms':>10} {'x round trip':>13}")
    for label, query in QUERIES.items():
        timings: list[float] = []
        calls: dict[str, int] = {}
        kind = ""
        for _ in range(runs):
            elapsed, calls, kind = await _one_cold(query, latency_ms)
            timings.append(elapsed)
        median = statistics.median(timings)
        total = sum(calls.values())
        print(f"  {label:32} {kind:14} {total:>5} {median * 1000:>10.0f} {median / baseline:>13.2f}")
        for endpoint, count in sorted(calls.items()):
            print(f"      {count} x {endpoint}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh services per query (median)")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    args = parser.parse_args()
    asyncio.run(main(max(1, min(args.runs, 50)), args.latency_ms))
