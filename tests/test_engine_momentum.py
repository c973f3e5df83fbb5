"""Indicators against hand-checked numbers, and momentum against real rising and falling BTC markets."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.indicators import ema_series, macd, rsi_wilder, sma
from engine.market import Candle, utc_from_ms
from engine.momentum import evaluate_momentum, mtf_adjustment

CASSETTES = Path("/work/shared/cassettes")
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def make_candles(closes: list[float], volumes: list[float] | None = None) -> tuple[Candle, ...]:
    vols = volumes or [100.0] * len(closes)
    return tuple(
        Candle(open_time=T0 + timedelta(hours=4 * i), open=c, high=c, low=c, close=c, volume=v)
        for i, (c, v) in enumerate(zip(closes, vols, strict=True))
    )


def cassette_candles(name: str) -> tuple[Candle, ...]:
    """Binance /fapi/v1/klines rows: [openTime, open, high, low, close, volume, closeTime, quoteVol, ...]."""
    path = CASSETTES / name
    if not path.exists():
        pytest.skip(f"{path} is not available")
    data = json.loads(path.read_text())
    rows = next(e["body"] for e in data["http"] if e["path"] == "/fapi/v1/klines")
    return tuple(
        Candle(
            open_time=utc_from_ms(r[0]),
            open=float(r[1]),
            high=float(r[2]),
            low=float(r[3]),
            close=float(r[4]),
            volume=float(r[5]),
            quote_volume=float(r[7]),
        )
        for r in rows
    )


def test_sma_uses_the_last_values() -> None:
    assert sma([1, 2, 3, 4, 5], 3) == 4.0  # (3 + 4 + 5) / 3
    with pytest.raises(ValueError, match="needs 3"):
        sma([1, 2], 3)


def test_ema_seeded_with_first_value() -> None:
    # period 3 → alpha 0.5: 1; 1 + 0.5·(2-1) = 1.5; 1.5 + 0.5·(3-1.5) = 2.25
    assert ema_series([1, 2, 3], 3) == [1.0, 1.5, 2.25]


def test_wilder_rsi_by_hand() -> None:
    # closes 1,2,3,2,3,4 → changes +1,+1,-1,+1,+1; period 3.
    # seed: gain (1+1+0)/3 = 2/3, loss (0+0+1)/3 = 1/3
    # +1:  gain (2/3·2 + 1)/3 = 7/9,   loss (1/3·2 + 0)/3 = 2/9
    # +1:  gain (7/9·2 + 1)/3 = 23/27, loss (2/9·2 + 0)/3 = 4/27
    # RS = 23/4 = 5.75 → RSI = 100 - 100/6.75 = 85.185185...
    assert rsi_wilder([1, 2, 3, 2, 3, 4], 3) == pytest.approx(85.185185, abs=1e-6)
    assert rsi_wilder([5.0] * 20) == 50.0  # never moved
    assert rsi_wilder([float(i) for i in range(1, 20)]) == 100.0  # never fell
    assert rsi_wilder([float(i) for i in range(20, 1, -1)]) == 0.0  # never rose


def test_macd_by_hand() -> None:
    # fast 1 → EMA = closes [1,2,3]; slow 3 (alpha .5) → [1, 1.5, 2.25]; line [0, .5, .75]
    # signal 3 (alpha .5) of line → [0, .25, .5]; histogram .75 - .5 = .25
    m = macd([1, 2, 3], fast=1, slow=3, signal=3)
    assert (m.line, m.signal, m.histogram) == pytest.approx((0.75, 0.5, 0.25))


def test_fewer_than_30_closes_is_unavailable_not_50() -> None:
    result = evaluate_momentum(make_candles([100.0 + i for i in range(29)]))
    assert not result.available
    assert result.score is None
    assert result.error is not None and "29 closes" in result.error


def test_flat_market_is_exactly_neutral() -> None:
    result = evaluate_momentum(make_candles([100.0] * 30))
    assert result.score == 50.0
    assert result.raw_value == 50.0  # RSI of a series that never moved


def test_mtf_needs_five_usable_lookbacks() -> None:
    assert mtf_adjustment([1.0, 2.0, 3.0, 4.0]) is None  # only lookbacks 1, 2, 3 fit
    # 13 closes fit lookbacks 1, 2, 3, 6, 12 → 5 usable, all up, weighted change far above 1 %
    adj = mtf_adjustment([100.0 + i for i in range(13)])
    assert adj is not None
    assert (adj.usable, adj.ups, adj.downs, adj.points) == (5, 5, 0, 15.0)
    down = mtf_adjustment([200.0 - i for i in range(13)])
    assert down is not None and down.points == -15.0


def test_mtf_weak_when_change_is_small() -> None:
    # all up but by tiny amounts: weighted change < 1 % → only the weak +10
    adj = mtf_adjustment([100.0 + i * 0.001 for i in range(60)])
    assert adj is not None
    assert adj.usable == 7 and adj.ups == 7 and adj.points == 10.0


def test_volume_confirmation_and_divergence() -> None:
    closes = [100.0 + i for i in range(30)]
    rising_volume = [100.0] * 20 + [200.0] * 10
    falling_volume = [200.0] * 20 + [100.0] * 10
    confirmed = evaluate_momentum(make_candles(closes, rising_volume))
    diverging = evaluate_momentum(make_candles(closes, falling_volume))
    assert "volume confirms up +25" in confirmed.detail
    assert "volume diverges up +5" in diverging.detail


def test_rising_market_scores_above_50() -> None:
    result = evaluate_momentum(cassette_candles("btc-2025-07-11-rising.json"))
    assert result.score is not None and result.score > 50
    assert result.raw_value is not None and result.raw_value > 55  # RSI of a 3-day 8 % rise
    assert "sma10>sma20 +25" in result.detail
    assert "mtf 7/7 up" in result.detail


def test_falling_market_scores_below_50() -> None:
    result = evaluate_momentum(cassette_candles("btc-2025-10-11-falling.json"))
    assert result.score is not None and result.score < 50
    assert "sma10<sma20 -25" in result.detail


def test_candle_order_matters() -> None:
    """Predecessor defect 1: newest-first candles read as oldest-first turned a rise into a fall."""
    candles = cassette_candles("btc-2025-07-11-rising.json")
    correct = evaluate_momentum(candles)
    backwards = evaluate_momentum(tuple(reversed(candles)))
    assert correct.score is not None and backwards.score is not None
    assert backwards.score != correct.score
    assert backwards.score < 50 < correct.score
