"""The client every market-data call goes through (:class:`~providers.http.ProviderHttp`), on aiohttp.

Why aiohttp here and httpx2 elsewhere: a cold ``market`` query for 20 symbols makes 87 upstream calls, and
their client work sat on its critical path. Measured side by side on the same local server
(``bench/bench_http_client.py``), one call cost 0.42 ms of CPU on httpx2 (even with per-host pools) against
0.16 ms on aiohttp, and the ``market`` query went from 1.66 x to 1.42 x the upstream round trip
(``bench/bench_signal.py`` section 4). The low-volume senders (alerts, Telegram, the OpenAI SDK) keep
httpx2 (:func:`providers.http.create_http_client`): their cost is not on anyone's critical path.

What it keeps of the httpx2 client it replaces: at most ``max_per_host`` connections to each host (idle ones
kept for ``keepalive_seconds``), TLS verified against certifi's roots, proxies from the environment,
no redirects followed, the same default headers, one timeout per phase, and failures named by phase.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
import certifi
import structlog

from providers.errors import UpstreamTimeout, UpstreamUnavailable

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
    ) -> None:
        """``ssl_context``: the roots TLS trusts; certifi's by default (what httpx2 trusted)."""
        self._max_per_host = max_per_host
        # built now, at start-up: loading certifi's roots takes ~15 ms, not to be paid by the first query
        self._ssl_context = ssl_context or ssl.create_default_context(cafile=certifi.where())
        # aiohttp looks proxies up in the environment on every request when asked to (~0.1 ms each):
        # asked only when one is configured, as httpx2 read them once
        self._trust_env = bool(urllib.request.getproxies())
        self._keepalive_seconds = keepalive_seconds
        self._headers = {"User-Agent": user_agent, "Accept": "application/json"}
        self._session: aiohttp.ClientSession | None = None
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
            trust_env=self._trust_env,  # HTTP(S)_PROXY / NO_PROXY, as httpx2 honoured them
            auto_decompress=True,
        )
        return self._session

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(seconds)
        if timeout is None:  # one per distinct setting (a handful), not one per call
            timeout = self._timeouts[seconds] = aiohttp.ClientTimeout(
                total=None, connect=seconds, sock_connect=seconds, sock_read=seconds
            )
        return timeout

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
        """The whole answer, whatever its status. A transport failure or timeout raises
        :class:`UpstreamUnavailable` / :class:`UpstreamTimeout`; the URL is never in the message (a keyed
        provider's URL may carry a token)."""
        session = self._session
        if session is None or session.closed:
            session = self._open()
        try:
            async with session.request(
                method,
                url,
                data=body,
                headers=headers,
                timeout=self._timeout(timeout_seconds),
                allow_redirects=False,
            ) as response:
                content = await response.read()
                return UpstreamResponse(response.status, content, response.headers)
        except TimeoutError as exc:  # aiohttp's timeouts are TimeoutErrors (and ClientErrors): first
            raise UpstreamTimeout(provider, endpoint, f"timed out ({_phase(exc)})") from None
        except (aiohttp.ClientError, OSError) as exc:
            log.debug("upstream connection failed", provider=provider, endpoint=endpoint, detail=repr(exc))
            raise UpstreamUnavailable(provider, endpoint, "connection failed") from None
        except Exception:
            if session.closed:  # closed under the call (shutdown): aiohttp fails it in more ways than one
                raise UpstreamUnavailable(provider, endpoint, "connection failed") from None
            raise

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()
            await asyncio.sleep(0)  # let the transports' close callbacks run before the loop may stop


__all__ = ["UpstreamClient", "UpstreamResponse"]
