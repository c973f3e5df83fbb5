"""Serve ``/graphql`` answers from the response cache (:mod:`signal_api.response_cache`), or store them.

It sits innermost, after authentication and rate limiting: every cached answer has passed the caller's
authentication, is charged one request of the request budget (429 still applies) and is keyed by the
caller's scope set. It is not charged cost points: those price the upstream reads and the execution a
cached answer does not make (``X-RateLimit-Cost-*`` headers then stay off; ``X-Cache: HIT`` says why).

On a hit the stored bytes go out with ``ETag``, ``Cache-Control: private, max-age=<seconds left>`` and
``Age``; a GET whose ``If-None-Match`` names the ETag gets 304 with no body. On a miss the request runs
with a :class:`~providers.freshness.Freshness` tracker and the answer is stored when the schema marked it
reusable (:mod:`schema.response_policy`) and it is a 200 JSON body; it then carries the same headers.
Any other answer of ``/graphql`` (errors, problems, mutations, per-caller data) gets
``Cache-Control: no-store``. A client's ``Cache-Control: no-cache`` skips the lookup (the answer is
computed and stored afresh). Identical requests arriving while one executes wait for it (single flight
in this process) and are answered from what it stored, so an expiry under load costs one execution.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import TYPE_CHECKING, Any, cast

from providers.freshness import track, untrack
from signal_api.http_guards import buffered_body
from signal_api.response_cache import CachedResponse, etag_of, request_key
from signal_api.security.principal import principal_of

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from signal_api.response_cache import ResponseCache

_VARY = (b"vary", b"Accept, Authorization, X-API-Key")
_NO_STORE = (b"cache-control", b"no-store")


def _freshness_headers(entry: CachedResponse, now: float, status: bytes) -> list[tuple[bytes, bytes]]:
    max_age = max(0, math.floor(entry.expires_at - now))
    return [
        (b"etag", entry.etag.encode()),
        (b"cache-control", b"private, max-age=%d" % max_age),
        _VARY,
        (b"x-cache", status),
    ]


class ResponseCacheMiddleware:
    """Answer identical ``/graphql`` requests of callers with the same scopes from ``cache``."""

    def __init__(self, app: ASGIApp, cache: ResponseCache, max_seconds: float, path: str = "/graphql") -> None:
        self.app = app
        self.cache = cache  # in-process or shared (Redis): chosen by create_app
        self.max_seconds = max_seconds
        self.path = path
        self._inflight: dict[str, asyncio.Future[None]] = {}  # single flight: one execution per key at a time

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = principal_of(cast("dict[str, Any]", scope)) if scope["type"] == "http" else None
        if principal is None or scope["path"] != self.path or scope["method"] not in ("GET", "POST"):
            await self.app(scope, receive, send)
            return
        accept = if_none_match = b""
        no_cache = False
        for name, value in scope["headers"]:
            if name == b"accept":
                accept = value
            elif name == b"if-none-match":
                if_none_match = value
            elif name == b"cache-control":
                no_cache = b"no-cache" in value or b"no-store" in value
        body = b""
        if scope["method"] == "POST" and (buffered := buffered_body(receive)) is not None:
            body = buffered  # read by BodySizeLimit: the app is answered from here, or sent it again by _run
        elif scope["method"] == "POST":
            chunks = []
            more = True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client went away
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
            body = b"".join(chunks)
        key = request_key(scope["method"], scope["path"], scope["query_string"], body, accept, principal.scopes)
        cache = self.cache
        if not no_cache:
            entry = await cache.get(key)
            if entry is None and (running := self._inflight.get(key)) is not None:
                await asyncio.shield(running)  # the same request is executing: its answer may be stored
                entry = await cache.get(key)
            if entry is not None:
                await self._answer(entry, if_none_match if scope["method"] == "GET" else b"", send)
                return
        if key in self._inflight:  # no-cache, or the one in flight was not stored: run without coalescing
            await self._run(scope, body, key, cache, send)
            return
        done = self._inflight[key] = asyncio.get_running_loop().create_future()
        try:
            await self._run(scope, body, key, cache, send)
        finally:
            del self._inflight[key]
            done.set_result(None)

    async def _answer(self, entry: CachedResponse, if_none_match: bytes, send: Send) -> None:
        now = time.time()
        headers = _freshness_headers(entry, now, b"HIT")
        if if_none_match and entry.etag.encode() in (tag.strip() for tag in if_none_match.split(b",")):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers += [
            (b"content-type", entry.content_type.encode()),
            (b"content-length", str(len(entry.body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": entry.body})

    async def _run(self, scope: Scope, body: bytes, key: str, cache: ResponseCache, send: Send) -> None:
        freshness, token = track()
        start: Message | None = None
        chunks: list[bytes] = []
        replayed = False

        async def receive() -> Message:
            nonlocal replayed
            if replayed:  # the body is spent; what a disconnect would say
                return {"type": "http.disconnect"}
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                json_body = any(n == b"content-type" and v.startswith(b"application/json") for n, v in headers)
                if message["status"] == 200 and json_body and freshness.cacheable:
                    start = message  # held until the body is complete: the ETag is its hash
                    return
                if not any(n == b"cache-control" for n, _ in headers):
                    message = {**message, "headers": [*headers, _NO_STORE]}
                await send(message)
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            ttl = min(freshness.ttl, self.max_seconds)
            await self._store_and_send(cache, key, start, b"".join(chunks), ttl, send)

        try:
            await self.app(scope, receive, capture)
        finally:
            untrack(token)

    async def _store_and_send(
        self, cache: ResponseCache, key: str, start: Message, body: bytes, ttl: float, send: Send
    ) -> None:
        now = time.time()
        entry = CachedResponse(body=body, etag=etag_of(body), expires_at=now + ttl)
        await cache.put(key, entry)
        headers = [(n, v) for n, v in start.get("headers", []) if n != b"cache-control"]
        headers += _freshness_headers(entry, now, b"MISS")
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})
