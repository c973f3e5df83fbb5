"""A keep-alive pool per upstream host for httpx2, in place of httpcore2's one pool for every host.

httpcore2's pool re-plans every connection of every host whenever a request starts or a response closes
(``_assign_requests_to_connections``): it walks the whole connection list and probes each idle socket on each
pass. With a ``market`` query's ~90 concurrent calls that walk is the largest single CPU cost of the fan-out
(``bench/bench_http_client.py``), and it grows with the square of the calls in flight. Here each host keeps a
stack of idle connections: a request takes the most recently used one (probing only that socket), or opens a
new one while the host is under its limit, else waits for a slot; a closed response puts its connection back.
Each step costs the same however many calls are in flight or hosts are in use.

The per-host limit is also a courtesy to the venues: one slow host can hold at most its own slots, never the
connections the others need. The connections themselves are httpcore2's (``AsyncHTTPConnection``: connect,
TLS, HTTP/1.1, keep-alive expiry, hang-up detection) over :mod:`providers.http_backend`'s asyncio
streams, so only the bookkeeping is ours.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import httpcore2

from providers.http_backend import AsyncioBackend

if TYPE_CHECKING:
    import ssl
    from collections.abc import AsyncIterator

    import httpx2
    from httpcore2._backends.base import AsyncNetworkBackend


class HostPool:
    """The connections to one origin: idle ones stacked (last used on top), at most ``limit`` in use at once."""

    def __init__(self, limit: int) -> None:
        self.idle: list[httpcore2.AsyncHTTPConnection] = []
        self.busy: set[httpcore2.AsyncHTTPConnection] = set()  # closed too when the pool closes
        self.slots = asyncio.Semaphore(limit)

    def take_idle(self) -> tuple[httpcore2.AsyncHTTPConnection | None, list[httpcore2.AsyncHTTPConnection]]:
        """The top idle connection still usable, and the ones found expired or hung up on the way (to close)."""
        stale: list[httpcore2.AsyncHTTPConnection] = []
        while self.idle:
            connection = self.idle.pop()
            if connection.is_available() and not connection.has_expired():
                return connection, stale
            stale.append(connection)
        return None, stale


class PerHostPool:
    """httpcore2's pool interface (``handle_async_request``, ``aclose``) over one :class:`HostPool` per origin."""

    def __init__(
        self,
        *,
        max_per_host: int,
        ssl_context: ssl.SSLContext | None = None,
        keepalive_expiry: float | None = 5.0,
        network_backend: AsyncNetworkBackend | None = None,
    ) -> None:
        self.max_per_host = max_per_host
        self._ssl_context = ssl_context
        self._keepalive_expiry = keepalive_expiry
        self._network_backend = network_backend if network_backend is not None else AsyncioBackend()
        self._hosts: dict[tuple[bytes, bytes, int], HostPool] = {}  # (scheme, host, port): Origin is unhashable
        self._swept_at = time.monotonic()
        self._closing: set[asyncio.Task[None]] = set()  # held: the loop keeps only weak references to tasks

    def _new_connection(self, origin: httpcore2.Origin) -> httpcore2.AsyncHTTPConnection:
        return httpcore2.AsyncHTTPConnection(
            origin=origin,
            ssl_context=self._ssl_context,
            keepalive_expiry=self._keepalive_expiry,
            network_backend=self._network_backend,
        )

    async def handle_async_request(self, request: httpcore2.Request) -> httpcore2.Response:
        origin = request.url.origin
        if origin.scheme not in (b"http", b"https"):
            raise httpcore2.UnsupportedProtocol(f"unsupported URL scheme {origin.scheme.decode()!r}")
        key = (origin.scheme, origin.host, origin.port)
        host = self._hosts.get(key)
        if host is None:
            host = self._hosts[key] = HostPool(self.max_per_host)
        timeout = request.extensions.get("timeout", {}).get("pool")
        try:
            async with asyncio.timeout(timeout):
                await host.slots.acquire()
        except TimeoutError:
            raise httpcore2.PoolTimeout(f"no connection to {origin} free within {timeout} s") from None
        closing: list[httpcore2.AsyncHTTPConnection] = []
        try:
            while True:
                connection, stale = host.take_idle()
                closing += stale
                reused = connection is not None
                if connection is None:
                    connection = self._new_connection(origin)
                host.busy.add(connection)
                try:
                    response = await connection.handle_async_request(request)
                except httpcore2.ConnectionNotAvailable:
                    host.busy.discard(connection)
                    if not reused:
                        raise
                    closing.append(connection)  # it went away between the probe and the send: try another
                    continue
                except BaseException:
                    host.busy.discard(connection)
                    closing.append(connection)
                    raise
                break
        except BaseException:
            host.slots.release()
            raise
        finally:
            self._close_soon(closing)  # never awaited here: a cancellation must not lose the answer or the slot
            self._sweep_if_due()
        return httpcore2.Response(
            status=response.status,
            headers=response.headers,
            content=_Released(response, connection, host),
            extensions=response.extensions,
        )

    def _sweep_if_due(self) -> None:
        """Close idle connections past their keep-alive, now and then: a host no longer called keeps none."""
        now = time.monotonic()
        if self._keepalive_expiry is None or now - self._swept_at < self._keepalive_expiry:
            return
        self._swept_at = now
        for host in self._hosts.values():
            keep: list[httpcore2.AsyncHTTPConnection] = []
            expired: list[httpcore2.AsyncHTTPConnection] = []
            for connection in host.idle:
                (expired if connection.has_expired() else keep).append(connection)
            if expired:
                host.idle = keep
                self._close_soon(expired)

    def _close_soon(self, connections: list[httpcore2.AsyncHTTPConnection]) -> None:
        """Close ``connections`` in a task of its own (held until done)."""
        if connections:
            task = asyncio.get_running_loop().create_task(_close(connections))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        closing = [c for host in self._hosts.values() for c in (*host.idle, *host.busy)]
        self._hosts.clear()
        await _close(closing)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    async def __aenter__(self) -> PerHostPool:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()


class _Released:
    """A response body that gives its connection back (or drops it) and frees its slot when closed, once."""

    def __init__(self, response: httpcore2.Response, connection: httpcore2.AsyncHTTPConnection, host: HostPool) -> None:
        self._stream = response.stream
        self._connection = connection
        self._host: HostPool | None = host

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:  # type: ignore[union-attr]
            yield chunk

    async def aclose(self) -> None:
        host, self._host = self._host, None
        if host is None:
            return
        try:
            close = getattr(self._stream, "aclose", None)
            if close is not None:
                await close()  # HTTP/1.1: the connection is idle again (keep-alive) or closed
        finally:
            connection = self._connection
            host.busy.discard(connection)
            kept = connection.is_idle()  # kept alive: the next request to this host takes it first
            if kept:
                host.idle.append(connection)
            host.slots.release()  # before any await: a cancelled close must not keep the slot
            if not kept:
                await _close([connection])


async def _close(connections: list[httpcore2.AsyncHTTPConnection]) -> None:
    """Close connections; a cancelled caller stops waiting but the closing goes on (a socket must not leak)."""
    if connections:
        await asyncio.shield(asyncio.gather(*(connection.aclose() for connection in connections)))


def install(client: httpx2.AsyncClient, *, max_per_host: int) -> bool:
    """Replace the pool of ``client``'s default transport (proxy mounts keep httpcore2's own).

    Returns whether it was installed. An httpx2 release that moves the transport's private ``_pool`` leaves
    the stock pool in place (slower, same behaviour) rather than stopping the service; the test suite asserts
    this pool is installed, so such a release is caught in CI, not in production."""
    stock = getattr(client._transport, "_pool", None)
    if not isinstance(stock, httpcore2.AsyncConnectionPool):
        return False
    client._transport._pool = PerHostPool(  # type: ignore[attr-defined]
        max_per_host=max_per_host,
        ssl_context=getattr(stock, "_ssl_context", None),
        keepalive_expiry=getattr(stock, "_keepalive_expiry", 5.0),
    )
    return True


__all__ = ["HostPool", "PerHostPool", "install"]
