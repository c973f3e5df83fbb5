"""Without a CoinGlass key, the liquidation factor comes from the live Binance liquidation stream.

The replay server serves Binance ``!forceOrder@arr`` messages over WebSocket. They are the real capture
``ws_forceOrder.json`` re-timed to just before the cassette's clock (the window keeps 24 h) with sizes
varied; sides are Binance's order sides (SELL = a long was liquidated).
"""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

from tests.conftest import CASSETTE_NAMES, load_cassette_json, running_service, shared_path

QUERY = """
query { signal(symbol: "BTC") { __typename
  ... on Signal { factors { name available source rawValue score error } dataQuality { score } } } }
"""
# (order side, quantity, average price): three longs liquidated (SELL) and one short (BUY)
ORDERS = [("SELL", "0.5", "118000"), ("SELL", "1.0", "118100"), ("BUY", "0.25", "118200"), ("SELL", "0.1", "117900")]


def _messages(clock_ms: int) -> list[dict[str, Any]]:
    capture = json.loads(shared_path("fixtures", "binance", "ws_forceOrder.json").read_text())
    messages = []
    for i, (side, quantity, price) in enumerate(ORDERS):
        message = copy.deepcopy(capture)
        message["stream"] = "!forceOrder@arr"
        order = message["data"]["o"]
        order.update({"s": "BTCUSDT", "S": side, "q": quantity, "z": quantity, "l": quantity, "ap": price, "p": price})
        message["data"]["E"] = order["T"] = clock_ms - 60_000 * (len(ORDERS) - i)
        messages.append(message["data"])  # the /ws/<stream> form carries the bare event
    return messages


def _liquidations(body: dict[str, Any]) -> dict[str, Any]:
    return next(f for f in body["data"]["signal"]["factors"] if f["name"] == "LIQUIDATIONS")


async def test_stream_feeds_the_keyless_liquidation_factor(graphql: Any) -> None:
    cassette = load_cassette_json(CASSETTE_NAMES[0])
    cassette["ws"] = [{"provider": "binance", "stream": "!forceOrder@arr", "messages": _messages(cassette["clock"])}]
    async with running_service(
        cassette, liquidation_stream_enabled=True, liquidation_window_min_coverage_seconds=0
    ) as (url, replay):
        factor: dict[str, Any] = {}
        async with asyncio.timeout(10):
            while not factor.get("available"):
                await asyncio.sleep(0.1)
                _, body = await graphql(url, QUERY)
                factor = _liquidations(body)
        assert replay.ws_connections["binance"] == 1  # one upstream socket, however many readers
    long_usd = 0.5 * 118000 + 1.0 * 118100 + 0.1 * 117900
    short_usd = 0.25 * 118200
    assert factor["source"].startswith("binance.forceOrder stream")
    assert factor["rawValue"] == long_usd / (long_usd + short_usd) * 100  # contrarian: mostly longs flushed
    assert factor["score"] == 70


async def test_without_enough_coverage_the_factor_says_so(graphql: Any) -> None:
    cassette = load_cassette_json(CASSETTE_NAMES[0])
    async with running_service(cassette, liquidation_stream_enabled=True) as (url, _):
        _, body = await graphql(url, QUERY)
    factor = _liquidations(body)
    assert factor["available"] is False and "needs 1h00m" in factor["error"]
    assert factor["source"].startswith("binance.forceOrder stream (0h00m of 24h covered)")


async def test_health_shows_the_broker_and_upstream_streams(graphql: Any) -> None:
    import httpx2

    cassette = load_cassette_json(CASSETTE_NAMES[0])
    cassette["ws"] = [{"provider": "binance", "stream": "!forceOrder@arr", "messages": _messages(cassette["clock"])}]
    health: dict[str, Any] = {}
    async with (
        running_service(cassette, liquidation_stream_enabled=True) as (url, _),
        asyncio.timeout(10),
        httpx2.AsyncClient() as client,
    ):
        while not health.get("streams", {}).get("broker", {}).get("delivered"):
            await asyncio.sleep(0.1)
            health = (await client.get(f"{url}/health")).json()
    streams = health["streams"]
    assert streams["broker"]["delivered"] == len(ORDERS) and streams["broker"]["dropped"] == 0
    assert streams["upstream"]["liquidations:binance:*"]["subscribers"] == 1


async def test_graphql_subscription_end_to_end_over_the_replayed_stream() -> None:
    """A real graphql-transport-ws client, the real hub, and Binance's stream served by the replay server."""
    import websockets

    cassette = load_cassette_json(CASSETTE_NAMES[0])
    cassette["ws"] = [{"provider": "binance", "stream": "!forceOrder@arr", "messages": _messages(cassette["clock"])}]
    query = 'subscription { liquidations(venues: ["binance"], minValueUsd: 20000) { venue symbol side valueUsd } }'
    async with running_service(cassette) as (url, replay), asyncio.timeout(15):
        ws_url = url.replace("http://", "ws://") + "/graphql"
        async with websockets.connect(ws_url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")]) as ws:
            await ws.send(json.dumps({"type": "connection_init"}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
            received = []
            while len(received) < 3:
                message = json.loads(await ws.recv())
                if message["type"] == "next":
                    received.append(message["payload"]["data"]["liquidations"])
        assert replay.ws_connections["binance"] == 1
    # the 0.1 BTC long (≈ 11.8k USD) is below the minimum; SELL orders are liquidated longs
    assert [(r["side"], round(r["valueUsd"])) for r in received] == [
        ("LONG", 59000),
        ("LONG", 118100),
        ("SHORT", 29550),
    ]
    assert {r["symbol"] for r in received} == {"BTCUSDT"} and {r["venue"] for r in received} == {"binance"}
