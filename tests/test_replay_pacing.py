"""Replay pacing off the service's loop: ``serve_in_thread`` keeps a replayed stream's pace while the
caller's event loop is busy (``serve --replay`` serves its cassette that way).

The check can fail: a stream paced inside a blocked loop sends nothing while the loop is blocked, so the
messages waiting on the socket right after the block are the one in flight, not the block's worth."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import orjson
import websockets

from providers.replay import Cassette, ReplayApp, serve_in_background, serve_in_thread

INTERVAL_MS = 10
BLOCK_SECONDS = 0.6


def _cassette() -> Cassette:
    # Binance's documented aggTrade event (developers.binance.com, USD-M futures "Aggregate Trade Streams")
    message = {
        "e": "aggTrade",
        "E": 123456789,
        "s": "BTCUSDT",
        "a": 5933014,
        "p": "0.001",
        "q": "100",
        "f": 100,
        "l": 105,
        "T": 123456785,
        "m": True,
    }
    return Cassette.model_validate(
        {
            "version": 1,
            "clock": 1_700_000_000_000,
            "http": [],
            "ws": [
                {"provider": "binance", "stream": "btcusdt@aggTrade", "messages": [message], "interval_ms": INTERVAL_MS}
            ],
        }
    )


async def _waiting_after_block(base_url: str) -> int:
    """Messages already waiting on the socket after this loop was blocked for BLOCK_SECONDS."""
    url = base_url.replace("http://", "ws://") + "/binance/ws/btcusdt@aggTrade"
    async with websockets.connect(url, compression=None) as socket_:
        await asyncio.wait_for(socket_.recv(), 5)  # the stream flows
        time.sleep(BLOCK_SECONDS)  # noqa: ASYNC251 - the point: the loop is busy, as CPU-bound work holds it
        waiting = 0
        for _ in range(10_000):  # bounded; ends at the first read that has to wait
            try:
                await asyncio.wait_for(socket_.recv(), 0.005)
            except TimeoutError:
                break
            waiting += 1
        return waiting


async def test_threaded_replay_keeps_its_pace_while_the_loop_is_blocked() -> None:
    replay = ReplayApp(_cassette(), ws_loop=True)
    async with serve_in_thread(replay.app) as server:
        assert server.thread is not threading.current_thread() and server.thread.is_alive()
        waiting = await _waiting_after_block(server.base_url)
    assert not server.thread.is_alive()  # stopped on exit
    # 60 intervals elapsed during the block; a loaded 2-core machine still sends well over a third of them
    assert waiting >= 20, waiting


async def test_in_loop_replay_stalls_with_the_loop() -> None:
    """The reference: the same server in the caller's loop sends (almost) nothing while it is blocked."""
    replay = ReplayApp(_cassette(), ws_loop=True)
    async with serve_in_background(replay.app) as server:
        waiting = await _waiting_after_block(server.base_url)
    assert waiting <= 5, waiting


async def test_threaded_replay_answers_http_and_counts() -> None:
    replay = ReplayApp(_cassette())
    async with serve_in_thread(replay.app) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", int(server.base_url.rsplit(":", 1)[1]))
        writer.write(b"GET /__replay__/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        raw = await asyncio.wait_for(reader.read(), 5)
        writer.close()
    body = orjson.loads(raw.split(b"\r\n\r\n", 1)[1])
    assert body["ws_open"] == 0


async def test_the_servers_listen_on_the_socket_they_bound_first() -> None:
    """The port is bound before uvicorn starts and uvicorn serves that very socket: no window in which another
    process (a parallel test worker) can take a port picked free and released ("address already in use")."""
    import socket

    import httpx2

    from providers.replay import listening_socket

    sock = listening_socket("127.0.0.1")
    try:
        taken = sock.getsockname()[1]
        with socket.socket() as other, contextlib.suppress(OSError):
            other.bind(("127.0.0.1", taken))
            raise AssertionError("a bound port could be bound again")  # pragma: no cover - the failure path
    finally:
        sock.close()
    async with (
        serve_in_background(ReplayApp(_cassette()).app) as a,
        serve_in_thread(ReplayApp(_cassette()).app) as b,
        httpx2.AsyncClient(timeout=5) as client,
    ):
        for base in (a.base_url, b.base_url):
            answer = await client.get(f"{base}/__replay__/stats")
            assert answer.status_code == 200, base
    assert a.base_url != b.base_url
