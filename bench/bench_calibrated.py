"""Benchmark CALIBRATED: the walk-forward fit over a year of 4h bars, and what it adds to a live signal.

Budgets (issue 16): the walk-forward fit of the year ≤ 10 s; the calibrated score adds ≤ 1 ms per live
signal. Each figure is printed beside its baseline, measured in the same run:

- fit: CALIBRATED's walk-forward (3 test folds x 2 horizons x 3 values of C, thresholds, the baselines'
  figures with block-bootstrap intervals, the gate) plus the final fit of the served model, against the
  existing threshold walk-forward (``engine.backtest.walk_forward``: 10 strategies x 3 folds x 15 bands);
- features in the replay: the replay with the context features against the replay without them;
- live: ``compute_signal`` in mode CALIBRATED with the model against the same call in mode AGGRESSIVE
  without it, on real snapshots of the year (the difference is the features plus the dot product).

    .venv/bin/python bench/bench_calibrated.py [--history DIR] [--repeat 3] [--signals 300]

Exits non-zero only on an error, never on a slow run.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

from engine import Mode, compute_signal
from engine.backtest import BacktestConfig, replay, snapshot_at, walk_forward
from engine.calibrated_fit import evaluate_calibrated, fit_shipped_model
from providers.history_files import HistoryNotAvailable, load_history
from resolvers.model import read_model
from signal_api.paths import default_history_dir, default_model_path

FIT_BUDGET_S = 10.0
LIVE_BUDGET_MS = 1.0


def _timed(fn: object, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history", type=Path, default=None, help="history directory (default ../shared/...)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each step (default 3)")
    parser.add_argument("--signals", type=int, default=300, help="live snapshots timed (default 300)")
    args = parser.parse_args(argv)
    try:
        history = load_history(args.history or default_history_dir())
    except HistoryNotAvailable as exc:
        print(f"bench_calibrated: {exc.message}", file=sys.stderr)
        return 1
    machine = f"Python {platform.python_version()}, {platform.machine()}"
    print(f"# bench_calibrated: {len(history.candles)} 4h bars, {machine}")

    plain_cfg, feat_cfg = BacktestConfig(), BacktestConfig(features=True)
    plain_med, plain_best = _timed(lambda: replay(history, plain_cfg), args.repeat)
    feat_med, feat_best = _timed(lambda: replay(history, feat_cfg), args.repeat)
    print(f"replay without features (baseline): median {plain_med:.2f} s, best {plain_best:.2f} s")
    print(f"replay with context features:       median {feat_med:.2f} s, best {feat_best:.2f} s")

    played = replay(history, feat_cfg)
    scored = played.scored
    wf_med, wf_best = _timed(lambda: walk_forward(scored, feat_cfg, feat_cfg.horizon_bars, played.bar), args.repeat)
    wf = walk_forward(scored, feat_cfg, feat_cfg.horizon_bars, played.bar)

    def fit() -> None:
        ev = evaluate_calibrated(scored, wf, feat_cfg.horizon_bars, played.bar, "BTCUSDT")
        fit_shipped_model(scored, ev, feat_cfg.horizon_bars, played.bar, "BTCUSDT")

    fit()  # import scikit-learn once, outside the timing
    fit_med, fit_best = _timed(fit, args.repeat)
    print(f"threshold walk-forward (baseline):  median {wf_med:.2f} s, best {wf_best:.2f} s")
    print(
        f"CALIBRATED walk-forward + final fit: median {fit_med:.2f} s, best {fit_best:.2f} s "
        f"(budget {FIT_BUDGET_S:g} s; with the featured replay: {feat_med + fit_med:.2f} s)"
    )

    model = read_model(default_model_path())
    step = max(1, len(scored) // args.signals)
    snapshots = [snapshot_at(history, d.index) for d in scored[::step]][: args.signals]

    def per_signal(mode: Mode, with_model: bool) -> float:
        samples = []
        for snap in snapshots:
            started = time.perf_counter()
            compute_signal(snap, mode, model if with_model else None)
            samples.append(time.perf_counter() - started)
        return statistics.median(samples) * 1000

    per_signal(Mode.CALIBRATED, True)  # warm
    base = statistics.median(per_signal(Mode.AGGRESSIVE, False) for _ in range(args.repeat))
    calibrated = statistics.median(per_signal(Mode.CALIBRATED, True) for _ in range(args.repeat))
    print(f"compute_signal AGGRESSIVE, no model (baseline): median {base:.3f} ms per signal")
    print(
        f"compute_signal CALIBRATED with the model:      median {calibrated:.3f} ms per signal "
        f"(adds {calibrated - base:.3f} ms; budget {LIVE_BUDGET_MS:g} ms) over {len(snapshots)} real snapshots"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
