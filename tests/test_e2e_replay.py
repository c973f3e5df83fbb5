"""End to end over real HTTP: replay server on 127.0.0.1 → providers → engine → GraphQL, per shared cassette.

Expected values are recomputed here from the cassette bodies with plain arithmetic, so a wiring slip
(wrong endpoint, wrong unit, newest-first series, percent taken as fraction) fails loudly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from engine import FUNDING_TABLE, LONG_SHORT_TABLE, OI_TREND_TABLE, SMART_MONEY_TABLE, WEIGHTS
from tests.conftest import CASSETTE_NAMES, cassette_body, load_cassette_json, running_service

SIGNAL_QUERY = """
query Signal($symbol: String!, $mode: Mode!, $timeframe: Timeframe!) {
  signal(symbol: $symbol, mode: $mode, timeframe: $timeframe) {
    __typename
    ... on Problem { code message }
    ... on Signal {
      id symbol recommendation score confidence mode timeframe price generatedAt
      thresholds { shortMax longMin }
      factors { name score weight effectiveWeight contribution available source rawValue detail error failedSources }
      topFactors { name }
      dataQuality { score missing tiers { tier available expected } sources { input tier source ok error failed } }
    }
  }
}
"""

# The recommendation each real market state gives in the default mode (regression pins; the rising
# and falling states are also checked for direction below).
PINNED = {
    "btc-2025-07-11-rising.json": "LONG",
    "btc-2025-10-11-falling.json": "SHORT",
    "btc-2025-11-14-latest.json": "SHORT",
}


def _latest_by(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return max(rows, key=lambda r: int(r[key]))


def _oi_change_pct(rows: list[dict[str, Any]]) -> float:
    ordered = sorted(rows, key=lambda r: int(r["timestamp"]))
    last = ordered[-1]
    cutoff = int(last["timestamp"]) - 24 * 3_600_000
    base = [r for r in ordered if int(r["timestamp"]) <= cutoff][-1]
    return (float(last["sumOpenInterest"]) / float(base["sumOpenInterest"]) - 1.0) * 100.0


def _factor(signal: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in signal["factors"] if f["name"] == name)


async def _signal(graphql: Any, base_url: str, **variables: str) -> dict[str, Any]:
    args = {"symbol": "BTC", "mode": "AGGRESSIVE", "timeframe": "H4", **variables}
    status, body = await graphql(base_url, SIGNAL_QUERY, args)
    assert status == 200, body
    assert "errors" not in body, body.get("errors", None)
    result: dict[str, Any] = body["data"]["signal"]
    return result


@pytest.mark.parametrize("name", CASSETTE_NAMES)
async def test_keyless_signal_matches_the_cassette(name: str, graphql: Any) -> None:
    cassette = load_cassette_json(name)
    async with running_service(cassette) as (base_url, _replay):
        signal = await _signal(graphql, base_url)

    assert signal["__typename"] == "Signal", signal
    assert signal["symbol"] == "BTCUSDT"
    assert signal["timeframe"] == "H4" and signal["mode"] == "AGGRESSIVE"
    ticker = cassette_body(cassette, "binance", "/fapi/v1/ticker/24hr", symbol="BTCUSDT")
    assert signal["price"] == pytest.approx(float(ticker["lastPrice"]))

    # every factor field, against values recomputed from the wire payloads
    premium = cassette_body(cassette, "binance", "/fapi/v1/premiumIndex", symbol="BTCUSDT")
    funding = _factor(signal, "FUNDING")
    funding_pct_8h = float(premium["lastFundingRate"]) * 100  # Binance BTCUSDT funds every 8 h
    assert funding["rawValue"] == pytest.approx(funding_pct_8h)
    assert funding["score"] == FUNDING_TABLE.score(funding_pct_8h)
    assert funding["source"] == "binance.premiumIndex" and funding["available"] and funding["error"] is None

    global_rows = cassette_body(
        cassette, "binance", "/futures/data/globalLongShortAccountRatio", symbol="BTCUSDT", period="4h"
    )
    long_pct = float(_latest_by(global_rows, "timestamp")["longAccount"]) * 100
    long_short = _factor(signal, "LONG_SHORT")
    assert long_short["rawValue"] == pytest.approx(long_pct)
    assert long_short["score"] == LONG_SHORT_TABLE.score(long_pct)
    assert long_short["source"] == "binance.globalLongShortAccountRatio"

    top_rows = cassette_body(
        cassette, "binance", "/futures/data/topLongShortPositionRatio", symbol="BTCUSDT", period="4h"
    )
    top_pct = float(_latest_by(top_rows, "timestamp")["longAccount"]) * 100
    smart = _factor(signal, "SMART_MONEY")
    assert smart["rawValue"] == pytest.approx(top_pct)
    assert smart["score"] == SMART_MONEY_TABLE.score(top_pct)

    oi_rows = cassette_body(cassette, "binance", "/futures/data/openInterestHist", symbol="BTCUSDT", period="4h")
    oi = _factor(signal, "OI_TREND")
    assert oi["rawValue"] == pytest.approx(_oi_change_pct(oi_rows))
    assert oi["score"] == OI_TREND_TABLE.score(_oi_change_pct(oi_rows))
    assert oi["source"] == "binance.openInterestHist"

    fng_rows = cassette_body(cassette, "alternative_me", "/fng/")["data"]
    fear_greed = _factor(signal, "FEAR_GREED")
    assert fear_greed["rawValue"] == float(_latest_by(fng_rows, "timestamp")["value"])
    assert fear_greed["score"] == fear_greed["rawValue"]

    # every recorded CoinGecko answer was last updated months before the cassette: stale, not scored
    social = _factor(signal, "SOCIAL")
    assert social["available"] is False and social["source"] == "coingecko.coins"
    assert social["error"].startswith("stale: observed") and social["effectiveWeight"] == 0

    momentum = _factor(signal, "MOMENTUM")
    assert momentum["available"] and momentum["source"] == "binance.klines" and "rsi" in momentum["detail"]
    if "rising" in name:
        assert momentum["score"] > 50
    if "falling" in name:
        assert momentum["score"] < 50

    liquidations = _factor(signal, "LIQUIDATIONS")
    assert liquidations["available"] is False and liquidations["score"] is None
    assert liquidations["contribution"] == 0 and liquidations["effectiveWeight"] == 0
    assert "COINGLASS_API_KEY" in liquidations["error"]

    # the score is the renormalized weighted mean of the available factors, and agrees with the mode
    available = [f for f in signal["factors"] if f["available"]]
    expected_score = sum(f["score"] * f["weight"] for f in available) / sum(f["weight"] for f in available)
    assert signal["score"] == pytest.approx(expected_score, abs=0.006)
    assert sum(f["effectiveWeight"] for f in available) == pytest.approx(100)
    assert {f["name"]: f["weight"] for f in signal["factors"]} == {n.name: w for n, w in WEIGHTS.items()}
    for factor in available:
        assert factor["contribution"] == pytest.approx(factor["score"] * factor["effectiveWeight"] / 100)
    low, high = signal["thresholds"]["shortMax"], signal["thresholds"]["longMin"]
    expected = "LONG" if signal["score"] >= high else "SHORT" if signal["score"] <= low else "NEUTRAL"
    assert signal["recommendation"] == expected
    assert signal["recommendation"] == PINNED[name]

    # top factors pull hardest from neutral
    pulls = sorted(available, key=lambda f: abs(f["score"] - 50) * f["weight"], reverse=True)
    assert [f["name"] for f in signal["topFactors"]] == [f["name"] for f in pulls[:3] if f["score"] != 50]

    # data quality: 6 of the 7 critical+important inputs (liquidations need a key), and it says so
    quality = signal["dataQuality"]
    assert quality["score"] == pytest.approx(85.7)
    assert any(m.startswith("liquidations:") for m in quality["missing"])
    assert signal["generatedAt"].startswith(cassette_clock_iso(cassette))
    assert 0 <= signal["confidence"] <= 100
    # the cache key Apollo normalizes by: SYMBOL:timeframe:mode:epoch-ms of generatedAt
    generated_ms = round(datetime.fromisoformat(signal["generatedAt"]).timestamp() * 1000)
    assert signal["id"] == f"BTCUSDT:4h:{signal['mode'].lower()}:{generated_ms}"


def cassette_clock_iso(cassette: dict[str, Any]) -> str:
    from engine.market import utc_from_ms

    return utc_from_ms(cassette["clock"]).isoformat()[:19]


@pytest.mark.parametrize("name", CASSETTE_NAMES)
async def test_keyed_coinglass_is_preferred_and_named(name: str, graphql: Any) -> None:
    cassette = load_cassette_json(name)
    async with running_service(cassette, coinglass_api_key="test-key") as (base_url, _):
        signal = await _signal(graphql, base_url)
    assert signal["__typename"] == "Signal", signal

    bars = sorted(
        cassette_body(
            cassette, "coinglass", "/api/futures/liquidation/aggregated-history", symbol="BTC", interval="4h"
        )["data"],
        key=lambda b: b["time"],
    )[-6:]
    long_usd = sum(b["aggregated_long_liquidation_usd"] for b in bars)
    short_usd = sum(b["aggregated_short_liquidation_usd"] for b in bars)
    liquidations = _factor(signal, "LIQUIDATIONS")
    assert liquidations["available"] and liquidations["source"] == "coinglass.liquidation.aggregated-history"
    assert liquidations["rawValue"] == pytest.approx(long_usd / (long_usd + short_usd) * 100)

    ratio_rows = cassette_body(
        cassette, "coinglass", "/api/futures/global-long-short-account-ratio/history", symbol="BTCUSDT", interval="4h"
    )["data"]
    long_short = _factor(signal, "LONG_SHORT")
    assert long_short["source"] == "coinglass.global-long-short-account-ratio"
    assert long_short["rawValue"] == pytest.approx(_latest_by(ratio_rows, "time")["global_account_long_percent"])
    assert _factor(signal, "SMART_MONEY")["source"] == "coinglass.top-long-short-position-ratio"
    assert _factor(signal, "OI_TREND")["source"] == "coinglass.open-interest.aggregated-history"
    assert signal["dataQuality"]["score"] == pytest.approx(100.0)
    # the only input missing is the optional social score, whose recorded answer is months old
    assert [m.split(":")[0:2] for m in signal["dataQuality"]["missing"]] == [["social", " stale"]]


def _with_status(cassette: dict[str, Any], provider: str, path: str, status: int, body: Any) -> dict[str, Any]:
    """A copy of the cassette where every entry of ``provider path`` answers ``status`` with ``body``."""
    entries = []
    for entry in cassette["http"]:
        if entry["provider"] == provider and entry["path"] == path:
            entry = {**entry, "status": status, "body": body}
        entries.append(entry)
    return {**cassette, "http": entries}


async def test_geo_blocked_source_degrades_to_a_partial_answer(graphql: Any) -> None:
    cassette = _with_status(
        load_cassette_json(CASSETTE_NAMES[0]),
        "binance",
        "/futures/data/globalLongShortAccountRatio",
        451,
        {"code": 0, "msg": "Service unavailable from a restricted location"},
    )
    async with running_service(cassette) as (base_url, replay):
        signal = await _signal(graphql, base_url)
    assert signal["__typename"] == "Signal"
    long_short = _factor(signal, "LONG_SHORT")
    assert long_short["available"] is False
    assert "binance.globalLongShortAccountRatio" in long_short["error"] and "451" in long_short["error"]
    assert signal["dataQuality"]["score"] == pytest.approx(71.4)  # 5 of 7: liquidations (no key) and this
    assert replay.calls["binance GET /futures/data/globalLongShortAccountRatio"] == 1  # 451 is not retried


async def test_failing_coinglass_falls_through_to_binance_and_says_so(graphql: Any) -> None:
    cassette = _with_status(
        load_cassette_json(CASSETTE_NAMES[1]),
        "coinglass",
        "/api/futures/global-long-short-account-ratio/history",
        200,
        {"code": "40001", "msg": "Upgrade your plan to access this endpoint"},
    )
    async with running_service(cassette, coinglass_api_key="test-key") as (base_url, _):
        signal = await _signal(graphql, base_url)
    long_short = _factor(signal, "LONG_SHORT")
    assert long_short["available"] and long_short["source"] == "binance.globalLongShortAccountRatio"
    assert len(long_short["failedSources"]) == 1
    assert long_short["failedSources"][0].startswith("coinglass.global-long-short-account-ratio: code 40001")


async def test_no_price_means_no_signal(graphql: Any) -> None:
    cassette = load_cassette_json(CASSETTE_NAMES[2])
    for path in ("/fapi/v1/ticker/24hr", "/fapi/v1/premiumIndex"):
        cassette = _with_status(cassette, "binance", path, 503, {"code": -1001, "msg": "Internal error"})
    async with running_service(cassette, upstream_retry_attempts=1) as (base_url, _):
        signal = await _signal(graphql, base_url)
    assert signal["__typename"] == "InsufficientData"
    assert signal["code"] == "NO_PRICE"
    assert "price" in signal["message"]


async def test_stale_cassette_is_refused_against_a_real_clock(graphql: Any) -> None:
    """Against today's clock a 2025 market state is stale everywhere: the service refuses, naming why."""
    from datetime import UTC, datetime

    cassette = load_cassette_json(CASSETTE_NAMES[2])
    async with running_service(cassette, clock=lambda: datetime.now(UTC)) as (base_url, _):
        signal = await _signal(graphql, base_url)
    assert signal["__typename"] == "InsufficientData"
    assert "stale" in signal["message"] or any("stale" in m for m in signal.get("missing", []))


async def test_serve_replay_mode_runs_its_own_upstream_and_clock(graphql: Any) -> None:
    """``signal-api serve --replay FILE``: the app starts the replay server itself and uses its clock."""
    from providers.replay import serve_in_background
    from signal_api.app import create_app
    from signal_api.settings import Settings
    from tests.conftest import shared_path

    path = shared_path("cassettes", CASSETTE_NAMES[1])
    settings = Settings(_env_file=None, replay_cassette=path)  # type: ignore[call-arg]
    async with serve_in_background(create_app(settings), lifespan="on") as server:
        signal = await _signal(graphql, server.base_url)
        import httpx2

        async with httpx2.AsyncClient() as client:
            health = (await client.get(f"{server.base_url}/health")).json()
    assert signal["__typename"] == "Signal" and signal["recommendation"] == PINNED[CASSETTE_NAMES[1]]
    assert signal["generatedAt"].startswith(cassette_clock_iso(load_cassette_json(CASSETTE_NAMES[1])))
    assert health["replay"] == str(path) and health["providers"]["coinglass"].startswith("disabled")
    assert health["cache"]["misses"] > 0


async def test_serve_replay_url_adopts_the_replay_servers_clock(graphql: Any) -> None:
    """``signal-api serve --replay-url URL``: a separately running replay server, and its cassette's clock."""
    from providers.replay import Cassette, ReplayApp, serve_in_background
    from signal_api.app import create_app
    from signal_api.settings import Settings

    cassette = load_cassette_json(CASSETTE_NAMES[2])
    replay = ReplayApp(Cassette.model_validate(cassette))
    async with serve_in_background(replay.app) as upstream:
        settings = Settings(_env_file=None, replay_url=upstream.base_url)  # type: ignore[call-arg]
        async with serve_in_background(create_app(settings), lifespan="on") as server:
            signal = await _signal(graphql, server.base_url)
    assert signal["__typename"] == "Signal" and signal["recommendation"] == PINNED[CASSETTE_NAMES[2]]
    assert signal["generatedAt"].startswith(cassette_clock_iso(cassette))
    assert replay.calls["binance GET /fapi/v1/klines"] == 1


async def test_missing_funding_history_assumes_eight_hours_and_says_so(graphql: Any) -> None:
    cassette = _with_status(
        load_cassette_json(CASSETTE_NAMES[0]), "binance", "/fapi/v1/fundingRate", 400, {"code": -1130, "msg": "bad"}
    )
    async with running_service(cassette) as (base_url, _):
        signal = await _signal(graphql, base_url)
    funding = _factor(signal, "FUNDING")
    assert funding["available"] and funding["source"] == "binance.premiumIndex"
    assert funding["failedSources"] == ["binance.fundingRate: code -1130: bad (funding interval assumed 8h)"]
