"""What the market did after a signal: return in the signal's direction, excursions, and a verdict.

Rule (documented in the README): entry is the signal's price; over the horizon the candles that open at
or after the signal time are read (oldest-first) and the last close inside the horizon is the exit.
``return_pct = (exit / entry - 1) × 100 × direction`` (direction +1 LONG, −1 SHORT). Max favourable /
adverse excursion use the highs and lows in the same window. The verdict is WIN when the return
exceeds ``FLAT_BAND_PCT`` (0.1 %: about one round trip of taker fees), LOSS below −0.1 %, else FLAT.
An outcome is only computed once the whole horizon has passed (no partial answers).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.modes import Recommendation

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime, timedelta

    from engine.market import Candle

FLAT_BAND_PCT = 0.1


class Verdict(enum.Enum):
    WIN = "WIN"
    LOSS = "LOSS"
    FLAT = "FLAT"


@dataclass(frozen=True, slots=True)
class Outcome:
    return_pct: float
    max_favourable_pct: float
    max_adverse_pct: float
    exit_price: float
    verdict: Verdict


def direction_of(recommendation: Recommendation) -> int:
    if recommendation is Recommendation.LONG:
        return 1
    if recommendation is Recommendation.SHORT:
        return -1
    raise ValueError("a NEUTRAL signal has no direction and no outcome")


def verdict_for(return_pct: float, flat_band_pct: float = FLAT_BAND_PCT) -> Verdict:
    if return_pct > flat_band_pct:
        return Verdict.WIN
    if return_pct < -flat_band_pct:
        return Verdict.LOSS
    return Verdict.FLAT


def evaluate_outcome(
    recommendation: Recommendation,
    entry_price: float,
    signal_time: datetime,
    horizon: timedelta,
    candles: Sequence[Candle],
    candle_duration: timedelta,
) -> Outcome | None:
    """The outcome over ``horizon``, or ``None`` when the candles do not yet cover it."""
    direction = direction_of(recommendation)
    end = signal_time + horizon
    window = [c for c in candles if c.open_time >= signal_time and c.open_time + candle_duration <= end]
    if not window or window[-1].open_time + candle_duration < end:
        return None
    exit_price = window[-1].close
    change = (exit_price / entry_price - 1.0) * 100.0 * direction
    highs = (max(c.high for c in window) / entry_price - 1.0) * 100.0
    lows = (min(c.low for c in window) / entry_price - 1.0) * 100.0
    favourable, adverse = (highs, -lows) if direction > 0 else (-lows, highs)
    return Outcome(
        return_pct=change,
        max_favourable_pct=max(favourable, 0.0),
        max_adverse_pct=max(adverse, 0.0),
        exit_price=exit_price,
        verdict=verdict_for(change),
    )


class ExitFirst(enum.Enum):
    """Which leg of the trade plan the price reached first within a horizon."""

    TAKE_PROFIT = "TAKE_PROFIT"
    STOP = "STOP"
    NEITHER = "NEITHER"  # neither level was reached within the horizon
    SAME_BAR = "SAME_BAR"  # both inside one candle: the order within it is unknown, so neither is claimed


def first_exit(
    recommendation: Recommendation,
    stop: float,
    take_profit: float,
    signal_time: datetime,
    horizon: timedelta,
    candles: Sequence[Candle],
    candle_duration: timedelta,
) -> ExitFirst | None:
    """Stop or take-profit first, over the same window as :func:`evaluate_outcome` (candles opening at or
    after ``signal_time`` and closing by the horizon's end), oldest first; ``None`` when the candles do
    not cover the horizon yet. A LONG is stopped when a low reaches the stop and takes profit when a high
    reaches the target; a SHORT mirrored."""
    direction = direction_of(recommendation)
    end = signal_time + horizon
    window = [c for c in candles if c.open_time >= signal_time and c.open_time + candle_duration <= end]
    if not window or window[-1].open_time + candle_duration < end:
        return None
    for c in window:
        stopped = c.low <= stop if direction > 0 else c.high >= stop
        profited = c.high >= take_profit if direction > 0 else c.low <= take_profit
        if stopped and profited:
            return ExitFirst.SAME_BAR
        if stopped:
            return ExitFirst.STOP
        if profited:
            return ExitFirst.TAKE_PROFIT
    return ExitFirst.NEITHER
