"""Pin every REFERENCE §1 table so a change to the scoring maths is a visible, reviewed diff."""

from __future__ import annotations

import pytest

from engine import (
    FUNDING_TABLE,
    LIQUIDATIONS_TABLE,
    LONG_SHORT_TABLE,
    OI_TREND_TABLE,
    SMART_MONEY_TABLE,
    THRESHOLDS,
    WEIGHTS,
    FactorName,
    Mode,
    ModeThresholds,
    Recommendation,
    validate_weights,
)
from engine.factors import (
    funding_score,
    liquidations_score,
    long_short_score,
    oi_trend_score,
    smart_money_score,
)
from engine.modes import SCORE_MODES
from engine.momentum import MTF_LOOKBACKS, RSI_TABLE, rsi_points


def test_weights_are_the_published_ones_and_sum_to_100() -> None:
    assert {name.value: weight for name, weight in WEIGHTS.items()} == {
        "liquidations": 24,
        "momentum": 20,
        "funding": 18,
        "long_short": 11,
        "smart_money": 11,
        "oi_trend": 6,
        "social": 6,
        "fear_greed": 4,
    }
    assert sum(WEIGHTS.values()) == 100
    assert list(FactorName) == list(WEIGHTS)  # enum order is weight order


def test_validate_weights_rejects_99_and_missing_factors() -> None:
    bad = dict(WEIGHTS)
    bad[FactorName.FEAR_GREED] = 3
    with pytest.raises(ValueError, match="99"):
        validate_weights(bad)
    partial: dict[FactorName, float] = {k: v for k, v in WEIGHTS.items() if k is not FactorName.SOCIAL}
    with pytest.raises(ValueError, match="social"):
        validate_weights(partial)
    validate_weights(WEIGHTS)  # the real table passes


def test_tables_are_pinned() -> None:
    assert FUNDING_TABLE.above == ()
    assert FUNDING_TABLE.below == ((-0.2, 85), (-0.05, 70), (0.0, 60), (0.05, 50), (0.3, 42), (0.5, 32))
    assert FUNDING_TABLE.otherwise == 20
    assert (LIQUIDATIONS_TABLE.above, LIQUIDATIONS_TABLE.below, LIQUIDATIONS_TABLE.otherwise) == (
        ((55, 70),),
        ((45, 30),),
        50,
    )
    assert LONG_SHORT_TABLE.above == ((65, 25), (55, 40))
    assert LONG_SHORT_TABLE.below == ((35, 75), (45, 60))
    assert SMART_MONEY_TABLE.above == ((60, 70), (52, 60))
    assert SMART_MONEY_TABLE.below == ((40, 30), (48, 40))
    assert OI_TREND_TABLE.above == ((5, 75), (1, 60))
    assert OI_TREND_TABLE.below == ((-5, 25), (-1, 40))
    assert RSI_TABLE == ((">", 70, -15), ("<", 30, 15), (">", 55, 10), ("<", 45, -10))
    assert MTF_LOOKBACKS == ((1, 1), (2, 1), (3, 1), (6, 2), (12, 3), (24, 4), (48, 5))


@pytest.mark.parametrize(
    ("pct", "expected"),
    [
        (-1.0, 85),
        (-0.2001, 85),
        (-0.2, 70),  # exact bound falls through
        (-0.1, 70),
        (-0.05, 60),
        (-0.01, 60),
        (0.0, 50),
        (0.01, 50),
        (0.05, 42),
        (0.08, 42),
        (0.3, 32),
        (0.4999, 32),
        (0.5, 20),
        (3.0, 20),
    ],
)
def test_funding_bands(pct: float, expected: float) -> None:
    assert funding_score(pct) == expected


@pytest.mark.parametrize(
    ("share", "expected"),
    [(100, 70), (55.01, 70), (55, 50), (50, 50), (45, 50), (44.99, 30), (0, 30)],
)
def test_liquidation_bands(share: float, expected: float) -> None:
    assert liquidations_score(share) == expected


@pytest.mark.parametrize(
    ("long_pct", "expected"),
    [
        (80, 25),
        (65.01, 25),
        (65, 40),
        (55.01, 40),
        (55, 50),
        (50, 50),
        (45, 50),
        (44.99, 60),
        (35, 60),
        (34.99, 75),
        (10, 75),
    ],
)
def test_long_short_bands(long_pct: float, expected: float) -> None:
    assert long_short_score(long_pct) == expected


@pytest.mark.parametrize(
    ("long_pct", "expected"),
    [
        (75, 70),
        (60.01, 70),
        (60, 60),
        (52.01, 60),
        (52, 50),
        (48, 50),
        (47.99, 40),
        (40, 40),
        (39.99, 30),
        (5, 30),
    ],
)
def test_smart_money_bands(long_pct: float, expected: float) -> None:
    assert smart_money_score(long_pct) == expected


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (12, 75),
        (5.01, 75),
        (5, 60),
        (1.01, 60),
        (1, 50),
        (0, 50),
        (-1, 50),
        (-1.01, 40),
        (-5, 40),
        (-5.01, 25),
    ],
)
def test_oi_trend_bands(change: float, expected: float) -> None:
    assert oi_trend_score(change) == expected


@pytest.mark.parametrize(
    ("rsi", "expected"),
    [
        (80, -15),
        (70.01, -15),
        (70, 10),
        (55.01, 10),
        (55, 0),
        (50, 0),
        (45, 0),
        (44.99, -10),
        (30, -10),
        (29.9, 15),
    ],
)
def test_rsi_points(rsi: float, expected: float) -> None:
    assert rsi_points(rsi) == expected


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("conservative", Mode.CONSERVATIVE),
        ("1", Mode.CONSERVATIVE),
        ("SAFE", Mode.CONSERVATIVE),
        ("Aggressive", Mode.AGGRESSIVE),
        ("2", Mode.AGGRESSIVE),
        ("balanced", Mode.AGGRESSIVE),
        ("ultra", Mode.ULTRA),
        (" 3 ", Mode.ULTRA),
        ("Extreme", Mode.ULTRA),
        ("scalping", Mode.ULTRA),
    ],
)
def test_mode_aliases(text: str, mode: Mode) -> None:
    assert Mode.parse(text) is mode


def test_unknown_mode_lists_choices() -> None:
    with pytest.raises(ValueError, match=r"conservative.*aggressive.*ultra"):
        Mode.parse("yolo")


def test_thresholds_are_ordered_and_symmetric() -> None:
    assert THRESHOLDS[Mode.CONSERVATIVE] == ModeThresholds(40, 60)
    assert THRESHOLDS[Mode.AGGRESSIVE] == ModeThresholds(45, 55)
    assert THRESHOLDS[Mode.ULTRA] == ModeThresholds(48, 52)
    widths = [t.long_min - t.short_max for t in (THRESHOLDS[m] for m in SCORE_MODES)]
    assert widths == sorted(widths, reverse=True)  # conservative widest, ultra narrowest
    assert len(set(widths)) == 3
    for t in THRESHOLDS.values():
        assert t.short_max + t.long_min == 100  # symmetric around 50


@pytest.mark.parametrize(
    ("score", "expected"),
    [(60, Recommendation.LONG), (59.99, Recommendation.NEUTRAL), (40.01, Recommendation.NEUTRAL),
     (40, Recommendation.SHORT)],
)  # fmt: skip
def test_classify_bounds_are_inclusive(score: float, expected: Recommendation) -> None:
    assert THRESHOLDS[Mode.CONSERVATIVE].classify(score) is expected


def test_thresholds_reject_inverted_band() -> None:
    with pytest.raises(ValueError, match="below"):
        ModeThresholds(short_max=55, long_min=45)
