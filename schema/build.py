"""The schema factory: limits, caches and error policy as extensions (classes or factories, never shared
instances: an extension instance holds per-operation state)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import strawberry
import structlog
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

from schema.errors import (
    CapabilityUnsupported,
    ExchangeNotFound,
    InsufficientData,
    InvalidInput,
    SymbolNotFound,
    UpstreamUnavailable,
)
from schema.query import Query
from schema.subscriptions import LeakFreeExecutionContext, Subscription

if TYPE_CHECKING:
    from collections.abc import Iterator

    from strawberry.types import ExecutionContext

log = structlog.get_logger(__name__)

SDL_PATH = Path(__file__).with_name("schema.graphql")


def _is_unexpected(error: GraphQLError) -> bool:
    """Mask errors raised by our code; GraphQL's own parse/validation errors are safe to show."""
    return error.original_error is not None and not isinstance(error.original_error, GraphQLError)


def _code_for(error: GraphQLError) -> str:
    message = error.message
    if message == "Unexpected error." or _is_unexpected(error):
        return "INTERNAL_SERVER_ERROR"
    if ("more than" in message and "tokens" in message) or "aliases" in message.lower():
        return "QUERY_TOO_LARGE"
    if message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if "exceeds maximum operation depth" in message:
        return "QUERY_TOO_DEEP"
    return "GRAPHQL_VALIDATION_FAILED"


def _set_code(error: GraphQLError) -> None:
    if not (error.extensions or {}).get("code"):
        error.extensions = {**(error.extensions or {}), "code": _code_for(error)}


class ErrorCodes(SchemaExtension):
    """Give every error in ``errors`` an ``extensions.code``, after masking (listed before MaskErrors)."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        for error in getattr(result, "errors", None) or ():
            _set_code(error)


class SignalSchema(strawberry.Schema):
    """Logs only unexpected errors (client mistakes are not server incidents) and codes every error,
    including parse errors, which never reach the operation hooks."""

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        for error in errors:
            if _is_unexpected(error):
                log.error("unexpected error in resolver", error=repr(error.original_error), path=error.path)
            _set_code(error)


def build_schema(*, max_depth: int = 10, max_tokens: int = 2_000, max_aliases: int = 30) -> strawberry.Schema:
    # The limiters' rule classes are created once here and shared: ValidationCache keys on the rule
    # classes, so building a limiter per request (a factory) would make every request a cache miss.
    # Sharing is safe: graphql-core instantiates each rule afresh for every validation.
    limit_rules = (
        QueryDepthLimiter(max_depth=max_depth).validation_rules
        + MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules
    )
    return SignalSchema(
        query=Query,
        subscription=Subscription,
        execution_context_class=LeakFreeExecutionContext,
        types=[
            InvalidInput,
            SymbolNotFound,
            InsufficientData,
            UpstreamUnavailable,
            CapabilityUnsupported,
            ExchangeNotFound,
        ],
        extensions=[
            ErrorCodes,
            lambda: MaskErrors(should_mask_error=_is_unexpected),
            lambda: MaxTokensLimiter(max_token_count=max_tokens),
            lambda: AddValidationRules(limit_rules),
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
        ],
    )


def schema_sdl(schema: strawberry.Schema | None = None) -> str:
    return (schema or build_schema()).as_str() + "\n"
