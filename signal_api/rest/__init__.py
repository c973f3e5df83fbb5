"""The REST shim for GPT Actions, generated from the named GraphQL operations in :mod:`schema.operations`.

Modules: :mod:`.params` (REST input → GraphQL variables), :mod:`.jsonschema` (variable and result
types → JSON Schema), :mod:`.catalog` (the registry checked against the schema), :mod:`.openapi` (the
OpenAPI 3.1 document and its GPT subset), :mod:`.invoke` (execution, envelope, timeouts, compact
mode), :mod:`.docs` (offline Swagger UI and ReDoc).

Routes: ``POST /invoke``, ``GET /invoke/operations``, ``GET /v1/<area>/<action>`` per operation,
``GET /openapi.json``, ``GET /gpt/action-schema``, ``GET /llms.txt`` (:mod:`.llms`), ``GET /docs``,
``GET /redoc``.

The schemas' ``servers`` entry is ``PUBLIC_BASE_URL`` when it is set, else the address the caller used
(scheme and a validated ``Host`` header, :func:`server_url`), so a schema fetched through a tunnel or on
another port names where it was fetched from.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import orjson
from starlette.responses import Response
from starlette.routing import Route

from schema.operations import persisted_query_allowed
from signal_api.rest.catalog import build_catalog
from signal_api.rest.docs import docs_routes
from signal_api.rest.invoke import Invoker
from signal_api.rest.llms import build_llms_txt
from signal_api.rest.openapi import build_gpt_schema, build_openapi

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import strawberry
    from starlette.requests import Request
    from starlette.routing import BaseRoute

    from signal_api.settings import Settings

__all__ = ["build_rest_routes", "persisted_query_allowed", "server_url"]


def build_rest_routes(schema: strawberry.Schema, settings: Settings) -> list[BaseRoute]:
    """Routes of the REST shim; the registry is checked against ``schema`` here (fails fast)."""
    catalog = build_catalog(schema._schema)
    invoker = Invoker(schema, settings, catalog)
    openapi = _per_server(settings, lambda base: orjson.dumps(build_openapi(catalog, settings, base)), JSON)
    gpt = _per_server(settings, lambda base: orjson.dumps(build_gpt_schema(catalog, settings, base)), JSON)
    llms = _per_server(settings, lambda base: build_llms_txt(catalog, settings, base).encode(), MARKDOWN)
    return [
        Route("/invoke", invoker.invoke, methods=["POST"]),
        Route("/invoke/operations", invoker.list_operations, methods=["GET"]),
        *(Route(rest.op.path, invoker.get_endpoint(rest), methods=["GET"]) for rest in catalog.values()),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/gpt/action-schema", gpt, methods=["GET"]),
        Route("/llms.txt", llms, methods=["GET"]),
        *docs_routes(),
    ]


JSON = "application/json"
MARKDOWN = "text/markdown; charset=utf-8"
# A Host header we are willing to echo into a schema: a DNS name or IPv4 (or a bracketed IPv6), and a port.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"^(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]{{2,45}}\])(?::(?P<port>[0-9]{{1,5}}))?\Z")
_KEPT_SERVERS = 16  # distinct built documents kept (one per host callers use; more are built per request)


def server_url(request: Request, settings: Settings) -> str:
    """``PUBLIC_BASE_URL`` when set; else the request's scheme and ``Host`` when the header is a plain host
    (and port), else the address the service listens on."""
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    host = request.headers.get("host", "")
    scheme = request.url.scheme if request.url.scheme in ("http", "https") else "http"
    matched = _HOST.match(host) if len(host) <= 260 else None
    if matched is not None and (matched["port"] is None or 0 < int(matched["port"]) < 65536):
        return f"{scheme}://{host}"
    return f"http://{settings.host}:{settings.port}"


def _per_server(
    settings: Settings, build: Callable[[str], bytes], media_type: str
) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint answering ``build(server_url)``, built once per server URL (up to a few) and kept."""
    kept: dict[str, bytes] = {}

    async def endpoint(request: Request) -> Response:
        base = server_url(request, settings)
        body = kept.get(base)
        if body is None:
            body = build(base)
            if len(kept) < _KEPT_SERVERS:
                kept[base] = body
        return Response(body, media_type=media_type)

    return endpoint
