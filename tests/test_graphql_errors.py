"""Bad input gets a typed error, never a 500; unexpected failures are masked; batching holds."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import httpx2

from tests.conftest import CASSETTE_NAMES, load_cassette_json, running_service

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import pytest

SYMBOLS_PROBLEM = "... on Problem { message }"
PROBLEM = "__typename ... on Problem { code message } ... on InvalidInput { field } ... on SymbolNotFound { symbol }"


@contextlib.asynccontextmanager
async def offline_service(**settings: Any) -> AsyncIterator[str]:
    """The app with every upstream pointed at a closed port: enough for parse and validation errors."""
    from providers.replay import serve_in_background
    from signal_api.app import create_app
    from signal_api.settings import Settings

    dead = Settings(_env_file=None, upstream_retry_attempts=1, **settings).with_replay_base("http://127.0.0.1:9")  # type: ignore[call-arg]
    async with serve_in_background(create_app(dead), lifespan="on") as server:
        yield server.base_url


async def _post(base_url: str, **kwargs: Any) -> httpx2.Response:
    async with httpx2.AsyncClient(timeout=10) as client:
        return await client.post(f"{base_url}/graphql", **kwargs)


def _codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body["errors"]]


async def test_parse_validation_and_limits_are_typed_4xx_errors() -> None:
    async with offline_service() as url:
        malformed = await _post(url, json={"query": "{ signal(symbol: "})
        unknown_field = await _post(url, json={"query": '{ signal(symbol: "BTC") { ... on Signal { nope } } }'})
        bad_enum = await _post(url, json={"query": '{ signal(symbol: "BTC", mode: RECKLESS) { __typename } }'})
        many_tokens = await _post(url, json={"query": "{ " + " ".join(["__typename"] * 3000) + " }"})
        not_json = await _post(url, content=b"{not json", headers={"content-type": "application/json"})
    async with offline_service(max_query_depth=2) as url:
        deep = '{ signal(symbol: "BTC") { ... on Signal { dataQuality { sources { failed } } } } }'
        too_deep = await _post(url, json={"query": deep})

    assert malformed.status_code < 500 and _codes(malformed.json()) == ["GRAPHQL_PARSE_FAILED"]
    assert unknown_field.status_code == 200 and _codes(unknown_field.json()) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "nope" in unknown_field.json()["errors"][0]["message"]
    assert _codes(bad_enum.json()) == ["GRAPHQL_VALIDATION_FAILED"]
    assert _codes(many_tokens.json()) == ["QUERY_TOO_LARGE"]
    assert _codes(too_deep.json()) == ["QUERY_TOO_DEEP"]
    assert 400 <= not_json.status_code < 500


async def test_oversized_body_is_refused_with_a_json_envelope() -> None:
    async with offline_service(max_body_bytes=4096) as url:
        response = await _post(url, json={"query": "{ __typename }", "padding": "x" * 10_000})
        async with httpx2.AsyncClient() as client:
            missing = await client.get(f"{url}/nope")
    assert response.status_code == 413
    assert response.json() == {
        "ok": False,
        "error": {"code": "PAYLOAD_TOO_LARGE", "message": "request body exceeds 4096 bytes"},
    }
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"


async def test_symbol_spelling_and_batch_size_are_invalid_input() -> None:
    async with offline_service(max_symbols_per_request=3) as url:
        bad = await _post(url, json={"query": f'{{ signal(symbol: "BTC/EUR") {{ {PROBLEM} }} }}'})
        too_many = await _post(url, json={"query": f'{{ signals(symbols: ["A","B","C","D"]) {{ {PROBLEM} }} }}'})
    problem = bad.json()["data"]["signal"]
    assert problem["__typename"] == "InvalidInput" and problem["code"] == "INVALID_INPUT"
    assert problem["field"] == "symbol" and "USDT" in problem["message"]
    [batch_problem] = too_many.json()["data"]["signals"]
    assert batch_problem["field"] == "symbols" and "between 1 and 3" in batch_problem["message"]


async def test_upstream_down_is_a_typed_answer_not_a_500() -> None:
    async with offline_service() as url:
        response = await _post(
            url,
            json={"query": f'{{ signal(symbol: "BTC") {{ {PROBLEM} }} symbols {{ __typename {SYMBOLS_PROBLEM} }} }}'},
        )
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["signal"]["__typename"] == "InsufficientData" and data["signal"]["code"] == "NO_PRICE"
    assert data["symbols"]["__typename"] == "UpstreamUnavailable"
    assert "binance.exchangeInfo" in data["symbols"]["message"]


async def test_unexpected_errors_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    import resolvers.signals

    def explode(*_: Any) -> Any:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(resolvers.signals, "parse_symbol", explode)
    async with offline_service() as url:
        response = await _post(url, json={"query": '{ signal(symbol: "BTC") { __typename } }'})
    body = response.json()
    assert response.status_code == 200
    assert body["errors"][0]["message"] == "Unexpected error."
    assert _codes(body) == ["INTERNAL_SERVER_ERROR"]
    assert "secret" not in response.text


async def test_unknown_symbol_is_symbol_not_found(graphql: Any) -> None:
    cassette = load_cassette_json(CASSETTE_NAMES[0])
    async with running_service(cassette) as (url, _):
        status, body = await graphql(url, f'{{ signal(symbol: "NOTAREALCOIN") {{ {PROBLEM} }} }}')
    assert status == 200
    problem = body["data"]["signal"]
    assert problem == {
        "__typename": "SymbolNotFound",
        "code": "SYMBOL_NOT_FOUND",
        "message": problem["message"],
        "symbol": "NOTAREALCOINUSDT",
    }
    assert "not a tradable USDT perpetual" in problem["message"]


async def test_signals_batch_the_all_symbol_endpoints(graphql: Any) -> None:
    cassette = load_cassette_json(CASSETTE_NAMES[0])
    async with running_service(cassette) as (url, replay):
        status, body = await graphql(
            url,
            f'{{ signals(symbols: ["BTC", "ETHUSDT", "btc-usdt"]) {{ {PROBLEM} ... on Signal {{ symbol }} }} }}',
        )
    assert status == 200
    results = body["data"]["signals"]
    assert [r["__typename"] for r in results] == ["Signal", "InsufficientData", "Signal"]
    # two distinct symbols: each all-symbol endpoint once, in its all-symbols form
    assert replay.calls["binance GET /fapi/v1/ticker/24hr"] == 1
    assert replay.calls["binance GET /fapi/v1/premiumIndex"] == 1
    assert replay.calls["binance GET /fapi/v1/exchangeInfo"] == 1
    assert replay.calls["binance GET /fapi/v1/klines"] == 2  # BTC and ETH, BTC's alias deduplicated by the cache
    assert replay.calls["alternative_me GET /fng/"] == 1


async def test_symbols_lists_tradable_usdt_perpetuals(graphql: Any) -> None:
    cassette = load_cassette_json(CASSETTE_NAMES[0])
    async with running_service(cassette) as (url, _):
        _status, body = await graphql(
            url, '{ symbols(search: "BTC") { ... on SymbolList { count symbols { symbol baseAsset onboardDate } } } }'
        )
    exchange_symbols = next(e for e in cassette["http"] if e["path"] == "/fapi/v1/exchangeInfo")["body"]["symbols"]
    expected = sorted(
        s["symbol"]
        for s in exchange_symbols
        if "BTC" in s["symbol"]
        and s["contractType"] == "PERPETUAL"
        and s["quoteAsset"] == "USDT"
        and s["status"] == "TRADING"
    )
    listing = body["data"]["symbols"]
    assert [s["symbol"] for s in listing["symbols"]] == expected and listing["count"] == len(expected)
    btc = next(s for s in listing["symbols"] if s["symbol"] == "BTCUSDT")
    assert btc["baseAsset"] == "BTC" and btc["onboardDate"].endswith("+00:00")


async def test_persisted_queries_only_accepts_registry_documents() -> None:
    from schema.operations import operation

    document = operation("symbols.list").document
    async with offline_service(persisted_queries_only=True) as url:
        ad_hoc = await _post(url, json={"query": "{ __typename }"})
        trusted = await _post(url, json={"query": document, "variables": {"search": "BTC"}})
    assert _codes(ad_hoc.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert "errors" not in trusted.json() or _codes(trusted.json()) != ["PERSISTED_QUERY_NOT_FOUND"]
    assert trusted.json()["data"]["symbols"]["__typename"] == "UpstreamUnavailable"  # no upstream here
