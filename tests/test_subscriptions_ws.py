"""Subscriptions end to end: the real app (replayed upstream) over graphql-transport-ws on 127.0.0.1,
with a fake hub whose acquire() publishes hand-built events into a real InProcessBroker."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import websockets

from engine.market import Liquidation, PositionSide, Trade
from providers.streams import StreamKey, StreamKind
from resolvers.broker import InProcessBroker
from resolvers.streams import StreamServices
from tests.conftest import load_cassette_json

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

T = datetime(2025, 7, 11, 12, 0, tzinfo=UTC)


class FakeHub:
    """acquire(key) starts a task publishing ``script[key.kind]`` on ``key.topic``; release stops it."""

    def __init__(self, broker: InProcessBroker, script: dict[StreamKind, list[object]]) -> None:
        self.broker = broker
        self.script = script
        self.acquired: list[StreamKey] = []
        self.released: list[StreamKey] = []
        self.tasks: set[asyncio.Task[None]] = set()

    def acquire(self, key: StreamKey) -> Callable[[], None]:
        self.acquired.append(key)

        async def feed() -> None:
            for event in self.script.get(key.kind, []):
                await asyncio.sleep(0.01)
                self.broker.publish(key.topic, event)

        task = asyncio.ensure_future(feed())
        self.tasks.add(task)

        def release() -> None:
            task.cancel()
            self.tasks.discard(task)
            self.released.append(key)

        return release


@contextlib.asynccontextmanager
async def served(streams: Callable[[InProcessBroker], StreamServices] | None) -> AsyncIterator[tuple[str, Any]]:
    from providers.replay import Cassette, ReplayApp, serve_in_background
    from signal_api.app import create_app
    from signal_api.settings import Settings

    cassette = Cassette.model_validate(load_cassette_json("btc-2025-07-11-rising.json"))
    async with serve_in_background(ReplayApp(cassette).app) as upstream:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, streams_enabled=streams is not None
        ).with_replay_base(upstream.base_url)
        app = create_app(settings, clock=lambda: cassette.now)
        async with serve_in_background(app, lifespan="on") as service:
            container = app.state.container
            if streams is not None:
                container.attach_streams(streams(InProcessBroker()))
            yield service.base_url.replace("http://", "ws://") + "/graphql", container


@contextlib.asynccontextmanager
async def connection(url: str) -> AsyncIterator[Any]:
    async with websockets.connect(url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")]) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        yield ws


async def subscribe(ws: Any, op_id: str, query: str) -> None:
    await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": query}}))


async def receive(ws: Any, count: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while len(messages) < count:
        message = json.loads(await ws.recv())
        if message["type"] != "ping":
            messages.append(message)
    return messages


def liq(symbol: str, side: PositionSide, usd: float) -> Liquidation:
    return Liquidation("binance", symbol, side, price=100.0, size=usd / 100.0, time=T, received_at=T)


SCRIPT: dict[StreamKind, list[object]] = {
    StreamKind.LIQUIDATIONS: [
        liq("BTCUSDT", PositionSide.LONG, 50_000),
        liq("BTCUSDT", PositionSide.LONG, 1_000),  # under minValueUsd
        liq("ETHUSDT", PositionSide.SHORT, 90_000),  # another symbol
        liq("BTCUSDT", PositionSide.SHORT, 20_000),
    ],
    StreamKind.TRADES: [
        Trade("binance", "ETHUSDT", "BUY", 2_500.0, 100.0, T, T),  # 250k
        Trade("binance", "ETHUSDT", "SELL", 2_500.0, 1.0, T, T),  # 2.5k: filtered
        Trade("binance", "BTCUSDT", "SELL", 100_000.0, 3.0, T, T),  # 300k
    ],
}


async def test_liquidations_and_trades_filtered_then_released() -> None:
    hubs: list[FakeHub] = []

    def streams(broker: InProcessBroker) -> StreamServices:
        hubs.append(FakeHub(broker, SCRIPT))
        return StreamServices(broker=broker, hub=hubs[0])

    async with asyncio.timeout(30), served(streams) as (url, _), connection(url) as ws:
        await subscribe(
            ws,
            "1",
            'subscription { liquidations(symbols: ["BTC"], minValueUsd: 10000) { venue symbol side valueUsd } }',
        )
        # Binance has no all-symbol trade stream: largeTrades names its symbols (else STREAM_UNSUPPORTED)
        await subscribe(ws, "2", 'subscription { largeTrades(symbols: ["BTC"]) { symbol takerSide valueUsd } }')
        messages = await receive(ws, 3)
        by_id: dict[str, list[Any]] = {"1": [], "2": []}
        for m in messages:
            assert m["type"] == "next", m
            by_id[m["id"]].append(m["payload"]["data"])
        assert by_id["1"] == [
            {"liquidations": {"venue": "binance", "symbol": "BTCUSDT", "side": "LONG", "valueUsd": 50_000.0}},
            {"liquidations": {"venue": "binance", "symbol": "BTCUSDT", "side": "SHORT", "valueUsd": 20_000.0}},
        ]
        assert by_id["2"] == [  # the ETH trade is another symbol, the 2.5k one under minValueUsd
            {"largeTrades": {"symbol": "BTCUSDT", "takerSide": "SELL", "valueUsd": 300_000.0}},
        ]
        hub = hubs[0]
        assert StreamKey(StreamKind.LIQUIDATIONS, "binance", "BTCUSDT") in hub.acquired
        assert StreamKey(StreamKind.TRADES, "binance", "BTCUSDT") in hub.acquired
        await ws.send(json.dumps({"id": "1", "type": "complete"}))
        await ws.send(json.dumps({"id": "2", "type": "complete"}))
        while len(hub.released) < 2:  # noqa: ASYNC110 - bounded by the test's asyncio.timeout
            await asyncio.sleep(0.01)
        assert sorted(k.kind.value for k in hub.released) == ["liquidations", "trades"]
        assert hub.broker.stats().subscribers == 0


async def test_too_many_subscriptions_per_connection() -> None:
    def streams(broker: InProcessBroker) -> StreamServices:
        return StreamServices(broker=broker, hub=FakeHub(broker, {}), max_subscriptions_per_connection=2)

    async with asyncio.timeout(30), served(streams) as (url, _), connection(url) as ws:
        for op_id in ("1", "2", "3"):
            await subscribe(ws, op_id, "subscription { liquidations { symbol } }")
        (error,) = await receive(ws, 1)
        assert error["type"] == "error" and error["id"] == "3"
        assert error["payload"][0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
        async with connection(url) as other:  # the limit is per connection
            await subscribe(other, "1", 'subscription { candles(symbol: "BTC", interval: "5m") { close } }')
            await subscribe(other, "2", 'subscription { candles(symbol: "BTC", interval: "7m") { close } }')
            (bad,) = await receive(other, 1)
            assert bad["id"] == "2" and bad["payload"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_streams_unavailable() -> None:
    async with asyncio.timeout(30), served(None) as (url, _), connection(url) as ws:
        await subscribe(ws, "1", "subscription { liquidations { symbol } }")
        (error,) = await receive(ws, 1)
        assert error["type"] == "error"
        assert error["payload"][0]["extensions"]["code"] == "STREAMS_UNAVAILABLE"


async def test_signal_updates_pushes_first_signal_from_replay() -> None:
    def streams(broker: InProcessBroker) -> StreamServices:
        return StreamServices(broker=broker, hub=FakeHub(broker, {}), signal_interval_seconds=3600)

    async with asyncio.timeout(60), served(streams) as (url, _), connection(url) as ws:
        await subscribe(
            ws, "1", 'subscription { signalUpdates(symbols: ["BTC"], timeframe: H4) { symbol recommendation score } }'
        )
        (message,) = await receive(ws, 1)
        assert message["type"] == "next", message
        signal = message["payload"]["data"]["signalUpdates"]
        assert signal["symbol"] == "BTCUSDT" and signal["recommendation"] in ("LONG", "SHORT", "NEUTRAL")


async def test_candles_stream_forming_and_closed_bars() -> None:
    from engine.market import Candle, CandleInterval, CandleUpdate

    bar = Candle(T, 100.0, 101.0, 99.0, 100.5, 12.0)
    script: dict[StreamKind, list[object]] = {
        StreamKind.CANDLES: [
            CandleUpdate("binance", "BTCUSDT", CandleInterval.M1, bar, False, T),
            CandleUpdate("binance", "BTCUSDT", CandleInterval.M1, bar, True, T),
        ]
    }
    hubs: list[FakeHub] = []

    def streams(broker: InProcessBroker) -> StreamServices:
        hubs.append(FakeHub(broker, script))
        return StreamServices(broker=broker, hub=hubs[-1])

    async with asyncio.timeout(30), served(streams) as (url, _), connection(url) as ws:
        await subscribe(ws, "1", 'subscription { candles(symbol: "btc", interval: "1m") { symbol close closed } }')
        messages = await receive(ws, 2)
    assert [m["payload"]["data"]["candles"] for m in messages] == [
        {"symbol": "BTCUSDT", "close": 100.5, "closed": False},
        {"symbol": "BTCUSDT", "close": 100.5, "closed": True},
    ]
    assert StreamKey(StreamKind.CANDLES, "binance", "BTCUSDT", "1m") in hubs[0].acquired


def test_signal_changes_are_pushed_by_recommendation_or_score_move() -> None:
    from types import SimpleNamespace

    from engine import Recommendation
    from resolvers.streams import signal_changed

    def signal(recommendation: Recommendation, score: float) -> Any:
        return SimpleNamespace(recommendation=recommendation, score=score)

    long_60 = signal(Recommendation.LONG, 60.0)
    assert signal_changed(None, long_60, 2.0)
    assert not signal_changed(long_60, signal(Recommendation.LONG, 61.5), 2.0)
    assert signal_changed(long_60, signal(Recommendation.LONG, 62.5), 2.0)
    assert signal_changed(long_60, signal(Recommendation.NEUTRAL, 60.0), 2.0)
