"""The universe: listings (real exchangeInfo onboardDate), CoinGecko coins/markets (real page), screeners,
spike z-scores against a hand-computed case, and newListings / screener / spikes end to end over a replay
server whose cassette is built from the fixture files."""

from __future__ import annotations

import asyncio
import math
import statistics
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx2
import pytest

from engine.listings import (
    CoinMarket,
    VenueListing,
    coin_for_base,
    coin_symbol,
    coins_by_base,
    listing_performance,
    new_listings,
)
from engine.market import Candle, FundingRate, OpenInterest, Ticker24h, utc_from_ms
from engine.screener import ScreenKind, merge_universe, screen
from engine.spikes import SLOT, Horizon, SlotRing, SpikeHistory, SpikeMetric, slot_of, zscore
from providers.binance.venue import build as build_binance
from providers.coingecko.venue import build as build_coingecko
from providers.replay import Cassette, ReplayApp
from tests.conftest import running_service
from tests.providers_helpers import cassette_entry, fixture_json, served_deps

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

CLOCK_2021 = 1626858243909  # exchangeInfo's serverTime: the moment the fixture was captured
TLM_LISTED = 1626332400000  # TLMUSDT's onboardDate in that answer, the newest listing there


# --------------------------------------------------------------------------------------------------
# listings on the real exchangeInfo


async def test_binance_listing_dates_come_from_onboard_date() -> None:
    info = fixture_json("binance", "fapi_v1_exchangeInfo.json")
    cassette = Cassette.model_validate(
        {"version": 1, "clock": CLOCK_2021, "http": [cassette_entry("binance", "/fapi/v1/exchangeInfo", info)]}
    )
    async with served_deps(ReplayApp(cassette).app, "binance", {}) as deps:
        listed = await build_binance(deps).instruments()
    perpetuals = [
        s
        for s in info["symbols"]
        if s["contractType"] == "PERPETUAL" and s["quoteAsset"] == "USDT" and s["status"] == "TRADING"
    ]
    assert len(listed) == len(perpetuals) > 100
    assert listed["TLMUSDT"].onboard_date == datetime(2021, 7, 15, 7, 0, tzinfo=UTC) == utc_from_ms(TLM_LISTED)
    assert listed["BTCUSDT"].onboard_date == utc_from_ms(1569398400000)  # 2019-09-25, Binance's first


def _venue_listings(info: dict[str, Any]) -> dict[str, VenueListing]:
    return {
        s["symbol"]: VenueListing(s["symbol"], "binance", utc_from_ms(s["onboardDate"]), s["status"], s["baseAsset"])
        for s in info["symbols"]
        if s["contractType"] == "PERPETUAL" and s["quoteAsset"] == "USDT"
    }


def test_new_listings_window_age_and_other_venues() -> None:
    binance = _venue_listings(fixture_json("binance", "fapi_v1_exchangeInfo.json"))
    now = utc_from_ms(CLOCK_2021)
    # TLMUSDT is 146.07 h old: inside 150 h, outside 146 h (hand-computed: (1626858243909 - 1626332400000) / 3.6e6)
    assert new_listings({"binance": binance}, now, timedelta(hours=146)) == []
    bybit = {"TLMUSDT": VenueListing("TLMUSDT", "bybit", now - timedelta(hours=2), "TRADING", "TLM")}
    found = new_listings({"binance": binance, "bybit": bybit}, now, timedelta(hours=150), unavailable=["okx"])
    assert [(item.venue, item.symbol) for item in found] == [("bybit", "TLMUSDT"), ("binance", "TLMUSDT")]
    newest, tlm = found
    assert newest.age_hours == pytest.approx(2.0)
    assert tlm.age_hours == pytest.approx((CLOCK_2021 - TLM_LISTED) / 3.6e6) == pytest.approx(146.0677, abs=1e-4)
    assert tlm.also_listed_on == ("bybit",) and tlm.not_listed_on == () and tlm.unknown_on == ("okx",)
    assert newest.also_listed_on == ("binance",)


def test_listing_performance_on_real_klines() -> None:
    rows = fixture_json("binance", "fapi_v1_klines.json")
    candles = [
        Candle(utc_from_ms(r[0]), float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5]), float(r[7]))
        for r in rows
    ]
    listed = candles[0].open_time
    now = candles[-1].open_time + timedelta(minutes=1)
    figures = listing_performance(candles, listed, now)
    assert figures is not None
    assert figures.first_price == candles[0].open
    assert figures.since_listing_change_pct == pytest.approx((candles[-1].close / candles[0].open - 1) * 100)
    assert figures.since_listing_quote_volume == pytest.approx(sum(c.quote_volume or 0.0 for c in candles))
    assert figures.first_day_complete is (now >= listed + timedelta(hours=24))
    # a series that starts hours after the listing cannot say anything "since listing"
    assert listing_performance(candles, listed - timedelta(hours=5), now) is None


# --------------------------------------------------------------------------------------------------
# CoinGecko coins/markets (real page)


async def test_coin_markets_page_reads_fdv_and_supply() -> None:
    page = fixture_json("coingecko", "coins_markets.json")
    match = {"vs_currency": "usd", "order": "market_cap_desc", "per_page": "250", "page": "1"}
    cassette = Cassette.model_validate(
        {"version": 1, "clock": 1747572561599, "http": [cassette_entry("coingecko", "/coins/markets", page, match)]}
    )
    async with served_deps(ReplayApp(cassette).app, "coingecko", {}) as deps:
        venue = build_coingecko(deps)
        assert venue is not None
        coins = await venue.coin_markets(1)
    [btc] = coins
    assert (btc.coin_id, btc.symbol, btc.market_cap_rank) == ("bitcoin", "BTC", 1)
    assert btc.fdv_usd == 1555914058873 and btc.market_cap_usd == 1555886872303
    assert btc.circulating_share == pytest.approx(20030493.0 / 20030843.0)
    assert coin_for_base(coins, "btc") is btc and coin_for_base(coins, "ETH") is None


def _coin(symbol: str, rank: int | None) -> CoinMarket:
    return CoinMarket(f"{symbol.lower()}-{rank}", symbol, symbol, 1.0, 1e6, rank, 2e6, 1.0, 1.0, 2.0, None, None)


def test_a_shared_coin_symbol_resolves_to_the_best_rank_and_multipliers_are_stripped() -> None:
    coins = [_coin("PEPE", 900), _coin("PEPE", 40), _coin("PEPE", None)]
    assert coin_symbol("1000PEPE") == "PEPE"
    assert coins_by_base(coins)["PEPE"].market_cap_rank == 40
    best = coin_for_base(coins, "1000PEPE")
    assert best is not None and best.market_cap_rank == 40


# --------------------------------------------------------------------------------------------------
# the universe's all-symbol reads per venue (real HTTP path against a local replay server)


async def test_binance_funding_all_reads_adjusted_intervals_from_funding_info() -> None:
    premium = fixture_json("binance", "fapi_v1_premiumIndex.json")  # live BTCUSDT row
    info = [
        # Binance's documented example (a symbol with no premiumIndex row here: ignored)
        {"symbol": "BLZUSDT", "adjustedFundingRateCap": "0.02500000", "adjustedFundingRateFloor": "-0.02500000",
         "fundingIntervalHours": 8, "disclaimer": False},
        # the same documented shape for BTCUSDT, adjusted to 4 h (hand-made values)
        {"symbol": "BTCUSDT", "adjustedFundingRateCap": "0.03000000", "adjustedFundingRateFloor": "-0.03000000",
         "fundingIntervalHours": 4, "disclaimer": False},
    ]  # fmt: skip
    http = [
        cassette_entry("binance", "/fapi/v1/premiumIndex", [premium]),
        cassette_entry("binance", "/fapi/v1/fundingInfo", info),
    ]
    cassette = Cassette.model_validate({"version": 1, "clock": CLOCK_2021, "http": http})
    async with served_deps(ReplayApp(cassette).app, "binance", {}) as deps:
        rates = await build_binance(deps).funding_all()
        assert set(rates) == {"BTCUSDT"}
        btc = rates["BTCUSDT"]
        assert (btc.rate, btc.interval_hours, btc.interval_note) == (0.00009145, 4.0, None)
        assert btc.percent_8h == pytest.approx(0.00009145 * 2 * 100)
        # without the adjustment BTCUSDT settles on Binance's documented default, 8 h
        http[1] = cassette_entry("binance", "/fapi/v1/fundingInfo", info[:1])
    cassette = Cassette.model_validate({"version": 1, "clock": CLOCK_2021, "http": http})
    async with served_deps(ReplayApp(cassette).app, "binance", {}) as deps:
        assert (await build_binance(deps).funding_all())["BTCUSDT"].interval_hours == 8.0


async def test_bybit_one_tickers_answer_serves_open_interest_and_funding() -> None:
    from providers.bybit.venue import build as build_bybit

    answer = fixture_json("bybit", "v5_market_tickers_linear.docs.json")  # Bybit's documented example
    http = [cassette_entry("bybit", "/v5/market/tickers", answer, {"category": "linear"})]
    cassette = Cassette.model_validate({"version": 1, "clock": 1672376496682, "http": http})
    replay = ReplayApp(cassette)
    async with served_deps(replay.app, "bybit", {}) as deps:
        venue = build_bybit(deps)
        interest = await venue.open_interest_all()
        funding = await venue.funding_all()
    assert interest["BTCUSDT"].coins == 373504107 and interest["BTCUSDT"].usd == 22505.67
    rate = funding["BTCUSDT"]
    assert rate.rate == -0.001034 and rate.interval_hours == 8.0  # no fundingIntervalHour in the example
    assert rate.interval_note is not None and "assumed 8h" in rate.interval_note
    assert sum(replay.calls.values()) == 1  # both from the one cached answer


async def test_okx_open_interest_all_keeps_usdt_swaps_and_never_invents_usd() -> None:
    from providers.okx.venue import build as build_okx

    documented = {"instType": "SWAP", "instId": "BTC-USDT-SWAP", "oi": "5000", "oiCcy": "555.55",
                  "oiUsd": "50000000", "ts": "1597026383085"}  # fmt: skip
    without_usd = fixture_json("okx", "api_v5_public_open_interest.docs.json")  # the older example: no oiUsd
    tickers = fixture_json("okx", "ws_tickers.json")["data"]  # a live UNI-USD-SWAP row (REST rows are the same)
    for rows, expected_usd in (([documented], 50000000.0), (without_usd["data"], None)):
        http = [
            cassette_entry(
                "okx", "/api/v5/public/open-interest", {"code": "0", "msg": "", "data": rows}, {"instType": "SWAP"}
            ),
            cassette_entry(
                "okx", "/api/v5/market/tickers", {"code": "0", "msg": "", "data": tickers}, {"instType": "SWAP"}
            ),
        ]
        cassette = Cassette.model_validate({"version": 1, "clock": 1597026383085, "http": http})
        async with served_deps(ReplayApp(cassette).app, "okx", {}) as deps:
            interest = await build_okx(deps).open_interest_all()
        assert set(interest) == {"BTCUSDT"}
        assert interest["BTCUSDT"].coins == 555.55
        assert interest["BTCUSDT"].usd == expected_usd  # no BTC ticker to price it: unknown, not zero


# --------------------------------------------------------------------------------------------------
# screener


NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def _ticker(symbol: str, change: float, volume: float, price: float = 1.0) -> Ticker24h:
    return Ticker24h(symbol, price, change, price, price, volume / price, volume, NOW)


def test_screener_merges_venues_and_ranks_each_kind() -> None:
    tickers = {
        "binance": {"AUSDT": _ticker("AUSDT", 12.0, 9e6, 2.0), "BUSDT": _ticker("BUSDT", -8.0, 5e6)},
        "bybit": {"AUSDT": _ticker("AUSDT", 11.0, 3e6, 2.01), "CUSDT": _ticker("CUSDT", 30.0, 2e5)},
    }
    funding = {
        "binance": {"AUSDT": FundingRate("AUSDT", 0.0005, 8, NOW), "BUSDT": FundingRate("BUSDT", -0.0002, 4, NOW)},
        "bybit": {"AUSDT": FundingRate("AUSDT", -0.0001, 8, NOW)},
    }
    oi = {"bybit": {"AUSDT": OpenInterest("AUSDT", 10, 4e6, NOW), "BUSDT": OpenInterest("BUSDT", 10, None, NOW)}}
    rows = merge_universe(tickers, funding, oi, coins_by_base([_coin("A", 7)]))
    by_symbol = {r.symbol: r for r in rows}
    a = by_symbol["AUSDT"]
    assert (a.price_venue, a.last_price, a.change_24h_pct) == ("binance", 2.0, 12.0)  # the deepest venue
    assert a.quote_volume_usd == 12e6 and a.volume_venues == ("binance", "bybit")
    assert a.open_interest_usd == 4e6 and a.open_interest_venues == ("bybit",)
    assert a.coin is not None and a.coin.market_cap_rank == 7
    assert by_symbol["BUSDT"].open_interest_usd is None  # Bybit gave no USD: unknown, not zero

    gainers = screen(rows, ScreenKind.GAINERS, 10, 1e6)
    assert [r.symbol for r in gainers.rows] == ["AUSDT", "BUSDT"] and gainers.below_min_volume == 1
    assert [r.symbol for r in screen(rows, ScreenKind.GAINERS, 10, 0).rows] == ["CUSDT", "AUSDT", "BUSDT"]
    assert [r.symbol for r in screen(rows, ScreenKind.LOSERS, 1, 0).rows] == ["BUSDT"]
    assert [r.symbol for r in screen(rows, ScreenKind.VOLUME, 10, 0).rows] == ["AUSDT", "BUSDT", "CUSDT"]
    high = screen(rows, ScreenKind.FUNDING_HIGH, 10, 0)
    assert [r.symbol for r in high.rows] == ["AUSDT", "BUSDT"] and high.without_figure == 1
    assert high.rows[0].funding_high is not None and high.rows[0].funding_high.rate_8h_pct == pytest.approx(0.05)
    low = screen(rows, ScreenKind.FUNDING_LOW, 10, 0)
    # BUSDT -0.02 % per 4 h = -0.04 % per 8 h, below AUSDT's lowest venue (-0.01 %)
    assert [r.symbol for r in low.rows] == ["BUSDT", "AUSDT"]
    assert low.rows[0].funding_low is not None and low.rows[0].funding_low.rate_8h_pct == pytest.approx(-0.04)
    leaders = screen(rows, ScreenKind.OPEN_INTEREST, 10, 0)
    assert [r.symbol for r in leaders.rows] == ["AUSDT"] and leaders.without_figure == 2


# --------------------------------------------------------------------------------------------------
# spikes: a hand-computed z-score


def test_zscore_hand_computed() -> None:
    history = [10.0, 12.0, 8.0, 11.0, 9.0, 10.0]  # mean 10, sample variance (0+4+4+1+1+0)/5 = 2
    score = zscore(16.0, history)
    assert score is not None
    assert score.mean == 10.0 and score.stdev == pytest.approx(math.sqrt(2.0))
    assert score.z == pytest.approx(6.0 / math.sqrt(2.0)) == pytest.approx(4.2426, abs=1e-4)
    assert zscore(16.0, history[:5]) is None  # fewer than MIN_WINDOWS past windows
    assert zscore(16.0, [3.0] * 8) is None  # a flat history has no z


def test_ring_changes_over_each_horizon_against_their_own_history() -> None:
    start = slot_of(NOW)
    # open interest rises by 100 a slot with a little noise, then jumps by 1,000 in the last 5 minutes
    noise = [0, 5, -5, 10, -10, 0, 5, -5, 10, -10, 0, 5, -5, 10]
    oi = [1e6 + 100 * i + n for i, n in enumerate(noise)]
    oi.append(oi[-1] + 1_000)
    ring = SlotRing()
    for i, value in enumerate(oi):
        ring.record(start + i, {SpikeMetric.OPEN_INTEREST: value})
    score, windows = ring.reading(SpikeMetric.OPEN_INTEREST, Horizon.M5)
    past = [oi[-1 - j] - oi[-2 - j] for j in range(1, 13)]
    expected = (1_000 - statistics.fmean(past)) / statistics.stdev(past)
    assert windows == 12 and score is not None
    assert score.value == 1_000 and score.z == pytest.approx(expected)
    assert score.z > Horizon.M5.threshold
    # 15 minutes: 15 sampled slots hold 3 complete past windows (ending 3, 6 and 9 slots back), not enough yet
    assert ring.reading(SpikeMetric.OPEN_INTEREST, Horizon.M15) == (None, 3)
    # volume was never sampled: no reading at all
    assert ring.reading(SpikeMetric.QUOTE_VOLUME, Horizon.M5) == (None, 0)


def test_history_flags_spikes_by_threshold_and_direction() -> None:
    history = SpikeHistory()
    base = [0, 3, -3, 2, -2, 1, -1, 0]
    for i, n in enumerate(base):
        t = NOW + i * SLOT
        history.record(
            "bybit",
            t,
            {"AUSDT": {SpikeMetric.QUOTE_VOLUME: 1e6 + 10 * i + n, SpikeMetric.OPEN_INTEREST: 5e5 + n}},
            {"AUSDT": 2.0},
        )
    t = NOW + len(base) * SLOT
    last_volume = 1e6 + 10 * (len(base) - 1) + base[-1]
    history.record(
        "bybit",
        t,
        {"AUSDT": {SpikeMetric.QUOTE_VOLUME: last_volume - 500, SpikeMetric.OPEN_INTEREST: 5e5 - 400}},
        {"AUSDT": 2.0},
    )
    volume, _ = history.ring("bybit", "AUSDT").reading(SpikeMetric.QUOTE_VOLUME, Horizon.M5)  # type: ignore[union-attr]
    assert volume is not None and volume.z < -Horizon.M5.threshold  # a strong drop, read and not counted
    assert volume.value == pytest.approx(-500 * 2.0)  # coins valued at the last price
    spikes = history.spikes()
    # the OI flush counts (both ways); the volume drop does not (volume counts upward only)
    assert [(s.metric, s.horizon) for s in spikes] == [(SpikeMetric.OPEN_INTEREST, Horizon.M5)]
    assert spikes[0].score.z < -Horizon.M5.threshold
    assert history.windows_available(Horizon.M5) == 7 and history.windows_available(Horizon.H1) == 0


def _okx_ticker(symbol: str, coins_24h: float, last: float) -> Ticker24h:
    """What providers/okx/domain.to_ticker makes of a swap ticker: its quote volume is coins x last."""
    return Ticker24h(symbol, last, 0.0, last, last, coins_24h, coins_24h * last, NOW)


def test_a_price_move_is_not_a_volume_spike_but_a_burst_of_coins_is() -> None:
    from engine.inputs import Reading
    from resolvers.spike_monitor import _prices, _values

    history = SpikeHistory()
    noise = [0, 40, -40, 30, -30, 20, -20, 10, 0]
    coins = [1e6 + 100 * i + n for i, n in enumerate(noise)]  # ~100 coins a slot more than a day ago
    prices = [100.0] * len(coins)
    coins.append(coins[-1] + 100)  # the usual volume ...
    prices.append(103.0)  # ... while the price jumps 3 %: ~$3 M more "quote volume" if it were coins x last
    coins.append(coins[-1] + 5_000)  # then a real burst: 5,000 coins in five minutes
    prices.append(103.0)
    empty: Reading[Mapping[str, OpenInterest]] = Reading({}, "okx.open-interest")
    for i, (c, p) in enumerate(zip(coins, prices, strict=True)):
        tickers: Reading[Mapping[str, Ticker24h]] = Reading({"AUSDT": _okx_ticker("AUSDT", c, p)}, "okx.tickers")
        history.record("okx", NOW + i * SLOT, _values(tickers, empty), _prices(tickers))
        if i == len(coins) - 2:
            assert history.spikes() == []  # the price move alone
    [burst] = history.spikes()
    assert (burst.metric, burst.horizon) == (SpikeMetric.QUOTE_VOLUME, Horizon.M5)
    assert burst.score.value == pytest.approx(5_000 * 103.0)  # USD at the latest price
    assert burst.score.z > Horizon.M5.threshold


def test_a_venue_missing_from_the_latest_sample_reports_no_old_spike() -> None:
    history = SpikeHistory()
    noise = [0, 3, -3, 2, -2, 1, -1, 0]
    for i, n in enumerate(noise):
        t = NOW + i * SLOT
        history.record("bybit", t, {"AUSDT": {SpikeMetric.OPEN_INTEREST: 5e5 + n}})
        history.record("okx", t, {"AUSDT": {SpikeMetric.OPEN_INTEREST: 7e5 + n}})
    t = NOW + len(noise) * SLOT
    history.record("bybit", t, {"AUSDT": {SpikeMetric.OPEN_INTEREST: 5e5 - 400}})  # a flush on Bybit
    history.record("okx", t, {"AUSDT": {SpikeMetric.OPEN_INTEREST: 7e5 + 1}})
    assert [s.venue for s in history.spikes()] == ["bybit"]
    # five minutes later Bybit's tickers fail (nothing recorded for it) while OKX answers as usual: the
    # flush is 5 minutes old and Bybit's current change is unknown, so no Bybit spike is reported as current
    history.record("okx", t + SLOT, {"AUSDT": {SpikeMetric.OPEN_INTEREST: 7e5 - 1}})
    assert history.spikes() == []


# --------------------------------------------------------------------------------------------------
# end to end over a replay server (cassette built from the fixture files)


# Bybit's documented instruments-info example (https://bybit-exchange.github.io/docs/v5/market/instrument, as
# kept in JKorf/Bybit.Net's unit tests, MIT): one perpetual, BTCUSDT, launched 2020-03-30
BYBIT_INSTRUMENTS = {
    "retCode": 0,
    "retMsg": "OK",
    "result": {
        "category": "linear",
        "list": [
            {
                "symbol": "BTCUSDT", "contractType": "LinearPerpetual", "status": "Trading", "baseCoin": "BTC",
                "quoteCoin": "USDT", "launchTime": "1585526400000", "deliveryTime": "0", "deliveryFeeRate": "",
                "priceScale": "2",
                "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
                "priceFilter": {"minPrice": "0.10", "maxPrice": "199999.80", "tickSize": "0.10"},
                "lotSizeFilter": {
                    "maxOrderQty": "100.000", "maxMktOrderQty": "100.000", "minOrderQty": "0.001", "qtyStep": "0.001",
                    "postOnlyMaxOrderQty": "1000.000", "minNotionalValue": "5",
                },
                "unifiedMarginTrade": True, "fundingInterval": 480, "settleCoin": "USDT", "copyTrading": "both",
                "upperFundingRate": "0.00375", "lowerFundingRate": "-0.00375",
            }
        ],
        "nextPageCursor": "",
    },
    "retExtInfo": {},
    "time": 1707186451514,
}  # fmt: skip


def _listing_cassette() -> dict[str, Any]:
    info = fixture_json("binance", "fapi_v1_exchangeInfo.json")
    http = [
        cassette_entry("binance", "/fapi/v1/exchangeInfo", info),
        cassette_entry("bybit", "/v5/market/instruments-info", BYBIT_INSTRUMENTS, {"category": "linear"}),
    ]
    return {"version": 1, "clock": CLOCK_2021, "http": http}


async def test_new_listings_end_to_end(graphql: Callable[..., Any]) -> None:
    query = """
    query($h: Float!, $venues: [String!]) { newListings(withinHours: $h, venues: $venues) {
      __typename
      ... on NewListings { asOf venues missing listings { symbol venue listedAt ageHours status alsoListedOn
        notListedOn unknownOn firstDayChangePct figuresMissing } }
      ... on Problem { code message }
      ... on InvalidInput { field }
    } }"""
    async with running_service(_listing_cassette(), streams_enabled=False) as (url, _):
        status, body = await graphql(url, query, {"h": 150})
        assert status == 200, body
        answer = body["data"]["newListings"]
        assert answer["__typename"] == "NewListings"
        assert answer["asOf"].startswith("2021-07-21T09:04:03")  # the cassette's clock, not the wall clock
        [tlm] = answer["listings"]
        assert (tlm["symbol"], tlm["venue"], tlm["listedAt"]) == ("TLMUSDT", "binance", "2021-07-15T07:00:00+00:00")
        assert tlm["ageHours"] == pytest.approx(146.0677, abs=1e-3)
        # Bybit answered without TLMUSDT ("not listed"); OKX's listing is not in the cassette: unknown, not "no"
        assert (tlm["alsoListedOn"], tlm["notListedOn"], tlm["unknownOn"]) == ([], ["bybit"], ["okx"])
        assert tlm["firstDayChangePct"] is None and "klines" in tlm["figuresMissing"]
        assert [m.split(":")[0] for m in answer["missing"]] == ["listing okx"]
        # Bybit's BTCUSDT (2020-03-30) is older than any window; Binance's (2019-09-25) too
        _, wide = await graphql(url, query, {"h": 720, "venues": ["bybit", "binance"]})
        assert [(x["symbol"], x["venue"]) for x in wide["data"]["newListings"]["listings"]] == [("TLMUSDT", "binance")]

        _, narrow = await graphql(url, query, {"h": 146})
        assert narrow["data"]["newListings"]["listings"] == []
        _, bad = await graphql(url, query, {"h": 0})
        assert bad["data"]["newListings"] == {
            "__typename": "InvalidInput",
            "code": "INVALID_INPUT",
            "message": "withinHours must be in (0, 720]",
            "field": "withinHours",
        }
        _, venue = await graphql(url, query, {"h": 72, "venues": ["kraken"]})
        assert venue["data"]["newListings"]["field"] == "venues"
        _, down = await graphql(url, query, {"h": 72, "venues": ["okx"]})
        assert down["data"]["newListings"]["code"] == "UPSTREAM_UNAVAILABLE"


def _ticker_cassette() -> dict[str, Any]:
    tickers = fixture_json("binance", "fapi_v1_ticker_24hr.json")  # one real row (BTCUSDT)
    premium = fixture_json("binance", "fapi_v1_premiumIndex.json")  # one real row (BTCUSDT)
    return {
        "version": 1,
        "clock": 1789478298702,
        "http": [
            cassette_entry("binance", "/fapi/v1/ticker/24hr", [tickers]),
            cassette_entry("binance", "/fapi/v1/premiumIndex", [premium]),
            cassette_entry("binance", "/fapi/v1/fundingInfo", []),
        ],
    }


async def test_screener_and_spikes_end_to_end(graphql: Callable[..., Any]) -> None:
    cassette = _ticker_cassette()
    screener = """
    query($kind: ScreenerKind!) { screener(kind: $kind, limit: 5, minQuoteVolumeUsd: 0, venues: ["binance"]) {
      __typename
      ... on Screener { kind screened withoutFigure missing rows { rank symbol value priceVenue quoteVolumeUsd
        openInterestUsd funding { venue rate8hPct intervalHours } } }
      ... on Problem { code message }
    } }"""
    spikes = """{ spikes(minZ: 2.0) { __typename ... on SpikeScan { venues symbolsTracked warmingUp missing
      spikes { symbol } thresholds { horizon minZ } } ... on Problem { code } } }"""
    async with running_service(cassette, streams_enabled=False) as (url, _):
        _, body = await graphql(url, screener, {"kind": "GAINERS"})
        answer = body["data"]["screener"]
        assert answer["__typename"] == "Screener" and answer["screened"] == 1
        [row] = answer["rows"]
        assert (row["rank"], row["symbol"], row["value"], row["priceVenue"]) == (1, "BTCUSDT", -1.138, "binance")
        assert row["quoteVolumeUsd"] == 13258734360.38 and row["openInterestUsd"] is None
        # 0.00009145 per 8 h (not in fundingInfo: Binance's default interval) = 0.009145 % per 8 h
        assert row["funding"] == [{"venue": "binance", "rate8hPct": pytest.approx(0.009145), "intervalHours": 8.0}]
        assert any(
            m.startswith("open interest binance: binance does not serve open_interest_all") for m in answer["missing"]
        )
        async with httpx2.AsyncClient(timeout=10) as client:  # the REST shim of the same operation
            rest = await client.get(
                f"{url}/v1/screener/run", params={"kind": "losers", "venues": "binance", "minQuoteVolumeUsd": "0"}
            )
        assert rest.status_code == 200, rest.text
        assert rest.json()["data"]["rows"][0]["symbol"] == "BTCUSDT"
        _, oi = await graphql(url, screener, {"kind": "OPEN_INTEREST"})
        assert oi["data"]["screener"]["rows"] == [] and oi["data"]["screener"]["withoutFigure"] == 1

        _, body = await graphql(url, spikes)
        scan = body["data"]["spikes"]
        assert scan["__typename"] == "SpikeScan" and scan["spikes"] == []
        assert scan["symbolsTracked"] == 1  # BTCUSDT on Binance; Bybit and OKX are not in the cassette
        assert scan["warmingUp"] == [f"{h}: 0 of 6 past windows sampled" for h in ("5m", "15m", "1h")]
        assert {t["minZ"] for t in scan["thresholds"]} == {2.0}
        _, bad = await graphql(url, "{ spikes(minZ: -1) { __typename ... on InvalidInput { field } } }")
        assert bad["data"]["spikes"] == {"__typename": "InvalidInput", "field": "minZ"}


async def test_spikes_subscription_shares_one_scan_and_refuses_bad_input() -> None:
    import json

    import websockets

    async def first(url: str, query: str) -> dict[str, Any]:
        protocol = [websockets.Subprotocol("graphql-transport-ws")]
        async with websockets.connect(url, subprotocols=protocol) as ws:
            await ws.send(json.dumps({"type": "connection_init"}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
            for _ in range(10):  # bounded: skip pings
                message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if message["type"] != "ping":
                    return message
        raise AssertionError("no message")

    query = "subscription { spikes(minZ: 2.5) { venues symbolsTracked warmingUp thresholds { minZ } } }"
    async with running_service(_ticker_cassette(), streams_enabled=False) as (url, _):
        ws_url = url.replace("http://", "ws://") + "/graphql"
        one, two = await asyncio.gather(first(ws_url, query), first(ws_url, query))
        for message in (one, two):
            assert message["type"] == "next", message
            scan = message["payload"]["data"]["spikes"]
            assert scan["venues"] == ["binance", "bybit", "okx"]
            assert {t["minZ"] for t in scan["thresholds"]} == {2.5}
            assert scan["symbolsTracked"] == 1 and len(scan["warmingUp"]) == 3
        refused = await first(ws_url, "subscription { spikes(minZ: 0) { symbolsTracked } }")
        assert refused["type"] == "error", refused
        assert refused["payload"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_coin_markets_names_the_pages_left_out() -> None:
    from providers.registry import Registry
    from resolvers.gateway import MarketGateway, SourceOrder

    page = fixture_json("coingecko", "coins_markets.json")
    match = {"vs_currency": "usd", "order": "market_cap_desc", "per_page": "250", "page": "1"}
    cassette = Cassette.model_validate(
        {"version": 1, "clock": 1747572561599, "http": [cassette_entry("coingecko", "/coins/markets", page, match)]}
    )
    async with served_deps(ReplayApp(cassette).app, "coingecko", {}) as deps:
        venue = build_coingecko(deps)
        assert venue is not None
        status = dict.fromkeys(SourceOrder.of().providers(), "disabled") | {"coingecko": "enabled"}
        gateway = MarketGateway(Registry({"coingecko": venue}, status), clock=lambda: NOW)
        one = await gateway.coin_markets(1)
        two = await gateway.coin_markets(2)  # page 2 is not in the cassette: 404
        listings = await gateway.listings()
    assert one.value is not None and len(one.value) == 1 and one.failed == ()
    assert two.value == one.value
    [left_out] = two.failed
    assert left_out.startswith("coingecko.coins.markets.page page 2:") and "ranked below 1 left out" in left_out
    # the exchanges are off in this registry: each venue's listing says so, none is guessed
    assert {v: r.available for v, r in listings.items()} == {"binance": False, "bybit": False, "okx": False}
    assert listings["okx"].error == "okx: disabled"
