"""Signal.plan and Signal.verdict through the real app against the replayed cassettes (127.0.0.1): the rules
on the three moments, and the AI path served from the cassette's ``openai`` entries like any provider."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.conftest import load_cassette_json, running_service, shared_path

QUERY = """
query($symbol: String!, $mode: Mode!) {
  signal(symbol: $symbol, mode: $mode) {
    ... on Signal {
      recommendation score price tickSize structure { structure }
      plan { entry stop takeProfit atr atrPct sizeMultiplier riskMode }
      verdict { verdict riskMode decidedBy fallbackReason reason checks { name value passed } }
    }
  }
}
"""
KEY = "sk-e2e-never-shown-93b1d0c4"


async def signal(graphql: Any, base_url: str, mode: str = "AGGRESSIVE") -> dict[str, Any]:
    status, body = await graphql(base_url, QUERY, {"symbol": "BTC", "mode": mode})
    assert status == 200 and "errors" not in body, body
    result: dict[str, Any] = body["data"]["signal"]
    return result


def checks(verdict: dict[str, Any]) -> dict[str, tuple[float | None, bool | None]]:
    return {c["name"]: (c["value"], c["passed"]) for c in verdict["checks"]}


# Which call each moment gives (every mode agrees on these three) and what the rules say about it.
MOMENTS = [
    ("btc-2025-07-11-rising.json", "LONG", "SKIP", "AVOID", "rsi"),  # RSI 77.3 > 70 with a LONG
    ("btc-2025-10-11-falling.json", "SHORT", "SKIP", "AVOID", "rsi"),  # RSI 27.3 < 30 with a SHORT
    ("btc-2025-11-14-latest.json", "SHORT", "CONFIRM", "NORMAL", None),  # a SHORT confirmed (defect 6)
]


@pytest.mark.parametrize(("name", "call", "verdict", "risk", "failed"), MOMENTS)
async def test_rules_on_the_three_moments(
    graphql: Any, name: str, call: str, verdict: str, risk: str, failed: str | None
) -> None:
    async with running_service(load_cassette_json(name)) as (url, _):
        s = await signal(graphql, url)
    assert s["recommendation"] == call
    v, plan = s["verdict"], s["plan"]
    assert (v["verdict"], v["riskMode"], v["decidedBy"], v["fallbackReason"]) == (verdict, risk, "RULES", None)
    by_name = checks(v)
    assert set(by_name) == {"rsi", "funding", "volume_24h", "conflicting_factors", "smc_structure", "threshold_margin"}
    assert [n for n, (_, ok) in by_name.items() if ok is False] == ([failed] if failed else [])
    assert by_name["volume_24h"][0] is not None and by_name["volume_24h"][0] > 1e10  # BTC's real volume
    # the structure check reads what Signal.structure shows (the same window)
    bias = {"BULLISH": 1.0, "BEARISH": -1.0, "RANGING": 0.0}[s["structure"]["structure"]]
    assert by_name["smc_structure"][0] == bias
    # the plan follows the rules' risk mode, on the call's side, on the 0.1 tick
    assert plan["riskMode"] == risk and plan["entry"] == s["price"] and s["tickSize"] == 0.01
    if call == "LONG":
        assert plan["stop"] < plan["entry"] < plan["takeProfit"]
    else:
        assert plan["takeProfit"] < plan["entry"] < plan["stop"]
    assert plan["sizeMultiplier"] == (
        0.0 if risk == "AVOID" else pytest.approx(min(2.0, 3.0 / plan["atrPct"]), abs=1e-3)
    )


def with_openai(cassette: dict[str, Any], content: str | None, refusal: str | None = None) -> dict[str, Any]:
    """The cassette plus a recorded ``POST /chat/completions`` answer (the real response shape)."""
    body = json.loads(shared_path("fixtures", "openai", "chat_completions.json").read_text())
    body["choices"][0]["message"].update(content=content, refusal=refusal)
    out = copy.deepcopy(cassette)
    out["http"].append({"provider": "openai", "method": "POST", "path": "/chat/completions", "match": {}, "body": body})
    return out


async def test_the_ai_decides_from_a_recorded_answer(graphql: Any) -> None:
    answer = {"verdict": "DOWNSIZE", "risk_mode": "REDUCED", "reason": "Fear is extreme; short smaller."}
    cassette = with_openai(load_cassette_json("btc-2025-11-14-latest.json"), json.dumps(answer))
    async with running_service(cassette, openai_api_key=KEY) as (url, replay):
        first = await signal(graphql, url)
        again = await signal(graphql, url)  # the same signal state: served from the cache
        ai_calls = replay.calls["openai POST /chat/completions"]
    v = first["verdict"]
    assert (v["verdict"], v["riskMode"], v["decidedBy"], v["fallbackReason"]) == ("DOWNSIZE", "REDUCED", "AI", None)
    assert v["reason"] == answer["reason"]
    assert again["verdict"] == v and ai_calls == 1
    assert first["plan"]["riskMode"] == "NORMAL"  # the plan keeps the rules' risk mode
    assert KEY not in json.dumps(first)


async def test_a_malformed_recorded_answer_falls_back(graphql: Any) -> None:
    cassette = with_openai(load_cassette_json("btc-2025-11-14-latest.json"), "CONFIRM!")
    async with running_service(cassette, openai_api_key=KEY) as (url, _):
        v = (await signal(graphql, url))["verdict"]
    assert (v["verdict"], v["decidedBy"]) == ("CONFIRM", "RULES")
    assert v["fallbackReason"].startswith("AI invalid answer")


async def test_a_recorded_refusal_falls_back(graphql: Any) -> None:
    cassette = with_openai(load_cassette_json("btc-2025-07-11-rising.json"), None, "I can't help with that.")
    async with running_service(cassette, openai_api_key=KEY) as (url, _):
        v = (await signal(graphql, url))["verdict"]
    assert (v["verdict"], v["decidedBy"], v["fallbackReason"]) == ("SKIP", "RULES", "AI refusal")


async def test_a_spent_budget_falls_back(graphql: Any) -> None:
    cassette = with_openai(load_cassette_json("btc-2025-11-14-latest.json"), "{}")
    async with running_service(cassette, openai_api_key=KEY, openai_daily_call_budget=0) as (url, replay):
        v = (await signal(graphql, url))["verdict"]
        assert replay.calls["openai POST /chat/completions"] == 0
    assert v["decidedBy"] == "RULES" and v["fallbackReason"] == "daily AI budget of 0 calls is spent"


async def test_neutral_has_no_plan_and_no_verdict() -> None:
    """No shipped moment is NEUTRAL in any mode, so the resolvers are asked directly: a NEUTRAL is neither
    planned nor judged, and nothing is fetched for it (the context is never touched)."""
    from datetime import UTC, datetime

    from engine import DataQuality, Mode, Recommendation, Signal
    from engine.market import Timeframe
    from resolvers.judge import assess, judge_signal, plan_signal

    neutral = Signal(
        symbol="BTCUSDT",
        recommendation=Recommendation.NEUTRAL,
        score=50.0,
        confidence=0.0,
        mode=Mode.AGGRESSIVE,
        thresholds=Mode.AGGRESSIVE.thresholds,
        timeframe=Timeframe.H4,
        price=96513.7,
        factors=(),
        top_factors=(),
        data_quality=DataQuality(score=100.0, tiers=(), missing=(), sources=()),
        generated_at=datetime(2025, 11, 14, 20, tzinfo=UTC),
    )
    untouched: Any = object()  # any attribute access would raise
    assert await assess(untouched, neutral) is None
    assert await judge_signal(untouched, neutral) is None
    assert await plan_signal(untouched, neutral) is None


async def test_rest_signals_get_carries_the_plan_and_verdict() -> None:
    import httpx2

    cassette = load_cassette_json("btc-2025-11-14-latest.json")
    async with running_service(cassette) as (url, _), httpx2.AsyncClient(timeout=10) as client:
        response = await client.post(f"{url}/invoke", json={"operation": "signals.get", "symbol": "BTC"})
    body = response.json()
    assert response.status_code == 200 and body["ok"] is True, body
    data = body["data"]
    assert data["recommendation"] == "SHORT"
    assert data["plan"]["riskMode"] == "NORMAL" and data["plan"]["takeProfit"] < data["plan"]["entry"]
    assert data["verdict"]["verdict"] == "CONFIRM" and data["verdict"]["decidedBy"] == "RULES"


async def test_a_replayed_signal_is_stored_with_its_ai_verdict_and_plan(graphql: Any, tmp_path: Any) -> None:
    """Replayed signal → AI verdict (recorded answer) → stored with plan, verdict, judge path and the rules'
    verdict → read back from signalHistory."""
    from tests.history_helpers import fresh_database

    answer = {"verdict": "DOWNSIZE", "risk_mode": "REDUCED", "reason": "Extreme fear; keep it small."}
    cassette = with_openai(load_cassette_json("btc-2025-11-14-latest.json"), json.dumps(answer))
    settings = {"history_enabled": True, "history_in_replay": True, "data_dir": tmp_path, "openai_api_key": KEY}
    history_query = (
        "{ signalHistory(first: 5) { ... on SignalHistoryConnection { edges { node { recommendation verdict "
        "riskMode decidedBy fallbackReason rulesVerdict plan { entry stop takeProfit riskMode } } } } } }"
    )
    async with (
        fresh_database(tmp_path, migrate=False) as (_db, db_url),
        running_service(cassette, database_url=db_url, **settings) as (url, replay),
    ):
        live = await signal(graphql, url)
        status, body = await graphql(url, history_query)
        ai_calls = replay.calls["openai POST /chat/completions"]
        _, performance = await graphql(
            url,
            "{ signalPerformance(horizon: H24) { ... on SignalPerformance { pending "
            "byVerdict { key count takeProfitFirst stopFirst } byJudge { key count } byRulesVerdict { key } } } }",
        )
    assert status == 200 and "errors" not in body, body
    (edge,) = body["data"]["signalHistory"]["edges"]
    node = edge["node"]
    assert ai_calls == 1  # judged once: the stored verdict is the answered one (cached)
    assert (node["verdict"], node["riskMode"], node["decidedBy"], node["fallbackReason"]) == (
        "DOWNSIZE",
        "REDUCED",
        "AI",
        None,
    )
    assert node["rulesVerdict"] == "CONFIRM" and live["verdict"]["verdict"] == "DOWNSIZE"
    assert node["plan"] == {k: live["plan"][k] for k in ("entry", "stop", "takeProfit", "riskMode")}
    perf = performance["data"]["signalPerformance"]
    assert perf["pending"] == 1  # stored, not yet evaluated: no group counts it
    assert [g["key"] for g in perf["byVerdict"]] == ["CONFIRM", "DOWNSIZE", "SKIP", "WAIT"]
    assert [g["key"] for g in perf["byJudge"]] == ["AI", "RULES"] and all(g["count"] == 0 for g in perf["byJudge"])
    assert [g["key"] for g in perf["byRulesVerdict"]] == ["CONFIRM", "DOWNSIZE", "SKIP", "WAIT"]


async def test_too_few_candles_say_why_there_is_no_plan(graphql: Any) -> None:
    """The cassette's klines cut to the last 10 (the signal, mode ultra, stands on its other factors): no ATR14,
    so plan is null and planMissing says why; the RSI check cannot be made, so the rules WAIT."""
    cassette = copy.deepcopy(load_cassette_json("btc-2025-11-14-latest.json"))
    for entry in cassette["http"]:
        if entry["provider"] == "binance" and entry["path"] == "/fapi/v1/klines":
            entry["body"] = entry["body"][-10:]
    async with running_service(cassette) as (url, _):
        status, body = await graphql(
            url,
            '{ signal(symbol: "BTC", mode: ULTRA) { ... on Signal { recommendation score plan { entry } planMissing '
            "verdict { verdict riskMode checks { name passed } } } } }",
        )
    s = body["data"]["signal"]
    assert status == 200 and s["recommendation"] in ("LONG", "SHORT"), body
    assert s["plan"] is None and s["planMissing"] == "ATR14 needs 15 closed candles, got 9"
    assert (s["verdict"]["verdict"], s["verdict"]["riskMode"]) == ("WAIT", "AVOID")
    assert {c["name"]: c["passed"] for c in s["verdict"]["checks"]}["rsi"] is None
