"""The registry, parameter coercion, compaction and the generated OpenAPI / GPT schemas (no upstream)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import httpx2
import orjson
import pytest
from graphql import validate
from openapi_spec_validator import validate as validate_openapi

from schema.build import build_schema
from schema.operations import OPERATIONS, Operation, operation, persisted_query_allowed
from signal_api.rest.catalog import RegistryError, build_catalog
from signal_api.rest.invoke import COMPACT_LEVELS, Invoker, compact_value, data_quality
from signal_api.rest.openapi import build_gpt_schema, build_openapi, walk_descriptions
from signal_api.rest.params import ArgumentError, coerce_params, query_values
from signal_api.settings import Settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

SCHEMA = build_schema()
CATALOG = build_catalog(SCHEMA._schema)


def settings(**overrides: Any) -> Settings:
    return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]


@contextlib.asynccontextmanager
async def docs_app(**overrides: Any) -> AsyncIterator[str]:
    """The app without its lifespan: enough for the schema and docs routes, which need no upstream."""
    from providers.replay import serve_in_background
    from signal_api.app import create_app

    async with serve_in_background(create_app(settings(**overrides)), lifespan="off") as server:
        yield server.base_url


# --- the registry -----------------------------------------------------------------------------------


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_every_document_is_valid_against_the_schema(op: Operation) -> None:
    assert validate(SCHEMA._schema, op.ast) == []
    assert op.root_field in SCHEMA._schema.query_type.fields  # type: ignore[union-attr]
    assert op.path == "/v1/" + op.name.replace(".", "/")
    assert len(op.description) <= 300
    assert operation(op.name) is op


def test_registry_names_and_routes_are_unique() -> None:
    assert len({op.name for op in OPERATIONS}) == len(OPERATIONS)
    assert len({op.operation_id for op in OPERATIONS}) == len(OPERATIONS)
    assert sum(op.gpt for op in OPERATIONS) <= 30
    assert operation("signals.get").root_field == "signal"
    assert operation("signals.get").operation_id == "signalsGet"
    with pytest.raises(KeyError):
        operation("nope.nope")


def test_a_document_that_does_not_fit_the_schema_is_refused() -> None:
    bad = Operation(name="signals.bad", description="x", document="query Bad { signal(symbol: 1) { nope } }")
    two_fields = Operation(
        name="two.fields", description="x", document="query Two { symbols { __typename } exchanges { name } }"
    )
    reserved = Operation(
        name="reserved.name",
        description="x",
        document="query R($args: String) { symbols(search: $args) { __typename } }",
    )
    for op in (bad, two_fields, reserved):
        with pytest.raises(RegistryError):
            build_catalog(SCHEMA._schema, (op,))


def test_persisted_queries_are_the_registry_documents() -> None:
    document = operation("signals.get").document
    assert persisted_query_allowed(document)
    assert persisted_query_allowed("  # a comment\n" + document.replace("\n", " ,\n  "))
    assert not persisted_query_allowed('{ signal(symbol: "BTC") { __typename } }')
    assert not persisted_query_allowed("{ nope")


# --- parameters ---------------------------------------------------------------------------------------


def test_mode_and_timeframe_accept_names_values_and_aliases() -> None:
    params = CATALOG["signals.get"].params
    cases = {
        "aggressive": "AGGRESSIVE",
        "2": "AGGRESSIVE",
        "Safe": "CONSERVATIVE",
        "scalping": "ULTRA",
        "ULTRA": "ULTRA",
    }
    for given, expected in cases.items():
        assert coerce_params(params, {"symbol": "BTC", "mode": given}, query=True)["mode"] == expected
    assert coerce_params(params, {"symbol": "BTC", "mode": 3}, query=False)["mode"] == "ULTRA"
    for given, expected in {"4h": "H4", "H4": "H4", "15M": "M15", "1d": "D1"}.items():
        assert coerce_params(params, {"symbol": "BTC", "timeframe": given}, query=True)["timeframe"] == expected
    # absent optional parameters are left to the document's defaults
    assert coerce_params(params, {"symbol": "BTC"}, query=True) == {"symbol": "BTC"}


def test_every_documented_enum_spelling_is_accepted() -> None:
    spec = build_openapi(CATALOG, settings(), "http://127.0.0.1:8000")
    for rest in CATALOG.values():
        for parameter in spec["paths"][rest.op.path]["get"]["parameters"]:
            if parameter["name"] in ("compact", "precision"):  # the shim's own (parse_flag, parse_precision)
                continue
            for value in parameter.get("schema", {}).get("enum", []):
                raw = {p.name: "BTC" for p in rest.params if p.required} | {parameter["name"]: value}
                coerce_params(rest.params, query_values(rest.params, list(raw.items())), query=True)


@pytest.mark.parametrize(
    ("raw", "parameter", "fragment"),
    [
        ({}, "symbol", "missing required parameter 'symbol'"),
        ({"symbol": {"a": 1}}, "symbol", "must be a string, not an object"),
        ({"symbol": "BTC", "mode": "reckless"}, "mode", "expected one of CONSERVATIVE, AGGRESSIVE, ULTRA"),
        ({"symbol": "BTC", "mode": True}, "mode", "invalid value a boolean"),
        ({"symbol": "BTC", "colour": "red"}, "colour", "unknown parameter 'colour'"),
        ({"symbol": None}, "symbol", "must not be null"),
    ],
)
def test_bad_parameters_name_the_parameter(raw: dict[str, Any], parameter: str, fragment: str) -> None:
    with pytest.raises(ArgumentError) as caught:
        coerce_params(CATALOG["signals.get"].params, raw, query=False)
    assert caught.value.parameter == parameter
    assert fragment in caught.value.message


def test_lists_and_integers_from_query_strings_and_json() -> None:
    batch = CATALOG["signals.batch"].params
    assert query_values(batch, [("symbols", "BTC, ETH"), ("symbols", "SOL")]) == {"symbols": ["BTC", "ETH", "SOL"]}
    assert coerce_params(batch, {"symbols": "BTC,ETH"}, query=False)["symbols"] == ["BTC", "ETH"]
    with pytest.raises(ArgumentError, match="list of strings, not an object"):
        coerce_params(batch, {"symbols": {"BTC": 1}}, query=False)
    with pytest.raises(ArgumentError, match="must be a string, not a number"):
        coerce_params(batch, {"symbols": ["BTC", 1]}, query=False)
    candles = CATALOG["exchange.candles"].params
    base = {"exchange": "binance", "symbol": "BTC"}
    assert coerce_params(candles, base | {"limit": "50"}, query=True)["limit"] == 50
    for bad in ("fifty", "1.5", str(2**40)):
        with pytest.raises(ArgumentError) as caught:
            coerce_params(candles, base | {"limit": bad}, query=True)
        assert caught.value.parameter == "limit"
    with pytest.raises(ArgumentError, match="given 2 times"):
        query_values(candles, [("symbol", "BTC"), ("symbol", "ETH")])


# --- compaction and meta ------------------------------------------------------------------------------


def test_compaction_trims_series_lists_texts_and_diagnostics() -> None:
    data: dict[str, Any] = {
        "rows": [[float(i), 1.0] for i in range(300)],
        "items": [{"name": f"n{i}", "failedSources": ["x"]} for i in range(100)],
        "detail": "x" * 1000,
        "short": [1, 2, 3],
    }
    kept, changed = compact_value(data, COMPACT_LEVELS[0])  # the first level shrinks items, keeps them all
    assert changed and len(kept["items"]) == 100 and "failedSources" not in kept["items"][0]
    trimmed, changed = compact_value(data, COMPACT_LEVELS[1])
    assert changed
    assert trimmed["rows"] == data["rows"][-50:]  # a numeric series keeps its latest points
    assert [item["name"] for item in trimmed["items"]] == [f"n{i}" for i in range(20)]  # others the first
    assert "failedSources" not in trimmed["items"][0]
    assert len(trimmed["detail"]) == 200 and trimmed["detail"].endswith("…")
    assert trimmed["short"] == [1, 2, 3]
    assert compact_value({"a": [1, 2]}, COMPACT_LEVELS[0]) == ({"a": [1, 2]}, False)


def test_data_quality_meta_reads_the_score_per_result() -> None:
    assert data_quality({"dataQuality": {"score": 87.5}}) == 87.5
    assert data_quality({"quality": {"score": 20}}) == 20.0
    assert data_quality([{"dataQuality": {"score": 90}}, {"code": "X"}]) == [90.0, None]
    assert data_quality([{"name": "binance"}]) is None
    assert data_quality(None) is None


def test_an_answer_too_large_even_compacted_is_response_too_large() -> None:
    invoker = Invoker(SCHEMA, settings(rest_max_response_chars=1000), CATALOG)
    wide = {f"field{i}": i for i in range(500)}  # nothing to trim: no list, no long text
    response = invoker.envelope(200, "symbols.list", wide, None, started=0.0, timeout=30.0, compact=False)
    body = orjson.loads(response.body)
    assert response.status_code == 413
    assert body["ok"] is False and body["data"] is None and body["error"]["code"] == "RESPONSE_TOO_LARGE"
    small = invoker.envelope(200, "symbols.list", {"count": 1}, None, started=0.0, timeout=30.0, compact=True)
    assert orjson.loads(small.body)["meta"]["truncated"] is False


# --- OpenAPI and the GPT action schema --------------------------------------------------------------------


def test_openapi_validates_and_covers_every_operation() -> None:
    spec = build_openapi(CATALOG, settings(), "https://signals.example.com")
    validate_openapi(spec)
    assert spec["openapi"] == "3.1.0"
    assert spec["servers"] == [{"url": "https://signals.example.com"}]
    for op in OPERATIONS:
        route = spec["paths"][op.path]["get"]
        assert route["operationId"] == op.operation_id
        assert {"200", "400", "404", "413", "503", "504"} <= set(route["responses"])
    assert "/invoke" in spec["paths"] and "/invoke/operations" in spec["paths"]
    signal = spec["components"]["schemas"]["SignalsGetData"]
    by_type = {branch["title"]: branch for branch in signal["oneOf"]}
    assert set(by_type) == {"Signal", "InvalidInput", "SymbolNotFound", "InsufficientData"}
    assert by_type["Signal"]["properties"]["__typename"] == {"type": "string", "const": "Signal"}
    factor = by_type["Signal"]["properties"]["factors"]["items"]["properties"]
    assert factor["score"]["type"] == ["number", "null"]  # Float (nullable)
    batch_symbols = spec["paths"]["/v1/signals/batch"]["get"]["parameters"][0]
    assert batch_symbols["schema"]["type"] == "array" and batch_symbols["schema"]["items"]["type"] == "string"
    assert batch_symbols["schema"]["minItems"] == 1 and batch_symbols["schema"]["maxItems"] == 50
    assert (batch_symbols["style"], batch_symbols["explode"]) == ("form", False)
    mode = spec["paths"]["/v1/signals/get"]["get"]["parameters"][1]["schema"]
    assert {"AGGRESSIVE", "aggressive", "safe", "scalping", "2"} <= set(mode["enum"])


def test_gpt_action_schema_respects_the_gpt_limits() -> None:
    spec = build_gpt_schema(CATALOG, settings(), "https://gpt.example.com")
    validate_openapi(spec)
    operations = [route for path in spec["paths"].values() for route in path.values()]
    assert 0 < len(operations) <= 30
    assert all(route.keys() >= {"operationId", "parameters"} and "requestBody" not in route for route in operations)
    assert set(spec["paths"]) == {op.path for op in OPERATIONS if op.gpt}
    for route in operations:
        for parameter in route["parameters"]:
            assert parameter["in"] == "query" and parameter["schema"]["type"] in (
                "string",
                "integer",
                "number",
                "boolean",
            )
    assert all(len(text) <= 300 for text in walk_descriptions(spec))
    assert spec["servers"] == [{"url": "https://gpt.example.com"}]
    assert len(orjson.dumps(spec)) < 1_000_000


async def test_schema_and_docs_routes_are_served_offline() -> None:
    async with docs_app(public_base_url="https://signals.example.com") as url, httpx2.AsyncClient() as client:
        openapi = await client.get(f"{url}/openapi.json")
        gpt = await client.get(f"{url}/gpt/action-schema")
        docs = await client.get(f"{url}/docs")
        redoc = await client.get(f"{url}/redoc")
        assets = [
            await client.get(f"{url}/docs/assets/{name}") for name in ("swagger-ui-bundle.js", "redoc.standalone.js")
        ]
    validate_openapi(openapi.json())
    assert gpt.json()["servers"] == [{"url": "https://signals.example.com"}]
    for page in (docs, redoc):
        assert page.status_code == 200 and "/openapi.json" in page.text
        assert "http://" not in page.text and "https://" not in page.text  # no CDN
    assert all(a.status_code == 200 and len(a.content) > 100_000 for a in assets)
