"""Depth and alias limits that cost one visit per fragment, however the fragments spread each other.

Strawberry's ``QueryDepthLimiter`` and ``MaxAliasesLimiter`` expand every fragment spread where it
occurs, so a 1.3 KB document whose fragment N spreads fragment N-1 twice costs 2^N visits: seconds of
validation at 20 levels, on the event loop. Here each fragment's shape (its depth and its alias count)
is computed once per document and memoized by name, so the work is linear in the document's size.

Counting follows execution: a fragment spread twice in one selection set is collected once
(graphql-core does the same), but spread under two different fields it counts twice, since both run.
Alias counts may therefore be far larger than the document; they saturate at :data:`SATURATED`.

Unknown and cyclic fragments count as empty: graphql-core's own rules (``KnownFragmentNamesRule``,
``NoFragmentCyclesRule``) report them as ordinary typed validation errors, and nothing here raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    ValidationRule,
)
from graphql.language.visitor import SKIP

if TYPE_CHECKING:
    from graphql import ASTValidationRule, DocumentNode, SelectionSetNode

SATURATED = 2**53
"""Counts stop growing here: enough to exceed any limit, small enough to stay a machine integer."""

INTROSPECTION_MAX_DEPTH = 15
"""``__schema``/``__type`` subtrees get at least this depth (GraphiQL's introspection query needs 13)."""

TOO_DEEP = "QUERY_TOO_DEEP"
TOO_LARGE = "QUERY_TOO_LARGE"


@dataclass(frozen=True, slots=True)
class Shape:
    """What the limits measure in one selection set (or operation): nesting of fields with a selection
    set (``depth`` for ordinary fields, ``introspection_depth`` under ``__schema``/``__type``) and the
    number of aliased fields, fragments included as they execute."""

    depth: int = 0
    introspection_depth: int = 0
    aliases: int = 0


_EMPTY = Shape()


class DocumentShapes:
    """Shapes of a document's operations; each fragment is measured once (``fragment_visits`` counts it)."""

    def __init__(self, document: DocumentNode) -> None:
        self.fragments: dict[str, FragmentDefinitionNode] = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self._memo: dict[str, Shape] = {}
        self._in_progress: set[str] = set()
        self.fragment_visits = 0

    def operation(self, operation: OperationDefinitionNode) -> Shape:
        return self._selection_set(operation.selection_set)

    def fragment(self, name: str) -> Shape:
        """The fragment's shape; empty when unknown or part of a cycle (graphql-core reports both)."""
        known = self._memo.get(name)
        if known is not None:
            return known
        definition = self.fragments.get(name)
        if definition is None or name in self._in_progress:
            return _EMPTY
        self._in_progress.add(name)
        self.fragment_visits += 1
        try:
            shape = self._selection_set(definition.selection_set)
        finally:
            self._in_progress.discard(name)
        self._memo[name] = shape
        return shape

    def _selection_set(self, selection_set: SelectionSetNode | None) -> Shape:
        depth = introspection = aliases = 0
        spread: set[str] = set()
        for selection in selection_set.selections if selection_set is not None else ():
            if isinstance(selection, FieldNode):
                child = self._selection_set(selection.selection_set)
                nested = 0 if selection.selection_set is None else 1 + max(child.depth, child.introspection_depth)
                if selection.name.value.startswith("__"):
                    introspection = max(introspection, nested)
                else:
                    depth = max(depth, nested)
                aliases += child.aliases + (1 if selection.alias is not None else 0)
                continue
            if isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in spread:  # collected once per selection set, as graphql-core executes it
                    continue
                spread.add(name)
                inner = self.fragment(name)
            elif isinstance(selection, InlineFragmentNode):
                inner = self._selection_set(selection.selection_set)
            else:  # pragma: no cover - the grammar has no other selection
                continue
            depth = max(depth, inner.depth)
            introspection = max(introspection, inner.introspection_depth)
            aliases += inner.aliases
        return Shape(depth, introspection, min(aliases, SATURATED))


# GraphQL's lexical tokens, roughly but never more finely than graphql-core's lexer: block strings,
# strings, numbers, names, the spread, single punctuators; anything else counts as one token too.
# Ignored: whitespace, commas, BOMs and comments (graphql-core does not count comments either).
_TOKEN = re.compile(
    r'"""(?:\\"""|[^"]|"(?!""))*(?:"""|$)'
    r'|"(?:[^"\\\n\r]|\\.)*"?'
    r"|-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
    r"|[_A-Za-z][_0-9A-Za-z]*"
    r"|\.\.\."
    r"|[^\s,\ufeff#]"
)
_IGNORED = re.compile(r"(?:[\s,\ufeff]|#[^\n\r]*)*")


def token_overflow(text: str, max_tokens: int) -> int | None:
    """The offset of the first token past ``max_tokens`` (``None`` if there is none), found with a
    C-speed regex that stops there: a 64 KB document is refused in well under a millisecond, where
    graphql-core's lexer would spend ~15 ms reaching its own ``max_tokens``. It never counts more
    tokens than graphql-core does, so it refuses nothing graphql-core would accept."""
    position, count, end = 0, 0, len(text)
    while position < end:
        skipped = _IGNORED.match(text, position)
        position = skipped.end() if skipped is not None else position
        if position >= end:
            return None
        token = _TOKEN.match(text, position)
        if token is None:  # pragma: no cover - the last alternative matches any non-ignored character
            return None
        count += 1
        if count > max_tokens:
            return position
        position = max(token.end(), position + 1)
    return None


def _operation_label(operation: OperationDefinitionNode) -> str:
    return operation.name.value if operation.name is not None else "anonymous"


def limit_errors(document: DocumentNode, *, max_depth: int, max_aliases: int) -> list[GraphQLError]:
    """``QUERY_TOO_DEEP`` and ``QUERY_TOO_LARGE`` errors of each operation of ``document`` (linear)."""
    shapes = DocumentShapes(document)
    errors: list[GraphQLError] = []
    intro_limit = max(max_depth, INTROSPECTION_MAX_DEPTH)
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        shape = shapes.operation(definition)
        label = _operation_label(definition)
        if shape.depth > max_depth or shape.introspection_depth > intro_limit:
            errors.append(
                GraphQLError(
                    f"'{label}' exceeds maximum operation depth of {max_depth}",
                    definition,
                    extensions={"code": TOO_DEEP},
                )
            )
        if shape.aliases > max_aliases:
            count = f"more than {SATURATED}" if shape.aliases >= SATURATED else str(shape.aliases)
            errors.append(
                GraphQLError(
                    f"'{label}' has {count} aliases (fragments included as executed); allowed: {max_aliases}",
                    definition,
                    extensions={"code": TOO_LARGE},
                )
            )
    return errors


def limit_rule(*, max_depth: int, max_aliases: int) -> type[ASTValidationRule]:
    """One graphql-core rule enforcing both limits per operation (``QUERY_TOO_DEEP``, ``QUERY_TOO_LARGE``).

    Create it once per schema and share it: graphql-core instantiates the class afresh for each
    validation, so no state is shared. ``schema.documents.GuardedValidation`` calls its ``check``
    first, outside graphql-core's visitor (``linear_precheck``), so a refused document never reaches
    graphql-core's slower rules."""

    def limits_of(document: DocumentNode) -> list[GraphQLError]:
        return limit_errors(document, max_depth=max_depth, max_aliases=max_aliases)

    class QueryLimits(ValidationRule):
        linear_precheck = True
        check = staticmethod(limits_of)

        def enter_document(self, node: DocumentNode, *_args: Any) -> object:
            for error in self.check(node):
                self.report_error(error)
            return SKIP  # everything is measured above; the visitor need not walk this rule further

    QueryLimits.__name__ = QueryLimits.__qualname__ = f"QueryLimits_d{max_depth}_a{max_aliases}"
    return QueryLimits
