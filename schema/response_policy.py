"""Which answers a response cache may serve again: a query over market data that ran without an error.

:class:`ResponsePolicy` (a schema extension, last in the chain) marks the request's
:class:`~resolvers.freshness.Freshness` as reusable once a query executed without errors and selected only
:data:`CACHEABLE_ROOT_FIELDS` at its root. Those fields answer the same to every caller with the same
scopes and are computed from the providers' cached reads, whose remaining lifetimes bound the reuse.
Everything else is left out: mutations and subscriptions, answers that carry an error or a ``Problem``
(:func:`refuse_problem`, called when one is built), the caller's own data (``watchlist``, ``alertRules``,
``rateLimit``), the history and ``backtest`` (database), ``ask`` (routes anywhere), stream windows
(``flow``, ``scalping``, ``spikes``) and ``marketSummary`` (held in memory, not in the provider cache).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphql import FieldNode, OperationDefinitionNode, OperationType
from strawberry.extensions import SchemaExtension

from resolvers.freshness import current, refuse

if TYPE_CHECKING:
    from collections.abc import Iterator

    from graphql import DocumentNode

CACHEABLE_ROOT_FIELDS = frozenset(
    {
        "signal",
        "signals",
        "market",
        "symbols",
        "exchanges",
        "exchange",
        "smc",
        "orderBook",
        "mss",
        "mssScan",
        "socialHype",
        "screener",
        "newListings",
        "__typename",
    }
)


def _root_fields_cacheable(document: DocumentNode, operation_name: str | None) -> bool:
    """Whether the selected operation is a query whose root selections are all cacheable fields (a
    fragment at the root is not looked into: such a query is simply not cached)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
    chosen = operations
    if len(chosen) != 1 or chosen[0].operation is not OperationType.QUERY:
        return False
    selections = chosen[0].selection_set.selections
    return all(isinstance(s, FieldNode) and s.name.value in CACHEABLE_ROOT_FIELDS for s in selections)


def refuse_problem(code: str) -> None:
    """A ``Problem`` is in the answer: an error of the caller's making or an upstream gap, never reused."""
    refuse(f"the answer carries {code}")


class ResponsePolicy(SchemaExtension):
    """Mark the tracked request reusable after a clean query over :data:`CACHEABLE_ROOT_FIELDS`."""

    def on_operation(self) -> Iterator[None]:
        yield
        freshness = current()
        if freshness is None:
            return
        execution = self.execution_context
        result = execution.result
        document = execution.graphql_document
        # assigned, not only set: an operation run inside this one (``ask`` executes a registry document)
        # ends first, and the outer operation decides
        freshness.allowed = (
            result is not None
            and not getattr(result, "errors", None)
            and document is not None
            and _root_fields_cacheable(document, execution.operation_name)
        )
