"""PNG charts of the out-of-sample evaluation (``signal-api backtest --walk-forward --plot DIR``).

matplotlib with the non-interactive Agg backend (no display needed). Three charts:

- ``equity_<h>h.png``: the running sum of net returns (percent points, every call the same size) of each
  strategy over the test bars, always-long drawn thick in black as the line to beat;
- ``calibration_<h>h.png``: the reliability curve, mean predicted P(up) against the observed frequency per
  decile, with the diagonal of perfect calibration;
- ``buckets_<h>h.png``: hit rate and mean net return of a LONG per P(up) decile (what the probability buys).
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
SHOWN = (CALIBRATED, ALWAYS_LONG, "momentum_only", "only_long_short", "engine_static_aggressive", "engine")


def _equity(values: list[float | None]) -> list[float]:
    total, out = 0.0, []
    for v in values:
        total += 0.0 if v is None else v
        out.append(total)
    return out


def plot_equity(ev: CalibratedEvaluation, hours: float, path: Path) -> None:
    times = mdates.date2num([d.as_of for d in ev.test])  # type: ignore[no-untyped-call]
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=DPI)
    for strategy in SHOWN:
        series = ev.net.get((strategy, hours))
        if series is None:
            continue
        if strategy == ALWAYS_LONG:
            ax.plot(times, _equity(series), color="black", linewidth=2.2, label="always-long")
        else:
            ax.plot(times, _equity(series), linewidth=1.6 if strategy == CALIBRATED else 1.0, label=strategy)
    ax.axhline(0, color="grey", linewidth=0.6)
    ax.xaxis_date()
    ax.set_title(f"Out of sample, {hours:g}h calls after {FEE_PCT:g}% fees: running sum of net returns")
    ax.set_ylabel("percent points")
    ax.legend(fontsize=7, loc="upper left")
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


def plot_buckets(ev: CalibratedEvaluation, hours: float, path: Path) -> None:
    """Hit rate and mean net return of a LONG per P(up) decile (the SHORT side is the mirror image)."""
    h = ev.horizons_hours.index(hours)
    pairs = []
    for d, p in zip(ev.test, ev.probabilities.get(hours, []), strict=False):
        outcome = d.outcome(Recommendation.LONG, h)
        if outcome is not None:
            pairs.append((p, outcome.return_pct - FEE_PCT))
    pairs.sort()
    n = len(pairs)
    labels, hit, mean = [], [], []
    for k in range(10):
        chunk = pairs[round(k * n / 10) : round((k + 1) * n / 10)]
        if not chunk:
            continue
        labels.append(f"{chunk[0][0]:.2f}–{chunk[-1][0]:.2f}")
        hit.append(100.0 * sum(r > 0 for _, r in chunk) / len(chunk))
        mean.append(sum(r for _, r in chunk) / len(chunk))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.8), dpi=DPI)
    a1.bar(range(len(hit)), hit, color="tab:blue")
    a1.axhline(50, color="grey", linewidth=0.6)
    a1.set_title(f"LONG hit rate by P(up) decile, {hours:g}h")
    a1.set_ylabel("% of LONGs beating fees")
    a2.bar(range(len(mean)), mean, color=["tab:green" if m > 0 else "tab:red" for m in mean])
    a2.axhline(0, color="grey", linewidth=0.6)
    a2.set_title(f"LONG mean net return by P(up) decile, {hours:g}h")
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
