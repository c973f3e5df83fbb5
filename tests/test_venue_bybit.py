"""Bybit v5: parsers over every REST fixture in ``shared/fixtures/bybit`` (live captures and documentation
examples), the error hook over HTTP-200 envelopes and the 403 IP ban, the capability map, and the
provider driven end to end over real HTTP by a replay server of an in-memory cassette.

Expected values are read from the fixture text. The tickers docs example says ``category: inverse``; it
is parsed as it stands, and linear values come from the captured ``tickers.BTCUSDT`` WebSocket snapshot,
whose fields are the REST list item's. Order book and recent trades follow Bybit's documented responses.
"""

from __future__ import annotations

import copy
import itertools
from datetime import UTC
from typing import TYPE_CHECKING, Any

import pytest

from engine.market import CandleInterval, utc_from_ms
from providers.bybit.domain import (
    KLINE_INTERVALS,
    STAT_PERIODS,
    to_candles,
    to_funding,
    to_funding_history,
    to_long_short,
    to_open_interest,
    to_open_interest_history,
    to_order_book,
    to_ticker,
    to_trades,
)
from providers.bybit.raw import (
    IP_BAN_SECONDS,
    bybit_error_hook,
    parse_account_ratio,
    parse_funding_history,
    parse_klines,
    parse_open_interest_history,
    parse_order_book,
    parse_tickers,
    parse_trades,
)
from providers.bybit.venue import DEFAULT_BASE_URL, RATE_LIMIT_PER_SECOND, BybitProvider, build
from providers.cache import MemoryCache
from providers.config import CacheTtls
from providers.errors import InvalidRequest, InvalidSymbol, MalformedPayload, RateLimited, UpstreamUnavailable
from providers.http import ProviderHttp, RetryPolicy
from providers.replay import Cassette, ReplayApp, serve_in_background
from providers.symbols import parse_symbol
from providers.upstream_client import UpstreamClient
from providers.venue import Capability, CapabilityNotSupported, IntervalNotSupported, MarketProvider, ProviderDeps
from tests.providers_helpers import fixture_json

if TYPE_CHECKING:
    from collections.abc import Mapping

    from providers.http import ErrorHook

BTC = parse_symbol("BTC")


def bybit(name: str) -> Any:
    return fixture_json("bybit", name)


def linear_tickers(name: str = "ws_tickers_linear.json") -> dict[str, Any]:
    """A captured ``tickers.BTCUSDT`` snapshot inside the REST envelope of ``/v5/market/tickers``."""
    ws = bybit(name)
    return {
        "retCode": 0,
        "retMsg": "OK",
        "result": {"category": "linear", "list": [ws["data"]]},
        "retExtInfo": {},
        "time": ws["ts"],
    }


# Documented response shapes (https://bybit-exchange.github.io/docs/v5/market/orderbook, /recent-trade)
ORDERBOOK = {
    "retCode": 0,
    "retMsg": "OK",
    "result": {
        "s": "BTCUSDT",
        "a": [["65557.7", "16.606555"], ["65558.1", "0.004"]],
        "b": [["65485.47", "47.081829"], ["65485.4", "0.5"]],
        "ts": 1716863719031,
        "u": 230704,
        "seq": 1432604333,
        "cts": 1716863718905,
    },
    "retExtInfo": {},
    "time": 1716863719382,
}
RECENT_TRADES = {
    "retCode": 0,
    "retMsg": "OK",
    "result": {
        "category": "linear",
        "list": [
            {
                "execId": "20f43950-d8dd-5b31-9112-a178eb6023af",
                "symbol": "BTCUSDT",
                "price": "16578.50",
                "size": "0.001",
                "side": "Buy",
                "time": "1672304486865",
                "isBlockTrade": False,
            },
            {
                "execId": "1e2ee9c6-1e5d-5e0c-9e68-2f1c3a6ae2b1",
                "symbol": "BTCUSDT",
                "price": "16578.00",
                "size": "1.250",
                "side": "Sell",
                "time": "1672304486100",
                "isBlockTrade": False,
            },
        ],
    },
    "retExtInfo": {},
    "time": 1672304486868,
}


# --------------------------------------------------------------------------------------------------
# module surface


def test_module_constants() -> None:
    assert DEFAULT_BASE_URL == "https://api.bybit.com"
    assert 0 < RATE_LIMIT_PER_SECOND <= 120.0  # 600 requests / 5 s per IP
    assert IP_BAN_SECONDS >= 600


def test_capabilities_match_the_overridden_methods() -> None:
    for capability in Capability:
        overridden = getattr(BybitProvider, capability.value) is not getattr(MarketProvider, capability.value)
        assert overridden == (capability in BybitProvider.capabilities), capability
    assert Capability.LIQUIDATIONS not in BybitProvider.capabilities  # WebSocket only at Bybit
    assert Capability.SOCIAL not in BybitProvider.capabilities


def test_interval_tables() -> None:
    assert set(KLINE_INTERVALS) == set(CandleInterval)
    assert KLINE_INTERVALS[CandleInterval.H4] == "240"
    assert KLINE_INTERVALS[CandleInterval.D1] == "D"
    assert STAT_PERIODS[CandleInterval.M5] == "5min"
    assert STAT_PERIODS[CandleInterval.H4] == "4h"
    assert CandleInterval.H2 not in STAT_PERIODS


# --------------------------------------------------------------------------------------------------
# klines: newest-first on the wire, oldest-first out (REFERENCE §2 defect 1)


@pytest.mark.parametrize("name", ["v5_market_kline_linear.json", "v5_market_kline.docs.json"])
def test_klines_every_fixture(name: str) -> None:
    raw = bybit(name)
    rows = raw["result"]["list"]
    candles = to_candles(parse_klines(raw))
    assert len(candles) == len(rows)
    first, last_row = candles[0], rows[-1]
    assert first.open_time == utc_from_ms(last_row[0])
    assert (first.open, first.high, first.low, first.close) == tuple(float(v) for v in last_row[1:5])
    assert first.volume == float(last_row[5])
    assert first.quote_volume == float(last_row[6])
    assert candles[-1].open_time == utc_from_ms(rows[0][0])
    assert all(a.open_time < b.open_time for a, b in itertools.pairwise(candles))
    assert all(c.open_time.tzinfo is UTC for c in candles)


def test_klines_linear_exact_values() -> None:
    candles = to_candles(parse_klines(bybit("v5_market_kline_linear.json")))
    assert [c.open_time for c in candles] == [
        utc_from_ms(1694476800000),
        utc_from_ms(1694563200000),
        utc_from_ms(1694649600000),
    ]
    assert candles[0].close == 25828.3
    assert candles[0].volume == 56642.088  # coins (linear)
    assert candles[0].quote_volume == 1469420524.0455
    assert candles[-1].close == 26268.2
    # each close is the next bar's open: the order is time's order
    assert candles[0].close == candles[1].open and candles[1].close == candles[2].open


# --------------------------------------------------------------------------------------------------
# tickers: price, change in percent, funding, open interest


def test_ticker_docs_fixture_parsed_as_is() -> None:
    raw = bybit("v5_market_tickers_linear.docs.json")
    assert raw["result"]["category"] == "inverse"  # Bybit's own docs example
    ticker = to_ticker(parse_tickers(raw))
    assert ticker.symbol == "BTCUSDT"
    assert ticker.last_price == 16597.0
    assert ticker.price_change_pct == pytest.approx(0.8047)  # 0.008047 is a fraction
    assert ticker.price_change_pct == float("0.008047") * 100
    assert ticker.high == 30912.5
    assert ticker.low == 15700.0
    assert ticker.volume == 49337318.0
    assert ticker.quote_volume == 2352.94950046
    assert ticker.close_time == utc_from_ms(1672376496682)
    funding = to_funding(parse_tickers(raw), interval_hours=8.0)
    assert funding.rate == -0.001034
    assert funding.next_funding_time == utc_from_ms(1672387200000)
    assert funding.mark_price == 16596.0


def test_ticker_linear_values() -> None:
    raw = linear_tickers()
    ticker = to_ticker(parse_tickers(raw))
    assert ticker.last_price == 28550.7
    assert ticker.price_change_pct == pytest.approx(2.3333)
    assert ticker.volume == 151185.516  # coins
    assert ticker.quote_volume == 4273027716.4294  # USDT
    assert ticker.close_time == utc_from_ms(1680673821770)
    oi = to_open_interest(parse_tickers(raw))
    assert oi.coins == 52774.528
    assert oi.usd == 1506861070.82  # Bybit's openInterestValue
    assert oi.time == utc_from_ms(1680673821770)


def test_ticker_open_interest_usd_falls_back_to_coins_times_last_price() -> None:
    raw = linear_tickers()
    raw["result"]["list"][0]["openInterestValue"] = ""
    assert to_open_interest(parse_tickers(raw)).usd == pytest.approx(52774.528 * 28550.7)


def test_spot_ticker_docs_fixture() -> None:
    ticker = to_ticker(parse_tickers(bybit("v5_market_tickers_spot.docs.json")))
    assert ticker.price_change_pct == pytest.approx(0.68)
    assert ticker.last_price == 20533.13


def test_funding_interval_from_the_ticker_when_sent() -> None:
    with_interval = linear_tickers("ws_tickers_linear.docs.json")
    assert parse_tickers(with_interval).ticker.fundingIntervalHour == 8.0
    funding = to_funding(parse_tickers(with_interval), interval_hours=1.0)  # the ticker's own value wins
    assert funding.interval_hours == 8.0
    assert funding.rate == -0.000212
    assert funding.rate_8h_equivalent == -0.000212

    four_hours = copy.deepcopy(with_interval)
    four_hours["result"]["list"][0]["fundingIntervalHour"] = "4"
    funding = to_funding(parse_tickers(four_hours), interval_hours=8.0)
    assert funding.interval_hours == 4.0
    assert funding.rate_8h_equivalent == pytest.approx(2 * -0.000212)

    without = linear_tickers()  # the 2023 capture has no fundingIntervalHour
    assert parse_tickers(without).ticker.fundingIntervalHour is None
    assert to_funding(parse_tickers(without), interval_hours=2.0).interval_hours == 2.0


# --------------------------------------------------------------------------------------------------
# funding history, open interest history, account ratio


@pytest.mark.parametrize("name", ["v5_market_funding_history.json", "v5_market_funding_history.docs.json"])
def test_funding_history_every_fixture(name: str) -> None:
    raw = bybit(name)
    rows = raw["result"]["list"]
    history = to_funding_history(parse_funding_history(raw))
    assert [h.time for h in history] == [utc_from_ms(r["fundingRateTimestamp"]) for r in reversed(rows)]
    assert [h.rate for h in history] == [float(r["fundingRate"]) for r in reversed(rows)]
    assert all(h.interval_hours == 8.0 for h in history)


def test_funding_history_values() -> None:
    history = to_funding_history(parse_funding_history(bybit("v5_market_funding_history.json")))
    assert [h.rate for h in history] == [0.00015, 0.0001]  # fractions, oldest first
    assert history[0].time == utc_from_ms(1709856000000)
    assert history[0].percent_8h == pytest.approx(0.015)


def test_funding_history_interval_from_spacing() -> None:
    raw = copy.deepcopy(bybit("v5_market_funding_history.json"))
    rows = raw["result"]["list"]
    rows[1]["fundingRateTimestamp"] = str(int(rows[0]["fundingRateTimestamp"]) - 4 * 3_600_000)
    history = to_funding_history(parse_funding_history(raw))
    assert all(h.interval_hours == 4.0 for h in history)
    assert history[-1].rate_8h_equivalent == pytest.approx(0.0002)


def test_open_interest_history_docs_fixture() -> None:
    raw = bybit("v5_market_open_interest.docs.json")
    points = to_open_interest_history(parse_open_interest_history(raw))
    assert [p.time for p in points] == [utc_from_ms(1669571100000), utc_from_ms(1669571400000)]
    assert [p.open_interest for p in points] == [461134292.0, 461134384.0]
    assert all(p.unit == "coin" and p.open_interest_usd is None for p in points)


def test_account_ratio_docs_fixture_in_percent() -> None:
    (point,) = to_long_short(parse_account_ratio(bybit("v5_market_account_ratio.docs.json")))
    assert point.long_pct == pytest.approx(57.77)
    assert point.long_short_ratio == pytest.approx(0.5777 / 0.4223)
    assert point.time == utc_from_ms(1695772800000)


def test_account_ratio_rows_become_oldest_first() -> None:
    raw = copy.deepcopy(bybit("v5_market_account_ratio.docs.json"))
    newer = {"symbol": "BTCUSDT", "buyRatio": "0.61", "sellRatio": "0.39", "timestamp": "1695787200000"}
    raw["result"]["list"].insert(0, newer)
    points = to_long_short(parse_account_ratio(raw))
    assert [p.long_pct for p in points] == pytest.approx([57.77, 61.0])


# --------------------------------------------------------------------------------------------------
# order book, trades


def test_order_book() -> None:
    book = to_order_book(parse_order_book(ORDERBOOK))
    assert book.symbol == "BTCUSDT"
    assert book.bids[0] == (65485.47, 47.081829)
    assert book.asks == ((65557.7, 16.606555), (65558.1, 0.004))
    assert book.time == utc_from_ms(1716863719031)


def test_trades_oldest_first_with_taker_side() -> None:
    trades = to_trades(parse_trades(RECENT_TRADES))
    assert [t.time for t in trades] == [utc_from_ms(1672304486100), utc_from_ms(1672304486865)]
    assert [t.taker_side for t in trades] == ["SELL", "BUY"]
    assert trades[0].usd == pytest.approx(16578.0 * 1.25)
    assert trades[-1].price == 16578.5


# --------------------------------------------------------------------------------------------------
# the error hook


@pytest.mark.parametrize(
    ("code", "message", "kind"),
    [
        (10001, "params error: symbol invalid", InvalidSymbol),
        (10001, "Not supported symbols", InvalidSymbol),
        (10001, "params error: intervalTime invalid", InvalidRequest),
        (10006, "Too many visits!", RateLimited),
        (10018, "Exceeded the IP Rate Limit.", RateLimited),
        (10016, "Server Error.", UpstreamUnavailable),
    ],
)
def test_error_envelope_with_http_200(code: int, message: str, kind: type[Exception]) -> None:
    payload = {"retCode": code, "retMsg": message, "result": {}, "retExtInfo": {}, "time": 1672211918471}
    error = bybit_error_hook("bybit", "market.kline", 200, payload)
    assert type(error) is kind
    assert error is not None
    assert error.status == 200
    assert str(code) in error.message and message in error.message
    assert error.source == "bybit.market.kline"


def test_http_403_is_the_documented_ip_ban() -> None:
    error = bybit_error_hook("bybit", "market.tickers", 403, None)  # CloudFront answers HTML: no JSON
    assert isinstance(error, RateLimited)
    assert error.status == 403
    assert error.retry_after == IP_BAN_SECONDS


@pytest.mark.parametrize("status", [429, 451, 500, 503])
def test_error_hook_leaves_status_level_errors_to_the_http_layer(status: int) -> None:
    assert bybit_error_hook("bybit", "x", status, {"retCode": 10006, "retMsg": "Too many visits!"}) is None


def test_error_hook_rejects_a_non_numeric_code() -> None:
    assert isinstance(bybit_error_hook("bybit", "x", 200, {"retCode": "oops", "retMsg": ""}), MalformedPayload)


@pytest.mark.parametrize(
    "name",
    [
        "v5_market_account_ratio.docs.json",
        "v5_market_funding_history.docs.json",
        "v5_market_funding_history.json",
        "v5_market_kline.docs.json",
        "v5_market_kline_linear.json",
        "v5_market_open_interest.docs.json",
        "v5_market_tickers_linear.docs.json",
        "v5_market_tickers_spot.docs.json",
    ],
)
def test_error_hook_passes_every_rest_fixture(name: str) -> None:
    assert bybit_error_hook("bybit", "x", 200, bybit(name)) is None


# --------------------------------------------------------------------------------------------------
# the provider over real HTTP (replay server on 127.0.0.1)


def _entry(path: str, match: Mapping[str, str], body: Any, status: int = 200) -> dict[str, Any]:
    return {"provider": "bybit", "method": "GET", "path": path, "match": dict(match), "status": status, "body": body}


def _cassette() -> dict[str, Any]:
    linear = {"category": "linear", "symbol": "BTCUSDT"}
    return {
        "version": 1,
        "clock": 1694674505073,
        "http": [
            # the docs tickers answer has no fundingIntervalHour: the interval comes from funding history
            _entry("/v5/market/tickers", linear, bybit("v5_market_tickers_linear.docs.json")),
            _entry("/v5/market/kline", {**linear, "interval": "D"}, bybit("v5_market_kline_linear.json")),
            _entry("/v5/market/funding/history", linear, bybit("v5_market_funding_history.json")),
            _entry(
                "/v5/market/open-interest",
                {**linear, "intervalTime": "5min"},
                bybit("v5_market_open_interest.docs.json"),
            ),
            _entry("/v5/market/account-ratio", {**linear, "period": "4h"}, bybit("v5_market_account_ratio.docs.json")),
            _entry("/v5/market/orderbook", linear, ORDERBOOK),
            _entry("/v5/market/recent-trade", linear, RECENT_TRADES),
            _entry(
                "/v5/market/tickers",
                {"symbol": "NOPEUSDT"},
                {"retCode": 10001, "retMsg": "params error: symbol invalid", "result": {}, "time": 1694674505073},
            ),
            _entry("/v5/market/tickers", {"symbol": "BANNEDUSDT"}, None, status=403),
        ],
    }


def _deps(server_url: str, client: UpstreamClient) -> ProviderDeps:
    def http_factory(
        provider: str, base_url: str, error_hook: ErrorHook | None, headers: Mapping[str, str] | None
    ) -> ProviderHttp:
        return ProviderHttp(
            provider,
            client,
            base_url,
            cache=MemoryCache(),
            timeout_seconds=2,
            retry=RetryPolicy(attempts=2, max_wait_seconds=0.1),
            headers=headers,
            error_hook=error_hook,
        )

    return ProviderDeps(
        base_urls={"bybit": f"{server_url}/bybit"},
        keys={},
        ttls=CacheTtls(),
        cache=MemoryCache(),
        http_factory=http_factory,
    )


async def test_provider_end_to_end_over_http() -> None:
    replay = ReplayApp(Cassette.model_validate(_cassette()))
    async with serve_in_background(replay.app) as server:
        client = UpstreamClient()
        try:
            provider = build(_deps(server.base_url, client))
            assert provider.name == "bybit"
            assert isinstance(provider, BybitProvider)

            ticker = await provider.ticker(BTC)
            assert ticker.last_price == 16597.0
            assert ticker.price_change_pct == pytest.approx(0.8047)

            funding = await provider.funding(BTC)
            assert funding.rate == -0.001034
            assert funding.interval_hours == 8.0  # from the spacing of the funding history
            assert replay.calls["bybit GET /v5/market/funding/history"] == 1

            oi = await provider.open_interest(BTC)
            assert (oi.coins, oi.usd) == (373504107.0, 22505.67)
            # ticker, funding and open interest share one cached tickers answer
            assert replay.calls["bybit GET /v5/market/tickers"] == 1

            candles = await provider.candles(BTC, CandleInterval.D1, 3)
            assert [c.close for c in candles] == [25828.3, 26210.0, 26268.2]
            assert candles[0].open_time == utc_from_ms(1694476800000)

            history = await provider.funding_history(BTC, 50)
            assert [h.rate for h in history] == [0.00015, 0.0001]

            oi_history = await provider.open_interest_history(BTC, CandleInterval.M5, 2)
            assert [p.open_interest for p in oi_history] == [461134292.0, 461134384.0]

            ratio = await provider.long_short_ratio(BTC, CandleInterval.H4, 10)
            assert [p.long_pct for p in ratio] == pytest.approx([57.77])

            book = await provider.order_book(BTC, 50)
            assert book.bids[0] == (65485.47, 47.081829)

            trades = await provider.trades(BTC, 100)
            assert [t.taker_side for t in trades] == ["SELL", "BUY"]

            with pytest.raises(InvalidSymbol) as bad_symbol:
                await provider.ticker(parse_symbol("NOPE"))
            assert bad_symbol.value.status == 200
            assert bad_symbol.value.source == "bybit.market.tickers"

            with pytest.raises(RateLimited) as banned:
                await provider.funding(parse_symbol("BANNED"))
            assert banned.value.status == 403
            assert banned.value.retry_after == IP_BAN_SECONDS
            # NOPE once + BANNED once: a 10-minute ban is not retried, the caller fails over
            assert replay.calls["bybit GET /v5/market/tickers"] == 3

            with pytest.raises(CapabilityNotSupported) as unsupported:
                await provider.liquidations(BTC, 10)
            assert unsupported.value.capability is Capability.LIQUIDATIONS
            with pytest.raises(IntervalNotSupported) as bad_interval:
                await provider.open_interest_history(BTC, CandleInterval.H2, 10)
            assert "2h" in bad_interval.value.message
            with pytest.raises(IntervalNotSupported):
                await provider.long_short_ratio(BTC, CandleInterval.M1, 10)
        finally:
            await client.aclose()
    assert replay.calls["bybit GET /v5/market/open-interest"] == 1
    assert replay.calls["bybit GET /v5/market/account-ratio"] == 1


async def test_malformed_tickers_answer_is_typed() -> None:
    empty = {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": []}, "time": 1}
    cassette = {"version": 1, "clock": 0, "http": [_entry("/v5/market/tickers", {"symbol": "BTCUSDT"}, empty)]}
    replay = ReplayApp(Cassette.model_validate(cassette))
    async with serve_in_background(replay.app) as server:
        client = UpstreamClient()
        try:
            provider = build(_deps(server.base_url, client))
            with pytest.raises(MalformedPayload):
                await provider.open_interest(BTC)
        finally:
            await client.aclose()
