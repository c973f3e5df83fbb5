"""The schema factory: limits, caches and error policy as extensions (classes or factories, never shared
instances: an extension instance holds per-operation state)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import strawberry
import structlog
from graphql import GraphQLError, GraphQLInterfaceType, GraphQLUnionType, specified_rules
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.types.base_scalars import DateTimeDefinition

from schema.cost import DEFAULT_MAX_QUERY_COST, TOO_COSTLY
from schema.documents import DocumentCache, GuardedParser, GuardedValidation
from schema.errors import (
    CapabilityUnsupported,
    ExchangeNotFound,
    InsufficientData,
    InvalidInput,
    SymbolNotFound,
    UpstreamUnavailable,
)
from schema.finite import FiniteExecutionContext
from schema.limits import TOO_DEEP, TOO_LARGE, limit_rule
from schema.metrics import OperationMetrics, OperationRecorder
from schema.mutation import Mutation
from schema.query import Query
from schema.ratelimit import CostBudget
from schema.response_policy import ResponsePolicy
from schema.subscriptions import Subscription

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from graphql import ASTValidationRule
    from strawberry.types import ExecutionContext

log = structlog.get_logger(__name__)

SDL_PATH = Path(__file__).with_name("schema.graphql")

DATETIME_SCALAR = dataclasses.replace(
    DateTimeDefinition,
    description="An instant in ISO-8601 with its offset. Answers are UTC (2026-11-30T12:00:00+00:00); "
    "send arguments with an offset (Z or +00:00).",
)
"""Strawberry's DateTime (same parsing and isoformat output), described with the time zone rule."""


def _is_unexpected(error: GraphQLError) -> bool:
    """Mask errors raised by our code; GraphQL's own parse/validation errors are safe to show."""
    return error.original_error is not None and not isinstance(error.original_error, GraphQLError)


ERROR_CODES = frozenset(
    {
        "INTERNAL_SERVER_ERROR",
        "GRAPHQL_PARSE_FAILED",
        "GRAPHQL_VALIDATION_FAILED",
        TOO_LARGE,  # more tokens (parser) or aliases (schema.limits) than allowed
        TOO_DEEP,  # schema.limits
        TOO_COSTLY,  # schema.cost: refused before execution
    }
)
"""The codes this module gives; our own rules set theirs on the error, the others are read off the message."""


def _code_for(error: GraphQLError) -> str:
    message = error.message
    if message == "Unexpected error." or _is_unexpected(error):
        return "INTERNAL_SERVER_ERROR"
    if "more than" in message and "tokens" in message:
        return TOO_LARGE
    if message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
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

    document_cache: DocumentCache  # parsed and validated documents (schema.documents), set by build_schema
    request_rules: tuple[type[ASTValidationRule], ...]  # what a request validates with (Strawberry's + ours)

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        for error in errors:
            if _is_unexpected(error):
                log.error("unexpected error in resolver", error=repr(error.original_error), path=error.path)
            _set_code(error)


def build_schema(
    *,
    max_depth: int = 10,
    max_tokens: int = 2_000,
    max_aliases: int = 30,
    max_cost: int = DEFAULT_MAX_QUERY_COST,
    metrics: OperationRecorder | None = None,
    access_check: type[SchemaExtension] | Callable[[], SchemaExtension] | None = None,
) -> strawberry.Schema:
    """``metrics`` records operations and error codes; ``access_check`` refuses what the caller may not
    run, after validation and before the cost is charged. Both come from the composition root
    (``signal_api``: Prometheus, API-key scopes); without them the schema serves everything, unmeasured."""
    # The limit rule class and the document cache are created once per schema and shared by every
    # operation (graphql-core instantiates each rule afresh for every validation; the cache keeps the
    # parsed documents and validation results, bounded by size: schema.documents). The rule and the
    # cost visit each fragment once (schema.limits, schema.cost): linear in the document, unlike
    # Strawberry's QueryDepthLimiter and MaxAliasesLimiter, which expand spreads without memoizing.
    limit_rules = [limit_rule(max_depth=max_depth, max_aliases=max_aliases)]
    documents = DocumentCache()
    schema = SignalSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        execution_context_class=FiniteExecutionContext,  # NaN/Infinity: NON_FINITE_NUMBER, not a client error
        config=StrawberryConfig(scalar_map={datetime: DATETIME_SCALAR}),
        types=[
            InvalidInput,
            SymbolNotFound,
            InsufficientData,
            UpstreamUnavailable,
            CapabilityUnsupported,
            ExchangeNotFound,
        ],
        extensions=[
            # first: its exit runs last, after codes are set and errors masked
            *([lambda: OperationMetrics(metrics)] if metrics is not None else []),
            ErrorCodes,
            lambda: MaskErrors(should_mask_error=_is_unexpected),
            lambda: MaxTokensLimiter(max_token_count=max_tokens),
            lambda: AddValidationRules(limit_rules),
            lambda: GuardedParser(documents),  # tokens, then parse (cached); see schema.documents
            lambda: GuardedValidation(documents, max_cost=max_cost),  # limits, cost, then all rules (cached)
            *([access_check] if access_check is not None else []),  # e.g. signal_api.security.scopes.ScopeCheck
            CostBudget,  # charges the cost to the caller's budget before execution (schema.ratelimit)
            ResponsePolicy,  # marks a clean market-data query reusable by the response cache
        ],
    )
    schema.document_cache = documents
    # Strawberry's default rules, then AddValidationRules' (for DocumentCache.prevalidate at start-up; a
    # result validated with other rules is never reused, so a drift here costs speed, not correctness)
    schema.request_rules = (*specified_rules, *limit_rules)
    return schema


def schema_sdl(schema: strawberry.Schema | None = None) -> str:
    return (schema or build_schema()).as_str() + "\n"


def possible_types(schema: strawberry.Schema | None = None) -> dict[str, list[str]]:
    """Apollo Client's ``possibleTypes``: every union and interface with its member object types.

    Without it Apollo's cache cannot match ``... on Problem { code message }`` against a union member,
    and silently drops those fields (``signal-api export-schema --possible-types``; README, "Apollo")."""
    graphql_schema = (schema or build_schema())._schema
    return {
        name: [member.name for member in graphql_schema.get_possible_types(abstract)]
        for name, abstract in sorted(graphql_schema.type_map.items())
        if isinstance(abstract, GraphQLUnionType | GraphQLInterfaceType) and not name.startswith("__")
    }
