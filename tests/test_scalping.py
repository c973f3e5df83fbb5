"""The scalping view: readiness from the five critical layers (a layer missing, a layer stale, two gone),
verdict rules at their edges, and ``scalping`` end to end over the latest cassette: 1m klines rendered
from its recorded ``btcusdt@kline_1m`` section into Binance's REST shape, its ``btcusdt@aggTrade`` and
``!forceOrder@arr`` streams, its premiumIndex and fear & greed, and Binance's live BTCUSDT depth capture
(``fapi_v1_depth.limit5.json``, taken in 2026: ahead of the 2025 cassette clock, so the book layers are
present but do not count, and the view is ready on the other four)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from engine.flow import VolumeDelta
from engine.inputs import Reading
from engine.market import Candle, FearGreed, FundingRate, LiquidationTotals, LongShortPoint, OrderBook
from engine.orderbook import analyze_book
from engine.scalping import LayerName, ScalpingInputs, Verdict, scalping_view
from tests.conftest import CASSETTE_NAMES, load_cassette_json
from tests.providers_helpers import cassette_entry, fixture_json

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def candles(minutes: int, closes: list[float]) -> tuple[Candle, ...]:
    """Closed bars ending at NOW (the last closes exactly now)."""
    step = timedelta(minutes=minutes)
    first = NOW - step * len(closes)
    return tuple(Candle(first + step * i, c, c, c, c, 1.0) for i, c in enumerate(closes))


def inputs(**changes: Any) -> ScalpingInputs:
    """Every layer present and fresh; ``changes`` replaces readings."""
    rising = [100.0 + i for i in range(30)]  # only gains: RSI 100
    # mid 100; within 2 %: 20 + 7 x 0.5 = 23.5 coins over 8 levels (the 97 and 103 levels lie outside), average
    # 2.9375, so the 20-coin bid at 99.9 (6.81x) is a wall 0.1 % below mid
    book = OrderBook(
        "BTCUSDT",
        bids=((99.9, 20.0), (99.8, 0.5), (99.7, 0.5), (99.6, 0.5), (97.0, 0.5)),
        asks=((100.1, 0.5), (100.2, 0.5), (100.3, 0.5), (100.4, 0.5), (103.0, 0.5)),
        time=NOW,
    )
    base: dict[str, Any] = {
        "symbol": "BTCUSDT",
        "as_of": NOW,
        "candles_1m": Reading(candles(1, rising), "binance.klines"),
        "candles_5m": Reading(candles(5, rising[::-1]), "binance.klines"),  # only losses: RSI 0
        "volume_delta": Reading(VolumeDelta(60.0, 40.0, 5), "binance.trades stream", observed_at=NOW),
        "book": Reading(analyze_book(book), "binance.depth", observed_at=NOW),
        "liquidations": Reading(
            LiquidationTotals(timedelta(hours=1), long_usd=0.0, short_usd=0.0), "stream", observed_at=NOW
        ),
        "funding": Reading(FundingRate("BTCUSDT", 0.0001, 8.0, NOW - timedelta(minutes=1)), "binance.premiumIndex"),
        "long_short": Reading(LongShortPoint(NOW - timedelta(minutes=15), 62.0, 1.63), "binance.ratio"),
        "fear_greed": Reading(FearGreed(20.0, "Extreme Fear", NOW - timedelta(hours=3)), "alternative_me.fng"),
    }
    base.update(changes)
    return ScalpingInputs(**base)


def test_all_layers_present_is_ready_with_each_verdict() -> None:
    view = scalping_view(inputs())
    assert view.ready and view.critical_usable == 5 and view.missing == ()
    verdicts = {layer.name: layer.verdict for layer in view.layers}
    assert verdicts == {
        LayerName.RSI_1M: Verdict.BEARISH,  # RSI 100: overbought
        LayerName.RSI_5M: Verdict.BULLISH,  # RSI 0: oversold
        LayerName.VOLUME_DELTA: Verdict.BULLISH,  # +20 % of volume
        LayerName.BOOK_IMBALANCE: Verdict.BULLISH,  # (2147.55 - 200.5) / (2147.55 + 200.5) = +0.829
        LayerName.LIQUIDATIONS: Verdict.NEUTRAL,  # none in the hour: an observation, value 0
        LayerName.FUNDING: Verdict.NEUTRAL,  # +0.01 % per 8 h
        LayerName.LONG_SHORT: Verdict.BEARISH,  # 62 % long: crowded
        LayerName.WHALE_WALLS: Verdict.BULLISH,  # the bid wall at 99.9: support
        LayerName.FEAR_GREED: Verdict.BULLISH,  # 20: extreme fear, contrarian
    }
    layer = view.layer(LayerName.BOOK_IMBALANCE)
    # within 0.5 %: bids 99.9 x 20 + 0.5 x (99.8 + 99.7 + 99.6) = 2147.55, asks 0.5 x (100.1 + ... + 100.4) = 200.5
    assert layer.value == pytest.approx((2147.55 - 200.5) / (2147.55 + 200.5))
    assert view.layer(LayerName.WHALE_WALLS).value == 1.0
    assert view.layer(LayerName.LIQUIDATIONS).value == 0.0
    assert (view.bullish, view.bearish) == (5, 2)


def test_one_critical_layer_missing_is_still_ready_and_named() -> None:
    missing = Reading[VolumeDelta].missing("no trade stream covers the last 5 minutes", source="binance.trades stream")
    view = scalping_view(inputs(volume_delta=missing))
    assert view.ready and view.critical_usable == 4
    assert view.missing == ("VOLUME_DELTA: no trade stream covers the last 5 minutes",)
    layer = view.layer(LayerName.VOLUME_DELTA)
    assert (layer.value, layer.verdict, layer.fresh) == (None, None, False)  # missing: no neutral stand-in


def test_two_critical_layers_out_is_not_ready() -> None:
    stale_funding = Reading(FundingRate("BTCUSDT", 0.0001, 8.0, NOW - timedelta(hours=2)), "binance.premiumIndex")
    no_book = Reading[Any].missing("binance.depth: HTTP 503", source="binance.depth")
    view = scalping_view(inputs(funding=stale_funding, book=no_book))
    assert not view.ready and view.critical_usable == 3
    assert [m.split(":")[0] for m in view.missing] == ["BOOK_IMBALANCE", "FUNDING"]
    funding = view.layer(LayerName.FUNDING)
    # stale keeps its value (visible) but does not count
    assert funding.value == pytest.approx(0.01) and not funding.fresh and "stale" in (funding.error or "")
    assert view.layer(LayerName.WHALE_WALLS).value is None  # the walls come from the same missing book


def test_too_few_candles_is_missing_not_neutral() -> None:
    view = scalping_view(inputs(candles_1m=Reading(candles(1, [1.0, 2.0, 3.0]), "binance.klines")))
    layer = view.layer(LayerName.RSI_1M)
    assert layer.value is None and layer.verdict is None and "rsi" in (layer.error or "")
    assert view.ready  # the other four critical layers carry it


def test_a_book_ahead_of_the_clock_does_not_count() -> None:
    ahead = OrderBook("BTCUSDT", bids=((99.9, 1.0),), asks=((100.1, 1.0),), time=NOW + timedelta(days=300))
    view = scalping_view(inputs(book=Reading(analyze_book(ahead), "binance.depth", observed_at=ahead.time)))
    layer = view.layer(LayerName.BOOK_IMBALANCE)
    assert layer.value == pytest.approx((99.9 - 100.1) / 200.0) and not layer.fresh
    assert "ahead of the clock" in (layer.error or "")


# -- end to end ----------------------------------------------------------------------------------------

SCALPING = """
query S($symbol: String!) {
  scalping(symbol: $symbol) {
    __typename
    ... on Problem { code message }
    ... on ScalpingView {
      symbol price priceSource ready criticalUsable missing bullish bearish
      layers { name critical value verdict detail source observedAt fresh error }
    }
  }
}
"""


def _klines_1m(cassette: dict[str, Any]) -> list[list[Any]]:
    """The recorded closed 1m klines in Binance's REST row shape (openTime, o, h, l, c, v, closeTime, q, n, V, Q)."""
    (section,) = [w for w in cassette["ws"] if w["stream"] == "btcusdt@kline_1m"]
    rows = []
    for message in section["messages"]:
        k = message["data"]["k"]
        if k["x"]:
            rows.append([k["t"], k["o"], k["h"], k["l"], k["c"], k["v"], k["T"], k["q"], k["n"], k["V"], k["Q"], "0"])
    return rows


def _cassette() -> dict[str, Any]:
    cassette = load_cassette_json(CASSETTE_NAMES[2])
    extra = [
        cassette_entry("binance", "/fapi/v1/klines", _klines_1m(cassette), {"symbol": "BTCUSDT", "interval": "1m"}),
        cassette_entry(
            "binance", "/fapi/v1/depth", fixture_json("binance", "fapi_v1_depth.limit5.json"), {"symbol": "BTCUSDT"}
        ),
    ]
    return {**cassette, "http": [*cassette["http"], *extra]}


async def test_scalping_end_to_end(graphql: Callable[..., Any], tmp_path: Path) -> None:
    from providers.replay import serve_in_background
    from signal_api.app import create_app
    from signal_api.settings import Settings

    cassette = _cassette()
    path = tmp_path / "cassette.json"
    path.write_text(json.dumps(cassette))
    # replay mode as `serve --replay` runs it: the cassette's clock, its streams, the liquidation window
    # covering the recorded hour of !forceOrder@arr
    settings = Settings(_env_file=None, replay_cassette=path, liquidation_stream_enabled=True)  # type: ignore[call-arg]
    async with serve_in_background(create_app(settings), lifespan="on") as service:
        base = service.base_url
        view: dict[str, Any] = {}
        for _ in range(100):  # the recorded trades arrive 20 ms apart: at most ~10 s
            status, body = await graphql(base, SCALPING, {"symbol": "BTC"})
            assert status == 200, body
            view = body["data"]["scalping"]
            if view["ready"]:
                break
            await asyncio.sleep(0.1)
        layers = {layer["name"]: layer for layer in view["layers"]}
        assert view["ready"] is True and view["criticalUsable"] == 4, [(x["name"], x["error"]) for x in view["layers"]]
        # the book is there but stamped in 2026, ahead of the cassette's 2025 clock: named, not counted
        assert [m.split(":")[0] for m in view["missing"]] == ["BOOK_IMBALANCE"]
        book = layers["BOOK_IMBALANCE"]
        assert book["source"] == "binance.depth" and book["value"] is not None and book["fresh"] is False
        assert "ahead of the clock" in book["error"]
        # RSI on the recorded 1m candles closed at the clock: the last recorded bar ends 1 ms after the
        # cassette's clock (open + 1m > clock), so it is still forming there and the one before is the last close
        closed = _klines_1m(cassette)
        assert view["price"] == float(closed[-2][4]) and view["priceSource"] == "binance.klines"
        rsi = layers["RSI_1M"]
        assert rsi["fresh"] and 0 <= rsi["value"] <= 100 and rsi["source"] == "binance.klines"
        # no 5m klines, no 15m ratio in the cassette: missing with the upstream's answer, never neutral
        for name in ("RSI_5M", "LONG_SHORT"):
            assert layers[name]["value"] is None and layers[name]["verdict"] is None and layers[name]["error"]
        delta = layers["VOLUME_DELTA"]
        assert delta["fresh"] and delta["source"] == "binance.trades stream"
        funding = layers["FUNDING"]
        assert funding["value"] == pytest.approx(0.007002) and funding["verdict"] == "NEUTRAL"
        liquidations = layers["LIQUIDATIONS"]
        assert liquidations["fresh"] and liquidations["value"] > 0
        assert layers["FEAR_GREED"]["value"] is not None

        status, body = await graphql(base, SCALPING, {"symbol": "NOPE"})
        assert body["data"]["scalping"]["code"] == "SYMBOL_NOT_FOUND"
