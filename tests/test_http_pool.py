"""The HTTP client's per-host pool and asyncio network layer (``providers/http_pool.py``,
``providers/http_backend.py``), against local HTTP/1.1 servers on 127.0.0.1 (plain and TLS).

- at most ``max_per_host`` connections to a host at once, and a saturated host never delays another;
- keep-alive: calls one after the other reuse one connection;
- a call waiting longer than its pool timeout for a slot fails with ``PoolTimeout``;
- cancelled, refused and timed-out calls give their slot back (the next call on a pool of one still runs);
- TLS: the certificate is verified (an unknown CA fails to connect) and a trusted one works, with keep-alive;
- idle connections past their keep-alive are closed by the sweep.

Each runs on both event loops: asyncio's own (the tests' default) and uvloop's, which the service runs on and
whose ``create_connection`` differs (no happy-eyeballs argument).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from typing import TYPE_CHECKING

import httpx2
import pytest
import trustme
import uvloop

from providers.http import create_http_client
from providers.http_backend import race_addresses
from providers.http_pool import PerHostPool, install

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Coroutine
    from typing import Any


def on_both_loops(test: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[str], None]:
    """Run the coroutine test once on asyncio's loop and once on uvloop's (bounded: 30 s)."""

    @pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
    def run(loop: str) -> None:
        factory = uvloop.new_event_loop if loop == "uvloop" else asyncio.new_event_loop
        with asyncio.Runner(loop_factory=factory) as runner:
            assert isinstance(runner.get_loop(), uvloop.Loop) is (loop == "uvloop")
            runner.run(asyncio.wait_for(test(), 30))

    run.__name__, run.__doc__ = test.__name__, test.__doc__
    return run


class LocalServer:
    """A keep-alive HTTP/1.1 server: ``/sleep/<ms>`` answers after that delay; counts connections."""

    def __init__(self) -> None:
        self.open_connections = 0
        self.most_open = 0
        self.accepted = 0
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.open_connections += 1
        self.most_open = max(self.most_open, self.open_connections)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                path = head.split(b" ", 2)[1].decode()
                if path.startswith("/sleep/"):
                    await asyncio.sleep(int(path.rsplit("/", 1)[1]) / 1000)
                body = b'{"path":"%s"}' % path.encode()
                answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
                writer.write(answer + body)
                await writer.drain()
        finally:
            self.open_connections -= 1
            writer.close()


@contextlib.asynccontextmanager
async def local_server(ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[LocalServer]:
    state = LocalServer()
    server = await asyncio.start_server(state.handle, "127.0.0.1", 0, ssl=ssl_context)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                await server.wait_closed()


@on_both_loops
async def test_at_most_max_per_host_connections_and_a_busy_host_does_not_block_another() -> None:
    async with local_server() as busy, local_server() as other, create_http_client(max_connections=3) as client:
        slow = [asyncio.create_task(client.get(f"http://127.0.0.1:{busy.port}/sleep/300")) for _ in range(9)]
        await asyncio.sleep(0.05)
        started = asyncio.get_running_loop().time()
        quick = await client.get(f"http://127.0.0.1:{other.port}/x")  # the busy host's 3 slots are all taken
        waited = asyncio.get_running_loop().time() - started
        responses = await asyncio.gather(*slow)
    assert quick.json() == {"path": "/x"}
    assert waited < 0.25, f"a call to another host waited {waited:.3f} s behind a saturated one"
    assert [r.status_code for r in responses] == [200] * 9
    assert busy.most_open == 3  # never more than the limit, and the limit was used
    assert busy.accepted == 3  # the 6 queued calls reused the first 3 connections


@on_both_loops
async def test_calls_one_after_the_other_reuse_one_connection() -> None:
    async with local_server() as server, create_http_client() as client:
        for i in range(5):
            response = await client.get(f"http://127.0.0.1:{server.port}/n/{i}")
            assert response.json() == {"path": f"/n/{i}"}
    assert server.accepted == 1


@on_both_loops
async def test_a_call_waiting_past_its_pool_timeout_fails_with_pool_timeout() -> None:
    async with local_server() as server, create_http_client(max_connections=1) as client:
        holder = asyncio.create_task(client.get(f"http://127.0.0.1:{server.port}/sleep/400"))
        await asyncio.sleep(0.05)
        with pytest.raises(httpx2.PoolTimeout):
            await client.get(f"http://127.0.0.1:{server.port}/x", timeout=httpx2.Timeout(5.0, pool=0.05))
        assert (await holder).status_code == 200
        assert (await client.get(f"http://127.0.0.1:{server.port}/after")).status_code == 200


@on_both_loops
async def test_cancelled_refused_and_timed_out_calls_give_their_slot_back() -> None:
    with socket.socket() as unused:  # a port nobody listens on: the connect is refused
        unused.bind(("127.0.0.1", 0))
        refused_port = unused.getsockname()[1]
    async with local_server() as server, create_http_client(max_connections=1) as client:
        base = f"http://127.0.0.1:{server.port}"
        cancelled = asyncio.create_task(client.get(f"{base}/sleep/5000"))
        await asyncio.sleep(0.05)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        with pytest.raises(httpx2.ReadTimeout):
            await client.get(f"{base}/sleep/5000", timeout=httpx2.Timeout(5.0, read=0.05))
        with pytest.raises(httpx2.ConnectError):
            await client.get(f"http://127.0.0.1:{refused_port}/x")
        for i in range(3):  # one slot: each of these would wait forever if a failure had kept it
            response = await client.get(f"{base}/ok/{i}", timeout=httpx2.Timeout(5.0, pool=1.0))
            assert response.json() == {"path": f"/ok/{i}"}
    pool = client._transport._pool  # type: ignore[attr-defined]
    assert isinstance(pool, PerHostPool)


@on_both_loops
async def test_tls_verifies_the_certificate_and_keeps_the_connection_alive() -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    async with local_server(server_context) as server:
        async with create_http_client() as untrusting:  # the system's CAs: this one is unknown
            with pytest.raises(httpx2.ConnectError):
                await untrusting.get(f"https://127.0.0.1:{server.port}/x")
        trusting_context = ssl.create_default_context()
        ca.configure_trust(trusting_context)
        async with httpx2.AsyncClient(verify=trusting_context) as client:
            assert install(client, max_per_host=4)
            for i in range(3):
                response = await client.get(f"https://127.0.0.1:{server.port}/tls/{i}")
                assert response.json() == {"path": f"/tls/{i}"}
    assert server.accepted == 1  # one kept-alive TLS connection for three calls (a failed handshake never gets here)


@on_both_loops
async def test_idle_connections_past_their_keep_alive_are_closed_by_the_sweep() -> None:
    async with local_server() as first, local_server() as second:
        pool = PerHostPool(max_per_host=4, keepalive_expiry=0.1)
        async with httpx2.AsyncClient() as client:
            client._transport._pool = pool  # type: ignore[attr-defined]
            assert (await client.get(f"http://127.0.0.1:{first.port}/a")).status_code == 200
            assert first.open_connections == 1
            await asyncio.sleep(0.25)  # first's idle connection expires; the next call (to another host) sweeps
            assert (await client.get(f"http://127.0.0.1:{second.port}/b")).status_code == 200
            for _ in range(50):  # bounded: the closing runs in a task
                if first.open_connections == 0:
                    break
                await asyncio.sleep(0.02)
            assert first.open_connections == 0
            assert second.open_connections == 1


@on_both_loops
async def test_closing_the_client_closes_idle_and_busy_connections() -> None:
    async with local_server() as server:
        client = create_http_client()
        in_flight = asyncio.create_task(client.get(f"http://127.0.0.1:{server.port}/sleep/5000"))
        for _ in range(50):  # bounded: until the slow call holds its connection
            if server.open_connections == 1:
                break
            await asyncio.sleep(0.02)
        assert (await client.get(f"http://127.0.0.1:{server.port}/idle")).status_code == 200  # a 2nd, now idle
        assert server.open_connections == 2
        await client.aclose()
        with pytest.raises(httpx2.HTTPError):  # its connection was closed under it
            await in_flight
        for _ in range(50):  # the idle one's handler sees the close; the busy one's sleeps on, unaware
            if server.open_connections == 1:
                break
            await asyncio.sleep(0.02)
        assert server.open_connections == 1


@on_both_loops
async def test_an_idle_connection_holding_a_stray_answer_is_not_reused() -> None:
    """A server that sends something on an idle keep-alive connection (a 408 on its idle timeout) and hangs
    up: the next call must not read that stray answer as its own, but go out on a new connection."""
    accepted = 0

    async def answer_then_stray_408(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n" + b'{"ok":true}'
        )
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 5\r\nConnection: close\r\n\r\nstale")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer_then_stray_408, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with create_http_client() as client:
            for _ in range(2):
                response = await client.get(f"http://127.0.0.1:{port}/x")
                assert (response.status_code, response.json()) == (200, {"ok": True})
                await asyncio.sleep(0.2)  # the stray 408 arrives on the idle connection
        assert accepted == 2
    finally:
        server.close()


@on_both_loops
async def test_a_hang_up_that_arrives_while_the_loop_is_busy_is_noticed() -> None:
    """The server closes an idle connection while the client's loop is busy (a fan-out's CPU): the FIN is in
    the kernel, not yet read by the loop. The next call must still see it and open a new connection."""
    ready = threading.Event()
    found: dict[str, int] = {"port": 0, "accepted": 0}
    stopper: list[Callable[[], object]] = []

    def serve() -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            found["accepted"] += 1
            idle_timeout: float | None = None  # the first request may take its time; then 50 ms of keep-alive
            with contextlib.suppress(TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                while True:
                    async with asyncio.timeout(idle_timeout):
                        await reader.readuntil(b"\r\n\r\n")
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    await writer.drain()
                    idle_timeout = 0.05
            writer.close()

        async def run() -> None:
            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            found["port"] = server.sockets[0].getsockname()[1]
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            stopper.append(lambda: loop.call_soon_threadsafe(stop.set))
            ready.set()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(30):
                    await stop.wait()
            server.close()

        asyncio.run(run())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(5)
    try:
        async with create_http_client() as client:
            url = f"http://127.0.0.1:{found['port']}/x"
            assert (await client.get(url)).text == "ok"
            time.sleep(0.2)  # noqa: ASYNC251 (the point: the loop is busy while the server hangs up)
            assert (await client.get(url)).text == "ok"
        assert found["accepted"] == 2
    finally:
        stopper[0]()
        thread.join(5)


@on_both_loops
async def test_an_address_that_never_answers_is_raced_past_after_the_happy_eyeballs_delay() -> None:
    """RFC 8305 on both loops: the first address drops the connect (a listener whose backlog is full: the
    kernel drops the SYNs, like a dead IPv6 route); the second, tried 0.25 s later, wins, and the hanging
    attempt is closed. uvloop has no such option of its own: ``race_addresses`` does it."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(0)
    fillers = []
    try:
        for _ in range(2):  # fill the backlog: further connects hang
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", hole.getsockname()[1]))
            fillers.append(filler)
        async with local_server() as server:
            infos = [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", hole.getsockname()[1])),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", server.port)),
            ]
            loop = asyncio.get_running_loop()
            started = loop.time()
            sock = await race_addresses(infos, None, 0.25)
            elapsed = loop.time() - started
            try:
                assert sock.getpeername() == ("127.0.0.1", server.port)
            finally:
                sock.close()
            assert 0.2 <= elapsed < 2.0, elapsed
            refused = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 1))  # port 1: nobody listens
            with pytest.raises(OSError):
                await race_addresses([refused, refused], None, 0.25)
    finally:
        for filler in fillers:
            filler.close()
        hole.close()
