"""CoinGlass v4: the added endpoint parsers over every shared fixture (live captures and docs examples),
the funding units (percent → fraction exactly once), ordering, the ``MarketProvider`` adapter and
``build``, and the adapter end to end over real HTTP against an in-memory replay cassette.

Expected values are copied from the fixture text; inline payloads reuse the documented field names.
"""

from __future__ import annotations

import copy
import functools
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from engine.market import CandleInterval, FundingRate, LiquidationTotals, utc_from_ms
from providers.cache import MemoryCache
from providers.coinglass import domain as coinglass
from providers.coinglass.domain import (
    CoinGlassClient,
    fear_greed_classification,
    oldest_first,
    to_coin_funding,
    to_exchange_liquidations,
    to_fear_greed,
    to_funding,
    to_liquidation_bar,
    to_long_short,
    to_taker_volume_bar,
)
from providers.coinglass.models import (
    CgCoinFunding,
    CgExchangeLiquidations,
    CgFearGreed,
    CgLiquidationBar,
    CgLongShortRatio,
    CgOhlc,
    CgTakerVolume,
    CoinLiquidations,
    CoinMarket,
    ExchangeOpenInterest,
    window_duration,
)
from providers.coinglass.raw import TOP_ACCOUNT_RATIO_HISTORY, coinglass_error_hook, data_rows
from providers.coinglass.venue import DEFAULT_BASE_URL, KEY_SETTING, RATE_LIMIT_PER_SECOND, CoinGlassProvider, build
from providers.config import CacheTtls
from providers.errors import InvalidSymbol
from providers.http import ProviderHttp, RetryPolicy
from providers.replay import Cassette, ReplayApp, serve_in_background
from providers.symbols import parse_symbol
from providers.upstream_client import UpstreamClient
from providers.venue import Capability, IntervalNotSupported, MarketProvider, ProviderDeps
from tests.providers_helpers import cassette_json, fixture_json, fixtures_dir, make_http

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from engine.market import FearGreed, LiquidationBar, LongShortPoint
    from providers.http import ErrorHook

BTC = parse_symbol("BTC")
RECEIVED = datetime(2025, 11, 14, 16, 0, tzinfo=UTC)
DAY = timedelta(days=1)  # the docs' liquidation history example is daily bars


# payload → wire models (raw) → our models (domain), per endpoint: what the client does after the request


def parse_coins_markets(payload: dict[str, Any]) -> tuple[CoinMarket, ...]:
    return data_rows(payload, CoinMarket)


def parse_funding_ohlc(payload: dict[str, Any], symbol: str, interval_hours: float = 8.0) -> tuple[FundingRate, ...]:
    return oldest_first(
        data_rows(payload, CgOhlc), functools.partial(to_funding, symbol=symbol, interval_hours=interval_hours)
    )


def parse_funding_exchange_list(payload: dict[str, Any], received: datetime) -> dict[str, coinglass.CoinFunding]:
    return {r.symbol: to_coin_funding(r, received) for r in data_rows(payload, CgCoinFunding)}


def parse_oi_exchange_list(payload: dict[str, Any]) -> tuple[ExchangeOpenInterest, ...]:
    return data_rows(payload, ExchangeOpenInterest)


def parse_liquidation_coin_list(payload: dict[str, Any]) -> tuple[CoinLiquidations, ...]:
    return data_rows(payload, CoinLiquidations)


def parse_liquidation_exchange_list(
    payload: dict[str, Any], window: timedelta = timedelta(hours=24)
) -> tuple[coinglass.ExchangeLiquidations, ...]:
    return tuple(to_exchange_liquidations(r, window) for r in data_rows(payload, CgExchangeLiquidations))


def parse_pair_liquidation_history(payload: dict[str, Any], bar: timedelta = DAY) -> tuple[LiquidationBar, ...]:
    return oldest_first(data_rows(payload, CgLiquidationBar), functools.partial(to_liquidation_bar, bar=bar))


def parse_top_account_ratio(payload: dict[str, Any]) -> tuple[LongShortPoint, ...]:
    return oldest_first(data_rows(payload, CgLongShortRatio), to_long_short)


def parse_taker_volume_history(payload: dict[str, Any]) -> tuple[coinglass.TakerVolumeBar, ...]:
    return oldest_first(data_rows(payload, CgTakerVolume), to_taker_volume_bar)


def parse_fear_greed_history(payload: dict[str, Any]) -> tuple[FearGreed, ...]:
    return to_fear_greed(data_rows(payload, CgFearGreed))


def _cg(name: str) -> dict[str, Any]:
    data: dict[str, Any] = fixture_json("coinglass", name)
    return data


def _sorted_rows(raw: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(raw["data"], key=lambda r: int(r["time"]))


def _reversed(raw: dict[str, Any]) -> dict[str, Any]:
    flipped = copy.deepcopy(raw)
    flipped["data"] = list(reversed(flipped["data"]))
    return flipped


# --------------------------------------------------------------------------------------------------
# coins-markets


def test_coins_markets_docs() -> None:
    markets = parse_coins_markets(_cg("futures_coins-markets.docs.json"))
    assert [m.symbol for m in markets] == ["BTC", "ETH"]
    btc, eth = markets
    assert btc.price == 84773.6
    # funding stays percent in the raw model, and the field name says so
    assert btc.avg_funding_rate_by_oi_pct == 0.00196
    assert btc.avg_funding_rate_by_vol_pct == 0.002647
    assert btc.market_cap_usd == 1683310500117.051
    assert btc.open_interest_usd == 55002072334.9376
    assert btc.open_interest_quantity == 648525.0328
    assert btc.open_interest_market_cap_ratio == 0.0327
    assert btc.open_interest_volume_ratio == 0.7936
    assert btc.price_change_pct == {
        "5m": -0.02,
        "15m": 0.06,
        "30m": 0.03,
        "1h": -0.1,
        "4h": -0.15,
        "12h": 0.15,
        "24h": 1.06,
    }
    assert btc.open_interest_change_pct["24h"] == 4.58
    assert btc.open_interest_change_pct["5m"] == 0.0
    assert btc.volume_change_pct["24h"] == -26.38
    assert btc.volume_change_usd == {"1h": 69310404660.3795, "4h": -4290959532.4414644, "24h": -24835757605.82467}
    assert btc.long_short_ratio["24h"] == 1.0313
    assert set(btc.liquidations) == {"1h", "4h", "12h", "24h"}
    assert btc.liquidations["24h"] == LiquidationTotals(timedelta(hours=24), 17793322.595016, 9725970.37863)
    assert btc.liquidations["1h"] == LiquidationTotals(timedelta(hours=1), 22178.4681, 11443.38382)
    # the docs' ETH row stops after the price changes: absent fields are empty, not invented
    assert eth.price == 1582.55
    assert eth.avg_funding_rate_by_vol_pct == -0.000601
    assert eth.open_interest_usd == 17657693967.0459
    assert eth.price_change_pct["24h"] == 0.16
    assert eth.long_short_ratio == {}
    assert eth.liquidations == {}
    assert eth.open_interest_change_pct == {}


# --------------------------------------------------------------------------------------------------
# funding: OHLC history, OI-weighted history, exchange list


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("futures_funding-rate_history.json", "BTCUSDT"),
        ("futures_funding-rate_history.docs.json", "BTCUSDT"),
        ("futures_funding-rate_oi-weight-history.json", "BTCUSDT"),
        ("futures_funding-rate_oi-weight-history.docs.json", "ETHUSDT"),
    ],
)
def test_funding_ohlc_fixtures(name: str, symbol: str) -> None:
    raw = _cg(name)
    rates = parse_funding_ohlc(raw, symbol)
    rows = _sorted_rows(raw)
    assert len(rates) == len(rows) > 0
    assert [r.time for r in rates] == [utc_from_ms(row["time"]) for row in rows]
    assert [r.time for r in rates] == sorted(r.time for r in rates)
    # the close, divided by 100 once (the values are percent): never the raw percent
    assert [r.rate * 100 for r in rates] == pytest.approx([float(row["close"]) for row in rows])
    assert all(r.rate != float(row["close"]) or r.rate == 0 for r, row in zip(rates, rows, strict=True))
    assert all(r.interval_hours == 8.0 and r.symbol == symbol for r in rates)
    assert all(r.time.tzinfo is UTC for r in rates)


def test_funding_ohlc_exact_values() -> None:
    docs = parse_funding_ohlc(_cg("futures_funding-rate_history.docs.json"), "BTCUSDT")
    assert [r.rate for r in docs] == [0.00009229, 0.0001]  # "0.009229" % and "0.01" %
    assert docs[0].time == utc_from_ms(1658880000000)
    live = parse_funding_ohlc(_cg("futures_funding-rate_history.json"), "BTCUSDT")
    assert len(live) == 40
    assert live[0].rate == 0.00004038  # close "0.004038"
    assert live[0].time == datetime(2025, 5, 14, 16, 0, tzinfo=UTC)
    assert live[1].rate == 0.00004089
    # 0.01 % per 8 h is 0.0001 per 8 h: the 8h-equivalent equals the rate, the percent is 0.01
    assert live[2].rate == 0.0001
    assert live[2].percent_8h == pytest.approx(0.01)
    weighted = parse_funding_ohlc(_cg("futures_funding-rate_oi-weight-history.json"), "BTCUSDT")
    assert weighted[0].rate == 0.00007624  # close 0.007624 (a number in the live answer)
    assert weighted[0].time == utc_from_ms(1747598400000)


def test_funding_ohlc_interval_hours_is_the_venue_interval() -> None:
    rates = parse_funding_ohlc(_cg("futures_funding-rate_history.docs.json"), "HYPEUSDT", interval_hours=4.0)
    assert [r.interval_hours for r in rates] == [4.0, 4.0]
    assert rates[1].rate == 0.0001
    assert rates[1].rate_8h_equivalent == pytest.approx(0.0002)


@pytest.mark.parametrize(
    "name", ["futures_funding-rate_exchange-list.json", "futures_funding-rate_exchange-list.docs.json"]
)
def test_funding_exchange_list_fixtures(name: str) -> None:
    raw = _cg(name)
    coins = parse_funding_exchange_list(raw, RECEIVED)
    assert list(coins) == [r["symbol"] for r in raw["data"]]
    for row in raw["data"]:
        entry = coins[row["symbol"]]
        for wire, parsed, quote in (
            (row["stablecoin_margin_list"], entry.stablecoin_margin, "USDT"),
            (row["token_margin_list"], entry.token_margin, "USD"),
        ):
            usable = [r for r in wire if r["funding_rate"] is not None and r["funding_rate_interval"] is not None]
            assert list(parsed) == [r["exchange"] for r in usable]
            for r in usable:
                rate = parsed[r["exchange"]]
                assert rate.rate * 100 == pytest.approx(r["funding_rate"], rel=1e-12, abs=1e-18)
                assert rate.interval_hours == float(r["funding_rate_interval"])
                assert rate.symbol == f"{row['symbol']}{quote}"
                assert rate.time == RECEIVED


def test_funding_exchange_list_exact_values() -> None:
    coins = parse_funding_exchange_list(_cg("futures_funding-rate_exchange-list.json"), RECEIVED)
    btc = coins["BTC"].stablecoin_margin
    binance = btc["Binance"]
    assert binance == FundingRate(
        symbol="BTCUSDT",
        rate=0.00008631,  # 0.008631 %
        interval_hours=8.0,
        time=RECEIVED,
        next_funding_time=datetime(2025, 11, 15, 0, 0, tzinfo=UTC),  # 1763164800000.0 ms
    )
    assert btc["BingX"].rate == 0.0001  # 0.01 % → 0.0001, exactly once
    assert btc["dYdX"].rate == 0.000019890625
    assert btc["dYdX"].interval_hours == 1.0
    assert btc["dYdX"].next_funding_time is None
    assert btc["Hyperliquid"].rate == 0.0000125  # 0.00125 % per hour = 0.01 % per 8 h
    assert btc["Hyperliquid"].percent_8h == pytest.approx(0.01)
    # null interval (KuCoin, HTX, Bitfinex): left out rather than guessed
    assert {"KuCoin", "HTX", "Bitfinex", "Bitunix"}.isdisjoint(btc)
    assert coins["BTC"].token_margin["Binance"].rate == 0.00007002
    assert coins["BTC"].token_margin["Binance"].symbol == "BTCUSD"
    # HYPE funds every 4 h on Binance: 0.005 % per 4 h is the same carry as 0.01 % per 8 h
    hype = coins["HYPE"].stablecoin_margin["Binance"]
    assert (hype.rate, hype.interval_hours) == (0.00005, 4.0)
    assert hype.rate_8h_equivalent == pytest.approx(0.0001)
    assert "Bitfinex" not in coins["SOL"].stablecoin_margin  # null rate
    docs = parse_funding_exchange_list(_cg("futures_funding-rate_exchange-list.docs.json"), RECEIVED)
    assert docs["BTC"].stablecoin_margin["Binance"].rate == 0.00007343
    assert docs["BTC"].stablecoin_margin["OKX"].rate == 0.0000736901950628
    assert docs["BTC"].token_margin["Binance"].rate == -0.00001829
    assert docs["BTC"].stablecoin_margin["Binance"].next_funding_time == utc_from_ms(1745222400000)


def test_funding_percent_becomes_a_fraction_exactly_once() -> None:
    payload = {
        "code": "0",
        "msg": "success",
        "data": [
            {
                "symbol": "BTC",
                "stablecoin_margin_list": [
                    {"exchange": "Binance", "funding_rate_interval": 8, "funding_rate": 0.01, "next_funding_time": None}
                ],
                "token_margin_list": [],
            }
        ],
    }
    rate = parse_funding_exchange_list(payload, RECEIVED)["BTC"].stablecoin_margin["Binance"]
    assert rate.rate == 0.0001
    assert rate.percent_8h == pytest.approx(0.01)
    bars = parse_funding_ohlc(
        {"code": 0, "data": [{"time": 1658880000000, "open": "0.01", "high": "0.01", "low": "0.01", "close": "0.01"}]},
        "BTCUSDT",
    )
    assert bars[0].rate == 0.0001


def test_funding_exchange_list_rejects_a_non_list() -> None:
    with pytest.raises(TypeError):
        parse_funding_exchange_list({"code": "0", "data": {"symbol": "BTC"}}, RECEIVED)


# --------------------------------------------------------------------------------------------------
# open interest per exchange


def test_oi_exchange_list_live() -> None:
    raw = _cg("futures_open-interest_exchange-list.json")
    rows = parse_oi_exchange_list(raw)
    assert len(rows) == len(raw["data"]) == 22
    total = rows[0]
    assert (total.exchange, total.symbol) == ("All", "BTC")
    assert total.open_interest_usd == 67130599066.2341
    assert total.open_interest_quantity == 695484.0465
    assert total.open_interest_by_coin_margin_usd == 9696934030.24
    assert total.open_interest_by_stable_coin_margin_usd == 57433665036.0
    assert total.open_interest_quantity_by_coin_margin == 100346.6344
    assert total.open_interest_quantity_by_stable_coin_margin == 595137.4121
    assert total.change_pct == {"5m": -0.06, "15m": -0.53, "30m": -0.44, "1h": -0.07, "4h": 1.24, "24h": 0.66}
    binance = next(r for r in rows if r.exchange == "Binance")
    assert (binance.open_interest_usd, binance.open_interest_quantity) == (12513620030.7197, 129652.181)
    assert [r.exchange for r in rows] == [r["exchange"] for r in raw["data"]]


def test_oi_exchange_list_docs() -> None:
    rows = parse_oi_exchange_list(_cg("futures_open-interest_exchange-list.docs.json"))
    assert [r.exchange for r in rows] == ["All", "CME"]
    assert rows[0].open_interest_usd == 57437891724.5572
    assert rows[0].open_interest_quantity == 659557.3064
    assert rows[0].open_interest_by_coin_margin_usd is None  # not in the docs example
    assert rows[0].open_interest_by_stable_coin_margin_usd == 48920274435.15
    assert rows[1].open_interest_quantity == 141275.5
    assert rows[1].open_interest_quantity_by_coin_margin == 0.0


# --------------------------------------------------------------------------------------------------
# liquidations: coin list, exchange list, pair history


def test_liquidation_coin_list_docs() -> None:
    (btc,) = parse_liquidation_coin_list(_cg("futures_liquidation_coin-list.docs.json"))
    assert btc.symbol == "BTC"
    assert btc.windows == {
        "1h": LiquidationTotals(timedelta(hours=1), 3182915.16289, 100720.7902),
        "4h": LiquidationTotals(timedelta(hours=4), 10921633.272973, 459503.80767),
        "12h": LiquidationTotals(timedelta(hours=12), 66614158.47451427, 1717685.887727),
        "24h": LiquidationTotals(timedelta(hours=24), 68437447.33734027, 13843034.16691298),
    }


def test_liquidation_exchange_list_docs_snake_case() -> None:
    rows = parse_liquidation_exchange_list(_cg("futures_liquidation_exchange-list.docs.json"))
    assert [r.exchange for r in rows] == ["All", "Bybit"]
    assert rows[0].totals == LiquidationTotals(timedelta(hours=24), 451394.17404598, 14222125.64334477)
    assert rows[0].liquidation_usd == 14673519.81739075
    assert rows[1].totals.short_usd == 4480729.99519


def test_liquidation_exchange_list_live_camel_case() -> None:
    raw = _cg("futures_liquidation_exchange-list.json")
    rows = parse_liquidation_exchange_list(raw, timedelta(hours=4))
    assert len(rows) == len(raw["data"]) == 10
    assert rows[0].exchange == "All"
    assert rows[0].totals == LiquidationTotals(timedelta(hours=4), 134120774.28484142, 25100195.393889)
    assert rows[0].liquidation_usd == 159220969.67873043
    bitfinex = rows[-1]
    assert (bitfinex.exchange, bitfinex.totals.long_usd, bitfinex.totals.short_usd) == (
        "Bitfinex",
        104745.52067242,
        0.0,
    )
    assert bitfinex.totals.long_share_pct == 100.0


def test_pair_liquidation_history_docs_strings() -> None:
    bars = parse_pair_liquidation_history(_cg("futures_liquidation_history.docs.json"))
    # CoinGlass stamps a bar with its open; the engine's LiquidationBar with its end (open + the bar)
    assert [(b.time, b.long_usd, b.short_usd) for b in bars] == [
        (utc_from_ms(1658880000000) + DAY, 2369935.19562, 6947459.43674),
        (utc_from_ms(1658966400000) + DAY, 5118407.85124, 8517330.44192),
    ]
    four_hours = parse_pair_liquidation_history(_cg("futures_liquidation_history.docs.json"), timedelta(hours=4))
    assert four_hours[0].time == utc_from_ms(1658880000000) + timedelta(hours=4)


# --------------------------------------------------------------------------------------------------
# top-trader account ratio and taker volumes


@pytest.mark.parametrize(
    "name",
    ["futures_top-long-short-account-ratio_history.json", "futures_top-long-short-account-ratio_history.docs.json"],
)
def test_top_account_ratio_fixtures(name: str) -> None:
    raw = _cg(name)
    points = parse_top_account_ratio(raw)
    rows = _sorted_rows(raw)
    assert [p.time for p in points] == [utc_from_ms(r["time"]) for r in rows]
    assert [p.long_pct for p in points] == [float(r["top_account_long_percent"]) for r in rows]
    assert [p.long_short_ratio for p in points] == [float(r["top_account_long_short_ratio"]) for r in rows]
    assert all(1.0 < p.long_pct < 100.0 for p in points)  # already percent: not multiplied again


def test_top_account_ratio_values() -> None:
    docs = parse_top_account_ratio(_cg("futures_top-long-short-account-ratio_history.docs.json"))
    assert (docs[0].long_pct, docs[0].long_short_ratio) == (73.3, 2.75)
    assert (docs[1].long_pct, docs[1].long_short_ratio) == (74.18, 2.87)
    live = parse_top_account_ratio(_cg("futures_top-long-short-account-ratio_history.json"))
    assert len(live) == 40
    assert (live[0].time, live[0].long_pct, live[0].long_short_ratio) == (utc_from_ms(1747598400000), 42.54, 0.74)


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("futures_aggregated-taker-buy-sell-volume_history.json", "aggregated_{}_volume_usd"),
        ("futures_aggregated-taker-buy-sell-volume_history.docs.json", "aggregated_{}_volume_usd"),
        ("futures_taker-buy-sell-volume_history.docs.json", "taker_{}_volume_usd"),
    ],
)
def test_taker_volume_fixtures(name: str, prefix: str) -> None:
    raw = _cg(name)
    bars = parse_taker_volume_history(raw)
    rows = _sorted_rows(raw)
    assert len(bars) == len(rows) > 0
    assert [b.time for b in bars] == [utc_from_ms(r["time"]) for r in rows]
    assert [b.buy_usd for b in bars] == [float(r[prefix.format("buy")]) for r in rows]
    assert [b.sell_usd for b in bars] == [float(r[prefix.format("sell")]) for r in rows]


def test_taker_volume_values() -> None:
    aggregated = parse_taker_volume_history(_cg("futures_aggregated-taker-buy-sell-volume_history.docs.json"))
    assert (aggregated[0].buy_usd, aggregated[0].sell_usd) == (968834542.3787, 1054582654.8138)
    pair = parse_taker_volume_history(_cg("futures_taker-buy-sell-volume_history.docs.json"))
    assert [(b.buy_usd, b.sell_usd) for b in pair] == [
        (414120141.0714, 350417509.655),
        (882509979.6914, 808715578.4428),
        (572589140.5759, 571005164.3247),
    ]
    live = parse_taker_volume_history(_cg("futures_aggregated-taker-buy-sell-volume_history.json"))
    assert (live[0].time, live[0].buy_usd, live[0].sell_usd) == (
        utc_from_ms(1747598400000),
        3708888023.156,
        2874817617.4746,
    )


# --------------------------------------------------------------------------------------------------
# fear & greed: the object-of-arrays (live) and list (docs) forms


def test_fear_greed_live_object_of_arrays() -> None:
    raw = _cg("index_fear-greed-history.json")
    assert isinstance(raw["data"], dict)
    points = parse_fear_greed_history(raw)
    assert len(points) == len(raw["data"]["data_list"]) == 60
    assert [p.time for p in points] == sorted(p.time for p in points)
    assert (points[0].value, points[0].time) == (51.0, utc_from_ms(1757982001000))
    assert (points[-1].value, points[-1].classification) == (15.0, "Extreme Fear")
    assert points[-1].time == utc_from_ms(1763079603000)
    assert [p.value for p in points] == raw["data"]["data_list"]
    assert points[0].classification == "Neutral"


def test_fear_greed_docs_list_form_with_seconds() -> None:
    raw = _cg("index_fear-greed-history.docs.json")
    assert isinstance(raw["data"], list)
    (point,) = parse_fear_greed_history(raw)
    assert point.value == 4611285.1141  # the docs' illustrative value, kept as sent
    assert point.classification == "Unclassified"  # outside 0..100
    assert point.time == datetime(2021, 11, 11, 0, 0, tzinfo=UTC)  # time_list 1636588800 is seconds


def test_fear_greed_both_forms_parse_alike() -> None:
    raw = _cg("index_fear-greed-history.json")
    as_list = copy.deepcopy(raw)
    as_list["data"] = [as_list["data"]]
    assert parse_fear_greed_history(as_list) == parse_fear_greed_history(raw)


def test_fear_greed_reversed_arrays_come_out_oldest_first() -> None:
    raw = _cg("index_fear-greed-history.json")
    flipped = copy.deepcopy(raw)
    for key in ("data_list", "price_list", "time_list"):
        flipped["data"][key] = list(reversed(flipped["data"][key]))
    assert parse_fear_greed_history(flipped) == parse_fear_greed_history(raw)


def test_fear_greed_unequal_arrays_are_rejected() -> None:
    raw = copy.deepcopy(_cg("index_fear-greed-history.json"))
    raw["data"]["time_list"].pop()
    with pytest.raises(ValueError):
        parse_fear_greed_history(raw)


def test_fear_greed_classification_agrees_with_alternative_me() -> None:
    # every (value, classification) alternative.me itself answered in the shared cassette
    body = next(e["body"] for e in cassette_json()["http"] if e["provider"] == "alternative_me")
    pairs = {(float(r["value"]), r["value_classification"]) for r in body["data"]}
    assert len(pairs) > 5
    assert {(v, fear_greed_classification(v)) for v, _ in pairs} == pairs
    assert [fear_greed_classification(v) for v in (0.0, 24.0, 25.0, 46.0, 47.0, 54.0, 55.0, 75.0, 76.0, 100.0)] == [
        "Extreme Fear",
        "Extreme Fear",
        "Fear",
        "Fear",
        "Neutral",
        "Neutral",
        "Greed",
        "Greed",
        "Extreme Greed",
        "Extreme Greed",
    ]
    assert fear_greed_classification(-1.0) == fear_greed_classification(100.5) == "Unclassified"


# --------------------------------------------------------------------------------------------------
# cross-cutting: ordering, envelope codes, coverage


_SERIES_PARSERS: list[tuple[str, Callable[[dict[str, Any]], tuple[Any, ...]]]] = [
    ("futures_funding-rate_history.json", lambda p: parse_funding_ohlc(p, "BTCUSDT")),
    ("futures_funding-rate_oi-weight-history.json", lambda p: parse_funding_ohlc(p, "BTCUSDT")),
    ("futures_liquidation_history.docs.json", parse_pair_liquidation_history),
    ("futures_top-long-short-account-ratio_history.json", parse_top_account_ratio),
    ("futures_aggregated-taker-buy-sell-volume_history.json", parse_taker_volume_history),
    ("futures_taker-buy-sell-volume_history.docs.json", parse_taker_volume_history),
]


@pytest.mark.parametrize(("name", "parse"), _SERIES_PARSERS)
def test_series_are_oldest_first_even_when_rows_arrive_reversed(
    name: str, parse: Callable[[dict[str, Any]], tuple[Any, ...]]
) -> None:
    raw = _cg(name)
    flipped = _reversed(raw)
    assert [r["time"] for r in flipped["data"]] != [r["time"] for r in raw["data"]]
    forward, backward = parse(raw), parse(flipped)
    assert backward == forward
    times = [item.time for item in backward]
    assert times == sorted(times)
    assert len(set(times)) == len(times)


@pytest.mark.parametrize("code", ["0", 0])
def test_envelope_code_string_and_integer_zero_both_succeed(code: str | int) -> None:
    raw = copy.deepcopy(_cg("futures_funding-rate_history.docs.json"))
    raw["code"] = code
    assert coinglass_error_hook("coinglass", "funding-rate.history", 200, raw) is None
    assert parse_funding_ohlc(raw, "BTCUSDT")[-1].rate == 0.0001


def test_hook_passes_every_added_fixture() -> None:
    for name in _ADDED_FIXTURES:
        assert coinglass_error_hook("coinglass", "x", 200, _cg(name)) is None, name


def test_window_duration() -> None:
    assert window_duration("5m") == timedelta(minutes=5)
    assert window_duration("24h") == timedelta(hours=24)
    assert window_duration("1w") == timedelta(weeks=1)
    with pytest.raises(ValueError):
        window_duration("h1")


_ADDED_FIXTURES = (
    "futures_coins-markets.docs.json",
    "futures_funding-rate_history.json",
    "futures_funding-rate_history.docs.json",
    "futures_funding-rate_oi-weight-history.json",
    "futures_funding-rate_oi-weight-history.docs.json",
    "futures_funding-rate_exchange-list.json",
    "futures_funding-rate_exchange-list.docs.json",
    "futures_open-interest_exchange-list.json",
    "futures_open-interest_exchange-list.docs.json",
    "futures_liquidation_coin-list.docs.json",
    "futures_liquidation_exchange-list.json",
    "futures_liquidation_exchange-list.docs.json",
    "futures_liquidation_history.docs.json",
    "futures_top-long-short-account-ratio_history.json",
    "futures_top-long-short-account-ratio_history.docs.json",
    "futures_aggregated-taker-buy-sell-volume_history.json",
    "futures_aggregated-taker-buy-sell-volume_history.docs.json",
    "futures_taker-buy-sell-volume_history.docs.json",
    "index_fear-greed-history.json",
    "index_fear-greed-history.docs.json",
)


def test_every_fixture_of_the_added_endpoints_is_covered() -> None:
    names = {p.name for p in (fixtures_dir() / "coinglass").glob("*.json")}
    prefixes = (
        "futures_coins-markets.",
        "futures_funding-rate_history.",
        "futures_funding-rate_oi-weight-history.",
        "futures_funding-rate_exchange-list.",
        "futures_open-interest_exchange-list.",
        "futures_liquidation_coin-list.",
        "futures_liquidation_exchange-list.",
        "futures_liquidation_history.",
        "futures_top-long-short-account-ratio_history.",
        "futures_aggregated-taker-buy-sell-volume_history.",
        "futures_taker-buy-sell-volume_history.",
        "index_fear-greed-history.",
    )
    assert {n for n in names if n.startswith(prefixes)} == set(_ADDED_FIXTURES)


# --------------------------------------------------------------------------------------------------
# the adapter: capabilities, build, intervals


_CAPABILITY_METHODS = {capability: capability.value for capability in Capability}


def test_adapter_capabilities_match_overridden_methods() -> None:
    assert CoinGlassProvider.name == "coinglass"
    assert CoinGlassProvider.keyed is True
    overridden = {
        capability
        for capability, method in _CAPABILITY_METHODS.items()
        if getattr(CoinGlassProvider, method) is not getattr(MarketProvider, method)
    }
    assert overridden == CoinGlassProvider.capabilities
    assert CoinGlassProvider.capabilities == {
        Capability.FUNDING,
        Capability.FUNDING_HISTORY,
        Capability.OPEN_INTEREST,
        Capability.OPEN_INTEREST_HISTORY,
        Capability.LONG_SHORT_RATIO,
        Capability.TOP_TRADER_POSITIONS,
        Capability.LIQUIDATION_TOTALS,
    }


def test_module_constants() -> None:
    assert DEFAULT_BASE_URL == "https://open-api-v4.coinglass.com"
    assert KEY_SETTING == "COINGLASS_API_KEY"
    assert 0 < RATE_LIMIT_PER_SECOND <= 30 / 60  # never above the smallest plan (Hobbyist, 30/min)
    assert "h1" not in coinglass.INTERVALS
    assert set(coinglass.INTERVAL_CODES.values()) <= set(coinglass.INTERVALS)


class _RecordingFactory:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, ErrorHook | None, Mapping[str, str] | None]] = []
        self.clients: list[Any] = []

    def __call__(
        self, provider: str, base_url: str, error_hook: ErrorHook | None, headers: Mapping[str, str] | None
    ) -> ProviderHttp:
        self.calls.append((provider, base_url, error_hook, headers))
        client = UpstreamClient()
        self.clients.append(client)
        return make_http(provider, client, base_url, headers=headers, keyed=bool(headers), error_hook=error_hook)


@pytest.mark.parametrize("keys", [{}, {"coinglass": None}, {"coinglass": ""}])
def test_build_without_a_key_is_none(keys: dict[str, str | None]) -> None:
    factory = _RecordingFactory()
    deps = ProviderDeps(
        base_urls={"coinglass": DEFAULT_BASE_URL},
        keys=keys,
        ttls=CacheTtls(),
        cache=MemoryCache(),
        http_factory=factory,
    )
    assert build(deps) is None
    assert factory.calls == []


async def test_build_with_a_key_sends_it_as_cg_api_key() -> None:
    factory = _RecordingFactory()
    deps = ProviderDeps(
        base_urls={"coinglass": DEFAULT_BASE_URL},
        keys={"coinglass": "secret"},
        ttls=CacheTtls(),
        cache=MemoryCache(),
        http_factory=factory,
    )
    try:
        provider = build(deps)
    finally:
        for client in factory.clients:
            await client.aclose()
    assert isinstance(provider, CoinGlassProvider)
    assert factory.calls == [("coinglass", DEFAULT_BASE_URL, coinglass_error_hook, {"CG-API-KEY": "secret"})]


async def test_unsupported_intervals_fail_before_any_request() -> None:
    client = UpstreamClient()
    try:
        # nothing listens on port 9: a request would be UpstreamUnavailable, not IntervalNotSupported
        cg = CoinGlassClient(make_http("coinglass", client, "http://127.0.0.1:9"), CacheTtls())
        provider = CoinGlassProvider(cg)
        with pytest.raises(IntervalNotSupported, match="2h"):
            await provider.open_interest_history(BTC, CandleInterval.H2, 10)
        with pytest.raises(IntervalNotSupported, match="h1"):
            await cg.pair_series(TOP_ACCOUNT_RATIO_HISTORY, to_long_short, BTC, "h1")
    finally:
        await client.aclose()


# --------------------------------------------------------------------------------------------------
# end to end over real HTTP: build(deps) → replay server on 127.0.0.1 (in-memory cassette)


def _entry(path: str, match: dict[str, str], body: Any) -> dict[str, Any]:
    return {"provider": "coinglass", "method": "GET", "path": path, "match": match, "status": 200, "body": body}


def _cassette() -> dict[str, Any]:
    weighted = _reversed(_cg("futures_funding-rate_oi-weight-history.json"))  # newest-first on the wire
    weighted["code"] = 0  # integer success code
    return {
        "version": 1,
        "description": "CoinGlass adapter test, bodies from shared/fixtures/coinglass",
        "clock": 1763136000000,
        "http": [
            _entry("/api/futures/funding-rate/exchange-list", {}, _cg("futures_funding-rate_exchange-list.json")),
            _entry("/api/futures/funding-rate/oi-weight-history", {"symbol": "BTC", "interval": "8h"}, weighted),
            _entry(
                "/api/futures/open-interest/exchange-list",
                {"symbol": "BTC"},
                _cg("futures_open-interest_exchange-list.json"),
            ),
            _entry(
                "/api/futures/open-interest/exchange-list",
                {"symbol": "DOGE"},
                {"code": "400", "msg": "symbol not supported", "data": None},
            ),
            _entry(
                "/api/futures/open-interest/aggregated-history",
                {"symbol": "BTC", "interval": "4h"},
                _cg("futures_open-interest_aggregated-history.json"),
            ),
            _entry(
                "/api/futures/global-long-short-account-ratio/history",
                {"exchange": "Binance", "symbol": "BTCUSDT", "interval": "4h"},
                _cg("futures_global-long-short-account-ratio_history.json"),
            ),
            _entry("/api/index/fear-greed-history", {}, _cg("index_fear-greed-history.json")),
        ],
    }


async def test_adapter_end_to_end_over_replay() -> None:
    cassette = _cassette()
    replay = ReplayApp(Cassette.model_validate(cassette))
    seen_keys: list[bytes | None] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            seen_keys.append(dict(scope["headers"]).get(b"cg-api-key"))
        await replay.app(scope, receive, send)

    client = UpstreamClient()
    cache = MemoryCache()

    def http_factory(
        provider: str, base_url: str, error_hook: ErrorHook | None, headers: Mapping[str, str] | None
    ) -> ProviderHttp:
        return ProviderHttp(
            provider,
            client,
            base_url,
            cache=cache,
            timeout_seconds=2,
            retry=RetryPolicy(attempts=2, max_wait_seconds=0.1),
            headers=headers,
            keyed=bool(headers),
            error_hook=error_hook,
        )

    try:
        async with serve_in_background(app) as server:
            deps = ProviderDeps(
                base_urls={"coinglass": f"{server.base_url}/coinglass"},
                keys={"coinglass": "test"},
                ttls=CacheTtls(),
                cache=cache,
                http_factory=http_factory,
            )
            provider = build(deps)
            assert isinstance(provider, CoinGlassProvider)
            funding = await provider.funding(BTC)
            funding_again = await provider.funding(BTC)
            eth_funding = await provider.funding(parse_symbol("ETHUSDT"))
            history = await provider.funding_history(BTC, 10)
            oi = await provider.open_interest(BTC)
            oi_history = await provider.open_interest_history(BTC, CandleInterval.H4, 5)
            ratios = await provider.long_short_ratio(BTC, CandleInterval.H4, 30)
            fear_greed = await provider.client.fear_greed_history()
            with pytest.raises(InvalidSymbol) as info:
                await provider.open_interest(parse_symbol("DOGE"))
    finally:
        await client.aclose()

    # FUNDING: the Binance stablecoin row, percent → fraction once; one upstream call serves every coin
    assert (funding.symbol, funding.rate, funding.interval_hours) == ("BTCUSDT", 0.00008631, 8.0)
    assert funding.next_funding_time == utc_from_ms(1763164800000)
    assert funding_again == funding
    assert (eth_funding.symbol, eth_funding.rate) == ("ETHUSDT", 0.00008214)
    assert replay.calls["coinglass GET /api/futures/funding-rate/exchange-list"] == 1

    # FUNDING_HISTORY: reversed on the wire, integer code 0, oldest-first out, the newest 10 bars
    weighted_rows = _sorted_rows(_cg("futures_funding-rate_oi-weight-history.json"))
    assert len(history) == 10
    assert [r.time for r in history] == [utc_from_ms(r["time"]) for r in weighted_rows[-10:]]
    assert history[-1].rate * 100 == pytest.approx(weighted_rows[-1]["close"])
    assert all(r.interval_hours == 8.0 for r in history)

    # OPEN_INTEREST: the "All" row, coins and USD
    assert (oi.symbol, oi.coins, oi.usd) == ("BTCUSDT", 695484.0465, 67130599066.2341)
    assert oi.time.tzinfo is UTC

    # OPEN_INTEREST_HISTORY: USD notional, newest 5 of 40
    assert len(oi_history) == 5
    assert all(p.unit == "usd" for p in oi_history)
    assert oi_history[-1].open_interest == 75669712118.0
    assert [p.time for p in oi_history] == sorted(p.time for p in oi_history)

    # LONG_SHORT_RATIO: percent of accounts long, oldest-first
    ratio_rows = _sorted_rows(_cg("futures_global-long-short-account-ratio_history.json"))
    assert len(ratios) == 30
    assert ratios[-1].long_pct == ratio_rows[-1]["global_account_long_percent"]
    assert [p.time for p in ratios] == [utc_from_ms(r["time"]) for r in ratio_rows[-30:]]

    assert len(fear_greed) == 60
    assert fear_greed[-1].value == 15.0

    # an envelope error with HTTP 200 is typed and not retried
    assert info.value.source == "coinglass.open-interest.exchange-list"
    assert "symbol not supported" in info.value.describe()
    assert replay.calls["coinglass GET /api/futures/open-interest/exchange-list"] == 2  # BTC once, DOGE once

    assert seen_keys and all(key == b"test" for key in seen_keys)
