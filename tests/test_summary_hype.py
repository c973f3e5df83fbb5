"""Market summary (overall rules, English and Indonesian text from the numbers, batched and cached end to end)
and social hype (component scores, spike against its own history, divergence, keyless on real fixtures)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx2
import pytest

from engine.hype import Divergence, alt_rank_score, score_hype, trending_score
from engine.inputs import Reading
from engine.summary import CoinSignal, Overall, overall_of, summarize
from resolvers.discovery import HypeHistory
from tests.conftest import cassette_body, running_service
from tests.providers_helpers import cassette_entry, fixture_json
from tests.test_mss import mss_cassette

if TYPE_CHECKING:
    from collections.abc import Callable


def coin(
    symbol: str, rec: str | None, score: float | None = 60.0, funding: float | None = 0.01, liq: float | None = 55.0
) -> CoinSignal:
    if rec is None:  # a coin without a signal has none of its numbers either
        return CoinSignal(f"{symbol}USDT", None, None, None, None, "UPSTREAM_UNAVAILABLE: no venue answered")
    return CoinSignal(f"{symbol}USDT", rec, score, funding, liq)


@pytest.mark.parametrize(
    ("longs", "shorts", "neutrals", "overall"),
    [
        (5, 0, 0, Overall.BULLISH),
        (3, 1, 1, Overall.BULLISH),  # 60 % long, 20 % short
        (3, 2, 0, Overall.MIXED),
        (0, 4, 1, Overall.BEARISH),
        (1, 1, 3, Overall.MIXED),
        (0, 0, 5, Overall.NEUTRAL),
        (1, 0, 4, Overall.NEUTRAL),
        (2, 0, 0, None),  # fewer than 3 coins with a signal: no call
    ],
)
def test_overall_rules(longs: int, shorts: int, neutrals: int, overall: Overall | None) -> None:
    assert overall_of(longs, shorts, neutrals) is overall


def test_summary_text_in_both_languages_from_the_numbers() -> None:
    coins = [
        coin("BTC", "LONG", 70.0, 0.0125, 62.0),
        coin("ETH", "LONG", 66.0, 0.0075, 58.0),
        coin("SOL", "LONG", 64.5, None, None),
        coin("XRP", "NEUTRAL", 52.0, -0.005, 40.0),
        coin("BNB", None),
    ]
    summary = summarize(coins)
    assert summary.overall is Overall.BULLISH and (summary.longs, summary.shorts, summary.neutrals) == (3, 0, 1)
    funding = (0.0125 + 0.0075 - 0.005) / 3
    assert summary.average_funding_pct_8h == pytest.approx(funding) and summary.funding_coins == 3
    assert summary.liquidation_long_share_pct == pytest.approx((62 + 58 + 40) / 3, abs=0.05)
    assert summary.average_score == pytest.approx((70 + 66 + 64.5 + 52) / 4, abs=0.01)
    en, id_ = summary.explanation_en, summary.explanation_id
    assert en.startswith("Market is BULLISH: of 4 coins, 3 LONG (BTC, ETH, SOL), 1 NEUTRAL (XRP); average score 63.1.")
    assert f"Average funding {funding:+.4f}% per 8 h over 3 coins (longs pay shorts)." in en
    assert "longs 53% of liquidated value over 3 coins (longs were flushed)" in en
    assert "BNB: no signal (UPSTREAM_UNAVAILABLE: no venue answered)." in en
    # Indonesian: same numbers, comma decimals
    assert id_.startswith("Pasar BULLISH: dari 4 koin, 3 LONG (BTC, ETH, SOL), 1 NETRAL (XRP); skor rata-rata 63,1.")
    assert (
        f"Funding rata-rata +{funding:.4f}".replace(".", ",") + "% per 8 jam dari 3 koin (long membayar short)." in id_
    )
    assert "Likuidasi 24 jam: long 53% dari nilai terlikuidasi pada 3 koin (posisi long tersapu)." in id_
    assert "BNB: tidak ada sinyal" in id_


def test_summary_without_enough_signals_says_so_in_both_languages() -> None:
    summary = summarize([coin("BTC", "SHORT", 30, -0.02, 35), coin("ETH", None), coin("SOL", None)])
    assert summary.overall is None
    assert summary.explanation_en.startswith("No overall call: only 1 of 3 coins have a signal")
    assert summary.explanation_id.startswith("Belum ada kesimpulan: hanya 1 dari 3 koin")
    assert "shorts pay longs" in summary.explanation_en and "short membayar long" in summary.explanation_id
    assert "shorts were squeezed" in summary.explanation_en and "posisi short terjepit" in summary.explanation_id


SUMMARY = """
query ($symbols: [String!]) {
  marketSummary(symbols: $symbols) {
    __typename
    ... on MarketSummary {
      overall longs shorts neutrals averageScore averageFundingPct8h fundingCoins explanationEn explanationId
      coins { symbol recommendation score fundingPct8h problem }
    }
    ... on Problem { code message }
  }
}
"""


async def test_market_summary_end_to_end_is_batched_and_cached(graphql: Callable[..., Any]) -> None:
    cassette = mss_cassette(lunarcrush=False)
    premium = cassette_body(cassette, "binance", "/fapi/v1/premiumIndex", symbol="BTCUSDT")
    async with running_service(cassette) as (base, replay):
        status, first = await graphql(base, SUMMARY, {"symbols": ["BTC"]})
        calls_after_first = sum(replay.calls.values())
        _, second = await graphql(base, SUMMARY, {"symbols": ["BTC"]})
        calls_after_second = sum(replay.calls.values())
        _, too_many = await graphql(base, SUMMARY, {"symbols": [f"C{i}" for i in range(11)]})
    assert status == 200, first
    data = first["data"]["marketSummary"]
    assert data["__typename"] == "MarketSummary" and data["overall"] is None  # one coin: no overall call
    [btc] = data["coins"]
    assert btc["recommendation"] in ("LONG", "SHORT", "NEUTRAL")
    # funding as the signal read it: percent per 8 h from premiumIndex's lastFundingRate
    assert btc["fundingPct8h"] == pytest.approx(float(premium["lastFundingRate"]) * 100)
    assert data["averageFundingPct8h"] == pytest.approx(btc["fundingPct8h"])
    assert f"{btc['fundingPct8h']:+.4f}%" in data["explanationEn"]
    assert f"{btc['fundingPct8h']:+.4f}%".replace(".", ",") in data["explanationId"]
    assert second["data"] == first["data"]
    assert calls_after_second == calls_after_first  # served from memory: no upstream call
    assert too_many["data"]["marketSummary"]["code"] == "INVALID_INPUT"


async def test_market_summary_over_rest() -> None:
    async with running_service(mss_cassette(lunarcrush=False)) as (base, _), httpx2.AsyncClient(timeout=20) as c:
        response = await c.post(f"{base}/invoke", json={"operation": "market.summary"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] and body["operation"] == "market.summary"
    summary = body["data"]
    assert summary["__typename"] == "MarketSummary" and [c["symbol"] for c in summary["coins"]] == [
        "BTCUSDT",
        "ETHUSDT",
        "SOLUSDT",
        "XRPUSDT",
        "BNBUSDT",
    ]  # the server's default list, in order; the cassette only knows BTC, so the others say why
    assert all(c["problem"] for c in summary["coins"][1:]) and summary["overall"] is None
    assert summary["explanationEn"].startswith("No overall call: only 1 of 5 coins have a signal")
    assert summary["explanationId"].startswith("Belum ada kesimpulan: hanya 1 dari 5 koin")


# -- social hype -----------------------------------------------------------------------------------------


def test_component_scores() -> None:
    assert trending_score(0) == 100 and trending_score(14) == 50 and trending_score(None) == 0
    assert alt_rank_score(1) == 100 and alt_rank_score(5000) == 0 and alt_rank_score(50_000) == 0
    assert alt_rank_score(100) == pytest.approx(100 * (1 - 2 / math.log10(5000)))
    with pytest.raises(ValueError, match="below 1"):
        alt_rank_score(0)


def _r(value: float | None) -> Reading[float]:
    return Reading(value=value, source="test") if value is not None else Reading.missing("no key")


def test_hype_score_renormalizes_over_what_was_read() -> None:
    keyless = score_hype("XUSDT", {"trending": _r(0), "galaxy_score": _r(None), "alt_rank": _r(None)})
    assert keyless.score == 100 and len(keyless.missing) == 2  # trending alone, not diluted by zeros
    keyed = score_hype("XUSDT", {"trending": _r(-1), "galaxy_score": _r(60), "alt_rank": _r(1)})
    assert keyed.score == pytest.approx((0 * 0.3 + 60 * 0.4 + 100 * 0.3) / 1.0)
    nothing = score_hype("XUSDT", {})
    assert nothing.score is None and nothing.spike is None and nothing.divergence is None


def test_spike_against_its_own_history_and_divergence() -> None:
    quiet = [20.0, 22.0, 21.0, 19.0, 20.0]
    spiking = score_hype("XUSDT", {"trending": _r(0)}, history=quiet, price_change_24h_pct=0.8)
    assert spiking.spike is True and spiking.hype_change == 80.0
    assert spiking.divergence is Divergence.HYPE_RISING_PRICE_FLAT
    falling = score_hype("XUSDT", {"trending": _r(0)}, history=quiet, price_change_24h_pct=-4.0)
    assert falling.divergence is Divergence.HYPE_RISING_PRICE_FALLING
    fading = score_hype("XUSDT", {"trending": _r(-1)}, history=quiet, price_change_24h_pct=5.0)
    assert fading.spike is False and fading.divergence is Divergence.PRICE_RISING_HYPE_FADING
    short = score_hype("XUSDT", {"trending": _r(0)}, history=quiet[:3])
    assert short.spike is None and "needs 5" in short.spike_detail


def test_hype_history_keeps_one_reading_per_interval_and_bounds_coins() -> None:
    history = HypeHistory(points=3, min_interval_seconds=300, max_coins=2)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    assert history.record("A", t0, 10) and not history.record("A", t0 + timedelta(seconds=60), 99)
    for i in range(1, 5):
        history.record("A", t0 + timedelta(minutes=5 * i), 10 + i)
    later = t0 + timedelta(hours=1)
    assert history.earlier("A", later) == (12, 13, 14)  # bounded per coin
    # a reading within the interval is the current one, not history: same-minute requests agree
    assert history.earlier("A", t0 + timedelta(minutes=22)) == (12, 13)
    history.record("B", t0, 1)
    history.record("C", t0, 1)  # a third coin drops the least recently used
    assert history.earlier("A", later) == () and history.earlier("C", later) == (1,)


HYPE = """
query { socialHype(symbol: "BTC") { __typename ... on SocialHype {
  score spike historyPoints missing keyAdds
  components { name rawValue score source error }
  context { name rawValue source }
} } }
"""


async def test_social_hype_keyless_on_real_fixtures(graphql: Callable[..., Any]) -> None:
    trending = fixture_json("coingecko", "search_trending.json")
    coin_id = fixture_json("coingecko", "coins_id.json")
    listed = {c["item"]["symbol"].upper() for c in trending["coins"]}
    async with running_service(mss_cassette(lunarcrush=False)) as (base, _):
        _, first = await graphql(base, HYPE)
    hype = first["data"]["socialHype"]
    components = {c["name"]: c for c in hype["components"]}
    assert components["trending"]["source"] == "coingecko.search.trending"
    assert components["trending"]["rawValue"] == (-1.0 if "BTC" not in listed else components["trending"]["rawValue"])
    assert hype["score"] == components["trending"]["score"]  # keyless: trending is the whole score
    assert "LUNARCRUSH_API_KEY" in components["galaxy_score"]["error"]
    context = {c["name"]: c["rawValue"] for c in hype["context"]}
    assert context["coingecko_up_votes_pct"] == coin_id["sentiment_votes_up_percentage"]
    assert context["reddit_subscribers"] == coin_id["community_data"]["reddit_subscribers"]
    assert hype["spike"] is None and hype["historyPoints"] == 0 and "LUNARCRUSH_API_KEY" in hype["keyAdds"]


async def test_social_hype_with_a_lunarcrush_key_adds_galaxy_altrank_and_the_topic_trend(
    graphql: Callable[..., Any],
) -> None:
    from tests.test_venue_lunarcrush import TOPIC_V1  # the documented topic answer the venue tests parse

    cassette = mss_cassette(lunarcrush=True)
    cassette["http"].append(cassette_entry("lunarcrush", "/public/topic/bitcoin/v1", TOPIC_V1))
    coin = fixture_json("lunarcrush", "public_coins_BTC_v1.json")["data"]
    async with running_service(cassette, lunarcrush_api_key="test-key") as (base, replay):
        _, body = await graphql(base, HYPE)
    hype = body["data"]["socialHype"]
    components = {c["name"]: c for c in hype["components"]}
    assert components["galaxy_score"]["rawValue"] == coin["galaxy_score"]
    assert components["alt_rank"]["score"] == pytest.approx(alt_rank_score(coin["alt_rank"]), abs=0.01)
    weighted = [
        (c["score"], {"trending": 0.3, "galaxy_score": 0.4, "alt_rank": 0.3}[c["name"]]) for c in components.values()
    ]
    assert hype["score"] == pytest.approx(sum(s * w for s, w in weighted) / sum(w for _, w in weighted), abs=0.01)
    context = {c["name"]: c for c in hype["context"]}
    assert context["lunarcrush_topic_trend"]["rawValue"] == 1.0  # "up"
    assert context["lunarcrush_topic_rank"]["rawValue"] == TOPIC_V1["data"]["topic_rank"]
    assert replay.calls["lunarcrush GET /public/topic/bitcoin/v1"] == 1


def five_coin_cassette() -> dict[str, Any]:
    """The MSS cassette with BTC's per-symbol payloads repeated under ETH, SOL, XRP and BNB (and their rows in
    the all-symbol answers): five coins with a signal each. Shared with bench/bench_summary.py."""
    import copy

    data = mss_cassette(lunarcrush=False)
    coins = {"ETH": "ethereum", "SOL": "solana", "XRP": "ripple", "BNB": "binancecoin", "TLM": None}
    extra: list[dict[str, Any]] = []
    for entry in data["http"]:
        body = entry["body"]
        if entry["match"].get("symbol") == "BTCUSDT":
            for base in coins:
                clone = copy.deepcopy(entry)
                clone["match"]["symbol"] = f"{base}USDT"
                if isinstance(clone["body"], dict) and clone["body"].get("symbol") == "BTCUSDT":
                    clone["body"]["symbol"] = f"{base}USDT"
                extra.append(clone)
        elif entry["provider"] == "binance" and not entry["match"] and isinstance(body, list):
            btc = [r for r in body if isinstance(r, dict) and r.get("symbol") == "BTCUSDT"]
            body.extend({**row, "symbol": f"{base}USDT"} for row in btc for base in coins)
        elif entry["provider"] == "coingecko" and entry["path"] == "/coins/bitcoin":
            for coin_id in filter(None, coins.values()):
                clone = copy.deepcopy(entry)
                clone["path"] = f"/coins/{coin_id}"
                extra.append(clone)
    extra.append(cassette_entry("coingecko", "/coins/list", fixture_json("coingecko", "coins_list.json")))
    # fundingInfo lists only the symbols whose interval Binance adjusted: none of these (all 8 h)
    extra.append(cassette_entry("binance", "/fapi/v1/fundingInfo", []))
    data["http"].extend(extra)
    return data


async def test_market_summary_over_five_coins_calls_the_market(graphql: Callable[..., Any]) -> None:
    async with running_service(five_coin_cassette()) as (base, replay):
        _, body = await graphql(base, SUMMARY, {"symbols": None})
        calls = dict(replay.calls)
    data = body["data"]["marketSummary"]
    recs = [c["recommendation"] for c in data["coins"]]
    assert [c["symbol"] for c in data["coins"]] == ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "BNBUSDT"]
    assert None not in recs and len(set(recs)) == 1  # the same payloads: the same signal five times
    longs, shorts = recs.count("LONG"), recs.count("SHORT")
    overall = overall_of(longs, shorts, 5 - longs - shorts)
    assert overall is not None and data["overall"] == overall.value
    assert data["explanationEn"].startswith(
        f"Market is {overall.value}: of 5 coins, 5 {recs[0]} (BTC, ETH, SOL, XRP, BNB)"
    )
    label = {"LONG": "LONG", "SHORT": "SHORT", "NEUTRAL": "NETRAL"}[recs[0]]
    word = {"BULLISH": "BULLISH", "BEARISH": "BEARISH", "NEUTRAL": "NETRAL", "MIXED": "CAMPURAN"}[overall.value]
    assert data["explanationId"].startswith(f"Pasar {word}: dari 5 koin, 5 {label} (BTC, ETH, SOL, XRP, BNB)")
    # batched: the all-symbol answers once for the five coins
    assert calls["binance GET /fapi/v1/premiumIndex"] == 1 and calls["binance GET /fapi/v1/ticker/24hr"] == 1


async def test_one_coin_spelled_three_ways_counts_once_and_a_malformed_symbol_is_bad_input(
    graphql: Callable[..., Any],
) -> None:
    async with running_service(five_coin_cassette()) as (base, _):
        _, same = await graphql(base, SUMMARY, {"symbols": ["BTC", "btcusdt", "BTC-USDT", "ETH", "SOL"]})
        _, bad = await graphql(base, SUMMARY, {"symbols": ["", "ETH", "SOL"]})
    data = same["data"]["marketSummary"]
    # three coins, not five: BTC's one signal must not be counted three times toward the market's word
    assert [c["symbol"] for c in data["coins"]] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert data["longs"] + data["shorts"] + data["neutrals"] == 3
    assert "of 3 coins" in data["explanationEn"] and "dari 3 koin" in data["explanationId"]
    assert bad["data"]["marketSummary"]["__typename"] == "InvalidInput"
    assert bad["data"]["marketSummary"]["code"] == "INVALID_INPUT"
    assert "'' is not a symbol" in bad["data"]["marketSummary"]["message"]
