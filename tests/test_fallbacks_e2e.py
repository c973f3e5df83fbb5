"""Binance geo-blocked (HTTP 451): the signal falls through to Bybit, names both, and stays correct.

The Bybit answers are the cassette's own Binance numbers re-rendered in Bybit's documented v5 shapes
(``/v5/market/tickers``, ``/v5/market/kline``: newest-first rows), so the expected values are known.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import CASSETTE_NAMES, cassette_body, load_cassette_json, running_service

QUERY = """
query { signal(symbol: "BTC") { __typename ... on Problem { code message }
  ... on Signal { price recommendation score
    factors { name available source failedSources rawValue score }
    dataQuality { score missing } } } }
"""


def _bybit_entries(cassette: dict[str, Any]) -> list[dict[str, Any]]:
    ticker = cassette_body(cassette, "binance", "/fapi/v1/ticker/24hr", symbol="BTCUSDT")
    premium = cassette_body(cassette, "binance", "/fapi/v1/premiumIndex", symbol="BTCUSDT")
    klines = cassette_body(cassette, "binance", "/fapi/v1/klines", symbol="BTCUSDT", interval="4h")
    funding_history = cassette_body(cassette, "binance", "/fapi/v1/fundingRate", symbol="BTCUSDT")
    tickers = {
        "retCode": 0,
        "retMsg": "OK",
        "result": {
            "category": "linear",
            "list": [
                {
                    "symbol": "BTCUSDT",
                    "lastPrice": ticker["lastPrice"],
                    "indexPrice": premium["indexPrice"],
                    "markPrice": premium["markPrice"],
                    "prevPrice24h": ticker["openPrice"],
                    "price24hPcnt": str(float(ticker["priceChangePercent"]) / 100),
                    "highPrice24h": ticker["highPrice"],
                    "lowPrice24h": ticker["lowPrice"],
                    "prevPrice1h": ticker["lastPrice"],
                    "openInterest": "0",
                    "openInterestValue": "0",
                    "turnover24h": ticker["quoteVolume"],
                    "volume24h": ticker["volume"],
                    "fundingRate": premium["lastFundingRate"],
                    "nextFundingTime": str(premium["nextFundingTime"]),
                    "predictedDeliveryPrice": "",
                    "basisRate": "",
                    "deliveryFeeRate": "",
                    "deliveryTime": "0",
                    "ask1Size": "1",
                    "bid1Price": ticker["lastPrice"],
                    "ask1Price": ticker["lastPrice"],
                    "bid1Size": "1",
                    "basis": "",
                }
            ],
        },
        "retExtInfo": {},
        "time": cassette["clock"],
    }
    kline = {
        "retCode": 0,
        "retMsg": "OK",
        "result": {
            "symbol": "BTCUSDT",
            "category": "linear",
            "list": [[str(k[0]), k[1], k[2], k[3], k[4], k[5], k[7]] for k in reversed(klines)],
        },
        "retExtInfo": {},
        "time": cassette["clock"],
    }
    history = {
        "retCode": 0,
        "retMsg": "OK",
        "result": {
            "category": "linear",
            "list": [
                {"symbol": "BTCUSDT", "fundingRate": f["fundingRate"], "fundingRateTimestamp": str(f["fundingTime"])}
                for f in reversed(funding_history)
            ],
        },
        "retExtInfo": {},
        "time": cassette["clock"],
    }
    return [
        {
            "provider": "bybit",
            "method": "GET",
            "path": "/v5/market/funding/history",
            "match": {"symbol": "BTCUSDT"},
            "status": 200,
            "body": history,
        },
        {
            "provider": "bybit",
            "method": "GET",
            "path": "/v5/market/tickers",
            "match": {"symbol": "BTCUSDT"},
            "status": 200,
            "body": tickers,
        },
        {
            "provider": "bybit",
            "method": "GET",
            "path": "/v5/market/kline",
            "match": {"symbol": "BTCUSDT"},
            "status": 200,
            "body": kline,
        },
    ]


def _geo_blocked(cassette: dict[str, Any], paths: set[str]) -> dict[str, Any]:
    body = {"code": 0, "msg": "Service unavailable from a restricted location according to 'b. Eligibility'"}
    entries = [
        {**e, "status": 451, "body": body} if e["provider"] == "binance" and e["path"] in paths else e
        for e in cassette["http"]
    ]
    return {**cassette, "http": [*entries, *_bybit_entries(cassette)]}


def _factor(signal: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in signal["factors"] if f["name"] == name)


@pytest.mark.parametrize("name", CASSETTE_NAMES[:2])
async def test_binance_451_falls_through_to_bybit(name: str, graphql: Any) -> None:
    original = load_cassette_json(name)
    blocked = _geo_blocked(
        original, {"/fapi/v1/ticker/24hr", "/fapi/v1/premiumIndex", "/fapi/v1/klines", "/fapi/v1/fundingRate"}
    )
    async with running_service(original) as (url, _):
        _, reference = await graphql(url, QUERY)
    async with running_service(blocked) as (url, replay):
        status, body = await graphql(url, QUERY)
    assert status == 200
    signal, expected = body["data"]["signal"], reference["data"]["signal"]
    assert signal["__typename"] == "Signal", signal
    assert signal["price"] == expected["price"]

    momentum = _factor(signal, "MOMENTUM")
    assert momentum["source"] == "bybit.candles"
    assert momentum["failedSources"][0].startswith("binance.klines: HTTP 451")
    assert momentum["score"] == _factor(expected, "MOMENTUM")["score"]  # same candles, same score

    funding = _factor(signal, "FUNDING")
    assert funding["source"] == "bybit.funding", funding
    assert funding["rawValue"] == pytest.approx(_factor(expected, "FUNDING")["rawValue"])
    assert any(f.startswith("binance.premiumIndex: HTTP 451") for f in funding["failedSources"])

    # the same recommendation as the unblocked market, and 451 was never retried
    assert signal["recommendation"] == expected["recommendation"]
    assert signal["score"] == pytest.approx(expected["score"], abs=0.01)
    assert replay.calls["binance GET /fapi/v1/klines"] == 1
