"""Budgets per caller, GitHub-style: requests per window and cost points per window, plus WebSocket limits.

The counting is the ``limits`` library's fixed-window strategy over an async storage chosen by URI
(``memory://`` in process by default; ``redis://host:6379`` shares the budgets between workers with no
code change). A caller is a :class:`~signal_api.security.principal.Principal`: an API key, or the
client address for anonymous callers (``Principal.limit_key``), each with its own default budgets.

Who charges what:

- :class:`RateLimitMiddleware` (after authentication) charges one request to every ``/graphql``,
  ``/invoke`` and ``/v1/...`` request, answers 429 with ``Retry-After`` and the JSON error envelope when
  the request budget is spent, and writes ``X-RateLimit-*`` headers on every answer of those routes.
  It also leaves the :class:`RateLimits` in ``scope["state"]`` for the next two.
- ``schema.ratelimit.CostBudget`` (a schema extension) charges the operation's cost before execution,
  for ``/graphql``, ``/invoke`` and WebSocket operations alike, and puts the charge into the scope
  state, where the middleware turns it into ``X-RateLimit-Cost-*`` headers (and ``Retry-After`` on a 429).
- WebSocket connections are counted per client address here (at the handshake) and per key in the
  subscription handler (after ``connection_init``, where the key arrives); frames larger than the HTTP
  body cap close the socket with 1009. Connection counts are per process (sockets live in one process).

A refused charge consumes nothing: a client that keeps retrying a too-expensive query does not push
its own reset further away.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import orjson
from limits import RateLimitItemPerSecond
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string

from schema.ratelimit import COST_STATE_KEY as COST_BUDGET_STATE_KEY
from schema.ratelimit import LIMITS_STATE_KEY, RATE_LIMITED
from signal_api.metrics import RATE_LIMIT_REFUSALS, WS_CONNECTIONS
from signal_api.security.principal import Principal, principal_of

if TYPE_CHECKING:
    from collections.abc import MutableMapping

    from limits.aio.storage import Storage
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from signal_api.settings import Settings

REQUEST_BUDGET_STATE_KEY = "rate_limit_requests"  # scope["state"]: this request's request-budget charge
LIMITED_PREFIXES = ("/graphql", "/invoke", "/v1/")


@dataclass(frozen=True, slots=True)
class LimitPolicy:
    """The configured budgets; ``enabled=False`` turns the request and cost budgets off."""

    enabled: bool = True
    window_seconds: int = 60
    anonymous_requests: int = 300
    key_requests: int = 1_200
    anonymous_cost: int = 1_000
    key_cost: int = 5_000
    auth_failures: int = 30  # refused keys per window per address; past it, 429 before any key lookup
    ws_per_address: int = 20
    ws_per_key: int = 50
    max_frame_bytes: int = 65_536


@dataclass(frozen=True, slots=True)
class Charge:
    """One budget after a charge: what the headers and ``rateLimit`` show."""

    limit: int
    remaining: int
    reset_at: float  # epoch seconds when the window (and so the full budget) comes back
    allowed: bool
    charged: int  # what this charge took (0 when refused)

    def retry_after(self, now: float | None = None) -> int:
        """Whole seconds until the window resets (at least 1)."""
        return max(1, math.ceil(self.reset_at - (time.time() if now is None else now)))


def anonymous_principal(scope: MutableMapping[str, Any]) -> Principal:
    """The caller when authentication put nobody in the scope: anonymous, known by its address."""
    client = scope.get("client")
    return Principal(address=str(client[0]) if client else "unknown")


def _principal(scope: MutableMapping[str, Any]) -> Principal | None:
    return principal_of(cast("dict[str, Any]", scope))


def caller_of(scope: MutableMapping[str, Any]) -> Principal:
    return _principal(scope) or anonymous_principal(scope)


def _per_window(per_minute: int, window_seconds: int) -> int:
    """A key's own per-minute rate scaled to the window (at least 1)."""
    return max(1, round(per_minute * window_seconds / 60))


class RateLimits:
    """The budgets of one app over one ``limits`` storage, and the WebSocket connection counts."""

    def __init__(self, policy: LimitPolicy, storage_uri: str = "memory://") -> None:
        self.policy = policy
        uri = storage_uri if storage_uri.startswith("async+") else f"async+{storage_uri}"
        # Redis through the official client (the `redis` package REDIS_URL uses), not limits' coredis default
        shared = uri.split("://")[0] in ("async+redis", "async+rediss")
        options = {"implementation": "redispy"} if shared else {}
        self.storage: Storage = storage_from_string(uri, **options)  # type: ignore[assignment]
        # Redis unreachable: budgets are not enforced (counted as unspent) rather than every request failing
        self._outage: tuple[type[Exception], ...] = tuple(self._errors_of(self.storage)) if shared else ()
        self.storage_errors = 0
        self.limiter = FixedWindowRateLimiter(self.storage)
        self.connections: Counter[str] = Counter()  # open WebSocket connections by address / key

    @property
    def enabled(self) -> bool:
        return self.policy.enabled

    def request_limit(self, principal: Principal) -> int:
        if principal.rate_per_minute is not None:
            return _per_window(principal.rate_per_minute, self.policy.window_seconds)
        return self.policy.anonymous_requests if principal.anonymous else self.policy.key_requests

    def cost_limit(self, principal: Principal) -> int:
        if principal.cost_per_minute is not None:
            return _per_window(principal.cost_per_minute, self.policy.window_seconds)
        return self.policy.anonymous_cost if principal.anonymous else self.policy.key_cost

    async def charge_request(self, principal: Principal) -> Charge:
        return await self._charge("requests", principal.limit_key, self.request_limit(principal), 1)

    async def charge_cost(self, principal: Principal, cost: int) -> Charge:
        return await self._charge("cost", principal.limit_key, self.cost_limit(principal), max(0, cost))

    async def auth_failures_spent(self, address: str) -> Charge | None:
        """The address's refused-key budget when it is spent (``None`` while keys may still be tried).

        Counted even when request budgets are off: guessing keys is never a benchmark."""
        item = RateLimitItemPerSecond(self.policy.auth_failures, self.policy.window_seconds)
        if await self.limiter.test(item, "auth_failures", address):
            return None
        stats = await self.limiter.get_window_stats(item, "auth_failures", address)
        return Charge(self.policy.auth_failures, 0, stats.reset_time, False, 0)

    async def charge_auth_failure(self, address: str) -> None:
        item = RateLimitItemPerSecond(self.policy.auth_failures, self.policy.window_seconds)
        await self.limiter.hit(item, "auth_failures", address)

    async def charge_cost_of(self, scope: MutableMapping[str, Any], cost: int) -> Charge:
        """The cost budget as ``schema.ratelimit.CostBudget`` charges it: the caller read from the scope."""
        charge = await self.charge_cost(caller_of(scope), cost)
        if not charge.allowed:
            RATE_LIMIT_REFUSALS.labels("cost").inc()
        return charge

    @staticmethod
    def _errors_of(storage: Storage) -> tuple[type[Exception], ...]:
        errors = storage.base_exceptions
        return errors if isinstance(errors, tuple) else (errors,)

    async def _charge(self, budget: str, who: str, limit: int, cost: int) -> Charge:
        item = RateLimitItemPerSecond(limit, self.policy.window_seconds)
        try:
            allowed = cost <= limit and (cost == 0 or await self.limiter.test(item, budget, who, cost=cost))
            if allowed and cost > 0:
                allowed = await self.limiter.hit(item, budget, who, cost=cost)  # False only if a racer got there first
            stats = await self.limiter.get_window_stats(item, budget, who)
        except self._outage:
            self.storage_errors += 1  # the shared store is away: serve, unbudgeted, until it is back
            return Charge(limit, limit, time.time() + self.policy.window_seconds, cost <= limit, 0)
        reset_at = stats.reset_time if stats.remaining < limit else time.time() + self.policy.window_seconds
        return Charge(limit, max(0, stats.remaining), reset_at, allowed, cost if allowed else 0)

    # --- WebSocket connections (per process) ---------------------------------------------------

    def open_connection(self, who: str, limit: int) -> bool:
        """Count one more connection for ``who`` unless that reaches past ``limit``."""
        if self.connections[who] >= limit:
            return False
        self.connections[who] += 1
        return True

    def close_connection(self, who: str) -> None:
        self.connections[who] -= 1
        if self.connections[who] <= 0:
            del self.connections[who]

    def admit_key_connection(self, scope: MutableMapping[str, Any]) -> str | None:
        """After ``connection_init``: count the connection against its key. Returns the slot to release
        later, ``""`` for an anonymous connection (counted by address only), ``None`` when refused."""
        principal = _principal(scope)
        if principal is None or principal.anonymous:
            return ""
        slot = principal.limit_key
        if not self.open_connection(slot, self.policy.ws_per_key):
            RATE_LIMIT_REFUSALS.labels("ws_connections_per_key").inc()
            return None
        return slot

    async def aclose(self) -> None:
        """Stop the in-memory storage's expiry task, if it runs one; close a Redis storage's connections."""
        timer = getattr(self.storage, "timer", None)
        if timer is not None and not timer.done():
            timer.cancel()
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)  # limits' redis-py client
        if client is not None and hasattr(client, "aclose"):
            await client.aclose()


def limits_of(scope: MutableMapping[str, Any]) -> RateLimits | None:
    limits = (scope.get("state") or {}).get(LIMITS_STATE_KEY)
    return limits if isinstance(limits, RateLimits) else None


def rate_limit_headers(charge: Charge, prefix: str = "x-ratelimit") -> list[tuple[bytes, bytes]]:
    return [
        (f"{prefix}-limit".encode(), str(charge.limit).encode()),
        (f"{prefix}-remaining".encode(), str(charge.remaining).encode()),
        (f"{prefix}-reset".encode(), str(math.ceil(charge.reset_at)).encode()),
    ]


def refusal_body(message: str) -> bytes:
    return orjson.dumps({"ok": False, "error": {"code": RATE_LIMITED, "message": message}})


class RateLimitMiddleware:
    """The request budget on the API routes, the headers of both budgets, and the WebSocket limits
    (connections per address, frame size). Runs after authentication (reads the principal)."""

    def __init__(self, app: ASGIApp, limits: RateLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or not scope["path"].startswith(LIMITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state[LIMITS_STATE_KEY] = self.limits
        if not self.limits.enabled:
            await self.app(scope, receive, send)
            return
        principal = caller_of(scope)
        charge = await self.limits.charge_request(principal)
        state[REQUEST_BUDGET_STATE_KEY] = charge
        if not charge.allowed:
            RATE_LIMIT_REFUSALS.labels("requests").inc()
            message = f"request budget of {charge.limit} per {self.limits.policy.window_seconds} s spent"
            await refuse_request(send, charge, message + f"; retry in {charge.retry_after()} s")
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), *rate_limit_headers(charge)]
                cost = state.get(COST_BUDGET_STATE_KEY)
                if isinstance(cost, Charge):
                    headers += [(b"x-ratelimit-cost", str(cost.charged).encode())]
                    headers += rate_limit_headers(cost, "x-ratelimit-cost")
                    if not cost.allowed and not any(name.lower() == b"retry-after" for name, _ in headers):
                        headers.append((b"retry-after", str(cost.retry_after()).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})[LIMITS_STATE_KEY] = self.limits
        address = f"ws-addr:{anonymous_principal(scope).address}"
        if not self.limits.open_connection(address, self.limits.policy.ws_per_address):
            RATE_LIMIT_REFUSALS.labels("ws_connections_per_address").inc()
            message = f"at most {self.limits.policy.ws_per_address} WebSocket connections per client address"
            await deny_websocket(scope, receive, send, 429, RATE_LIMITED, message)
            return
        accepted = closed = False
        max_bytes = self.limits.policy.max_frame_bytes

        async def guarded_send(message: Message) -> None:
            nonlocal accepted, closed
            if closed:
                return  # we closed the socket for an oversized frame; the app's late sends go nowhere
            if message["type"] == "websocket.accept" and not accepted:
                accepted = True
                WS_CONNECTIONS.inc()
            await send(message)

        async def guarded_receive() -> Message:
            nonlocal closed
            message = await receive()
            if message["type"] == "websocket.receive":
                data = message.get("text") if message.get("text") is not None else message.get("bytes")
                size = len(data.encode()) if isinstance(data, str) else len(data or b"")
                if size > max_bytes and not closed:
                    RATE_LIMIT_REFUSALS.labels("ws_frame_size").inc()
                    await send({"type": "websocket.close", "code": 1009, "reason": f"frame over {max_bytes} bytes"})
                    closed = True
                    return {"type": "websocket.disconnect", "code": 1009}
            return message

        try:
            await self.app(scope, guarded_receive, guarded_send)
        finally:
            self.limits.close_connection(address)
            if accepted:
                WS_CONNECTIONS.dec()


async def refuse_request(send: Send, charge: Charge, message: str) -> None:
    """HTTP 429 with ``Retry-After``, the budget's headers and the JSON error envelope."""
    body = refusal_body(message)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(charge.retry_after()).encode()),
        *rate_limit_headers(charge),
    ]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def deny_websocket(scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str) -> None:
    """Refuse a WebSocket handshake: an HTTP answer with our JSON envelope where the server supports the
    denial-response extension (uvicorn does), else a plain close (the client sees 403)."""
    first = await receive()
    if first["type"] != "websocket.connect":
        return
    body = orjson.dumps({"ok": False, "error": {"code": code, "message": message}})
    if "websocket.http.response" in (scope.get("extensions") or {}):
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
        return
    await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})


def build_rate_limits(settings: Settings) -> RateLimits:
    """The app's budgets from its settings (the composition root's one reading of them)."""
    policy = LimitPolicy(
        enabled=settings.rate_limit_enabled,
        window_seconds=settings.rate_limit_window_seconds,
        anonymous_requests=settings.rate_limit_anonymous_requests,
        key_requests=settings.rate_limit_key_requests,
        anonymous_cost=settings.cost_limit_anonymous,
        key_cost=settings.cost_limit_key,
        auth_failures=settings.auth_failures_per_address,
        ws_per_address=settings.ws_max_connections_per_address,
        ws_per_key=settings.ws_max_connections_per_key,
        max_frame_bytes=settings.max_body_bytes,
    )
    storage = settings.rate_limit_storage_uri
    if storage == "memory://" and settings.redis_url is not None:  # replicas share each caller's budget
        storage = settings.redis_url.get_secret_value()
    return RateLimits(policy, storage)
