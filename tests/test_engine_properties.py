"""Properties of compute_signal over random subsets of available factors and random input values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import (
    MIN_QUALITY,
    FactorName,
    InputName,
    MarketSnapshot,
    Mode,
    Reading,
    Recommendation,
    SignalRefused,
)
from engine import compute_signal as score
from engine.market import (
    Candle,
    FearGreed,
    FundingRate,
    LiquidationTotals,
    LongShortPoint,
    OpenInterestPoint,
    SocialSentiment,
    Timeframe,
)
from engine.modes import SCORE_MODES

AS_OF = datetime(2025, 7, 11, 20, 0, tzinfo=UTC)
H1 = timedelta(hours=1)
INPUTS = [name for name in InputName if name is not InputName.PRICE]
FACTOR_OF = {
    InputName.CANDLES: FactorName.MOMENTUM,
    InputName.FUNDING: FactorName.FUNDING,
    InputName.GLOBAL_LONG_SHORT: FactorName.LONG_SHORT,
    InputName.TOP_TRADER_POSITIONS: FactorName.SMART_MONEY,
    InputName.OPEN_INTEREST: FactorName.OI_TREND,
    InputName.LIQUIDATIONS: FactorName.LIQUIDATIONS,
    InputName.SOCIAL: FactorName.SOCIAL,
    InputName.FEAR_GREED: FactorName.FEAR_GREED,
}

pct = st.floats(0.0, 100.0, allow_nan=False)
positive = st.floats(1.0, 1e6, allow_nan=False)


@st.composite
def snapshots(draw: st.DrawFn) -> MarketSnapshot:
    present = draw(st.sets(st.sampled_from(INPUTS)))
    closes = draw(st.lists(positive, min_size=25, max_size=60))
    volumes = draw(st.lists(st.floats(0.0, 1e6), min_size=len(closes), max_size=len(closes)))
    candles = tuple(
        Candle(AS_OF - H1 * (len(closes) - i), c, c, c, c, v)
        for i, (c, v) in enumerate(zip(closes, volumes, strict=True))
    )
    oi_values = draw(st.lists(positive, min_size=2, max_size=30))
    oi = tuple(OpenInterestPoint(AS_OF - H1 * (len(oi_values) - i), v) for i, v in enumerate(oi_values))
    values: dict[InputName, Any] = {
        InputName.CANDLES: candles,
        InputName.FUNDING: FundingRate(
            "BTCUSDT", draw(st.floats(-0.01, 0.01)), draw(st.sampled_from([1.0, 4.0, 8.0])), AS_OF
        ),
        InputName.GLOBAL_LONG_SHORT: LongShortPoint(AS_OF, draw(pct), 1.0),
        InputName.TOP_TRADER_POSITIONS: LongShortPoint(AS_OF, draw(pct), 1.0),
        InputName.OPEN_INTEREST: oi,
        InputName.LIQUIDATIONS: LiquidationTotals(timedelta(hours=24), draw(st.floats(0, 1e9)), draw(positive)),
        InputName.SOCIAL: SocialSentiment(draw(st.floats(-50.0, 150.0)), "test"),
        InputName.FEAR_GREED: FearGreed(draw(pct), "x", AS_OF),
    }
    readings: dict[str, Any] = {
        name.value: Reading(value=values[name], source="test") if name in present else Reading.missing("down")
        for name in INPUTS
    }
    return MarketSnapshot(
        symbol="BTCUSDT",
        timeframe=Timeframe.H1,
        as_of=AS_OF,
        price=Reading(value=draw(positive), source="test", observed_at=AS_OF),
        **readings,
    )


@settings(max_examples=300, deadline=None)
@given(snapshot=snapshots(), mode=st.sampled_from(SCORE_MODES))
def test_signal_invariants(snapshot: MarketSnapshot, mode: Mode) -> None:
    try:
        signal = score(snapshot, mode)
    except SignalRefused as refused:
        assert refused.code == "INSUFFICIENT_DATA"
        assert refused.data_quality.score < MIN_QUALITY or all(
            not s.ok for s in refused.data_quality.sources if s.input is not InputName.PRICE
        )
        return

    assert 0.0 <= signal.score <= 100.0
    assert 0.0 <= signal.confidence <= 100.0
    assert signal.data_quality.score >= MIN_QUALITY
    available = [f for f in signal.factors if f.available]
    assert available, "a signal needs at least one factor"
    assert sum(f.effective_weight for f in available) == pytest.approx(100.0, abs=1e-9)
    assert signal.score == pytest.approx(sum(f.contribution for f in signal.factors), abs=0.006)

    missing_inputs = {s.input.value for s in signal.data_quality.sources if not s.ok}
    for f in signal.factors:
        if not f.available:
            assert f.contribution == 0.0 and f.effective_weight == 0.0 and f.score is None
            assert f.error
        else:
            assert f.score is not None and 0.0 <= f.score <= 100.0
    by_name = {f.name: f for f in signal.factors}
    for name in INPUTS:
        if getattr(snapshot, name.value).value is None:
            assert name.value in missing_inputs
            assert not by_name[FACTOR_OF[name]].available  # a missing input is never reported available
        assert by_name[FACTOR_OF[name]].available == (name.value not in missing_inputs)
    for f in signal.top_factors:
        assert f.available and f.score != 50.0

    t = mode.thresholds
    expected = (
        Recommendation.LONG
        if signal.score >= t.long_min
        else Recommendation.SHORT
        if signal.score <= t.short_max
        else Recommendation.NEUTRAL
    )
    assert signal.recommendation is expected
