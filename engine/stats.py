"""Honest summary statistics for tracked signals and backtests: win rates with Wilson 95 % intervals."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

Z_95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class PerformanceSummary:
    count: int
    wins: int
    win_rate: float | None  # wins / count; FLAT counts as not a win
    win_rate_ci95: Interval | None
    mean_return_pct: float | None
    median_return_pct: float | None
    mean_return_ci95: Interval | None


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> Interval | None:
    """Wilson score interval: well-behaved for small samples and rates near 0 or 1 (unlike the normal one)."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


def mean_interval(values: Sequence[float], z: float = Z_95) -> Interval | None:
    """Normal-approximation interval of the mean (needs at least two values)."""
    if len(values) < 2:
        return None
    mean = statistics.fmean(values)
    half = z * statistics.stdev(values) / math.sqrt(len(values))
    return Interval(mean - half, mean + half)


def summarize(returns_pct: Sequence[float], wins: int) -> PerformanceSummary:
    count = len(returns_pct)
    return PerformanceSummary(
        count=count,
        wins=wins,
        win_rate=wins / count if count else None,
        win_rate_ci95=wilson_interval(wins, count),
        mean_return_pct=statistics.fmean(returns_pct) if count else None,
        median_return_pct=statistics.median(returns_pct) if count else None,
        mean_return_ci95=mean_interval(returns_pct),
    )
