"""Depth, alias and cost limits: linear in the document (each fragment visited once), typed refusals,
the same over WebSocket, and GraphQL metrics. Timings belong to ``bench/bench_validation.py``; these
tests assert structure (fragment visits) and codes."""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

import pytest
import websockets
from graphql import get_introspection_query, parse
from prometheus_client import REGISTRY

from schema.build import build_schema
from schema.cost import COST_WEIGHTS, DEFAULT_MAX_QUERY_COST, operation_cost_walker, query_cost
from schema.limits import DocumentShapes
from tests.test_graphql_errors import offline_service

if TYPE_CHECKING:
    from strawberry.types import ExecutionResult

SCHEMA = build_schema()
SYMBOLS = [f"C{i}" for i in range(50)]


def fan_out(levels: int, *, alias: bool = False, inline: bool = False) -> str:
    """Fragment N spreads fragment N-1 twice: 2^levels expansions, ``levels + 1`` fragments."""
    frags = ["fragment F0 on Query { __typename }"]
    for i in range(1, levels + 1):
        spreads = (
            f"... on Query {{ ...F{i - 1} }} ... on Query {{ ...F{i - 1} }}" if inline else f"...F{i - 1} ...F{i - 1}"
        )
        frags.append(f"fragment F{i} on Query {{ {f'a{i}: __typename ' if alias else ''}{spreads} }}")
    return f"query FanOut {{ ...F{levels} }} " + " ".join(frags)


def _codes(result: ExecutionResult) -> list[str]:
    return [str((e.extensions or {}).get("code")) for e in result.errors or ()]


# ------------------------------------------------------------------------------- linear validation


@pytest.mark.parametrize("levels", [30, 40])
def test_fan_out_visits_each_fragment_once(levels: int) -> None:
    document = parse(fan_out(levels, alias=True, inline=True))
    shapes = DocumentShapes(document)
    operation = next(d for d in document.definitions if d.kind == "operation_definition")
    shape = shapes.operation(operation)  # type: ignore[arg-type]
    assert shapes.fragment_visits == levels + 1
    assert shape.aliases >= 2**levels - 1  # counted as executed (inline fragments do not dedupe), saturated
    walker = operation_cost_walker(SCHEMA, document)
    walker.operation(operation)  # type: ignore[arg-type]
    assert walker.fragment_visits == levels + 1


async def test_schema_validation_of_fan_out_counts_linear_visits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the real schema: the rule's analyses visit each fragment once, and the answer is typed."""
    created: list[DocumentShapes] = []
    original = DocumentShapes.__init__

    def recording(self: DocumentShapes, document: Any) -> None:
        original(self, document)
        created.append(self)

    monkeypatch.setattr(DocumentShapes, "__init__", recording)
    result = await SCHEMA.execute(fan_out(35, alias=True, inline=True))
    assert _codes(result) == ["QUERY_TOO_LARGE"]
    assert created and all(shapes.fragment_visits <= 36 for shapes in created)

    plain = await SCHEMA.execute(fan_out(40))  # spreads repeated in one selection set run once: valid
    assert plain.errors is None and plain.data == {"__typename": "Query"}


async def test_unknown_and_cyclic_fragments_are_typed_validation_errors() -> None:
    unknown = await SCHEMA.execute("query Q { ...Nope }")
    cyclic = await SCHEMA.execute("query Q { ...A } fragment A on Query { ...B } fragment B on Query { ...A }")
    deep_unknown = await SCHEMA.execute("query Q { ...A } fragment A on Query { __typename ...Missing }")
    for result in (unknown, cyclic, deep_unknown):
        assert _codes(result) == ["GRAPHQL_VALIDATION_FAILED"], result.errors
        assert result.errors is not None and "Error" not in result.errors[0].message  # no exception text
    assert unknown.errors is not None and unknown.errors[0].message == "Unknown fragment 'Nope'."


async def test_unknown_fragment_over_http_is_a_typed_4xx_free_answer() -> None:
    import httpx2

    async with offline_service() as url, httpx2.AsyncClient(timeout=10) as client:
        response = await client.post(f"{url}/graphql", json={"query": "{ ...Nope }"})
    body = response.json()
    assert response.status_code < 500
    assert [e["extensions"]["code"] for e in body["errors"]] == ["GRAPHQL_VALIDATION_FAILED"]
    assert "KeyError" not in response.text and "Traceback" not in response.text


async def test_oversized_documents_are_refused_before_graphql_cores_lexer(monkeypatch: pytest.MonkeyPatch) -> None:
    from graphql.language.lexer import Lexer

    calls = 0
    advance = Lexer.advance

    def counting(self: Lexer) -> Any:
        nonlocal calls
        calls += 1
        return advance(self)

    monkeypatch.setattr(Lexer, "advance", counting)
    big = "query Big { " + " ".join(f"a{i}: __typename" for i in range(6000)) + " }"  # ~18,000 tokens
    result = await SCHEMA.execute(big)
    assert _codes(result) == ["QUERY_TOO_LARGE"] and calls <= 10  # only the tiny stand-in document is lexed
    assert result.errors is not None and "more than 2000 tokens" in result.errors[0].message
    before = calls
    small = await SCHEMA.execute("query Small { a: __typename b: __typename }")  # under the cap: lexed
    assert small.errors is None and calls - before >= 9


async def test_parse_errors_are_typed_with_an_operation_name_and_over_websocket() -> None:
    named = await SCHEMA.execute("query Broken { signal(symbol: ", operation_name="Broken")
    assert _codes(named) == ["GRAPHQL_PARSE_FAILED"]
    async with offline_service(streams_enabled=False) as url:
        reply, _ = await _ws_first_reply(url, "subscription { liquidations(")
    assert reply["type"] == "error"
    assert [e["extensions"]["code"] for e in reply["payload"]] == ["GRAPHQL_PARSE_FAILED"]


# ------------------------------------------------------------------------------- depth and aliases


async def test_depth_counts_through_fragments() -> None:
    schema = build_schema(max_depth=2)
    chain = (
        'query Deep { signal(symbol: "BTC") { ...S } } '
        "fragment S on Signal { dataQuality { ...Q } } fragment Q on DataQuality { sources { failed } }"
    )
    shallow = 'query Ok { signal(symbol: "BTC") { ...S } } fragment S on Signal { dataQuality { score } }'
    assert _codes(await schema.execute(chain)) == ["QUERY_TOO_DEEP"]
    assert "QUERY_TOO_DEEP" not in _codes(await schema.execute(shallow))


async def test_introspection_fits_but_recursive_introspection_does_not() -> None:
    full = await SCHEMA.execute(get_introspection_query())
    assert full.errors is None and full.data is not None
    nested = "fields { type { " * 10 + "name" + " } }" * 10
    abusive = await SCHEMA.execute(f'{{ __type(name: "Query") {{ {nested} }} }}')
    assert "QUERY_TOO_DEEP" in _codes(abusive)  # graphql-core's own introspection-depth rule may add its error


async def test_aliases_add_up_through_fragments() -> None:
    schema = build_schema(max_aliases=4)
    fragment = "fragment T on Query { a: __typename b: __typename }"
    twice = f"query Two {{ ...T }} {fragment}"  # 2 aliases
    three_places = f"query Six {{ x: __typename ... on Query {{ ...T }} ... on Query {{ ...T }} }} {fragment}"
    assert (await schema.execute(twice)).errors is None
    refused = await schema.execute(three_places)  # 1 + 2 + 2 = 5 > 4
    assert _codes(refused) == ["QUERY_TOO_LARGE"]
    assert refused.errors is not None and "5 aliases" in refused.errors[0].message


# ------------------------------------------------------------------------------------------- cost


def _cost(query: str, variables: dict[str, Any] | None = None, name: str | None = None) -> int:
    return query_cost(SCHEMA, parse(query), variables, name)


def test_weights_name_real_fields() -> None:
    schema = SCHEMA._schema
    for key in COST_WEIGHTS:
        type_name, field = key.split(".")
        owner = schema.get_type(type_name)
        assert owner is not None, key
        assert field.startswith("__") or field in owner.fields, key  # type: ignore[union-attr]
        per = COST_WEIGHTS[key].per
        assert per is None or per in owner.fields[field].args, key  # type: ignore[union-attr]


def test_cost_of_a_50_symbol_signals_literal_variable_and_default() -> None:
    literal = _cost(f"{{ signals(symbols: {json.dumps(SYMBOLS)}) {{ __typename }} }}")
    variable = _cost("query S($s: [String!]!) { signals(symbols: $s) { __typename } }", {"s": SYMBOLS})
    default = _cost(f"query S($s: [String!]! = {json.dumps(SYMBOLS)}) {{ signals(symbols: $s) {{ __typename }} }}")
    single = _cost("query S($s: [String!]!) { signals(symbols: $s) { __typename } }", {"s": "BTC"})
    assert literal == variable == default == 50 * COST_WEIGHTS["Query.signals"].weight
    assert single == COST_WEIGHTS["Query.signals"].weight
    assert literal <= DEFAULT_MAX_QUERY_COST  # the largest batch a client may ask for is allowed


def test_cost_of_aliases_fragments_and_expensive_fields() -> None:
    signals = f"signals(symbols: {json.dumps(SYMBOLS)}) {{ __typename }}"
    aliases_29 = "{ " + " ".join(f"a{i}: {signals}" for i in range(29)) + " }"
    assert _cost(aliases_29) == 29 * 50
    backtests_10 = "{ " + " ".join(f"b{i}: backtest {{ __typename }}" for i in range(10)) + " }"
    assert _cost(backtests_10) == 10 * COST_WEIGHTS["Query.backtest"].weight
    spread_twice = (
        'query Q { ...M x: exchange(name: "okx") { ...E } } '
        'fragment M on Query { market(symbol: "BTC") { __typename } } '
        "fragment E on ExchangeResult { ... on Exchange { "
        'funding(symbol: "BTC") { __typename } candles(symbol: "BTC") { __typename } } }'
    )
    assert _cost(spread_twice) == COST_WEIGHTS["Query.market"].weight + 2
    assert _cost("{ signalHistory(first: 250) { __typename } }") == 3  # a page per 100 rows
    assert _cost("{ __typename }") == 1  # every operation costs at least one point
    named = 'query A { backtest { __typename } } query B { signal(symbol: "BTC") { __typename } }'
    assert (_cost(named, name="A"), _cost(named, name="B"), _cost(named)) == (50, 1, 50)


def test_cost_never_raises_on_invalid_documents() -> None:
    assert _cost("{ nope { deeper } signals(symbols: 3) { __typename } }") == 1
    assert _cost("query Q { ...A } fragment A on Query { ...A backtest { __typename } }") == 50
    assert _cost("query Q($s: [String!]!) { signals(symbols: $s) { __typename } }", {}) == 1


async def test_refused_before_execution_with_a_typed_code() -> None:
    signals = f"signals(symbols: {json.dumps(SYMBOLS)}) {{ __typename }}"
    many = await SCHEMA.execute("{ " + " ".join(f"a{i}: {signals}" for i in range(29)) + " }")
    backtests = await SCHEMA.execute("{ " + " ".join(f"b{i}: backtest {{ __typename }}" for i in range(10)) + " }")
    for result in (many, backtests):
        assert _codes(result) == ["QUERY_TOO_COSTLY"] and result.data is None
    assert many.errors is not None and many.errors[0].extensions is not None
    assert many.errors[0].extensions["cost"] == 1450


async def test_cost_is_checked_on_validation_cache_hits() -> None:
    """The cache stores validation only: once the text is cached, a larger variable list is still refused."""
    query = "query CachedCost9d1($s: [String!]!) { signals(symbols: $s) { __typename } }"
    cache = SCHEMA.document_cache  # type: ignore[attr-defined]
    small = await SCHEMA.execute(query, variable_values={"s": ["BTC"]})  # executes (fails: no services)
    before = cache.validation_hits
    again = await SCHEMA.execute(query, variable_values={"s": ["ETH", "SOL"]})
    hit = cache.validation_hits
    large = await SCHEMA.execute(query, variable_values={"s": [f"X{i}" for i in range(150)]})
    assert hit - before == 1  # the text is cached: validation rules did not run again
    assert "QUERY_TOO_COSTLY" not in _codes(small) + _codes(again)
    assert _codes(large) == ["QUERY_TOO_COSTLY"]


async def test_limits_and_cost_refuse_before_graphql_cores_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """A document refused by our linear checks never reaches graphql-core's (slower) rules."""
    from graphql.validation import OverlappingFieldsCanBeMergedRule

    entered = 0
    original = OverlappingFieldsCanBeMergedRule.__init__

    def counting(self: Any, context: Any) -> None:
        nonlocal entered
        entered += 1
        original(self, context)

    monkeypatch.setattr(OverlappingFieldsCanBeMergedRule, "__init__", counting)
    too_large = await SCHEMA.execute(fan_out(30, alias=True, inline=True).replace("FanOut", "FanOutPre1"))
    backtests = "query Pre2 { " + " ".join(f"b{i}: backtest {{ __typename }}" for i in range(3)) + " }"
    too_costly = await SCHEMA.execute(backtests)
    assert (_codes(too_large), _codes(too_costly), entered) == (["QUERY_TOO_LARGE"], ["QUERY_TOO_COSTLY"], 0)
    valid = await SCHEMA.execute("query Pre3 { __typename }")
    assert valid.errors is None and entered == 1


# ------------------------------------------------------------------------------------- WebSocket


async def _ws_first_reply(url: str, query: str) -> tuple[dict[str, Any], float]:
    ws_url = url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(ws_url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")]) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        started = time.perf_counter()
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        reply: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
        return reply, time.perf_counter() - started


async def test_fan_out_and_costly_documents_over_websocket_are_refused() -> None:
    fan = fan_out(40, alias=True, inline=True).replace("query FanOut", "subscription FanOut", 1)
    fan = fan.replace("on Query", "on Subscription")
    many = json.dumps([f"C{i}" for i in range(60)])  # a subscription has one root field: its list multiplies
    streams = f"subscription Many {{ signalUpdates(symbols: {many}) {{ symbol }} }}"
    async with offline_service(streams_enabled=False) as url:
        fan_reply, _ = await _ws_first_reply(url, fan)
        costly_reply, _ = await _ws_first_reply(url, streams)
        unknown_reply, _ = await _ws_first_reply(url, "subscription { ...Nope }")
    assert fan_reply["type"] == "error"
    assert {e["extensions"]["code"] for e in fan_reply["payload"]} >= {"QUERY_TOO_LARGE"}
    assert costly_reply["type"] == "error"
    assert [e["extensions"]["code"] for e in costly_reply["payload"]] == ["QUERY_TOO_COSTLY"]
    assert unknown_reply["type"] == "error"
    assert {e["extensions"]["code"] for e in unknown_reply["payload"]} == {"GRAPHQL_VALIDATION_FAILED"}


# ---------------------------------------------------------------------------------------- metrics


async def test_operations_and_error_codes_are_counted() -> None:
    from signal_api.metrics import GraphQLMetrics  # the composition root's recorder, as the app passes it

    def sample(name: str, labels: dict[str, str]) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    schema = build_schema(metrics=GraphQLMetrics())
    ops_before = sample("graphql_operation_seconds_count", {"operation": "MetricsProbe7"})
    costly_before = sample("errors_total", {"code": "QUERY_TOO_COSTLY"})
    await schema.execute("query MetricsProbe7 { __typename }")
    await schema.execute("{ " + " ".join(f"b{i}: backtest {{ __typename }}" for i in range(3)) + " }")
    assert sample("graphql_operation_seconds_count", {"operation": "MetricsProbe7"}) == ops_before + 1
    assert sample("errors_total", {"code": "QUERY_TOO_COSTLY"}) == costly_before + 1


# ------------------------------------------------------------------------------------ the caches


def test_document_cache_is_bounded_by_size_not_only_entries() -> None:
    """Cycling distinct large documents through the cache must not grow what it keeps (each parsed
    document is thousands of objects, and everything kept slows every full garbage collection)."""
    from schema.documents import DocumentCache

    cache = DocumentCache(max_entries=256, max_total_chars=20_000, max_document_chars=4_000)
    for i in range(300):
        cache.parse(fan_out(40, alias=True, inline=True).replace("FanOut", f"F{i}"))  # ~3.7 KB each
    assert cache.chars <= 20_000 and len(cache) == 20_000 // 3_700
    huge = "query H { " + " ".join(f"a{i}: __typename" for i in range(400)) + " }"  # > 4,000 chars
    cache.parse(huge)
    assert cache.parse(huge) is not cache.parse(huge)  # parsed each time, never kept
    small = "query S { __typename }"
    assert cache.parse(small) is cache.parse(small)


async def test_kept_documents_drop_their_tokens_and_errors_keep_locations() -> None:
    schema = build_schema()
    query = "query KeptLoc { __typename nope }"
    first = await schema.execute(query)
    second = await schema.execute(query)  # served from the cache
    kept = schema.document_cache.parse(query)  # type: ignore[attr-defined]
    assert kept.loc is not None and kept.loc.start_token is None and kept.loc.source.body == query
    for result in (first, second):
        assert result.errors is not None and result.errors[0].locations is not None
        assert (result.errors[0].locations[0].line, result.errors[0].locations[0].column) == (1, 28)


def test_readme_weights_table_is_the_cost_table() -> None:
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Query limits and cost", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `(\w+\.\w+)` \| (.+?) \|$", section, flags=re.MULTILINE))
    assert set(rows) == set(COST_WEIGHTS)
    for key, rule in COST_WEIGHTS.items():
        assert rows[key].split()[0] == str(rule.weight), key
        assert (rule.per is None) == ("per" not in rows[key]), key
        assert rule.per is None or f"`{rule.per}`" in rows[key], key
