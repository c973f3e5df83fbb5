"""OKX v5: parsers over every REST fixture in ``shared/fixtures/okx`` (live captures and documentation
examples), the error hook over HTTP-200 error envelopes, the capability map, and the provider driven
end to end over real HTTP by a replay server of an in-memory cassette.

Expected values are read from the fixture text (``float(text)``), so a unit slip (contracts taken as
coins, percent as a fraction) or a newest-first series left unreversed fails here. Payloads for the
endpoints without a fixture (instruments, liquidation-orders, books, OI history) follow the field names
and shapes of OKX's documented responses; the liquidation details copy the real WebSocket capture.
"""

from __future__ import annotations

import copy
import itertools
from datetime import UTC
from typing import TYPE_CHECKING, Any

import pytest

from engine.market import CandleInterval, FundingRate, PositionSide, utc_from_ms
from providers.cache import MemoryCache
from providers.config import CacheTtls
from providers.errors import InvalidRequest, InvalidSymbol, MalformedPayload, RateLimited, UpstreamUnavailable
from providers.http import ProviderHttp, RetryPolicy
from providers.okx.domain import (
    CANDLE_BARS,
    STAT_PERIODS,
    canonical_symbol,
    contract_value,
    contract_values,
    liquidated_side,
    to_candles,
    to_funding,
    to_funding_history,
    to_liquidations,
    to_long_short,
    to_open_interest,
    to_open_interest_history,
    to_order_book,
    to_ticker,
    to_trades,
)
from providers.okx.raw import (
    okx_error_hook,
    parse_candles,
    parse_funding,
    parse_funding_history,
    parse_instruments,
    parse_liquidations,
    parse_long_short,
    parse_mark_price,
    parse_open_interest,
    parse_open_interest_history,
    parse_order_book,
    parse_ticker,
    parse_trades,
)
from providers.okx.venue import DEFAULT_BASE_URL, RATE_LIMIT_PER_SECOND, OkxProvider, build
from providers.replay import Cassette, ReplayApp, serve_in_background
from providers.symbols import parse_symbol
from providers.upstream_client import UpstreamClient
from providers.venue import Capability, CapabilityNotSupported, IntervalNotSupported, MarketProvider, ProviderDeps
from tests.providers_helpers import fixture_json

if TYPE_CHECKING:
    from collections.abc import Mapping

    from providers.http import ErrorHook

BTC = parse_symbol("BTC")
INST = "BTC-USDT-SWAP"


def okx(name: str) -> Any:
    return fixture_json("okx", name)


def rest(data: list[Any]) -> dict[str, Any]:
    """The documented REST envelope around ``data``."""
    return {"code": "0", "msg": "", "data": data}


# Documented response shapes (https://www.okx.com/docs-v5/en/) for endpoints without a fixture.
INSTRUMENTS = rest(
    [
        {
            "alias": "",
            "baseCcy": "",
            "category": "1",
            "ctMult": "1",
            "ctType": "linear",
            "ctVal": "0.01",
            "ctValCcy": "BTC",
            "expTime": "",
            "instFamily": "BTC-USDT",
            "instId": "BTC-USDT-SWAP",
            "instType": "SWAP",
            "lever": "100",
            "listTime": "1611916828000",
            "lotSz": "0.01",
            "minSz": "0.01",
            "optType": "",
            "quoteCcy": "",
            "settleCcy": "USDT",
            "state": "live",
            "stk": "",
            "tickSz": "0.1",
            "uly": "BTC-USDT",
        }
    ]
)
LIQUIDATION_ORDERS = rest(
    [
        {
            "details": [
                # newest first, as OKX answers
                {
                    "bkLoss": "0",
                    "bkPx": "84120.5",
                    "ccy": "",
                    "posSide": "net",
                    "side": "buy",
                    "sz": "7",
                    "ts": "1744590349000",
                },
                {
                    "bkLoss": "0",
                    "bkPx": "84010.1",
                    "ccy": "",
                    "posSide": "net",
                    "side": "sell",
                    "sz": "3",
                    "ts": "1744590300000",
                },
                {
                    "bkLoss": "0",
                    "bkPx": "84330.2",
                    "ccy": "",
                    "posSide": "short",
                    "side": "buy",
                    "sz": "125",
                    "ts": "1744590200000",
                },
                {
                    "bkLoss": "0",
                    "bkPx": "83990.4",
                    "ccy": "",
                    "posSide": "long",
                    "side": "sell",
                    "sz": "39",
                    "ts": "1744590100000",
                },
            ],
            "instFamily": "BTC-USDT",
            "instId": "BTC-USDT-SWAP",
            "instType": "SWAP",
            "totalLoss": "0",
            "uly": "BTC-USDT",
        }
    ]
)
OI_HISTORY = rest(
    [
        ["1744588800000", "2921360.54", "29213.6054", "2473340102.37"],
        ["1744574400000", "2913850.07", "29138.5007", "2450110958.54"],
        ["1744560000000", "2900112.33", "29001.1233", "2431785442.81"],
    ]
)
BOOKS = rest(
    [
        {
            "asks": [["84660.2", "212", "0", "7"], ["84660.5", "3", "0", "1"]],
            "bids": [["84660.1", "481", "0", "12"], ["84659.8", "25", "0", "2"]],
            "ts": "1744590349506",
        }
    ]
)
SWAP_TRADES = rest(
    [
        {
            "instId": "BTC-USDT-SWAP",
            "side": "sell",
            "sz": "12",
            "px": "84660.1",
            "tradeId": "1301",
            "ts": "1744590349506",
        },
        {
            "instId": "BTC-USDT-SWAP",
            "side": "buy",
            "sz": "250",
            "px": "84660.2",
            "tradeId": "1300",
            "ts": "1744590349100",
        },
    ]
)


# --------------------------------------------------------------------------------------------------
# module surface


def test_module_constants() -> None:
    assert DEFAULT_BASE_URL == "https://www.okx.com"
    # 20 requests / 2 s per market-data endpoint: the provider budget stays under 10/s
    assert 0 < RATE_LIMIT_PER_SECOND <= 10.0


def test_capabilities_match_the_overridden_methods() -> None:
    for capability in Capability:
        overridden = getattr(OkxProvider, capability.value) is not getattr(MarketProvider, capability.value)
        assert overridden == (capability in OkxProvider.capabilities), capability
    assert Capability.SOCIAL not in OkxProvider.capabilities
    assert Capability.LIQUIDATIONS in OkxProvider.capabilities


def test_canonical_symbol() -> None:
    assert canonical_symbol("BTC-USDT-SWAP") == "BTCUSDT" == BTC.canonical
    assert canonical_symbol(BTC.for_provider("okx")) == BTC.canonical


def test_interval_tables_use_utc_bars_for_six_hours_and_longer() -> None:
    assert CANDLE_BARS[CandleInterval.H4] == "4H"
    assert CANDLE_BARS[CandleInterval.H6] == "6Hutc"
    assert CANDLE_BARS[CandleInterval.D1] == "1Dutc"
    assert CANDLE_BARS[CandleInterval.W1] == "1Wutc"
    assert set(CANDLE_BARS) == set(CandleInterval)
    assert CandleInterval.M1 not in STAT_PERIODS and CandleInterval.M3 not in STAT_PERIODS
    assert STAT_PERIODS[CandleInterval.M5] == "5m"


# --------------------------------------------------------------------------------------------------
# candles: newest-first on the wire, oldest-first out (REFERENCE §2 defect 1)


@pytest.mark.parametrize(
    ("name", "newest_first"),
    [
        ("api_v5_market_candles.json", True),
        ("api_v5_market_candles.docs.json", True),  # both rows share one timestamp in the docs example
        ("api_v5_market_candles.alt.json", False),  # an older sample that is already oldest-first
    ],
)
def test_candles_every_fixture(name: str, newest_first: bool) -> None:
    raw = okx(name)
    rows = raw["data"]
    candles = to_candles(parse_candles(raw))
    assert len(candles) == len(rows)
    oldest_row = rows[-1] if newest_first else rows[0]
    newest_row = rows[0] if newest_first else rows[-1]
    first = candles[0]
    assert first.open_time == utc_from_ms(oldest_row[0])
    assert (first.open, first.high, first.low, first.close) == tuple(float(v) for v in oldest_row[1:5])
    assert first.volume == float(oldest_row[6])  # volCcy: coins, not contracts (index 5)
    assert first.quote_volume == float(oldest_row[7])
    assert candles[-1].close == float(newest_row[4])
    assert [c.open_time for c in candles] == sorted(c.open_time for c in candles)
    assert all(c.open_time.tzinfo is UTC for c in candles)


def test_candles_live_capture_is_oldest_first_with_exact_values() -> None:
    candles = to_candles(parse_candles(okx("api_v5_market_candles.json")))
    times = [c.open_time for c in candles]
    assert all(a < b for a, b in itertools.pairwise(times))
    assert candles[0].open_time == utc_from_ms(1747093980000)
    assert candles[0].close == 102806.1
    assert candles[0].volume == 71.6404  # not 7164.04 contracts
    assert candles[0].quote_volume == 7364701.57952
    assert candles[-1].open_time == utc_from_ms(1747094040000)
    assert candles[-1].close == 102820.4


def test_candles_already_oldest_first_stay_oldest_first() -> None:
    raw = okx("api_v5_market_candles.json")
    flipped = rest(list(reversed(raw["data"])))
    assert to_candles(parse_candles(flipped)) == to_candles(parse_candles(raw))


# --------------------------------------------------------------------------------------------------
# ticker, funding, open interest, mark price, instruments


def test_ticker_from_the_ticker_fields() -> None:
    # the WebSocket tickers push carries the same fields as GET /api/v5/market/ticker
    raw = okx("ws_tickers.json")
    row = raw["data"][0]
    ticker = to_ticker(parse_ticker(rest(raw["data"])))
    assert ticker.symbol == "UNIUSD"
    assert ticker.last_price == float(row["last"]) == 5.123
    assert ticker.high == 5.458
    assert ticker.low == 4.537
    assert ticker.price_change_pct == pytest.approx((5.123 - 4.799) / 4.799 * 100)
    assert ticker.price_change_pct == pytest.approx(6.7514, abs=1e-4)
    assert ticker.volume == float(row["volCcy24h"]) == 577730.7823  # coins, not vol24h contracts
    assert ticker.quote_volume == pytest.approx(577730.7823 * 5.123)
    assert ticker.close_time == utc_from_ms(1652459223143)
    assert ticker.close_time.tzinfo is UTC


def test_funding_docs_fixture() -> None:
    raw = okx("api_v5_public_funding_rate.docs.json")
    funding = to_funding(parse_funding(raw))
    assert funding.symbol == "BTCUSDT"
    assert funding.rate == float("0.0000792386885340")  # a fraction per interval, never percent
    assert funding.interval_hours == 8.0  # 1703116800000 - 1703088000000
    assert funding.rate_8h_equivalent == funding.rate
    assert funding.percent_8h == pytest.approx(0.00792386885340)
    assert funding.time == utc_from_ms(1703070685309)
    assert funding.next_funding_time == utc_from_ms(1703088000000)


def test_funding_interval_from_the_settlement_times() -> None:
    raw = copy.deepcopy(okx("api_v5_public_funding_rate.docs.json"))
    raw["data"][0]["nextFundingTime"] = str(int(raw["data"][0]["fundingTime"]) + 4 * 3_600_000)
    funding = to_funding(parse_funding(raw))
    assert funding.interval_hours == 4.0
    assert funding.rate_8h_equivalent == pytest.approx(2 * 0.0000792386885340)


def test_funding_without_next_time_assumes_eight_hours() -> None:
    raw = okx("ws_funding_rate.json")  # same keys as REST, but no nextFundingTime / ts
    funding = to_funding(parse_funding(rest(raw["data"])))
    assert funding.rate == 0.00048105
    assert funding.interval_hours == 8.0
    assert funding.time == utc_from_ms(1640131200000)


def test_funding_history_oldest_first_with_realized_rates() -> None:
    raw = okx("api_v5_public_funding_rate_history.json")
    history = to_funding_history(parse_funding_history(raw))
    assert [h.time for h in history] == [utc_from_ms(1704038400000), utc_from_ms(1704067200000)]
    assert history[0].time == utc_from_ms(raw["data"][-1]["fundingTime"])
    assert [h.rate for h in history] == [-0.00002, 0.00015]  # realizedRate, not the predicted fundingRate
    assert all(h.interval_hours == 8.0 for h in history)
    assert all(h.symbol == "BTCUSDT" for h in history)


def test_funding_history_falls_back_to_funding_rate_and_infers_the_interval() -> None:
    raw = copy.deepcopy(okx("api_v5_public_funding_rate_history.json"))
    for row in raw["data"]:
        row["realizedRate"] = ""
    raw["data"][1]["fundingTime"] = str(int(raw["data"][0]["fundingTime"]) - 3_600_000)
    history = to_funding_history(parse_funding_history(raw))
    assert [h.rate for h in history] == [-0.0000236017, 0.0001515032]
    assert all(h.interval_hours == 1.0 for h in history)
    assert history[-1].rate_8h_equivalent == pytest.approx(8 * 0.0001515032)


def test_open_interest_docs_fixture_in_coins() -> None:
    oi = to_open_interest(parse_open_interest(okx("api_v5_public_open_interest.docs.json")))
    assert oi.coins == 555.55  # oiCcy, not the 5000 contracts
    assert oi.usd is None  # this answer has no oiUsd
    assert oi.time == utc_from_ms(1597026383085)
    with_usd = copy.deepcopy(okx("api_v5_public_open_interest.docs.json"))
    with_usd["data"][0]["oiUsd"] = "50000000"
    assert to_open_interest(parse_open_interest(with_usd)).usd == 50000000.0


def test_mark_price_fixture() -> None:
    assert parse_mark_price(okx("api_v5_public_mark_price.json")) == 84660.1


def test_contract_value() -> None:
    assert contract_value(parse_instruments(INSTRUMENTS)) == 0.01
    inverse = copy.deepcopy(INSTRUMENTS)
    inverse["data"][0].update(instId="BTC-USD-SWAP", ctType="inverse", ctVal="100", ctValCcy="USD")
    with pytest.raises(ValueError, match="inverse"):
        contract_value(parse_instruments(inverse))
    with pytest.raises(ValueError, match="empty"):
        contract_value(parse_instruments(rest([])))


# --------------------------------------------------------------------------------------------------
# liquidations: contracts × ctVal, liquidated position side (REFERENCE §2 defect 9)


def test_liquidations_from_the_captured_details() -> None:
    raw = okx("ws_liquidation_orders.json")
    item = {**raw["data"][0], "totalLoss": "0"}  # REST adds totalLoss to the pushed item
    detail = item["details"][0]
    (liquidation,) = to_liquidations(parse_liquidations(rest([item])), ctval=0.01)
    assert liquidation.size == pytest.approx(float(detail["sz"]) * 0.01) == pytest.approx(0.39)
    assert liquidation.price == 0.55205
    assert liquidation.side is PositionSide.SHORT  # posSide short (closed by a buy)
    assert liquidation.time == utc_from_ms(1680173247614)
    assert liquidation.venue == "okx"


def test_liquidations_sizes_sides_and_order() -> None:
    liquidations = to_liquidations(parse_liquidations(LIQUIDATION_ORDERS), ctval=0.01, only_inst_id=INST)
    details = LIQUIDATION_ORDERS["data"][0]["details"]
    assert [liq.time for liq in liquidations] == [utc_from_ms(d["ts"]) for d in reversed(details)]
    assert [liq.side for liq in liquidations] == [
        PositionSide.LONG,  # posSide long
        PositionSide.SHORT,  # posSide short
        PositionSide.LONG,  # net mode, sell order
        PositionSide.SHORT,  # net mode, buy order
    ]
    assert [liq.size for liq in liquidations] == pytest.approx([0.39, 1.25, 0.03, 0.07])
    assert liquidations[1].usd == pytest.approx(84330.2 * 1.25)
    assert all(liq.symbol == "BTCUSDT" for liq in liquidations)


@pytest.mark.parametrize(
    ("detail", "side"),
    [
        ({"posSide": "long", "side": "sell"}, PositionSide.LONG),
        ({"posSide": "short", "side": "buy"}, PositionSide.SHORT),
        ({"posSide": "net", "side": "sell"}, PositionSide.LONG),
        ({"posSide": "net", "side": "buy"}, PositionSide.SHORT),
        ({"posSide": "", "side": "sell"}, PositionSide.LONG),
        ({"side": "buy"}, PositionSide.SHORT),
    ],
)
def test_liquidated_side_both_directions(detail: dict[str, str], side: PositionSide) -> None:
    assert liquidated_side(detail.get("posSide", ""), detail.get("side", "")) is side


def test_liquidated_side_unknown_is_rejected() -> None:
    with pytest.raises(ValueError):
        liquidated_side("net", "")


def test_liquidations_keep_only_the_instrument() -> None:
    other = copy.deepcopy(LIQUIDATION_ORDERS["data"][0])
    other["instId"] = "BTC-USDT-250926"
    payload = rest([LIQUIDATION_ORDERS["data"][0], other])
    assert len(to_liquidations(parse_liquidations(payload), 0.01)) == 8
    assert len(to_liquidations(parse_liquidations(payload), 0.01, only_inst_id=INST)) == 4


# --------------------------------------------------------------------------------------------------
# trading statistics, books, trades


def test_long_short_ratio_docs_fixture_in_percent() -> None:
    (point,) = to_long_short(parse_long_short(okx("api_v5_rubik_long_short_ratio.docs.json")))
    assert point.long_short_ratio == 1.25
    assert point.long_pct == pytest.approx(1.25 / 2.25 * 100)  # 55.56 % of accounts long
    assert point.time == utc_from_ms(1630502100000)


def test_long_short_ratio_rows_become_oldest_first() -> None:
    rows = [["1630502400000", "0.8"], ["1630502100000", "1.25"]]
    points = to_long_short(parse_long_short(rest(rows)))
    assert [p.time for p in points] == [utc_from_ms(1630502100000), utc_from_ms(1630502400000)]
    assert points[1].long_pct == pytest.approx(0.8 / 1.8 * 100)


def test_open_interest_history_in_coins_oldest_first() -> None:
    points = to_open_interest_history(parse_open_interest_history(OI_HISTORY))
    assert [p.time for p in points] == [utc_from_ms(r[0]) for r in reversed(OI_HISTORY["data"])]
    assert points[0].open_interest == 29001.1233  # oiCcy, not contracts
    assert points[0].open_interest_usd == 2431785442.81
    assert all(p.unit == "coin" for p in points)


def test_order_book_sizes_in_coins() -> None:
    book = to_order_book(parse_order_book(BOOKS), 0.01, "BTCUSDT")
    assert [p for p, _ in book.bids] == [84660.1, 84659.8]
    assert [q for _, q in book.bids] == pytest.approx([4.81, 0.25])  # 481 and 25 contracts × 0.01
    assert book.asks[0][0] == 84660.2
    assert book.asks[0][1] == pytest.approx(2.12)
    assert book.bids[0][0] < book.asks[0][0]
    assert book.time == utc_from_ms(1744590349506)


def test_trades_fixture_oldest_first() -> None:
    raw = okx("api_v5_market_trades.json")  # spot BTC-USDT: sizes already coins
    trades = to_trades(parse_trades(raw), ctval=1.0)
    assert [t.time for t in trades] == [utc_from_ms(1747087161666), utc_from_ms(1747087163557)]
    assert trades[0].taker_side == "BUY"
    assert trades[0].size == 0.0000125
    assert trades[-1].taker_side == "SELL"
    assert trades[-1].price == 102537.9


def test_swap_trades_in_coins() -> None:
    trades = to_trades(parse_trades(SWAP_TRADES), ctval=0.01)
    assert [t.size for t in trades] == pytest.approx([2.5, 0.12])
    assert trades[0].usd == pytest.approx(84660.2 * 2.5)


# --------------------------------------------------------------------------------------------------
# the error hook: HTTP 200 envelopes


@pytest.mark.parametrize(
    ("code", "message", "kind"),
    [
        ("51001", "Instrument ID does not exist", InvalidSymbol),
        ("50011", "Too Many Requests", RateLimited),
        ("50001", "Service temporarily unavailable, please try again later", UpstreamUnavailable),
        ("50004", "Endpoint request timeout", UpstreamUnavailable),
        ("50013", "Systems are busy. Please try again later.", UpstreamUnavailable),
        ("51000", "Parameter bar error", InvalidRequest),
    ],
)
def test_error_envelope_with_http_200(code: str, message: str, kind: type[Exception]) -> None:
    error = okx_error_hook("okx", "market.candles", 200, {"code": code, "msg": message, "data": []})
    assert type(error) is kind
    assert error is not None
    assert error.status == 200
    assert code in error.message and message in error.message
    assert error.source == "okx.market.candles"


@pytest.mark.parametrize("status", [429, 451, 500, 503])
def test_error_hook_leaves_status_level_errors_to_the_http_layer(status: int) -> None:
    assert okx_error_hook("okx", "x", status, {"code": "50011", "msg": "Too Many Requests", "data": []}) is None


@pytest.mark.parametrize(
    "name",
    [
        "api_v5_market_candles.json",
        "api_v5_market_index_tickers.json",
        "api_v5_market_trades.json",
        "api_v5_public_funding_rate.docs.json",
        "api_v5_public_funding_rate_history.json",
        "api_v5_public_mark_price.json",
        "api_v5_public_open_interest.docs.json",
        "api_v5_rubik_long_short_ratio.docs.json",
        "api_v5_rubik_taker_volume.docs.json",
    ],
)
def test_error_hook_passes_every_rest_fixture(name: str) -> None:
    assert okx_error_hook("okx", "x", 200, okx(name)) is None


# --------------------------------------------------------------------------------------------------
# the provider over real HTTP (replay server on 127.0.0.1)


def _entry(path: str, match: Mapping[str, str], body: Any, status: int = 200) -> dict[str, Any]:
    return {"provider": "okx", "method": "GET", "path": path, "match": dict(match), "status": status, "body": body}


def _cassette() -> dict[str, Any]:
    ws_ticker = okx("ws_tickers.json")["data"][0]
    ticker = {**ws_ticker, "instId": INST}  # the captured field set, on our instrument
    return {
        "version": 1,
        "clock": 1747094099999,
        "http": [
            _entry("/api/v5/market/candles", {"instId": INST, "bar": "1m"}, okx("api_v5_market_candles.json")),
            _entry("/api/v5/market/ticker", {"instId": INST}, rest([ticker])),
            _entry("/api/v5/public/funding-rate", {"instId": INST}, okx("api_v5_public_funding_rate.docs.json")),
            _entry(
                "/api/v5/public/funding-rate-history", {"instId": INST}, okx("api_v5_public_funding_rate_history.json")
            ),
            _entry(
                "/api/v5/public/open-interest",
                {"instType": "SWAP", "instId": INST},
                okx("api_v5_public_open_interest.docs.json"),
            ),
            _entry("/api/v5/public/mark-price", {"instId": INST}, okx("api_v5_public_mark_price.json")),
            _entry("/api/v5/public/instruments", {"instType": "SWAP", "instId": INST}, INSTRUMENTS),
            _entry(
                "/api/v5/public/liquidation-orders",
                {"instType": "SWAP", "uly": "BTC-USDT", "state": "filled"},
                LIQUIDATION_ORDERS,
            ),
            _entry("/api/v5/rubik/stat/contracts/open-interest-history", {"instId": INST, "period": "4H"}, OI_HISTORY),
            _entry(
                "/api/v5/rubik/stat/contracts/long-short-account-ratio-contract",
                {"instId": INST, "period": "4H"},
                okx("api_v5_rubik_long_short_ratio.docs.json"),
            ),
            _entry("/api/v5/market/books", {"instId": INST}, BOOKS),
            _entry("/api/v5/market/trades", {"instId": INST}, SWAP_TRADES),
            _entry(
                "/api/v5/market/ticker",
                {"instId": "NOPE-USDT-SWAP"},
                {"code": "51001", "msg": "Instrument ID does not exist", "data": []},
            ),
            _entry(
                "/api/v5/market/ticker",
                {"instId": "BUSY-USDT-SWAP"},
                {"code": "50011", "msg": "Too Many Requests", "data": []},
            ),
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
        base_urls={"okx": f"{server_url}/okx"},
        keys={},
        ttls=CacheTtls(),
        cache=MemoryCache(),
        http_factory=http_factory,
    )


async def test_provider_end_to_end_over_http() -> None:
    cassette = _cassette()
    replay = ReplayApp(Cassette.model_validate(cassette))
    async with serve_in_background(replay.app) as server:
        client = UpstreamClient()
        try:
            provider = build(_deps(server.base_url, client))
            assert provider.name == "okx"
            assert isinstance(provider, OkxProvider)

            candles = await provider.candles(BTC, CandleInterval.M1, 100)
            assert candles == to_candles(parse_candles(okx("api_v5_market_candles.json")))
            assert candles[0].open_time < candles[-1].open_time

            ticker = await provider.ticker(BTC)
            assert ticker.symbol == "BTCUSDT"
            assert ticker.last_price == 5.123

            funding = await provider.funding(BTC)
            assert isinstance(funding, FundingRate)
            assert funding.rate == 0.0000792386885340 and funding.interval_hours == 8.0

            history = await provider.funding_history(BTC, 30)
            assert [h.rate for h in history] == [-0.00002, 0.00015]

            oi = await provider.open_interest(BTC)
            assert oi.coins == 555.55
            assert oi.usd == pytest.approx(555.55 * 84660.1)  # no oiUsd: coins × mark price

            oi_history = await provider.open_interest_history(BTC, CandleInterval.H4, 30)
            assert [p.open_interest for p in oi_history] == [29001.1233, 29138.5007, 29213.6054]

            ratio = await provider.long_short_ratio(BTC, CandleInterval.H4, 30)
            assert [p.long_pct for p in ratio] == pytest.approx([1.25 / 2.25 * 100])

            liquidations = await provider.liquidations(BTC, 3)
            assert [liq.size for liq in liquidations] == pytest.approx([1.25, 0.03, 0.07])  # the newest three
            assert [liq.side for liq in liquidations] == [PositionSide.SHORT, PositionSide.LONG, PositionSide.SHORT]

            book = await provider.order_book(BTC, 50)
            assert book.symbol == "BTCUSDT"
            assert book.asks[0][1] == pytest.approx(2.12)

            trades = await provider.trades(BTC, 100)
            assert [t.size for t in trades] == pytest.approx([2.5, 0.12])

            # ctVal is fetched once and cached (exchange_info TTL) for liquidations, books and trades
            assert replay.calls["okx GET /api/v5/public/instruments"] == 1
            assert replay.calls["okx GET /api/v5/public/mark-price"] == 1

            with pytest.raises(InvalidSymbol) as bad_symbol:
                await provider.ticker(parse_symbol("NOPE"))
            assert bad_symbol.value.status == 200
            assert bad_symbol.value.source == "okx.market.ticker"
            with pytest.raises(RateLimited):
                await provider.ticker(parse_symbol("BUSY"))
            assert replay.calls["okx GET /api/v5/market/ticker"] == 1 + 1 + 2  # the rate limit is retried once

            with pytest.raises(CapabilityNotSupported) as unsupported:
                await provider.social(BTC)
            assert unsupported.value.capability is Capability.SOCIAL
            with pytest.raises(IntervalNotSupported) as bad_interval:
                await provider.long_short_ratio(BTC, CandleInterval.M1, 30)
            assert "1m" in bad_interval.value.message and "4h" in bad_interval.value.message
        finally:
            await client.aclose()
    # unsupported intervals never reached the venue
    assert replay.calls["okx GET /api/v5/rubik/stat/contracts/long-short-account-ratio-contract"] == 1


async def test_malformed_answer_is_typed() -> None:
    cassette = {
        "version": 1,
        "clock": 0,
        "http": [_entry("/api/v5/market/candles", {"instId": INST}, {"code": "0", "msg": "", "data": {"rows": []}})],
    }
    replay = ReplayApp(Cassette.model_validate(cassette))
    async with serve_in_background(replay.app) as server:
        client = UpstreamClient()
        try:
            provider = build(_deps(server.base_url, client))
            with pytest.raises(MalformedPayload):
                await provider.candles(BTC, CandleInterval.H4, 10)
        finally:
            await client.aclose()


def test_all_contract_values_keep_linear_swaps_only() -> None:
    payload = {
        "code": "0",
        "msg": "",
        "data": [
            {"instId": "BTC-USDT-SWAP", "ctType": "linear", "ctVal": "0.01", "ctValCcy": "BTC", "settleCcy": "USDT"},
            {"instId": "ETH-USDT-SWAP", "ctType": "linear", "ctVal": "0.1", "ctValCcy": "ETH", "settleCcy": "USDT"},
            {"instId": "BTC-USD-SWAP", "ctType": "inverse", "ctVal": "100", "ctValCcy": "USD", "settleCcy": "BTC"},
        ],
    }
    assert contract_values(parse_instruments(payload)) == {"BTC-USDT-SWAP": 0.01, "ETH-USDT-SWAP": 0.1}
