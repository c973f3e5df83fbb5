"""Fit the CALIBRATED model walk-forward and judge it out of sample against the baselines.

Run by ``signal-api model fit`` and ``signal-api backtest --walk-forward``; never on a request (it imports
scikit-learn, which live scoring does not need).

**Fit** (:func:`fit_model`, on a training set of earlier bars only). Target: the LONG return over the
horizon exceeds the fees (:data:`engine.calibrated.FEE_PCT`). Features: :data:`engine.features.FEATURES`,
standardized with the training means and standard deviations (a missing value is set to the mean).
The training bars are split in time: the first 70 % fit an L2-regularized logistic regression for each C
in :attr:`CalibratedConfig.c_grid`, the last 30 % (after purging fit bars whose outcome reaches into it)
pick the C with the lowest log loss and the two probability thresholds: LONG at P ≥ t for the t in
``long_grid`` with the best mean net return per call among those with ≥ ``min_side_calls`` calls, SHORT
at P ≤ t likewise; a side whose best mean is not above zero makes no calls. Then the model is refitted
on all training bars with that C. Deterministic (lbfgs, no randomness).

**Walk-forward** (:func:`walk_forward_calibrated`): the backtest's own folds. For test fold k the model is
fitted on the scored bars before the fold whose outcome ends by the fold's start (purged), then scores
the fold. Nothing in or after the fold reaches its fit (a test perturbs the data after the cut-off).

**Shipping gate** (:func:`judge_gate`): at the fit horizon (24 h) CALIBRATED must beat always-long and the
best single factor (momentum-only and each ``only_<factor>``, the best chosen out of sample, so the bar is
high) with the 95 % paired block-bootstrap interval of each difference in mean net return above zero.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.backtest import (
    ALWAYS_LONG,
    BASELINES,
    ENGINE,
    MOMENTUM_ONLY,
    static_strategy,
    strategy_recommendation,
    symmetric,
)
from engine.calibrated import FEE_PCT, CalibratedModel
from engine.evaluation import (
    CallFigures,
    ReliabilityBin,
    brier_score,
    call_figures,
    difference_interval,
    reliability_table,
)
from engine.features import FEATURES
from engine.market import Timeframe
from engine.modes import SCORE_MODES, THRESHOLDS, Recommendation

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import timedelta

    from engine.backtest import BarDecision, Fold, WalkForward
    from engine.stats import Interval

CALIBRATED = "calibrated"
DEFAULT_C_GRID = (0.01, 0.1, 1.0)
DEFAULT_LONG_GRID = tuple(round(0.50 + 0.01 * i, 2) for i in range(26))  # 0.50 .. 0.75
DEFAULT_SHORT_GRID = tuple(round(0.25 + 0.01 * i, 2) for i in range(26))  # 0.25 .. 0.50
SINGLE_FACTOR_BASELINES = tuple(s for s in BASELINES if s != ALWAYS_LONG)  # momentum_only and only_<factor>


@dataclass(frozen=True, slots=True)
class CalibratedConfig:
    c_grid: tuple[float, ...] = DEFAULT_C_GRID
    long_grid: tuple[float, ...] = DEFAULT_LONG_GRID
    short_grid: tuple[float, ...] = DEFAULT_SHORT_GRID
    min_side_calls: int = 20
    validation_share: float = 0.3
    min_gate_calls: int = 30


# --------------------------------------------------------------------------------------------- data


def design_matrix(decisions: Sequence[BarDecision]) -> np.ndarray:
    """Features per decision, NaN where missing."""
    width = len(FEATURES)
    rows = [[np.nan if v is None else v for v in (d.features or (None,) * width)] for d in decisions]
    return np.array(rows, dtype=float).reshape(len(decisions), width)


def net_returns(decisions: Sequence[BarDecision], h: int, rec: Recommendation) -> np.ndarray:
    """Net return (after fees) of ``rec`` at horizon index ``h`` per decision; NaN when unknown."""
    out = np.full(len(decisions), np.nan)
    for i, d in enumerate(decisions):
        outcome = d.outcome(rec, h)
        if outcome is not None:
            out[i] = outcome.return_pct - FEE_PCT
    return out


@dataclass(frozen=True, slots=True)
class _Fitted:
    means: np.ndarray
    scales: np.ndarray
    coef: np.ndarray
    intercept: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        z = np.nan_to_num((x - self.means) / self.scales, nan=0.0)
        out: np.ndarray = 1.0 / (1.0 + np.exp(-(z @ self.coef + self.intercept)))
        return out


def _fit(x: np.ndarray, y: np.ndarray, c: float) -> _Fitted:
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # scikit-learn's own dependency

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: handled just below
        means = np.nanmean(x, axis=0)
        scales = np.nanstd(x, axis=0)
    means = np.nan_to_num(means, nan=0.0)
    scales = np.where(np.isfinite(scales) & (scales > 1e-12), scales, 1.0)
    z = np.nan_to_num((x - means) / scales, nan=0.0)
    if len(set(y.tolist())) < 2:  # one class only: the intercept alone, at the observed rate
        rate = min(max(float(y.mean()) if y.size else 0.5, 1e-3), 1 - 1e-3)
        return _Fitted(means, scales, np.zeros(x.shape[1]), math.log(rate / (1 - rate)))
    model = LogisticRegression(C=c, max_iter=2000)
    with threadpool_limits(limits=1):  # 15 features: BLAS threads only contend (4x slower on a busy 2-core host)
        model.fit(z, y)
    return _Fitted(means, scales, model.coef_[0].astype(float), float(model.intercept_[0]))


def _log_loss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _best_threshold(
    p: np.ndarray, net: np.ndarray, grid: Sequence[float], side_long: bool, min_calls: int
) -> float | None:
    """The grid threshold with the best mean net return per call (≥ ``min_calls``), if that mean is > 0."""
    best: tuple[float, float] | None = None
    known = ~np.isnan(net)
    for t in grid:
        mask = known & ((p >= t) if side_long else (p <= t))
        n = int(mask.sum())
        if n < min_calls:
            continue
        mean = float(net[mask].mean())
        # ties: the stricter threshold (fewer calls)
        key = (mean, t if side_long else -t)
        if best is None or key > (best[0], best[1] if side_long else -best[1]):
            best = (mean, t)
    if best is None or best[0] <= 0:
        return None
    return best[1]


def _version(symbol: str, timeframe: str, horizon_hours: float, fit_to: str, payload: Sequence[float]) -> str:
    digest = hashlib.sha256(json.dumps([round(v, 10) for v in payload]).encode()).hexdigest()[:8]
    return f"{symbol.lower()}-{timeframe}-{horizon_hours:g}h-{fit_to[:10].replace('-', '')}-{digest}"


def inner_validation_split(
    labelled: Sequence[BarDecision], h: int, validation_share: float
) -> tuple[list[int], list[int]]:
    """Indices of the inner fit bars and of the validation bars (the last ``validation_share``, in time).

    The inner fit is purged like a fold's training set: a bar whose horizon-``h`` outcome ends after the
    validation's first decision is dropped, so C and the thresholds are not picked on prices the fit saw."""
    cut = int(len(labelled) * (1 - validation_share))
    valid_start = labelled[cut].as_of
    inner = [i for i in range(cut) if labelled[i].outcome_ends[h] <= valid_start]
    return inner, list(range(cut, len(labelled)))


def fit_model(
    train: Sequence[BarDecision],
    h: int,
    horizon_hours: float,
    symbol: str,
    config: CalibratedConfig | None = None,
    timeframe: str = "4h",
) -> CalibratedModel:
    """Fit on ``train`` alone (see the module docstring); raises ``ValueError`` with too few labelled bars."""
    cfg = config or CalibratedConfig()
    long_net = net_returns(train, h, Recommendation.LONG)
    labelled = [d for d, r in zip(train, long_net, strict=True) if not math.isnan(r)]
    if len(labelled) < 4 * cfg.min_side_calls:
        raise ValueError(f"calibrated fit needs at least {4 * cfg.min_side_calls} labelled bars, got {len(labelled)}")
    x = design_matrix(labelled)
    lnet = net_returns(labelled, h, Recommendation.LONG)
    snet = net_returns(labelled, h, Recommendation.SHORT)
    y = (lnet > 0).astype(int)

    inner, valid_rows = inner_validation_split(labelled, h, cfg.validation_share)
    valid = np.array(valid_rows)
    scored_c: list[tuple[float, float, _Fitted]] = []
    for c in cfg.c_grid:
        fitted = _fit(x[inner], y[inner], c)
        scored_c.append((_log_loss(fitted.predict(x[valid]), y[valid]), c, fitted))
    _, best_c, inner_fit = min(scored_c, key=lambda t: (t[0], t[1]))
    p_valid = inner_fit.predict(x[valid])
    t_long = _best_threshold(p_valid, lnet[valid], cfg.long_grid, True, cfg.min_side_calls)
    t_short = _best_threshold(p_valid, snet[valid], cfg.short_grid, False, cfg.min_side_calls)
    if t_long is not None and t_short is not None and t_short >= t_long:
        t_short = None  # cannot happen with the default grids; keep the model well-formed anyway

    final = _fit(x, y, best_c)
    fit_from, fit_to = labelled[0].as_of.isoformat(), labelled[-1].as_of.isoformat()
    payload = [*final.coef.tolist(), final.intercept, *final.means.tolist(), *final.scales.tolist()]
    return CalibratedModel(
        version=_version(symbol, timeframe, horizon_hours, fit_to, payload),
        symbol=symbol,
        timeframe=timeframe,
        horizon_hours=horizon_hours,
        features=FEATURES,
        means=tuple(float(v) for v in final.means),
        scales=tuple(float(v) for v in final.scales),
        coefficients=tuple(float(v) for v in final.coef),
        intercept=final.intercept,
        regularization_c=best_c,
        long_threshold=t_long,
        short_threshold=t_short,
        fit_from=fit_from,
        fit_to=fit_to,
        train_bars=len(labelled),
    )


# --------------------------------------------------------------------------------------------- walk-forward


@dataclass(frozen=True, slots=True)
class CalibratedFold:
    number: int
    model: CalibratedModel
    test: tuple[BarDecision, ...]
    probabilities: tuple[float, ...]
    recommendations: tuple[Recommendation, ...]


def fold_test(scored: Sequence[BarDecision], fold: Fold) -> list[BarDecision]:
    return [d for d in scored if fold.start <= d.as_of <= fold.end]


def fold_train(scored: Sequence[BarDecision], fold: Fold, h: int) -> list[BarDecision]:
    """Bars before the fold whose horizon-``h`` outcome ends by the fold's start (purged)."""
    return [d for d in scored if d.as_of < fold.start and d.outcome_ends[h] <= fold.start]


def walk_forward_calibrated(
    scored: Sequence[BarDecision],
    folds: Sequence[Fold],
    h: int,
    horizon_hours: float,
    symbol: str,
    config: CalibratedConfig | None = None,
) -> tuple[CalibratedFold, ...]:
    """One model per test fold (folds[1:]), fitted on earlier bars only, and what it said on its fold."""
    out: list[CalibratedFold] = []
    for fold in folds[1:]:
        model = fit_model(fold_train(scored, fold, h), h, horizon_hours, symbol, config)
        test = fold_test(scored, fold)
        probs = tuple(model.probability(model.align(d.features)) for d in test)
        out.append(CalibratedFold(fold.number, model, tuple(test), probs, tuple(model.classify(p) for p in probs)))
    return tuple(out)


# --------------------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True, slots=True)
class GateVerdict:
    passes: bool
    statement: str
    horizon_hours: float
    calibrated_mean: float | None
    always_long_mean: float | None
    best_factor: str | None
    best_factor_mean: float | None
    vs_always_long: Interval | None
    vs_best_factor: Interval | None


@dataclass(frozen=True, slots=True)
class CalibratedEvaluation:
    """Everything out of sample: figures per strategy and horizon, calibration, the gate, per-bar series."""

    horizons_hours: tuple[float, ...]
    test: tuple[BarDecision, ...]
    figures: tuple[CallFigures, ...]
    net: dict[tuple[str, float], list[float | None]]  # (strategy, hours) -> net return per test bar
    probabilities: dict[float, list[float]]  # hours -> CALIBRATED's P(up) per test bar
    labels: dict[float, list[int | None]]  # hours -> 1 when a LONG beat fees, per test bar
    reliability: dict[float, tuple[ReliabilityBin, ...]]
    brier: dict[float, float | None]
    brier_base_rate: dict[float, float | None]  # always predicting the training base rate
    folds: dict[float, tuple[CalibratedFold, ...]]
    gate: GateVerdict
    strategies: tuple[str, ...] = field(default=())

    def figure(self, strategy: str, hours: float) -> CallFigures | None:
        return next((f for f in self.figures if f.strategy == strategy and f.horizon_hours == hours), None)


def _net_for(decision: BarDecision, rec: Recommendation, h: int) -> float | None:
    if rec is Recommendation.NEUTRAL:
        return None
    outcome = decision.outcome(rec, h)
    return None if outcome is None else outcome.return_pct - FEE_PCT


def evaluate_calibrated(
    scored: Sequence[BarDecision],
    wf: WalkForward,
    horizon_bars: Sequence[int],
    bar: timedelta,
    symbol: str,
    config: CalibratedConfig | None = None,
) -> CalibratedEvaluation:
    """CALIBRATED (walk-forward) and every baseline over the same test bars, at every horizon."""
    cfg = config or CalibratedConfig()
    hours = tuple(bar.total_seconds() / 3600 * n for n in horizon_bars)
    fit_h = max(range(len(horizon_bars)), key=lambda i: horizon_bars[i])
    tested_folds = wf.folds[1:]
    test = [d for fold in tested_folds for d in fold_test(scored, fold)]
    # the baselines' picks: their walk-forward thresholds per fold, the static modes, always-long
    picks: dict[str, list[Recommendation]] = {}
    fitted = (ENGINE, *SINGLE_FACTOR_BASELINES)
    for strategy in fitted:
        recs: list[Recommendation] = []
        for fold in tested_folds:
            d_half = fold.d(strategy)
            thresholds = symmetric(d_half if d_half is not None else 50.0 - 1e-9)
            recs.extend(strategy_recommendation(strategy, d, thresholds) for d in fold_test(scored, fold))
        picks[strategy] = recs
    picks[ALWAYS_LONG] = [Recommendation.LONG] * len(test)
    for mode in SCORE_MODES:
        picks[static_strategy(mode)] = [d.recommendation(THRESHOLDS[mode]) for d in test]

    net: dict[tuple[str, float], list[float | None]] = {}
    probabilities: dict[float, list[float]] = {}
    labels: dict[float, list[int | None]] = {}
    reliability: dict[float, tuple[ReliabilityBin, ...]] = {}
    brier: dict[float, float | None] = {}
    base_brier: dict[float, float | None] = {}
    folds: dict[float, tuple[CalibratedFold, ...]] = {}
    figures: list[CallFigures] = []
    strategies = (CALIBRATED, *picks)
    for h, hh in enumerate(hours):
        cal = walk_forward_calibrated(scored, wf.folds, h, hh, symbol, cfg)
        folds[hh] = cal
        cal_recs = [r for f in cal for r in f.recommendations]
        probs = [p for f in cal for p in f.probabilities]
        probabilities[hh] = probs
        net[CALIBRATED, hh] = [_net_for(d, r, h) for d, r in zip(test, cal_recs, strict=True)]
        for strategy, recs in picks.items():
            net[strategy, hh] = [_net_for(d, r, h) for d, r in zip(test, recs, strict=True)]
        lab: list[int | None] = []
        for d in test:
            o = d.outcome(Recommendation.LONG, h)
            lab.append(None if o is None else int(o.return_pct > FEE_PCT))
        labels[hh] = lab
        known = [(p, y) for p, y in zip(probs, lab, strict=True) if y is not None]
        reliability[hh] = reliability_table([p for p, _ in known], [y for _, y in known])
        brier[hh] = brier_score([p for p, _ in known], [y for _, y in known])
        base_pairs: list[tuple[float, int]] = []
        for f in cal:
            train = fold_train(scored, next(x for x in wf.folds if x.number == f.number), h)
            train_labels = [int(o.return_pct > FEE_PCT) for d in train if (o := d.outcome(Recommendation.LONG, h))]
            rate = sum(train_labels) / len(train_labels) if train_labels else 0.5
            base_pairs.extend(
                (rate, int(o.return_pct > FEE_PCT)) for d in f.test if (o := d.outcome(Recommendation.LONG, h))
            )
        base_brier[hh] = brier_score([p for p, _ in base_pairs], [y for _, y in base_pairs])
        figures.extend(call_figures(s, hh, net[s, hh]) for s in strategies)
    gate = judge_gate(figures, net, hours[fit_h], cfg.min_gate_calls)
    return CalibratedEvaluation(
        horizons_hours=hours,
        test=tuple(test),
        figures=tuple(figures),
        net=net,
        probabilities=probabilities,
        labels=labels,
        reliability=reliability,
        brier=brier,
        brier_base_rate=base_brier,
        folds=folds,
        gate=gate,
        strategies=strategies,
    )


def _fmt_interval(iv: Interval | None) -> str:
    return "no interval" if iv is None else f"{iv.low:+.3f}..{iv.high:+.3f}"


def judge_gate(
    figures: Sequence[CallFigures],
    net: dict[tuple[str, float], list[float | None]],
    hours: float,
    min_calls: int,
) -> GateVerdict:
    """CALIBRATED ships as the default only if both paired differences have their 95 % interval above 0."""
    by = {f.strategy: f for f in figures if f.horizon_hours == hours}
    cal, always = by[CALIBRATED], by[ALWAYS_LONG]
    factors = [by[s] for s in SINGLE_FACTOR_BASELINES if s in by and by[s].calls >= min_calls]
    best = max(factors, key=lambda f: f.mean_net_pct if f.mean_net_pct is not None else -math.inf, default=None)
    h = f"{hours:g}h"

    def gate(passes: bool, statement: str, vs_long: Interval | None, vs_best: Interval | None) -> GateVerdict:
        best_name, best_mean = (best.strategy, best.mean_net_pct) if best else (None, None)
        return GateVerdict(
            passes, statement, hours, cal.mean_net_pct, always.mean_net_pct, best_name, best_mean, vs_long, vs_best
        )

    if cal.calls < min_calls or cal.mean_net_pct is None:
        statement = (
            f"Gate: NOT PASSED at {h}. CALIBRATED made {cal.calls} calls out of sample (fewer than {min_calls}); "
            "it ships as an opt-in mode, and DEFAULT_MODE stays as it is."
        )
        return gate(False, statement, None, None)
    vs_long = difference_interval(net[CALIBRATED, hours], net[ALWAYS_LONG, hours])
    vs_best = difference_interval(net[CALIBRATED, hours], net[best.strategy, hours]) if best else None
    passes = vs_long is not None and vs_long.low > 0 and (best is None or (vs_best is not None and vs_best.low > 0))
    cal_text = f"{cal.mean_net_pct:+.3f}% net per call over {cal.calls} calls"
    long_text = f"always-long {always.mean_net_pct:+.3f}%" if always.mean_net_pct is not None else "always-long n/a"
    best_text = (
        f"best single factor {best.strategy} {best.mean_net_pct:+.3f}%"
        if best is not None and best.mean_net_pct is not None
        else "no single factor with enough calls"
    )
    verdict = "PASSED: CALIBRATED may become the default mode" if passes else "NOT PASSED: CALIBRATED ships opt-in"
    statement = (
        f"Gate at {h}, out of sample, after fees: {verdict}. CALIBRATED {cal_text}; {long_text}; {best_text}. "
        f"Difference vs always-long {_fmt_interval(vs_long)} pp (95% paired block bootstrap), "
        f"vs {best.strategy if best else 'best factor'} {_fmt_interval(vs_best)} pp; both must be above zero."
    )
    return gate(passes, statement, vs_long, vs_best)


def out_of_sample_json(evaluation: CalibratedEvaluation) -> dict[str, Any]:
    """The figures the shipped artifact carries (and the ``model`` query shows)."""
    test = evaluation.test
    per_horizon: list[dict[str, Any]] = []
    for hh in evaluation.horizons_hours:
        f = evaluation.figure(CALIBRATED, hh)
        a = evaluation.figure(ALWAYS_LONG, hh)
        m = evaluation.figure(MOMENTUM_ONLY, hh)
        if f is None:
            continue
        per_horizon.append(
            {
                "horizonHours": hh,
                "calls": f.calls,
                "wins": f.wins,
                "winRate": f.win_rate,
                "winRateLow": f.win_rate_ci95.low if f.win_rate_ci95 else None,
                "winRateHigh": f.win_rate_ci95.high if f.win_rate_ci95 else None,
                "meanNetPct": f.mean_net_pct,
                "meanNetLow": f.mean_net_ci95.low if f.mean_net_ci95 else None,
                "meanNetHigh": f.mean_net_ci95.high if f.mean_net_ci95 else None,
                "returnPerRisk": f.return_per_risk,
                "maxDrawdownPct": f.max_drawdown_pct,
                "brier": evaluation.brier.get(hh),
                "brierBaseRate": evaluation.brier_base_rate.get(hh),
                "alwaysLongMeanNetPct": a.mean_net_pct if a else None,
                "momentumOnlyMeanNetPct": m.mean_net_pct if m else None,
            }
        )
    g = evaluation.gate
    return {
        "testFrom": test[0].as_of.isoformat() if test else None,
        "testTo": test[-1].as_of.isoformat() if test else None,
        "testBars": len(test),
        "horizons": per_horizon,
        "gate": {
            "passes": g.passes,
            "statement": g.statement,
            "horizonHours": g.horizon_hours,
            "bestFactor": g.best_factor,
            "vsAlwaysLongLow": g.vs_always_long.low if g.vs_always_long else None,
            "vsAlwaysLongHigh": g.vs_always_long.high if g.vs_always_long else None,
            "vsBestFactorLow": g.vs_best_factor.low if g.vs_best_factor else None,
            "vsBestFactorHigh": g.vs_best_factor.high if g.vs_best_factor else None,
        },
    }


def fit_shipped_model(
    scored: Sequence[BarDecision],
    evaluation: CalibratedEvaluation,
    horizon_bars: Sequence[int],
    bar: timedelta,
    symbol: str,
    config: CalibratedConfig | None = None,
) -> CalibratedModel:
    """The model served live: fitted on every scored bar at the fit horizon (the longest), carrying the
    walk-forward's out-of-sample figures (those are the only figures it has earned)."""
    h = max(range(len(horizon_bars)), key=lambda i: horizon_bars[i])
    hours = bar.total_seconds() / 3600 * horizon_bars[h]
    timeframe = next((t.value for t in Timeframe if t.duration == bar), None)  # the history's bar, never assumed
    if timeframe is None:
        raise ValueError(f"no timeframe has bars of {bar}")
    model = fit_model(scored, h, hours, symbol, config, timeframe)
    return dataclasses.replace(model, out_of_sample=out_of_sample_json(evaluation))
