"""Shared subscription fan-out (signal_api.fanout): identical operations run once for all connections.

The app is served on 127.0.0.1 as in test_subscriptions_ws; a counting hub replaces the stream hub and
the test publishes into the real InProcessBroker itself, after a ping/pong round trip has proven that
the server processed every ``subscribe`` (messages of one connection are handled in order)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from typing import TYPE_CHECKING, Any

import websockets

from engine.market import PositionSide
from providers.streams import StreamKey, StreamKind
from resolvers.streams import StreamServices
from signal_api.fanout import _REGISTRIES, SharedGroup, SharedSubscriber, _Connection, group_key
from tests.test_subscriptions_ws import connection, liq, receive, served

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from resolvers.broker import InProcessBroker

LIQUIDATIONS = "subscription L($min: Float!) { liquidations(minValueUsd: $min) { symbol side valueUsd } }"
TOPIC = "liquidations:binance:BTCUSDT"


class CountingHub:
    """Counts acquire/release per key; publishing is left to the test."""

    def __init__(self) -> None:
        self.acquired: list[StreamKey] = []
        self.released: list[StreamKey] = []

    def acquire(self, key: StreamKey) -> Callable[[], None]:
        self.acquired.append(key)
        return lambda: self.released.append(key)


@contextlib.asynccontextmanager
async def app_with_hub(**options: Any) -> AsyncIterator[tuple[str, CountingHub, InProcessBroker]]:
    hub = CountingHub()

    def streams(broker: InProcessBroker) -> StreamServices:
        return StreamServices(broker=broker, hub=hub, buffer_size=10_000, **options)

    async with served(streams) as (url, container):
        services = container.services.streams
        assert services is not None
        yield url, hub, services.broker


async def send(ws: Any, message: dict[str, Any]) -> None:
    await ws.send(json.dumps(message))


async def sub(ws: Any, op_id: str, min_value: float, query: str = LIQUIDATIONS) -> None:
    payload = {"query": query, "variables": {"min": min_value}, "operationName": "L"}
    await send(ws, {"id": op_id, "type": "subscribe", "payload": payload})


async def synced(ws: Any) -> None:
    """Return once the server has handled everything this client sent before."""
    await send(ws, {"type": "ping"})
    while json.loads(await ws.recv())["type"] != "pong":
        pass


async def until(condition: Callable[[], bool]) -> None:
    while not condition():  # noqa: ASYNC110 - bounded by each test's asyncio.timeout
        await asyncio.sleep(0.01)


def publish(broker: InProcessBroker, values: list[float]) -> None:
    for usd in values:
        broker.publish(TOPIC, liq("BTCUSDT", PositionSide.LONG, usd))


def values(messages: list[dict[str, Any]]) -> list[float]:
    assert all(m["type"] == "next" for m in messages), messages
    return [m["payload"]["data"]["liquidations"]["valueUsd"] for m in messages]


async def test_identical_operations_share_one_execution() -> None:
    async with asyncio.timeout(30), app_with_hub() as (url, hub, broker), contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(connection(url)) for _ in range(5)]
        for i, ws in enumerate(clients):
            await sub(ws, f"op-{i}", 0)
        for ws in clients:
            await synced(ws)
        await until(lambda: broker.stats().subscribers == 1)
        assert hub.acquired == [StreamKey(StreamKind.LIQUIDATIONS, "binance")]  # one source for five clients
        sent = [float(1_000 * (n + 1)) for n in range(50)]
        publish(broker, sent)
        for i, ws in enumerate(clients):
            messages = await receive(ws, len(sent))
            assert {m["id"] for m in messages} == {f"op-{i}"}
            assert values(messages) == sent  # every event, in order
        # completing every subscriber cancels the shared execution, which releases the stream
        for i, ws in enumerate(clients):
            await send(ws, {"id": f"op-{i}", "type": "complete"})
        await until(lambda: len(hub.released) == 1)
        assert broker.stats().subscribers == 0


async def test_different_variables_get_their_own_group() -> None:
    async with (
        asyncio.timeout(30),
        app_with_hub() as (url, hub, broker),
        connection(url) as low,
        connection(url) as high,
    ):
        await sub(low, "1", 0)
        await sub(high, "1", 10_000)
        await synced(low)
        await synced(high)
        assert len(hub.acquired) == 2
        publish(broker, [5_000, 20_000])
        assert values(await receive(low, 2)) == [5_000, 20_000]
        assert values(await receive(high, 1)) == [20_000]
        # one client leaving its group does not disturb the other group
        await send(low, {"id": "1", "type": "complete"})
        await until(lambda: len(hub.released) == 1)
        publish(broker, [30_000])
        assert values(await receive(high, 1)) == [30_000]


@contextlib.asynccontextmanager
async def stalled_connection(url: str) -> AsyncIterator[Any]:
    """A client that stops reading after the handshake, with a tiny receive buffer and a one-frame
    queue, so that the server's socket backs up as early as TCP flow control allows."""
    host, port = url.removeprefix("ws://").split("/")[0].split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    protocols = [websockets.Subprotocol("graphql-transport-ws")]
    async with websockets.connect(url, sock=sock, subprotocols=protocols, max_queue=1, close_timeout=0.5) as ws:
        await send(ws, {"type": "connection_init"})
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        yield ws


def subscribers_of(op_id: str) -> list[SharedSubscriber]:
    return [
        s
        for registry in list(_REGISTRIES.values())
        for group in registry.groups.values()
        for s in group.subscribers.values()
        if s.id == op_id
    ]


async def test_a_stalled_client_does_not_slow_the_others() -> None:
    async with (
        asyncio.timeout(60),
        app_with_hub() as (url, hub, broker),
        stalled_connection(url) as stalled,
        connection(url) as a,
        connection(url) as b,
    ):
        await sub(stalled, "stalled", 0)
        await synced(stalled)  # the stalled client never reads again
        for ws in (a, b):
            await sub(ws, "s", 0)
            await synced(ws)
        assert len(hub.acquired) == 1
        for batch in range(5):
            sent = [float((batch * 2_000 + n + 1) * 100) for n in range(2_000)]
            publish(broker, sent)
            async with asyncio.timeout(10):
                assert values(await receive(a, len(sent))) == sent
                assert values(await receive(b, len(sent))) == sent
        # Whether the kernel's buffers absorbed the stalled socket's share varies by host, so only the
        # bound is asserted here; test_a_blocked_writer_drops_its_oldest_events_only blocks a writer.
        (stalled_sub,) = subscribers_of("stalled")
        assert stalled_sub.queue.maxlen is not None and len(stalled_sub.queue) <= stalled_sub.queue.maxlen


async def test_disconnecting_every_subscriber_releases_the_stream() -> None:
    async with asyncio.timeout(30), app_with_hub() as (url, hub, broker):
        async with connection(url) as one, connection(url) as two:
            await sub(one, "1", 0)
            await sub(two, "9", 0)
            await synced(one)
            await synced(two)
            publish(broker, [7_000])
            assert values(await receive(one, 1)) == [7_000]
            assert values(await receive(two, 1)) == [7_000]
            assert hub.released == []
        await until(lambda: len(hub.released) == 1)
        assert broker.stats().subscribers == 0
        async with connection(url) as again:  # a later subscriber starts a fresh execution
            await sub(again, "1", 0)
            await synced(again)
            assert len(hub.acquired) == 2
            publish(broker, [8_000])
            assert values(await receive(again, 1)) == [8_000]


async def test_errors_and_limits_stay_per_id_and_per_connection() -> None:
    bad = 'subscription { candles(symbol: "BTC", interval: "7m") { close } }'
    async with (
        asyncio.timeout(30),
        app_with_hub(max_subscriptions_per_connection=2) as (url, _, _broker),
        connection(url) as one,
        connection(url) as two,
    ):
        await send(one, {"id": "x", "type": "subscribe", "payload": {"query": bad}})
        await send(two, {"id": "y", "type": "subscribe", "payload": {"query": bad}})
        (error_x,) = await receive(one, 1)
        (error_y,) = await receive(two, 1)
        assert (error_x["id"], error_x["type"]) == ("x", "error")
        assert (error_y["id"], error_y["type"]) == ("y", "error")
        assert error_x["payload"][0]["extensions"]["code"] == "INVALID_INPUT"
        # the id is free again after its error; the limit counts this connection's shared subscriptions
        for op_id, value in (("x", 1), ("2", 2), ("3", 3)):
            await sub(one, op_id, value)
        (limited,) = await receive(one, 1)
        assert limited["id"] == "3" and limited["payload"][0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
        await send(one, {"id": "x", "type": "complete"})
        await sub(one, "3", 3)  # a completed subscription frees its slot
        await synced(one)
        await sub(two, "1", 1)  # another connection has its own limit and joins one's group
        await synced(two)


def test_group_key_normalizes_and_restricts_sharing() -> None:
    a = group_key("subscription { liquidations { symbol } }", None, None)
    b = group_key("subscription {\n  liquidations {\n    symbol\n  }\n}  # comment", {}, None)
    assert a is not None and a == b
    assert group_key("subscription { liquidations { symbol } }", {"x": 1}, None) != a
    assert group_key('subscription { signalUpdates(symbols: ["BTC"]) { score } }', None, None) is not None
    assert group_key("subscription { alerts { id } }", None, None) is None  # per caller: never shared
    assert group_key("query { __typename }", None, None) is None
    assert group_key("subscription {", None, None) is None  # Strawberry's path reports the syntax error


async def test_a_blocked_writer_drops_its_oldest_events_only() -> None:
    release = asyncio.Event()
    fast_frames: list[str] = []
    slow_frames: list[str] = []

    async def fast(text: str) -> None:
        fast_frames.append(text)

    async def slow(text: str) -> None:
        await release.wait()
        slow_frames.append(text)

    async with asyncio.timeout(5):
        group = SharedGroup(None, ("doc", "{}", None))  # type: ignore[arg-type]
        fast_sub = SharedSubscriber(_Connection(fast), "f", group, 3, lambda _: None)
        slow_sub = SharedSubscriber(_Connection(slow), "s", group, 3, lambda _: None)
        group.add(fast_sub)
        group.add(slow_sub)
        for n in range(10):
            group._broadcast(str(n))
            await asyncio.sleep(0)
        assert [json.loads(f)["payload"] for f in fast_frames] == list(range(10))
        release.set()
        await until(lambda: len(slow_frames) == 4)
        # the first frame was in flight; of the rest only the newest three were kept
        assert [json.loads(f)["payload"] for f in slow_frames] == [0, 7, 8, 9]
        assert slow_sub.dropped == 6 and fast_sub.dropped == 0
        for sub_ in (fast_sub, slow_sub):
            await sub_.connection.aclose()
