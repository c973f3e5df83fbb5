"""``signal-api model fit`` and ``signal-api model show``: the CALIBRATED artifact's only writer and reader.

    signal-api model fit  [--history DIR] [--symbol BTC] [--out PATH]
    signal-api model show [--path PATH] [--format text|json]

``fit`` replays the history (no look-ahead), walks the model forward over the backtest's folds to get its
out-of-sample figures and the shipping gate, then fits the served model on every scored bar and writes
the JSON artifact (default: the committed ``signal_api/models/calibrated_btc_4h.json``). Deterministic:
the same history gives byte-identical files. The running service reads the file at start-up only.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from engine import Mode
from engine.calibrated_fit import fit_shipped_model
from providers.history_files import HistoryFormatError, HistoryNotAvailable
from providers.symbols import InvalidSymbolFormat, parse_symbol
from resolvers.backtest import BacktestService
from resolvers.model import ModelNotAvailable, read_model, write_model
from signal_api.calibrated_report import evaluate_report, evaluation_symbol, format_calibrated
from signal_api.paths import default_history_dir, default_model_path

if TYPE_CHECKING:
    import argparse

    from engine.calibrated import CalibratedModel


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``model fit`` / ``model show`` on the ``signal-api`` sub-command parser."""
    cmd = subparsers.add_parser(
        "model",
        help="fit or show the CALIBRATED mode's model artifact",
        description="Fit the CALIBRATED mode's logistic model walk-forward on recorded history and write its "
        "JSON artifact, or show the artifact the service loads. Refitting is only ever this command.",
    )
    sub = cmd.add_subparsers(dest="model_command", required=True, metavar="{fit,show}")
    fit = sub.add_parser(
        "fit",
        help="fit walk-forward, print the gate, write the artifact",
        description="Replay the history with no look-ahead, fit the calibrated model walk-forward on the backtest's "
        "folds, print its out-of-sample figures and the shipping gate, then fit the served model on every scored "
        "bar and write the JSON artifact (deterministic).",
    )
    fit.add_argument("--history", type=Path, metavar="DIR", help="history files (default: ../shared/fixtures/history)")
    fit.add_argument("--symbol", default="BTC", help="base asset or pair (default BTC)")
    fit.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help="artifact to write (default: signal_api/models/calibrated_<base>_4h.json)",
    )
    fit.set_defaults(func=run_fit)
    show = sub.add_parser(
        "show",
        help="print the artifact: version, fit period, coefficients, figures",
        description="Print the model artifact the service loads: version, fit period, thresholds, coefficients and "
        "its out-of-sample figures with the gate's verdict.",
    )
    show.add_argument("--path", type=Path, metavar="PATH", help="artifact to read (default: the committed one)")
    show.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")
    show.set_defaults(func=run_show)


def run_fit(args: argparse.Namespace) -> int:
    directory: Path = args.history if args.history is not None else default_history_dir()
    try:
        base = parse_symbol(args.symbol).base
    except InvalidSymbolFormat as exc:
        print(f"model fit: {exc}", file=sys.stderr)
        return 2
    out: Path = args.out if args.out is not None else default_model_path(base)
    started = time.perf_counter()
    try:
        report = BacktestService(directory).report(args.symbol, Mode.AGGRESSIVE, walk_forward=True, features=True)
        evaluation = evaluate_report(report)
        scored = [d for d in report.decisions if d.score is not None]
        symbol = evaluation_symbol(report.symbol)
        model = fit_shipped_model(scored, evaluation, report.horizon_bars, report.bar, symbol)
    except HistoryNotAvailable as exc:
        print(f"model fit: {exc.message}", file=sys.stderr)
        return 2
    except (HistoryFormatError, ValueError) as exc:
        print(f"model fit: {exc}", file=sys.stderr)
        return 2
    write_model(model, out)
    sys.stdout.write(format_calibrated(evaluation))
    sys.stdout.write(format_model(model))
    print(f"model fit: wrote {out.name} ({model.version}) in {time.perf_counter() - started:.2f}s", file=sys.stderr)
    return 0


def run_show(args: argparse.Namespace) -> int:
    path: Path = args.path if args.path is not None else default_model_path()
    try:
        model = read_model(path)
    except ModelNotAvailable as exc:
        print(f"model show: {exc.message}", file=sys.stderr)
        return 2
    if args.format == "json":
        json.dump(model.to_json(), sys.stdout, indent=2, sort_keys=True, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_model(model))
    return 0


def _t(value: float | None) -> str:
    return "none (this side makes no calls)" if value is None else f"{value:.2f}"


def _num(value: object, fmt: str, scale: float = 1.0) -> str:
    return format(float(value) * scale, fmt) if isinstance(value, int | float) else "—"


def _horizon_line(h: dict[str, object]) -> str:
    """One horizon's out-of-sample figures from the artifact, with their intervals."""
    return (
        f"- {_num(h.get('horizonHours'), 'g')}h: {h.get('calls', 0)} calls, win "
        f"{_num(h.get('winRate'), '.1f', 100)}% (Wilson {_num(h.get('winRateLow'), '.1f', 100)}.."
        f"{_num(h.get('winRateHigh'), '.1f', 100)}), mean net {_num(h.get('meanNetPct'), '+.3f')}% "
        f"(block bootstrap {_num(h.get('meanNetLow'), '+.3f')}..{_num(h.get('meanNetHigh'), '+.3f')}), "
        f"per unit risk {_num(h.get('returnPerRisk'), '+.3f')}, max DD {_num(h.get('maxDrawdownPct'), '.1f')} pp; "
        f"always-long {_num(h.get('alwaysLongMeanNetPct'), '+.3f')}%; Brier {_num(h.get('brier'), '.4f')} "
        f"(base rate {_num(h.get('brierBaseRate'), '.4f')})"
    )


def format_model(model: CalibratedModel) -> str:
    lines = [
        "",
        f"# CALIBRATED model {model.version}",
        "",
        f"{model.symbol} {model.timeframe} bars; target: a LONG's {model.horizon_hours:g}h return beats "
        f"{model.fee_pct:g}% fees. Fitted on {model.train_bars} bars, {model.fit_from[:16]} .. {model.fit_to[:16]} "
        f"UTC; L2 logistic regression, C={model.regularization_c:g}.",
        f"LONG when P(up) ≥ {_t(model.long_threshold)}; SHORT when P(up) ≤ {_t(model.short_threshold)}.",
        "",
        "| feature | mean | scale | coefficient (per standard deviation) |",
        "|---|---|---|---|",
    ]
    lines.extend(
        f"| {n} | {m:.4g} | {s:.4g} | {c:+.4f} |"
        for n, m, s, c in zip(model.features, model.means, model.scales, model.coefficients, strict=True)
    )
    lines.append(f"| (intercept) | | | {model.intercept:+.4f} |")
    oos = model.out_of_sample
    gate = oos.get("gate") if isinstance(oos, dict) else None
    if isinstance(gate, dict) and gate.get("statement"):
        lines.extend(
            [
                "",
                f"Out of sample (walk-forward test folds) {oos.get('testFrom', '')[:10]} .. "
                f"{oos.get('testTo', '')[:10]}, after {model.fee_pct:g}% fees; at a horizon other than "
                f"{model.horizon_hours:g}h the figures are the same procedure fitted on that horizon's target:",
            ]
        )
        lines.extend(_horizon_line(h) for h in oos.get("horizons", []) if isinstance(h, dict))
        lines.extend(["", str(gate["statement"])])
    return "\n".join(lines) + "\n"
