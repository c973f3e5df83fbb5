"""``signal-api backtest``: replay the engine over recorded history and print how it did against baselines.

    signal-api backtest [--history DIR] [--symbol BTC] [--mode aggressive] [--walk-forward]
                        [--horizons 4,24] [--from 2025-01-01] [--to 2025-11-14] [--format table|json]
                        [--plot DIR]

Tables go to stdout, progress and notes to stderr. ``--history`` defaults to ``../shared/fixtures/history``
next to this checkout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import Mode
from engine.backtest import ENGINE, BacktestReport, PerformanceRow, WalkForward
from providers.history_files import HistoryFormatError, HistoryNotAvailable
from resolvers.backtest import DEFAULT_HORIZONS_HOURS, BacktestService
from signal_api.calibrated_report import calibrated_json, evaluate_report, format_calibrated
from signal_api.paths import default_history_dir

if TYPE_CHECKING:
    from collections.abc import Sequence


def _utc(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time, e.g. 2025-07-01 (got {text!r})") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _horizons(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"horizons must be hours separated by commas, e.g. 4,24 (got {text!r})"
        ) from None


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``backtest`` on the ``signal-api`` sub-command parser."""
    cmd = subparsers.add_parser(
        "backtest",
        help="replay the engine over recorded 4h history (no look-ahead)",
        description="Replay the signal engine over recorded 4h history, deciding at each bar with only what "
        "was known then, and score it against always-long, momentum-only and each single factor. Tables go "
        "to stdout, progress to stderr.",
    )
    cmd.add_argument("--history", type=Path, metavar="DIR", help="history files (default: ../shared/fixtures/history)")
    cmd.add_argument("--symbol", default="BTC", help="base asset or pair (default BTC)")
    cmd.add_argument("--mode", default="aggressive", type=Mode.parse, help="conservative | aggressive | ultra")
    cmd.add_argument(
        "--walk-forward",
        action="store_true",
        help="also fit thresholds walk-forward (4 folds), evaluate CALIBRATED out of sample and print the gate",
    )
    cmd.add_argument(
        "--horizons",
        type=_horizons,
        default=list(DEFAULT_HORIZONS_HOURS),
        metavar="H[,H]",
        help="outcome horizons in hours, multiples of 4 (default 4,24)",
    )
    cmd.add_argument("--from", dest="start", type=_utc, metavar="TIME", help="first decision time (ISO, UTC)")
    cmd.add_argument("--to", dest="end", type=_utc, metavar="TIME", help="last decision time (ISO, UTC)")
    cmd.add_argument("--format", choices=("table", "json"), default="table", help="table (default) or json")
    cmd.add_argument(
        "--plot",
        type=Path,
        metavar="DIR",
        help="write PNG charts (equity curves, calibration, score buckets) of the walk-forward to DIR",
    )
    cmd.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    directory: Path = args.history if args.history is not None else default_history_dir()
    service = BacktestService(directory)
    started = time.perf_counter()

    def progress(index: int, total: int) -> None:
        print(f"\rbacktest: bar {index + 1}/{total}", end="", file=sys.stderr, flush=True)

    try:
        report = service.report(
            args.symbol,
            args.mode,
            args.horizons,
            args.start,
            args.end,
            walk_forward=args.walk_forward or args.plot is not None,
            progress=progress,
            features=args.walk_forward or args.plot is not None,
        )
        calibrated = evaluate_report(report) if report.walk_forward is not None else None
    except HistoryNotAvailable as exc:
        print(f"backtest: {exc.message}", file=sys.stderr)
        return 2
    except (HistoryFormatError, ValueError) as exc:
        print(f"\nbacktest: {exc}", file=sys.stderr)
        return 2
    print(f"\rbacktest: {report.bars_scored} bars scored in {time.perf_counter() - started:.2f}s", file=sys.stderr)
    if args.format == "json":
        payload = report_json(report)
        payload["calibrated"] = calibrated_json(calibrated) if calibrated is not None else None
        json.dump(payload, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_report(report))
        if calibrated is not None:
            sys.stdout.write(format_calibrated(calibrated))
    if args.plot is not None and calibrated is not None:
        from signal_api.backtest_plots import write_charts

        written = write_charts(calibrated, args.plot)
        print(f"backtest: wrote {len(written)} charts to {args.plot}", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------------------------- text


def _pct(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:+.{digits}f}"


def _row_cells(row: PerformanceRow) -> list[str]:
    s = row.summary
    win = "—" if s.win_rate is None else f"{s.win_rate * 100:.1f}"
    win_ci = "" if s.win_rate_ci95 is None else f"{s.win_rate_ci95.low * 100:.1f}..{s.win_rate_ci95.high * 100:.1f}"
    mean_ci = "" if s.mean_return_ci95 is None else f"{s.mean_return_ci95.low:+.3f}..{s.mean_return_ci95.high:+.3f}"
    return [
        row.strategy,
        row.recommendation,
        f"{row.horizon_hours:g}h",
        str(s.count),
        win,
        win_ci,
        _pct(s.mean_return_pct),
        mean_ci,
        _pct(s.median_return_pct),
    ]


HEADER = ["strategy", "rec", "horizon", "n", "win %", "win 95% CI", "mean %", "mean 95% CI", "median %"]


def format_rows(rows: Sequence[PerformanceRow], *, skip_empty: bool = True) -> str:
    """A Markdown table (also readable in a terminal), one line per row with trades."""
    body = [_row_cells(r) for r in rows if r.summary.count or not skip_empty]
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
    lines.extend("| " + " | ".join(cells) + " |" for cells in body)
    return "\n".join(lines) + "\n"


def _format_walk_forward(wf: WalkForward) -> str:
    out = ["", "## Walk-forward (out of sample: the test folds concatenated)", ""]
    out.append("| fold | test from | test to | test bars | train bars | purged | engine d | momentum d |")
    out.append("|---|---|---|---|---|---|---|---|")
    for fold in wf.folds[1:]:
        engine_d, momentum_d = fold.d(ENGINE), fold.d("momentum_only")
        out.append(
            f"| {fold.number} | {fold.start:%Y-%m-%d %H:%M} | {fold.end:%Y-%m-%d %H:%M} | {fold.bars} | "
            f"{fold.train_bars} | {fold.purged} | {engine_d:g} | {momentum_d:g} |"
        )
    out.extend(["", format_rows(wf.rows), f"**Verdict:** {wf.verdict.statement}", ""])
    return "\n".join(out)


def format_report(report: BacktestReport) -> str:
    t = report.thresholds
    first = f"{report.first_bar:%Y-%m-%d %H:%M}" if report.first_bar else "—"
    last = f"{report.last_bar:%Y-%m-%d %H:%M}" if report.last_bar else "—"
    refused = ", ".join(f"{code} {n}" for code, n in sorted(report.refusals.items())) or "none"
    lines = [
        f"# Backtest {report.symbol} {report.bar.total_seconds() / 3600:g}h, mode {report.mode.value} "
        f"(SHORT ≤ {t.short_max:g}, LONG ≥ {t.long_min:g})",
        "",
        f"Decisions {first} .. {last} UTC: {report.bars_scored} bars scored of {report.bars_in_range}; "
        f"{report.skipped_warmup} skipped for warm-up ({report.skipped_gap} of them just after a data gap); "
        f"refused: {refused}.",
    ]
    if report.gaps:
        lines.append("Gaps (reported, not filled): " + "; ".join(str(g) for g in report.gaps))
    lines.extend(["", "## In sample (all scored bars, the mode's thresholds)", "", format_rows(report.rows)])
    text = "\n".join(lines)
    if report.walk_forward is not None:
        text += _format_walk_forward(report.walk_forward)
    return text


# --------------------------------------------------------------------------------------------- json


def _row_json(row: PerformanceRow) -> dict[str, Any]:
    s = row.summary
    return {
        "name": row.strategy,
        "recommendation": row.recommendation,
        "horizonHours": row.horizon_hours,
        "signals": row.signals,
        "count": s.count,
        "wins": s.wins,
        "winRate": s.win_rate,
        "winRateLow": s.win_rate_ci95.low if s.win_rate_ci95 else None,
        "winRateHigh": s.win_rate_ci95.high if s.win_rate_ci95 else None,
        "meanReturnPct": s.mean_return_pct,
        "meanLow": s.mean_return_ci95.low if s.mean_return_ci95 else None,
        "meanHigh": s.mean_return_ci95.high if s.mean_return_ci95 else None,
        "medianReturnPct": s.median_return_pct,
    }


def report_json(report: BacktestReport) -> dict[str, Any]:
    wf = report.walk_forward
    return {
        "symbol": report.symbol,
        "mode": report.mode.value,
        "shortMax": report.thresholds.short_max,
        "longMin": report.thresholds.long_min,
        "horizonsHours": list(report.horizon_hours),
        "firstBar": report.first_bar.isoformat() if report.first_bar else None,
        "lastBar": report.last_bar.isoformat() if report.last_bar else None,
        "barsInRange": report.bars_in_range,
        "barsScored": report.bars_scored,
        "skippedWarmup": report.skipped_warmup,
        "skippedGap": report.skipped_gap,
        "refusals": dict(report.refusals),
        "gaps": [str(g) for g in report.gaps],
        "rows": [_row_json(r) for r in report.rows],
        "walkForward": None
        if wf is None
        else {
            "folds": [
                {
                    "number": f.number,
                    "start": f.start.isoformat(),
                    "end": f.end.isoformat(),
                    "bars": f.bars,
                    "trainBars": f.train_bars,
                    "purged": f.purged,
                    "fits": {fit.strategy: fit.d for fit in f.fits},
                }
                for f in wf.folds
            ],
            "rows": [_row_json(r) for r in wf.rows],
            "verdict": {
                "beatsBaselines": wf.verdict.beats_baselines,
                "statement": wf.verdict.statement,
                "bestBaseline": wf.verdict.best_baseline,
            },
            "testBars": wf.test_bars,
        },
    }
