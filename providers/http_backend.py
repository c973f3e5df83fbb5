"""httpx2's network layer on the running asyncio loop directly, instead of through anyio.

httpcore2 reaches the network through a backend; its default on asyncio is anyio's, which wraps every read and
write in a cancel scope (``fail_after``) and every connect in a happy-eyeballs task group, and answers each
"has the server hung up?" probe by rebuilding a dict of socket attribute getters. For a cold ``market`` query
(~90 calls, each on a new connection) that was about a third of the HTTP client's CPU
(``bench/bench_http_client.py``). The service only ever runs on asyncio (uvicorn, uvloop), so this backend
uses asyncio's streams: ``asyncio.timeout`` for the per-phase timeouts, ``loop.create_connection`` to
connect, ``StreamWriter.start_tls`` for TLS, and the stream's own end-of-file state for the hang-up probe (the
loop has already read the server's FIN; no system call needed).

Errors are httpcore2's (``ConnectError``, ``ReadTimeout``...), which httpx2 maps to its own, exactly as with
the anyio backend; HTTP/1.1, TLS verification and keep-alive stay httpcore2's and the ``ssl`` module's.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import httpcore2
from httpcore2._backends.base import AsyncNetworkBackend, AsyncNetworkStream

if TYPE_CHECKING:
    import socket
    import ssl
    from collections.abc import Iterable, Iterator

    import httpx2

    SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]

READ_BUFFER_LIMIT = 2**20  # the reader stops reading the socket past twice this much unread (flow control)
HAPPY_EYEBALLS_DELAY_S = 0.25  # RFC 8305's recommended delay before trying the next address


@contextlib.contextmanager
def _mapped(timeout_error: type[Exception], os_error: type[Exception]) -> Iterator[None]:
    """httpcore2's exception for a timeout or a socket error in one phase (connect, read, write)."""
    try:
        yield
    except TimeoutError as exc:
        raise timeout_error(str(exc) or "timed out") from exc
    except (OSError, EOFError) as exc:  # ssl.SSLError is an OSError
        raise os_error(str(exc) or type(exc).__name__) from exc


def _happy_eyeballs() -> dict[str, float]:
    """RFC 8305 address racing where the loop offers it: asyncio's own loop does, uvloop's (the service's) does
    not and tries a host's addresses in turn, each within the connect timeout."""
    if isinstance(asyncio.get_running_loop(), asyncio.BaseEventLoop):
        return {"happy_eyeballs_delay": HAPPY_EYEBALLS_DELAY_S}
    return {}


class AsyncioStream(AsyncNetworkStream):
    """One TCP (or TLS) connection as asyncio streams, with httpcore2's stream interface."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109 (httpcore2's interface)
        with _mapped(httpcore2.ReadTimeout, httpcore2.ReadError):
            if timeout is None:
                return await self._reader.read(max_bytes)
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109 (httpcore2's interface)
        if not buffer:
            return
        with _mapped(httpcore2.WriteTimeout, httpcore2.WriteError):
            self._writer.write(buffer)
            if timeout is None:
                await self._writer.drain()
                return
            async with asyncio.timeout(timeout):
                await self._writer.drain()

    async def aclose(self) -> None:
        self._writer.close()  # the transport closes the socket (TLS: after its close_notify) on its own

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore2's interface)
    ) -> AsyncNetworkStream:
        with _mapped(httpcore2.ConnectTimeout, httpcore2.ConnectError):
            try:
                async with asyncio.timeout(timeout):
                    await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
            except BaseException:
                self._writer.close()
                raise
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # asked of an idle connection: has the server hung up (or sent anything)?
            return self._reader.at_eof() or self._writer.is_closing() or self._reader.exception() is not None
        if info == "ssl_object":
            return self._writer.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        if info == "socket":
            return self._writer.get_extra_info("socket")
        return None


class AsyncioBackend(AsyncNetworkBackend):
    """Connections opened on the running asyncio loop."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore2's interface)
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream:
        with _mapped(httpcore2.ConnectTimeout, httpcore2.ConnectError):
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host,
                    port,
                    local_addr=(local_address, 0) if local_address else None,
                    limit=READ_BUFFER_LIMIT,
                    **_happy_eyeballs(),
                )
        sock = writer.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return AsyncioStream(reader, writer)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore2's interface)
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream:
        with _mapped(httpcore2.ConnectTimeout, httpcore2.ConnectError):
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_unix_connection(path, limit=READ_BUFFER_LIMIT)
        sock: socket.socket = writer.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return AsyncioStream(reader, writer)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def install(client: httpx2.AsyncClient) -> bool:
    """Give httpcore2's own pool (``per_host_pool=False``) this backend (proxy mounts keep httpcore2's own).

    Returns whether it was installed: an httpx2 release that moves the pool's private attribute leaves the
    stock backend in place (slower, same behaviour); ``tests/test_fast_paths.py`` catches that in CI."""
    pool = getattr(client._transport, "_pool", None)
    if not isinstance(pool, httpcore2.AsyncConnectionPool) or not hasattr(pool, "_network_backend"):
        return False
    pool._network_backend = AsyncioBackend()
    return True


__all__ = ["AsyncioBackend", "AsyncioStream", "install"]
