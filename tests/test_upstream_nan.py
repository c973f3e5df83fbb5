"""An upstream NaN or Infinity is an upstream fault: the input is missing and named, the rest of the answer
stands; it is never a GraphQL validation error nor a REST 400."""

from __future__ import annotations

import copy
import math
from typing import Any

import httpx2
import pytest
import strawberry
from graphql import GraphQLError

from providers.binance.models import BinancePremiumIndex, BinanceTicker24h
from providers.errors import MalformedPayload, unexpected_shape
from providers.normalize import first_non_finite
from schema.finite import NON_FINITE_NUMBER, FiniteExecutionContext
from tests.conftest import load_cassette_json, running_service

CASSETTE = "btc-2025-07-11-rising.json"
SIGNAL = """query S { signal(symbol: "BTC") { __typename
  ... on Signal { score price factors { name available error detail } dataQuality { missing } }
  ... on Problem { code message } } }"""
MARKET = """query M { market(symbol: "BTC") { __typename
  ... on Market { price priceSource failures funding { venue rate } openInterest { venue coins } }
  ... on Problem { code message } } }"""


def _poisoned(path: str, field: str, value: str) -> dict[str, Any]:
    """The cassette with ``field`` of every Binance ``path`` row (single and all-symbol forms) set to ``value``."""
    cassette = copy.deepcopy(load_cassette_json(CASSETTE))
    hits = 0
    for entry in cassette["http"]:
        if entry["provider"] == "binance" and entry["path"] == path:
            rows = entry["body"] if isinstance(entry["body"], list) else [entry["body"]]
            for row in rows:
                if row.get("symbol") == "BTCUSDT":
                    row[field] = value
                    hits += 1
    assert hits, f"no {path} rows in the cassette"
    return cassette


async def _post(url: str, query: str) -> tuple[int, dict[str, Any]]:
    async with httpx2.AsyncClient(timeout=30) as client:
        response = await client.post(f"{url}/graphql", json={"query": query})
        return response.status_code, response.json()


async def _invoke(url: str, body: dict[str, Any]) -> httpx2.Response:
    async with httpx2.AsyncClient(timeout=30) as client:
        return await client.post(f"{url}/invoke", json=body)


@pytest.mark.parametrize("nan", ["NaN", "nan", "Infinity", "-inf", "1e999"])
async def test_nan_funding_leaves_funding_out_and_the_rest_stands(nan: str) -> None:
    cassette = _poisoned("/fapi/v1/premiumIndex", "lastFundingRate", nan)
    async with running_service(cassette, streams_enabled=False) as (url, _):
        market_status, market = await _post(url, MARKET)
        signal_status, signal = await _post(url, SIGNAL)
        rest_market = await _invoke(url, {"operation": "market.get", "symbol": "BTC"})
        rest_signal = await _invoke(url, {"operation": "signals.get", "symbol": "BTC"})

    assert market_status == 200 and "errors" not in market, market
    view = market["data"]["market"]
    assert view["__typename"] == "Market" and view["price"] is not None  # the ticker still stands
    assert all(f["venue"] != "binance" for f in view["funding"])
    assert any(f.startswith("binance.premiumIndex") and "NaN or Infinity" in f for f in view["failures"]), view
    assert not any("pydantic" in f or "validation error" in f for f in view["failures"])

    assert signal_status == 200 and "errors" not in signal, signal
    result = signal["data"]["signal"]
    assert result["__typename"] == "Signal", result
    funding = next(f for f in result["factors"] if f["name"] == "FUNDING")
    assert funding["available"] is False and "binance.premiumIndex: NaN or Infinity" in (funding["error"] or "")
    assert sum(f["available"] for f in result["factors"]) >= 4  # the others still count
    assert any("funding" in m.lower() for m in result["dataQuality"]["missing"])

    for response in (rest_market, rest_signal):
        assert response.status_code != 400 and response.status_code < 500, response.text
        assert "INVALID_ARGUMENT" not in response.text and "GRAPHQL_VALIDATION_FAILED" not in response.text


async def test_nan_price_is_a_named_failure_not_a_validation_error() -> None:
    cassette = _poisoned("/fapi/v1/ticker/24hr", "lastPrice", "NaN")
    async with running_service(cassette, streams_enabled=False) as (url, _):
        status, market = await _post(url, MARKET)
        rest = await _invoke(url, {"operation": "market.get", "symbol": "BTC"})
    assert status == 200 and "errors" not in market, market
    view = market["data"]["market"]
    assert view["__typename"] == "Market" and view["price"] is None
    assert any(f.startswith("binance.ticker24hr") and "lastPrice" in f for f in view["failures"]), view
    assert view["funding"] and view["openInterest"]  # the rest of the answer stands
    assert rest.status_code == 200 and rest.json()["ok"] is True


def test_the_models_refuse_non_finite_numbers_with_our_words() -> None:
    row = {
        "symbol": "BTCUSDT",
        "markPrice": "1",
        "indexPrice": "1",
        "lastFundingRate": "NaN",
        "nextFundingTime": 0,
        "time": 0,
    }
    with pytest.raises(ValueError) as info:
        BinancePremiumIndex.model_validate(row)
    error = unexpected_shape("binance", "premiumIndex", info.value)
    assert isinstance(error, MalformedPayload)
    assert error.describe() == "binance.premiumIndex: NaN or Infinity in lastFundingRate"
    with pytest.raises(ValueError) as missing:
        BinanceTicker24h.model_validate({"symbol": "BTCUSDT"})
    shape = unexpected_shape("binance", "ticker24hr", missing.value).describe()
    assert shape.startswith("binance.ticker24hr: unexpected payload shape (")
    assert "pydantic" not in shape and "validation error" not in shape and "errors.pydantic.dev" not in shape


def test_first_non_finite_names_the_field() -> None:
    from engine.market import Candle, utc_from_ms

    good = Candle(open_time=utc_from_ms(0), open=1.0, high=2.0, low=0.5, close=1.5, volume=3.0, quote_volume=4.0)
    bad = Candle(open_time=utc_from_ms(0), open=1.0, high=2.0, low=0.5, close=math.nan, volume=3.0, quote_volume=4.0)
    assert first_non_finite((good, good)) is None
    assert first_non_finite((good, bad)) == "[1].close"
    assert first_non_finite({"a": [1, {"b": -math.inf}]}) == "a[1].b"
    assert first_non_finite(["NaN", 1, None]) is None  # strings are the venue's text, not numbers


def test_a_computed_non_finite_number_is_a_typed_field_error() -> None:
    @strawberry.type
    class Query:
        @strawberry.field
        def ratio(self) -> float | None:
            return math.inf

        @strawberry.field
        def price(self) -> float:
            return 1.5

    schema = strawberry.Schema(query=Query, execution_context_class=FiniteExecutionContext)
    result = schema.execute_sync("{ ratio price }")
    assert result.data == {"ratio": None, "price": 1.5}
    assert result.errors is not None and len(result.errors) == 1
    error: GraphQLError = result.errors[0]
    assert error.extensions == {"code": NON_FINITE_NUMBER} and error.path == ["ratio"]


async def test_a_stream_event_with_nan_is_counted_unparseable_and_never_published() -> None:
    import orjson

    from providers.streams import StreamKey, StreamKind
    from providers.streams.client import StreamConnection, venue_stream
    from tests.providers_helpers import fixture_json

    published: list[object] = []

    class Publisher:
        def publish(self, topic: str, event: object) -> None:
            published.append(event)

    key = StreamKey(StreamKind.TRADES, "binance", "BTCUSDT")
    connection = StreamConnection(key, venue_stream(key), "ws://127.0.0.1:9", Publisher(), clock=_now)
    trade = fixture_json("binance", "ws_aggTrade.btcusdt.json")
    poisoned = copy.deepcopy(trade)
    poisoned.get("data", poisoned)["p"] = "NaN"
    connection._handle(orjson.dumps(trade))
    connection._handle(orjson.dumps(poisoned))
    assert len(published) == 1 and connection.stats.parse_errors == 1
    assert first_non_finite(published) is None


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime(2025, 7, 11, tzinfo=UTC)


def test_rest_keeps_the_answer_when_only_a_non_finite_number_was_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    from starlette.testclient import TestClient
    from strawberry.types import ExecutionResult

    from signal_api.app import create_app
    from signal_api.settings import Settings

    dead = Settings(_env_file=None, streams_enabled=False).with_replay_base("http://127.0.0.1:9")  # type: ignore[call-arg]
    app = create_app(dead)
    invoke = next(route for route in app.routes if getattr(route, "path", None) == "/invoke")
    invoker = invoke.endpoint.__self__  # type: ignore[attr-defined]
    non_finite = GraphQLError("not finite", extensions={"code": NON_FINITE_NUMBER}, path=["market", "price"])
    answers = {
        "partial": ExecutionResult(data={"market": {"__typename": "Market", "price": None}}, errors=[non_finite]),
        "nothing": ExecutionResult(data=None, errors=[non_finite]),
    }
    chosen: list[str] = []

    async def execute(*args: object, **kwargs: object) -> ExecutionResult:
        return answers[chosen[-1]]

    monkeypatch.setattr(invoker.schema, "execute", execute)
    with TestClient(app) as client:
        chosen.append("partial")
        partial = client.post("/invoke", json={"operation": "market.get", "symbol": "BTC"})
        chosen.append("nothing")
        nothing = client.post("/invoke", json={"operation": "market.get", "symbol": "BTC"})
    assert partial.status_code == 200 and partial.json()["data"] == {"__typename": "Market", "price": None}
    assert nothing.status_code == 400  # no data at all: still refused, never a 500
