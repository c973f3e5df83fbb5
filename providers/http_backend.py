"""httpx2's network layer on the running asyncio loop directly, instead of through anyio.

httpcore2 reaches the network through a backend; its default on asyncio is anyio's, which wraps every read and
write in a cancel scope (``fail_after``) and every connect in a happy-eyeballs task group, and answers each
"has the server hung up?" probe by rebuilding a dict of socket attribute getters. For a cold ``market`` query
(~90 calls, each on a new connection) that was about a third of the HTTP client's CPU
(``bench/bench_http_client.py``). The service only ever runs on asyncio (uvicorn, uvloop), so this backend
uses asyncio's streams: ``asyncio.timeout`` for the per-phase timeouts, ``loop.create_connection`` to
connect, ``StreamWriter.start_tls`` for TLS, and, for the hang-up probe, what the stream has buffered and then
one ``poll`` of the socket (a FIN the loop has not read yet).

Errors are httpcore2's (``ConnectError``, ``ReadTimeout``...), which httpx2 maps to its own, exactly as with
the anyio backend; HTTP/1.1, TLS verification and keep-alive stay httpcore2's and the ``ssl`` module's.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import socket
from asyncio import staggered
from typing import TYPE_CHECKING, Any

import httpcore2
from httpcore2._backends.base import AsyncNetworkBackend, AsyncNetworkStream
from httpcore2._utils import is_socket_readable

if TYPE_CHECKING:
    import ssl
    from collections.abc import Iterable, Iterator

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


async def _open_tcp(
    host: str, port: int, local_address: str | None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP connection to the first of ``host``'s addresses to answer, raced as RFC 8305 asks (a dual-stack
    venue whose IPv6 route drops packets still connects over IPv4). asyncio's own loop races them itself;
    uvloop's (the service's) ``create_connection`` has no such option, so its addresses are raced here."""
    loop = asyncio.get_running_loop()
    local_addr = (local_address, 0) if local_address else None
    if isinstance(loop, asyncio.BaseEventLoop):
        return await asyncio.open_connection(
            host, port, local_addr=local_addr, limit=READ_BUFFER_LIMIT, happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY_S
        )
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not infos:
        raise OSError(f"no address for {host!r}")
    sock = await race_addresses(_interleaved(infos), local_address, HAPPY_EYEBALLS_DELAY_S)
    try:
        return await asyncio.open_connection(sock=sock, limit=READ_BUFFER_LIMIT)
    except BaseException:
        sock.close()
        raise


AddrInfo = tuple[Any, Any, int, str, Any]  # what getaddrinfo returns per address


def _interleaved(infos: list[AddrInfo]) -> list[AddrInfo]:
    """The addresses alternating between families, the first-listed family first (RFC 8305, section 4)."""
    by_family: dict[int, list[AddrInfo]] = {}
    for info in infos:
        by_family.setdefault(info[0], []).append(info)
    rows = itertools.zip_longest(*by_family.values())
    return [info for row in rows for info in row if info is not None]


async def race_addresses(infos: list[AddrInfo], local_address: str | None, delay: float) -> socket.socket:
    """A connected socket from the first address to connect; the next attempt starts ``delay`` seconds after
    the previous one, or at once when it fails. The others are closed."""
    loop = asyncio.get_running_loop()
    opened: list[socket.socket] = []

    async def attempt(info: AddrInfo) -> socket.socket:
        family, kind, proto, _, address = info
        sock = socket.socket(family, kind, proto)
        opened.append(sock)
        sock.setblocking(False)
        if local_address:
            sock.bind((local_address, 0))
        await loop.sock_connect(sock, address)
        return sock

    if len(infos) == 1:  # the usual case: no race, no task
        try:
            return await attempt(infos[0])
        except BaseException:
            for sock in opened:
                sock.close()
            raise
    winner: socket.socket | None = None
    try:
        attempts = [functools.partial(attempt, info) for info in infos]
        winner, _, errors = await staggered.staggered_race(attempts, delay)
    finally:
        for sock in opened:
            if sock is not winner:
                sock.close()
    if winner is None:
        raise OSError("; ".join(str(e) for e in errors if e is not None) or "no address connected")
    return winner


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
        if info == "is_readable":  # asked of an idle connection: has the server hung up or sent anything?
            return self._has_something_to_read()
        if info == "ssl_object":
            return self._writer.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        if info == "socket":
            return self._writer.get_extra_info("socket")
        return None

    def _has_something_to_read(self) -> bool:
        """An idle HTTP/1.1 connection has nothing to read: anything there (bytes the loop has buffered, an
        end of file, an error) or still in the kernel (a FIN that came while the loop was busy) means the
        server hung up or sent a stray answer (a 408), and the connection must not carry the next request."""
        reader = self._reader
        if reader.at_eof() or reader.exception() is not None or self._writer.is_closing():
            return True
        if getattr(reader, "_buffer", None):  # asyncio's StreamReader keeps what it read here (no public view)
            return True
        return is_socket_readable(self._writer.get_extra_info("socket"))


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
                reader, writer = await _open_tcp(host, port, local_address)
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


__all__ = ["AsyncioBackend", "AsyncioStream", "race_addresses"]
