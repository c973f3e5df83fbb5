"""The body guard: what a client sends to ``POST /graphql`` and ``POST /invoke`` is checked before any
view parses it, so a client mistake is a 4xx with a code and never a 500.

Strawberry's HTTP view answers 500 to a body that is valid JSON but not an object, to invalid UTF-8 and
to deeply nested JSON (its ``json.loads`` recurses); ``/invoke`` ran ``text/plain`` POSTs, which a
browser sends cross-site without a preflight. In order, with the error envelope of the app:

====== ========================== ==============================================================
415    UNSUPPORTED_MEDIA_TYPE     the POST is not ``Content-Type: application/json`` (UTF-8)
400    INVALID_ENCODING           the body (or a query parameter) is not valid UTF-8
400    NESTING_TOO_DEEP           arrays/objects nested deeper than :data:`MAX_JSON_DEPTH`
400    INVALID_JSON               not one JSON document
400    MALFORMED_REQUEST          valid JSON, but not an object; or a GraphQL request field of the
                                  wrong type (``query``/``operationName`` strings, ``variables``/
                                  ``extensions`` objects)
====== ========================== ==============================================================

``GET /graphql`` gets the same checks for the JSON it carries in ``variables`` and ``extensions``.
The nesting depth is measured by a linear scan of the bytes before anything parses them, so no parser
can be made to recurse. The middleware sits inside ``BodySizeLimit``, which has already bounded and
buffered the body.
"""

from __future__ import annotations

import functools
import re
from itertools import accumulate
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson
from starlette.responses import JSONResponse

if TYPE_CHECKING:
    from collections.abc import Iterable

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects accepted; our largest documented request needs 4."""

JSON_PATHS = frozenset({"/graphql", "/invoke"})
"""The routes whose POST body is a JSON object (``/v1/...`` routes are GET)."""

_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _BRACKETS)
_DELTA = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_REMEMBERED_BODIES = 256  # accepted bodies remembered (BodyGuard), at most this many bytes each
_REMEMBERED_BODY_BYTES = 8_192
_GRAPHQL_FIELDS: tuple[tuple[str, type, str], ...] = (
    ("query", str, "a string"),
    ("operationName", str, "a string"),
    ("variables", dict, "an object"),
    ("extensions", dict, "an object"),
)


class RequestRefused(Exception):
    """A client mistake in the request itself: answered ``status`` with ``code``, never logged as a fault."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_envelope(code: str, message: str, *, path: str = "") -> dict[str, Any]:
    """The app's error shape (``signal_api.app.error_body``); ``/invoke`` answers in the REST envelope."""
    error = {"ok": False, "error": {"code": code, "message": message}}
    if path == "/invoke":
        meta = {"duration_ms": 0.0, "data_quality": None, "truncated": False, "operation_timeout_s": None}
        return {"ok": False, "operation": None, "data": None, "error": error["error"], "meta": meta}
    return error


def json_depth(raw: bytes) -> int:
    """The deepest nesting of ``[`` and ``{`` outside strings, in one linear pass (regex and C loops only)."""
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(accumulate(map(_DELTA.__getitem__, brackets)))


def decode_json(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH, what: str = "the body") -> object:
    """Decode one JSON document from a client: UTF-8, bounded nesting, then orjson (which refuses NaN,
    lone surrogates and trailing data). Raises :class:`RequestRefused` with a 400 code."""
    if isinstance(raw, str):
        try:
            raw = raw.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate decoded from a frame
            raise RequestRefused(400, "INVALID_ENCODING", f"{what} is not valid UTF-8") from None
    else:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise RequestRefused(400, "INVALID_ENCODING", f"{what} is not valid UTF-8") from None
    if json_depth(raw) > max_depth:
        raise RequestRefused(400, "NESTING_TOO_DEEP", f"{what} nests arrays or objects deeper than {max_depth} levels")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RequestRefused(400, "INVALID_JSON", f"{what} is not one valid JSON document") from None


def decode_json_object(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH, what: str = "the body") -> dict[str, Any]:
    """:func:`decode_json`, and the document must be an object (``MALFORMED_REQUEST`` otherwise)."""
    value = decode_json(raw, max_depth=max_depth, what=what)
    if not isinstance(value, dict):
        raise RequestRefused(400, "MALFORMED_REQUEST", f"{what} must be a JSON object, not {_json_kind(value)}")
    return value


def check_media_type(content_type: str | None) -> None:
    """``application/json``, optionally with ``charset=utf-8``; anything else is 415."""
    media, _, params = (content_type or "").partition(";")
    charset = ""
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    if media.strip().lower() != "application/json" or charset not in ("", "utf-8", "utf8"):
        raise RequestRefused(415, "UNSUPPORTED_MEDIA_TYPE", "send the body as Content-Type: application/json (UTF-8)")


def check_graphql_request(data: dict[str, Any], *, where: str = "the body") -> None:
    """The GraphQL-over-HTTP fields, when present and not null, have the types the spec gives them."""
    for name, kind, described in _GRAPHQL_FIELDS:
        value = data.get(name)
        if value is not None and not isinstance(value, kind):
            raise RequestRefused(400, "MALFORMED_REQUEST", f"'{name}' in {where} must be {described} or null")


def check_graphql_query_string(query_string: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """``GET /graphql``: parameters decode as UTF-8; ``variables`` and ``extensions`` are JSON objects."""
    try:
        params = parse_qsl(query_string.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise RequestRefused(400, "INVALID_ENCODING", "the query string is not valid UTF-8") from None
    decoded: dict[str, Any] = {}
    for name, value in params:
        if name in ("variables", "extensions") and value:
            parsed = decode_json(value, max_depth=max_depth, what=f"the '{name}' parameter")
            if parsed is not None and not isinstance(parsed, dict):
                raise RequestRefused(400, "MALFORMED_REQUEST", f"the '{name}' parameter must be a JSON object")
            decoded[name] = parsed
        else:
            decoded[name] = value
    check_graphql_request(decoded, where="the query string")


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    return {list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "a number")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class BodyGuard:
    """Pure ASGI middleware refusing malformed requests to the JSON routes (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, paths: Iterable[str] = JSON_PATHS, max_depth: int = MAX_JSON_DEPTH) -> None:
        self.app = app
        self.paths = frozenset(paths)
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        try:
            if method == "POST":
                body = buffered_body(receive)  # BodySizeLimit's buffer, still unread: look, do not consume
                if body is None:
                    body = await _read_body(receive)
                    if body is None:
                        return  # the client went away
                    receive = BufferedReceive(body, receive)
                self._check_body(scope, body)
            elif method == "GET" and scope["path"] == "/graphql":
                check_graphql_query_string(scope.get("query_string", b""), max_depth=self.max_depth)
        except RequestRefused as refused:
            envelope = error_envelope(refused.code, refused.message, path=scope["path"])
            response = JSONResponse(envelope, status_code=refused.status)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _check_body(self, scope: Scope, body: bytes) -> None:
        check = _check_remembered if len(body) <= _REMEMBERED_BODY_BYTES else _check_body
        check(scope["path"], _header(scope, b"content-type"), body, self.max_depth)


def _check_body(path: str, content_type: str | None, body: bytes, max_depth: int) -> None:
    """Refuse a body (RequestRefused) whose media type, JSON or GraphQL request is not acceptable."""
    check_media_type(content_type)
    data = decode_json_object(body, max_depth=max_depth)
    if path == "/graphql":
        check_graphql_request(data)


# The checks are a pure function of their arguments, so a repeated request (a cached query) skips the decode
# and the depth scan. Only acceptances are remembered: a refusal raises, and lru_cache keeps no exception.
_check_remembered = functools.lru_cache(maxsize=_REMEMBERED_BODIES)(_check_body)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body (``BodySizeLimit`` outside has bounded it); None when the client disconnected."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class BufferedReceive:
    """A ``receive`` that hands a buffered body to the app once, then defers to the server's ``receive``.

    An inner layer that only needs to look at the body gets it with :func:`buffered_body` and passes this
    ``receive`` on unread, so one request's body is read and wrapped once, not once per layer."""

    __slots__ = ("body", "receive", "sent")

    def __init__(self, body: bytes, receive: Receive) -> None:
        self.body = body
        self.receive = receive
        self.sent = False

    async def __call__(self) -> Message:
        if self.sent:
            return await self.receive()
        self.sent = True
        return {"type": "http.request", "body": self.body, "more_body": False}


def buffered_body(receive: Receive) -> bytes | None:
    """The whole body ``receive`` will hand out, when it is a :class:`BufferedReceive` nobody has read yet."""
    return receive.body if isinstance(receive, BufferedReceive) and not receive.sent else None


__all__ = [
    "JSON_PATHS",
    "MAX_JSON_DEPTH",
    "BodyGuard",
    "BufferedReceive",
    "RequestRefused",
    "buffered_body",
    "check_graphql_query_string",
    "check_media_type",
    "decode_json",
    "decode_json_object",
    "error_envelope",
    "json_depth",
]
