"""The registry as the REST shim sees it: each operation with its parameters and its result schema,
derived once from the executable schema."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphql import validate

from schema.operations import NAME_PATTERN, OPERATIONS
from signal_api.rest.jsonschema import ResultSchemas
from signal_api.rest.params import RESERVED, params_of

if TYPE_CHECKING:
    from graphql import GraphQLSchema

    from schema.operations import Operation
    from signal_api.rest.params import Param


@dataclass(frozen=True)
class RestOperation:
    op: Operation
    params: tuple[Param, ...]
    result_schema: dict[str, Any]

    @property
    def name(self) -> str:
        return self.op.name

    @property
    def schema_name(self) -> str:
        """PascalCase for component names: ``signals.get`` → ``SignalsGet``."""
        return self.op.operation_id[:1].upper() + self.op.operation_id[1:]


class RegistryError(ValueError):
    """A registry document does not fit the schema or the REST conventions."""


def build_catalog(schema: GraphQLSchema, operations: tuple[Operation, ...] = OPERATIONS) -> dict[str, RestOperation]:
    """Every operation checked against the schema (``RegistryError`` otherwise), by name."""
    catalog: dict[str, RestOperation] = {}
    for op in operations:
        if not NAME_PATTERN.match(op.name):
            raise RegistryError(f"{op.name!r}: names are lower-case, dotted (area.action)")
        errors = validate(schema, op.ast)
        if errors:
            raise RegistryError(f"{op.name}: {'; '.join(e.message for e in errors)}")
        try:
            params = params_of(op, schema)
            _ = op.operation_name, op.root_field
        except (AssertionError, ValueError, TypeError) as exc:
            raise RegistryError(f"{op.name}: {exc}") from exc
        clashes = RESERVED & {p.name for p in params}
        if clashes:
            raise RegistryError(f"{op.name}: variables may not be called {sorted(clashes)}")
        if op.name in catalog:
            raise RegistryError(f"{op.name}: listed twice")
        _check_texts(op, params)
        catalog[op.name] = RestOperation(op=op, params=params, result_schema=ResultSchemas(schema, op).root())
    return catalog


SUMMARY_MAX = 120
DESCRIPTION_MAX = 300  # GPT Actions' limit


def _check_texts(op: Operation, params: tuple[Param, ...]) -> None:
    """Written texts that fit the GPT limits, so that nothing is ever cut: a summary (≤ 120 characters), a
    description (≤ 300) and, for each variable, what to pass (the registry's ``ParamDoc`` or the argument's
    schema description), and no ``ParamDoc`` for a variable the document does not have."""
    if not 0 < len(op.summary) <= SUMMARY_MAX:
        raise RegistryError(f"{op.name}: the summary must be 1 to {SUMMARY_MAX} characters, not {len(op.summary)}")
    if not 0 < len(op.description) <= DESCRIPTION_MAX:
        raise RegistryError(f"{op.name}: the description must be 1 to {DESCRIPTION_MAX} characters")
    names = {p.name for p in params}
    strays = sorted({doc.name for doc in op.params} - names)
    if strays:
        raise RegistryError(f"{op.name}: params documented for no variable: {strays}")
    for param in params:
        text = param.doc.description if param.doc is not None else param.description
        if not text or text.strip().lower() == param.name.lower():
            raise RegistryError(f"{op.name}: say what to pass for ${param.name} (a ParamDoc in the registry)")
        if len(text) > DESCRIPTION_MAX:
            raise RegistryError(f"{op.name}: the text for ${param.name} is over {DESCRIPTION_MAX} characters")
