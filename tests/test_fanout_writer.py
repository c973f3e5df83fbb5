"""The fan-out's per-connection writer (signal_api.fanout._Connection): frames go out at once when the
connection is not behind (no task, no loop turn), a send that suspends continues in a task with every
later frame kept in order, and a closed socket stops the writes without an exception to the group."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from strawberry.http.exceptions import WebSocketDisconnected

from signal_api import fanout
from signal_api.fanout import SharedGroup, SharedSubscriber, _Connection
from tests.test_fanout_shared import app_with_hub, publish, sub, synced, until, values
from tests.test_subscriptions_ws import connection, receive


def _payloads(frames: list[str]) -> list[object]:
    return [json.loads(f)["payload"] for f in frames]


def _group() -> SharedGroup:
    return SharedGroup(None, ("doc", "{}", None))  # type: ignore[arg-type]


async def test_frames_are_written_at_once_without_a_task_per_connection() -> None:
    group = _group()
    received: list[list[str]] = [[] for _ in range(100)]
    connections = []
    for i in range(100):

        async def send(text: str, into: list[str] = received[i]) -> None:
            into.append(text)

        connection = _Connection(send)
        connections.append(connection)
        group.add(SharedSubscriber(connection, str(i), group, 8, lambda _: None))
    for n in range(20):
        group._broadcast(str(n))  # synchronous: nothing awaited between the broadcast and the check
        assert all(len(frames) == n + 1 for frames in received)
    assert all(c.task is None for c in connections)  # never needed one
    for i, frames in enumerate(received):
        assert _payloads(frames) == list(range(20))
        assert {json.loads(f)["id"] for f in frames} == {str(i)}


async def test_a_send_that_suspends_continues_in_order_and_the_task_ends() -> None:
    frames: list[str] = []
    calls = 0

    async def send(text: str) -> None:  # every third send waits for the loop (a paused socket)
        nonlocal calls
        calls += 1
        if calls % 3 == 0:
            await asyncio.sleep(0.001)
        frames.append(text)

    async with asyncio.timeout(5):
        group = _group()
        connection = _Connection(send)
        subscriber = SharedSubscriber(connection, "s", group, 1_000, lambda _: None)
        group.add(subscriber)
        for n in range(200):
            group._broadcast(str(n))
            if n % 50 == 0:
                await asyncio.sleep(0)
        await until(lambda: len(frames) == 200)
        await until(lambda: connection.task is None)
    assert _payloads(frames) == list(range(200)) and subscriber.dropped == 0  # every event, in order


async def test_a_closed_socket_stops_the_writes_quietly() -> None:
    attempts = 0

    async def send(text: str) -> None:
        nonlocal attempts
        attempts += 1
        raise WebSocketDisconnected

    group = _group()
    connection = _Connection(send)
    group.add(SharedSubscriber(connection, "s", group, 4, lambda _: None))
    for n in range(10):
        group._broadcast(str(n))  # no exception reaches the group
    assert connection.broken and attempts == 1 and connection.task is None


async def test_a_connection_closed_while_behind_leaves_the_count() -> None:
    before = _Connection.behind

    async def send(text: str) -> None:
        await asyncio.sleep(10)  # a socket that never drains

    connection = _Connection(send)
    connection.write("frame")  # suspends: a task continues it
    assert connection.task is not None and _Connection.behind == before + 1
    await connection.aclose()  # cancelled before the task's first step
    await asyncio.sleep(0)  # the done callback
    assert connection.task is None and _Connection.behind == before


async def test_every_event_reaches_every_subscriber_across_broadcast_chunks(monkeypatch: Any) -> None:
    """48 subscribers on 16 connections, broadcasts in chunks of 16 (loop turns inside each event), a
    burst of 300 events: each subscriber receives every one, in order."""
    monkeypatch.setattr(fanout, "BROADCAST_CHUNK", 16)
    async with asyncio.timeout(60), app_with_hub() as (url, _, broker), contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(connection(url)) for _ in range(16)]
        ids = [["1", "2", f"c{i}"] for i in range(16)]  # "1" and "2" share frame strings across connections
        for ws, own in zip(clients, ids, strict=True):
            for op_id in own:
                await sub(ws, op_id, 0)
        for ws in clients:
            await synced(ws)
        sent = [float(1_000 * (n + 1)) for n in range(300)]  # exact as price x size
        publish(broker, sent)
        for ws, own in zip(clients, ids, strict=True):
            messages = await receive(ws, 3 * len(sent))
            for op_id in own:
                assert values([m for m in messages if m["id"] == op_id]) == sent, op_id  # every event, in order
