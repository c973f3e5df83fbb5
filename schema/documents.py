"""Parsing and validation of client documents: cheapest refusals first, and caches bounded by size.

Per operation, :class:`GuardedParser` then :class:`GuardedValidation` (two schema extensions sharing one
:class:`DocumentCache` per schema):

1. tokens: a regex count that stops past ``max_tokens`` refuses an oversized document before
   graphql-core's lexer runs (:func:`schema.limits.token_overflow`), ``QUERY_TOO_LARGE``;
2. parse (cached by query text); a parse error becomes a pre-execution error instead of an exception
   (raised from ``on_parse`` it escapes the WebSocket ``subscribe`` path);
3. the linear limit rules alone (``linear_precheck`` rules: depth, aliases; :mod:`schema.limits`);
4. the cost with this request's variables (:func:`schema.cost.cost_errors`), on every request;
5. graphql-core's rules with ours (cached by query text and rule set); the prechecks of step 3 are not
   run a second time, and a rule whose nodes the text cannot hold is skipped (no ``$``: the variable
   rules; no ``@``: the directive rules; no ``fragment``: the fragment-definition rules; ...): it cannot
   report anything, and each costs every node a call (``bench/bench_documents.py``).

A refusal skips the later steps: a fan-out document costs ~2 ms instead of ~15. :meth:`DocumentCache.prevalidate`
runs steps 2 and 5 ahead of time for documents known at start-up (the registry's trusted documents), so
their first request skips both (``signal_api.prewarm``).

Why not Strawberry's ``ParserCache`` and ``ValidationCache``: they bound entries, not size. A parsed
3.6 KB document is ~2,700 objects (graphql-core links every token both ways, so each document is a web
of cycles), and 256 of them kept ~700,000 objects alive: every full garbage collection then stalled the
event loop for 200-400 ms while an attacker cycled distinct documents through the cache. This cache
keeps only documents up to ``max_document_chars``, at most ``max_total_chars`` in all, and unlinks the
tokens of those it keeps (~30,000 objects at most), which covers every realistic client document.
"""

from __future__ import annotations

import functools
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from graphql import (
    DeferStreamDirectiveLabel,
    DeferStreamDirectiveOnRootField,
    DeferStreamDirectiveOnValidOperationsRule,
    GraphQLError,
    GraphQLSyntaxError,
    KnownDirectivesRule,
    MaxIntrospectionDepthRule,
    Node,
    NoFragmentCyclesRule,
    NoUndefinedVariablesRule,
    NoUnusedFragmentsRule,
    NoUnusedVariablesRule,
    SingleFieldSubscriptionsRule,
    Source,
    StreamDirectiveOnListField,
    UniqueDirectivesPerLocationRule,
    UniqueFragmentNamesRule,
    UniqueVariableNamesRule,
    VariablesAreInputTypesRule,
    VariablesInAllowedPositionRule,
    parse,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from schema.cost import cost_errors
from schema.limits import token_overflow

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from graphql import ASTValidationRule, DocumentNode, GraphQLSchema

_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,127}")
_INTROSPECTION_ROOT = re.compile(r"__(?:schema|type)(?![_0-9A-Za-z])")

# Rules that can only report on one kind of node, and the text that node cannot exist without: a document
# lacking it holds no such node, so the rule cannot report anything (and each rule costs every node a
# call of graphql-core's parallel visitor). A match inside a string or comment only keeps the rule: safe.
_RULES_NEEDING: tuple[tuple[Callable[[str], bool], frozenset[type[ASTValidationRule]]], ...] = (
    (  # variables: the "$" punctuator
        lambda text: "$" in text,
        frozenset(
            {
                NoUndefinedVariablesRule,
                NoUnusedVariablesRule,
                VariablesInAllowedPositionRule,
                VariablesAreInputTypesRule,
                UniqueVariableNamesRule,
            }
        ),
    ),
    (  # directives: the "@" punctuator
        lambda text: "@" in text,
        frozenset(
            {
                KnownDirectivesRule,
                UniqueDirectivesPerLocationRule,
                DeferStreamDirectiveOnRootField,
                DeferStreamDirectiveOnValidOperationsRule,
                DeferStreamDirectiveLabel,
                StreamDirectiveOnListField,
            }
        ),
    ),
    (  # fragment definitions: the "fragment" keyword (spreads of unknown fragments are KnownFragmentNames')
        lambda text: "fragment" in text,
        frozenset({UniqueFragmentNamesRule, NoUnusedFragmentsRule, NoFragmentCyclesRule}),
    ),
    (lambda text: "subscription" in text, frozenset({SingleFieldSubscriptionsRule})),
    (lambda text: _INTROSPECTION_ROOT.search(text) is not None, frozenset({MaxIntrospectionDepthRule})),
)

Rules = tuple["type[ASTValidationRule]", ...]


def full_rules(rules: Iterable[type[ASTValidationRule]], query: str | None) -> Rules:
    """The rules graphql-core runs in step 5: ``rules`` without the linear prechecks (step 3 ran them),
    and without the rules whose nodes the text cannot hold (:data:`_RULES_NEEDING`: no ``$``, no
    variables; no ``@``, no directives; ...)."""
    skipped: set[type[ASTValidationRule]] = set()
    if query is not None:
        for present, needing in _RULES_NEEDING:
            if not present(query):
                skipped |= needing
    return tuple(rule for rule in rules if not getattr(rule, "linear_precheck", False) and rule not in skipped)


@functools.lru_cache(maxsize=256)
def unparsable(operation_name: str | None) -> DocumentNode:
    """Stands in for a document that failed to parse, so Strawberry does not parse it a second time (its
    parse error is already in ``pre_execution_errors`` and is answered before anything validates or runs).
    It carries the requested operation name, so Strawberry can find "the operation" in it."""
    if operation_name is not None and _NAME.fullmatch(operation_name):
        return parse(f"query {operation_name} {{ __typename }}")
    return parse("{ __typename }")


@dataclass(slots=True)
class _Entry:
    document: DocumentNode
    errors: list[GraphQLError] | None = None  # graphql-core's + our rules' result, once validated
    rules: Rules = ()  # the rules ``errors`` came from: a result is reused only for the very same rules


class DocumentCache:
    """Parsed documents and their validation results by query text, LRU, bounded by characters.

    One per schema (validation results depend on the schema and its rules). Not thread-safe: used from
    the event loop only. ``parse_hits``/``validation_hits`` and the misses count for tests and metrics."""

    def __init__(
        self, *, max_entries: int = 256, max_total_chars: int = 65_536, max_document_chars: int = 8_192
    ) -> None:
        self.max_entries = max_entries
        self.max_total_chars = max_total_chars
        self.max_document_chars = max_document_chars
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._chars = 0
        self.parse_hits = self.parse_misses = self.validation_hits = self.validation_misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def chars(self) -> int:
        return self._chars

    def parse(self, query: str, **options: object) -> DocumentNode:
        """The cached document for ``query``, or a fresh parse (kept when small enough); raises
        ``GraphQLError`` as graphql-core's ``parse`` does."""
        entry = self._entries.get(query)
        if entry is not None:
            self._entries.move_to_end(query)
            self.parse_hits += 1
            return entry.document
        self.parse_misses += 1
        document = parse(query, **options)  # type: ignore[arg-type]
        if len(query) <= self.max_document_chars:
            _drop_tokens(document)
            self._entries[query] = _Entry(document)
            self._chars += len(query)
            while len(self._entries) > self.max_entries or self._chars > self.max_total_chars:
                evicted, _ = self._entries.popitem(last=False)
                self._chars -= len(evicted)
        return document

    def validation(self, query: str | None, document: DocumentNode, rules: Rules) -> list[GraphQLError] | None:
        """The cached result of ``rules`` on this very document (``None``: not validated yet, or not kept)."""
        entry = self._entries.get(query) if query is not None else None
        if entry is None or entry.document is not document or entry.errors is None or entry.rules != rules:
            self.validation_misses += 1
            return None
        self.validation_hits += 1
        return entry.errors

    def keep_validation(
        self, query: str | None, document: DocumentNode, errors: list[GraphQLError], rules: Rules
    ) -> None:
        entry = self._entries.get(query) if query is not None else None
        if entry is not None and entry.document is document:
            entry.errors, entry.rules = errors, rules

    def prevalidate(
        self, schema: GraphQLSchema, queries: Iterable[str], rules: Iterable[type[ASTValidationRule]]
    ) -> int:
        """Parse and validate ``queries`` now (step 2 and 5), so their first request does neither; ``rules``
        as a request carries them (Strawberry's plus ``AddValidationRules``'). Stops before the kept
        documents fill half the cache (room stays for the clients' own). Returns how many are kept."""
        rules = tuple(rules)
        kept = 0
        for query in queries:
            if len(self._entries) + 1 > self.max_entries // 2 or self._chars + len(query) > self.max_total_chars // 2:
                break
            try:
                document = self.parse(query)
            except GraphQLError:
                continue  # a broken trusted document is refused when requested, as it always was
            if query not in self._entries:
                continue  # too long to keep
            used = full_rules(rules, query)
            self.keep_validation(query, document, validate_document(schema, document, used), used)
            kept += 1
        return kept


def _drop_tokens(document: DocumentNode) -> None:
    """Unlink a kept document from its tokens: graphql-core's tokens form one doubly linked list per
    document (a web of cycles, about a third of its objects), and nothing reads them after parsing;
    error locations need only each node's ``loc.start`` and ``loc.source``, which stay."""
    stack: list[object] = [document]
    for _ in range(1_000_000):  # bounded: a kept document is at most max_document_chars long
        if not stack:
            return
        item = stack.pop()
        if isinstance(item, Node):
            if item.loc is not None:
                item.loc.start_token = item.loc.end_token = None  # type: ignore[assignment]
            stack.extend(getattr(item, key, None) for key in item.keys if key != "loc")
        elif isinstance(item, list | tuple):
            stack.extend(item)


class GuardedParser(SchemaExtension):
    """Steps 1-2 of the module doc. ``max_tokens`` comes from ``MaxTokensLimiter`` (``parse_options``)."""

    def __init__(self, cache: DocumentCache) -> None:
        self.cache = cache

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        query = ctx.query or ""
        max_tokens = ctx.parse_options.get("max_tokens")
        try:
            overflow = token_overflow(query, max_tokens) if isinstance(max_tokens, int) else None
            if overflow is not None:
                raise GraphQLSyntaxError(
                    Source(query), overflow, f"Document contains more than {max_tokens} tokens. Parsing aborted."
                )
            if ctx.graphql_document is None and query:
                ctx.graphql_document = self.cache.parse(query, **ctx.parse_options)
        except GraphQLError as error:
            ctx.graphql_document = unparsable(ctx.operation_name)
            ctx.pre_execution_errors = [error]
        yield


class GuardedValidation(SchemaExtension):
    """Steps 3-5 of the module doc; errors already there (a parse error) are kept as they are."""

    def __init__(self, cache: DocumentCache, *, max_cost: int) -> None:
        self.cache = cache
        self.max_cost = max_cost

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        document = ctx.graphql_document
        if document is not None and not ctx.pre_execution_errors:
            schema = ctx.schema._schema
            prechecks = [rule for rule in ctx.validation_rules if getattr(rule, "linear_precheck", False)]
            errors = [error for rule in prechecks for error in rule.check(document)]  # type: ignore[attr-defined]
            if not errors:
                errors = cost_errors(ctx.schema, document, ctx.variables, ctx.operation_name, max_cost=self.max_cost)
            if not errors:
                rules = full_rules(ctx.validation_rules, ctx.query)
                cached = self.cache.validation(ctx.query, document, rules)
                if cached is None:
                    cached = validate_document(schema, document, rules)
                    self.cache.keep_validation(ctx.query, document, cached, rules)
                errors = cached
            ctx.pre_execution_errors = errors
        yield
