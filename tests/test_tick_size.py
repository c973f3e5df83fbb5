"""Tick sizes: parsed from each venue's instrument payload, served as ``Signal.tickSize`` and used by REST's
trader precision to round prices to a multiple of the tick (issue 10, item 4).

Binance and Hyperliquid use the captured payloads in ``../shared/fixtures``; Bybit and OKX have no captured
instruments answer there, so their documented samples are used (the field names the docs give).
"""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from providers.binance.models import BinanceExchangeInfo
from providers.bybit.domain import to_listing as bybit_listing
from providers.bybit.raw import parse_instruments as parse_bybit_instruments
from providers.hyperliquid.domain import to_listing as hyperliquid_listing
from providers.hyperliquid.raw import parse_meta_and_asset_ctxs
from providers.okx.domain import to_listing as okx_listing
from providers.okx.raw import parse_instruments as parse_okx_instruments
from signal_api.rest.numbers import rest_view, round_to_tick
from tests.conftest import CASSETTE_NAMES, cassette_body, load_cassette_json, running_service, shared_path


def _fixture(venue: str, name: str) -> Any:
    return json.loads(shared_path("fixtures", venue, name).read_text())


def _binance_tick(symbol: dict[str, Any]) -> float:
    """The expected tick, read from the raw JSON independently of the model."""
    (price_filter,) = [f for f in symbol["filters"] if f["filterType"] == "PRICE_FILTER"]
    return float(price_filter["tickSize"])


@pytest.mark.parametrize("name", ["fapi_v1_exchangeInfo.json", "fapi_v1_exchangeInfo.trimmed.json"])
def test_binance_tick_is_the_price_filter_tick_size(name: str) -> None:
    payload = _fixture("binance", name)
    info = BinanceExchangeInfo.model_validate(payload)
    raw = {s["symbol"]: s for s in payload["symbols"]}
    assert info.symbols
    for symbol in info.symbols:
        assert symbol.tick_size == _binance_tick(raw[symbol.symbol]) > 0


def test_binance_listing_carries_the_tick() -> None:
    cassette = load_cassette_json(CASSETTE_NAMES[-1])
    body = cassette_body(cassette, "binance", "/fapi/v1/exchangeInfo")
    (btc,) = [s for s in body["symbols"] if s["symbol"] == "BTCUSDT"]
    info = BinanceExchangeInfo.model_validate(body)
    (parsed,) = [s for s in info.symbols if s.symbol == "BTCUSDT"]
    assert parsed.tick_size == _binance_tick(btc)


def test_bybit_tick_is_the_price_filter_tick_size() -> None:
    # https://bybit-exchange.github.io/docs/v5/market/instrument (linear sample)
    row = {
        "symbol": "BTCUSDT",
        "contractType": "LinearPerpetual",
        "status": "Trading",
        "baseCoin": "BTC",
        "quoteCoin": "USDT",
        "launchTime": "1585526400000",
        "priceScale": "2",
        "priceFilter": {"minPrice": "0.10", "maxPrice": "199999.80", "tickSize": "0.10"},
        "lotSizeFilter": {"maxOrderQty": "100.000", "minOrderQty": "0.001", "qtyStep": "0.001"},
    }
    without = {k: v for k, v in row.items() if k != "priceFilter"} | {"symbol": "ETHUSDT", "baseCoin": "ETH"}
    payload = {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": [row, without]}, "time": 1}
    listing = bybit_listing(parse_bybit_instruments(payload).rows)
    assert listing["BTCUSDT"].tick_size == 0.1
    assert listing["ETHUSDT"].tick_size is None


def test_okx_tick_is_tick_sz() -> None:
    from tests.test_venue_okx import INSTRUMENTS

    listing = okx_listing(parse_okx_instruments(INSTRUMENTS))
    assert listing["BTCUSDT"].tick_size == float(INSTRUMENTS["data"][0]["tickSz"]) == 0.1


def test_hyperliquid_publishes_no_tick() -> None:
    listing = hyperliquid_listing(parse_meta_and_asset_ctxs(_fixture("hyperliquid", "info_metaAndAssetCtxs.json")))
    assert listing and all(info.tick_size is None for info in listing.values())


def test_prices_round_to_the_sibling_tick() -> None:
    assert round_to_tick(0.1 + 0.2, 0.1) == 0.3  # no 0.30000000000000004
    assert round_to_tick(97123.456, 0.5) == 97123.5
    assert round_to_tick(97123.456, 10.0) == 97120.0
    assert round_to_tick(0.123456789, 1e-05) == 0.12346
    answer = {"price": 97123.44, "markPrice": 97123.46, "size": 1.23456789, "tickSize": 0.25}
    assert rest_view(answer, trader=True) == {"price": 97123.5, "markPrice": 97123.5, "size": 1.23457, "tickSize": 0.25}
    # no tick (or null): the significant-digit rule
    assert rest_view({"price": 97123.44, "tickSize": None}, trader=True)["price"] == 97123.4
    assert rest_view({"price": 97123.44}, trader=True)["price"] == 97123.4
    assert rest_view(answer, trader=False) is answer


async def test_rest_signal_price_is_a_multiple_of_the_graphql_tick() -> None:
    cassette = load_cassette_json(CASSETTE_NAMES[-1])
    (btc,) = [
        s for s in cassette_body(cassette, "binance", "/fapi/v1/exchangeInfo")["symbols"] if s["symbol"] == "BTCUSDT"
    ]
    tick = _binance_tick(btc)
    query = '{ signal(symbol: "BTC") { ... on Signal { price tickSize } } }'
    async with running_service(cassette) as (url, _), httpx2.AsyncClient(timeout=30) as client:
        graphql = (await client.post(f"{url}/graphql", json={"query": query})).json()
        rest = (await client.get(f"{url}/v1/signals/get", params={"symbol": "btc"})).json()
        full = (await client.get(f"{url}/v1/signals/get", params={"symbol": "btc", "precision": "full"})).json()
    signal = graphql["data"]["signal"]
    assert signal["tickSize"] == tick
    data = rest["data"]
    assert data["tickSize"] == tick
    steps = data["price"] / tick
    assert abs(steps - round(steps)) < 1e-6, (data["price"], tick)
    decimals = len(repr(tick).partition(".")[2].rstrip("0"))
    assert len(repr(data["price"]).partition(".")[2]) <= max(decimals, 1)
    assert abs(data["price"] - full["data"]["price"]) <= tick / 2 + 1e-9
