"""httpx2's own asyncio network backend (``httpcore2``'s anyio one), minus its per-check overhead.

Before every request starts and after every response closes, httpcore2's pool asks each idle connection
whether the server has hung up (``get_extra_info("is_readable")``: a ``poll`` of the socket). The anyio
stream answers by building a dict of a dozen attribute getters to find its raw socket, every time: with
100 pooled connections and a ``market`` query's 100+ calls that is ~10,000 dict builds, the single largest
CPU cost of a cold fan-out (``bench/bench_http_client.py``). Here the stream keeps its socket from the
connect (a stream never changes socket; TLS wraps the same one) and polls it directly: the same answer,
the same ``poll``, without the lookup. Everything else (reads, writes, TLS, timeouts, the exception
mapping) is httpcore2's code, unchanged.

Installed by :func:`providers.http.create_http_client` through the transport's pool, whose attribute is
checked by ``tests/test_fast_paths.py``: an httpx2 upgrade that moves it fails that test, while a service
running on such an upgrade keeps the stock backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio.abc
import httpcore2
from httpcore2._backends.anyio import AnyIOBackend, AnyIOStream
from httpcore2._utils import is_socket_readable

if TYPE_CHECKING:
    import socket
    import ssl
    from collections.abc import Iterable

    import httpx2
    from httpcore2._backends.base import AsyncNetworkStream

    SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]


class LeanStream(AnyIOStream):
    """An anyio stream whose readability probe polls the socket it was connected with."""

    def __init__(self, stream: anyio.abc.ByteStream, raw_socket: socket.socket | None) -> None:
        super().__init__(stream)
        self._raw_socket = raw_socket

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return is_socket_readable(self._raw_socket)
        if info == "socket":
            return self._raw_socket
        return super().get_extra_info(info)

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore2's interface)
    ) -> AsyncNetworkStream:
        tls = await super().start_tls(ssl_context, server_hostname=server_hostname, timeout=timeout)
        assert isinstance(tls, AnyIOStream)
        return LeanStream(tls._stream, self._raw_socket)  # TLS runs over the same socket


class LeanBackend(AnyIOBackend):
    """httpcore2's anyio backend whose TCP streams are :class:`LeanStream`."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore2's interface)
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream:
        stream = await super().connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        assert isinstance(stream, AnyIOStream)
        raw = stream._stream.extra(anyio.abc.SocketAttribute.raw_socket, None)
        return LeanStream(stream._stream, raw)


def install(client: httpx2.AsyncClient) -> bool:
    """Give ``client``'s default transport the lean backend (proxy mounts keep httpcore2's own).

    Returns whether it was installed. An httpx2 release that moves the pool's private attribute leaves the
    stock backend in place (slower, same behaviour) rather than stopping the service; the test suite asserts
    the lean backend is installed, so such a release is caught in CI, not in production."""
    pool = getattr(client._transport, "_pool", None)
    if not isinstance(pool, httpcore2.AsyncConnectionPool) or not hasattr(pool, "_network_backend"):
        return False
    pool._network_backend = LeanBackend()
    return True


__all__ = ["LeanBackend", "LeanStream", "install"]
