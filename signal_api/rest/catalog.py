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
        catalog[op.name] = RestOperation(op=op, params=params, result_schema=ResultSchemas(schema, op).root())
    return catalog
