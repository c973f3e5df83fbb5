"""The whole decision chain of issue 14, offline, in one run (its "Must show"):

replayed signal (the 2025-10-11 falling cassette, ``serve --replay-url ... --record-history``) → the rules'
verdict AND the AI's (a local server answering ``POST /chat/completions`` like the OpenAI API, the answer
shape taken from ``../shared/fixtures/openai/chat_completions.json``) → stored with plan, verdict, judge
path and the rules' own verdict → an alert rule created over GraphQL that only the AI's verdict satisfies
(the rules SKIP this SHORT: RSI below 30) → the scanner fires it → a Telegram message received by a local
Bot API server, its content checked (call, score, confidence, top factors, plan, verdict, who decided) →
the outcome job evaluates the stored signal on real Binance 4h candles, including which plan leg was hit
first, recomputed here from the same candles.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx2
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

import persistence.outcomes
from engine.market import CandleInterval
from persistence.outcomes import OutcomeJob
from persistence.repository import OutcomeRepository
from providers.replay import Cassette, ReplayApp, serve_in_background
from tests.conftest import load_cassette_json, shared_path
from tests.history_helpers import fresh_database
from tests.telegram_helpers import TOKEN, BotApi, replay_upstream
from tests.test_alerts_e2e import fixture_candles, gql

if TYPE_CHECKING:
    from pathlib import Path

    import pytest
    from starlette.requests import Request

KEY = "sk-decision-e2e-never-logged-5e8a21"
AI_ANSWER = {"verdict": "DOWNSIZE", "risk_mode": "REDUCED", "reason": "Oversold but structure is bearish; go small."}
CREATE = """
mutation Create($rule: AlertRuleInput!) {
  createAlertRule(rule: $rule) {
    __typename
    ... on AlertRuleCreated { rule { id conditions { verdicts recommendations } } }
    ... on Problem { code message }
  }
}
"""
SIGNAL = """
{ signal(symbol: "BTC", mode: AGGRESSIVE) { ... on Signal {
    recommendation score confidence price topFactors { name score }
    plan { entry stop takeProfit atr atrPct sizeMultiplier riskMode }
    verdict { verdict riskMode decidedBy fallbackReason checks { name value passed } } } } }
"""


class OpenAiServer:
    """``POST /chat/completions`` answering the provider-published chat.completion example with our
    structured answer as the message content; keeps each request body and Authorization header."""

    def __init__(self, answer: dict[str, Any]) -> None:
        example = json.loads(shared_path("fixtures", "openai", "chat_completions.json").read_text())
        example["choices"][0]["message"]["content"] = json.dumps(answer)
        self.body = example
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str] = []

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/chat/completions", self._chat, methods=["POST"])])

    async def _chat(self, request: Request) -> JSONResponse:
        self.requests.append(await request.json())
        self.auth.append(request.headers.get("authorization", ""))
        return JSONResponse(copy.deepcopy(self.body))


def expected_first_exit(side: str, stop: float, take_profit: float, candles: list[Any], start: Any) -> str:
    """Which leg a 24 h window of 4 h candles from ``start`` reaches first (written out again here, so the
    job's answer is checked, not repeated)."""
    window = [c for c in candles if start <= c.open_time and c.open_time + timedelta(hours=4) <= start + timedelta(1)]
    assert len(window) == 6, window
    for c in window:
        stopped = c.low <= stop if side == "LONG" else c.high >= stop
        hit = c.high >= take_profit if side == "LONG" else c.low <= take_profit
        if stopped or hit:
            return "SAME_BAR" if stopped and hit else ("STOP" if stopped else "TAKE_PROFIT")
    return "NEITHER"


async def test_replayed_signal_to_ai_and_rules_verdicts_storage_telegram_and_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from signal_api.app import create_app
    from signal_api.settings import Settings

    cassette = Cassette.model_validate(load_cassette_json("btc-2025-10-11-falling.json"))
    bot, openai = BotApi(), OpenAiServer(AI_ANSWER)
    async with (
        fresh_database(tmp_path) as (db, url),
        serve_in_background(
            replay_upstream(ReplayApp(cassette), {"/telegram": bot.app(), "/openai": openai.app()})
        ) as market,
    ):
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            replay_url=market.base_url,  # every provider, OpenAI and Telegram included, at /<provider>
            history_enabled=True,
            history_in_replay=True,  # what serve --record-history sets
            database_url=SecretStr(url),
            data_dir=tmp_path,
            streams_enabled=False,
            openai_api_key=SecretStr(KEY),
            openai_model="gpt-4o-mini",
            telegram_bot_token=SecretStr(TOKEN),
            telegram_chat_ids=["1001"],
            scanner_enabled=True,
            scanner_interval_seconds=3600,  # one round at start-up; the test runs the next one
            scanner_symbols=["BTCUSDT"],
            scanner_modes=["aggressive"],
        )
        app = create_app(settings)
        async with serve_in_background(app, lifespan="on") as service, httpx2.AsyncClient(timeout=30) as client:
            base = service.base_url
            runtime = app.state.container.alerts
            scanner = runtime.scanner
            for _ in range(400):  # the start-up round: computes, judges and records; no rule yet
                if scanner.status.rounds:
                    break
                await asyncio.sleep(0.05)
            assert scanner.status.rounds == 1 and scanner.status.last_actionable == 1, scanner.status.last_errors

            # 1. the same signal state over GraphQL: the AI decided (cached), the rules' checks are listed
            live = (await gql(client, base, SIGNAL))["signal"]
            assert live["recommendation"] == "SHORT"
            v = live["verdict"]
            assert (v["verdict"], v["riskMode"], v["decidedBy"], v["fallbackReason"]) == (
                "DOWNSIZE",
                "REDUCED",
                "AI",
                None,
            )
            rsi = next(c for c in v["checks"] if c["name"] == "rsi")
            assert rsi["passed"] is False and rsi["value"] < 30  # what makes the rules SKIP this SHORT
            plan = live["plan"]
            assert plan["takeProfit"] < plan["entry"] < plan["stop"]  # a SHORT's legs
            assert plan["riskMode"] == "AVOID" and plan["sizeMultiplier"] == 0  # sized by the rules' verdict

            # what the AI was sent: a strict JSON schema, the call, its plan and the rule checks
            assert len(openai.requests) == 1, "one call per signal state (recorder, scanner, query share it)"
            sent = openai.requests[0]
            assert sent["model"] == "gpt-4o-mini" and openai.auth[0] == f"Bearer {KEY}"
            assert sent["response_format"]["type"] == "json_schema"
            assert sent["response_format"]["json_schema"]["strict"] is True
            shown = json.loads(sent["messages"][-1]["content"])
            assert shown["call"]["side"] == "SHORT" and shown["plan"]["stop"] == plan["stop"]
            assert shown["rules_verdict"] == {"verdict": "SKIP", "risk_mode": "AVOID"}
            assert {c["name"] for c in shown["rule_checks"]} >= {"rsi", "funding", "volume_24h", "smc_structure"}

            # 2. a rule only the AI's verdict satisfies
            rule = {
                "name": "BTC shorts the AI downsizes",
                "channels": ["TELEGRAM"],
                "symbols": ["BTC"],
                "recommendations": ["SHORT"],
                "verdicts": ["DOWNSIZE"],
                "expression": "recommendation == 'SHORT' and confidence >= 0",
            }
            created = (await gql(client, base, CREATE, {"rule": rule}))["createAlertRule"]
            assert created["__typename"] == "AlertRuleCreated", created
            assert await scanner.run_once()
            assert scanner.status.last_alerts == 1, scanner.status.last_errors
            await runtime.outbox.drain()
            assert len(openai.requests) == 1  # still cached: no second paid call

        # 3. the Telegram message, as the local Bot API received it
        assert len(bot.received) == 1
        message = bot.received[0]
        text = message["text"]
        assert message["chat_id"] == "1001" and message["parse_mode"] == "HTML"
        assert text.startswith("▼ <b>BTCUSDT SHORT</b> · 4h · aggressive · <i>replayed</i>")
        assert f"Score <b>{live['score']:.1f}</b> · confidence {live['confidence']:.0f}%" in text
        assert "Verdict: <b>DOWNSIZE</b> · risk REDUCED · decided by AI" in text
        # the signal's own top factors (hardest pull from neutral), scores 0..100 unsigned
        top = ", ".join(f"{f['name'].lower()} {f['score']:.0f}/100" for f in live["topFactors"])
        assert len(live["topFactors"]) == 3 and f"Top factors: {top}\n" in text

        def shown_price(label: str) -> float:
            found = re.search(rf"{label} <code>([0-9.,]+)", text)
            assert found is not None, (label, text)
            return float(found.group(1).replace(",", ""))

        assert shown_price("Entry") == plan["entry"]
        assert shown_price("Stop") == plan["stop"]
        assert shown_price("TP") == plan["takeProfit"]
        # the position is sized by the verdict that decided (REDUCED: half the ATR size), not the rules' 0
        size = float(re.search(r"Size <code>([0-9.]+)x", text).group(1))  # type: ignore[union-attr]
        assert size == round(min(2.0, max(0.25, 3.0 / plan["atrPct"])) * 0.5, 2) and size > 0

        # 4. stored once, tagged replayed, with the AI's verdict, the rules' own and the plan
        async with db.connection() as conn:
            stored = await conn.fetch(
                "SELECT recommendation, replayed, generated_at, verdict, risk_mode, decided_by, fallback_reason, "
                "rules_verdict, plan FROM signals"
            )
        assert len(stored) == 1
        row = stored[0]
        assert (row["recommendation"], row["replayed"]) == ("SHORT", True)
        assert (row["verdict"], row["risk_mode"], row["decided_by"], row["fallback_reason"]) == (
            "DOWNSIZE",
            "REDUCED",
            "AI",
            None,
        )
        assert row["rules_verdict"] == "SKIP"
        stored_plan = json.loads(row["plan"]) if isinstance(row["plan"], str) else row["plan"]
        assert (stored_plan["stop"], stored_plan["take_profit"]) == (plan["stop"], plan["takeProfit"])

        # 5. the outcome on real Binance 4h candles after the moment, and which leg came first
        now = row["generated_at"] + timedelta(hours=30)
        monkeypatch.setattr(persistence.outcomes, "INTERVALS", (CandleInterval.H4,))
        candles = fixture_candles(now)
        assert await OutcomeJob(OutcomeRepository(db), candles).run_once(now) >= 2
        async with db.connection() as conn:
            outcomes = {
                r["horizon_hours"]: r
                for r in await conn.fetch(
                    "SELECT horizon_hours, verdict, exit_first, window_start, return_pct FROM signal_outcomes"
                )
            }
        assert set(outcomes) >= {4, 24}
        day = outcomes[24]
        assert day["verdict"] in {"WIN", "LOSS", "FLAT"}
        assert day["exit_first"] == expected_first_exit(
            "SHORT", plan["stop"], plan["takeProfit"], list(candles.rows), day["window_start"]
        )

    captured = capsys.readouterr()
    assert KEY not in captured.out + captured.err and TOKEN not in captured.out + captured.err
