"""graphql-core's document validation, with each rule's visitor methods looked up once per class, not per request.

graphql-core (3.3) instantiates every rule for each validation and runs them in a ``ParallelVisitor``, which
asks each rule instance, for each node kind met, for its ``enter_<kind>``/``enter`` and ``leave_<kind>``/
``leave`` methods: about 30 rules x 13 kinds of failed ``getattr`` calls and small tuples per document,
about a third of the validation of a ``signal`` query (0.87 ms of which 0.38 ms; 0.31 ms of which 0.2 ms for
``{ __typename }``). Here which names apply is cached per (rule class, kind), so a request only binds the
methods that exist. Everything else is graphql-core's own code and rules: the same errors in the same order,
the error limit, the fragment-nesting guard (``tests/test_fast_validation.py`` compares the two on valid and
invalid documents).

The cache assumes visitor methods are class attributes, as in every rule of graphql-core, Strawberry and ours
(none sets ``enter_*``/``leave_*`` on an instance).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphql import BREAK, SKIP, FragmentDefinitionNode, GraphQLError, ParallelVisitor, TypeInfo, TypeInfoVisitor, visit
from graphql.language.visitor import EnterLeaveVisitor
from graphql.type import assert_valid_schema
from graphql.validation import ValidationContext
from graphql.validation.validate import (
    FragmentNestingVisitor,
    ValidationAbortedError,
    query_document_keys_to_validate,
)
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

    from graphql import ASTValidationRule, DocumentNode, GraphQLSchema, Node

STRAWBERRY_RULES = (MaybeNullValidationRule, OneOfInputValidationRule)
"""The rules ``strawberry.schema.schema.validate_document`` appends to the ones it is given."""

_NAMES: dict[tuple[type, str], tuple[str | None, str | None]] = {}


def _method_names(cls: type, kind: str) -> tuple[str | None, str | None]:
    """The enter and leave method names a ``cls`` instance has for ``kind`` (graphql-core's lookup order)."""
    key = (cls, kind)
    found = _NAMES.get(key)
    if found is None:
        names: list[str | None] = []
        for action in ("enter", "leave"):
            specific = f"{action}_{kind}"
            names.append(specific if getattr(cls, specific, None) else action if getattr(cls, action, None) else None)
        found = _NAMES[key] = (names[0], names[1])
    return found


class _CachedParallelVisitor(ParallelVisitor):
    """graphql-core's ``ParallelVisitor`` (same skip and break semantics), built from the cached names."""

    def get_enter_leave_for_kind(self, kind: str) -> EnterLeaveVisitor:
        try:
            return self.enter_leave_map[kind]
        except KeyError:
            pass
        enters: list[tuple[int, Callable[..., Any]]] = []
        leaves: list[tuple[int, Callable[..., Any] | None]] = []  # every visitor: leaving resets its skip
        for i, visitor in enumerate(self.visitors):
            enter_name, leave_name = _method_names(type(visitor), kind)
            if enter_name is not None:
                enters.append((i, getattr(visitor, enter_name)))
            leaves.append((i, getattr(visitor, leave_name) if leave_name is not None else None))
        enter_pairs, leave_pairs = tuple(enters), tuple(leaves)
        skipping = self.skipping
        if not enter_pairs and all(fn is None for _, fn in leave_pairs):
            found = EnterLeaveVisitor(None, None)
            self.enter_leave_map[kind] = found
            return found

        def enter(node: Node, *args: Any) -> Any:
            args = (node, *args)
            for i, fn in enter_pairs:
                if not skipping[i]:
                    result = fn(*args)
                    if result is None:
                        continue
                    if result is SKIP or result is False:
                        skipping[i] = node
                    elif result is BREAK or result is True:
                        skipping[i] = BREAK
                    else:
                        return result
            return None

        def leave(node: Node, *args: Any) -> Any:
            args = (node, *args)
            for i, fn in leave_pairs:
                if not skipping[i]:
                    if fn:
                        result = fn(*args)
                        if result is None:
                            continue
                        if result is BREAK or result is True:
                            skipping[i] = BREAK
                        elif result is not SKIP and result is not False:
                            return result
                elif skipping[i] is node:
                    skipping[i] = None
            return None

        found = EnterLeaveVisitor(enter, leave)
        self.enter_leave_map[kind] = found
        return found


def validate(
    schema: GraphQLSchema, document: DocumentNode, rules: Collection[type[ASTValidationRule]], max_errors: int = 100
) -> list[GraphQLError]:
    """``graphql.validate(schema, document, rules)`` with the cached dispatch (its defaults otherwise)."""
    assert_valid_schema(schema)
    errors: list[GraphQLError] = []
    type_info = TypeInfo(schema)

    def on_error(error: GraphQLError) -> None:
        if len(errors) >= max_errors:
            raise ValidationAbortedError("Too many validation errors, error limit reached. Validation aborted.")
        errors.append(error)

    context = ValidationContext(schema, document, type_info, on_error)
    visitors: list[Any] = [rule(context) for rule in rules]
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    if fragments:
        visitors.insert(0, FragmentNestingVisitor(fragments))
    try:
        visit(document, TypeInfoVisitor(type_info, _CachedParallelVisitor(visitors)), query_document_keys_to_validate)
    except ValidationAbortedError as error:
        error.__context__ = None  # keep no frames of the validation alive with the returned error
        errors.append(error.with_traceback(None))
    except RecursionError:
        errors.append(ValidationAbortedError("Validation aborted."))
    return errors


def validate_document(
    schema: GraphQLSchema, document: DocumentNode, rules: Collection[type[ASTValidationRule]]
) -> list[GraphQLError]:
    """What ``strawberry.schema.schema.validate_document`` does (``rules`` plus its two), with :func:`validate`."""
    return validate(schema, document, (*rules, *STRAWBERRY_RULES))
