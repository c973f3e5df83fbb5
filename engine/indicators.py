"""Textbook technical indicators over oldest-first series, written out so each step can be checked by hand.

EMAs are seeded with the first value (``alpha = 2 / (period + 1)``, the same as pandas
``ewm(span=period, adjust=False)``), which is what the predecessor's MACD used. RSI uses Wilder's
smoothing: the first average is the simple mean of the first ``period`` changes, then
``avg = (avg * (period - 1) + change) / period``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


def _require(values: Sequence[float], count: int, what: str) -> None:
    if count < 1:
        raise ValueError(f"{what}: period must be at least 1, got {count}")
    if len(values) < count:
        raise ValueError(f"{what}: needs {count} values, got {len(values)}")


def mean(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("mean of an empty series")
    return sum(values) / len(values)


def sma(values: Sequence[float], period: int) -> float:
    """Simple moving average of the last ``period`` values."""
    _require(values, period, "sma")
    return mean(values[-period:])


def ema_series(values: Sequence[float], period: int) -> list[float]:
    """Exponential moving average at every point, seeded with the first value."""
    _require(values, 1, "ema")
    if period < 1:
        raise ValueError(f"ema: period must be at least 1, got {period}")
    alpha = 2.0 / (period + 1)
    out = [values[0]]
    for value in values[1:]:
        out.append(out[-1] + alpha * (value - out[-1]))
    return out


def rsi_wilder(closes: Sequence[float], period: int = 14) -> float:
    """Wilder's RSI of the last close; 50 when the series never moved, 100 when it never fell."""
    _require(closes, period + 1, "rsi")
    changes = [b - a for a, b in itertools.pairwise(closes)]
    avg_gain = sum(max(c, 0.0) for c in changes[:period]) / period
    avg_loss = sum(max(-c, 0.0) for c in changes[:period]) / period
    for change in changes[period:]:
        avg_gain = (avg_gain * (period - 1) + max(change, 0.0)) / period
        avg_loss = (avg_loss * (period - 1) + max(-change, 0.0)) / period
    if avg_loss == 0.0:
        return 50.0 if avg_gain == 0.0 else 100.0
    return 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)


@dataclass(frozen=True, slots=True)
class Macd:
    line: float  # EMA(fast) - EMA(slow)
    signal: float  # EMA(signal) of the line
    histogram: float  # line - signal


def macd(closes: Sequence[float], fast: int = 12, slow: int = 26, signal: int = 9) -> Macd:
    """MACD of the last close (needs at least ``slow`` closes so the slow EMA has seen a full period)."""
    _require(closes, slow, "macd")
    line = [f - s for f, s in zip(ema_series(closes, fast), ema_series(closes, slow), strict=True)]
    signal_line = ema_series(line, signal)
    return Macd(line=line[-1], signal=signal_line[-1], histogram=line[-1] - signal_line[-1])


def pct_change(old: float, new: float) -> float:
    """Percent change from ``old`` to ``new``; ``old`` must be non-zero."""
    return (new / old - 1.0) * 100.0
