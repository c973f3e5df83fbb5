"""End to end, offline: the app replays a cassette with its history recorded (``serve --replay-url ...
--record-history``), a client creates an alert rule over GraphQL, the scanner computes the replayed
signal, judges it (rules), stores it tagged replayed, fires the rule: a Telegram message reaches a local
server answering like the Bot API, a webhook reaches a receiver that verifies its HMAC, the ``alerts``
subscription gets it; the same signal again sends nothing; then the outcome job evaluates the stored
signal on real Binance 4h candles (the fixture history) and the live performance still excludes it."""

from __future__ import annotations

import asyncio
import csv
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx2
import websockets
from pydantic import SecretStr

import persistence.outcomes
from engine.market import Candle, CandleInterval
from persistence.outcomes import OutcomeJob
from persistence.repository import OutcomeRepository
from persistence.sql import load_queries
from providers.replay import Cassette, ReplayApp, serve_in_background
from tests.conftest import load_cassette_json, shared_path
from tests.history_helpers import fresh_database
from tests.telegram_helpers import TOKEN, BotApi, WebhookReceiver, replay_upstream

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    import pytest

CREATE = """
mutation Create($rule: AlertRuleInput!) {
  createAlertRule(rule: $rule) {
    __typename
    ... on AlertRuleCreated { webhookSecret rule { id name paused channels conditions { symbols expression } } }
    ... on Problem { code message }
    ... on AlertRuleRefused { field }
  }
}
"""
ALERTS = "subscription { alerts { ruleName symbol recommendation verdict replayed plan { label value } dedupKey } }"


class FixtureCandles:
    """Real Binance BTCUSDT 4h candles from ``../shared/fixtures/history`` (a CandleSource)."""

    def __init__(self, rows: Sequence[Candle]) -> None:
        self.rows = rows

    async def candles(self, symbol: str, interval: CandleInterval, limit: int) -> tuple[str, Sequence[Candle]]:
        assert symbol == "BTCUSDT" and interval is CandleInterval.H4
        return "fixture:4h", self.rows[-limit:]


def fixture_candles(until: datetime) -> FixtureCandles:
    path = shared_path("fixtures", "history", "coinglass_btc_eth_2024-11_2025-11", "btc_price_binance_btcusdt_4h.csv")
    rows = []
    with path.open() as handle:
        for r in csv.DictReader(handle):
            opened = datetime.fromtimestamp(int(r["time"]) / 1000, UTC)
            if opened + timedelta(hours=4) <= until:
                rows.append(Candle(opened, float(r["open"]), float(r["high"]), float(r["low"]), float(r["close"]), 0.0))
    return FixtureCandles(rows)


async def gql(client: httpx2.AsyncClient, base: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    response = await client.post(f"{base}/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def test_replayed_signal_to_telegram_webhook_subscription_and_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from signal_api.app import create_app
    from signal_api.settings import Settings

    cassette = Cassette.model_validate(load_cassette_json("btc-2025-07-11-rising.json"))
    bot, hook = BotApi(), WebhookReceiver()
    async with (
        fresh_database(tmp_path) as (db, url),
        serve_in_background(replay_upstream(ReplayApp(cassette), {"/telegram": bot.app()})) as market,
        serve_in_background(hook.app()) as receiver,
    ):
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            replay_url=market.base_url,
            history_enabled=True,  # tests/conftest.py turns it off for every other test
            history_in_replay=True,  # what serve --record-history sets
            database_url=SecretStr(url),
            data_dir=tmp_path,
            streams_enabled=False,
            telegram_bot_token=SecretStr(TOKEN),
            telegram_chat_ids=["1001"],
            alert_webhooks_allow_internal=True,  # the receiver listens on 127.0.0.1
            scanner_enabled=True,
            scanner_interval_seconds=3600,  # one round at start-up; the test runs the next ones
            scanner_symbols=["BTCUSDT"],
            scanner_modes=["aggressive"],
        )
        app = create_app(settings)
        async with serve_in_background(app, lifespan="on") as service, httpx2.AsyncClient(timeout=30) as client:
            base = service.base_url
            runtime = app.state.container.alerts
            scanner = runtime.scanner
            for _ in range(200):  # the start-up round (no rule yet: it records, fires nothing)
                if scanner.status.rounds:
                    break
                await asyncio.sleep(0.05)
            assert scanner.status.rounds == 1 and scanner.status.leader and scanner.status.last_alerts == 0
            assert scanner.status.last_actionable == 1, scanner.status.last_errors

            # a hostile expression is refused as data, with its code
            refused = await gql(
                client, base, CREATE, {"rule": {"name": "x", "channels": ["TELEGRAM"], "expression": "().__class__"}}
            )
            assert refused["createAlertRule"] == {
                "__typename": "AlertRuleRefused",
                "code": "EXPRESSION_FORBIDDEN",
                "message": "refused in rule expressions: attribute access",
                "field": "expression",
            }
            rule = {
                "name": "BTC <calls> & more",
                "channels": ["TELEGRAM", "WEBHOOK", "SUBSCRIPTION"],
                "symbols": ["btc"],
                "recommendations": ["LONG", "SHORT"],
                "minScore": 0,
                "expression": "confidence >= 0 and data_quality > 50",
                "webhookUrl": f"{receiver.base_url}/hook",
            }
            created = (await gql(client, base, CREATE, {"rule": rule}))["createAlertRule"]
            assert created["__typename"] == "AlertRuleCreated" and created["rule"]["conditions"]["symbols"] == [
                "BTCUSDT"
            ]
            hook.secret = created["webhookSecret"]
            listed = await gql(client, base, "{ alertRules { ... on AlertRuleList { count rules { id name } } } }")
            assert listed["alertRules"]["count"] == 1
            assert "webhookSecret" not in json.dumps(listed)

            ws_url = base.replace("http://", "ws://") + "/graphql"
            async with websockets.connect(ws_url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")]) as ws:
                await ws.send(json.dumps({"type": "connection_init"}))
                assert json.loads(await ws.recv())["type"] == "connection_ack"
                await ws.send(json.dumps({"id": "a", "type": "subscribe", "payload": {"query": ALERTS}}))
                await asyncio.sleep(0.2)  # the subscription is registered before the round fires

                assert await scanner.run_once()
                assert scanner.status.last_alerts == 1
                await runtime.outbox.drain()
                pushed = json.loads(await asyncio.wait_for(ws.recv(), 10))
            alert = pushed["payload"]["data"]["alerts"]
            assert alert["ruleName"] == "BTC <calls> & more" and alert["symbol"] == "BTCUSDT"
            assert alert["replayed"] is True and alert["verdict"] in {"CONFIRM", "DOWNSIZE", "SKIP", "WAIT"}

            # Telegram: one message, HTML, the rule name escaped, the verdict and the plan in it
            assert len(bot.received) == 1
            message = bot.received[0]
            assert message["chat_id"] == "1001" and message["parse_mode"] == "HTML"
            assert "BTC &lt;calls&gt; &amp; more" in message["text"] and "<calls>" not in message["text"]
            assert f"<b>BTCUSDT {alert['recommendation']}</b>" in message["text"]
            assert f"Verdict: <b>{alert['verdict']}</b>" in message["text"]
            assert [p["label"] for p in alert["plan"]] == ["Entry", "Stop", "TP", "ATR", "Size"]
            assert "Entry <code>" in message["text"] and "Stop <code>" in message["text"]
            # the webhook: its signature verified by the receiver, the same alert
            assert hook.refused == 0 and len(hook.received) == 1
            assert hook.received[0]["dedupKey"] == alert["dedupKey"] and hook.received[0]["replayed"] is True

            # the same signal again: claimed already, nothing sent twice
            assert await scanner.run_once()
            await runtime.outbox.drain()
            assert scanner.status.last_alerts == 0 and len(bot.received) == 1 and len(hook.received) == 1

            health = (await client.get(f"{base}/health")).json()["alerts"]
            assert health["telegram"]["sent"] == 1 and health["telegram"]["failed"] == 0
            assert health["delivered"] == {"TELEGRAM": 1, "WEBHOOK": 1, "SUBSCRIPTION": 1}
            assert health["duplicates"] == 3 and health["scanner"]["rounds"] == 3
            metrics = (await client.get(f"{base}/metrics")).text
            assert 'telegram_messages{state="sent"} 1.0' in metrics

        async with db.connection() as conn:
            stored = await conn.fetch("SELECT id, recommendation, replayed, generated_at FROM signals")
        assert len(stored) == 1 and stored[0]["replayed"] is True  # stored once (dedup), tagged replayed

        # the outcome, on real Binance candles after the replayed moment (the fixture history has 4h bars
        # for 2025; the job's finer 5m/1h are not in it)
        now = stored[0]["generated_at"] + timedelta(hours=30)
        monkeypatch.setattr(persistence.outcomes, "INTERVALS", (CandleInterval.H4,))
        job = OutcomeJob(OutcomeRepository(db), fixture_candles(now))
        assert await job.run_once(now) >= 2
        async with db.connection() as conn:
            outcomes = await conn.fetch("SELECT horizon_hours, verdict, entry_price FROM signal_outcomes")
            live = await conn.fetch(load_queries("signals")["performance_rows"], 24, None, None, None, None)
        assert {o["horizon_hours"] for o in outcomes} >= {4, 24}
        assert all(o["verdict"] in {"WIN", "LOSS", "FLAT"} for o in outcomes)
        assert live == []  # evaluated, but replayed: not live performance

    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err  # the bot token is in every Bot API URL: never logged


def test_record_history_goes_with_a_replay(capsys: pytest.CaptureFixture[str]) -> None:
    from signal_api.cli import main

    assert main(["serve", "--record-history"]) == 2
    assert "--record-history goes with --replay or --replay-url" in capsys.readouterr().err
