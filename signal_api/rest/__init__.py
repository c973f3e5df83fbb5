"""The REST shim for GPT Actions, generated from the named GraphQL operations in :mod:`schema.operations`.

Modules: :mod:`.params` (REST input → GraphQL variables), :mod:`.jsonschema` (variable and result
types → JSON Schema), :mod:`.catalog` (the registry checked against the schema), :mod:`.openapi` (the
OpenAPI 3.1 document and its GPT subset), :mod:`.invoke` (execution, envelope, timeouts, compact
mode), :mod:`.docs` (offline Swagger UI and ReDoc).

Routes: ``POST /invoke``, ``GET /invoke/operations``, ``GET /v1/<area>/<action>`` per operation,
``GET /openapi.json``, ``GET /gpt/action-schema``, ``GET /docs``, ``GET /redoc``.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import orjson
from starlette.responses import Response
from starlette.routing import Route

from schema.operations import persisted_query_allowed
from signal_api.rest.catalog import build_catalog
from signal_api.rest.docs import docs_routes
from signal_api.rest.invoke import Invoker
from signal_api.rest.openapi import build_gpt_schema, build_openapi

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import strawberry
    from starlette.requests import Request
    from starlette.routing import BaseRoute

    from signal_api.settings import Settings

__all__ = ["build_rest_routes", "persisted_query_allowed"]


def build_rest_routes(schema: strawberry.Schema, settings: Settings) -> list[BaseRoute]:
    """Routes of the REST shim; the registry is checked against ``schema`` here (fails fast)."""
    catalog = build_catalog(schema._schema)
    invoker = Invoker(schema, settings, catalog)
    openapi = _cached_json(lambda: build_openapi(catalog, settings))
    gpt = _cached_json(lambda: build_gpt_schema(catalog, settings))
    return [
        Route("/invoke", invoker.invoke, methods=["POST"]),
        Route("/invoke/operations", invoker.list_operations, methods=["GET"]),
        *(Route(rest.op.path, invoker.get_endpoint(rest), methods=["GET"]) for rest in catalog.values()),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/gpt/action-schema", gpt, methods=["GET"]),
        *docs_routes(),
    ]


def _cached_json(build: Callable[[], dict[str, Any]]) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint answering ``build()``'s document, built on first use and kept."""
    encoded = cache(lambda: orjson.dumps(build()))

    async def endpoint(request: Request) -> Response:
        return Response(encoded(), media_type="application/json")

    return endpoint
