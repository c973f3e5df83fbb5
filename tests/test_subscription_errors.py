"""Typed subscription errors: an unknown venue, an unsupported stream and an unknown symbol end the
subscription with a graphql-transport-ws ``error`` message carrying ``extensions.code``, never a silent
wait. The real app (real stream hub, real gateway symbol check) runs on a replayed cassette, on 127.0.0.1."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from providers.streams import StreamKey, StreamKind
from providers.streams.parsers import UnsupportedStream
from resolvers.broker import InProcessBroker
from resolvers.streams import StreamServices
from tests.conftest import CASSETTE_NAMES, load_cassette_json, running_service
from tests.test_subscriptions_ws import connection, receive, served, subscribe

if TYPE_CHECKING:
    from collections.abc import Callable

CASES: dict[str, tuple[str, str]] = {
    # id: (document, expected code)
    "venue-unknown": ('subscription { liquidations(venues: ["nosuchvenue"]) { symbol } }', "EXCHANGE_NOT_FOUND"),
    "candles-venue-unknown": (
        'subscription { candles(symbol: "BTC", venue: "nosuchvenue") { close } }',
        "EXCHANGE_NOT_FOUND",
    ),
    "liq-unsupported": ('subscription { liquidations(venues: ["hyperliquid"]) { symbol } }', "STREAM_UNSUPPORTED"),
    "trades-all-symbols": ("subscription { largeTrades { symbol } }", "STREAM_UNSUPPORTED"),
    "candles-rest-only": (
        'subscription { candles(symbol: "BTC", venue: "coinglass") { close } }',
        "STREAM_UNSUPPORTED",
    ),
    "liq-symbol": ('subscription { liquidations(symbols: ["NOSUCHCOIN"]) { symbol } }', "SYMBOL_NOT_FOUND"),
    "trades-symbol": ('subscription { largeTrades(symbols: ["NOSUCHCOIN"]) { symbol } }', "SYMBOL_NOT_FOUND"),
    "candles-symbol": ('subscription { candles(symbol: "NOSUCHCOIN") { close } }', "SYMBOL_NOT_FOUND"),
    "signal-symbol": ('subscription { signalUpdates(symbols: ["NOSUCHCOIN"]) { symbol } }', "SYMBOL_NOT_FOUND"),
}


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://") + "/graphql"


async def test_each_refusal_is_an_error_message_with_its_code() -> None:
    cassette = load_cassette_json(CASSETTE_NAMES[0])
    async with asyncio.timeout(60), running_service(cassette) as (url, replay), connection(ws_url(url)) as ws:
        for op_id, (document, _) in CASES.items():
            await subscribe(ws, op_id, document)
        messages = await receive(ws, len(CASES))
        assert replay.ws_connections == {}  # refused before any upstream socket was opened
    by_id = {m["id"]: m for m in messages}
    assert set(by_id) == set(CASES)
    for op_id, (_, code) in CASES.items():
        message = by_id[op_id]
        assert message["type"] == "error", message
        (error,) = message["payload"]
        assert error["extensions"]["code"] == code, (op_id, error)
        assert error["message"] and error["message"] != "Unexpected error.", (op_id, error)
    assert "nosuchvenue" in by_id["venue-unknown"]["payload"][0]["message"]
    assert "NOSUCHCOIN" in by_id["candles-symbol"]["payload"][0]["message"]


async def test_a_listed_symbol_is_accepted() -> None:
    """The control: BTC on Binance passes every check and streams (the cassette records both streams)."""
    cassette = load_cassette_json(CASSETTE_NAMES[0])
    async with asyncio.timeout(60), running_service(cassette) as (url, _), connection(ws_url(url)) as ws:
        await subscribe(ws, "1", 'subscription { candles(symbol: "BTC") { close } }')
        await subscribe(ws, "2", 'subscription { largeTrades(symbols: ["BTC"], minValueUsd: 0) { symbol } }')
        seen: set[str] = set()
        while seen != {"1", "2"}:
            (message,) = await receive(ws, 1)
            assert message["type"] == "next", message
            seen.add(message["id"])


async def test_shared_subscribers_all_get_the_error() -> None:
    """Identical market-stream subscriptions share one execution (signal_api.fanout): each subscriber of
    the refused group gets the error with the code."""
    cassette = load_cassette_json(CASSETTE_NAMES[0])
    document = 'subscription { candles(symbol: "NOSUCHCOIN") { close } }'
    async with (
        asyncio.timeout(60),
        running_service(cassette) as (url, _),
        connection(ws_url(url)) as first,
        connection(ws_url(url)) as second,
    ):
        await subscribe(first, "a", document)
        await subscribe(second, "b", document)
        (one,) = await receive(first, 1)
        (two,) = await receive(second, 1)
    for message, op_id in ((one, "a"), (two, "b")):
        assert message["type"] == "error" and message["id"] == op_id
        assert message["payload"][0]["extensions"]["code"] == "SYMBOL_NOT_FOUND"


class RefusingHub:
    """A hub whose every acquire fails as a stream that went away between the check and the open."""

    def acquire(self, key: StreamKey) -> Callable[[], None]:
        raise UnsupportedStream(f"{key.topic} went away")


async def test_a_stream_refused_while_opening_is_still_typed() -> None:
    """A race after the checks (the stream went away before the socket opened): the execution has begun,
    so the protocol's form is a ``next`` carrying the typed error, then ``complete``; never a silent wait."""

    def streams(broker: InProcessBroker) -> StreamServices:
        return StreamServices(broker=broker, hub=RefusingHub())

    async with asyncio.timeout(30), served(streams) as (url, _), connection(url) as ws:
        await subscribe(ws, "1", 'subscription { liquidations(symbols: ["BTC"]) { symbol } }')
        message, end = await receive(ws, 2)
    assert message["type"] == "next" and message["payload"]["data"] is None, message
    (error,) = message["payload"]["errors"]
    assert error["extensions"]["code"] == "STREAM_UNSUPPORTED" and "went away" in error["message"]
    assert end == {"id": "1", "type": "complete"}


def test_trades_of_named_symbols_fall_back_to_an_all_symbol_stream_only_when_one_exists() -> None:
    """The key choice itself: per-symbol keys; the all-symbol key when only it can deliver."""
    from resolvers.streams import StreamRefused, _keys

    recorded_all_only = {StreamKey(StreamKind.LIQUIDATIONS, "binance")}

    def check(key: StreamKey) -> None:
        if key not in recorded_all_only:
            raise UnsupportedStream(f"no {key.topic}")

    services = StreamServices(broker=InProcessBroker(), hub=RefusingHub(), check=check)
    keys = _keys(services, StreamKind.LIQUIDATIONS, ("binance",), frozenset({"BTCUSDT", "ETHUSDT"}))
    assert keys == [StreamKey(StreamKind.LIQUIDATIONS, "binance")]
    with pytest.raises(StreamRefused) as refused:
        _keys(services, StreamKind.TRADES, ("binance",), frozenset({"BTCUSDT"}))
    assert refused.value.code == "STREAM_UNSUPPORTED"
    live = StreamServices(broker=InProcessBroker(), hub=RefusingHub())  # the real rule (check_stream)
    assert _keys(live, StreamKind.TRADES, ("binance",), frozenset({"BTCUSDT"})) == [
        StreamKey(StreamKind.TRADES, "binance", "BTCUSDT")
    ]


class BrokenHub:
    """A hub failing unexpectedly (a bug, not a refusal)."""

    def acquire(self, key: StreamKey) -> Callable[[], None]:
        raise RuntimeError("hub bug")


async def test_an_unexpected_failure_is_never_a_silent_end() -> None:
    def streams(broker: InProcessBroker) -> StreamServices:
        return StreamServices(broker=broker, hub=BrokenHub())

    async with asyncio.timeout(30), served(streams) as (url, _), connection(url) as ws:
        await subscribe(ws, "1", 'subscription { liquidations(symbols: ["BTC"]) { symbol } }')
        (message,) = await receive(ws, 1)
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR", message
    assert "hub bug" not in errors[0]["message"]  # details stay in the log


async def test_a_shared_execution_that_fails_tells_every_subscriber() -> None:
    """signal_api.fanout: a shared execution raising unexpectedly ends each subscriber with an ``error``
    carrying INTERNAL_SERVER_ERROR (it used to end with a bare ``complete``)."""
    import json

    from signal_api.fanout import FanoutRegistry, SharedGroup

    class FailingSchema:
        async def subscribe(self, *args: object, **kwargs: object) -> object:
            raise RuntimeError("bug in the execution")

    class Subscriber:
        def __init__(self, op_id: str) -> None:
            self.id = op_id
            self.frames: list[str] = []

        def finish(self, frame: str) -> None:
            self.frames.append(frame)

    registry = FanoutRegistry()
    group = SharedGroup(registry, ('subscription { candles(symbol: "BTC") { close } }', "{}", None))
    subscribers = [Subscriber("a"), Subscriber("b")]
    for i, subscriber in enumerate(subscribers):
        group.subscribers[(i, subscriber.id)] = subscriber  # type: ignore[assignment]
    group.start(FailingSchema(), group.key[0], None, object(), None)
    assert group.task is not None
    await asyncio.wait_for(group.task, 5)
    for subscriber in subscribers:
        (frame,) = subscriber.frames
        message = json.loads(frame)
        assert message["id"] == subscriber.id and message["type"] == "error", message
        assert message["payload"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
        assert "bug" not in message["payload"][0]["message"]
