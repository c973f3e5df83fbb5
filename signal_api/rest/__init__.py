"""The REST shim for GPT Actions, generated from the named GraphQL operations in :mod:`schema.operations`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import strawberry
    from starlette.routing import BaseRoute

    from signal_api.settings import Settings


def build_rest_routes(schema: strawberry.Schema, settings: Settings) -> list[BaseRoute]:
    """Routes of the REST shim (``/invoke``, ``/openapi.json``, ...); empty until the shim lands."""
    return []
