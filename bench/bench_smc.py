"""Benchmark Smart Money Concepts: 4 timeframes × 500 closed candles, CPU milliseconds per report.

The four series are four disjoint 500-bar windows of the real year of 4 h BTC (the engine's cost depends on
the number of bars and of open gaps/zones, not on the interval). Budget: 20 ms of CPU for the four.

Baselines over the same 2,000 candles, computing ONLY the fractal swings (N = 2):
- ``swings-loop``: the minimal pure-Python pass (one comparison window per bar);
- ``swings-numpy``: the same swings vectorized with numpy (sliding-window max/min).

    .venv/bin/python bench/bench_smc.py [--history DIR] [--repeat 50]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from engine.smc import analyze_structure
from providers.history_files import HistoryNotAvailable, load_history
from signal_api.paths import default_history_dir

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from engine.market import Candle

BUDGET_MS = 20.0
WINDOW = 500
N = 2


def swings_loop(candles: Sequence[Candle]) -> int:
    found = 0
    for j in range(N, len(candles) - N):
        h, lo = candles[j].high, candles[j].low
        left, right = candles[j - N : j], candles[j + 1 : j + N + 1]
        if all(c.high <= h for c in left) and all(c.high < h for c in right):
            found += 1
        if all(c.low >= lo for c in left) and all(c.low > lo for c in right):
            found += 1
    return found


def swings_numpy(candles: Sequence[Candle]) -> int:
    highs = np.fromiter((c.high for c in candles), float, len(candles))
    lows = np.fromiter((c.low for c in candles), float, len(candles))
    mid = highs[N:-N]
    left_h = sliding_window_view(highs[: -N - 1], N).max(axis=1)[: len(mid)]
    right_h = sliding_window_view(highs[N + 1 :], N).max(axis=1)[: len(mid)]
    left_l = sliding_window_view(lows[: -N - 1], N).min(axis=1)[: len(mid)]
    right_l = sliding_window_view(lows[N + 1 :], N).min(axis=1)[: len(mid)]
    mid_l = lows[N:-N]
    return int(((mid >= left_h) & (mid > right_h)).sum() + ((mid_l <= left_l) & (mid_l < right_l)).sum())


def cpu_ms(run: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.process_time()
        run()
        out.append((time.process_time() - started) * 1000)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history", type=Path, default=None, help="history directory (default ../shared/...)")
    parser.add_argument("--repeat", type=int, default=50, help="timed runs (default 50)")
    args = parser.parse_args(argv)
    try:
        candles = load_history(args.history or default_history_dir()).candles
    except HistoryNotAvailable as exc:
        print(f"bench_smc: {exc.message}", file=sys.stderr)
        return 1
    series = [candles[i * WINDOW : (i + 1) * WINDOW] for i in range(4)]
    assert all(len(s) == WINDOW for s in series), "the history needs 2,000 4 h bars"
    interval = timedelta(hours=4)
    print(f"4 series × {WINDOW} real 4h BTC candles; python {platform.python_version()} on {platform.machine()}")

    def report() -> None:
        for s in series:
            analyze_structure(s, interval=interval)

    readings = [analyze_structure(s, interval=interval) for s in series]
    events = sum(len(r.events) for r in readings)
    gaps = sum(len(r.fair_value_gaps) for r in readings)
    swings = sum(swings_loop(s) for s in series)
    assert (
        swings
        == sum(swings_numpy(s) for s in series)
        == sum(e.kind.value.startswith("SWING") for r in readings for e in r.events)
    ), "baselines and engine disagree on the swings"
    print(f"found: {events} events ({swings} swings), {gaps} fair value gaps over the four series")
    rows = [
        ("smc (engine/smc.py, full report)", cpu_ms(report, args.repeat)),
        ("baseline swings-loop (swings only)", cpu_ms(lambda: [swings_loop(s) for s in series], args.repeat)),
        ("baseline swings-numpy (swings only)", cpu_ms(lambda: [swings_numpy(s) for s in series], args.repeat)),
    ]
    print(f"{'CPU ms for 4 × 500 candles':<40} {'median':>8} {'p95':>8} {'min':>8}")
    for name, samples in rows:
        p95 = statistics.quantiles(samples, n=20)[-1] if len(samples) > 1 else samples[0]
        print(f"{name:<40} {statistics.median(samples):8.2f} {p95:8.2f} {min(samples):8.2f}")
    median = statistics.median(rows[0][1])
    print(f"budget {BUDGET_MS:.0f} ms: {'met' if median <= BUDGET_MS else 'MISSED'} (median {median:.2f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
