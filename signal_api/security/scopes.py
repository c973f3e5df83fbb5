"""Which scope each GraphQL root field needs, and the one check every transport runs.

:data:`ROOT_FIELD_SCOPES` is the single table. ``/graphql`` (HTTP), ``/invoke`` and its ``GET /v1/...``
routes (which execute registry documents through ``schema.execute``) and WebSocket operations on
Strawberry's own path are checked by :class:`ScopeCheck`, a schema extension; WebSocket subscriptions
that join a shared fan-out execution (which runs without the subscriber's context) are checked by the
connection handler (:mod:`signal_api.security.ws`) with the same :func:`refusal`.

A root field missing from the table needs the scope of its operation type (query: read, subscription:
stream, mutation: admin), so a new field is never open by accident; introspection needs none. A
refusal is a GraphQL error with ``extensions.code`` ``FORBIDDEN`` (REST answers it with HTTP 403).
"""

from __future__ import annotations

import functools
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    parse,
)
from graphql.error import GraphQLSyntaxError
from strawberry.extensions import SchemaExtension

from signal_api.security.principal import Principal, Scope, principal_of

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from graphql import DocumentNode, SelectionSetNode

FORBIDDEN = "FORBIDDEN"

ROOT_FIELD_SCOPES: Mapping[str, Scope | None] = MappingProxyType(
    {
        # queries of market data and signals
        "signal": Scope.READ,
        "signals": Scope.READ,
        "model": Scope.READ,  # the CALIBRATED artifact (no upstream call)
        "symbols": Scope.READ,
        "market": Scope.READ,
        "exchanges": Scope.READ,
        "exchange": Scope.READ,
        "smc": Scope.READ,
        "ask": Scope.READ,  # the routed operation's own scope is checked when it runs (schema/ask.py)
        "orderBook": Scope.READ,
        "flow": Scope.READ,
        "scalping": Scope.READ,
        "mss": Scope.READ,
        "mssScan": Scope.READ,
        "socialHype": Scope.READ,
        "marketSummary": Scope.READ,
        # watchlists: like alert rules, each key reads and changes its own list (ownership is checked by the
        # resolvers); an admin key reads every owner's and changes any (resolvers/watchlist.py)
        "watchlist": Scope.READ,
        "watchlistAdd": Scope.READ,
        "watchlistRemove": Scope.READ,
        "newListings": Scope.READ,
        "screener": Scope.READ,
        "spikes": Scope.READ,  # the query; the subscription of the same name needs stream as well (every one does)
        # the stored history and what is computed from it (backtest replays recorded history)
        "signalHistory": Scope.HISTORY,
        "signalPerformance": Scope.HISTORY,
        "symbolInsights": Scope.HISTORY,
        "backtest": Scope.HISTORY,
        # alert rules: any caller manages its own (owner: its API key); an admin key manages every rule
        "alertRules": Scope.READ,
        "createAlertRule": Scope.READ,
        "pauseAlertRule": Scope.READ,
        "resumeAlertRule": Scope.READ,
        "deleteAlertRule": Scope.READ,
        "alerts": Scope.STREAM,
        # the caller's own budget: anyone may ask
        "rateLimit": None,
        # subscriptions
        "liquidations": Scope.STREAM,
        "largeTrades": Scope.STREAM,
        "candles": Scope.STREAM,
        "signalUpdates": Scope.STREAM,
    }
)
DEFAULT_SCOPE = MappingProxyType(
    {OperationType.QUERY: Scope.READ, OperationType.SUBSCRIPTION: Scope.STREAM, OperationType.MUTATION: Scope.ADMIN}
)
MAX_PARSE_TOKENS = 20_000  # the handler parses before the schema's own token limit runs


def _operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    named = [o for o in operations if o.name is not None and o.name.value == operation_name]
    return named[0] if len(named) == 1 else None


def root_fields(document: DocumentNode, operation: OperationDefinitionNode) -> set[str]:
    """The root field names the operation selects, through fragment spreads and inline fragments; each
    fragment is visited once (a fragment spreading another twice costs nothing more)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    names: set[str] = set()
    seen: set[str] = set()
    pending: list[SelectionSetNode] = [operation.selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                names.add(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in seen:
                    seen.add(name)
                    pending.append(fragment.selection_set)
    return names


def required_scopes(document: DocumentNode, operation_name: str | None) -> frozenset[Scope]:
    """Every scope the selected operation needs (empty when no operation can be selected: the schema's
    own validation then answers)."""
    operation = _operation(document, operation_name)
    if operation is None:
        return frozenset()
    default = DEFAULT_SCOPE[operation.operation]
    needed: set[Scope] = {Scope.STREAM} if operation.operation is OperationType.SUBSCRIPTION else set()
    for name in root_fields(document, operation):
        if name.startswith("__"):
            continue  # introspection and __typename
        scope = ROOT_FIELD_SCOPES.get(name, default)
        if scope is not None:
            needed.add(scope)
    return frozenset(needed)


@functools.lru_cache(maxsize=1024)
def required_scopes_of_text(query: str, operation_name: str | None) -> frozenset[Scope] | None:
    """:func:`required_scopes` of a document's text; None when it does not parse (the schema answers)."""
    try:
        document = parse(query, max_tokens=MAX_PARSE_TOKENS)
    except GraphQLSyntaxError:
        return None
    return required_scopes(document, operation_name)


def refusal(principal: Principal, needed: frozenset[Scope]) -> GraphQLError | None:
    """The FORBIDDEN error when ``principal`` lacks one of ``needed``, else None."""
    missing = needed - principal.scopes
    if not missing:
        return None
    wanted = ", ".join(sorted(missing))
    who = "anonymous access" if principal.anonymous else f"API key {principal.key_id} ({principal.name!r})"
    return GraphQLError(
        f"this operation needs the scope {wanted}, which {who} does not have",
        extensions={"code": FORBIDDEN, "missingScopes": sorted(missing)},
    )


def principal_of_context(context: Any) -> Principal | None:
    """The caller of an operation: from the ASGI scope of the context's request or WebSocket.

    None only for operations the service runs itself (no request: a shared fan-out execution, tools);
    a request without a principal (the middleware not installed) counts as an anonymous caller."""
    request = getattr(context, "request", None)
    if request is None:
        return None
    scope = getattr(request, "scope", None)
    principal = principal_of(scope) if isinstance(scope, dict) else None
    if principal is None:
        client = scope.get("client") if isinstance(scope, dict) else None
        principal = Principal(address=str(client[0]) if client else "unknown")
    return principal


class ScopeCheck(SchemaExtension):
    """Refuse, before execution, an operation whose root fields need a scope the caller lacks."""

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        principal = principal_of_context(execution.context)
        document = execution.graphql_document
        if principal is not None and document is not None:
            error = refusal(principal, required_scopes(document, execution.operation_name))
            if error is not None:
                # raised before execution: Strawberry answers it as the operation's only error
                raise error
        yield
