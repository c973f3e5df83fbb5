"""Streams offline: ``serve --replay`` serves the shared cassettes' Binance stream sections.

End to end, as ``serve --replay`` builds it (the in-process replay server, looping streams): a real
graphql-transport-ws client (``websockets``) on 127.0.0.1 receives liquidations, large trades and candles
from a cassette of ``../shared`` (skipped when absent), the keyless liquidation window fills from the
recording, and a subscription to a stream the cassette lacks is told so (``STREAM_NOT_RECORDED``).
Also: the replay server's stream matching, the loop, and the serve command's log lines (the URL in
replay mode; without network one "unreachable" warning and the --replay hint, not one per retry).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
import pytest
import websockets

from engine.market import Liquidation, PositionSide
from providers.replay import Cassette, ReplayApp, serve_in_background
from resolvers.liquidation_window import LiquidationWindow
from tests.conftest import CASSETTE_NAMES, load_cassette_json, shared_path
from tests.process_helpers import free_port
from tests.test_subscriptions_ws import connection, receive, subscribe

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


@contextlib.asynccontextmanager
async def replayed(path: Path, **settings: Any) -> AsyncIterator[tuple[str, Any]]:
    """The app in replay mode exactly as ``serve --replay`` builds it; yields (http base URL, app)."""
    from signal_api.app import create_app
    from signal_api.settings import Settings

    app = create_app(Settings(_env_file=None, replay_cassette=path, **settings))  # type: ignore[call-arg]
    async with serve_in_background(app, lifespan="on") as service:
        yield service.base_url, app


def ws(base_url: str) -> str:
    return base_url.replace("http://", "ws://") + "/graphql"


async def first_event_per_id(socket_: Any, ids: set[str]) -> dict[str, dict[str, Any]]:
    """Read until every id has sent something; the first message of each (bounded by the caller's timeout)."""
    first: dict[str, dict[str, Any]] = {}
    while set(first) != ids:
        (message,) = await receive(socket_, 1)
        first.setdefault(message["id"], message)
    return first


@pytest.mark.parametrize("name", CASSETTE_NAMES)
async def test_serve_replay_streams_liquidations_trades_and_candles(name: str) -> None:
    path = shared_path("cassettes", name)
    cassette = load_cassette_json(name)
    streams = {entry["stream"] for entry in cassette.get("ws", [])}
    if not {"!forceOrder@arr", "btcusdt@aggTrade", "btcusdt@kline_1m"} <= streams:
        pytest.skip(f"{name} has no Binance stream sections")
    async with asyncio.timeout(60), replayed(path) as (url, _), connection(ws(url)) as client:
        await subscribe(client, "liq", "subscription { liquidations(minValueUsd: 0) { venue symbol side valueUsd } }")
        await subscribe(
            client, "trades", 'subscription { largeTrades(symbols: ["BTC"]) { symbol takerSide valueUsd time } }'
        )
        await subscribe(client, "candles", 'subscription { candles(symbol: "BTC") { symbol interval close closed } }')
        first = await first_event_per_id(client, {"liq", "trades", "candles"})
    for message in first.values():
        assert message["type"] == "next", message
    liquidation = first["liq"]["payload"]["data"]["liquidations"]
    assert liquidation["venue"] == "binance" and liquidation["side"] in ("LONG", "SHORT")
    assert liquidation["valueUsd"] > 0
    trade = first["trades"]["payload"]["data"]["largeTrades"]
    assert trade["symbol"] == "BTCUSDT" and trade["valueUsd"] >= 100_000  # the server's default threshold
    candle = first["candles"]["payload"]["data"]["candles"]
    recorded_closes = {
        float(m["data"]["k"]["c"]) for e in cassette["ws"] if e["stream"] == "btcusdt@kline_1m" for m in e["messages"]
    }
    assert candle["symbol"] == "BTCUSDT" and candle["interval"] in ("1m", "M1") and candle["close"] in recorded_closes


async def test_the_keyless_liquidation_window_fills_from_the_recording(graphql: Any) -> None:
    """The cassette's hour of ``!forceOrder@arr`` is the window's coverage: the factor is available, from
    the stream, and its long share is the recording's (each recorded event counted once, loops or not)."""
    name = CASSETTE_NAMES[0]
    path = shared_path("cassettes", name)
    cassette = load_cassette_json(name)
    (section,) = [e for e in cassette.get("ws", []) if e["stream"] == "!forceOrder@arr"] or [None]
    if section is None:
        pytest.skip("no liquidation stream section")
    orders = [m["data"]["o"] for m in section["messages"] if m["data"]["o"]["s"] == "BTCUSDT"]
    long_usd = sum(float(o["z"]) * float(o["ap"]) for o in orders if o["S"] == "SELL")
    short_usd = sum(float(o["z"]) * float(o["ap"]) for o in orders if o["S"] == "BUY")
    rounds_s = len(section["messages"]) * section.get("interval_ms", 0) / 1000
    query = '{ signal(symbol: "BTC") { ... on Signal { factors { name available source rawValue } } } }'
    async with asyncio.timeout(60), replayed(path, liquidation_stream_enabled=True) as (url, app):
        window = app.state.container.liquidation_window
        while window.event_count("BTCUSDT") < len(orders):  # noqa: ASYNC110 - bounded by the timeout
            await asyncio.sleep(0.05)
        await asyncio.sleep(rounds_s + 1.5)  # at least one more loop of the recording: counted once
        assert window.event_count("BTCUSDT") == len(orders)
        _, body = await graphql(url, query)
    factor = next(f for f in body["data"]["signal"]["factors"] if f["name"] == "LIQUIDATIONS")
    assert factor["available"] is True, factor
    assert factor["source"].startswith("binance.forceOrder stream (1h00m of 24h covered)")
    assert factor["rawValue"] == pytest.approx(long_usd / (long_usd + short_usd) * 100, rel=1e-9)


async def test_a_stream_the_cassette_lacks_is_refused_with_a_code() -> None:
    path = shared_path("cassettes", CASSETTE_NAMES[0])
    async with asyncio.timeout(60), replayed(path) as (url, _), connection(ws(url)) as client:
        await subscribe(client, "5m", 'subscription { candles(symbol: "BTC", interval: "5m") { close } }')
        await subscribe(client, "eth", 'subscription { largeTrades(symbols: ["ETH"]) { symbol } }')
        await subscribe(
            client, "bybit", 'subscription { liquidations(symbols: ["BTC"], venues: ["bybit"]) { symbol } }'
        )
        first = await first_event_per_id(client, {"5m", "eth", "bybit"})
    for op_id, message in first.items():
        assert message["type"] == "error", (op_id, message)
        (error,) = message["payload"]
        assert error["extensions"]["code"] == "STREAM_NOT_RECORDED", (op_id, error)
    assert "btcusdt@kline_5m" in first["5m"]["payload"][0]["message"]
    assert "btcusdt@kline_1m" in first["5m"]["payload"][0]["message"]  # it says what the cassette has


async def test_replay_url_mode_knows_the_remote_cassettes_streams() -> None:
    """``serve --replay-url``: the cassette lives in another process; its clock answer lists the streams,
    so a missing one is refused there too, and a recorded one streams."""
    from signal_api.app import create_app
    from signal_api.settings import Settings

    cassette = Cassette.model_validate(load_cassette_json(CASSETTE_NAMES[0]))
    async with asyncio.timeout(60), serve_in_background(ReplayApp(cassette).app) as upstream:
        app = create_app(Settings(_env_file=None, replay_url=upstream.base_url))  # type: ignore[call-arg]
        async with serve_in_background(app, lifespan="on") as service, connection(ws(service.base_url)) as client:
            await subscribe(client, "5m", 'subscription { candles(symbol: "BTC", interval: "5m") { close } }')
            await subscribe(client, "1m", 'subscription { candles(symbol: "BTC", interval: "1m") { close } }')
            first = await first_event_per_id(client, {"5m", "1m"})
    assert first["5m"]["type"] == "error"
    assert first["5m"]["payload"][0]["extensions"]["code"] == "STREAM_NOT_RECORDED"
    assert first["1m"]["type"] == "next"


def _cassette(ws_entries: list[dict[str, Any]]) -> Cassette:
    return Cassette.model_validate({"version": 1, "clock": 1752263999999, "ws": ws_entries})


def test_stream_refusal_uses_the_connections_own_matching() -> None:
    replay = ReplayApp(
        _cassette(
            [
                {"provider": "binance", "stream": "btcusdt@kline_1m", "messages": []},
                {"provider": "okx", "stream": "liquidation-orders:SWAP", "messages": []},
            ]
        )
    )
    assert replay.stream_refusal("binance", "/ws/btcusdt@kline_1m") is None
    assert replay.stream_refusal("binance", "/stream?streams=btcusdt@kline_1m/ethusdt@aggTrade") is None
    refusal = replay.stream_refusal("binance", "/ws/btcusdt@kline_5m")
    assert refusal is not None and "btcusdt@kline_5m" in refusal and "btcusdt@kline_1m" in refusal
    okx_subscribe = orjson.dumps({"op": "subscribe", "args": [{"channel": "liquidation-orders", "instType": "SWAP"}]})
    assert replay.stream_refusal("okx", "/ws/v5/public", [okx_subscribe.decode()]) is None
    refusal = replay.stream_refusal(
        "bybit", "/v5/public/linear", ['{"op":"subscribe","args":["allLiquidation.BTCUSDT"]}']
    )
    assert refusal is not None and "bybit streams: none" in refusal
    assert ReplayApp(_cassette([{"provider": "bybit", "messages": []}])).stream_refusal("bybit", "/x") is None  # "*"


async def test_a_looping_section_plays_again_until_the_client_leaves() -> None:
    messages = [{"n": i} for i in range(3)]
    replay = ReplayApp(_cassette([{"provider": "binance", "stream": "s", "messages": messages, "interval_ms": 5}]))
    once = ReplayApp(_cassette([{"provider": "binance", "stream": "s", "messages": messages, "interval_ms": 5}]))
    looped = ReplayApp(replay.cassette, ws_loop=True)
    async with asyncio.timeout(20):
        for app, expect_more in ((once, False), (looped, True)):
            async with (
                serve_in_background(app.app) as upstream,
                websockets.connect(upstream.base_url.replace("http", "ws") + "/binance/ws/s") as client,
            ):
                got = [orjson.loads(await client.recv()) for _ in range(3)]
                assert got == messages
                try:
                    async with asyncio.timeout(0.5):
                        again = orjson.loads(await client.recv())
                except TimeoutError:
                    again = None
                assert again == (messages[0] if expect_more else None)


def test_the_window_counts_a_repeated_event_once_and_can_start_in_the_past() -> None:
    now = datetime(2025, 7, 11, 20, 0, tzinfo=UTC)
    window = LiquidationWindow(lambda: now)
    window.start(since=now - timedelta(hours=1))
    assert window.coverage == timedelta(hours=1)
    event = Liquidation("binance", "BTCUSDT", PositionSide.LONG, 100.0, 2.0, now - timedelta(minutes=5), now)
    other = Liquidation("binance", "BTCUSDT", PositionSide.LONG, 100.0, 3.0, now - timedelta(minutes=5), now)
    for e in (event, event, other, event):
        window.add(e)
    assert window.event_count("BTCUSDT") == 2
    assert window.totals("BTCUSDT", timedelta(hours=1)).long_usd == 500.0


def test_an_unreachable_upstream_is_said_once(caplog: pytest.LogCaptureFixture) -> None:
    """A stream whose host does not resolve retries with backoff; the warning is written once, the
    retries go to debug (the reconnect loop used to repeat the DNS error every few seconds)."""
    from providers.streams import StreamKey, StreamKind
    from providers.streams.client import Backoff, StreamConnection, check_stream

    key = StreamKey(StreamKind.LIQUIDATIONS, "binance")

    class Sink:
        def publish(self, topic: str, event: object) -> None:
            raise AssertionError("nothing can arrive")

    async def run() -> int:
        connection_ = StreamConnection(
            key=key,
            spec=check_stream(key),
            url="ws://upstream.invalid/ws/!forceOrder@arr",
            publisher=Sink(),
            clock=lambda: datetime.now(UTC),
            backoff=Backoff(initial_seconds=0.01, cap_seconds=0.05),
            proxy=None,
        )
        connection_.start()
        try:
            async with asyncio.timeout(10):
                while connection_.stats.reconnects < 4:  # noqa: ASYNC110 - bounded by the timeout
                    await asyncio.sleep(0.02)
        finally:
            await connection_.aclose()
        return connection_.stats.reconnects

    with caplog.at_level(logging.DEBUG, logger="providers.streams.client"):
        reconnects = asyncio.run(run())
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    retries = [r for r in caplog.records if r.levelno == logging.DEBUG and "reconnecting" in r.getMessage()]
    assert reconnects >= 4
    assert len(warnings) == 1 and "unreachable" in warnings[0].getMessage()
    assert len(retries) >= 3


def _serve(args: list[str], env: dict[str, str], seconds: float) -> list[dict[str, Any]]:
    """Run ``signal-api serve`` until it listens (bounded: a busy machine can take several seconds to import
    and start it), then ``seconds`` more; its JSON log lines."""
    port = free_port()
    command = [sys.executable, "-m", "signal_api.cli", "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    base = {**os.environ, "HISTORY_ENABLED": "false", **env}
    base.pop("LOG_JSON", None)
    listening_line = "Uvicorn running on http://127.0.0.1:" + str(port)
    listening = threading.Event()
    stderr: list[str] = []
    process = subprocess.Popen(command, env=base, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            stderr.append(line)
            if listening_line in line:
                listening.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not listening.wait(timeout=0.1) and reader.is_alive() and time.monotonic() < deadline:
            pass  # until it listens, exits (its stderr ends) or the minute is up
        if listening.is_set():
            time.sleep(seconds)
    finally:
        process.terminate()
        process.wait(timeout=30)
        reader.join(timeout=30)
        if process.stderr is not None:
            process.stderr.close()
    lines = [orjson.loads(line) for line in stderr if line.startswith("{")]
    assert any(listening_line in str(line.get("event")) for line in lines), "".join(stderr)
    return lines


def test_serve_replay_prints_the_url_it_serves_on() -> None:
    path = shared_path("cassettes", CASSETTE_NAMES[0])
    lines = _serve(["--replay", str(path)], {"LIQUIDATION_STREAM_ENABLED": "false"}, 1)
    assert any(line["event"] == "replay mode" for line in lines)


def test_serve_without_network_says_so_once_and_suggests_replay() -> None:
    dead = "http://upstream.invalid"
    env = {
        "LIQUIDATION_STREAM_ENABLED": "true",
        "BINANCE_WS_URL": "ws://upstream.invalid",
        "UPSTREAM_RETRY_ATTEMPTS": "1",
        **{f"{name}_BASE_URL": dead for name in ("BINANCE", "OKX", "BYBIT", "HYPERLIQUID")},
    }
    lines = _serve([], env, 6)  # the stream's backoff retries several times in 6 s
    unreachable = [line for line in lines if "unreachable" in str(line["event"])]
    streams = [line for line in unreachable if line.get("logger") == "providers.streams.client"]
    assert len(streams) == 1, unreachable
    hints = [line for line in lines if "--replay" in str(line["event"])]
    assert len(hints) == 1, lines
