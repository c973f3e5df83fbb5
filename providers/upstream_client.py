"""The client every market-data call goes through (:class:`~providers.http.ProviderHttp`), on aiohttp.

Why aiohttp here and httpx2 elsewhere: a cold ``market`` query for 20 symbols makes 87 upstream calls, and
their client work sat on its critical path. Measured side by side on the same local server
(``bench/bench_http_client.py``), one call cost 0.42 ms of CPU on httpx2 (even with per-host pools) against
0.16 ms on aiohttp, and the ``market`` query went from 1.66 x to 1.42 x the upstream round trip
(``bench/bench_signal.py`` section 4). The low-volume senders (alerts, Telegram, the OpenAI SDK) keep
httpx2 (:func:`providers.http.create_http_client`): their cost is not on anyone's critical path.

What it keeps of the httpx2 client it replaces: at most ``max_per_host`` connections to each host (idle ones
kept for ``keepalive_seconds``), TLS verified against certifi's roots, proxies from the environment (read once,
``NO_PROXY`` honoured), no redirects followed, the same default headers, the query string sent byte for byte as
encoded, one timeout per phase, and failures named by phase, never the library's own exceptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
import certifi
import structlog
import yarl

from providers.errors import InvalidRequest, MalformedPayload, UpstreamError, UpstreamTimeout, UpstreamUnavailable

if TYPE_CHECKING:
    from collections.abc import Mapping

    from multidict import CIMultiDictProxy

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    status: int
    content: bytes
    headers: CIMultiDictProxy[str] | Mapping[str, str]  # case-insensitive lookups (``Retry-After``)


def _phase(exc: TimeoutError) -> str:
    """Which step timed out, in our words (the exception class names the HTTP library)."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "connect"  # includes waiting for a free connection to the host
    if isinstance(exc, aiohttp.SocketTimeoutError):
        return "read"
    return "request"


# the largest answer read: 32 MiB, far above any venue's (Binance's exchangeInfo is ~140 KB, CoinGecko's coin
# list a few MB) and far below what would strain the process
MAX_BODY_BYTES = 32 * 1024 * 1024
# answers after which preconnect sends nothing more: a key refused, a geo-block, a rate limit or an IP ban
_REFUSALS = frozenset({401, 403, 418, 429, 451})


class UpstreamClient:
    """One per process, shared by every provider. The aiohttp session is opened on first use, inside the
    running loop (aiohttp binds a session to it), and closed by :meth:`aclose`."""

    def __init__(
        self,
        *,
        max_per_host: int = 100,
        user_agent: str = "futures-signal-api",
        keepalive_seconds: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        """``ssl_context``: the roots TLS trusts; certifi's by default (what httpx2 trusted). Proxies come from
        the environment, read once here (:func:`environment_proxies`); an unsupported one refuses to start.
        ``max_body_bytes``: the largest answer read (after decompression); a larger one is a MalformedPayload."""
        self._max_per_host = max_per_host
        self._max_body_bytes = max_body_bytes
        # built now, at start-up: loading certifi's roots takes ~15 ms, not to be paid by the first query
        self._ssl_context = ssl_context or ssl.create_default_context(cafile=certifi.where())
        self._proxies = environment_proxies()
        self._keepalive_seconds = keepalive_seconds
        self._headers = {"User-Agent": user_agent, "Accept": "application/json"}
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=0,  # no process-wide cap: the limit is per host, as venues count connections per client
            limit_per_host=self._max_per_host,
            keepalive_timeout=self._keepalive_seconds,
            ssl=self._ssl_context,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers=self._headers,
            # not aiohttp's own environment lookups: they cost every request a pass over the environment and
            # add credentials from ~/.netrc to venue requests; proxies are resolved here (``_proxy_for``)
            trust_env=False,
            auto_decompress=True,
        )
        self._loop = asyncio.get_running_loop()
        return self._session

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(seconds)
        if timeout is None:  # one per distinct setting (a handful), not one per call
            timeout = self._timeouts[seconds] = aiohttp.ClientTimeout(
                total=None, connect=seconds, sock_connect=seconds, sock_read=seconds
            )
        return timeout

    def _proxy_for(self, url: yarl.URL) -> str | None:
        proxies = self._proxies
        bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]  # (not in typeshed)
        if not proxies or bypass(url.host or "", proxies):
            return None
        return proxies.get(url.scheme) or proxies.get("all")

    async def request(
        self,
        provider: str,
        endpoint: str,
        method: str,
        url: str,
        *,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout_seconds: float,
    ) -> UpstreamResponse:
        """The whole answer, whatever its status. Any failure to get one raises :class:`UpstreamTimeout` or
        :class:`UpstreamUnavailable` (or :class:`InvalidRequest` for a request the client cannot send: a
        header holding a line break), never the library's own exception; the URL is never in the message (a
        keyed provider's URL may carry a token). ``url`` is sent as given (already percent-encoded)."""
        if self._closed:
            raise UpstreamUnavailable(provider, endpoint, "client closed (shutting down)")
        session = self._session
        if session is None or session.closed or self._loop is not asyncio.get_running_loop():
            if session is not None and not session.closed:  # opened on a loop since stopped (tests, CLIs)
                _abandon(session)
            session = self._open()  # first use, or a new event loop (a session belongs to one)
        target = yarl.URL(url, encoded=True)
        try:
            async with session.request(
                method,
                target,
                data=body,
                headers=headers,
                timeout=self._timeout(timeout_seconds),
                allow_redirects=False,
                proxy=self._proxy_for(target),
            ) as response:
                content = await self._read(response, provider, endpoint)
                return UpstreamResponse(response.status, content, response.headers)
        except UpstreamError:  # ours, from reading the answer: as it is
            raise
        except TimeoutError as exc:  # aiohttp's timeouts are TimeoutErrors (and ClientErrors): first
            raise UpstreamTimeout(provider, endpoint, f"timed out ({_phase(exc)})") from None
        except (aiohttp.ClientError, OSError) as exc:  # before ValueError: a certificate error is both
            log.debug("upstream connection failed", provider=provider, endpoint=endpoint, error=type(exc).__name__)
            raise UpstreamUnavailable(provider, endpoint, "connection failed") from None
        except ValueError as exc:  # aiohttp refuses to send it (a control character in a header, a bad URL)
            log.warning("upstream request not sent", provider=provider, endpoint=endpoint, error=type(exc).__name__)
            raise InvalidRequest(provider, endpoint, "request not sent: a header or the URL is malformed") from None
        except Exception as exc:  # whatever else aiohttp raises (a session closed under the call at shutdown):
            # the venue's answer is missing, named, never a raw exception
            log.debug("upstream call failed", provider=provider, endpoint=endpoint, error=type(exc).__name__)
            raise UpstreamUnavailable(provider, endpoint, "connection failed") from None

    async def preconnect(self, provider: str, url: str, connections: int, *, timeout_seconds: float) -> int:
        """Open ``connections`` keep-alive connections to ``url``'s host before a request needs them (at most
        ``max_per_host``): one GET of ``url`` (a venue's ping endpoint) first, then that many at once, each
        answer read so its connection goes back to the pool (an idle one already there is reused and counts).
        A cold query then sends its calls over open connections instead of opening one each (upstream a TCP
        and a TLS handshake: round trips and CPU). A first answer that refuses us (401, 403, 418, 429, 451,
        5xx: a key, a geo-block, a rate limit or ban, a fault) stops it there: a venue saying so is not asked
        again. Returns how many of the burst answered; failures are not raised (the calls that need a
        connection open it as before). Unused, they close after ``keepalive_seconds`` like any idle one."""
        wanted = min(connections, self._max_per_host)
        if wanted <= 0:
            return 0

        async def ping() -> UpstreamResponse:
            return await self.request(
                provider, "preconnect", "GET", url, body=None, headers={}, timeout_seconds=timeout_seconds
            )

        try:
            first = await ping()
        except UpstreamError:
            return 0
        if first.status in _REFUSALS or first.status >= 500:
            log.info("preconnect stopped: the venue refused", provider=provider, status=first.status)
            return 0
        answers = await asyncio.gather(*(ping() for _ in range(wanted)), return_exceptions=True)
        return sum(isinstance(answer, UpstreamResponse) for answer in answers)

    async def _read(self, response: aiohttp.ClientResponse, provider: str, endpoint: str) -> bytes:
        """The answer's body, at most ``max_body_bytes`` of it: a venue (or whatever answers in its place) that
        sends more would otherwise be held in memory whole. A declared length over the limit is refused before
        reading; a compressed answer, or one without a length, is read in chunks and refused once past it."""
        limit = self._max_body_bytes
        length = response.content_length
        if length is not None and length > limit:
            raise MalformedPayload(provider, endpoint, f"answer of {length:,} bytes, over the {limit:,}-byte limit")
        if length is not None and "Content-Encoding" not in response.headers:  # the length bounds the read
            return await response.read()
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_any():  # decompressed as it arrives
            size += len(chunk)
            if size > limit:
                raise MalformedPayload(provider, endpoint, f"answer over the {limit:,}-byte limit")
            chunks.append(chunk)
        return b"".join(chunks)

    async def aclose(self) -> None:
        """Close the connections; later calls fail as unavailable instead of opening a session again."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()
            await asyncio.sleep(0)  # let the transports' close callbacks run before the loop may stop


def _abandon(session: aiohttp.ClientSession) -> None:
    """Drop the connections of a session whose loop has stopped: they cannot be awaited closed any more, and
    left open they would warn when collected. (``_close`` is the synchronous half of ``close``.)"""
    connector = session.connector
    if connector is not None:
        with contextlib.suppress(Exception):
            connector._close(abort_ssl=True)


def environment_proxies() -> dict[str, str]:
    """``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY`` (either case), as httpx2 read them: by
    scheme (``all`` for both), plus ``no``. Only http:// and https:// proxies can be spoken to; another
    (``socks5://``) stops start-up rather than being bypassed in silence."""
    found = urllib.request.getproxies()
    for scheme in ("http", "https", "all"):
        proxy = found.get(scheme)
        if proxy and yarl.URL(proxy).scheme not in ("http", "https"):
            raise ValueError(
                f"the {scheme} proxy set in the environment is not an http:// or https:// URL; "
                "market data cannot go through it"
            )
    return {scheme: value for scheme, value in found.items() if scheme in ("http", "https", "all", "no") and value}


__all__ = ["UpstreamClient", "UpstreamResponse", "environment_proxies"]
