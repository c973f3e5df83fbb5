"""`smc` and `Signal.structure` end to end: the real app against a replay of Binance klines on 127.0.0.1."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import httpx2

from engine.market import Candle, utc_from_ms
from engine.smc import analyze_structure
from tests.conftest import cassette_body, load_cassette_json, running_service

LATEST = "btc-2025-11-14-latest.json"
SMC = """
query S($symbol: String!, $timeframes: [String!]!, $recent: Int! = 20, $candles: Int! = 500, $swingBars: Int! = 2) {
  smc(symbol: $symbol, timeframes: $timeframes, recent: $recent, candles: $candles, swingBars: $swingBars) {
    __typename
    ... on Problem { code message }
    ... on InvalidInput { field }
    ... on SymbolNotFound { symbol }
    ... on UpstreamUnavailable { failedSources }
    ... on SMCReport { symbol swingBars timeframes {
      timeframe available error source failedSources candles asOf lastClose structure
      lastBos { kind direction price barTime knownAt swingTime }
      lastChoch { kind direction price barTime knownAt }
      events { kind direction price barTime knownAt }
      fairValueGaps { direction top bottom barTime knownAt filled filledAt }
      orderBlocks { direction top bottom barTime knownAt mitigatedAt brokenAt }
      liquidityZones { kind level top bottom touches touchTimes knownAt sweptAt }
      nearestUnfilledFvgs { direction top bottom }
      liquidityAbove { level } liquidityBelow { level } } } } }
"""


def daily_rows(rows: list[list[Any]]) -> list[list[Any]]:
    """Binance 1d kline rows (same wire shape) aggregated from the cassette's real 4 h rows, whole UTC days only."""
    days: dict[int, list[list[Any]]] = {}
    for row in rows:
        days.setdefault(row[0] - row[0] % 86_400_000, []).append(row)
    out = []
    for start, group in sorted(days.items()):
        if len(group) != 6:
            continue
        total = [sum(float(r[i]) for r in group) for i in (5, 7, 9, 10)]
        out.append(
            [
                start,
                group[0][1],
                str(max(float(r[2]) for r in group)),
                str(min(float(r[3]) for r in group)),
                group[-1][4],
                f"{total[0]:.3f}",
                start + 86_400_000 - 1,
                f"{total[1]:.4f}",
                sum(int(r[8]) for r in group),
                f"{total[2]:.3f}",
                f"{total[3]:.4f}",
                "0",
            ]
        )
    return out


def cassette_with_daily() -> dict[str, Any]:
    cassette = copy.deepcopy(load_cassette_json(LATEST))
    rows = cassette_body(cassette, "binance", "/fapi/v1/klines", symbol="BTCUSDT", interval="4h")
    cassette["http"].append(
        {
            "provider": "binance",
            "method": "GET",
            "path": "/fapi/v1/klines",
            "match": {"symbol": "BTCUSDT", "interval": "1d"},
            "status": 200,
            "body": daily_rows(rows),
        }
    )
    return cassette


def candles(rows: list[list[Any]]) -> list[Candle]:
    return [
        Candle(utc_from_ms(r[0]), float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5]), float(r[7]))
        for r in rows
    ]


async def post(client: httpx2.AsyncClient, base: str, query: str, **variables: Any) -> Any:
    response = await client.post(f"{base}/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def test_smc_per_timeframe_matches_the_engine_on_the_replayed_closed_klines() -> None:
    cassette = cassette_with_daily()
    rows = cassette_body(cassette, "binance", "/fapi/v1/klines", symbol="BTCUSDT", interval="4h")
    closed_4h = candles(rows)[:-1]  # the cassette's last bar closes 1 ms after its clock: still forming
    expected = analyze_structure(closed_4h, interval=timedelta(hours=4))
    async with running_service(cassette) as (base, _), httpx2.AsyncClient(timeout=20) as client:
        data = await post(client, base, SMC, symbol="btc-usdt", timeframes=["4h", "H1", "1d"], recent=500)
        signal = await post(
            client,
            base,
            'query { signal(symbol: "BTC") { ... on Signal { timeframe structure { timeframe structure candles '
            "lastBos { price barTime } events { kind } } } } }",
        )
    report = data["smc"]
    assert report["__typename"] == "SMCReport" and report["symbol"] == "BTCUSDT" and report["swingBars"] == 2
    h4, h1, d1 = report["timeframes"]
    assert (h4["timeframe"], h1["timeframe"], d1["timeframe"]) == ("H4", "H1", "D1")
    assert h4["available"] and h4["source"] == "binance.klines" and h4["candles"] == len(closed_4h) == 199
    assert h4["asOf"] == (closed_4h[-1].open_time + timedelta(hours=4)).isoformat()
    assert h4["structure"] == expected.structure.value
    assert [(e["kind"], e["price"], e["barTime"]) for e in h4["events"]] == [
        (e.kind.value, e.price, e.bar_time.isoformat()) for e in expected.events
    ]
    assert [(g["top"], g["bottom"], g["filled"]) for g in h4["fairValueGaps"]] == [
        (g.top, g.bottom, g.filled) for g in expected.fair_value_gaps
    ]
    assert len(h4["orderBlocks"]) == len(expected.order_blocks) and len(h4["liquidityZones"]) == len(
        expected.liquidity_zones
    )
    assert expected.last_bos is not None and h4["lastBos"]["price"] == expected.last_bos.price
    for event in h4["events"]:
        assert event["knownAt"] > event["barTime"]  # ISO strings of one offset compare in time order
    # no 1h klines in the cassette: that timeframe says so, with every venue's failure, and no structure
    assert not h1["available"] and h1["structure"] is None and h1["events"] == []
    assert "binance.klines" in h1["error"] and len(h1["failedSources"]) >= 3
    # daily bars from the same real series
    assert d1["available"] and d1["candles"] >= 30 and d1["structure"] in {"BULLISH", "BEARISH", "RANGING"}
    # Signal.structure: the signal's own timeframe, the same reading as smc's 4h entry
    structure = signal["signal"]["structure"]
    assert structure["timeframe"] == "H4" and structure["structure"] == h4["structure"]
    assert structure["candles"] == 199 and structure["lastBos"]["barTime"] == h4["lastBos"]["barTime"]
    assert len(structure["events"]) == 20  # the default `recent`


async def test_smc_bad_input_and_missing_upstream_are_typed() -> None:
    async with running_service(load_cassette_json(LATEST)) as (base, _), httpx2.AsyncClient(timeout=20) as client:
        unknown = (await post(client, base, SMC, symbol="NOPECOIN", timeframes=["4h"]))["smc"]
        bad_timeframe = (await post(client, base, SMC, symbol="BTC", timeframes=["4h", "2d"]))["smc"]
        none = (await post(client, base, SMC, symbol="BTC", timeframes=[]))["smc"]
        bad_candles = (await post(client, base, SMC, symbol="BTC", timeframes=["4h"], candles=0))["smc"]
        bad_swing = (await post(client, base, SMC, symbol="BTC", timeframes=["4h"], swingBars=11))["smc"]
        bad_symbol = (await post(client, base, SMC, symbol="BTC USDT!", timeframes=["4h"]))["smc"]
        down = (await post(client, base, SMC, symbol="BTC", timeframes=["1h", "15m"]))["smc"]
    assert (unknown["__typename"], unknown["code"], unknown["symbol"]) == (
        "SymbolNotFound",
        "SYMBOL_NOT_FOUND",
        "NOPECOINUSDT",
    )
    assert (bad_timeframe["__typename"], bad_timeframe["code"], bad_timeframe["field"]) == (
        "InvalidInput",
        "INVALID_INPUT",
        "timeframes",
    )
    assert "2d" in bad_timeframe["message"]
    assert none["field"] == "timeframes" and bad_candles["field"] == "candles" and bad_swing["field"] == "swingBars"
    assert bad_symbol["field"] == "symbol"
    assert down["__typename"] == "UpstreamUnavailable" and down["code"] == "UPSTREAM_UNAVAILABLE"
    assert any("binance.klines" in f for f in down["failedSources"])


async def test_rest_operation_structure_smc() -> None:
    async with running_service(load_cassette_json(LATEST)) as (base, _), httpx2.AsyncClient(timeout=20) as client:
        ok = await client.get(f"{base}/v1/structure/smc", params={"symbol": "BTC", "timeframes": "4h", "recent": 2})
        bad = await client.get(f"{base}/v1/structure/smc", params={"symbol": "BTC", "timeframes": "4h,2d"})
    assert ok.status_code == 200, ok.text
    [entry] = ok.json()["data"]["timeframes"]
    assert entry["timeframe"] == "H4" and entry["structure"] in {"BULLISH", "BEARISH"} and len(entry["events"]) == 2
    assert {"kind", "direction", "price", "barTime", "knownAt"} <= set(entry["events"][0])
    assert {"direction", "top", "bottom", "barTime", "knownAt", "filled"} <= set(entry["nearestUnfilledFvgs"][0])
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_INPUT"


async def test_signal_structure_is_fetched_only_when_selected_and_candles_are_cached() -> None:
    klines = "binance GET /fapi/v1/klines"
    plain = 'query { signal(symbol: "BTC") { ... on Signal { score } } }'
    with_structure = 'query { signal(symbol: "BTC") { ... on Signal { score structure { structure } } } }'
    async with running_service(load_cassette_json(LATEST)) as (base, replay), httpx2.AsyncClient(timeout=20) as client:
        await post(client, base, plain)
        after_plain = replay.calls[klines]
        await post(client, base, plain)
        assert replay.calls[klines] == after_plain  # the signal's own 201-bar call is cached
        data = await post(client, base, with_structure)
        assert data["signal"]["structure"]["structure"] in {"BULLISH", "BEARISH"}
        assert replay.calls[klines] == after_plain + 1  # the 501-bar window, once
        await post(client, base, SMC, symbol="BTC", timeframes=["4h"])
        await post(client, base, with_structure)
        assert replay.calls[klines] == after_plain + 1  # smc and Signal.structure share the cached window
