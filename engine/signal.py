"""The 8-factor signal: score every available factor, renormalize the weights, classify, explain.

Missing or stale inputs are reported as unavailable with their reason and left out; the remaining
nominal weights are rescaled to sum to 100, so ``score = Σ score_i x w_i / Σ w_i`` over available
factors. No price means no signal (``NO_PRICE``); data quality below 50 % or no scorable factor means
``INSUFFICIENT_DATA``. Pure and deterministic: ``generated_at`` is the snapshot's ``as_of``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from engine.calibrated import calibrate
from engine.factors import (
    NEUTRAL_SCORE,
    Evaluation,
    evaluate_fear_greed,
    evaluate_funding,
    evaluate_liquidations,
    evaluate_long_short,
    evaluate_oi_trend,
    evaluate_smart_money,
    evaluate_social,
)
from engine.features import context_features
from engine.freshness import stale_error
from engine.momentum import evaluate_momentum
from engine.quality import MIN_QUALITY, TIERS, DataQuality, InputName, SourceStatus, assess_quality
from engine.weights import WEIGHTS, FactorName

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

    from engine.calibrated import CalibratedModel, Calibration
    from engine.inputs import MarketSnapshot, Reading
    from engine.market import Timeframe
    from engine.modes import Mode, ModeThresholds, Recommendation

T = TypeVar("T")

TOP_FACTOR_COUNT = 3


@dataclass(frozen=True, slots=True)
class FactorScore:
    """One factor's part in the score; weights are percent, contribution = score x effective_weight / 100."""

    name: FactorName
    weight: float  # nominal
    effective_weight: float  # renormalized over available factors; 0 when unavailable
    score: float | None
    contribution: float
    available: bool
    source: str | None
    raw_value: float | None
    detail: str
    error: str | None
    failed_sources: tuple[str, ...]

    @property
    def pull(self) -> float:
        """How hard this factor pulls away from neutral: ``|score - 50| x nominal weight``."""
        return 0.0 if self.score is None else abs(self.score - NEUTRAL_SCORE) * self.weight


@dataclass(frozen=True, slots=True)
class Signal:
    symbol: str
    recommendation: Recommendation
    score: float  # 0..100, rounded to 2 decimals
    confidence: float  # 0..100, see compute_confidence
    mode: Mode
    thresholds: ModeThresholds
    timeframe: Timeframe
    price: float
    factors: tuple[FactorScore, ...]  # all eight, in weight order
    top_factors: tuple[FactorScore, ...]  # up to three available factors with non-zero pull
    data_quality: DataQuality
    generated_at: datetime
    # the calibrated model's view (engine.calibrated): present whenever a model for this timeframe was given;
    # in Mode.CALIBRATED its recommendation is the signal's
    calibration: Calibration | None = None


class SignalRefused(Exception):
    """No signal could be given; ``code`` is ``NO_PRICE`` or ``INSUFFICIENT_DATA``."""

    def __init__(self, code: str, message: str, missing: tuple[str, ...], data_quality: DataQuality) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.missing = missing
        self.data_quality = data_quality


def compute_confidence(scored: Sequence[tuple[float, float]]) -> float:
    """How strongly and how consistently the factors agree, 0..100, from ``(score, weight)`` pairs.

    With ``d_i = (score_i - 50) / 50`` and weights ``w_i`` normalized to sum to 1:
    ``strength = Σ w_i |d_i|``, ``consistency = |Σ w_i d_i| / strength`` (0 when strength is 0),
    ``confidence = round(100 x consistency x sqrt(strength), 1)``. Perfectly opposed factors give 0;
    all factors at the same extreme give 100. It depends on the factors' agreement, not on the spread
    of the weights (predecessor defect 5).
    """
    total = sum(w for _, w in scored)
    if total <= 0:
        return 0.0
    pairs = [((s - NEUTRAL_SCORE) / NEUTRAL_SCORE, w / total) for s, w in scored]
    strength = sum(w * abs(d) for d, w in pairs)
    if strength <= 0:
        return 0.0
    consistency = abs(sum(w * d for d, w in pairs)) / strength
    return round(min(100.0, 100.0 * consistency * math.sqrt(strength)), 1)


def _assess(
    name: InputName, reading: Reading[T], evaluate: Callable[[T], Evaluation], snapshot: MarketSnapshot
) -> tuple[Evaluation, SourceStatus]:
    """Missing, stale or unscorable all end the same way: an evaluation with an error, and ``ok=False``."""
    if reading.value is None:
        evaluation = Evaluation.unavailable(reading.error or "no value")
    elif stale := stale_error(name, reading, snapshot.as_of, snapshot.timeframe):
        evaluation = Evaluation.unavailable(stale)
    else:
        evaluation = evaluate(reading.value)
    status = SourceStatus(
        input=name,
        tier=TIERS[name],
        source=reading.source,
        ok=evaluation.error is None,
        error=evaluation.error,
        failed=reading.failed,
    )
    return evaluation, status


def _evaluate_price(price: float) -> Evaluation:
    if not (math.isfinite(price) and price > 0):
        return Evaluation.unavailable(f"price {price!r} is not a positive finite number")
    return Evaluation(score=None, raw_value=price, detail=f"price {price:g}")


def _assess_factors(s: MarketSnapshot) -> dict[FactorName, tuple[Evaluation, SourceStatus]]:
    """Each factor with the one input it reads (price is checked separately: it is not a factor)."""
    return {
        FactorName.LIQUIDATIONS: _assess(InputName.LIQUIDATIONS, s.liquidations, evaluate_liquidations, s),
        FactorName.MOMENTUM: _assess(InputName.CANDLES, s.candles, evaluate_momentum, s),
        FactorName.FUNDING: _assess(InputName.FUNDING, s.funding, evaluate_funding, s),
        FactorName.LONG_SHORT: _assess(InputName.GLOBAL_LONG_SHORT, s.global_long_short, evaluate_long_short, s),
        FactorName.SMART_MONEY: _assess(
            InputName.TOP_TRADER_POSITIONS, s.top_trader_positions, evaluate_smart_money, s
        ),
        FactorName.OI_TREND: _assess(InputName.OPEN_INTEREST, s.open_interest, evaluate_oi_trend, s),
        FactorName.SOCIAL: _assess(InputName.SOCIAL, s.social, evaluate_social, s),
        FactorName.FEAR_GREED: _assess(InputName.FEAR_GREED, s.fear_greed, evaluate_fear_greed, s),
    }


def _missing_text(quality: DataQuality) -> str:
    return "; ".join(quality.missing) or "nothing reported"


def compute_signal(snapshot: MarketSnapshot, mode: Mode, model: CalibratedModel | None = None) -> Signal:
    """Score ``snapshot`` for ``mode``; raise :class:`SignalRefused` when no honest signal can be given.

    With ``model`` (fitted on ``snapshot.timeframe``) the signal also carries its calibration; ``Mode.CALIBRATED``
    needs one (``ValueError`` otherwise: the caller answers a typed problem before asking) and takes its call."""
    if mode.is_calibrated and (model is None or model.timeframe != snapshot.timeframe.value):
        raise ValueError(f"mode calibrated needs a model fitted on {snapshot.timeframe.value} bars")
    s = snapshot
    price_eval, price_status = _assess(InputName.PRICE, s.price, _evaluate_price, s)
    assessed = _assess_factors(s)
    statuses = [price_status, *(status for _, status in assessed.values())]
    order = list(InputName)
    quality = assess_quality(sorted(statuses, key=lambda st: order.index(st.input)), s.extra_failures)

    if not price_status.ok or price_eval.raw_value is None:
        message = f"no price for {s.symbol}: {price_status.error or 'unavailable'}"
        raise SignalRefused("NO_PRICE", message, quality.missing, quality)
    if quality.score < MIN_QUALITY:
        message = f"data quality {quality.score:g}% is below {MIN_QUALITY:g}%; missing: {_missing_text(quality)}"
        raise SignalRefused("INSUFFICIENT_DATA", message, quality.missing, quality)
    available_weight = sum(WEIGHTS[name] for name, (ev, _) in assessed.items() if ev.score is not None)
    if available_weight <= 0:
        message = f"no factor could be scored for {s.symbol}; missing: {_missing_text(quality)}"
        raise SignalRefused("INSUFFICIENT_DATA", message, quality.missing, quality)

    factors = tuple(_factor_score(name, *assessed[name], available_weight) for name in FactorName)
    score = round(min(100.0, max(0.0, sum(f.contribution for f in factors))), 2)
    confidence = compute_confidence([(f.score, f.effective_weight) for f in factors if f.score is not None])
    thresholds = mode.thresholds
    calibration = None
    if model is not None and model.timeframe == s.timeframe.value:
        calibration = calibrate(model, context_features(s.candles.value or (), factors))
    recommendation = thresholds.classify(score)
    if mode.is_calibrated and calibration is not None:
        recommendation = calibration.recommendation
    return Signal(
        symbol=s.symbol,
        recommendation=recommendation,
        score=score,
        confidence=confidence,
        mode=mode,
        thresholds=thresholds,
        timeframe=s.timeframe,
        price=price_eval.raw_value,
        factors=factors,
        top_factors=top_factors(factors),
        data_quality=quality,
        generated_at=s.as_of,
        calibration=calibration,
    )


def top_factors(factors: Sequence[FactorScore], count: int = TOP_FACTOR_COUNT) -> tuple[FactorScore, ...]:
    """Available factors with non-zero pull, strongest first (ties keep weight order)."""
    pulling = [f for f in factors if f.available and f.pull > 0]
    return tuple(sorted(pulling, key=lambda f: -f.pull)[:count])


def _factor_score(
    name: FactorName, evaluation: Evaluation, status: SourceStatus, available_weight: float
) -> FactorScore:
    weight = float(WEIGHTS[name])
    if evaluation.score is None:
        effective, contribution = 0.0, 0.0
    else:
        effective = weight * 100.0 / available_weight
        contribution = evaluation.score * effective / 100.0
    return FactorScore(
        name=name,
        weight=weight,
        effective_weight=effective,
        score=evaluation.score,
        contribution=contribution,
        available=evaluation.score is not None,
        source=status.source,
        raw_value=evaluation.raw_value,
        detail=evaluation.detail,
        error=evaluation.error,
        failed_sources=status.failed,
    )
