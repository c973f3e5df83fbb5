"""Start-up prewarming (signal_api.prewarm) and the validation fast paths of schema.documents.

A prewarmed document's first request must reuse the result (same rules as a request, so no drift), a
result must never be reused for other rules, and the variable rules skipped for ``$``-free documents must
still report for documents that have variables."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest
from graphql import GraphQLError, NoUndefinedVariablesRule, NoUnusedVariablesRule, VariablesInAllowedPositionRule

from schema.build import build_schema
from schema.documents import DocumentCache, full_rules
from schema.operations import OPERATIONS
from signal_api.prewarm import prewarm_documents, prewarm_execution

from .conftest import load_cassette_json

VARIABLE_RULES = {NoUndefinedVariablesRule, NoUnusedVariablesRule, VariablesInAllowedPositionRule}
SIGNALS_GET = next(op for op in OPERATIONS if op.name == "signals.get")


def _codes(result: Any) -> list[str]:
    return [str((error.extensions or {}).get("code")) for error in result.errors or ()]


async def test_prewarmed_trusted_document_skips_parse_and_validation_on_its_first_request() -> None:
    schema = build_schema()
    cache = schema.document_cache  # type: ignore[attr-defined]
    kept = prewarm_documents(schema, [op.document for op in OPERATIONS])
    assert kept == len(OPERATIONS)  # 24 documents, ~13 KB: well under half the cache
    parses, validations = cache.parse_misses, cache.validation_misses
    assert validations == 0  # prevalidate stores results; it does not count as a request's miss
    result = await schema.execute(SIGNALS_GET.document, variable_values={"symbol": "BTC"})  # no services
    assert (cache.parse_misses, cache.validation_misses) == (parses, validations)
    assert cache.parse_hits == 1 and cache.validation_hits == 1
    assert "GRAPHQL_VALIDATION_FAILED" not in _codes(result)


async def test_prewarm_keeps_the_errors_of_an_invalid_document_and_skips_unparsable_ones() -> None:
    schema = build_schema()
    cache = schema.document_cache  # type: ignore[attr-defined]
    invalid, broken = "query Bad5e1 { nosuchfield }", "query Broken5e1 {"
    assert prewarm_documents(schema, [broken, invalid]) == 1
    result = await schema.execute(invalid)
    assert cache.validation_hits == 1
    assert _codes(result) == ["GRAPHQL_VALIDATION_FAILED"] and "nosuchfield" in str(result.errors)
    assert _codes(await schema.execute(broken)) == ["GRAPHQL_PARSE_FAILED"]


def test_prevalidate_fills_at_most_half_the_cache() -> None:
    schema = build_schema()
    cache = DocumentCache(max_entries=8)
    documents = [f"query Q{i} {{ __typename }}" for i in range(10)]
    assert cache.prevalidate(schema._schema, documents, schema.request_rules) == 4  # type: ignore[attr-defined]
    assert len(cache) == 4
    small = DocumentCache(max_total_chars=100)
    assert small.prevalidate(schema._schema, documents, schema.request_rules) == 2  # type: ignore[attr-defined]
    assert small.chars <= 50


def test_a_result_is_reused_only_for_the_same_rules() -> None:
    schema = build_schema()
    cache = DocumentCache()
    query = "query Same7a2 { __typename }"
    cache.prevalidate(schema._schema, [query], schema.request_rules)  # type: ignore[attr-defined]
    document = cache.parse(query)
    rules = full_rules(schema.request_rules, query)  # type: ignore[attr-defined]
    assert cache.validation(query, document, rules) == []
    assert cache.validation(query, document, rules[:-1]) is None


def test_variable_rules_run_only_when_the_text_can_hold_a_variable() -> None:
    rules = build_schema().request_rules  # type: ignore[attr-defined]
    assert VARIABLE_RULES.isdisjoint(full_rules(rules, "{ __typename }"))
    assert set(full_rules(rules, "query Q($s: String!) { signal(symbol: $s) { __typename } }")) >= VARIABLE_RULES
    assert set(full_rules(rules, None)) >= VARIABLE_RULES  # no text to look at: all of them
    assert not any(getattr(rule, "linear_precheck", False) for rule in full_rules(rules, None))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("query U1 { signal(symbol: $nope) { __typename } }", "Variable '$nope' is not defined"),
        ("query U2($unused: String) { __typename }", "Variable '$unused' is never used"),
        ("query U3($n: Int) { signal(symbol: $n) { __typename } }", "Variable '$n' of type 'Int'"),
        # a "$" inside a string: the rules run (and find nothing wrong)
        ('query U4 { signal(symbol: "$BTC") { __typename } }', None),
    ],
)
async def test_documents_with_variables_still_get_the_variable_errors(query: str, message: str | None) -> None:
    result = await build_schema().execute(query)
    messages = [error.message for error in result.errors or () if isinstance(error, GraphQLError)]
    if message is None:
        assert "GRAPHQL_VALIDATION_FAILED" not in _codes(result)
    else:
        assert any(message in text for text in messages), messages
        assert "GRAPHQL_VALIDATION_FAILED" in _codes(result)


def test_execution_prewarm_answers_the_whole_introspection_and_records_no_operation() -> None:
    operations: list[str] = []

    class Recorder:
        def operation(self, label: str, seconds: float) -> None:
            operations.append(label)

        def error(self, code: str) -> None:
            operations.append(code)

    schema = build_schema(metrics=Recorder())
    assert prewarm_execution(schema) == len(schema._schema.type_map)  # every type, introspection's own too
    assert operations == []  # below the extensions: no metric, no cost charged, no document kept
    assert len(schema.document_cache) == 0  # type: ignore[attr-defined]


async def test_the_app_prewarms_before_it_serves() -> None:
    """The lifespan validated the registry's documents before the first request: a REST call of a
    registered operation finds its document parsed and validated (the wiring and the rules match). It also
    sets the collector's thresholds for serving, and restores them when the app stops, and opens
    ``UPSTREAM_WARM_CONNECTIONS`` to Binance with its ping (the replay answers 404: no entry, still an answer)."""
    import httpx2
    from starlette.routing import Route

    from providers.replay import Cassette, ReplayApp, serve_in_background
    from signal_api.app import GC_THRESHOLDS, create_app
    from signal_api.settings import Settings

    cassette = Cassette.model_validate(load_cassette_json("btc-2025-11-14-latest.json"))
    replay = ReplayApp(cassette)
    async with serve_in_background(replay.app) as upstream:
        settings = Settings(_env_file=None, streams_enabled=False).with_replay_base(upstream.base_url)  # type: ignore[call-arg]
        app = create_app(settings, clock=lambda: cassette.now)
        view = next(r.endpoint for r in app.routes if isinstance(r, Route) and r.path == "/graphql")
        cache = view.schema.document_cache  # type: ignore[attr-defined]
        assert len(cache) == 0  # nothing happens before the lifespan
        before = gc.get_threshold()
        async with serve_in_background(app, lifespan="on") as service:
            assert len(cache) == len(OPERATIONS)  # before any request
            assert gc.get_threshold() == GC_THRESHOLDS  # serving: the collector tuned for short-lived garbage
            await asyncio.wait_for(asyncio.shield(app.state.warm_up), 10)  # beside the server, after the listing
            # one GET first (the replay's 404 is an answer, not a refusal), then the 8 at once
            assert replay.calls["binance GET /fapi/v1/ping"] == 1 + settings.upstream_warm_connections == 9
            async with httpx2.AsyncClient(timeout=10) as client:
                body = {"operation": "signals.get", "symbol": "BTC"}
                response = await client.post(f"{service.base_url}/invoke", json=body)
            assert response.status_code == 200, response.text
            assert response.json()["ok"] is True
            assert (cache.parse_misses, cache.validation_misses) == (len(OPERATIONS), 0)
            assert (cache.parse_hits, cache.validation_hits) == (1, 1)
        assert gc.get_threshold() == before  # and given back when the app stops


# Each document makes one of the skippable rules report (its text holds what the rule needs), next to
# documents without that text: with and without skipping, graphql-core must report exactly the same.
SKIPPABLE_CASES = [
    'query D1 { signal(symbol: "BTC") @nosuch { __typename } }',  # KnownDirectives
    'query D2 { signal(symbol: "BTC") @skip(if: false) @skip(if: false) { __typename } }',  # UniqueDirectives
    "query D3 { ... @defer { __typename } }",  # defer on the root
    "fragment F on Query { __typename } fragment F on Query { __typename } query D4 { ...F }",  # UniqueFragment
    "fragment Unused on Query { __typename } query D5 { __typename }",  # NoUnusedFragments
    "fragment A on Query { ...B } fragment B on Query { ...A } query D6 { ...A }",  # NoFragmentCycles
    "query D7($s: Signal) { __typename }",  # VariablesAreInputTypes (and unused)
    "query D8($s: String, $s: String) { signal(symbol: $s) { __typename } }",  # UniqueVariableNames
    'subscription D9 { liquidations(symbol: "BTC") { __typename } signalUpdates(symbol: "BTC") { __typename } }',
    "query D10 { __schema { types { fields { type { fields { type { fields { name } } } } } } } }",  # introspection
    "query D11 { ...Missing }",  # KnownFragmentNames: never skipped
    'query D12 { signal(symbol: "BTC") { __typename ... on Signal { score } } }',  # valid, nothing to skip for
    'query D13 { signal(symbol: "@fragment $x __type") { __typename } }',  # the needles in a string: kept
    "query D14 { nosuch __typename }",
]


@pytest.mark.parametrize("query", SKIPPABLE_CASES + [op.document for op in OPERATIONS])
def test_skipping_rules_the_text_cannot_need_changes_no_result(query: str) -> None:
    from graphql import parse, validate

    schema = build_schema()
    rules = schema.request_rules  # type: ignore[attr-defined]
    every = [rule for rule in rules if not getattr(rule, "linear_precheck", False)]
    document = parse(query)
    fast = [error.formatted for error in validate(schema._schema, document, full_rules(rules, query))]
    full = [error.formatted for error in validate(schema._schema, document, every)]
    assert fast == full


def test_the_skippable_cases_each_report_and_skipping_happens() -> None:
    from graphql import parse, validate

    schema = build_schema()
    rules = schema.request_rules  # type: ignore[attr-defined]
    for query in SKIPPABLE_CASES[:11]:  # every one of these is invalid: the equality above is not vacuous
        assert validate(schema._schema, parse(query), full_rules(rules, query)), query
    plain = full_rules(rules, 'query P { signal(symbol: "BTC") { __typename } }')
    assert len(plain) <= len(rules) - 15  # variables, directives, fragment definitions, subscriptions, introspection
