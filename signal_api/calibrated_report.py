"""The CALIBRATED evaluation as text: the out-of-sample table, the reliability table, Brier, the gate.

Printed by ``signal-api backtest --walk-forward`` and ``signal-api model fit``; Markdown that reads in a
terminal too. :func:`evaluate_report` runs the evaluation on a backtest report (its scored bars and its
walk-forward folds), so the calibrated model is judged on exactly the bars the baselines are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.calibrated_fit import CALIBRATED, CalibratedConfig, CalibratedEvaluation, evaluate_calibrated, judge_gate

GATE_MIN_CALLS = CalibratedConfig().min_gate_calls

if TYPE_CHECKING:
    from engine.backtest import BacktestReport
    from engine.evaluation import CallFigures
    from engine.stats import Interval


def evaluation_symbol(symbol: str) -> str:
    """The pair the model is fitted and evaluated for: the history's base asset (``BTC``) as ``BTCUSDT``."""
    return symbol if symbol.endswith("USDT") else f"{symbol}USDT"


def evaluate_report(report: BacktestReport) -> CalibratedEvaluation:
    """CALIBRATED against every baseline on ``report``'s walk-forward test folds (needs ``--walk-forward``)."""
    if report.walk_forward is None:
        raise ValueError("the calibrated evaluation needs the walk-forward folds (--walk-forward)")
    scored = [d for d in report.decisions if d.score is not None]
    symbol = evaluation_symbol(report.symbol)
    return evaluate_calibrated(scored, report.walk_forward, report.horizon_bars, report.bar, symbol)


def _iv(iv: Interval | None, scale: float = 1.0, digits: int = 3, sign: bool = True) -> str:
    if iv is None:
        return ""
    f = f"{{:{'+' if sign else ''}.{digits}f}}"
    return f"{f.format(iv.low * scale)}..{f.format(iv.high * scale)}"


def _cells(f: CallFigures) -> list[str]:
    win = "—" if f.win_rate is None else f"{f.win_rate * 100:.1f}"
    mean = "—" if f.mean_net_pct is None else f"{f.mean_net_pct:+.3f}"
    risk = "—" if f.return_per_risk is None else f"{f.return_per_risk:+.3f}"
    return [
        f.strategy,
        str(f.calls),
        win,
        _iv(f.win_rate_ci95, 100.0, 1, sign=False),
        mean,
        _iv(f.mean_net_ci95),
        risk,
        f"{f.max_drawdown_pct:.1f}",
        f"{f.total_net_pct:+.1f}",
    ]


HEADER = [
    "strategy",
    "calls",
    "win %",
    "win 95% CI (Wilson)",
    "mean net %",
    "mean 95% CI (block bootstrap)",
    "per unit risk",
    "max DD pp",
    "sum pp",
]


def format_calibrated(ev: CalibratedEvaluation) -> str:
    test = ev.test
    span = f"{test[0].as_of:%Y-%m-%d} .. {test[-1].as_of:%Y-%m-%d}" if test else "—"
    out = [
        "",
        f"## CALIBRATED vs baselines (out of sample, {span}, {len(test)} test bars, after 0.1% fees)",
        "",
    ]
    for hh in ev.horizons_hours:
        out.append(f"### {hh:g}h")
        out.append("")
        out.append("| " + " | ".join(HEADER) + " |")
        out.append("|" + "|".join("---" for _ in HEADER) + "|")
        out.extend("| " + " | ".join(_cells(f)) + " |" for f in ev.figures if f.horizon_hours == hh)
        out.append("")
        brier, base = ev.brier.get(hh), ev.brier_base_rate.get(hh)
        if brier is not None and base is not None:
            out.append(
                f"Brier score {brier:.4f} (always predicting the training base rate: {base:.4f}; lower is better)."
            )
        out.extend(["", "| P(up) decile | n | mean predicted | observed |", "|---|---|---|---|"])
        for b in ev.reliability.get(hh, ()):
            mp = "—" if b.mean_predicted is None else f"{b.mean_predicted:.3f}"
            ob = "—" if b.observed is None else f"{b.observed:.3f}"
            out.append(f"| {b.low:.3f}..{b.high:.3f} | {b.count} | {mp} | {ob} |")
        out.append("")
        thresholds = ", ".join(
            f"fold {f.number}: C={f.model.regularization_c:g}, LONG ≥ {_t(f.model.long_threshold)}, "
            f"SHORT ≤ {_t(f.model.short_threshold)}"
            for f in ev.folds.get(hh, ())
        )
        out.extend([f"Walk-forward fits: {thresholds}.", ""])
    out.extend([f"**{ev.gate.statement}**", ""])
    out.extend(_other_horizons(ev))
    return "\n".join(out)


def _other_horizons(ev: CalibratedEvaluation) -> list[str]:
    """The gate's rule at every other horizon, for information: only the served model's horizon decides."""
    lines: list[str] = []
    for hh in ev.horizons_hours:
        if hh == ev.gate.horizon_hours:
            continue
        g = judge_gate(ev.figures, ev.net, hh, GATE_MIN_CALLS)
        met = "would pass" if g.passes else "would not pass"
        lines.append(
            f"The same rule at {hh:g}h (for information; that target's model is not served): it {met}. "
            f"Difference vs always-long {_iv(g.vs_always_long) or 'no interval'} pp, "
            f"vs {g.best_factor or 'best factor'} {_iv(g.vs_best_factor) or 'no interval'} pp."
        )
    return [*lines, ""] if lines else []


def _t(value: float | None) -> str:
    return "none (no calls)" if value is None else f"{value:.2f}"


def calibrated_json(ev: CalibratedEvaluation) -> dict[str, Any]:
    def iv(i: Interval | None) -> list[float] | None:
        return None if i is None else [i.low, i.high]

    return {
        "strategy": CALIBRATED,
        "testBars": len(ev.test),
        "figures": [
            {
                "strategy": f.strategy,
                "horizonHours": f.horizon_hours,
                "calls": f.calls,
                "wins": f.wins,
                "winRate": f.win_rate,
                "winRateCi95": iv(f.win_rate_ci95),
                "meanNetPct": f.mean_net_pct,
                "meanNetCi95": iv(f.mean_net_ci95),
                "returnPerRisk": f.return_per_risk,
                "maxDrawdownPct": f.max_drawdown_pct,
            }
            for f in ev.figures
        ],
        "brier": {f"{h:g}h": v for h, v in ev.brier.items()},
        "reliability": {
            f"{h:g}h": [
                {"low": b.low, "high": b.high, "count": b.count, "predicted": b.mean_predicted, "observed": b.observed}
                for b in bins
            ]
            for h, bins in ev.reliability.items()
        },
        "gate": {
            "passes": ev.gate.passes,
            "statement": ev.gate.statement,
            "vsAlwaysLong": iv(ev.gate.vs_always_long),
            "bestFactor": ev.gate.best_factor,
            "vsBestFactor": iv(ev.gate.vs_best_factor),
        },
    }
