"""JSON Schema (2020-12, as OpenAPI 3.1 uses it) for an operation's variables and for its result.

Results are described by walking the document's selection set against the executable schema, so a
schema says exactly what the REST answer holds: the selected fields (aliases included), nullability as
``["string", "null"]``, unions and interfaces as ``oneOf`` branches told apart by a ``__typename``
constant (``anyOf`` when the document does not select ``__typename``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    InlineFragmentNode,
    Undefined,
    is_abstract_type,
)

from signal_api.rest.params import INT_MAX, INT_MIN, canonical_spellings, enum_spellings

if TYPE_CHECKING:
    from graphql import GraphQLInputType, GraphQLOutputType, GraphQLSchema, SelectionSetNode

    from schema.operations import Operation

JsonSchema = dict[str, Any]

# Diagnostic fields that the compact mode may drop: never listed as required.
VERBOSE_FIELDS = frozenset({"tiers", "sources", "failedSources", "failed"})

SCALARS: dict[str, JsonSchema] = {
    "String": {"type": "string"},
    "ID": {"type": "string"},
    "Int": {"type": "integer", "minimum": INT_MIN, "maximum": INT_MAX},
    "Float": {"type": "number"},
    "Boolean": {"type": "boolean"},
    "DateTime": {"type": "string", "format": "date-time"},
    "Date": {"type": "string", "format": "date"},
}


def nullable(schema: JsonSchema) -> JsonSchema:
    """``schema`` or null: a type union where the schema has a single type, ``anyOf`` otherwise."""
    kind = schema.get("type")
    if isinstance(kind, str):
        widened = {**schema, "type": [kind, "null"]}
        if "enum" in schema:
            widened["enum"] = [*schema["enum"], None]
        return widened
    if isinstance(kind, list):
        return schema if "null" in kind else {**schema, "type": [*kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


# --- inputs ----------------------------------------------------------------------------------------


def input_schema(gql_type: GraphQLInputType, *, allow_null: bool = True, canonical: bool = False) -> JsonSchema:
    """A variable's type: enums list every REST spelling (one per value when ``canonical``), nullable types
    admit null when ``allow_null`` (a JSON body can send null; a query string cannot)."""
    if isinstance(gql_type, GraphQLNonNull):
        return _input_non_null(gql_type.of_type, allow_null, canonical)
    schema = _input_non_null(gql_type, allow_null, canonical)
    return nullable(schema) if allow_null else schema


def _input_non_null(gql_type: GraphQLInputType, allow_null: bool, canonical: bool = False) -> JsonSchema:
    if isinstance(gql_type, GraphQLList):
        return {"type": "array", "items": input_schema(gql_type.of_type, allow_null=allow_null, canonical=canonical)}
    if isinstance(gql_type, GraphQLEnumType):
        return {"type": "string", "enum": canonical_spellings(gql_type) if canonical else enum_spellings(gql_type)}
    if isinstance(gql_type, GraphQLInputObjectType):
        return {
            "type": "object",
            "properties": {
                name: _described(input_schema(field.type, allow_null=True), field.description)
                for name, field in gql_type.fields.items()
            },
            "required": [
                name
                for name, field in gql_type.fields.items()
                if isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined
            ],
            "additionalProperties": False,
        }
    assert isinstance(gql_type, GraphQLScalarType)
    return dict(SCALARS.get(gql_type.name, {"type": "string"}))


def _described(schema: JsonSchema, description: str | None) -> JsonSchema:
    return {**schema, "description": description} if description else schema


# --- results ---------------------------------------------------------------------------------------


class ResultSchemas:
    """Result schemas of one operation's document."""

    def __init__(self, schema: GraphQLSchema, op: Operation) -> None:
        self.schema = schema
        self.op = op
        self.fragments = {d.name.value: d for d in op.ast.definitions if isinstance(d, FragmentDefinitionNode)}

    def root(self) -> JsonSchema:
        """The schema of the root field's value (what the REST envelope carries as ``data``)."""
        root_type = self.schema.get_root_type(self.op.definition.operation)
        assert root_type is not None
        [node] = self.op.definition.selection_set.selections
        assert isinstance(node, FieldNode)
        field = root_type.fields[node.name.value]
        return _described(self.output(field.type, [node]), field.description)

    def output(self, gql_type: GraphQLOutputType, nodes: list[FieldNode]) -> JsonSchema:
        if isinstance(gql_type, GraphQLNonNull):
            return self._non_null(gql_type.of_type, nodes)
        return nullable(self._non_null(gql_type, nodes))

    def _non_null(self, gql_type: GraphQLOutputType, nodes: list[FieldNode]) -> JsonSchema:
        if isinstance(gql_type, GraphQLList):
            return {"type": "array", "items": self.output(gql_type.of_type, nodes)}
        if isinstance(gql_type, GraphQLEnumType):
            return {"type": "string", "enum": list(gql_type.values)}
        if isinstance(gql_type, GraphQLScalarType):
            return dict(SCALARS.get(gql_type.name, {}))
        selections = [n.selection_set for n in nodes if n.selection_set is not None]
        if isinstance(gql_type, GraphQLObjectType):
            return self.object(gql_type, selections)
        assert is_abstract_type(gql_type)
        assert isinstance(gql_type, GraphQLUnionType | GraphQLInterfaceType)
        branches = [self.object(member, selections) for member in self.schema.get_possible_types(gql_type)]
        if all("__typename" in branch["properties"] for branch in branches):
            return {"oneOf": branches}
        return {"anyOf": branches}

    def object(self, object_type: GraphQLObjectType, selections: list[SelectionSetNode]) -> JsonSchema:
        collected: dict[str, list[FieldNode]] = {}
        conditional: set[str] = set()
        for selection_set in selections:
            self._collect(object_type, selection_set, collected, conditional, set())
        properties: JsonSchema = {}
        for key, nodes in collected.items():
            name = nodes[0].name.value
            if name == "__typename":
                properties[key] = {"type": "string", "const": object_type.name}
                continue
            field = object_type.fields[name]
            properties[key] = _described(self.output(field.type, nodes), field.description)
        return {
            "type": "object",
            "title": object_type.name,
            "properties": properties,
            "required": [k for k in properties if k not in conditional and k not in VERBOSE_FIELDS],
            "additionalProperties": False,
        }

    def _collect(
        self,
        object_type: GraphQLObjectType,
        selection_set: SelectionSetNode,
        collected: dict[str, list[FieldNode]],
        conditional: set[str],
        visited: set[str],
    ) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                key = (selection.alias or selection.name).value
                collected.setdefault(key, []).append(selection)
                if selection.directives:  # @include / @skip: maybe absent
                    conditional.add(key)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition.name.value if selection.type_condition else None
                if self._applies(condition, object_type):
                    self._collect(object_type, selection.selection_set, collected, conditional, visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if name in visited or fragment is None:
                    continue
                visited.add(name)
                if self._applies(fragment.type_condition.name.value, object_type):
                    self._collect(object_type, fragment.selection_set, collected, conditional, visited)

    def _applies(self, condition: str | None, object_type: GraphQLObjectType) -> bool:
        if condition is None or condition == object_type.name:
            return True
        condition_type = self.schema.get_type(condition)
        return isinstance(condition_type, GraphQLUnionType | GraphQLInterfaceType) and self.schema.is_sub_type(
            condition_type, object_type
        )
