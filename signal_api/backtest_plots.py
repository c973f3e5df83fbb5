"""PNG charts of the out-of-sample evaluation (``signal-api backtest --walk-forward --plot DIR``).

matplotlib with the non-interactive Agg backend (no display needed). Three charts:

- ``equity_<h>h.png``: the running sum of net returns (percent points, every call the same size) of every
  strategy over the test bars, always-long drawn thick in black as the line to beat, CALIBRATED in blue;
- ``calibration_<h>h.png``: the reliability curve, mean predicted P(up) against the observed frequency per
  decile, with the diagonal of perfect calibration;
- ``buckets_<h>h.png``: hit rate and mean net return of a LONG per decile of P(up) and of the engine's score
  (what each number buys), against always-long's over the same bars (a black line).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt

from engine.backtest import ALWAYS_LONG
from engine.calibrated import FEE_PCT
from engine.calibrated_fit import CALIBRATED
from engine.modes import Recommendation

if TYPE_CHECKING:
    from pathlib import Path

    from engine.calibrated_fit import CalibratedEvaluation

DPI = 80


def _equity(values: list[float | None]) -> list[float]:
    total, out = 0.0, []
    for v in values:
        total += 0.0 if v is None else v
        out.append(total)
    return out


def plot_equity(ev: CalibratedEvaluation, hours: float, path: Path) -> None:
    """Every evaluated strategy; CALIBRATED and always-long drawn thick, the rest thin."""
    times = mdates.date2num([d.as_of for d in ev.test])  # type: ignore[no-untyped-call]
    fig, ax = plt.subplots(figsize=(9, 4.8), dpi=DPI)
    for strategy in ev.strategies:
        series = ev.net.get((strategy, hours))
        if series is None:
            continue
        if strategy == ALWAYS_LONG:
            ax.plot(times, _equity(series), color="black", linewidth=2.4, label="always-long", zorder=3)
        elif strategy == CALIBRATED:
            ax.plot(times, _equity(series), color="tab:blue", linewidth=2.0, label=CALIBRATED, zorder=4)
        else:
            ax.plot(times, _equity(series), linewidth=0.8, alpha=0.75, label=strategy)
    ax.axhline(0, color="grey", linewidth=0.6)
    ax.xaxis_date()
    ax.set_title(f"Out of sample, {hours:g}h calls after {FEE_PCT:g}% fees: running sum of net returns")
    ax.set_ylabel("percent points")
    ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_calibration(ev: CalibratedEvaluation, hours: float, path: Path) -> None:
    bins = [b for b in ev.reliability.get(hours, ()) if b.mean_predicted is not None and b.observed is not None]
    fig, ax = plt.subplots(figsize=(4.6, 4.2), dpi=DPI)
    xs = [b.mean_predicted for b in bins if b.mean_predicted is not None]
    ys = [b.observed for b in bins if b.observed is not None]
    lo = min([*xs, *ys, 0.3]) - 0.02
    hi = max([*xs, *ys, 0.7]) + 0.02
    ax.plot([lo, hi], [lo, hi], color="grey", linestyle="--", linewidth=0.8, label="perfect calibration")
    ax.plot(xs, ys, marker="o", label="CALIBRATED, by decile")
    brier = ev.brier.get(hours)
    ax.set_title(f"Calibration {hours:g}h" + (f" (Brier {brier:.3f})" if brier is not None else ""))
    ax.set_xlabel("mean predicted P(LONG beats fees)")
    ax.set_ylabel("observed frequency")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _deciles(pairs: list[tuple[float, float]], fmt: str) -> tuple[list[str], list[float], list[float]]:
    """Label, hit rate (%) and mean net return per decile of the first element (by rank)."""
    pairs = sorted(pairs)
    n = len(pairs)
    labels, hit, mean = [], [], []
    for k in range(10):
        chunk = pairs[round(k * n / 10) : round((k + 1) * n / 10)]
        if not chunk:
            continue
        labels.append(f"{chunk[0][0]:{fmt}}–{chunk[-1][0]:{fmt}}")
        hit.append(100.0 * sum(r > 0 for _, r in chunk) / len(chunk))
        mean.append(sum(r for _, r in chunk) / len(chunk))
    return labels, hit, mean


def plot_buckets(ev: CalibratedEvaluation, hours: float, path: Path) -> None:
    """Hit rate and mean net return of a LONG per decile of CALIBRATED's P(up) (top) and of the engine's
    0..100 score (bottom); the SHORT side is the mirror image."""
    h = ev.horizons_hours.index(hours)
    by_p: list[tuple[float, float]] = []
    by_score: list[tuple[float, float]] = []
    for d, p in zip(ev.test, ev.probabilities.get(hours, []), strict=False):
        outcome = d.outcome(Recommendation.LONG, h)
        if outcome is not None:
            by_p.append((p, outcome.return_pct - FEE_PCT))
            if d.score is not None:
                by_score.append((d.score, outcome.return_pct - FEE_PCT))
    # the line to beat in every decile: always-long over the same bars (a LONG at every one of them)
    base_hit = 100.0 * sum(r > 0 for _, r in by_p) / len(by_p) if by_p else 50.0
    base_mean = sum(r for _, r in by_p) / len(by_p) if by_p else 0.0
    fig, axes = plt.subplots(2, 2, figsize=(9, 6.4), dpi=DPI)
    for row, (pairs, name, fmt) in enumerate(((by_p, "P(up)", ".2f"), (by_score, "engine score", ".0f"))):
        labels, hit, mean = _deciles(pairs, fmt)
        a1, a2 = axes[row]
        a1.bar(range(len(hit)), hit, color="tab:blue")
        a1.axhline(base_hit, color="black", linewidth=1.2, label=f"always-long {base_hit:.1f}%")
        a1.legend(fontsize=6, loc="best")
        a1.set_title(f"LONG hit rate by {name} decile, {hours:g}h", fontsize=9)
        a1.set_ylabel("% beating fees")
        a2.bar(range(len(mean)), mean, color=["tab:green" if m > 0 else "tab:red" for m in mean])
        a2.axhline(0, color="grey", linewidth=0.6)
        a2.axhline(base_mean, color="black", linewidth=1.2, label=f"always-long {base_mean:+.3f}%")
        a2.legend(fontsize=6, loc="best")
        a2.set_title(f"LONG mean net return by {name} decile, {hours:g}h", fontsize=9)
        a2.set_ylabel("% per call after fees")
        for ax in (a1, a2):
            ax.set_xticks(range(len(labels)))
            ax.set_xticklabels(labels, rotation=60, fontsize=6)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_charts(ev: CalibratedEvaluation, directory: Path) -> list[Path]:
    """Every chart for every horizon into ``directory`` (created); the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for hours in ev.horizons_hours:
        for name, draw in (("equity", plot_equity), ("calibration", plot_calibration), ("buckets", plot_buckets)):
            path = directory / f"{name}_{hours:g}h.png"
            draw(ev, hours, path)
            written.append(path)
    return written
