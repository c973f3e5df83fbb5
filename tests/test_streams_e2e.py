"""Streams end to end: a ReplayApp serving the cassette ``ws`` section on 127.0.0.1 → StreamHub → publisher.

Every wait is bounded by ``asyncio.timeout``; backoff and silence are shortened so the whole file runs in
a few seconds.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from engine.market import Liquidation, PositionSide, Trade
from providers.binance.streams import parse_message as parse_binance
from providers.bybit.streams import parse_message as parse_bybit
from providers.hyperliquid.streams import parse_trades as parse_hyperliquid_trades
from providers.replay import Cassette, ReplayApp, serve_in_background
from providers.streams import StreamKey, StreamKind
from providers.streams.client import Backoff
from providers.streams.hub import StreamHub
from tests.providers_helpers import fixture_json

if TYPE_CHECKING:
    from collections.abc import Callable

NOW = datetime(2025, 7, 11, 12, 0, tzinfo=UTC)
FAST = Backoff(initial_seconds=0.05, cap_seconds=0.2)


class ListPublisher:
    def __init__(self, on_publish: Callable[[], Any] | None = None) -> None:
        self.items: list[tuple[str, object]] = []
        self.notes: list[Any] = []
        self.on_publish = on_publish

    def publish(self, topic: str, event: object) -> None:
        self.items.append((topic, event))
        if self.on_publish is not None:
            self.notes.append(self.on_publish())

    @property
    def events(self) -> list[object]:
        return [e for _, e in self.items]


def replay(*entries: dict[str, Any], close_after: bool = False) -> ReplayApp:
    return ReplayApp(Cassette(version=1, clock=0, ws=entries), ws_close_after=close_after)


def make_hub(publisher: ListPublisher, base_url: str, **kwargs: Any) -> StreamHub:
    ws = base_url.replace("http://", "ws://")
    urls = {p: f"{ws}/{p}" for p in ("binance", "bybit", "okx", "hyperliquid")}
    kwargs.setdefault("backoff", FAST)
    return StreamHub(publisher, urls, lambda: NOW, rng=random.Random(7), proxy=None, **kwargs)


async def until(predicate: Callable[[], bool], seconds: float = 3.0) -> None:
    async with asyncio.timeout(seconds):
        while not predicate():  # noqa: ASYNC110 - polls state owned by other tasks and the server
            await asyncio.sleep(0.01)


async def test_binance_trades_arrive_in_order_then_socket_closes_after_grace() -> None:
    messages = fixture_json("binance", "ws_aggTrade.many.json")
    expected = [t for m in messages for t in parse_binance(m, NOW) if getattr(t, "symbol", "") == "CTKUSDT"]
    assert len(expected) >= 2
    app = replay({"provider": "binance", "stream": "ctkusdt@aggTrade", "messages": messages, "interval_ms": 1})
    key = StreamKey(StreamKind.TRADES, "binance", "CTKUSDT")
    publisher = ListPublisher()
    async with serve_in_background(app.app) as server:
        hub = make_hub(publisher, server.base_url, grace_seconds=0.2)
        try:
            release_a = hub.acquire(key)
            release_b = hub.acquire(key)  # second subscriber: same upstream socket
            await until(lambda: len(publisher.items) == len(expected))
            assert publisher.events == expected  # in order, symbol-filtered, received_at from the clock
            assert all(isinstance(e, Trade) and e.received_at == NOW for e in publisher.events)
            assert {t for t, _ in publisher.items} == {"trades:binance:CTKUSDT"}
            assert app.ws_connections["binance"] == 1 and app.ws_open == 1
            assert hub.stats()[key].subscribers == 2
            release_a()
            release_a()  # idempotent
            release_b()
            await asyncio.sleep(0.05)
            assert app.ws_open == 1  # still inside the grace period
            await until(lambda: app.ws_open == 0)
            assert hub.stats() == {}
        finally:
            await hub.aclose()


async def test_reacquire_within_grace_keeps_the_socket() -> None:
    app = replay(
        {
            "provider": "binance",
            "stream": "btcusdt@forceOrder",
            "messages": [fixture_json("binance", "ws_forceOrder.json")],
        }
    )
    key = StreamKey(StreamKind.LIQUIDATIONS, "binance", "BTCUSDT")
    publisher = ListPublisher()
    async with serve_in_background(app.app) as server:
        hub = make_hub(publisher, server.base_url, grace_seconds=0.3)
        try:
            hub.acquire(key)()
            await asyncio.sleep(0.1)
            release = hub.acquire(key)
            await asyncio.sleep(0.4)
            assert app.ws_connections["binance"] == 1 and app.ws_open == 1
            (liq,) = publisher.events
            assert isinstance(liq, Liquidation) and liq.side is PositionSide.SHORT and liq.received_at == NOW
            release()
        finally:
            await hub.aclose()
        await until(lambda: app.ws_open == 0)


async def test_subscribe_venues_bybit_okx_hyperliquid() -> None:
    bybit_msg = fixture_json("bybit", "ws_allLiquidation.json")
    okx_msg = fixture_json("okx", "ws_liquidation_orders.json")
    hl_msg = fixture_json("hyperliquid", "ws_trades.json")
    app = replay(
        {"provider": "bybit", "stream": "allLiquidation.PIPPINUSDT", "messages": [bybit_msg]},
        {"provider": "okx", "stream": "liquidation-orders:SWAP", "messages": [okx_msg]},
        {"provider": "hyperliquid", "stream": "trades:BTC", "messages": [hl_msg]},
    )
    keys = {
        "bybit": StreamKey(StreamKind.LIQUIDATIONS, "bybit", "PIPPINUSDT"),
        "okx": StreamKey(StreamKind.LIQUIDATIONS, "okx"),
        "hyperliquid": StreamKey(StreamKind.TRADES, "hyperliquid", "BTCUSDT"),
    }
    publisher = ListPublisher()
    async with serve_in_background(app.app) as server:
        hub = make_hub(publisher, server.base_url, ctval=lambda inst: 10.0)
        try:
            for key in keys.values():
                hub.acquire(key)
            await until(lambda: len(publisher.items) == 1 + 1 + 3)
            by_topic: dict[str, list[object]] = {}
            for topic, event in publisher.items:
                by_topic.setdefault(topic, []).append(event)
            assert by_topic[keys["bybit"].topic] == list(parse_bybit(bybit_msg, NOW))
            (okx_liq,) = by_topic[keys["okx"].topic]
            assert isinstance(okx_liq, Liquidation) and okx_liq.size == 390.0 and okx_liq.side is PositionSide.SHORT
            assert by_topic[keys["hyperliquid"].topic] == list(parse_hyperliquid_trades(hl_msg, NOW))
            stats = hub.stats()
            assert all(s.parse_errors == 0 and s.messages >= 2 for s in stats.values())  # ack + data
        finally:
            await hub.aclose()


async def test_reconnects_after_the_server_drops_the_socket() -> None:
    message = fixture_json("bybit", "ws_publicTrade.json")
    app = replay({"provider": "bybit", "stream": "publicTrade.LTCUSDT", "messages": [message]}, close_after=True)
    key = StreamKey(StreamKind.TRADES, "bybit", "LTCUSDT")
    hub_ref: list[StreamHub] = []
    publisher = ListPublisher(on_publish=lambda: hub_ref[0].stats()[key].reconnects)
    async with serve_in_background(app.app) as server:
        hub = make_hub(publisher, server.base_url)
        hub_ref.append(hub)
        try:
            hub.acquire(key)
            await until(lambda: len(publisher.items) >= 2)
            assert publisher.notes[:2] == [0, 1]  # the second event came over the first reconnection
            assert publisher.events[0] == publisher.events[1] == parse_bybit(message, NOW)[0]
            assert app.ws_connections["bybit"] >= 2
        finally:
            await hub.aclose()


async def test_watchdog_reconnects_a_silent_stream() -> None:
    message = fixture_json("binance", "ws_kline.json")
    app = replay({"provider": "binance", "stream": "sushiusdt@kline_1m", "messages": [message]})  # then idle
    key = StreamKey(StreamKind.CANDLES, "binance", "SUSHIUSDT", "1m")
    publisher = ListPublisher()
    async with serve_in_background(app.app) as server:
        hub = make_hub(publisher, server.base_url, silence_seconds=0.3)
        try:
            hub.acquire(key)
            await until(lambda: len(publisher.items) >= 2)
            status = hub.stats()[key]
            assert status.watchdog_timeouts >= 1 and status.reconnects >= 1
            assert publisher.events[0] == publisher.events[1] == parse_binance(message, NOW)[0]
            assert status.last_message_age_seconds is not None and status.last_message_age_seconds < 1.0
        finally:
            await hub.aclose()


async def test_aclose_cancels_every_task() -> None:
    app = replay({"provider": "binance", "stream": "*", "messages": [fixture_json("binance", "ws_forceOrder.json")]})
    current = asyncio.current_task()
    before = asyncio.all_tasks()
    publisher = ListPublisher()
    async with serve_in_background(app.app) as server:
        hub = make_hub(publisher, server.base_url, grace_seconds=30)
        hub.acquire(StreamKey(StreamKind.LIQUIDATIONS, "binance"))
        release = hub.acquire(StreamKey(StreamKind.TRADES, "binance", "BTCUSDT"))
        hub.acquire(StreamKey(StreamKind.LIQUIDATIONS, "bybit", "BTCUSDT"))  # no entry: connected, silent
        await until(lambda: app.ws_open == 3 and len(publisher.items) == 1)
        release()  # leaves a pending grace-period stop task
        await hub.aclose()
        mine = [t for t in asyncio.all_tasks() if "Stream" in t.get_coro().__qualname__]  # type: ignore[union-attr]
        assert mine == []
        await until(lambda: app.ws_open == 0)
    leftover = asyncio.all_tasks() - before - {current}
    assert not leftover, leftover
