"""The GPT action schema as served (issue 10, item 4): servers, written texts, canonical enums, bounds that
match what the service accepts, trader-precision numbers, dropped batch items named, failures once, 405
with Allow, and /llms.txt. The GPT limits themselves: tests/test_rest_registry.py."""

from __future__ import annotations

import contextlib
import re
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx2
import orjson
import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]  # (openapi-spec-validator's)
from starlette.requests import Request

from persistence.repository import Keyset
from resolvers.history import decode_cursor, encode_cursor
from schema.build import build_schema
from schema.operations import CURSOR_PATTERN, OPERATIONS, Operation, ParamDoc
from signal_api.rest import server_url
from signal_api.rest.catalog import RegistryError, build_catalog
from signal_api.rest.cursors import from_rest, to_rest
from signal_api.rest.invoke import Invoker
from signal_api.rest.numbers import rest_view, round_number
from signal_api.rest.openapi import build_gpt_schema, build_openapi, walk_descriptions
from signal_api.rest.params import coerce_params
from signal_api.settings import Settings
from tests.conftest import CASSETTE_NAMES, load_cassette_json, running_service

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

SCHEMA = build_schema()
CATALOG = build_catalog(SCHEMA._schema)
BASE = "https://gpt.example.com"


def settings(**overrides: Any) -> Settings:
    return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]


def gpt_schema() -> dict[str, Any]:
    return build_gpt_schema(CATALOG, settings(), BASE)


def parameters(spec: dict[str, Any], path: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in spec["paths"][path]["get"]["parameters"]}


@contextlib.asynccontextmanager
async def app_without_upstreams(**overrides: Any) -> AsyncIterator[str]:
    """The app without its lifespan: enough for the schema routes and method checks."""
    from providers.replay import serve_in_background
    from signal_api.app import create_app

    async with serve_in_background(create_app(settings(**overrides)), lifespan="off") as server:
        yield server.base_url


def _request(host: bytes, scheme: str = "http") -> Request:
    scope = {"type": "http", "method": "GET", "path": "/gpt/action-schema", "headers": [(b"host", host)]}
    return Request(scope | {"scheme": scheme, "server": ("127.0.0.1", 8000), "query_string": b""})


# --- servers ------------------------------------------------------------------------------------------


def test_servers_is_public_base_url_else_the_callers_host() -> None:
    assert server_url(_request(b"tunnel.example.com"), settings(public_base_url="https://api.example.com/")) == (
        "https://api.example.com"
    )
    unset = settings()
    assert server_url(_request(b"tunnel.example.com:8443", "https"), unset) == "https://tunnel.example.com:8443"
    assert server_url(_request(b"127.0.0.1:9000"), unset) == "http://127.0.0.1:9000"
    assert server_url(_request(b"[::1]:9000"), unset) == "http://[::1]:9000"
    for hostile in (b"evil.com/path", b"a b", b"x.com:99999", b"x.com\n", b"", b"user@x.com"):
        assert server_url(_request(hostile), unset) == "http://127.0.0.1:8000", hostile


async def test_served_schemas_name_the_host_they_were_fetched_from() -> None:
    async with app_without_upstreams() as url, httpx2.AsyncClient() as client:
        port = url.rsplit(":", 1)[1]
        gpt = await client.get(f"{url}/gpt/action-schema")
        openapi = await client.get(f"{url}/openapi.json", headers={"host": f"localhost:{port}"})
    assert gpt.json()["servers"] == [{"url": url}]
    assert openapi.json()["servers"] == [{"url": f"http://localhost:{port}"}]
    async with app_without_upstreams(public_base_url=BASE) as url, httpx2.AsyncClient() as client:
        assert (await client.get(f"{url}/gpt/action-schema")).json()["servers"] == [{"url": BASE}]


# --- texts --------------------------------------------------------------------------------------------


def test_summaries_are_written_short_and_never_cut() -> None:
    spec = gpt_schema()
    for op in OPERATIONS:
        assert 0 < len(op.summary) <= 120 and not op.summary.endswith(("…", ".", ",")), op.summary
        if not op.gpt:  # REST-only operations are not in the GPT schema
            continue
        route = spec["paths"][op.path]["get"]
        assert route["summary"] == op.summary and 0 < len(op.summary) <= 120
        assert route["description"] == op.description  # whole: written within 300 characters
        assert not op.summary.endswith(("…", ".", ",")), op.summary
    # every text the GPT reads that the registry or the shim wrote is whole (none ends in the cut mark)
    for path in spec["paths"].values():
        assert not any(text.endswith("…") for text in walk_descriptions(path["get"]["parameters"]))
        assert not any(text.endswith("…") for text in walk_descriptions(path["get"]["responses"]))


def test_parameter_descriptions_say_what_to_pass() -> None:
    spec = gpt_schema()
    for path in spec["paths"]:
        for name, parameter in parameters(spec, path).items():
            text = parameter["description"]
            assert text.strip().lower() != name.lower() and len(text) >= 30, (path, name, text)
    symbol = parameters(spec, "/v1/signals/get")["symbol"]["description"]
    assert "BTCUSDT" in symbol and "USDT" in symbol


def test_an_operation_without_a_written_text_is_refused() -> None:
    document = "query Q($search: String) { symbols(search: $search) { __typename } }"
    for broken in (
        Operation(name="a.b", summary="", description="d", document=document),
        Operation(name="a.b", summary="x" * 121, description="d", document=document),
        Operation(name="a.b", summary="s", description="d", document=document, params=(ParamDoc("search", "search"),)),
        Operation(name="a.b", summary="s", description="d", document=document, params=(ParamDoc("nope", "t"),)),
    ):
        with pytest.raises(RegistryError):
            build_catalog(SCHEMA._schema, (broken,))
    fine = Operation(
        name="a.b", summary="s", description="d", document=document, params=(ParamDoc("search", "Part of a symbol"),)
    )
    assert build_catalog(SCHEMA._schema, (fine,))["a.b"].params[0].doc is not None


# --- enums ----------------------------------------------------------------------------------------------


def test_gpt_enums_have_one_spelling_each_and_every_alias_still_works() -> None:
    spec = gpt_schema()
    get = parameters(spec, "/v1/signals/get")
    assert get["mode"]["schema"]["enum"] == ["conservative", "aggressive", "ultra", "calibrated"]
    assert get["mode"]["schema"]["default"] == "aggressive"
    assert get["timeframe"]["schema"]["enum"] == ["15m", "1h", "4h", "1d"]
    for path in spec["paths"]:
        for parameter in parameters(spec, path).values():
            values = parameter["schema"].get("enum", [])
            assert len({str(v).lower() for v in values}) == len(values), (path, parameter["name"])
    params = CATALOG["signals.get"].params
    for alias, expected in (("safe", "CONSERVATIVE"), ("2", "AGGRESSIVE"), ("scalping", "ULTRA"), ("H1", "H1")):
        key = "timeframe" if alias == "H1" else "mode"
        assert coerce_params(params, {"symbol": "BTC", key: alias}, query=True)[key] == expected
    full = build_openapi(CATALOG, settings(), BASE)  # the full schema still documents every accepted spelling
    assert "scalping" in parameters(full, "/v1/signals/get")["mode"]["schema"]["enum"]


# --- inputs: the schema allows what the service accepts -----------------------------------------------------


def _valid(schema: dict[str, Any], value: object) -> bool:
    return bool(Draft202012Validator(schema).is_valid(value))


def test_empty_and_malformed_inputs_are_outside_the_schema() -> None:
    spec = gpt_schema()
    symbol = parameters(spec, "/v1/signals/get")["symbol"]["schema"]
    after = parameters(spec, "/v1/history/list")["after"]["schema"]
    batch = parameters(spec, "/v1/signals/batch")["symbols"]["schema"]
    for value in ("", " ", "BTC/EUR", "BTC;DROP"):
        assert not _valid(symbol, value), value
    for value in ("BTC", "btc", "BTCUSDT", "BTC-USDT", "btc/usdt", "BTC-USDT-SWAP", "BTCUSDT.P", "1000PEPE"):
        assert _valid(symbol, value), value
    assert _valid(batch, "BTC,ETH, sol") and not _valid(batch, "") and not _valid(batch, ",".join(["BTC"] * 51))
    for value in ("", "0000000000000000", "2023-02-29T00:00:00Z_" + str(uuid.UUID(int=1)), "2025-13-01T00:00:00Z_x"):
        assert not _valid(after, value), value
    limit = parameters(spec, "/v1/exchange/candles")["limit"]["schema"]
    assert (limit["minimum"], limit["maximum"]) == (1, 1000)
    first = parameters(spec, "/v1/history/list")["first"]["schema"]
    assert (first["minimum"], first["maximum"]) == (1, 100)
    assert parameters(spec, "/v1/history/list")["recommendation"]["schema"]["enum"] == ["LONG", "SHORT"]


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2025, 11, 14, 19, 59, 59, 999000, tzinfo=UTC),
        datetime(2024, 2, 29, tzinfo=UTC),
        datetime(2000, 2, 29, 23, 59, 59, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
    ],
)
def test_rest_cursors_match_the_pattern_and_round_trip(moment: datetime) -> None:
    keyset = Keyset(moment, uuid.uuid4())
    shown = to_rest(encode_cursor(keyset))
    assert re.match(CURSOR_PATTERN, shown), shown
    assert decode_cursor(from_rest(shown)) == keyset
    assert from_rest(encode_cursor(keyset)) == encode_cursor(keyset)  # the opaque form is still accepted
    assert not re.match(CURSOR_PATTERN, "1900-02-29T00:00:00Z_" + str(keyset.id))  # not a leap year


# --- numbers ------------------------------------------------------------------------------------------------


def test_numbers_are_rounded_as_a_trader_reads_them() -> None:
    assert round_number(26.31578947368421, "score") == 26.32
    assert round_number(41.72813487881981, "winRatePct") == 41.73
    assert round_number(38.630315742957594, "low", "winRatePctCi95") == 38.63
    assert round_number(0.0070019999999999995, "rate8hPct") == 0.007  # a small percent keeps 2 digits
    assert round_number(-2.15912, "change24hPct") == -2.16
    assert round_number(96513.71234, "price") == 96513.7
    assert round_number(0.0000123456789, "price") == 0.0000123457
    assert round_number(24948832325.28, "volume24hUsd") == 24948832325
    assert round_number(1731628800000.0, None) == 1731628800000.0  # never rounds away integer digits
    answer = {"score": 33.791234, "rows": [[1731628800000, 96513.71234]], "count": 7, "ok": True}
    assert rest_view(answer, trader=True) == {
        "score": 33.79,
        "rows": [[1731628800000, 96513.7]],
        "count": 7,
        "ok": True,
    }
    assert rest_view(answer, trader=False) is answer


def _too_many_digits(node: object) -> list[float]:
    if isinstance(node, dict):
        return [x for value in node.values() for x in _too_many_digits(value)]
    if isinstance(node, list):
        return [x for value in node for x in _too_many_digits(value)]
    if isinstance(node, float) and len(repr(node).split(".")[-1]) > 10:
        return [node]
    return []


# --- batches: dropped items are named --------------------------------------------------------------------------


def test_a_compacted_batch_names_the_symbols_it_dropped_and_why() -> None:
    invoker = Invoker(SCHEMA, settings(rest_max_response_chars=4_000), CATALOG)
    symbols = [f"COIN{i}" for i in range(30)]
    items = [{"__typename": "Signal", "symbol": f"{s}USDT", "detail": "x" * 90} for s in symbols[:25]]
    items += [{"__typename": "InvalidInput", "code": "INVALID_INPUT", "message": "m", "field": "symbol"}] * 5
    response = invoker.envelope(
        200, "signals.batch", items, None, started=0.0, timeout=30.0, compact=False, asked=symbols
    )
    body = orjson.loads(response.body)
    assert response.status_code == 200 and body["meta"]["truncated"] is True
    kept = len(body["data"])
    dropped = body["meta"]["dropped"]
    assert 0 < kept < 30 and len(dropped) == 30 - kept
    # an item's own (canonical) symbol when it has one, else the spelling asked for at that position
    assert [d["symbol"] for d in dropped] == [
        item.get("symbol", symbols[i]) for i, item in enumerate(items) if i >= kept
    ]
    assert dropped[-1]["symbol"] == "COIN29" and all("4000 characters" in d["reason"] for d in dropped)
    small = invoker.envelope(200, "signals.batch", items[:2], None, started=0.0, timeout=30.0, compact=False)
    assert "dropped" not in orjson.loads(small.body)["meta"]


# --- served: failures once, numbers, 405 with Allow, cursors accepted, llms.txt ------------------------------


async def test_served_answers_are_readable_and_name_each_failure_once() -> None:
    cassette = load_cassette_json(CASSETTE_NAMES[-1])
    async with running_service(cassette) as (url, _), httpx2.AsyncClient(timeout=30) as client:
        market = (await client.get(f"{url}/v1/market/get", params={"symbol": "BTC"})).json()
        graphql_market = await client.post(
            f"{url}/graphql", json={"query": '{ market(symbol: "BTC") { ... on Market { failures } } }'}
        )
        signal = (await client.get(f"{url}/v1/signals/get", params={"symbol": "btc"})).json()
        full = (await client.get(f"{url}/v1/signals/get", params={"symbol": "btc", "precision": "full"})).json()
        cursor = to_rest(encode_cursor(Keyset(datetime(2025, 11, 14, tzinfo=UTC), uuid.UUID(int=7))))
        page = await client.get(f"{url}/v1/history/list", params={"after": cursor})
    failures = market["data"]["failures"]
    assert failures and len(set(failures)) == len(failures), failures
    assert any(f.startswith("bybit.market.tickers") for f in failures)  # the call that served two inputs
    assert graphql_market.json()["data"]["market"]["failures"] == failures  # fixed at the source, not in REST
    assert _too_many_digits(signal["data"]) == [] and _too_many_digits(full["data"]) != []
    assert page.status_code != 400, page.text  # a schema-valid cursor is a position (200, or 503 without history)


async def test_unsupported_methods_get_405_with_allow() -> None:
    async with app_without_upstreams() as url, httpx2.AsyncClient() as client:
        trace = await client.request("TRACE", f"{url}/v1/signals/get")
        delete = await client.request("DELETE", f"{url}/invoke")
        put = await client.put(f"{url}/llms.txt")
    assert trace.status_code == 405 and {"GET", "HEAD"} <= set(trace.headers["allow"].replace(" ", "").split(","))
    assert delete.status_code == 405 and delete.headers["allow"] == "POST"
    assert put.status_code == 405 and "GET" in put.headers["allow"]
    assert trace.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


async def test_llms_txt_indexes_every_operation() -> None:
    async with app_without_upstreams() as url, httpx2.AsyncClient() as client:
        response = await client.get(f"{url}/llms.txt")
    text = response.text
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/markdown")
    assert text.startswith("# Futures Signal API") and "Authorization: Bearer" in text and "X-API-Key" in text
    assert f"Base URL: {url}" in text and f"{url}/gpt/action-schema" in text
    for rest in CATALOG.values():
        assert f"GET {rest.op.path}" in text and rest.op.summary in text
        section = text.split(f"### {rest.name}:", 1)[1].split("\n### ", 1)[0]
        for param in rest.params:
            assert f"`{param.name}`" in section and param.doc is not None and param.doc.description in section
    assert "one of conservative, aggressive, ultra" in text
