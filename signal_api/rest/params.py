"""REST parameters of a registry operation, derived from its GraphQL variable definitions.

The same :class:`Param` drives three things so they cannot disagree: turning REST input (a JSON body or
a query string) into GraphQL variables, the OpenAPI parameter schemas, and ``GET /invoke/operations``.

REST input is friendlier than GraphQL's: enum values are matched case-insensitively by name or by the
engine's value (``4h`` as well as ``H4``) and, for ``Mode``, by the engine's aliases (``safe``, ``2``,
``scalping``); lists come as JSON arrays, or in a query string comma-separated (``symbols=BTC,ETH``;
repeating the parameter also works).
"""

from __future__ import annotations

import contextlib
import enum
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from graphql import (
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    Undefined,
    is_input_type,
    type_from_ast,
    value_from_ast_untyped,
)

from engine import Mode
from engine.market import Timeframe
from engine.modes import MODE_ALIASES

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from graphql import GraphQLInputType, GraphQLSchema

    from schema.operations import Operation, ParamDoc

RESERVED = frozenset({"operation", "args", "compact", "precision"})
# How the shim renders numbers (``precision``): the first is the default (signal_api.rest.numbers).
PRECISIONS = ("trader", "full")
INT_MIN, INT_MAX = -(2**31), 2**31 - 1

# Enum parsers of the engine, by GraphQL enum name: they return the engine member, whose GraphQL name
# is then looked up. Listed aliases are enumerated in the OpenAPI schema.
ENUM_PARSERS: dict[str, Callable[[str], object]] = {"Mode": Mode.parse, "Timeframe": Timeframe.parse}
ENUM_ALIASES: dict[str, tuple[str, ...]] = {"Mode": tuple(MODE_ALIASES)}


class ArgumentError(ValueError):
    """A REST parameter is missing, unknown or of the wrong type (HTTP 400 ``INVALID_ARGUMENT``)."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message


@dataclass(frozen=True)
class Param:
    name: str
    type: GraphQLInputType
    required: bool
    default: Any = None  # as GraphQL literals read: enum names are strings ("AGGRESSIVE")
    has_default: bool = False
    description: str | None = None  # the GraphQL argument's
    doc: ParamDoc | None = None  # the registry's: what to pass, and the REST schema's bounds

    @property
    def graphql_type(self) -> str:
        return str(self.type)


def params_of(op: Operation, schema: GraphQLSchema) -> tuple[Param, ...]:
    """The operation's variables, in document order, with the root field's argument descriptions."""
    arg_descriptions = _argument_descriptions(op, schema)
    params = []
    for definition in op.definition.variable_definitions or ():
        gql_type = type_from_ast(schema, definition.type)
        if gql_type is None or not is_input_type(gql_type):
            raise TypeError(f"{op.name}: variable ${definition.variable.name.value} has no input type")
        name = definition.variable.name.value
        has_default = definition.default_value is not None
        default = value_from_ast_untyped(definition.default_value) if definition.default_value is not None else None
        params.append(
            Param(
                name=name,
                type=gql_type,
                required=isinstance(gql_type, GraphQLNonNull) and not has_default,
                default=default,
                has_default=has_default,
                description=arg_descriptions.get(name),
                doc=op.param_doc(name),
            )
        )
    return tuple(params)


def _argument_descriptions(op: Operation, schema: GraphQLSchema) -> dict[str, str]:
    """Variable name → the description of the root-field argument it is passed to (when it has one)."""
    from graphql import FieldNode, VariableNode

    root = schema.get_root_type(op.definition.operation)
    [node] = op.definition.selection_set.selections
    if root is None or not isinstance(node, FieldNode) or node.name.value not in root.fields:
        return {}
    field = root.fields[node.name.value]
    found = {}
    for argument in node.arguments or ():
        definition = field.args.get(argument.name.value)
        if isinstance(argument.value, VariableNode) and definition is not None and definition.description:
            found[argument.value.name.value] = definition.description
    return found


# --- enum spellings -------------------------------------------------------------------------------


def enum_spellings(enum: GraphQLEnumType) -> list[str]:
    """Every documented spelling of an enum for REST: its names, the engine's values, known aliases."""
    spellings: list[str] = list(enum.values)
    for value in enum.values.values():
        raw = _internal(value)
        if isinstance(raw, str):
            spellings.append(raw)
    spellings.extend(ENUM_ALIASES.get(enum.name, ()))
    return list(dict.fromkeys(spellings))


def canonical_spelling(enum: GraphQLEnumType, name: str) -> str:
    """The one spelling the GPT schema shows for the value called ``name``: the engine's own value when it is
    text (``aggressive``, ``4h``), else the GraphQL name (``H24``, ``LONG``)."""
    raw = _internal(enum.values[name])
    return raw if isinstance(raw, str) else name


def canonical_spellings(enum: GraphQLEnumType) -> list[str]:
    return [canonical_spelling(enum, name) for name in enum.values]


def coerce_enum(enum: GraphQLEnumType, text: str) -> str | None:
    """The GraphQL name for a REST spelling (case-insensitive), or ``None`` when none matches."""
    cleaned = text.strip().lower()
    for name, value in enum.values.items():
        raw = _internal(value)
        if cleaned == name.lower() or (isinstance(raw, str) and cleaned == raw.lower()):
            return str(name)
    parser = ENUM_PARSERS.get(enum.name)
    if parser is None:
        return None
    try:
        member = parser(text)
    except ValueError:
        return None
    for name, value in enum.values.items():
        if _internal(value) == getattr(member, "value", member):
            return str(name)
    return None


def _internal(value: GraphQLEnumValue) -> object:
    """The engine's value behind a GraphQL enum value (strawberry stores the Python enum's value)."""
    return value.value.value if isinstance(value.value, enum.Enum) else value.value


# --- REST input → GraphQL variables ----------------------------------------------------------------


def describe(gql_type: GraphQLInputType) -> str:
    """``a string``, ``an integer``, ``a list of strings``, ... for error messages."""
    inner = gql_type.of_type if isinstance(gql_type, GraphQLNonNull) else gql_type
    if isinstance(inner, GraphQLList):
        return "a list of " + _plural(inner.of_type)
    if isinstance(inner, GraphQLEnumType):
        return "one of " + ", ".join(enum_spellings(inner))
    if isinstance(inner, GraphQLInputObjectType):
        return "an object"
    assert isinstance(inner, GraphQLScalarType)
    return {"Int": "an integer", "Float": "a number", "Boolean": "a boolean (true or false)"}.get(
        inner.name, "a string"
    )


def _plural(gql_type: GraphQLInputType) -> str:
    inner = gql_type.of_type if isinstance(gql_type, GraphQLNonNull) else gql_type
    if isinstance(inner, GraphQLScalarType):
        return {"Int": "integers", "Float": "numbers", "Boolean": "booleans"}.get(inner.name, "strings")
    if isinstance(inner, GraphQLEnumType):
        return f"{inner.name} values"
    if isinstance(inner, GraphQLList):
        return "lists"
    return "objects"


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def coerce_value(name: str, gql_type: GraphQLInputType, value: object, *, query: bool) -> Any:
    """One REST value as a GraphQL variable value; ``query`` when it came from a query string (text)."""
    if value is None:
        if isinstance(gql_type, GraphQLNonNull):
            raise ArgumentError(name, f"parameter {name!r} must not be null; expected {describe(gql_type)}")
        return None
    inner = gql_type.of_type if isinstance(gql_type, GraphQLNonNull) else gql_type
    if isinstance(inner, GraphQLList):
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list):
            raise ArgumentError(name, f"parameter {name!r} must be {describe(gql_type)}, not {_json_kind(value)}")
        return [coerce_value(name, inner.of_type, item, query=query) for item in value]
    if isinstance(inner, GraphQLEnumType):
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        found = coerce_enum(inner, value) if isinstance(value, str) else None
        if found is None:
            shown = repr(value) if isinstance(value, str) else _json_kind(value)
            raise ArgumentError(name, f"invalid value {shown} for parameter {name!r}; expected {describe(inner)}")
        return found
    if isinstance(inner, GraphQLInputObjectType):
        if query and isinstance(value, str):
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError:
                raise ArgumentError(name, f"parameter {name!r} must be a JSON object") from None
        if not isinstance(value, dict):
            raise ArgumentError(name, f"parameter {name!r} must be an object, not {_json_kind(value)}")
        return coerce_object(inner, value, prefix=f"{name}.")
    assert isinstance(inner, GraphQLScalarType)
    return _coerce_scalar(name, inner, value, query=query)


_INT = re.compile(r"^[+-]?\d+$")
_TRUE, _FALSE = frozenset({"true", "1", "yes"}), frozenset({"false", "0", "no"})


def _coerce_scalar(name: str, scalar: GraphQLScalarType, value: object, *, query: bool) -> Any:
    expected = describe(scalar)
    if scalar.name == "Int":
        if query and isinstance(value, str) and _INT.match(value.strip()):
            value = int(value.strip())
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ArgumentError(name, f"parameter {name!r} must be {expected}, not {_shown(value)}")
        if not INT_MIN <= value <= INT_MAX:
            raise ArgumentError(name, f"parameter {name!r} must be between {INT_MIN} and {INT_MAX}")
        return value
    if scalar.name == "Float":
        if query and isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value.strip())
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            raise ArgumentError(name, f"parameter {name!r} must be {expected}, not {_shown(value)}")
        return value
    if scalar.name == "Boolean":
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        if not isinstance(value, bool):
            raise ArgumentError(name, f"parameter {name!r} must be {expected}, not {_shown(value)}")
        return value
    if scalar.name == "ID" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):  # String, ID and custom scalars (DateTime ...) travel as text
        raise ArgumentError(name, f"parameter {name!r} must be {expected}, not {_json_kind(value)}")
    return value


def _shown(value: object) -> str:
    return repr(value) if isinstance(value, str) else _json_kind(value)


def coerce_object(object_type: GraphQLInputObjectType, value: Mapping[str, object], *, prefix: str) -> dict[str, Any]:
    unknown = sorted(set(value) - set(object_type.fields))
    if unknown:
        field = prefix + unknown[0]
        raise ArgumentError(field, f"unknown field {field}; expected one of {', '.join(object_type.fields)}")
    coerced: dict[str, Any] = {}
    for field_name, field in object_type.fields.items():
        if field_name in value:
            coerced[field_name] = coerce_value(prefix + field_name, field.type, value[field_name], query=False)
        elif isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined:
            raise ArgumentError(prefix + field_name, f"missing required field {prefix}{field_name}")
    return coerced


def coerce_params(params: tuple[Param, ...], raw: Mapping[str, object], *, query: bool) -> dict[str, Any]:
    """All REST parameters as GraphQL variables; ``ArgumentError`` names the first parameter at fault.

    Absent optional parameters, and optional ones given as null, are left out so GraphQL applies the
    document's (or the argument's) defaults.
    """
    known = {p.name for p in params}
    unknown = sorted(set(raw) - known)
    if unknown:
        expected = ", ".join(sorted(known)) or "none"
        raise ArgumentError(unknown[0], f"unknown parameter {unknown[0]!r}; this operation takes: {expected}")
    variables: dict[str, Any] = {}
    for param in params:
        if param.name not in raw:
            if param.required:
                raise ArgumentError(param.name, f"missing required parameter {param.name!r} ({describe(param.type)})")
            continue
        value = raw[param.name]
        if value is None and not param.required:  # null is "not given": GraphQL applies its defaults
            continue
        variables[param.name] = coerce_value(param.name, param.type, value, query=query)
    return variables


def query_values(params: tuple[Param, ...], items: list[tuple[str, str]]) -> dict[str, object]:
    """Query-string pairs grouped per parameter: lists may repeat, anything else must appear once."""
    lists = {p.name for p in params if isinstance(_unwrap(p.type), GraphQLList)}
    grouped: dict[str, list[str]] = {}
    for key, value in items:
        grouped.setdefault(key, []).append(value)
    raw: dict[str, object] = {}
    for key, values in grouped.items():
        if key in lists:
            raw[key] = [part.strip() for value in values for part in value.split(",") if part.strip()]
        elif len(values) > 1:
            raise ArgumentError(key, f"parameter {key!r} is given {len(values)} times; give it once")
        else:
            raw[key] = values[0]
    return raw


def _unwrap(gql_type: GraphQLInputType) -> GraphQLInputType:
    return gql_type.of_type if isinstance(gql_type, GraphQLNonNull) else gql_type


def parse_precision(value: object) -> str:
    """``precision``: one of :data:`PRECISIONS` (case-insensitive)."""
    if isinstance(value, str) and value.strip().lower() in PRECISIONS:
        return value.strip().lower()
    raise ArgumentError(
        "precision", f"parameter 'precision' must be one of {', '.join(PRECISIONS)}, not {_shown(value)}"
    )


def parse_flag(name: str, value: object) -> bool:
    """``compact`` and other boolean switches: JSON booleans or the usual words."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ArgumentError(name, f"parameter {name!r} must be a boolean (true or false), not {_shown(value)}")
