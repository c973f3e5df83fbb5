"""Benchmark the backtest: one year of 4h bars (~2,190), all three modes, baselines and walk-forward.

The engine runs once per bar (the score is mode independent); each mode, baseline and fitted threshold is
a classification of the recorded scores. The budget is 2 s on the development machine; this script
prints the figure and exits non-zero only on an error (not on a slow run).

    .venv/bin/python bench/bench_backtest.py [--history DIR] [--repeat 5]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

from engine import THRESHOLDS, Mode
from engine.backtest import BacktestConfig, performance_table, replay, walk_forward
from providers.history_files import HistoryNotAvailable, load_history
from signal_api.paths import default_history_dir

BUDGET_S = 2.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history", type=Path, default=None, help="history directory (default ../shared/...)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs (default 5)")
    args = parser.parse_args(argv)
    directory = args.history or default_history_dir()
    try:
        started = time.perf_counter()
        history = load_history(directory)
        load_s = time.perf_counter() - started
    except HistoryNotAvailable as exc:
        print(f"bench_backtest: {exc.message}", file=sys.stderr)
        return 1
    span = history.candles[-1].open_time - history.candles[0].open_time
    print(f"history: {len(history.candles)} 4h bars over {span.days} days, loaded in {load_s * 1000:.0f} ms")
    print(f"python {platform.python_version()} on {platform.machine()} ({platform.processor() or 'cpu n/a'})")

    config = BacktestConfig()
    totals: list[float] = []
    stages: list[tuple[float, float, float]] = []
    extra: list[float] = []
    bars = 0
    for _ in range(max(1, args.repeat)):
        # Exactly what run_backtest (the CLI and the GraphQL query) does, stage by stage.
        t0 = time.perf_counter()
        played = replay(history, config)  # one engine run per bar: the score serves all three modes
        t1 = time.perf_counter()
        scored = played.scored
        performance_table(scored, THRESHOLDS[Mode.AGGRESSIVE], config.horizon_bars, played.bar)
        t2 = time.perf_counter()
        walk_forward(scored, config, config.horizon_bars, played.bar)  # fitted + 3 static modes + baselines
        t3 = time.perf_counter()
        for mode in (Mode.CONSERVATIVE, Mode.ULTRA):  # the other two modes' in-sample tables
            performance_table(scored, THRESHOLDS[mode], config.horizon_bars, played.bar)
        t4 = time.perf_counter()
        totals.append(t3 - t0)
        stages.append((t1 - t0, t2 - t1, t3 - t2))
        extra.append(t4 - t3)
        bars = played.bars_in_range
    best = min(totals)
    median = statistics.median(totals)
    replay_s, table_s, wf_s = stages[totals.index(best)]
    print(
        f"backtest report (3 modes, baselines, walk-forward): best {best:.3f} s, median {median:.3f} s "
        f"over {len(totals)} runs; {bars / median:,.0f} bars/s (median)"
    )
    print(f"  replay {replay_s:.3f} s | in-sample table {table_s:.3f} s | walk-forward {wf_s:.3f} s (best run)")
    print(f"  + in-sample tables of the other two modes: {statistics.median(extra):.3f} s (median)")
    verdict = "within" if median <= BUDGET_S else "OVER"
    print(f"budget {BUDGET_S:.1f} s for one year of 4h bars: {verdict} (median)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
