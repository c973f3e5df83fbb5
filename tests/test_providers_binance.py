"""Binance USD-M: venue models over every REST fixture in ``shared/fixtures/binance`` (live captures and
documentation examples), the error hook over the real error bodies, and the domain layer driven over
real HTTP by the replay server of a cassette.

Expected values are read from the fixture text itself (``float(text)``), so a unit slip (percent taken
as a fraction, a field read from the wrong key) or a reversed series fails here.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import pytest
import pytest_asyncio
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from engine.market import Timeframe, utc_from_ms
from providers.binance.domain import (
    DEFAULT_FUNDING_INTERVAL_HOURS,
    BinanceMarket,
    infer_funding_interval_hours,
    to_candle,
    to_candles,
    to_funding,
    to_long_short,
    to_mark_price,
    to_ticker,
)
from providers.binance.models import (
    BinanceDepth,
    BinanceExchangeInfo,
    BinanceFundingRate,
    BinanceKline,
    BinanceLongShortRatio,
    BinanceOpenInterest,
    BinanceOpenInterestHist,
    BinancePremiumIndex,
    BinanceTakerRatio,
    BinanceTicker24h,
)
from providers.binance.raw import BinanceFuturesClient, binance_error_hook
from providers.config import CacheTtls
from providers.errors import InvalidRequest, InvalidSymbol, MalformedPayload, RateLimited, UpstreamUnavailable
from providers.replay import Cassette, ReplayApp, serve_in_background
from providers.symbols import parse_symbol
from providers.upstream_client import UpstreamClient
from tests.providers_helpers import cassette_entry_body, cassette_json, cassette_path, fixture_json, make_http

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.requests import Request

BTC = parse_symbol("BTC")
# the replay-server tests share one server, so they run in the module's event loop
MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")


def binance(name: str) -> Any:
    return fixture_json("binance", name)


# --------------------------------------------------------------------------------------------------
# exchangeInfo


def _usdt_perpetuals_trading(raw: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s
        for s in raw["symbols"]
        if s["contractType"] == "PERPETUAL" and s["quoteAsset"] == "USDT" and s["status"] == "TRADING"
    ]


class _StubRaw:
    """Just enough of BinanceFuturesClient for BinanceMarket.symbols()."""

    def __init__(self, info: BinanceExchangeInfo) -> None:
        self._info = info
        self.ttls = CacheTtls()

    async def exchange_info(self) -> BinanceExchangeInfo:
        return self._info


@pytest.mark.parametrize(
    ("name", "expected_perpetuals"),
    [("fapi_v1_exchangeInfo.json", 117), ("fapi_v1_exchangeInfo.trimmed.json", 2)],
)
async def test_exchange_info_counts_tradable_usdt_perpetuals(name: str, expected_perpetuals: int) -> None:
    raw = binance(name)
    info = BinanceExchangeInfo.model_validate(raw)
    assert info.serverTime == raw["serverTime"]
    assert len(info.symbols) == len(raw["symbols"])

    market = BinanceMarket(cast("BinanceFuturesClient", _StubRaw(info)))
    symbols = await market.symbols()
    expected = _usdt_perpetuals_trading(raw)
    assert len(symbols) == len(expected) == expected_perpetuals
    assert [s.symbol for s in symbols] == [s["symbol"] for s in expected]
    # delivery contracts, BUSD-margined and pending symbols are excluded
    assert all(s.contract_type == "PERPETUAL" and s.quote_asset == "USDT" and s.status == "TRADING" for s in symbols)
    btc = next(s for s in symbols if s.symbol == "BTCUSDT")
    assert btc.base_asset == "BTC"
    # onboard dates are aware UTC (REFERENCE §2 defect 8: no naive local time)
    assert btc.onboard_date == datetime(2019, 9, 25, 8, 0, tzinfo=UTC)
    for s in symbols:
        assert s.onboard_date is not None
        assert s.onboard_date.tzinfo is UTC


def test_exchange_info_full_capture_excludes_the_non_perpetuals() -> None:
    raw = binance("fapi_v1_exchangeInfo.json")
    info = BinanceExchangeInfo.model_validate(raw)
    by_symbol = {s.symbol: s for s in info.symbols}
    assert by_symbol["BTCUSDT_210924"].contractType == "CURRENT_QUARTER"
    assert by_symbol["BTCBUSD"].quoteAsset == "BUSD"
    assert by_symbol["BTCSTUSDT"].status == "PENDING_TRADING"


# --------------------------------------------------------------------------------------------------
# ticker, premiumIndex, fundingRate, openInterest


@pytest.mark.parametrize("name", ["fapi_v1_ticker_24hr.json", "fapi_v1_ticker_24hr.docs.json"])
def test_ticker_24hr(name: str) -> None:
    raw = binance(name)
    ticker = to_ticker(BinanceTicker24h.model_validate(raw))
    assert ticker.symbol == raw["symbol"] == "BTCUSDT"
    assert ticker.last_price == float(raw["lastPrice"])
    assert ticker.price_change_pct == float(raw["priceChangePercent"])  # already percent on the wire
    assert ticker.high == float(raw["highPrice"])
    assert ticker.low == float(raw["lowPrice"])
    assert ticker.volume == float(raw["volume"])
    assert ticker.quote_volume == float(raw["quoteVolume"])
    assert ticker.close_time == utc_from_ms(raw["closeTime"])
    assert ticker.close_time.tzinfo is UTC


def test_ticker_24hr_live_values() -> None:
    ticker = to_ticker(BinanceTicker24h.model_validate(binance("fapi_v1_ticker_24hr.json")))
    assert ticker.last_price == 76914.9
    assert ticker.price_change_pct == -1.138
    assert ticker.quote_volume == 13258734360.38


@pytest.mark.parametrize(
    "name", ["fapi_v1_premiumIndex.json", "fapi_v1_premiumIndex.2026-09.json", "fapi_v1_premiumIndex.docs.json"]
)
def test_premium_index(name: str) -> None:
    raw = binance(name)
    premium = BinancePremiumIndex.model_validate(raw)
    mark = to_mark_price(premium)
    assert mark.symbol == "BTCUSDT"
    assert mark.mark_price == float(raw["markPrice"])
    assert mark.index_price == float(raw["indexPrice"])
    assert mark.last_funding_rate == float(raw["lastFundingRate"])  # a fraction per interval, not percent
    assert mark.next_funding_time == utc_from_ms(raw["nextFundingTime"])
    assert mark.time == utc_from_ms(raw["time"])

    funding = to_funding(premium, interval_hours=8.0)
    assert funding.rate == float(raw["lastFundingRate"])
    assert funding.interval_hours == 8.0
    assert funding.percent_8h == pytest.approx(float(raw["lastFundingRate"]) * 100.0)
    assert funding.mark_price == float(raw["markPrice"])


def test_premium_index_live_values() -> None:
    mark = to_mark_price(BinancePremiumIndex.model_validate(binance("fapi_v1_premiumIndex.json")))
    assert mark.mark_price == 63086.4
    assert mark.last_funding_rate == 0.00009145
    assert mark.next_funding_time == datetime(2026, 8, 2, 16, 0, tzinfo=UTC)


def test_premium_index_delivery_contract_has_no_funding() -> None:
    """The all-symbol form lists delivery contracts with ``lastFundingRate: ""`` and ``nextFundingTime: 0``
    (as Binance documents); one such row must not make the whole list a MalformedPayload."""
    row = {
        "symbol": "BTCUSDT_250926",
        "markPrice": "117950.10000000",
        "indexPrice": "118072.70000000",
        "estimatedSettlePrice": "118072.70000000",
        "lastFundingRate": "",
        "interestRate": "",
        "nextFundingTime": 0,
        "time": 1752263999999,
    }
    premium = BinancePremiumIndex.model_validate(row)
    assert premium.lastFundingRate is None
    mark = to_mark_price(premium)
    assert mark.mark_price == 117950.1
    assert mark.last_funding_rate == 0.0
    assert mark.next_funding_time is None


@pytest.mark.parametrize(
    "name", ["fapi_v1_fundingRate.json", "fapi_v1_fundingRate.docs.json", "fapi_v1_fundingRate.2026-09.json"]
)
def test_funding_rate_history(name: str) -> None:
    raw = binance(name)
    history = tuple(BinanceFundingRate.model_validate(r) for r in raw)
    assert [h.fundingRate for h in history] == [float(r["fundingRate"]) for r in raw]
    assert [h.fundingTime for h in history] == [r["fundingTime"] for r in raw]
    assert [h.markPrice for h in history] == [float(r["markPrice"]) if "markPrice" in r else None for r in raw]
    # every fixture is two consecutive 8h settlements (2026-09 is 5 ms off the boundary)
    assert infer_funding_interval_hours(history) == 8.0


def test_funding_rate_values() -> None:
    live = tuple(BinanceFundingRate.model_validate(r) for r in binance("fapi_v1_fundingRate.json"))
    assert live[-1].fundingRate == 0.00008943
    assert live[-1].markPrice == 63468.1
    docs = tuple(BinanceFundingRate.model_validate(r) for r in binance("fapi_v1_fundingRate.docs.json"))
    assert docs[0].fundingRate == -0.0375  # negative rates parse with their sign


def _funding_rows(spacing_hours: float, count: int, start_ms: int = 1751414400000) -> tuple[BinanceFundingRate, ...]:
    step = int(spacing_hours * 3_600_000)
    return tuple(
        BinanceFundingRate.model_validate(
            {"symbol": "BTCUSDT", "fundingRate": "0.00010000", "fundingTime": start_ms + i * step}
        )
        for i in range(count)
    )


@pytest.mark.parametrize(("spacing", "expected"), [(8, 8.0), (4, 4.0), (2, 2.0), (1, 1.0)])
def test_infer_funding_interval_hours(spacing: float, expected: float) -> None:
    rows = _funding_rows(spacing, 12)
    assert infer_funding_interval_hours(rows) == expected
    # order on the wire does not matter
    assert infer_funding_interval_hours(tuple(reversed(rows))) == expected


def test_infer_funding_interval_single_point_defaults_to_8h() -> None:
    assert infer_funding_interval_hours(_funding_rows(1, 1)) == DEFAULT_FUNDING_INTERVAL_HOURS == 8.0
    assert infer_funding_interval_hours(()) == 8.0


def test_infer_funding_interval_uses_recent_spacing_after_a_change() -> None:
    # 8h for a month, then Binance moved the symbol to 4h: the last ten settlements decide
    old = _funding_rows(8, 20)
    new = _funding_rows(4, 12, start_ms=old[-1].fundingTime + 4 * 3_600_000)
    assert infer_funding_interval_hours(old + new) == 4.0


@pytest.mark.parametrize("name", ["fapi_v1_openInterest.json", "fapi_v1_openInterest.docs.json"])
def test_open_interest(name: str) -> None:
    raw = binance(name)
    oi = BinanceOpenInterest.model_validate(raw)
    assert oi.symbol == "BTCUSDT"
    assert oi.openInterest == float(raw["openInterest"])
    assert oi.time == raw["time"]


def test_open_interest_tardis_generated_is_rejected() -> None:
    """Decision: the tardis.dev capture is not a REST body. It wraps the poll in ``{stream, generated, data}``,
    and even the unwrapped ``data`` predates the ``time`` field every current response carries, so the model
    rejects both (the HTTP layer would report MalformedPayload) rather than invent a timestamp."""
    raw = binance("fapi_v1_openInterest.tardis_generated.json")
    with pytest.raises(ValidationError):
        BinanceOpenInterest.model_validate(raw)
    with pytest.raises(ValidationError, match="time"):
        BinanceOpenInterest.model_validate(raw["data"])
    assert raw["data"]["openInterest"] == "26286.181"


@pytest.mark.parametrize("name", ["futures_data_openInterestHist.json", "futures_data_openInterestHist.docs.json"])
def test_open_interest_hist(name: str) -> None:
    # the docs show string timestamps, the live API numbers: both parse to the same int
    raw = binance(name)
    rows = tuple(BinanceOpenInterestHist.model_validate(r) for r in raw)
    assert [r.timestamp for r in rows] == [int(r["timestamp"]) for r in raw]
    assert [r.sumOpenInterest for r in rows] == [float(r["sumOpenInterest"]) for r in raw]
    assert [r.sumOpenInterestValue for r in rows] == [float(r["sumOpenInterestValue"]) for r in raw]


def test_open_interest_hist_values() -> None:
    live = tuple(BinanceOpenInterestHist.model_validate(r) for r in binance("futures_data_openInterestHist.json"))
    assert live[0].sumOpenInterest == 109026.205
    assert live[0].timestamp == 1785672000000
    docs = tuple(BinanceOpenInterestHist.model_validate(r) for r in binance("futures_data_openInterestHist.docs.json"))
    assert docs[0].timestamp == 1583127900000


# --------------------------------------------------------------------------------------------------
# long/short ratios and taker volume


@pytest.mark.parametrize(
    "name",
    [
        "futures_data_globalLongShortAccountRatio.json",
        "futures_data_globalLongShortAccountRatio.docs.json",
        "futures_data_topLongShortAccountRatio.docs.json",
        "futures_data_topLongShortPositionRatio.docs.json",
    ],
)
def test_long_short_ratios_become_percent(name: str) -> None:
    raw = binance(name)
    points = [to_long_short(BinanceLongShortRatio.model_validate(r)) for r in raw]
    for point, row in zip(points, raw, strict=True):
        assert point.time == utc_from_ms(int(row["timestamp"]))
        assert point.long_pct == pytest.approx(float(row["longAccount"]) * 100.0)
        assert 0.0 <= point.long_pct <= 100.0
        assert point.long_short_ratio == float(row["longShortRatio"])


def test_long_short_live_values() -> None:
    points = [
        to_long_short(BinanceLongShortRatio.model_validate(r))
        for r in binance("futures_data_globalLongShortAccountRatio.json")
    ]
    assert points[0].long_pct == pytest.approx(65.61)
    assert points[1].long_short_ratio == 1.9197


@pytest.mark.parametrize(
    "name", ["futures_data_takerlongshortRatio.json", "futures_data_takerlongshortRatio.docs.json"]
)
def test_taker_long_short_ratio_has_no_symbol(name: str) -> None:
    raw = binance(name)
    rows = tuple(BinanceTakerRatio.model_validate(r) for r in raw)
    assert all("symbol" not in r for r in raw)
    assert [r.buySellRatio for r in rows] == [float(r["buySellRatio"]) for r in raw]
    assert [r.buyVol for r in rows] == [float(r["buyVol"]) for r in raw]
    assert [r.sellVol for r in rows] == [float(r["sellVol"]) for r in raw]
    assert [r.timestamp for r in rows] == [int(r["timestamp"]) for r in raw]


# --------------------------------------------------------------------------------------------------
# klines and depth


@pytest.mark.parametrize(
    "name",
    [
        "fapi_v1_klines.json",
        "fapi_v1_klines.docs.json",
        "fapi_v1_continuousKlines.json",
        "fapi_v1_continuousKlines.docs.json",
        "fapi_v1_markPriceKlines.docs.json",
    ],
)
def test_kline_rows_become_candles(name: str) -> None:
    raw = binance(name)
    candles = [to_candle(BinanceKline.from_row(row)) for row in raw]
    assert len(candles) == len(raw)
    for candle, row in zip(candles, raw, strict=True):
        assert candle.open_time == utc_from_ms(row[0])
        assert (candle.open, candle.high, candle.low, candle.close) == tuple(float(v) for v in row[1:5])
        assert candle.volume == float(row[5])
        assert candle.quote_volume == float(row[7])
    assert [c.open_time for c in candles] == sorted(c.open_time for c in candles)


@pytest.mark.parametrize("name", ["fapi_v1_klines.json", "fapi_v1_continuousKlines.json"])
def test_a_klines_answer_becomes_the_rows_candles_oldest_first(name: str) -> None:
    rows = BinanceKline.from_rows(binance(name))
    expected = tuple(sorted((to_candle(r) for r in rows), key=lambda c: c.open_time))
    assert to_candles(rows) == expected
    assert to_candles(tuple(reversed(rows))) == expected  # newest-first arrives sorted
    assert to_candles(()) == ()


def test_kline_live_values_are_exact() -> None:
    rows = [BinanceKline.from_row(r) for r in binance("fapi_v1_klines.json")]
    first = rows[0]
    assert first.open_time == 1789478160000
    assert first.close == float("76965.40")
    assert repr(first.close) == "76965.4"  # the venue's text comes back
    assert first.trades == 878
    assert first.taker_buy_volume == float("15.190")
    assert to_candle(rows[-1]).close == 76914.9
    assert to_candle(rows[-1]).open_time == datetime(2026, 9, 15, 13, 18, tzinfo=UTC)


def test_kline_row_too_short_is_rejected() -> None:
    row = binance("fapi_v1_klines.json")[0][:8]
    with pytest.raises(ValueError):  # ProviderHttp maps ValueError (and ValidationError) to MalformedPayload
        BinanceKline.from_row(row)


@pytest.mark.parametrize(
    "name",
    [
        "fapi_v1_depth.json",
        "fapi_v1_depth.docs.json",
        "fapi_v1_depth.limit5.json",
        "fapi_v1_depth.btcusdt_2026.json",
    ],
)
def test_depth(name: str) -> None:
    raw = binance(name)
    depth = BinanceDepth.model_validate(raw)
    assert depth.lastUpdateId == raw["lastUpdateId"]
    assert depth.bids == tuple((float(p), float(q)) for p, q in raw["bids"])
    assert depth.asks == tuple((float(p), float(q)) for p, q in raw["asks"])
    if len(depth.bids) > 1:
        assert [p for p, _ in depth.bids] == sorted((p for p, _ in depth.bids), reverse=True)
        assert [p for p, _ in depth.asks] == sorted(p for p, _ in depth.asks)
    assert depth.bids[0][0] <= depth.asks[0][0]


def test_depth_values() -> None:
    sushi = BinanceDepth.model_validate(binance("fapi_v1_depth.json"))
    assert len(sushi.bids) == len(sushi.asks) == 1000
    assert sushi.bids[0] == (7.611, 6.0)
    btc = BinanceDepth.model_validate(binance("fapi_v1_depth.btcusdt_2026.json"))
    assert btc.bids[0] == (63086.4, 23.084)
    assert btc.asks[0] == (63086.5, 3.837)
    assert btc.E == 1785676357667


# --------------------------------------------------------------------------------------------------
# the error hook


def test_error_hook_invalid_symbol() -> None:
    error = binance_error_hook("binance", "ticker24hr", 400, binance("error_-1121_invalid_symbol.json"))
    assert isinstance(error, InvalidSymbol)
    assert error.status == 400
    assert error.source == "binance.ticker24hr"
    assert "-1121" in error.describe()
    assert "Invalid symbol." in error.describe()


@pytest.mark.parametrize("name", ["error_-1120_invalid_interval.json", "error_-1130_invalid_limit.json"])
def test_error_hook_invalid_request(name: str) -> None:
    raw = binance(name)
    error = binance_error_hook("binance", "klines", 400, raw)
    assert type(error) is InvalidRequest
    assert error.status == 400
    assert str(raw["code"]) in error.message
    assert raw["msg"] in error.message


def test_error_hook_envelope_with_http_200() -> None:
    error = binance_error_hook(
        "binance", "fundingRate", 200, binance("fapi_v1_fundingRate.error_envelope_http200.json")
    )
    assert type(error) is InvalidRequest
    assert error.status == 200
    assert "illegal params." in error.message
    assert error.source == "binance.fundingRate"


@pytest.mark.parametrize(
    "name", ["fapi_v1_premiumIndex.json", "fapi_v1_fundingRate.json", "fapi_v1_klines.json", "fapi_v1_depth.docs.json"]
)
def test_error_hook_passes_normal_payloads(name: str) -> None:
    assert binance_error_hook("binance", "x", 200, binance(name)) is None


@pytest.mark.parametrize(
    ("code", "kind"), [(-1003, RateLimited), (-1015, RateLimited), (-1001, UpstreamUnavailable), (-1122, InvalidSymbol)]
)
def test_error_hook_code_classes(code: int, kind: type[Exception]) -> None:
    error = binance_error_hook("binance", "x", 400, {"code": code, "msg": "venue message"})
    assert type(error) is kind


@pytest.mark.parametrize("status", [418, 429, 451, 500, 503])
def test_error_hook_leaves_status_level_errors_to_the_http_layer(status: int) -> None:
    # these keep their Retry-After / geo-block meaning, decided by classify_status
    assert binance_error_hook("binance", "x", status, {"code": -1003, "msg": "Too many requests."}) is None


# --------------------------------------------------------------------------------------------------
# the domain layer over real HTTP (replay server on 127.0.0.1)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def replay_server() -> AsyncIterator[tuple[str, ReplayApp]]:
    """One replay server for the module (uvicorn takes ~0.2 s to stop); tests get fresh clients and caches."""
    replay = ReplayApp(Cassette.load(cassette_path()))
    async with serve_in_background(replay.app) as server:
        yield server.base_url, replay


@pytest_asyncio.fixture(loop_scope="module")
async def replayed(replay_server: tuple[str, ReplayApp]) -> AsyncIterator[tuple[BinanceMarket, ReplayApp]]:
    base, replay = replay_server
    replay.calls.clear()
    client = UpstreamClient()
    try:
        http = make_http("binance", client, f"{base}/binance", timeout_seconds=2, error_hook=binance_error_hook)
        yield BinanceMarket(BinanceFuturesClient(http, CacheTtls())), replay
    finally:
        await client.aclose()


@MODULE_LOOP
async def test_domain_candles_oldest_first(replayed: tuple[BinanceMarket, ReplayApp]) -> None:
    market, _ = replayed
    body = cassette_entry_body(cassette_json(), "binance", "/fapi/v1/klines", symbol="BTCUSDT", interval="4h")
    candles = await market.candles(BTC, Timeframe.H4, limit=200)
    assert len(candles) == 200
    times = [c.open_time for c in candles]
    assert all(a < b for a, b in itertools.pairwise(times))
    assert all((b - a) == Timeframe.H4.duration for a, b in itertools.pairwise(times))
    assert candles[-1].close == float(body[-1][4]) == 118072.7
    assert candles[0].open_time == utc_from_ms(body[0][0])
    assert candles[-1].open_time.tzinfo is UTC


@MODULE_LOOP
async def test_domain_funding(replayed: tuple[BinanceMarket, ReplayApp]) -> None:
    market, _ = replayed
    assert await market.funding_interval_hours(BTC) == 8.0
    history = await market.funding_history(BTC)
    body = cassette_entry_body(cassette_json(), "binance", "/fapi/v1/fundingRate", symbol="BTCUSDT")
    assert len(history) == len(body) == 30
    assert [h.rate for h in history] == [float(r["fundingRate"]) for r in body]
    assert all(h.interval_hours == 8.0 for h in history)
    assert [h.time for h in history] == sorted(h.time for h in history)
    assert history[0].rate == 0.00006889
    mark = await market.mark_price(BTC)
    assert mark.mark_price == 118072.7
    assert mark.last_funding_rate == 0.0001
    assert mark.next_funding_time == utc_from_ms(1752278400000)


@MODULE_LOOP
async def test_domain_open_interest_history(replayed: tuple[BinanceMarket, ReplayApp]) -> None:
    market, _ = replayed
    body = cassette_entry_body(
        cassette_json(), "binance", "/futures/data/openInterestHist", symbol="BTCUSDT", period="4h"
    )
    points = await market.open_interest_history(BTC, Timeframe.H4)
    assert len(points) == len(body) == 30
    assert [p.open_interest for p in points] == [float(r["sumOpenInterest"]) for r in body]
    assert [p.open_interest_usd for p in points] == [float(r["sumOpenInterestValue"]) for r in body]
    assert all(p.unit == "coin" for p in points)
    assert points[0].open_interest == 677798.92442952
    assert points[-1].time == utc_from_ms(1752249600000)


@MODULE_LOOP
async def test_domain_ratios_in_percent(replayed: tuple[BinanceMarket, ReplayApp]) -> None:
    market, _ = replayed
    cassette = cassette_json()
    global_ls = await market.global_long_short(BTC, Timeframe.H4)
    assert len(global_ls) == 30
    assert global_ls[0].long_pct == pytest.approx(37.79)
    assert global_ls[0].long_short_ratio == 0.61
    body = cassette_entry_body(
        cassette, "binance", "/futures/data/globalLongShortAccountRatio", symbol="BTCUSDT", period="4h"
    )
    assert [p.long_pct for p in global_ls] == pytest.approx([float(r["longAccount"]) * 100 for r in body])

    top = await market.top_trader_positions(BTC, Timeframe.H4)
    assert top[0].long_pct == pytest.approx(57.2)
    assert all(40.0 < p.long_pct < 80.0 for p in top)
    assert [p.time for p in top] == sorted(p.time for p in top)

    taker = await market.raw.taker_long_short_ratio("BTCUSDT", "4h")
    assert taker[0].buySellRatio == 1.1301
    accounts = await market.raw.top_long_short_account_ratio("BTCUSDT", "4h")
    assert accounts[0].longAccount == 0.4194


@MODULE_LOOP
async def test_domain_all_symbol_forms(replayed: tuple[BinanceMarket, ReplayApp]) -> None:
    market, replay = replayed
    tickers = await market.tickers()
    assert set(tickers) == {"BTCUSDT"}
    assert tickers["BTCUSDT"].last_price == 118072.7
    assert tickers["BTCUSDT"].price_change_pct == 4.262
    marks = await market.mark_prices()
    assert set(marks) == {"BTCUSDT"}
    assert marks["BTCUSDT"].mark_price == 118072.7
    single = await market.ticker(BTC)
    assert single == tickers["BTCUSDT"]
    oi = await market.raw.open_interest("BTCUSDT")
    assert oi.openInterest == 713975.448
    # the all-symbol and the single-symbol forms are different upstream calls (not one cached answer)
    assert replay.calls["binance GET /fapi/v1/ticker/24hr"] == 2
    assert replay.calls["binance GET /fapi/v1/premiumIndex"] == 1


@MODULE_LOOP
async def test_domain_symbols_from_cassette(replayed: tuple[BinanceMarket, ReplayApp]) -> None:
    market, _ = replayed
    symbols = await market.symbols()
    assert "BTCUSDT" in {s.symbol for s in symbols}
    assert all(s.onboard_date is None or s.onboard_date.tzinfo is UTC for s in symbols)


@MODULE_LOOP
async def test_domain_caches_within_ttl(replayed: tuple[BinanceMarket, ReplayApp]) -> None:
    market, replay = replayed
    first = await market.candles(BTC, Timeframe.H4)
    second = await market.candles(BTC, Timeframe.H4)
    assert first == second
    assert replay.calls["binance GET /fapi/v1/klines"] == 1


@MODULE_LOOP
async def test_domain_unknown_symbol_is_not_a_silent_empty_answer(replayed: tuple[BinanceMarket, ReplayApp]) -> None:
    # the replay server answers 404 for a symbol it has no entry for; the caller gets an error, not []
    market, _ = replayed
    with pytest.raises(InvalidRequest) as info:
        await market.candles(parse_symbol("DOGE"), Timeframe.H4)
    assert info.value.status == 404
    assert info.value.source == "binance.klines"


# --------------------------------------------------------------------------------------------------
# defect 1: a newest-first answer still comes out oldest-first


async def test_domain_sorts_a_newest_first_answer() -> None:
    rows = binance("fapi_v1_klines.json")
    funding = binance("fapi_v1_fundingRate.2026-09.json")
    errors = binance("error_-1121_invalid_symbol.json")

    async def klines(request: Request) -> Response:
        return Response(json.dumps(list(reversed(rows))), media_type="application/json")

    async def funding_rate(request: Request) -> Response:
        return Response(json.dumps(list(reversed(funding))), media_type="application/json")

    async def ticker(request: Request) -> Response:
        return Response(json.dumps(errors), status_code=400, media_type="application/json")

    app = Starlette(
        routes=[
            Route("/fapi/v1/klines", klines),
            Route("/fapi/v1/fundingRate", funding_rate),
            Route("/fapi/v1/ticker/24hr", ticker),
        ]
    )
    async with serve_in_background(app) as server:
        client = UpstreamClient()
        try:
            http = make_http("binance", client, server.base_url, error_hook=binance_error_hook)
            market = BinanceMarket(BinanceFuturesClient(http, CacheTtls()))
            candles = await market.candles(BTC, Timeframe.H1, limit=3)
            assert [c.open_time for c in candles] == [utc_from_ms(r[0]) for r in rows]
            assert candles[-1].close == 76914.9
            history = await market.funding_history(BTC)
            assert [h.rate for h in history] == [0.00003563, 0.00006188]
            assert all(h.interval_hours == 8.0 for h in history)
            with pytest.raises(InvalidSymbol) as info:
                await market.ticker(parse_symbol("NOTAREALSYM"))
            assert info.value.describe().startswith("binance.ticker24hr: ")
        finally:
            await client.aclose()


async def test_domain_premium_indexes_with_a_delivery_contract() -> None:
    """``mark_prices()`` over an all-symbol answer that includes a delivery contract."""
    perpetual = binance("fapi_v1_premiumIndex.json")
    delivery = {
        "symbol": "BTCUSDT_260925",
        "markPrice": "63350.20000000",
        "indexPrice": "63112.91239130",
        "estimatedSettlePrice": "63129.34966963",
        "lastFundingRate": "",
        "interestRate": "",
        "nextFundingTime": 0,
        "time": perpetual["time"],
    }

    async def premium(request: Request) -> Response:
        return Response(json.dumps([perpetual, delivery]), media_type="application/json")

    app = Starlette(routes=[Route("/fapi/v1/premiumIndex", premium)])
    async with serve_in_background(app) as server:
        client = UpstreamClient()
        try:
            http = make_http("binance", client, server.base_url, error_hook=binance_error_hook)
            marks = await BinanceMarket(BinanceFuturesClient(http, CacheTtls())).mark_prices()
        finally:
            await client.aclose()
    assert marks["BTCUSDT"].last_funding_rate == 0.00009145
    assert marks["BTCUSDT_260925"].mark_price == 63350.2
    assert marks["BTCUSDT_260925"].next_funding_time is None


def test_malformed_payload_is_not_retryable() -> None:
    # guard on the taxonomy the tests above rely on
    assert not issubclass(MalformedPayload, InvalidRequest)


async def test_converted_results_are_cached_under_the_raw_ttl() -> None:
    """With a cache, the domain layer converts a venue answer once per TTL, not once per request."""
    from providers.cache import MemoryCache

    info = BinanceExchangeInfo.model_validate(binance("fapi_v1_exchangeInfo.trimmed.json"))
    stub = _StubRaw(info)
    calls = 0
    original = stub.exchange_info

    async def counting() -> BinanceExchangeInfo:
        nonlocal calls
        calls += 1
        return await original()

    stub.exchange_info = counting  # type: ignore[method-assign]
    now = [0.0]
    market = BinanceMarket(cast("BinanceFuturesClient", stub), MemoryCache(clock=lambda: now[0]))
    first, second = await market.symbols(), await market.symbols()
    listed = await market.listed()
    assert first is second and calls == 1
    assert set(listed) == {s.symbol for s in first}
    now[0] += CacheTtls().exchange_info + 1
    assert await market.symbols() == first and calls == 2
