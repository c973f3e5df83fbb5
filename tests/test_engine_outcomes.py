"""Outcome arithmetic on hand-checked cases, and the interval statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.market import Candle
from engine.modes import Recommendation
from engine.outcomes import Verdict, evaluate_outcome, verdict_for
from engine.stats import summarize, wilson_interval

T0 = datetime(2025, 7, 11, 20, tzinfo=UTC)
H1 = timedelta(hours=1)


def bars(*ohlc: tuple[float, float, float, float]) -> list[Candle]:
    return [Candle(T0 + H1 * i, o, h, low, c, 1.0) for i, (o, h, low, c) in enumerate(ohlc)]


def test_long_outcome_by_hand() -> None:
    # entry 100; bars: high 103 low 99, then high 105 low 98 close 102 → +2 %, MFE 5 %, MAE 2 %
    candles = bars((100, 103, 99, 101), (101, 105, 98, 102))
    outcome = evaluate_outcome(Recommendation.LONG, 100.0, T0, 2 * H1, candles, H1)
    assert outcome is not None
    assert outcome.return_pct == pytest.approx(2.0)
    assert outcome.max_favourable_pct == pytest.approx(5.0)
    assert outcome.max_adverse_pct == pytest.approx(2.0)
    assert outcome.verdict is Verdict.WIN and outcome.exit_price == 102


def test_short_outcome_mirrors_the_long_one() -> None:
    candles = bars((100, 103, 99, 101), (101, 105, 98, 102))
    outcome = evaluate_outcome(Recommendation.SHORT, 100.0, T0, 2 * H1, candles, H1)
    assert outcome is not None
    assert outcome.return_pct == pytest.approx(-2.0)
    assert outcome.max_favourable_pct == pytest.approx(2.0)  # the low of 98
    assert outcome.max_adverse_pct == pytest.approx(5.0)  # the high of 105
    assert outcome.verdict is Verdict.LOSS


def test_no_outcome_before_the_horizon_has_passed_and_none_for_neutral() -> None:
    candles = bars((100, 101, 99, 100))
    assert evaluate_outcome(Recommendation.LONG, 100.0, T0, 4 * H1, candles, H1) is None
    with pytest.raises(ValueError, match="NEUTRAL"):
        evaluate_outcome(Recommendation.NEUTRAL, 100.0, T0, H1, candles, H1)


def test_flat_band_and_candles_before_the_signal_are_ignored() -> None:
    assert verdict_for(0.1) is Verdict.FLAT and verdict_for(0.1001) is Verdict.WIN and verdict_for(-0.2) is Verdict.LOSS
    earlier = Candle(T0 - H1, 50, 500, 1, 50, 1.0)  # would dominate the excursions if it were read
    outcome = evaluate_outcome(Recommendation.LONG, 100.0, T0, H1, [earlier, *bars((100, 100.05, 99.95, 100.05))], H1)
    assert outcome is not None and outcome.verdict is Verdict.FLAT and outcome.max_favourable_pct == pytest.approx(0.05)


def test_wilson_interval_known_values() -> None:
    interval = wilson_interval(5, 10)  # textbook: 0.2366 .. 0.7634
    assert interval is not None
    assert (round(interval.low, 4), round(interval.high, 4)) == (0.2366, 0.7634)
    zero = wilson_interval(0, 10)
    assert zero is not None and zero.low == 0.0 and round(zero.high, 4) == 0.2775
    assert wilson_interval(0, 0) is None


def test_summary() -> None:
    summary = summarize([1.0, -1.0, 3.0, 0.0], wins=2)
    assert summary.count == 4 and summary.win_rate == 0.5
    assert summary.mean_return_pct == pytest.approx(0.75) and summary.median_return_pct == pytest.approx(0.5)
    assert summary.mean_return_ci95 is not None and summary.mean_return_ci95.low < 0.75 < summary.mean_return_ci95.high
    empty = summarize([], wins=0)
    assert empty.win_rate is None and empty.win_rate_ci95 is None
