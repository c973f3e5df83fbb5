"""The client of every market-data call (``providers/upstream_client.py``, aiohttp), against local HTTP/1.1
servers on 127.0.0.1 (plain and TLS).

- at most ``max_per_host`` connections to a host at once, and a saturated host never delays another;
- keep-alive: calls one after the other reuse one connection; idle ones are closed after the keep-alive;
- a call waiting longer than its timeout for a free connection fails as a connect-phase timeout;
- cancelled, refused and timed-out calls give their connection back (the next call on a limit of one runs);
- failures are the taxonomy's (``UpstreamTimeout`` / ``UpstreamUnavailable``), named by phase, URL-free;
- TLS: the certificate is verified (an unknown CA fails to connect) and a trusted one works, with keep-alive;
- a connection the server hung up on, or that holds a stray answer, is not reused;
- redirects are not followed, and the default headers go out unless a provider overrides them.

Each runs on both event loops: asyncio's own (the tests' default) and uvloop's, which the service runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
import ssl
import threading
import time
from typing import TYPE_CHECKING

import pytest
import trustme
import uvloop

from providers.errors import InvalidRequest, MalformedPayload, UpstreamTimeout, UpstreamUnavailable
from providers.upstream_client import UpstreamClient, UpstreamResponse

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
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
        self.heads: list[bytes] = []

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
                self.heads.append(head)
                if path.startswith("/redirect"):
                    writer.write(b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n")
                    await writer.drain()
                    continue
                if path.startswith(("/big/", "/chunked/", "/gzip/")):  # an answer of n bytes (decompressed)
                    writer.write(_sized_answer(path))
                    await writer.drain()
                    continue
                if path.startswith("/status/"):  # an empty answer with that status
                    writer.write(b"HTTP/1.1 %s X\r\nContent-Length: 0\r\n\r\n" % path.rsplit("/", 1)[1].encode())
                    await writer.drain()
                    continue
                if path.startswith("/sleep/"):
                    await asyncio.sleep(int(path.rsplit("/", 1)[1]) / 1000)
                body = b'{"path":"%s"}' % path.encode()
                answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
                writer.write(answer + body)
                await writer.drain()
        finally:
            self.open_connections -= 1
            writer.close()


def _sized_answer(path: str) -> bytes:
    """``/big/n``: n bytes with their Content-Length; ``/chunked/n``: n bytes in 1 KB chunks, no length;
    ``/gzip/n``: n bytes gzip-compressed (a few dozen on the wire), with the compressed length."""
    kind, size = path.strip("/").split("/")
    body = b"x" * int(size)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    if kind == "chunked":
        chunks = b"".join(
            b"%x\r\n%s\r\n" % (len(body[i : i + 1024]), body[i : i + 1024]) for i in range(0, len(body), 1024)
        )
        return head + b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
    if kind == "gzip":
        body = gzip.compress(body)
        head += b"Content-Encoding: gzip\r\n"
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


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


@contextlib.asynccontextmanager
async def _client(**kwargs: Any) -> AsyncIterator[UpstreamClient]:
    client = UpstreamClient(**kwargs)
    try:
        yield client
    finally:
        await client.aclose()


async def _get(
    client: UpstreamClient, url: str, seconds: float = 5.0, headers: Mapping[str, str] | None = None
) -> UpstreamResponse:
    return await client.request("test", "x", "GET", url, body=None, headers=headers or {}, timeout_seconds=seconds)


@on_both_loops
async def test_at_most_max_per_host_connections_and_a_busy_host_does_not_block_another() -> None:
    async with local_server() as busy, local_server() as other, _client(max_per_host=3) as client:
        slow = [asyncio.create_task(_get(client, f"http://127.0.0.1:{busy.port}/sleep/300")) for _ in range(9)]
        await asyncio.sleep(0.05)
        started = asyncio.get_running_loop().time()
        quick = await _get(client, f"http://127.0.0.1:{other.port}/x")  # the busy host's 3 slots are all taken
        waited = asyncio.get_running_loop().time() - started
        responses = await asyncio.gather(*slow)
    assert quick.content == b'{"path":"/x"}'
    assert waited < 0.25, f"a call to another host waited {waited:.3f} s behind a saturated one"
    assert [r.status for r in responses] == [200] * 9
    assert busy.most_open == 3  # never more than the limit, and the limit was used
    assert busy.accepted == 3  # the 6 queued calls reused the first 3 connections


@on_both_loops
async def test_calls_one_after_the_other_reuse_one_connection_until_the_keep_alive_lapses() -> None:
    async with local_server() as server, _client(keepalive_seconds=0.2) as client:
        for i in range(5):
            response = await _get(client, f"http://127.0.0.1:{server.port}/n/{i}")
            assert response.content == b'{"path":"/n/%d"}' % i
        assert server.accepted == 1
        for _ in range(100):  # bounded: the idle connection is closed once its keep-alive lapses
            if server.open_connections == 0:
                break
            await asyncio.sleep(0.02)
        assert server.open_connections == 0
        assert (await _get(client, f"http://127.0.0.1:{server.port}/again")).status == 200
        assert server.accepted == 2


@on_both_loops
async def test_a_call_waiting_past_its_timeout_for_a_connection_fails_as_a_connect_timeout() -> None:
    async with local_server() as server, _client(max_per_host=1) as client:
        holder = asyncio.create_task(_get(client, f"http://127.0.0.1:{server.port}/sleep/400"))
        await asyncio.sleep(0.05)
        with pytest.raises(UpstreamTimeout) as info:
            await _get(client, f"http://127.0.0.1:{server.port}/x?token=secret", seconds=0.05)
        assert info.value.message == "timed out (connect)"
        assert (await holder).status == 200
        assert (await _get(client, f"http://127.0.0.1:{server.port}/after")).status == 200


@on_both_loops
async def test_cancelled_refused_and_timed_out_calls_give_their_connection_back() -> None:
    with socket.socket() as unused:  # a port nobody listens on: the connect is refused
        unused.bind(("127.0.0.1", 0))
        refused_port = unused.getsockname()[1]
    async with local_server() as server, _client(max_per_host=1) as client:
        base = f"http://127.0.0.1:{server.port}"
        cancelled = asyncio.create_task(_get(client, f"{base}/sleep/5000"))
        await asyncio.sleep(0.05)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        with pytest.raises(UpstreamTimeout) as timed_out:
            await _get(client, f"{base}/sleep/5000", seconds=0.1)
        assert timed_out.value.message == "timed out (read)"
        with pytest.raises(UpstreamUnavailable) as refused:
            await _get(client, f"http://127.0.0.1:{refused_port}/x?apikey=secret")
        assert refused.value.message == "connection failed"
        assert "secret" not in str(refused.value)
        for i in range(3):  # one connection: each of these would wait forever if a failure had kept it
            response = await _get(client, f"{base}/ok/{i}", seconds=1.0)
            assert response.content == b'{"path":"/ok/%d"}' % i


@on_both_loops
async def test_tls_verifies_the_certificate_and_keeps_the_connection_alive() -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    async with local_server(server_context) as server:
        async with _client() as untrusting:  # certifi's roots: this CA is unknown
            with pytest.raises(UpstreamUnavailable):
                await _get(untrusting, f"https://127.0.0.1:{server.port}/x")
        trusting_context = ssl.create_default_context()
        ca.configure_trust(trusting_context)
        async with _client(ssl_context=trusting_context) as client:
            for i in range(3):
                response = await _get(client, f"https://127.0.0.1:{server.port}/tls/{i}")
                assert response.content == b'{"path":"/tls/%d"}' % i
    assert server.accepted == 1  # one kept-alive TLS connection for three calls (a failed handshake never gets here)


@on_both_loops
async def test_closing_the_client_closes_idle_and_busy_connections() -> None:
    async with local_server() as server:
        client = UpstreamClient()
        in_flight = asyncio.create_task(_get(client, f"http://127.0.0.1:{server.port}/sleep/5000"))
        for _ in range(50):  # bounded: until the slow call holds its connection
            if server.open_connections == 1:
                break
            await asyncio.sleep(0.02)
        assert (await _get(client, f"http://127.0.0.1:{server.port}/idle")).status == 200  # a 2nd, now idle
        assert server.open_connections == 2
        await client.aclose()
        with pytest.raises(UpstreamUnavailable):  # its connection was closed under it
            await in_flight
        for _ in range(50):  # the idle one's handler sees the close; the busy one's sleeps on, unaware
            if server.open_connections == 1:
                break
            await asyncio.sleep(0.02)
        assert server.open_connections == 1


@on_both_loops
async def test_redirects_are_not_followed_and_default_headers_go_out() -> None:
    async with local_server() as server, _client(user_agent="ua-test") as client:
        response = await _get(client, f"http://127.0.0.1:{server.port}/redirect")
        assert (response.status, response.headers.get("location")) == (302, "/elsewhere")
        await _get(client, f"http://127.0.0.1:{server.port}/keyed", headers={"X-Key": "k", "Accept": "text/csv"})
    first, second = (head.lower() for head in server.heads)
    assert b"user-agent: ua-test\r\n" in first and b"accept: application/json\r\n" in first
    assert b"x-key: k\r\n" in second and b"accept: text/csv\r\n" in second  # a provider's header wins
    assert len(server.heads) == 2  # the redirect was not followed


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
        async with _client() as client:
            for _ in range(2):
                response = await _get(client, f"http://127.0.0.1:{port}/x")
                assert (response.status, response.content) == (200, b'{"ok":true}')
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
        async with _client() as client:
            url = f"http://127.0.0.1:{found['port']}/x"
            assert (await _get(client, url)).content == b"ok"
            time.sleep(0.2)  # noqa: ASYNC251 (the point: the loop is busy while the server hangs up)
            assert (await _get(client, url)).content == b"ok"
        assert found["accepted"] == 2
    finally:
        stopper[0]()
        thread.join(5)


async def test_a_proxy_configured_in_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """As httpx2 did: ``HTTP_PROXY`` set when the client is built sends the calls through that proxy."""
    async with local_server() as proxy:
        for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        async with _client() as client:
            response = await _get(client, "http://venue.invalid/fapi/v1/ping")
        assert response.content == b'{"path":"http://venue.invalid/fapi/v1/ping"}'
        assert proxy.heads[0].startswith(b"GET http://venue.invalid/fapi/v1/ping HTTP/1.1")


def _clear_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for scheme in ("http", "https", "all", "no"):
        monkeypatch.delenv(f"{scheme.upper()}_PROXY", raising=False)
        monkeypatch.delenv(f"{scheme}_proxy", raising=False)


async def test_proxies_from_the_environment_all_proxy_and_no_proxy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """``ALL_PROXY`` is honoured like httpx2 did, ``NO_PROXY`` bypasses it, and ``~/.netrc`` never adds
    credentials to a venue request (aiohttp's own environment lookup would)."""
    netrc = tmp_path / "netrc"
    netrc.write_text("default login corpuser password hunter22\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    async with local_server() as proxy, local_server() as venue:
        _clear_proxy_environment(monkeypatch)
        monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{proxy.port}")
        async with _client() as client:
            await _get(client, "http://venue.invalid/through-the-proxy")
        assert proxy.heads[0].startswith(b"GET http://venue.invalid/through-the-proxy HTTP/1.1")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        async with _client() as client:
            response = await _get(client, f"http://127.0.0.1:{venue.port}/direct")
        assert response.content == b'{"path":"/direct"}'
        assert len(proxy.heads) == 1  # the bypassed call went straight to the venue
        _clear_proxy_environment(monkeypatch)
        monkeypatch.setenv("NO_PROXY", "example.org")  # only NO_PROXY set: still no netrc credentials
        async with _client() as client:
            await _get(client, f"http://127.0.0.1:{venue.port}/no-netrc")
    assert all(b"authorization:" not in head.lower() for head in venue.heads + proxy.heads)


def test_an_unsupported_proxy_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_proxy_environment(monkeypatch)
    monkeypatch.setenv("ALL_PROXY", "socks5://user:pw@127.0.0.1:1080")
    with pytest.raises(ValueError, match="not an http:// or https:// URL") as info:
        UpstreamClient()
    assert "pw@" not in str(info.value)  # proxy credentials never reach the message


@on_both_loops
async def test_a_header_the_client_cannot_send_is_a_typed_error_not_a_crash() -> None:
    """A key read with its trailing newline (a secret file) makes every call fail as an invalid request,
    named, without the key in the message, instead of escaping as the library's ValueError."""
    async with local_server() as server, _client() as client:
        with pytest.raises(InvalidRequest) as info:
            await _get(client, f"http://127.0.0.1:{server.port}/x", headers={"X-Api-Key": "sekret\r\n"})
        assert "sekret" not in str(info.value)
        assert server.heads == []


async def test_after_aclose_calls_fail_as_unavailable_and_open_nothing() -> None:
    async with local_server() as server:
        client = UpstreamClient()
        assert (await _get(client, f"http://127.0.0.1:{server.port}/a")).status == 200
        await client.aclose()
        with pytest.raises(UpstreamUnavailable, match="client closed"):
            await _get(client, f"http://127.0.0.1:{server.port}/b")
        assert client._session is None  # no session opened again, none left to leak
        assert server.accepted == 1


def test_one_client_serves_a_second_event_loop() -> None:
    """A session belongs to the loop it was opened on; the client opens another on a new loop instead of
    failing with "Event loop is closed" for ever."""
    client = UpstreamClient()

    async def one_call() -> bytes:
        async with local_server() as server:
            return (await _get(client, f"http://127.0.0.1:{server.port}/loop")).content

    assert asyncio.run(one_call()) == b'{"path":"/loop"}'
    assert asyncio.run(one_call()) == b'{"path":"/loop"}'
    asyncio.run(client.aclose())


@on_both_loops
async def test_the_query_string_goes_out_byte_for_byte() -> None:
    """The URL is sent as ProviderHttp encoded it: percent-escapes are not re-quoted or decoded."""
    async with local_server() as server, _client() as client:
        await _get(client, f"http://127.0.0.1:{server.port}/q?symbols=%5B%22BTC%22%2C%22ETH%22%5D&t=a%2Fb%3Ac")
    assert server.heads[0].startswith(b"GET /q?symbols=%5B%22BTC%22%2C%22ETH%22%5D&t=a%2Fb%3Ac HTTP/1.1")


@on_both_loops
async def test_an_answer_over_the_size_limit_is_refused_and_the_next_call_works() -> None:
    """A declared length over the limit, a chunked answer and a compressed one that grow past it are each a
    MalformedPayload naming the limit (never held whole in memory); answers within it arrive intact."""
    async with local_server() as server, _client(max_body_bytes=10_000) as client:
        base = f"http://127.0.0.1:{server.port}"
        for kind in ("big", "chunked", "gzip"):
            within = await _get(client, f"{base}/{kind}/9000")
            assert within.status == 200 and within.content == b"x" * 9000, kind
            with pytest.raises(MalformedPayload, match="over the 10,000-byte limit") as refused:
                await _get(client, f"{base}/{kind}/20000")
            assert base not in str(refused.value), kind  # URL-free, as every failure
            after = await _get(client, f"{base}/x")  # a connection left mid-answer is not reused
            assert after.content == b'{"path":"/x"}', kind


@on_both_loops
async def test_preconnect_opens_connections_that_a_burst_of_calls_then_reuses() -> None:
    """``preconnect`` leaves that many connections open and idle in the pool (one GET first, then the burst):
    calls sent at once afterwards open none (what a cold query's fan-out finds after the start-up warm-up)."""
    async with local_server() as server, _client() as client:
        url = f"http://127.0.0.1:{server.port}/ping"
        assert await client.preconnect("test", url, 4, timeout_seconds=5) == 4
        assert (server.accepted, server.open_connections) == (4, 4)
        assert sum(head.startswith(b"GET /ping ") for head in server.heads) == 5
        burst = await asyncio.gather(*(_get(client, f"http://127.0.0.1:{server.port}/n/{i}") for i in range(4)))
        assert [r.content for r in burst] == [b'{"path":"/n/%d"}' % i for i in range(4)]
        assert server.accepted == 4  # every call of the burst found an open connection


@on_both_loops
async def test_preconnect_stays_within_the_host_limit_and_never_raises() -> None:
    async with local_server() as server, _client(max_per_host=2) as client:
        url = f"http://127.0.0.1:{server.port}/ping"
        assert await client.preconnect("test", url, 5, timeout_seconds=5) == 2
        assert server.most_open == 2
        assert await client.preconnect("test", url, 0, timeout_seconds=5) == 0
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: every connection is refused
    async with _client() as client:
        assert await client.preconnect("test", f"http://127.0.0.1:{port}/ping", 3, timeout_seconds=2) == 0


@on_both_loops
async def test_preconnect_stops_at_a_refusal_and_goes_on_past_a_not_found() -> None:
    """A venue answering 429, 418, 451, 403 or a 5xx to the first GET is not asked again; a 404 is an answer
    like any other (its connection stays open)."""
    async with local_server() as server, _client() as client:
        for status in (429, 418, 451, 403, 503):
            before = len(server.heads)
            assert (
                await client.preconnect("test", f"http://127.0.0.1:{server.port}/status/{status}", 4, timeout_seconds=5)
                == 0
            )
            assert len(server.heads) == before + 1, status  # the first GET only
        assert await client.preconnect("test", f"http://127.0.0.1:{server.port}/status/404", 3, timeout_seconds=5) == 3


@on_both_loops
async def test_a_cancelled_preconnect_raises_cancelled_and_leaves_no_connection_open() -> None:
    """Cancelled mid-burst (the app stopping during its start-up warm-up): the cancellation propagates and the
    connections of the unanswered GETs are closed, not left in the pool."""
    async with local_server() as server, _client() as client:
        task = asyncio.create_task(
            client.preconnect("test", f"http://127.0.0.1:{server.port}/sleep/2000", 3, timeout_seconds=5)
        )
        for _ in range(100):  # bounded: the first GET is in flight
            if server.heads:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(100):  # bounded: the server sees the connection go
            if server.open_connections == 0:
                break
            await asyncio.sleep(0.02)
        assert server.open_connections == 0
