"""Security headers on every answer, and the CORS allow-list answered by Starlette's CORS middleware.

- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``, ``X-Frame-Options: DENY``.
- ``Content-Security-Policy``: API answers (JSON, metrics) get ``default-src 'none'``: they are data,
  never a page. HTML pages get :func:`page_csp`: our own origin for the bundled ``/docs`` and ``/redoc``
  assets and GraphiQL's (``fastapi-offline``'s Swagger UI and ReDoc, ``graphene-django-graphiql-static``'s
  GraphiQL: inline styles, ReDoc's blob workers, data: images and fonts), no other host, and each page's
  own inline ``<script>`` allowed by its SHA-256 hash rather than by ``'unsafe-inline'``.
- ``Strict-Transport-Security`` when the service is published over https (``PUBLIC_BASE_URL``).

CORS: ``CORS_ORIGINS`` is empty by default (no cross-origin browser access; preflights are refused),
``["*"]`` only by explicit choice. Allowed origins may send ``Authorization``, ``X-API-Key`` and
``Content-Type`` and read the ``X-RateLimit-*``, ``Retry-After`` and ``X-Request-Id`` headers. The same
list is checked on WebSocket handshakes by Strawberry's view (``allowed_origins``): a browser page on
another origin is refused, same-origin pages and clients without ``Origin`` (non-browsers) are not.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import TYPE_CHECKING

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"
EXPOSED_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-RateLimit-Cost",
    "X-RateLimit-Cost-Limit",
    "X-RateLimit-Cost-Remaining",
    "X-RateLimit-Cost-Reset",
    "Retry-After",
    "X-Request-Id",
)
ALLOWED_HEADERS = ("Authorization", "X-API-Key", "Content-Type", "X-Request-Id")
_INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", re.IGNORECASE | re.DOTALL)


def inline_script_hashes(pages: Iterable[str]) -> list[str]:
    """CSP sources (``'sha256-...'``) for every inline ``<script>`` of the given HTML pages."""
    hashes: dict[str, None] = {}
    for page in pages:
        for body in _INLINE_SCRIPT.findall(page):
            digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
            hashes[f"'sha256-{digest}'"] = None
    return list(hashes)


def page_csp(pages: Iterable[str]) -> str:
    """The policy of our HTML pages (docs, ReDoc, GraphiQL), their inline scripts allowed by hash."""
    scripts = " ".join(["'self'", *inline_script_hashes(pages)])
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src {scripts}",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


class SecurityHeaders:
    """Add the security headers to every HTTP answer (those the app set itself are kept)."""

    def __init__(self, app: ASGIApp, *, pages: Sequence[str] = (), hsts: bool = False) -> None:
        self.app = app
        common = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        ]
        if hsts:
            common.append((b"strict-transport-security", HSTS.encode()))
        self.api_headers = [*common, (b"content-security-policy", API_CSP.encode())]
        self.page_headers = [*common, (b"content-security-policy", page_csp(pages).encode())]
        self.names = frozenset(name for name, _ in self.api_headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": self.secured(list(message.get("headers", [])))}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def secured(self, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """``headers`` (a list of our own) with the security headers the app did not set appended."""
        present = {name.lower(): value for name, value in reversed(headers)}  # the first of each name
        html = present.get(b"content-type", b"").startswith(b"text/html")
        extra = self.page_headers if html else self.api_headers
        if present.keys().isdisjoint(self.names):  # the usual case: none of them set by the app
            headers += extra
        else:
            headers += [(name, value) for name, value in extra if name not in present]
        return headers


class SecureCors(SecurityHeaders):
    """Slot 2 as one layer: :class:`SecurityHeaders` outside Starlette's ``CORSMiddleware``. A request without
    ``Origin`` (every non-browser call) gets CORS's answer for it (``Vary: Origin`` merged) and the security
    headers in one ``send`` wrapper, without building Starlette's header views (the same answer as the two
    layers: ``tests/test_cached_path.py``); any other request goes through both layers."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        pages: Sequence[str] = (),
        hsts: bool = False,
        allow_origins: Sequence[str] = (),
        allow_methods: Sequence[str] = ("GET",),
        allow_headers: Sequence[str] = (),
        expose_headers: Sequence[str] = (),
        allow_credentials: bool = False,
        max_age: int = 600,
    ) -> None:
        cors = CORSMiddleware(
            app,
            allow_origins=allow_origins,
            allow_methods=allow_methods,
            allow_headers=allow_headers,
            expose_headers=expose_headers,
            allow_credentials=allow_credentials,
            max_age=max_age,
        )
        super().__init__(cors, pages=pages, hsts=hsts)
        self.inner = app  # under CORS: what a request without Origin reaches (Starlette's CORS passes it through)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or any(name == b"origin" for name, _ in scope["headers"]):
            await super().__call__(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self.secured_for_no_origin(message.get("headers", ()))
            await send(message)

        await self.inner(scope, receive, send_secured)

    def secured_for_no_origin(self, headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """``secured(_vary_origin(headers))`` in one pass for the usual answer (lower-case names, at most one
        ``Vary``, no security header of its own); anything else takes the two steps."""
        pairs = list(headers)
        vary = -1
        content_type: bytes | None = None
        names = self.names
        for at, (name, value) in enumerate(pairs):
            if name == b"vary" and vary < 0:
                vary = at
            elif name == b"content-type":
                if content_type is None:
                    content_type = value
            elif name == b"vary" or name in names or not name.islower():
                return self.secured(_vary_origin(pairs))
        if vary < 0:
            pairs.append((b"vary", b"Origin"))
        else:
            pairs[vary] = (b"vary", pairs[vary][1] + b", Origin")
        html = content_type is not None and content_type.startswith(b"text/html")
        pairs += self.page_headers if html else self.api_headers
        return pairs


def _vary_origin(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` with ``Origin`` added to ``Vary`` as Starlette's ``MutableHeaders["Vary"] = ...`` does:
    the values joined into the first ``vary`` entry (later ones dropped), or appended when there is none."""
    pairs = list(headers)
    at = [i for i, (name, _) in enumerate(pairs) if name == b"vary"]
    if not at:
        pairs.append((b"vary", b"Origin"))
        return pairs
    pairs[at[0]] = (b"vary", b", ".join([*(pairs[i][1] for i in at), b"Origin"]))
    for i in reversed(at[1:]):
        del pairs[i]
    return pairs


def security_middleware(origins: Sequence[str], *, pages: Sequence[str], https: bool) -> list[Middleware]:
    """Slot 2 of the middleware order: the security headers outside (so CORS answers get them too),
    then CORS."""
    return [
        Middleware(
            SecureCors,
            pages=pages,
            hsts=https,
            allow_origins=list(origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=list(ALLOWED_HEADERS),
            expose_headers=list(EXPOSED_HEADERS),
            allow_credentials=False,  # keys travel in headers, never cookies
            max_age=600,
        ),
    ]
