"""Whale walls and book imbalance on real depth payloads, every expected number worked out by hand below.

Books: Binance ``/fapi/v1/depth`` (SUSHIUSDT, 1,000 levels a side, cryptofeed's live capture; BTCUSDT
limit=5, a live capture), Hyperliquid ``l2Book`` (BTC, 5 levels, nautilus_trader's capture), and the
documented examples of Bybit ``/v5/market/orderbook`` and OKX ``/api/v5/market/books`` (the samples in
their raw clients' docstrings). End to end: ``orderBook`` over a replay of the latest cassette with the
depth answers added in tmp_path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.market import OrderBook, utc_from_ms
from engine.orderbook import BookSide, EmptyBook, analyze_book, nearest_walls
from providers.binance.models import BinanceDepth
from providers.bybit.domain import to_order_book as bybit_book
from providers.bybit.raw import parse_order_book as parse_bybit
from providers.hyperliquid.domain import to_order_book as hyperliquid_book
from providers.hyperliquid.raw import parse_l2_book
from providers.okx.domain import to_order_book as okx_book
from providers.okx.raw import parse_order_book as parse_okx
from tests.conftest import CASSETTE_NAMES, load_cassette_json, running_service
from tests.providers_helpers import cassette_entry, fixture_json

if TYPE_CHECKING:
    from collections.abc import Callable

# the documented examples (Bybit v5 orderbook; OKX v5 market/books: sizes in contracts)
BYBIT_DOC = {
    "retCode": 0,
    "retMsg": "OK",
    "result": {
        "s": "BTCUSDT",
        "a": [["65557.7", "16.606555"]],
        "b": [["65485.47", "47.081829"]],
        "ts": 1716863719031,
        "u": 230704,
        "seq": 1432604333,
        "cts": 1716863718905,
    },
    "retExtInfo": {},
    "time": 1716863719382,
}
OKX_DOC = {
    "code": "0",
    "msg": "",
    "data": [
        {
            "asks": [["41006.8", "0.60038921", "0", "1"]],
            "bids": [["41006.3", "0.30178218", "0", "2"]],
            "ts": "1629966436396",
        }
    ],
}


def binance_book(name: str, symbol: str) -> OrderBook:
    """As ``BinanceProvider.order_book`` builds it from the venue model."""
    depth = BinanceDepth.model_validate(fixture_json("binance", name))
    return OrderBook(symbol, depth.bids, depth.asks, utc_from_ms(depth.E or depth.T or 0))


def test_walls_on_binance_1000_level_book() -> None:
    analysis = analyze_book(binance_book("fapi_v1_depth.json", "SUSHIUSDT"))
    # best bid 7.6110, best ask 7.6120 → mid 7.6115; the 2 % band is 7.45927..7.76373
    assert analysis.mid == pytest.approx(7.6115)
    assert analysis.spread_pct == pytest.approx(0.001 / 7.6115 * 100)
    # 295 levels (both sides) lie in the band, 384,686 coins in all: average 1,304.02, so a wall is ≥ 6,520.10
    assert analysis.levels_in_band == 295
    assert analysis.average_level_size == pytest.approx(384_686 / 295)
    walls = [(w.side, w.price, w.size) for w in analysis.walls]
    assert walls == [  # nearest to mid first
        (BookSide.ASK, 7.649, 12557.0),
        (BookSide.BID, 7.568, 8570.0),
        (BookSide.ASK, 7.660, 8503.0),
        (BookSide.BID, 7.559, 6962.0),
        (BookSide.ASK, 7.687, 6908.0),
        (BookSide.BID, 7.534, 9335.0),
        (BookSide.ASK, 7.693, 10748.0),
    ]
    first = analysis.walls[0]
    assert first.notional_usd == pytest.approx(7.649 * 12557)  # 96,048.49
    assert first.distance_pct == pytest.approx((7.649 - 7.6115) / 7.6115 * 100)  # 0.4927 %
    assert first.multiple == pytest.approx(12557 / (384_686 / 295))  # 9.63x
    # the largest level under the threshold (bid 7.539 × 6,099) is not a wall, and neither is the book's
    # largest level (bid 6.491 × 68,995), 14.7 % below mid: outside the band
    sizes = {w.size for w in analysis.walls}
    assert 6099.0 not in sizes and 68995.0 not in sizes
    # 1,000 levels reach 16.6 % below mid on the bid side (6.3470) and 19.9 % above on the ask side (9.1220)
    assert analysis.reach_pct == pytest.approx((7.6115 - 6.3470) / 7.6115 * 100)


def test_imbalance_on_binance_1000_level_book() -> None:
    analysis = analyze_book(binance_book("fapi_v1_depth.json", "SUSHIUSDT"))
    tight, wide = analysis.imbalances
    assert (tight.band_pct, wide.band_pct) == (0.5, 2.0)
    assert tight.complete and wide.complete
    # within 0.5 %: 470,942.48 USD of bids against 610,289.62 of asks → (b - a) / (b + a) = -0.1289
    assert tight.bid_usd == pytest.approx(470_942.482)
    assert tight.ask_usd == pytest.approx(610_289.621)
    assert tight.ratio == pytest.approx((470_942.482 - 610_289.621) / (470_942.482 + 610_289.621))
    assert wide.ratio == pytest.approx((1_522_153.316 - 1_403_516.449) / (1_522_153.316 + 1_403_516.449))
    # the sums are the levels within the band, recomputed from the payload
    raw = fixture_json("binance", "fapi_v1_depth.json")
    bids = sum(float(p) * float(q) for p, q in raw["bids"] if float(p) >= 7.6115 * 0.995)
    assert tight.bid_usd == pytest.approx(bids)


def test_btc_limit5_book_one_wall_and_an_incomplete_band() -> None:
    analysis = analyze_book(binance_book("fapi_v1_depth.limit5.json", "BTCUSDT"))
    # sizes: bids 5.878 0.002 0.040 0.003 0.001, asks 2.149 0.012 0.001 0.004 0.002 → 8.092 / 10 = 0.8092;
    # 5 × 0.8092 = 4.046: only the best bid (5.878, 7.26x) is a wall
    assert analysis.average_level_size == pytest.approx(0.8092)
    (wall,) = analysis.walls
    assert (wall.side, wall.price, wall.size) == (BookSide.BID, 76914.9, 5.878)
    assert wall.multiple == pytest.approx(5.878 / 0.8092)
    assert wall.distance_pct == pytest.approx(0.05 / 76914.95 * 100)
    # five levels reach 0.0006 % from mid: the 0.5 % band is not covered and the answer says so
    tight = analysis.imbalance(0.5)
    assert tight is not None and not tight.complete
    assert analysis.reach_pct == pytest.approx((76914.95 - 76914.5) / 76914.95 * 100)


def test_hyperliquid_book_walls_depend_on_the_multiple() -> None:
    raw = fixture_json("hyperliquid", "info_l2Book.json")
    book = hyperliquid_book(parse_l2_book(raw), "BTCUSDT")
    # bids 4.11882 0.31694 1.30796 0.28581 3.07847, asks 3.72573 0.03586 1.35809 1.35805 1.27191:
    # 16.85764 / 10 = 1.685764 → 5x is 8.43: no wall
    assert analyze_book(book).walls == ()
    # at 2x (3.3715) the best bid 4.11882 and the best ask 3.72573 are walls; the bid 3.07847 (1.83x) is not
    walls = analyze_book(book, wall_multiple=2.0).walls
    # both 0.5 from mid 110427.5: a tie in distance lists the ask first (by side name)
    assert [(w.side, w.price) for w in walls] == [(BookSide.ASK, 110428.0), (BookSide.BID, 110427.0)]
    assert nearest_walls(analyze_book(book, wall_multiple=2.0), 0.0001) == ()  # both are 0.00045 % away


def test_bybit_and_okx_documented_examples_imbalance() -> None:
    bybit = analyze_book(bybit_book(parse_bybit(BYBIT_DOC)))
    bid, ask = 65485.47 * 47.081829, 65557.7 * 16.606555
    assert bybit.mid == pytest.approx((65485.47 + 65557.7) / 2)
    tight = bybit.imbalance(0.5)
    assert tight is not None
    assert tight.bid_usd == pytest.approx(bid)
    assert tight.ask_usd == pytest.approx(ask)
    assert tight.ratio == pytest.approx((bid - ask) / (bid + ask))  # 0.4762: bids dominate
    # one level a side: the average is their mean and neither is 5x it
    assert bybit.walls == ()
    # OKX sizes are contracts; BTC-USDT-SWAP's ctVal is 0.01 BTC
    okx = analyze_book(okx_book(parse_okx(OKX_DOC), 0.01, "BTCUSDT"))
    okx_bid, okx_ask = 41006.3 * 0.30178218 * 0.01, 41006.8 * 0.60038921 * 0.01
    okx_tight = okx.imbalance(0.5)
    assert okx_tight is not None
    assert okx_tight.ratio == pytest.approx((okx_bid - okx_ask) / (okx_bid + okx_ask))


def test_bad_books_and_parameters() -> None:
    empty = OrderBook("BTCUSDT", bids=(), asks=((1.0, 1.0),), time=utc_from_ms(0))
    with pytest.raises(EmptyBook):
        analyze_book(empty)
    zero_sized = OrderBook("BTCUSDT", bids=((1.0, 0.0),), asks=((1.1, 1.0),), time=utc_from_ms(0))
    with pytest.raises(EmptyBook):  # a size of zero is a deletion marker, not a level
        analyze_book(zero_sized)
    with pytest.raises(ValueError, match="positive"):
        analyze_book(binance_book("fapi_v1_depth.limit5.json", "BTCUSDT"), band_pct=0)


levels = st.lists(
    st.tuples(st.floats(0.01, 1_000.0, allow_nan=False), st.floats(0.0, 1e6, allow_nan=False)), min_size=1, max_size=60
)


@settings(max_examples=200, deadline=None)
@given(levels, levels, st.floats(1.5, 10.0), st.floats(0.1, 20.0))
def test_wall_and_imbalance_properties(
    bid_levels: list[tuple[float, float]], ask_levels: list[tuple[float, float]], multiple: float, band: float
) -> None:
    """Whatever the book: every wall is in the band and ≥ multiple × average; every other level in the band is
    below the threshold; ratios stay in -1..1."""
    book = OrderBook("X", tuple(bid_levels), tuple(ask_levels), utc_from_ms(0))
    try:
        analysis = analyze_book(book, wall_multiple=multiple, band_pct=band)
    except EmptyBook:
        assert all(s == 0 for _, s in bid_levels) or all(s == 0 for _, s in ask_levels)
        return
    mid = analysis.mid
    in_band = [
        (side, p, s)
        for side, side_levels in ((BookSide.BID, bid_levels), (BookSide.ASK, ask_levels))
        for p, s in side_levels
        if s > 0 and abs(p - mid) / mid * 100 <= band * (1 + 1e-9)
    ]
    walls = {(w.side, w.price, w.size) for w in analysis.walls}
    average = analysis.average_level_size
    for wall in analysis.walls:
        assert average is not None and wall.size >= multiple * average * (1 - 1e-12)
        assert wall.distance_pct <= band * (1 + 1e-9)
    for level in in_band:
        if level not in walls and average is not None:
            assert level[2] < multiple * average * (1 + 1e-9)
    assert [w.distance_pct for w in analysis.walls] == sorted(w.distance_pct for w in analysis.walls)
    for imbalance in analysis.imbalances:
        assert imbalance.ratio is None or -1.0 <= imbalance.ratio <= 1.0


# -- end to end: orderBook over a replayed cassette -----------------------------------------------------

QUERY = """
query Q($symbol: String!, $venues: [Venue!]) {
  orderBook(symbol: $symbol, venues: $venues) {
    __typename
    ... on Problem { code message }
    ... on CapabilityUnsupported { exchange capability }
    ... on OrderBookReport {
      symbol wallMultiple bandPct failures
      books { venue source mid levelsInBand averageLevelSize
        walls { side price size notionalUsd distancePct multiple }
        imbalance { bandPct bidUsd askUsd ratio complete } }
    }
  }
}
"""


def _cassette_with_books() -> dict[str, Any]:
    cassette = load_cassette_json(CASSETTE_NAMES[2])
    depth = fixture_json("binance", "fapi_v1_depth.limit5.json")
    entries = [
        cassette_entry("binance", "/fapi/v1/depth", depth, {"symbol": "BTCUSDT"}),
        cassette_entry("bybit", "/v5/market/orderbook", BYBIT_DOC, {"category": "linear", "symbol": "BTCUSDT"}),
    ]
    return {**cassette, "http": [*cassette["http"], *entries]}


async def test_order_book_end_to_end(graphql: Callable[..., Any]) -> None:
    async with running_service(_cassette_with_books()) as (base, replay):
        status, body = await graphql(base, QUERY, {"symbol": "btc"})
        assert status == 200, body
        report = body["data"]["orderBook"]
        assert report["__typename"] == "OrderBookReport"
        assert (report["symbol"], report["wallMultiple"], report["bandPct"]) == ("BTCUSDT", 5.0, 2.0)
        books = {b["venue"]: b for b in report["books"]}
        assert set(books) == {"binance", "bybit"}  # OKX's book is not in the cassette: named in failures
        assert [f.split(":")[0] for f in report["failures"]] == ["okx"]
        binance = books["binance"]
        assert binance["source"] == "binance.depth"
        assert [(w["side"], w["price"], w["size"]) for w in binance["walls"]] == [("BID", 76914.9, 5.878)]
        assert binance["imbalance"][0]["complete"] is False
        assert replay.calls["binance GET /fapi/v1/depth"] == 1

        # a venue that serves no order books, and one that does not exist here: typed problems
        status, body = await graphql(base, QUERY, {"symbol": "BTC", "venues": ["alternative_me"]})
        problem = body["data"]["orderBook"]
        assert (problem["__typename"], problem["code"]) == ("CapabilityUnsupported", "CAPABILITY_NOT_SUPPORTED")
        assert problem["exchange"] == "alternative_me"
        status, body = await graphql(base, QUERY, {"symbol": "BTC", "venues": ["coinapi"]})
        assert body["data"]["orderBook"]["code"] == "EXCHANGE_NOT_FOUND"  # keyed, and no key here
        status, body = await graphql(base, QUERY, {"symbol": "NOPE"})
        assert body["data"]["orderBook"]["code"] == "SYMBOL_NOT_FOUND"
        status, body = await graphql(base, QUERY, {"symbol": "!!"})
        assert body["data"]["orderBook"]["code"] == "INVALID_INPUT"

        # the same over REST (operation market.orderbook)
        async with httpx2.AsyncClient(timeout=10) as client:
            rest = (await client.get(f"{base}/v1/market/orderbook", params={"symbol": "BTC"})).json()
        assert rest["ok"] is True, rest
        assert "BID" in str(rest["data"]) and "76914.9" in str(rest["data"])
