"""The outermost middleware: a request id for every request, one access line each, HTTP metrics, and the
last word on unexpected exceptions.

- ``X-Request-Id``: a sane incoming one (1-128 of ``A-Za-z0-9._:-``) is kept, anything else is replaced
  by a fresh one; it is bound in structlog's contextvars for every line logged during the request, kept
  in ``scope["state"]["request_id"]`` and sent back on the response (and on the WebSocket accept).
- Access line: ``http request`` with method, route template, path, status, duration in ms, client
  address, the key id of the caller (:func:`~signal_api.security.principal.principal_of`) and, for
  errors, the envelope's ``error.code``. uvicorn's own access log is off.
- Metrics: ``HTTP_REQUESTS`` by route template and status; ``ERRORS`` by the code of every 4xx/5xx
  answer (``error.code`` of the JSON envelope, else ``HTTP_<status>``).
- An exception escaping the app is logged once (plain traceback, redacted by the log renderer) and
  answered with the 500 envelope here, so Starlette and uvicorn do not print it again.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import time
import weakref
from typing import TYPE_CHECKING, Any, cast

import orjson
import structlog
from starlette.responses import JSONResponse

from signal_api.logging import fast_json_logger
from signal_api.metrics import ERRORS, HTTP_REQUESTS
from signal_api.security.headers import API_CSP
from signal_api.security.principal import principal_of

if TYPE_CHECKING:
    import contextvars

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("signal_api.access")

REQUEST_ID_HEADER = b"x-request-id"
_SANE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_CODE = re.compile(r"[A-Z][A-Z0-9_]{1,63}")
_MAX_ERROR_BODY = 16_384  # an error envelope is small; larger bodies are not inspected for a code
# this 500 is answered outside the security-header middleware (slot 2), so it carries the API's headers itself
_ERROR_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "content-security-policy": API_CSP,
}


def request_id_of(scope: Scope) -> str | None:
    """The id :class:`RequestLog` gave this request or connection."""
    state = scope.get("state") or {}
    value = state.get("request_id")
    return value if isinstance(value, str) else None


def _incoming_id(scope: Scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == REQUEST_ID_HEADER:
            return bytes(value).decode("ascii") if _SANE_ID.fullmatch(value) else None
    return None


class _RequestIds:
    """Fresh request ids, 32 hex digits: 64 random bits drawn once per process (again in a forked child),
    then a counter. Unique without a ``getrandom`` system call per request (~5 µs on this VM: uuid4 made one)."""

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)

    def reseed(self) -> None:
        self.prefix = os.urandom(8).hex()
        self.counter = itertools.count(int.from_bytes(os.urandom(4), "big"))

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.counter) & 0xFFFF_FFFF_FFFF_FFFF:016x}"


_new_request_id = _RequestIds()


def _request_id_var() -> contextvars.ContextVar[Any]:
    """structlog's context variable for ``request_id`` (its registry keeps one per name for the process), from
    the token of one binding undone at once: merge, clear and unbind_contextvars see what is set on it."""
    token = structlog.contextvars.bind_contextvars(request_id=Ellipsis)["request_id"]
    structlog.contextvars.reset_contextvars(request_id=token)
    return token.var


_REQUEST_ID = _request_id_var()


def _route_label(scope: Scope) -> str:
    """The matched route's template; a request refused (or answered from the cache) before routing counts
    under its route's path."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    return scope["path"] if scope.get("path") in _route_paths(scope.get("app")) else "unmatched"


_ROUTE_PATHS: weakref.WeakKeyDictionary[Any, frozenset[str]] = weakref.WeakKeyDictionary()


def _route_paths(app: object) -> frozenset[str]:
    """The paths of ``app``'s routes, collected once per app (a cache hit never reaches the router)."""
    if app is None:
        return frozenset()
    paths = _ROUTE_PATHS.get(app)
    if paths is None:
        routes = getattr(app, "routes", ())
        paths = frozenset(p for route in routes if isinstance(p := getattr(route, "path", None), str))
        _ROUTE_PATHS[app] = paths
    return paths


_bound: tuple[Any, Any, Any, Any] | None = None  # (processors, logger factory, wrapper class, bound logger)


def _access_log() -> Any:
    """The JSON configuration's direct renderer (the same bytes, fewer µs: :class:`FastJsonLogger`) while
    it is in force, else ``log`` bound once per structlog configuration: the lazy proxy binds anew on every
    line (~2 µs); a reconfiguration (new processors, factory or wrapper) binds again, so it takes effect."""
    fast = fast_json_logger()
    if fast is not None:
        return fast
    global _bound  # one tuple swapped whole
    config = structlog.get_config()
    processors, factory, wrapper = config["processors"], config["logger_factory"], config["wrapper_class"]
    bound = _bound
    if bound is None or bound[0] is not processors or bound[1] is not factory or bound[2] is not wrapper:
        bound = _bound = (processors, factory, wrapper, log.bind())
    return bound[3]


_REQUEST_COUNTERS: dict[tuple[str, int], Any] = {}  # bounded: route templates x statuses


def _count_request(route: str, status: int) -> None:
    """``HTTP_REQUESTS`` + 1, its labelled child looked up once per (route, status) (``labels`` costs ~5 µs)."""
    child = _REQUEST_COUNTERS.get((route, status))
    if child is None:
        child = _REQUEST_COUNTERS[route, status] = HTTP_REQUESTS.labels(route, str(status))
    child.inc()


def _error_code(status: int, body: bytes) -> str:
    try:
        payload = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        payload = None
    error = payload.get("error") if isinstance(payload, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) and _CODE.fullmatch(code) else f"HTTP_{status}"


class RequestLog:
    """Pure ASGI middleware (see the module docstring); slot 1, outside everything else."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or _new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        # bound for the rest of this task: the lines logged after an error still carry it
        _REQUEST_ID.set(request_id)  # what bind_contextvars(request_id=...) sets, without its name lookups
        if scope["type"] == "http":
            await self._http(scope, receive, send, request_id)
        else:
            await self._websocket(scope, receive, send, request_id)
        _REQUEST_ID.set(Ellipsis)  # what unbind_contextvars("request_id") sets

    async def _http(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        started = time.perf_counter()
        status = 0
        error_body: list[bytes] | None = None
        header = (REQUEST_ID_HEADER, request_id.encode("ascii"))

        async def send_logged(message: Message) -> None:
            nonlocal status, error_body
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), header]}
                if status >= 400:
                    error_body = []
            elif (
                message["type"] == "http.response.body"
                and error_body is not None
                and sum(map(len, error_body)) < _MAX_ERROR_BODY
            ):
                error_body.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        except Exception:
            log.exception("unhandled error", path=scope.get("path"))
            if status == 0:
                status = 500
                body = {"ok": False, "error": {"code": "INTERNAL_SERVER_ERROR", "message": "unexpected error"}}
                response = JSONResponse(body, status_code=500, headers={**_ERROR_HEADERS, "x-request-id": request_id})
                with contextlib.suppress(Exception):
                    await response(scope, receive, send)
            error_body = error_body or [b'{"error":{"code":"INTERNAL_SERVER_ERROR"}}']
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        route = _route_label(scope)
        _count_request(route, status)
        fields: dict[str, Any] = {}
        if error_body is not None:
            code = _error_code(status, b"".join(error_body)[:_MAX_ERROR_BODY])
            ERRORS.labels(code).inc()
            fields["code"] = code
        principal = principal_of(cast("dict[str, Any]", scope))
        _access_log().info(
            "http request",
            method=scope.get("method"),
            route=route,
            path=scope.get("path"),
            status=status,
            duration_ms=duration_ms,
            client=(scope.get("client") or ("-",))[0],
            key_id=principal.key_id if principal is not None else None,
            **fields,
        )

    async def _websocket(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        started = time.perf_counter()
        close_code: int | None = None
        header = (REQUEST_ID_HEADER, request_id.encode("ascii"))

        async def send_logged(message: Message) -> None:
            nonlocal close_code
            if message["type"] == "websocket.accept":
                message = {**message, "headers": [*message.get("headers", ()), header]}
            elif message["type"] == "websocket.close":
                close_code = message.get("code", 1000)
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        except Exception:
            log.exception("unhandled error in websocket", path=scope.get("path"))
            if close_code is None:
                close_code = 1011
                with contextlib.suppress(Exception):
                    await send({"type": "websocket.close", "code": 1011, "reason": "internal error"})
        principal = principal_of(cast("dict[str, Any]", scope))
        log.info(
            "websocket",
            route=_route_label(scope),
            path=scope.get("path"),
            close_code=close_code,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            client=(scope.get("client") or ("-",))[0],
            key_id=principal.key_id if principal is not None else None,
        )


__all__ = ["REQUEST_ID_HEADER", "RequestLog", "request_id_of"]
