"""Authentication: an API key (or none) in, a :class:`Principal` in ``scope["state"]`` out.

Keys arrive as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>`` (HTTP and the WebSocket
handshake) or in the ``connection_init`` payload (WebSocket, see :mod:`signal_api.security.ws`). Each
presented key is looked up by its hash on every request: no cache, so a revoked key fails on the very
next request.

Answers (the same ``{"ok": false, "error": {code, message}}`` envelope as the rest of the service):

- 401 ``UNAUTHENTICATED`` (with ``WWW-Authenticate: Bearer``): an unknown, malformed or revoked key, or
  no key when anonymous access is off;
- 403 ``FORBIDDEN``: ``/metrics`` without the admin scope while anonymous access is off;
- 503 ``KEY_STORE_UNAVAILABLE``: a key was presented but cannot be checked (the database is down, or
  the service runs without one), never a 500 and never silently anonymous.

``/health`` and everything under it answer without a key; a key sent there is used when valid and
otherwise ignored. ``/metrics`` is open while anonymous access is allowed and needs an admin key when
it is not.

Exception tree::

    AuthError (code, status)
    ├── Unauthenticated     401 UNAUTHENTICATED
    └── KeyStoreUnavailable 503 KEY_STORE_UNAVAILABLE
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
import structlog
from starlette.responses import Response

from persistence.api_keys import looks_like_key
from persistence.db import DATABASE_ERRORS
from signal_api.metrics import RATE_LIMIT_REFUSALS
from signal_api.security.principal import PRINCIPAL_STATE_KEY, Principal, Scope
from signal_api.security.ratelimit import refuse_request

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from starlette.types import ASGIApp, Receive, Send
    from starlette.types import Scope as AsgiScope

    from persistence.api_keys import ApiKeyRecord, ApiKeyRepository
    from signal_api.security.ratelimit import RateLimits

log = structlog.get_logger(__name__)

UNAUTHENTICATED = "UNAUTHENTICATED"
KEY_STORE_UNAVAILABLE = "KEY_STORE_UNAVAILABLE"
FORBIDDEN = "FORBIDDEN"
PUBLIC_PREFIX = "/health"
METRICS_PATH = "/metrics"
WWW_AUTHENTICATE = 'Bearer realm="signal-api"'


class AuthError(Exception):
    code = "AUTH_ERROR"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthenticated(AuthError):
    code = UNAUTHENTICATED
    status = 401


class KeyStoreUnavailable(AuthError):
    code = KEY_STORE_UNAVAILABLE
    status = 503


class StartupRefused(Exception):
    """The access settings make serving unsafe or impossible; the message says why, in one line."""


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``; any other name or address (0.0.0.0 included) is not."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def anonymous_allowed(setting: bool | None, host: str) -> bool:
    """``ALLOW_ANONYMOUS`` when set; unset (auto): only when bound to a loopback address."""
    return setting if setting is not None else is_loopback(host)


def bearer_key(value: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` value; None for no header or another scheme."""
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def key_from_headers(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The key of ``Authorization: Bearer`` or ``X-API-Key``; both present and different: refused."""
    bearer: str | None = None
    header_key: str | None = None
    for raw_name, raw_value in headers:
        name = raw_name.lower()
        if name == b"authorization":
            bearer = bearer_key(raw_value.decode("latin-1"))
        elif name == b"x-api-key":
            header_key = raw_value.decode("latin-1").strip()
    if bearer is not None and header_key is not None and bearer != header_key:
        raise Unauthenticated("Authorization and X-API-Key carry different keys; send one")
    return bearer if bearer is not None else header_key


def key_from_params(params: Mapping[str, Any] | None) -> str | None:
    """The key of a WebSocket ``connection_init`` payload: ``{"authorization": "Bearer <key>"}`` or
    ``{"apiKey": "<key>"}`` (``Authorization`` and ``X-API-Key`` spellings accepted too)."""
    if not params:
        return None
    for name in ("authorization", "Authorization"):
        value = params.get(name)
        if isinstance(value, str):
            key = bearer_key(value)
            if key is None:
                raise Unauthenticated("the authorization entry must be 'Bearer <key>'")
            return key
    for name in ("apiKey", "api_key", "x-api-key", "X-API-Key"):
        value = params.get(name)
        if isinstance(value, str):
            return value.strip()
    return None


def client_address(scope: AsgiScope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


@functools.lru_cache(maxsize=1024)
def anonymous_at(address: str) -> Principal:
    """The anonymous caller at ``address``: one immutable value per recent address, not a new one per request."""
    return Principal(address=address)


def _to_scopes(names: Iterable[str]) -> frozenset[Scope]:
    known = {s.value: s for s in Scope}
    return frozenset(known[n] for n in names if n in known)  # a scope this version does not know grants nothing


@dataclass(slots=True)
class Authenticator:
    """Turns a presented key (or none) into a :class:`Principal`. ``store`` is attached by the lifespan
    once the database is open; None means keys cannot be checked (no database)."""

    allow_anonymous: bool
    store: ApiKeyRepository | None = None
    store_problem: str = "the service runs without a database (HISTORY_ENABLED=false)"
    _touch_failures: int = field(default=0, repr=False)

    def without_key(self, address: str) -> Principal:
        """The caller of a request presenting no key (no await: nothing to look up)."""
        if not self.allow_anonymous:
            raise Unauthenticated("an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
        return anonymous_at(address)

    async def authenticate(self, key: str | None, address: str) -> Principal:
        if key is None:
            return self.without_key(address)
        if self.store is None:
            raise KeyStoreUnavailable(f"API keys cannot be checked: {self.store_problem}")
        if not looks_like_key(key):
            raise Unauthenticated("invalid or revoked API key")
        try:
            record = await self.store.lookup(key)
        except DATABASE_ERRORS as exc:
            log.warning("API key lookup failed", error=type(exc).__name__)
            raise KeyStoreUnavailable("API keys cannot be checked now: the key store is unavailable") from None
        if record is None or not record.active:
            raise Unauthenticated("invalid or revoked API key")
        await self._touch(record)
        return principal_for(record, address)

    async def still_valid(self, principal: Principal) -> bool | None:
        """Re-check a key-holding principal (a WebSocket connection's, at each subscribe): False once the
        key is revoked, None when the key store cannot be reached (nothing proven either way)."""
        if principal.key_id is None:
            return True
        if self.store is None:
            return None
        try:
            record = await self.store.get(int(principal.key_id))
        except DATABASE_ERRORS as exc:
            log.warning("API key re-check failed", key_id=principal.key_id, error=type(exc).__name__)
            return None
        return record is not None and record.active

    async def _touch(self, record: ApiKeyRecord) -> None:
        """Record the key's last use, skipping the round trip when the stored one is recent enough."""
        assert self.store is not None
        last = record.last_used_at
        if last is not None and (datetime.now(UTC) - last).total_seconds() < self.store.touch_every_seconds:
            return
        try:
            await self.store.touch(record.id)
        except DATABASE_ERRORS as exc:  # bookkeeping only: never fail a request for it
            self._touch_failures += 1
            log.warning("could not record an API key's last use", key_id=record.id, error=type(exc).__name__)

    async def startup_problem(self, host: str) -> str | None:
        """Why the service must not start with these settings on ``host``, or None: with anonymous access
        off there must be a key store and at least one active key, else nobody could ever get in."""
        if self.allow_anonymous:
            return None
        where = f"bound to {host}, which is not a loopback address" if not is_loopback(host) else f"bound to {host}"
        remedy = "or set ALLOW_ANONYMOUS=true to serve anonymous callers"
        if self.store is None:
            return f"refusing to start: {where}, API keys are required, but {self.store_problem}; {remedy}"
        try:
            active = await self.store.count_active()
        except DATABASE_ERRORS as exc:
            return f"refusing to start: {where}, API keys are required, but the key store is unavailable ({exc!r})"
        if active == 0:
            return (
                f"refusing to start: {where} and no active API key exists; create one with "
                f"`signal-api keys create --name NAME --scopes read` {remedy}"
            )
        return None


def principal_for(record: ApiKeyRecord, address: str) -> Principal:
    return Principal(
        address=address,
        key_id=str(record.id),
        name=record.name,
        scopes=_to_scopes(record.scopes),
        rate_per_minute=record.rate_per_minute,
        cost_per_minute=record.cost_per_minute,
    )


def error_response(error: AuthError | tuple[int, str, str]) -> Response:
    """The service's error envelope; 401 carries ``WWW-Authenticate``."""
    status, code, message = (error.status, error.code, error.message) if isinstance(error, AuthError) else error
    headers = {"WWW-Authenticate": WWW_AUTHENTICATE} if status == 401 else None
    body = orjson.dumps({"ok": False, "error": {"code": code, "message": message}})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def set_principal(scope: AsgiScope, principal: Principal) -> None:
    state = scope.get("state")
    if not isinstance(state, dict):
        state = scope["state"] = {}
    state[PRINCIPAL_STATE_KEY] = principal


class AuthenticationMiddleware:
    """Pure ASGI: a :class:`Principal` for every HTTP request and WebSocket handshake (slot 5 of the
    middleware order, inside the body guards and outside the rate limiter, which reads it)."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator, failures: RateLimits | None = None) -> None:
        self.app = app
        self.authenticator = authenticator
        self.failures = failures  # the refused-key budget per address (key guessing); None: uncounted

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        address = client_address(scope)
        path: str = scope.get("path", "")
        public = path == PUBLIC_PREFIX or path.startswith(PUBLIC_PREFIX + "/")
        presented = any(name.lower() in (b"authorization", b"x-api-key") for name, _ in scope["headers"])
        if presented and not public and self.failures is not None:
            spent = await self.failures.auth_failures_spent(address)
            if spent is not None:  # refused before any lookup: guessing costs the guesser, not the database
                RATE_LIMIT_REFUSALS.labels("auth_failures").inc()
                message = f"too many refused API keys from this address; retry in {spent.retry_after()} s"
                await refuse_request(send, spent, message)
                return
        try:
            if presented:
                principal = await self.authenticator.authenticate(key_from_headers(scope["headers"]), address)
            else:
                principal = self.authenticator.without_key(address)
        except AuthError as exc:
            if public:
                principal = Principal(address=address)  # health answers whoever asks
            else:
                if isinstance(exc, Unauthenticated) and presented and self.failures is not None:
                    await self.failures.charge_auth_failure(address)
                await error_response(exc)(scope, receive, send)
                return
        if path == METRICS_PATH and not self.authenticator.allow_anonymous and not principal.allows(Scope.ADMIN):
            await error_response((403, FORBIDDEN, "/metrics needs an API key with the admin scope"))(
                scope, receive, send
            )
            return
        set_principal(scope, principal)
        await self.app(scope, receive, send)

    async def _websocket(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        """A key in the handshake headers is checked here (refused: the handshake is closed, HTTP 403);
        without one the connection starts anonymous and ``connection_init`` may carry the key."""
        address = client_address(scope)
        try:
            key = key_from_headers(scope["headers"])
            principal = (
                await self.authenticator.authenticate(key, address) if key is not None else Principal(address=address)
            )
        except AuthError as exc:
            log.info("WebSocket handshake refused", code=exc.code, address=address)
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 4401 if exc.status == 401 else 4503, "reason": exc.code})
            return
        set_principal(scope, principal)
        await self.app(scope, receive, send)
