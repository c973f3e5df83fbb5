"""Two of issue 11's signal-truth defects, each on real payloads: the forming candle, and the OI unit.

- Binance answers klines with the still-forming bar last. The signal must score closed bars only, the
  same bars the backtest scores for the same moment, whichever venue served the candles.
- Open interest from CoinGlass is USD; from Binance it is coins. The OI-trend detail says the unit the
  data carries instead of always saying "coins".

The cassettes are real BTCUSDT market states in the venues' wire formats (``../shared/cassettes``); the
fixtures are real captures (``../shared/fixtures``, see PROVENANCE.md). Every expectation is recomputed
here from those bodies.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from engine import evaluate_momentum
from engine.backtest import MarketHistory, snapshot_at
from engine.factors import evaluate_oi_trend
from engine.market import Timeframe, split_candles, utc_from_ms
from providers.binance.domain import to_candle, to_open_interest_point
from providers.binance.models import BinanceKline, BinanceOpenInterestHist
from providers.coinglass.domain import oldest_first
from providers.coinglass.domain import to_open_interest_point as to_coinglass_oi_point
from providers.coinglass.models import CgOhlc
from tests.conftest import CASSETTE_NAMES, cassette_body, load_cassette_json, running_service, shared_path

if TYPE_CHECKING:
    from datetime import datetime

    from engine.market import Candle

H4 = Timeframe.H4.duration

QUERY = """
query { signal(symbol: "BTC", timeframe: H4) { __typename ... on Problem { code message }
  ... on Signal { generatedAt factors { name available source failedSources rawValue score detail } } } }
"""


def _kline_rows(cassette: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = cassette_body(cassette, "binance", "/fapi/v1/klines", symbol="BTCUSDT", interval="4h")
    return rows


def _candles(cassette: dict[str, Any]) -> tuple[Candle, ...]:
    return tuple(to_candle(BinanceKline.from_row(r)) for r in _kline_rows(cassette))


def _history(candles: tuple[Candle, ...]) -> MarketHistory:
    """Only candles: the other series play no part in the momentum factor."""
    return MarketHistory(
        symbol="BTCUSDT",
        timeframe=Timeframe.H4,
        candles=candles,
        funding=(),
        global_long_short=(),
        top_trader_positions=(),
        open_interest=(),
        liquidations=(),
        fear_greed=(),
    )


def _factor(signal: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in signal["factors"] if f["name"] == name)


async def _signal(graphql: Any, cassette: dict[str, Any], clock: datetime | None = None, **settings: Any) -> Any:
    async with running_service(cassette, clock=(lambda: clock) if clock else None, **settings) as (url, _):
        status, body = await graphql(url, QUERY)
    assert status == 200 and "errors" not in body, body
    signal = body["data"]["signal"]
    assert signal["__typename"] == "Signal", signal
    return signal


# --------------------------------------------------------------------------------------------------
# The forming candle


@pytest.mark.parametrize("name", CASSETTE_NAMES)
def test_the_last_real_kline_is_forming_at_the_cassette_clock(name: str) -> None:
    cassette = load_cassette_json(name)
    rows = _kline_rows(cassette)
    candles = _candles(cassette)
    now = utc_from_ms(cassette["clock"])
    # Binance's closeTime is the bar's last millisecond: the bar is final once the clock is past it
    assert rows[-1][6] >= cassette["clock"] > rows[-2][6]

    series = split_candles(candles, H4, now)
    assert series.forming == candles[-1]
    assert series.closed == candles[:-1]
    assert all(c.open_time + H4 <= now for c in series.closed)

    at_close = split_candles(candles, H4, utc_from_ms(rows[-1][6] + 1))
    assert at_close.closed == candles and at_close.forming is None


@pytest.mark.parametrize("name", CASSETTE_NAMES)
@pytest.mark.parametrize("moment", ["cassette clock", "last bar close"])
async def test_live_momentum_scores_the_backtests_closed_bars(name: str, moment: str, graphql: Any) -> None:
    """Live (replayed over HTTP) and the backtest, same recorded klines, same moment: same bars, same factor."""
    cassette = load_cassette_json(name)
    candles = _candles(cassette)
    now = utc_from_ms(cassette["clock"]) if moment == "cassette clock" else candles[-1].open_time + H4

    signal = await _signal(graphql, cassette, clock=now)
    live = _factor(signal, "MOMENTUM")

    history = _history(candles)
    index = max(i for i in range(len(candles)) if history.close_time(i) <= now)
    backtest = snapshot_at(history, index)
    assert backtest.candles.value == split_candles(candles, H4, now).closed
    expected = evaluate_momentum(backtest.candles.value)

    assert live["available"] and live["source"] == "binance.klines"
    assert (live["score"], live["rawValue"], live["detail"]) == (expected.score, expected.raw_value, expected.detail)
    if moment == "cassette clock":  # the forming bar is there and would have changed what momentum says
        as_served = evaluate_momentum(candles)
        assert as_served.raw_value != expected.raw_value


async def test_live_scores_the_backtests_window_not_every_closed_bar(
    graphql: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With more closed bars served than the window, live keeps the last ``CANDLE_WINDOW``, as the backtest."""
    import resolvers.gateway

    window = 150  # below the 199 closed bars of the cassette, so the trim is exercised
    monkeypatch.setattr(resolvers.gateway, "CANDLE_WINDOW", window)
    cassette = load_cassette_json(CASSETTE_NAMES[0])
    candles = _candles(cassette)
    now = utc_from_ms(cassette["clock"])

    live = _factor(await _signal(graphql, cassette), "MOMENTUM")
    backtest = snapshot_at(_history(candles), len(candles) - 2, window=window)
    assert backtest.candles.value is not None and len(backtest.candles.value) == window
    expected = evaluate_momentum(backtest.candles.value)

    assert (live["score"], live["rawValue"], live["detail"]) == (expected.score, expected.raw_value, expected.detail)
    assert evaluate_momentum(split_candles(candles, H4, now).closed).raw_value != live["rawValue"]


def _bybit_klines_only(cassette: dict[str, Any]) -> dict[str, Any]:
    """Binance klines geo-blocked (HTTP 451); Bybit serves the same real klines in its v5 shape (newest first)."""
    blocked = {"code": 0, "msg": "Service unavailable from a restricted location according to 'b. Eligibility'"}
    entries = [
        {**e, "status": 451, "body": blocked} if e["provider"] == "binance" and e["path"] == "/fapi/v1/klines" else e
        for e in cassette["http"]
    ]
    kline = {
        "retCode": 0,
        "retMsg": "OK",
        "result": {
            "symbol": "BTCUSDT",
            "category": "linear",
            "list": [[str(k[0]), k[1], k[2], k[3], k[4], k[5], k[7]] for k in reversed(_kline_rows(cassette))],
        },
        "retExtInfo": {},
        "time": cassette["clock"],
    }
    bybit = {
        "provider": "bybit",
        "method": "GET",
        "path": "/v5/market/kline",
        "match": {"symbol": "BTCUSDT"},
        "status": 200,
        "body": kline,
    }
    return {**cassette, "http": [*entries, bybit]}


async def test_a_fallback_venues_forming_bar_is_excluded_too(graphql: Any) -> None:
    """The split is in the gateway, not in a venue: Bybit's candles lose their forming bar the same way."""
    cassette = load_cassette_json(CASSETTE_NAMES[0])
    candles = _candles(cassette)
    now = utc_from_ms(cassette["clock"])

    live = _factor(await _signal(graphql, _bybit_klines_only(cassette)), "MOMENTUM")
    expected = evaluate_momentum(split_candles(candles, H4, now).closed)

    assert live["source"] == "bybit.candles"
    assert live["failedSources"][0].startswith("binance.klines: HTTP 451")
    assert (live["score"], live["rawValue"], live["detail"]) == (expected.score, expected.raw_value, expected.detail)
    assert evaluate_momentum(candles).raw_value != live["rawValue"]


# --------------------------------------------------------------------------------------------------
# The OI unit


def test_coinglass_oi_is_usd_and_the_detail_says_so() -> None:
    """A real CoinGlass v4 aggregated OI history (40 bars of 4h): USD, so the detail shows dollars."""
    payload = json.loads(
        shared_path("fixtures", "coinglass", "futures_open-interest_aggregated-history.json").read_text()
    )
    series = oldest_first((CgOhlc.model_validate(r) for r in payload["data"]), to_coinglass_oi_point)
    assert series and all(p.unit == "usd" for p in series)

    evaluation = evaluate_oi_trend(series)
    assert evaluation.available, evaluation.error
    last = max(payload["data"], key=lambda r: r["time"])
    assert f"${float(last['close']):,.0f})" in evaluation.detail
    assert "coins" not in evaluation.detail


def test_binance_oi_is_coins_and_the_detail_says_so() -> None:
    """A real openInterestHist capture converts to coins; a 5-day real series reads in coins."""
    captured = json.loads(shared_path("fixtures", "binance", "futures_data_openInterestHist.json").read_text())
    points = [to_open_interest_point(BinanceOpenInterestHist.model_validate(r)) for r in captured]
    assert [(p.unit, p.open_interest, p.open_interest_usd) for p in points] == [
        ("coin", float(r["sumOpenInterest"]), float(r["sumOpenInterestValue"])) for r in captured
    ]

    cassette = load_cassette_json(CASSETTE_NAMES[0])
    rows = cassette_body(cassette, "binance", "/futures/data/openInterestHist", symbol="BTCUSDT", period="4h")
    series = tuple(
        sorted((to_open_interest_point(BinanceOpenInterestHist.model_validate(r)) for r in rows), key=lambda p: p.time)
    )
    evaluation = evaluate_oi_trend(series)
    assert evaluation.available, evaluation.error
    assert f"{series[-1].open_interest:,.2f} coins)" in evaluation.detail
    assert "$" not in evaluation.detail


def test_an_oi_series_mixing_units_is_missing_not_compared() -> None:
    """Coins 24 h ago against dollars now is no change at all: the factor says so instead of scoring it."""
    cassette = load_cassette_json(CASSETTE_NAMES[0])
    rows = cassette_body(cassette, "binance", "/futures/data/openInterestHist", symbol="BTCUSDT", period="4h")
    coins = sorted(
        (to_open_interest_point(BinanceOpenInterestHist.model_validate(r)) for r in rows), key=lambda p: p.time
    )
    last = coins[-1]
    dollars = type(last)(last.time, last.open_interest_usd or 0.0, last.open_interest_usd, "usd")
    evaluation = evaluate_oi_trend((*coins[:-1], dollars))
    assert not evaluation.available
    assert evaluation.error == "open interest series mixes units (coin 24h ago, usd now)"


@pytest.mark.parametrize(
    ("settings", "source", "unit_text", "other_unit"),
    [
        ({}, "binance.openInterestHist", " coins)", "$"),
        ({"coinglass_api_key": "test-key"}, "coinglass.open-interest.aggregated-history", "$", "coins"),
    ],
)
async def test_the_served_oi_detail_names_its_sources_unit(
    settings: dict[str, Any], source: str, unit_text: str, other_unit: str, graphql: Any
) -> None:
    cassette = load_cassette_json(CASSETTE_NAMES[2])
    oi = _factor(await _signal(graphql, cassette, **settings), "OI_TREND")
    assert oi["available"] and oi["source"] == source
    assert unit_text in oi["detail"] and other_unit not in oi["detail"]
