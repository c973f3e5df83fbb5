"""The shared HTTP layer: how a provider calls its venue, and the process's httpx2 client.

Market data goes out through one :class:`~providers.upstream_client.UpstreamClient` (aiohttp: measured
2.6 x cheaper per call than httpx2, see that module). The low-volume senders (alerts, Telegram, the OpenAI
SDK) share one ``httpx2.AsyncClient`` (:func:`create_http_client`): httpx is frozen at 0.28, httpx2 is its
maintained continuation with the same API (openai 3.x and Starlette's test client already use it).

Each provider gets a :class:`ProviderHttp`: its base URL, headers, per-call timeout, retry policy,
cache, and a hook that turns a venue's error envelope (Binance answers some errors with HTTP 200) into
the taxonomy of :mod:`providers.errors`. Retries happen only for :class:`RetryableError`, honour
``Retry-After`` up to a cap, and otherwise back off exponentially with jitter (tenacity).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import httpx2
import orjson
import structlog
from prometheus_client import Counter, Histogram
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from providers.errors import (
    MalformedPayload,
    RetryableError,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
    classify_status,
    non_finite,
    parse_retry_after,
    unexpected_shape,
)
from providers.normalize import first_non_finite

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from providers.cache import Cache
    from providers.resilience import CircuitBreaker, OutgoingLimiter
    from providers.upstream_client import UpstreamClient, UpstreamResponse

T = TypeVar("T")
log = structlog.get_logger(__name__)

UPSTREAM_REQUESTS = Counter(
    "upstream_requests_total",
    "Upstream HTTP calls by provider, endpoint and outcome",
    ["provider", "endpoint", "outcome"],
)
UPSTREAM_LATENCY = Histogram(
    "upstream_request_seconds",
    "Upstream HTTP call latency",
    ["provider", "endpoint"],
    buckets=(0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4),
)


def declare_endpoints(provider: str, endpoints: Iterable[str]) -> None:
    """Create each endpoint's ``ok`` series now, at zero: Prometheus's advice for label values known ahead (a
    rate over a series that only appears with its first call reads nothing before it), and the first call of
    each endpoint does not pay for building its series (~30 µs each; a cold signal calls eight or nine)."""
    for endpoint in endpoints:
        UPSTREAM_REQUESTS.labels(provider, endpoint, "ok")
        UPSTREAM_LATENCY.labels(provider, endpoint)


class ErrorHook(Protocol):
    """Inspect a decoded body; return an error when it is a venue error envelope, else None."""

    def __call__(self, provider: str, endpoint: str, status: int, payload: Any) -> UpstreamError | None: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 3
    max_wait_seconds: float = 2.0  # a Retry-After longer than this is not waited for: we fail over


def create_http_client(*, max_connections: int = 100, user_agent: str = "futures-signal-api") -> httpx2.AsyncClient:
    """The process-wide client of the low-volume senders (alerts, Telegram, the OpenAI SDK). Timeouts are set
    per call, so the default here is only a backstop. Market data goes through
    :class:`~providers.upstream_client.UpstreamClient` instead."""
    return httpx2.AsyncClient(
        timeout=httpx2.Timeout(30.0),
        limits=httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        headers={"User-Agent": user_agent, "Accept": "application/json"},
        follow_redirects=False,
    )


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    """One upstream request as the retry and cache layers pass it along."""

    method: str
    path: str
    endpoint: str
    query: Mapping[str, str] | None
    body: Mapping[str, Any] | None


class ProviderHttp:
    """One provider's use of the shared client: URL, headers, timeout, retries, cache, error hook."""

    def __init__(
        self,
        provider: str,
        client: UpstreamClient,
        base_url: str,
        *,
        cache: Cache,
        timeout_seconds: float,
        retry: RetryPolicy,
        headers: Mapping[str, str] | None = None,
        keyed: bool = False,
        error_hook: ErrorHook | None = None,
        limiter: OutgoingLimiter | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.provider = provider
        self.limiter = limiter
        self.breaker = breaker
        self.base_url = base_url.rstrip("/")
        self._client = client
        self._cache = cache
        self._timeout_seconds = timeout_seconds
        self._retry = retry
        self._headers = dict(headers or {})
        self._json_headers = {**self._headers, "Content-Type": "application/json"}
        self._keyed = keyed
        self._error_hook = error_hook
        self._retrying = AsyncRetrying(
            stop=stop_after_attempt(retry.attempts),
            retry=retry_if_exception_type(RetryableError) & _retry_after_within(retry.max_wait_seconds),
            wait=_wait_retry_after_or_backoff(retry.max_wait_seconds),
            reraise=True,
        )

    async def get(
        self,
        path: str,
        params: Mapping[str, str | int] | None,
        *,
        endpoint: str,
        ttl: float,
        parse: Callable[[Any], T],
    ) -> T:
        """GET ``path``, decode JSON, check for error envelopes, parse; cached for ``ttl`` seconds."""
        query = {k: str(v) for k, v in (params or {}).items()}
        key = f"{self.provider}:GET:{path}?" + "&".join(f"{k}={query[k]}" for k in sorted(query))
        return await self._cached(key, ttl, UpstreamCall("GET", path, endpoint, query, None), parse)

    async def post(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        endpoint: str,
        ttl: float,
        parse: Callable[[Any], T],
    ) -> T:
        """POST a JSON body (Hyperliquid's ``/info`` style); cached by the body's canonical JSON."""
        key = f"{self.provider}:POST:{path}:" + orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode()
        return await self._cached(key, ttl, UpstreamCall("POST", path, endpoint, None, body), parse)

    async def _cached(self, key: str, ttl: float, call: UpstreamCall, parse: Callable[[Any], T]) -> T:
        """Single-flight, cached: request with retries, then parse; a parse failure is MalformedPayload."""

        async def load() -> T:
            payload = await self._request_with_retries(call)
            try:
                result = parse(payload)
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                raise unexpected_shape(self.provider, call.endpoint, exc) from exc
            where = first_non_finite(result)  # venues send numbers as strings: "NaN" parses as a float
            if where is not None:
                raise non_finite(self.provider, call.endpoint, where)
            return result

        return await self._cache.get_or_load(key, ttl, load)

    async def _request_with_retries(self, call: UpstreamCall) -> Any:
        if self.breaker is not None:
            self.breaker.before_call(call.endpoint)  # fails fast while open, outside the retry loop
        try:
            try:
                payload = await self._request_once(call)
            except RetryableError as first:
                payload = await self._retry_after(first, call)
        except UpstreamError as exc:
            if self.breaker is not None:
                self.breaker.record_failure(exc)
            raise
        if self.breaker is not None:
            self.breaker.record_success()
        return payload

    async def _retry_after(self, first: RetryableError, call: UpstreamCall) -> Any:
        """The attempts after a failed first one, under tenacity's policy. Most calls succeed at once and
        never enter tenacity (its per-attempt bookkeeping was ~10 % of a cold fan-out's CPU); a failure does,
        as its attempt 1, so the retry decision, the backoff and the attempt count are tenacity's as before."""
        replayed = False
        async for attempt in self._retrying.copy():
            with attempt:
                if not replayed:
                    replayed = True
                    raise first
                return await self._request_once(call)
        raise AssertionError("unreachable: tenacity returns or re-raises")  # pragma: no cover

    async def _request_once(self, call: UpstreamCall) -> Any:
        method, endpoint, query, body = call.method, call.endpoint, call.query, call.body
        url = self.base_url + call.path
        if query:  # encoded as httpx2 encodes a query (percent-encoding, order kept)
            url = f"{url}?{httpx2.QueryParams(query)}"
        started = time.perf_counter()
        outcome = "ok"
        try:
            if self.limiter is not None:
                await self.limiter.acquire(endpoint)
            response = await self._client.request(
                self.provider,
                endpoint,
                method,
                url,
                body=orjson.dumps(body) if body is not None else None,
                headers=self._headers if body is None else self._json_headers,
                timeout_seconds=self._timeout_seconds,
            )
            return self._decode(response, endpoint)
        except UpstreamError as exc:
            outcome = exc.code
            raise
        finally:
            UPSTREAM_REQUESTS.labels(self.provider, endpoint, outcome).inc()
            UPSTREAM_LATENCY.labels(self.provider, endpoint).observe(time.perf_counter() - started)

    def _decode(self, response: UpstreamResponse, endpoint: str) -> Any:
        status = response.status
        try:
            payload: Any = orjson.loads(response.content) if response.content else None
        except orjson.JSONDecodeError:
            payload = None
            if status < 400:
                raise MalformedPayload(
                    self.provider,
                    endpoint,
                    f"invalid JSON in HTTP {status} body ({len(response.content)} bytes)",
                ) from None
        if self._error_hook is not None:
            venue_error = self._error_hook(self.provider, endpoint, status, payload)
            if venue_error is not None:
                raise venue_error
        if status >= 400:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise classify_status(
                self.provider,
                endpoint,
                status,
                _short_message(payload),
                retry_after=retry_after,
                keyed=self._keyed,
            )
        if payload is None:
            raise MalformedPayload(self.provider, endpoint, f"empty body with HTTP {status}")
        return payload


def _phase(exc: httpx2.TimeoutException) -> str:
    """Which step timed out, in our words (the exception class names the HTTP library)."""
    for kind, phase in (
        (httpx2.ConnectTimeout, "connect"),
        (httpx2.ReadTimeout, "read"),
        (httpx2.WriteTimeout, "write"),
        (httpx2.PoolTimeout, "connection pool"),
    ):
        if isinstance(exc, kind):
            return phase
    return "request"


def _short_message(payload: Any) -> str:
    if isinstance(payload, dict):
        for key in ("msg", "message", "error", "detail"):
            value = payload.get(key)
            if isinstance(value, str) and value:
                return value[:200]
    return ""


def _retry_after_within(cap: float) -> Any:
    """Do not retry when the venue asks us to wait longer than ``cap``: fail over instead."""
    from tenacity import retry_base

    class _Within(retry_base):
        def __call__(self, retry_state: RetryCallState) -> bool:
            outcome = retry_state.outcome
            if outcome is None or not outcome.failed:
                return False
            exc = outcome.exception()
            return not (isinstance(exc, RetryableError) and exc.retry_after is not None and exc.retry_after > cap)

    return _Within()


def _wait_retry_after_or_backoff(cap: float) -> Callable[[RetryCallState], float]:
    backoff = wait_exponential_jitter(multiplier=0.1, max=cap, jitter=0.1)

    def wait(retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None and outcome.failed else None
        if isinstance(exc, RetryableError) and exc.retry_after is not None:
            return min(exc.retry_after, cap)
        return float(backoff(retry_state))

    return wait


async def post_once(
    client: httpx2.AsyncClient,
    provider: str,
    endpoint: str,
    url: str,
    body: bytes,
    *,
    headers: Mapping[str, str],
    timeout_seconds: float,
) -> tuple[int, Any, Mapping[str, str]]:
    """One uncached, unretried POST of a prepared body (alerts: each send is its own decision); the status,
    the decoded JSON body (None when it is not JSON) and the headers. Only transport failures raise. The
    URL never reaches an error or a log line: a Telegram URL holds the bot token."""
    started = time.perf_counter()
    outcome = "ok"
    try:
        try:
            response = await client.post(
                url, content=body, headers={"Content-Type": "application/json", **headers}, timeout=timeout_seconds
            )
        except httpx2.TimeoutException as exc:
            raise UpstreamTimeout(provider, endpoint, f"timed out ({_phase(exc)})") from None
        except httpx2.TransportError:
            raise UpstreamUnavailable(provider, endpoint, "connection failed") from None
        try:
            payload: Any = orjson.loads(response.content) if response.content else None
        except orjson.JSONDecodeError:
            payload = None
        if response.status_code >= 400:
            outcome = f"http_{response.status_code // 100}xx"
        return response.status_code, payload, response.headers
    except UpstreamError as exc:
        outcome = exc.code
        raise
    finally:
        UPSTREAM_REQUESTS.labels(provider, endpoint, outcome).inc()
        UPSTREAM_LATENCY.labels(provider, endpoint).observe(time.perf_counter() - started)
