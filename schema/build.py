"""The schema factory: limits, caches and error policy as extensions (classes or factories, never shared
instances: an extension instance holds per-operation state)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

from schema.errors import InsufficientData, InvalidInput, SymbolNotFound, UpstreamUnavailable
from schema.query import Query

if TYPE_CHECKING:
    from collections.abc import Iterator

SDL_PATH = Path(__file__).with_name("schema.graphql")


def _is_unexpected(error: GraphQLError) -> bool:
    """Mask errors raised by our code; GraphQL's own parse/validation errors are safe to show."""
    return error.original_error is not None and not isinstance(error.original_error, GraphQLError)


def _code_for(error: GraphQLError) -> str:
    message = error.message
    if message == "Unexpected error.":
        return "INTERNAL_SERVER_ERROR"
    if message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if "exceeds maximum operation depth" in message:
        return "QUERY_TOO_DEEP"
    if ("token" in message.lower() and "limit" in message.lower()) or "aliases" in message.lower():
        return "QUERY_TOO_LARGE"
    return "GRAPHQL_VALIDATION_FAILED"


class ErrorCodes(SchemaExtension):
    """Give every error in ``errors`` an ``extensions.code``, after masking (listed before MaskErrors)."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        for error in getattr(result, "errors", None) or ():
            error.extensions = {**(error.extensions or {}), "code": _code_for(error)}


def build_schema(*, max_depth: int = 10, max_tokens: int = 2_000, max_aliases: int = 30) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        types=[InvalidInput, SymbolNotFound, InsufficientData, UpstreamUnavailable],
        extensions=[
            ErrorCodes,
            lambda: MaskErrors(should_mask_error=_is_unexpected),
            lambda: MaxTokensLimiter(max_token_count=max_tokens),
            lambda: QueryDepthLimiter(max_depth=max_depth),
            lambda: MaxAliasesLimiter(max_alias_count=max_aliases),
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
        ],
    )


def schema_sdl(schema: strawberry.Schema | None = None) -> str:
    return (schema or build_schema()).as_str() + "\n"
