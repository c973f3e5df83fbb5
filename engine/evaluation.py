"""Out-of-sample figures for a strategy's calls, after fees, and the calibration of a probability.

A strategy is a call (LONG, SHORT or NEUTRAL) per test bar. Each call's net return is its return in its
own direction minus :data:`engine.calibrated.FEE_PCT`; it wins when that is above zero. Figures: calls,
win rate with a Wilson 95 % interval, mean net return per call with a block-bootstrap 95 % interval,
return per unit of risk (mean / standard deviation per call), and the maximum drawdown of the running
sum of net returns in call order (each call the same size; 24 h calls overlap, so this is the drawdown of
a book that takes every call, not of one account).

Intervals resample *blocks* of consecutive test bars (:data:`BLOCK_BARS`, 5 days of 4 h bars): 24 h
outcomes of neighbouring bars share five of six candles, so resampling single calls would pretend they
are independent and give intervals that are too narrow. The same resampled bars serve both sides of a
comparison (:func:`difference_interval`), so the interval of a difference is paired. Seeded: the same
data give the same intervals.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.stats import Interval, wilson_interval

if TYPE_CHECKING:
    from collections.abc import Sequence

BLOCK_BARS = 30
BOOTSTRAP_SAMPLES = 2000
SEED = 20251114
DECILES = 10


@dataclass(frozen=True, slots=True)
class CallFigures:
    """One strategy at one horizon over the test bars."""

    strategy: str
    horizon_hours: float
    calls: int  # calls with a known outcome
    wins: int
    win_rate: float | None
    win_rate_ci95: Interval | None
    mean_net_pct: float | None
    mean_net_ci95: Interval | None  # block bootstrap
    return_per_risk: float | None  # mean / stdev of net returns per call
    max_drawdown_pct: float  # of the running sum of net returns, in percent points
    total_net_pct: float


def _block_indices(n: int, samples: int, block: int, seed: int) -> np.ndarray:
    """``samples`` rows of ``n`` bar indices made of random consecutive blocks (moving-block bootstrap)."""
    rng = np.random.default_rng(seed)
    block = max(1, min(block, n))
    blocks = math.ceil(n / block)
    starts = rng.integers(0, n - block + 1, size=(samples, blocks))
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(samples, -1)
    return idx[:, :n]


def _resampled_means(net: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Mean over the calls (non-NaN entries) of each resample; NaN where a resample has no call."""
    taken = net[idx]
    calls = np.sum(~np.isnan(taken), axis=1)
    sums = np.nansum(taken, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(calls > 0, sums / np.maximum(calls, 1), np.nan)


def _percentile_interval(values: np.ndarray) -> Interval | None:
    values = values[~np.isnan(values)]
    if values.size < 10:
        return None
    low, high = np.percentile(values, [2.5, 97.5])
    return Interval(float(low), float(high))


def bootstrap_mean_interval(
    net: Sequence[float | None], block: int = BLOCK_BARS, samples: int = BOOTSTRAP_SAMPLES, seed: int = SEED
) -> Interval | None:
    """95 % block-bootstrap interval of the mean net return per call; ``net`` has one entry per test bar
    (``None`` where the strategy made no call or the outcome is unknown)."""
    arr = np.array([np.nan if v is None else v for v in net], dtype=float)
    if arr.size == 0 or np.all(np.isnan(arr)):
        return None
    return _percentile_interval(_resampled_means(arr, _block_indices(arr.size, samples, block, seed)))


def difference_interval(
    a: Sequence[float | None],
    b: Sequence[float | None],
    block: int = BLOCK_BARS,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = SEED,
) -> Interval | None:
    """95 % paired block-bootstrap interval of ``mean(a) - mean(b)`` over the same test bars."""
    if len(a) != len(b):
        raise ValueError("both strategies must be given one entry per test bar")
    xa = np.array([np.nan if v is None else v for v in a], dtype=float)
    xb = np.array([np.nan if v is None else v for v in b], dtype=float)
    if xa.size == 0:
        return None
    idx = _block_indices(xa.size, samples, block, seed)
    return _percentile_interval(_resampled_means(xa, idx) - _resampled_means(xb, idx))


def max_drawdown(returns: Sequence[float]) -> float:
    """Largest fall of the running sum from its previous peak (0 when it never falls)."""
    peak = equity = worst = 0.0
    for r in returns:
        equity += r
        peak = max(peak, equity)
        worst = max(worst, peak - equity)
    return worst


def call_figures(strategy: str, horizon_hours: float, net: Sequence[float | None]) -> CallFigures:
    """Figures for one strategy from its net return per test bar (``None``: no call / no outcome)."""
    returns = [v for v in net if v is not None]
    wins = sum(v > 0 for v in returns)
    n = len(returns)
    sd = statistics.stdev(returns) if n >= 2 else 0.0
    mean = statistics.fmean(returns) if n else None
    return CallFigures(
        strategy=strategy,
        horizon_hours=horizon_hours,
        calls=n,
        wins=wins,
        win_rate=wins / n if n else None,
        win_rate_ci95=wilson_interval(wins, n),
        mean_net_pct=mean,
        mean_net_ci95=bootstrap_mean_interval(net),
        return_per_risk=mean / sd if mean is not None and sd > 0 else None,
        max_drawdown_pct=max_drawdown(returns),
        total_net_pct=sum(returns),
    )


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    """Predictions in one probability decile against how often the event happened."""

    low: float
    high: float
    count: int
    mean_predicted: float | None
    observed: float | None


def reliability_table(probabilities: Sequence[float], outcomes: Sequence[int]) -> tuple[ReliabilityBin, ...]:
    """Deciles of the predictions (by rank, so each bin holds about a tenth): predicted vs observed."""
    if len(probabilities) != len(outcomes):
        raise ValueError("one outcome per prediction")
    pairs = sorted(zip(probabilities, outcomes, strict=True))
    n = len(pairs)
    bins: list[ReliabilityBin] = []
    for k in range(DECILES):
        chunk = pairs[round(k * n / DECILES) : round((k + 1) * n / DECILES)]
        if not chunk:
            continue
        ps = [p for p, _ in chunk]
        bins.append(
            ReliabilityBin(
                low=ps[0],
                high=ps[-1],
                count=len(chunk),
                mean_predicted=statistics.fmean(ps),
                observed=statistics.fmean(o for _, o in chunk),
            )
        )
    return tuple(bins)


def brier_score(probabilities: Sequence[float], outcomes: Sequence[int]) -> float | None:
    """Mean squared error of the probabilities (0 is perfect; always saying the base rate p scores p(1-p))."""
    if not probabilities:
        return None
    return statistics.fmean((p - o) ** 2 for p, o in zip(probabilities, outcomes, strict=True))
