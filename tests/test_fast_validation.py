"""``schema.validation`` against graphql-core through Strawberry: the same errors, in the same order, with the
same locations, on valid and invalid documents, and through the service's document pipeline."""

from __future__ import annotations

import pytest
from graphql import GraphQLError, parse
from graphql import validate as graphql_validate
from strawberry.schema.schema import validate_document as strawberry_validate_document
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from schema.build import build_schema
from schema.documents import full_rules
from schema.operations import OPERATIONS
from schema.validation import STRAWBERRY_RULES, validate, validate_document

SCHEMA = build_schema()
GRAPHQL_SCHEMA = SCHEMA._schema
RULES = SCHEMA.request_rules  # type: ignore[attr-defined]

INVALID = [
    "query A { nosuchfield }",
    'query B { signal(symbol: "BTC") }',  # a union needs a selection
    'query C { signal(symbol: "BTC") { ... on Signal { nosuch } } }',
    "query D { signal { __typename } }",  # a required argument missing
    "query E { signal(symbol: 1) { __typename } }",
    'query F { signal(symbol: "BTC", nope: 1) { __typename } }',
    "query G($s: String!) { signal(symbol: $nope) { __typename } }",
    "query H($unused: Int) { __typename }",
    "query I($n: Int) { signal(symbol: $n) { __typename } }",
    "query J { ...Missing }",
    "query K { __typename } fragment Unused on Query { __typename }",
    "fragment A on Query { ...B } fragment B on Query { ...A } query L { ...A }",
    "query M { __typename } query M { __typename }",
    "{ __typename } { __typename }",
    "query N { __typename @nosuchdirective }",
    "query O { __typename @skip(if: true) @skip(if: false) }",
    'query P { signal(symbol: "BTC") { ... on NoSuchType { __typename } } }',
    'query Q { a: signal(symbol: "BTC") { __typename } a: signal(symbol: "ETH") { __typename } }',
    "subscription S { __typename }",
    "mutation T { nosuch }",
    "query U { " + " ".join(f"f{i}: nosuch{i}" for i in range(120)) + " }",  # past graphql-core's 100 errors
]
VALID = [
    "{ __typename }",
    'query V { signal(symbol: "BTC") { __typename ... on Signal { score factors { name score } } } }',
    "query W($s: String!) { signal(symbol: $s) { ...S } } fragment S on SignalResult { __typename }",
    "query X { __schema { types { name } } }",
    *(op.document for op in OPERATIONS),
]


def _shape(errors: list[GraphQLError]) -> list[tuple[str, object, object]]:
    return [(e.message, [(loc.line, loc.column) for loc in e.locations or ()], e.extensions) for e in errors]


@pytest.mark.parametrize("query", INVALID + VALID)
def test_same_errors_as_graphql_core_through_strawberry(query: str) -> None:
    document = parse(query)
    for rules in (RULES, full_rules(RULES, query)):
        expected = strawberry_validate_document(GRAPHQL_SCHEMA, document, rules)
        assert _shape(validate_document(GRAPHQL_SCHEMA, document, rules)) == _shape(expected)
    if query in INVALID:
        assert strawberry_validate_document(GRAPHQL_SCHEMA, document, RULES)  # the case does test errors


def test_the_error_limit_and_strawberrys_rules_are_kept() -> None:
    document = parse(INVALID[-1])
    errors = validate(GRAPHQL_SCHEMA, document, (*RULES, *STRAWBERRY_RULES))
    assert len(errors) == 101 and errors[-1].message.startswith("Too many validation errors")
    limited = validate(GRAPHQL_SCHEMA, document, RULES, max_errors=3)
    assert _shape(limited) == _shape(graphql_validate(GRAPHQL_SCHEMA, document, RULES, max_errors=3))
    assert len(limited) == 4 and limited[-1].message.startswith("Too many validation errors")
    assert (MaybeNullValidationRule, OneOfInputValidationRule) == STRAWBERRY_RULES


async def test_the_service_pipeline_answers_validation_errors_as_before() -> None:
    result = await build_schema().execute("query Z { nosuchfield }")
    assert result.errors is not None
    assert [(e.message, (e.extensions or {}).get("code")) for e in result.errors] == [
        ("Cannot query field 'nosuchfield' on type 'Query'.", "GRAPHQL_VALIDATION_FAILED")
    ]
