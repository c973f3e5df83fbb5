"""MSS: golden cases from the predecessor's tables (REFERENCE §3), a missing phase is unavailable (never 0),
and the ``mss`` / ``mssScan`` fields end to end on real fixtures through the replay server."""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from engine.inputs import Reading
from engine.market import Trade
from engine.mss import (
    AGE,
    ALT_RANK,
    CIRCULATING,
    FDV,
    FUNDING,
    GALAXY,
    OI_CHANGE,
    SENTIMENT,
    TOP_TRADER,
    VOLUME_SPIKE,
    WHALE,
    Band,
    MssTier,
    Phase,
    score_mss,
    whale_accumulation,
)
from tests.conftest import cassette_body, load_cassette_json, running_service
from tests.providers_helpers import cassette_entry, fixture_json

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

CASSETTE = "btc-2025-11-14-latest.json"


def readings(values: Mapping[str, float | None]) -> dict[str, Reading[float]]:
    return {
        name: Reading(value=v, source="test.by_hand") if v is not None else Reading.missing("not in this case")
        for name, v in values.items()
    }


FULL_TOP = {
    "fdv": 4e6,
    "age": 20,
    "circulating_share": 15,
    "alt_rank": 40,
    "galaxy_score": 80,
    "sentiment": 72,
    "volume_spike": 250,
    "oi_change": 210,
    "funding": 0.02,
    "top_trader_ratio": 2.0,
    "whale_accumulation": 1,
}
# every value on a table bound: the bound belongs to the better row (≤ / ≥ as the predecessor wrote them)
ON_BOUNDS = {
    "fdv": 10e6,
    "age": 48,
    "circulating_share": 40,
    "alt_rank": 100,
    "galaxy_score": 65,
    "sentiment": 60,
    "volume_spike": 100,
    "oi_change": 50,
    "funding": 0.04,
    "top_trader_ratio": 2.5,
    "whale_accumulation": 0,
}
LOW = {
    "fdv": 60e6,
    "age": 200,
    "circulating_share": 80,
    "alt_rank": 600,
    "galaxy_score": 40,
    "sentiment": 40,
    "volume_spike": 10,
    "oi_change": -5,
    "funding": -0.01,
    "top_trader_ratio": 0.8,
    "whale_accumulation": 0,
}


@pytest.mark.parametrize(
    ("case", "phase_points", "total", "band", "tier"),
    [
        (FULL_TOP, (35, 30, 35), 100, Band.STRONG_LONG, MssTier.DIAMOND),
        (ON_BOUNDS, (13 + 10 + 6, 8 + 6 + 4.5 + 5, 7 + 8 + 10 + 0), 77.5, Band.STRONG_LONG, MssTier.GOLD),
        (LOW, (2 + 1 + 2, 1 + 1 + 1 + 0.5, 0 + 1 + 1 + 0), 10.5, Band.NEUTRAL, MssTier.BRONZE),
    ],
)
def test_golden_cases_from_the_predecessor_tables(
    case: dict[str, float], phase_points: tuple[float, ...], total: float, band: Band, tier: MssTier
) -> None:
    report = score_mss("NEWUSDT", readings(case))
    assert tuple(p.points for p in report.phases) == phase_points
    assert report.total == total and report.total_low == total and report.total_high == total
    assert report.complete and report.measurable_max == 100
    assert report.band is band and report.tier is tier
    assert [p.max_points for p in report.phases] == [35, 30, 35]


@pytest.mark.parametrize(
    ("rule", "value", "points"),
    [
        (FDV, 5e6, 15),
        (FDV, 5e6 + 1, 13),
        (FDV, 25e6, 10),
        (FDV, 50e6, 6),
        (AGE, 72, 7),
        (AGE, 168, 4),
        (AGE, 169, 1),
        (CIRCULATING, 20, 8),
        (CIRCULATING, 60, 4),
        (ALT_RANK, 200, 5),
        (ALT_RANK, 500, 3),
        (GALAXY, 75, 8),
        (GALAXY, 50, 4),
        (GALAXY, 49.9, 1),
        (SENTIMENT, 70, 6),
        (SENTIMENT, 50, 3),
        (VOLUME_SPIKE, 200, 6),
        (VOLUME_SPIKE, 50, 3.5),
        (VOLUME_SPIKE, 25, 2),
        (OI_CHANGE, 200, 12),
        (OI_CHANGE, 100, 10),
        (OI_CHANGE, 25, 4),
        (OI_CHANGE, 0, 1),
        (OI_CHANGE, -0.01, 0),
        (FUNDING, 0.01, 8),
        (FUNDING, 0.005, 5),
        (FUNDING, 0.041, 4),
        (FUNDING, 0.0, 1),
        (TOP_TRADER, 1.5, 10),
        (TOP_TRADER, 2.6, 5),
        (TOP_TRADER, 1.2, 7),
        (TOP_TRADER, 1.0, 4),
        (TOP_TRADER, 0.99, 1),
        (WHALE, 1, 5),
        (WHALE, 0, 0),
    ],
)
def test_every_row_of_every_table(rule: Any, value: float, points: float) -> None:
    assert rule.points(value) == points


def test_a_phase_with_missing_inputs_is_unavailable_never_zero() -> None:
    case = dict(FULL_TOP, alt_rank=None, galaxy_score=None)  # keyless: no LunarCrush numbers
    report = score_mss("NEWUSDT", readings(case))
    social = next(p for p in report.phases if p.phase is Phase.SOCIAL)
    assert not social.available and social.points is None and social.passes is None
    assert social.missing == ("alt_rank: not in this case", "galaxy_score: not in this case")
    # the measured social inputs are still shown with their points
    assert [i.points for i in social.inputs] == [None, None, 6, 6]
    assert report.total == 70 and report.measurable_max == 70
    # the full score lies between the missing inputs at their least (1 + 1) and their most (10 + 8)
    assert (report.total_low, report.total_high) == (70 + 6 + 6 + 2, 70 + 30)
    assert report.tier is MssTier.DIAMOND and report.band is Band.STRONG_LONG  # 84..100 cannot change them
    assert not report.complete


def test_an_undecidable_tier_is_null_with_its_range() -> None:
    case = dict(ON_BOUNDS, fdv=None)
    report = score_mss("NEWUSDT", readings(case))
    discovery = report.phases[0]
    assert not discovery.available and report.total == 23.5 + 25
    assert (report.total_low, report.total_high) == (77.5 - 13 + 2, 77.5 - 13 + 15)  # 66.5 .. 79.5
    assert report.tier is MssTier.GOLD  # 66.5 and 79.5 are both GOLD
    report = score_mss("NEWUSDT", readings(dict(ON_BOUNDS, oi_change=None, top_trader_ratio=None)))
    assert report.tier is None and report.band is None  # 56.5 .. 78.5: SILVER or GOLD, MODERATE_LONG .. STRONG


def test_the_whale_bonus_is_not_required_but_widens_the_range() -> None:
    report = score_mss("NEWUSDT", readings(dict(FULL_TOP, whale_accumulation=None)))
    institutional = report.phases[2]
    assert institutional.available and institutional.points == 30 and institutional.passes
    assert report.total == 95 and report.total_high == 100 and report.total_low == 95
    assert not report.complete and institutional.missing == ("whale_accumulation: not in this case",)


def test_passes_at_the_predecessor_thresholds() -> None:
    # discovery 13 + 7 + 0? no: 13 (≤10M) + 7 (≤72h) + 0 is impossible (min 2): use 10 + 4 + 6 = 20
    report = score_mss("X", readings(dict(FULL_TOP, fdv=25e6, age=100, circulating_share=40)))
    assert report.phases[0].points == 20 and report.phases[0].passes
    report = score_mss("X", readings(dict(FULL_TOP, fdv=25e6, age=100, circulating_share=50)))
    assert report.phases[0].points == 18 and report.phases[0].passes is False
    report = score_mss("X", readings(dict(FULL_TOP, alt_rank=100, galaxy_score=65, sentiment=50, volume_spike=25)))
    assert report.phases[1].points == 8 + 6 + 3 + 2 and report.phases[1].passes  # 19 ≥ 18


def test_whale_accumulation_from_large_trades() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def trade(side: str, usd: float, minute: int) -> Trade:
        return Trade("binance", "XUSDT", side, 10.0, usd / 10.0, t0 + timedelta(minutes=minute))

    buying = [trade("BUY", 150_000, 0), trade("SELL", 120_000, 1), trade("SELL", 99_999, 2), trade("BUY", 10, 30)]
    value, detail = whale_accumulation(buying, 100_000)
    assert value == 1.0 and detail == (
        "2 of the last 4 trades ≥ $100,000 over 30 min: bought $150,000, sold $120,000"
    )  # the $99,999 sell is not a whale trade
    assert whale_accumulation([*buying, trade("SELL", 40_000_000, 31)], 100_000)[0] == 0.0
    assert whale_accumulation([trade("BUY", 5, 0)], 100_000) == (
        0.0,
        "0 of the last 1 trades ≥ $100,000 over 0 min: bought $0, sold $0",
    )


def test_a_non_finite_value_is_missing_not_scored() -> None:
    report = score_mss("X", readings(dict(FULL_TOP, funding=math.nan)))
    assert not report.phases[2].available
    assert report.phases[2].missing == ("funding: not finite",)


def test_categories_come_from_the_coin_answer_and_a_null_entry_or_list_is_not_a_category() -> None:
    from providers.coingecko.domain import to_details
    from providers.coingecko.models import CoinGeckoCoinDetails

    coin = fixture_json("coingecko", "coins_id.json")
    assert to_details(CoinGeckoCoinDetails.model_validate(coin)).categories == ("Cryptocurrency", "Layer 1 (L1)")
    with_null = CoinGeckoCoinDetails.model_validate({**coin, "categories": [None, "Decentralized Finance (DeFi)"]})
    assert to_details(with_null).categories == ("Decentralized Finance (DeFi)",)
    without = CoinGeckoCoinDetails.model_validate({k: v for k, v in coin.items() if k != "categories"})
    assert to_details(without).categories is None  # not sent: unknown, not "no category"
    report = score_mss("X", readings(FULL_TOP), ("Meme",))
    assert report.categories == ("Meme",) and report.total == 100  # carried along, scores nothing


# -- end to end on the replay server ---------------------------------------------------------------------


def daily_klines(four_hour: list[list[Any]]) -> list[list[Any]]:
    """Binance 1d kline rows made from the cassette's real 4 h rows (six per UTC day, complete days only)."""
    days: dict[int, list[list[Any]]] = {}
    for row in four_hour:
        days.setdefault(int(row[0]) // 86_400_000 * 86_400_000, []).append(row)
    out = []
    for start, rows in sorted(days.items()):
        if len(rows) != 6:
            continue
        out.append(
            [
                start,
                rows[0][1],
                str(max(float(r[2]) for r in rows)),
                str(min(float(r[3]) for r in rows)),
                rows[-1][4],
                str(sum(float(r[5]) for r in rows)),
                start + 86_400_000 - 1,
                str(sum(float(r[7]) for r in rows)),
                sum(int(r[8]) for r in rows),
                str(sum(float(r[9]) for r in rows)),
                str(sum(float(r[10]) for r in rows)),
                "0",
            ]
        )
    return out


def mss_cassette(*, lunarcrush: bool) -> dict[str, Any]:
    """The BTC cassette plus the real CoinGecko and LunarCrush payloads and daily candles from its 4 h ones."""
    cassette = copy.deepcopy(load_cassette_json(CASSETTE))
    four_hour = cassette_body(cassette, "binance", "/fapi/v1/klines", symbol="BTCUSDT", interval="4h")
    extra = [
        cassette_entry("binance", "/fapi/v1/klines", daily_klines(four_hour), {"symbol": "BTCUSDT", "interval": "1d"}),
        cassette_entry(
            "coingecko",
            "/coins/bitcoin",
            fixture_json("coingecko", "coins_id.json"),
            {"market_data": "true", "community_data": "true"},
        ),
        cassette_entry(
            "binance", "/fapi/v1/aggTrades", fixture_json("binance", "fapi_v1_aggTrades.json"), {"symbol": "BTCUSDT"}
        ),
        cassette_entry("coingecko", "/search/trending", fixture_json("coingecko", "search_trending.json")),
    ]
    if lunarcrush:
        extra.append(
            cassette_entry("lunarcrush", "/public/coins/BTC/v1", fixture_json("lunarcrush", "public_coins_BTC_v1.json"))
        )
    cassette["http"].extend(extra)
    return cassette


MSS_QUERY = """
query ($symbol: String!) {
  mss(symbol: $symbol) {
    __typename
    ... on MSSReport {
      symbol total measurableMax totalLow totalHigh complete band tier missing categories
      phases { name points maxPoints available passes missing inputs { name value source points error } }
    }
    ... on Problem { code message }
  }
}
"""


def _inputs(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["name"]: i for p in data["phases"] for i in p["inputs"]}


async def test_mss_keyless_on_real_payloads(graphql: Callable[..., Any]) -> None:
    cassette = mss_cassette(lunarcrush=False)
    coin = fixture_json("coingecko", "coins_id.json")
    top = cassette_body(cassette, "binance", "/futures/data/topLongShortPositionRatio", symbol="BTCUSDT", period="4h")
    async with running_service(cassette) as (base, _):
        status, body = await graphql(base, MSS_QUERY, {"symbol": "btc"})
    assert status == 200, body
    data = body["data"]["mss"]
    assert data["__typename"] == "MSSReport" and data["symbol"] == "BTCUSDT"
    inputs = _inputs(data)
    market = coin["market_data"]
    assert inputs["fdv"]["value"] == market["fully_diluted_valuation"]["usd"]
    assert inputs["fdv"]["points"] == FDV.points(market["fully_diluted_valuation"]["usd"])
    assert inputs["fdv"]["source"] == "coingecko.coins.details"
    # the same coins/{id} answer names the coin's sectors (not scored): no extra call
    assert data["categories"] == [c for c in coin["categories"] if c] == ["Cryptocurrency", "Layer 1 (L1)"]
    share = market["circulating_supply"] / market["total_supply"] * 100
    assert inputs["circulating_share"]["value"] == pytest.approx(share)
    assert inputs["age"]["points"] == 1  # listed on Binance in 2019
    # keyless: no AltRank or Galaxy Score, so the social phase is unavailable and says why
    social = next(p for p in data["phases"] if p["name"] == "social")
    assert not social["available"] and social["points"] is None and social["passes"] is None
    assert "LUNARCRUSH_API_KEY" in inputs["alt_rank"]["error"]
    assert inputs["sentiment"]["value"] == coin["sentiment_votes_up_percentage"]  # CoinGecko's up-votes
    assert inputs["top_trader_ratio"]["value"] == float(top[-1]["longShortRatio"])
    assert inputs["top_trader_ratio"]["points"] == TOP_TRADER.points(float(top[-1]["longShortRatio"]))
    assert inputs["volume_spike"]["value"] is not None and inputs["volume_spike"]["points"] is not None
    institutional = next(p for p in data["phases"] if p["name"] == "institutional")
    # the aggTrades fixture's two trades are small: no whale bought, a measured 0 (not missing)
    assert institutional["available"] and institutional["missing"] == []
    whale = inputs["whale_accumulation"]
    assert whale["value"] == 0 and whale["points"] == 0
    assert whale["source"].startswith("binance.aggTrades (0 of the last 2 trades ≥ $100,000")
    assert data["measurableMax"] == 70 and data["total"] == sum(p["points"] for p in data["phases"] if p["available"])
    measured_social = sum(i["points"] for i in social["inputs"] if i["points"] is not None)
    # missing: AltRank (1..10), Galaxy Score (1..8)
    assert data["totalLow"] == data["total"] + measured_social + 1 + 1
    assert data["totalHigh"] == data["total"] + measured_social + 10 + 8


async def test_mss_with_a_lunarcrush_key_completes_the_social_phase(graphql: Callable[..., Any]) -> None:
    cassette = mss_cassette(lunarcrush=True)
    lunar = fixture_json("lunarcrush", "public_coins_BTC_v1.json")["data"]
    async with running_service(cassette, lunarcrush_api_key="test-key") as (base, replay):
        status, body = await graphql(base, MSS_QUERY, {"symbol": "BTCUSDT"})
    assert status == 200, body
    data = body["data"]["mss"]
    inputs = _inputs(data)
    assert inputs["galaxy_score"]["value"] == lunar["galaxy_score"]
    assert inputs["galaxy_score"]["points"] == GALAXY.points(lunar["galaxy_score"])
    assert inputs["alt_rank"]["points"] == ALT_RANK.points(lunar["alt_rank"])
    assert inputs["alt_rank"]["source"] == "lunarcrush.coins"
    # LunarCrush's coin answer carries no sentiment: CoinGecko's up-votes fill it, and say so
    assert inputs["sentiment"]["source"] == "coingecko.coins.details"
    social = next(p for p in data["phases"] if p["name"] == "social")
    assert social["available"] and social["points"] == sum(i["points"] for i in social["inputs"])
    assert replay.calls["lunarcrush GET /public/coins/BTC/v1"] == 1


async def test_mss_problems_are_typed(graphql: Callable[..., Any]) -> None:
    async with running_service(mss_cassette(lunarcrush=False)) as (base, _):
        _, bad = await graphql(base, MSS_QUERY, {"symbol": "BTC USDT!"})
        _, unknown = await graphql(base, MSS_QUERY, {"symbol": "NOTACOIN"})
        _, scan = await graphql(base, "{ mssScan(limit: 0) { __typename ... on Problem { code } } }")
    assert bad["data"]["mss"]["code"] == "INVALID_INPUT"
    assert unknown["data"]["mss"]["code"] == "SYMBOL_NOT_FOUND"
    assert scan["data"]["mssScan"]["code"] == "INVALID_INPUT"


SCAN_QUERY = """
query ($within: Float!, $fdv: Float) {
  mssScan(limit: 3, withinHours: $within, maxFdvUsd: $fdv) {
    __typename
    ... on MssScan {
      candidates skipped failures coingeckoCalls lunarcrushCalls
      items { symbol venue ageHours report { total measurableMax phases { name available } } }
    }
    ... on Problem { code message }
  }
}
"""


async def test_mss_scan_scores_new_listings_within_its_budget(graphql: Callable[..., Any]) -> None:
    """The exchangeInfo fixture's newest listings, scored at a clock a day after the newest onboardDate."""
    cassette = mss_cassette(lunarcrush=False)
    info = cassette_body(cassette, "binance", "/fapi/v1/exchangeInfo")
    perpetuals = [s for s in info["symbols"] if s["contractType"] == "PERPETUAL" and s["quoteAsset"] == "USDT"]
    newest = max(perpetuals, key=lambda s: s["onboardDate"])
    now = datetime.fromtimestamp(newest["onboardDate"] / 1000, tz=UTC) + timedelta(hours=24)
    window = [
        s for s in perpetuals if now - datetime.fromtimestamp(s["onboardDate"] / 1000, tz=UTC) <= timedelta(hours=72)
    ]
    async with running_service(cassette, clock=lambda: now, mss_scan_coingecko_calls=2) as (base, replay):
        status, body = await graphql(base, SCAN_QUERY, {"within": 72.0})
        calls = dict(replay.calls)
    assert status == 200, body
    scan = body["data"]["mssScan"]
    assert scan["__typename"] == "MssScan", scan
    assert scan["candidates"] == len({s["symbol"] for s in window})
    assert len(scan["items"]) == min(3, len(window))
    assert all(0 <= item["ageHours"] <= 72 for item in scan["items"])
    assert scan["coingeckoCalls"] <= 2 and scan["lunarcrushCalls"] == 0
    coingecko = sum(n for key, n in calls.items() if key.startswith("coingecko "))
    assert coingecko <= 2  # the budget bounds the calls, not just the counter
    if len(window) > 3:
        assert any("beyond limit 3" in s for s in scan["skipped"])


async def test_mss_scan_over_a_screener(graphql: Callable[..., Any]) -> None:
    """The screener's top gainer (the cassette's one ticker row, BTCUSDT) scored; its age from the listing."""
    query = """
    { mssScan(limit: 2, screen: GAINERS) { __typename ... on MssScan {
        candidates items { symbol origin listedAt ageHours report { phases { name inputs { name value source } } } }
    } ... on Problem { code message } } }
    """
    async with running_service(mss_cassette(lunarcrush=False)) as (base, _):
        status, body = await graphql(base, query)
    assert status == 200, body
    scan = body["data"]["mssScan"]
    assert scan["__typename"] == "MssScan", scan
    [item] = scan["items"]
    assert item["symbol"] == "BTCUSDT" and item["origin"] == "screener gainers #1" and item["listedAt"] is None
    age = next(i for p in item["report"]["phases"] for i in p["inputs"] if i["name"] == "age")
    assert age["source"] == "binance.exchangeInfo" and item["ageHours"] == pytest.approx(age["value"], abs=0.01)


async def test_mss_scan_leaves_out_what_its_lunarcrush_budget_cannot_pay(graphql: Callable[..., Any]) -> None:
    cassette = mss_cassette(lunarcrush=True)
    info = cassette_body(cassette, "binance", "/fapi/v1/exchangeInfo")
    newest = max(s["onboardDate"] for s in info["symbols"])
    now = datetime.fromtimestamp(newest / 1000, tz=UTC) + timedelta(hours=1)
    query = "{ mssScan(limit: 1, withinHours: 24) { ... on MssScan { lunarcrushCalls items { report { missing } } } } }"
    settings: dict[str, Any] = {"lunarcrush_api_key": "test-key", "mss_scan_lunarcrush_calls": 0}
    async with running_service(cassette, clock=lambda: now, **settings) as (base, replay):
        _, body = await graphql(base, query)
        lunar_calls = sum(n for key, n in replay.calls.items() if key.startswith("lunarcrush "))
    scan = body["data"]["mssScan"]
    assert scan["lunarcrushCalls"] == 0 and lunar_calls == 0
    [item] = scan["items"]
    assert "alt_rank: left out: this scan's LunarCrush budget is spent" in item["report"]["missing"]
