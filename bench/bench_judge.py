"""What the trade plan and the verdict add to a signal request, against the signal alone (the baseline).

One process, no network: a replay server of the cassette and the real app, both on 127.0.0.1, and a local
server answering like the OpenAI API (the provider-published ``chat.completion`` example with a verdict as
its content). Every query is warmed first, then sent ``--requests`` times in sequence; p50 and p95 of the
client-observed latency are printed per selection:

- ``signal`` (baseline): the fields of ``signals.get`` without plan or verdict (the response cache off, so
  every request computes its signal from the upstream cache);
- ``+ plan``: ATR plan (the cached candles and ticker, Wilder's ATR over 200 closed candles);
- ``+ plan + verdict (rules)``: the rules judge, SMC structure on the same candles included;
- ``+ plan + verdict (AI, cached)``: with ``OPENAI_API_KEY`` set; one AI call per signal state, then the cache.

Then the pure engine per call: ``build_plan`` and ``judge_rules`` on the cassette's candles.

    .venv/bin/python bench/bench_judge.py [--cassette PATH] [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import functools
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2

if TYPE_CHECKING:
    from datetime import datetime

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SHARED = REPO / ".." / "shared"
DEFAULT_CASSETTE = SHARED / "cassettes" / "btc-2025-11-14-latest.json"
BASE = (
    "id symbol recommendation score confidence price tickSize factors { name score weight contribution "
    "available source rawValue detail } dataQuality { score missing }"
)
PLAN = "plan { entry stop takeProfit atr atrPct sizeMultiplier riskMode }"
VERDICT = "verdict { verdict riskMode decidedBy fallbackReason reason checks { name value passed } }"


def _fixed(moment: datetime) -> datetime:
    return moment


def query(*parts: str) -> str:
    return '{ signal(symbol: "BTC") { ... on Signal { ' + " ".join(parts) + " } } }"


def with_openai(cassette: dict[str, Any]) -> dict[str, Any]:
    body = json.loads((SHARED / "fixtures" / "openai" / "chat_completions.json").read_text())
    answer = {"verdict": "CONFIRM", "risk_mode": "NORMAL", "reason": "bench"}
    body["choices"][0]["message"].update(content=json.dumps(answer), refusal=None)
    out = copy.deepcopy(cassette)
    out["http"].append({"provider": "openai", "method": "POST", "path": "/chat/completions", "match": {}, "body": body})
    return out


async def interleaved(client: httpx2.AsyncClient, url: str, texts: list[str], n: int) -> list[list[float]]:
    """Each selection once per round, ``n`` rounds, so machine load falls on every selection alike."""
    for text in texts:  # warm: caches, validation cache, the first AI call
        for _ in range(5):
            response = await client.post(f"{url}/graphql", json={"query": text})
            assert response.status_code == 200 and "errors" not in response.json(), response.text
    out: list[list[float]] = [[] for _ in texts]
    order = list(range(len(texts)))
    rng = random.Random(7)  # a shuffled order each round: an upstream-cache refill lands on any selection
    for _ in range(n):
        rng.shuffle(order)
        for i in order:
            start = time.perf_counter()
            response = await client.post(f"{url}/graphql", json={"query": texts[i]})
            out[i].append((time.perf_counter() - start) * 1000)
            if response.status_code != 200 or "errors" in response.json():  # a refusal is not a measurement
                raise RuntimeError(f"refused: {response.status_code} {response.text[:200]}")
    return out


def line(name: str, samples: list[float], baseline: list[float] | None = None) -> str:
    p50 = statistics.median(samples)
    p95 = statistics.quantiles(samples, n=20)[-1]
    extra = f"  ({p50 - statistics.median(baseline):+.2f} ms over the baseline)" if baseline is not None else ""
    return f"{name:<36} p50 {p50:6.2f} ms   p95 {p95:6.2f} ms{extra}"


async def service_run(cassette: dict[str, Any], n: int) -> None:
    from providers.replay import Cassette, ReplayApp, serve_in_background
    from signal_api.app import create_app
    from signal_api.settings import Settings

    runs = (
        (
            False,
            [
                ("signal (baseline)", (BASE,)),
                ("+ plan", (BASE, PLAN)),
                ("+ plan + verdict (rules)", (BASE, PLAN, VERDICT)),
            ],
        ),
        (True, [("signal (baseline, keyed)", (BASE,)), ("+ plan + verdict (AI, cached)", (BASE, PLAN, VERDICT))]),
    )
    for keyed, selections in runs:
        parsed = Cassette.model_validate(with_openai(cassette))
        replay = ReplayApp(parsed)
        async with serve_in_background(replay.app) as upstream:
            extra: dict[str, Any] = {"openai_api_key": "sk-bench"} if keyed else {}
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                history_enabled=False,
                liquidation_stream_enabled=False,
                response_cache_enabled=False,  # every request computes its signal, plan and verdict
                rate_limit_enabled=False,  # no request or cost budget (300 requests a window would refuse the rest)
                **extra,
            ).with_replay_base(upstream.base_url)
            app = create_app(settings, clock=functools.partial(_fixed, parsed.now))
            async with serve_in_background(app, lifespan="on") as service, httpx2.AsyncClient(timeout=30) as client:
                texts = [query(*parts) for _, parts in selections]
                samples = await interleaved(client, service.base_url, texts, n)
            for i, (label, _) in enumerate(selections):
                print(line(label, samples[i], None if i == 0 else samples[0]))
            if keyed:
                print(f"AI calls made: {replay.calls['openai POST /chat/completions']} (the rest from the cache)")


def engine_run(cassette: dict[str, Any], n: int = 2000) -> None:
    from datetime import timedelta

    from engine.judge import JudgeInputs, judge_rules
    from engine.market import Candle, split_candles, utc_from_ms
    from engine.modes import Mode, Recommendation
    from engine.plan import RiskMode, build_plan

    klines = next(e["body"] for e in cassette["http"] if e["path"] == "/fapi/v1/klines")
    candles = [
        Candle(utc_from_ms(k[0]), float(k[1]), float(k[2]), float(k[3]), float(k[4]), float(k[5]), float(k[7]))
        for k in klines
    ]
    closed = split_candles(candles, timedelta(hours=4), utc_from_ms(cassette["clock"])).closed
    start = time.perf_counter()
    for _ in range(n):
        build_plan(Recommendation.SHORT, closed[-1].close, closed, RiskMode.NORMAL, 0.1)
    plan_us = (time.perf_counter() - start) / n * 1e6
    inputs = JudgeInputs(
        Recommendation.SHORT,
        33.8,
        46.6,
        Mode.AGGRESSIVE.thresholds,
        [("momentum", 0.0)] * 8,
        32.7,
        0.007,
        2e10,
        None,
        {},
    )
    start = time.perf_counter()
    for _ in range(n):
        judge_rules(inputs)
    judge_us = (time.perf_counter() - start) / n * 1e6
    print(f"engine: build_plan over {len(closed)} closed candles {plan_us:.1f} µs/call")
    print(f"engine: judge_rules {judge_us:.1f} µs/call")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cassette", type=Path, default=DEFAULT_CASSETTE)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    cassette = json.loads(args.cassette.read_text())
    print(f"cassette {args.cassette.name}, {args.requests} sequential requests per selection, one process")
    asyncio.run(service_run(cassette, max(20, min(args.requests, 5000))))
    engine_run(cassette)


if __name__ == "__main__":
    main()
