"""The CALIBRATED mode's model as data: a fitted logistic regression, scored without scikit-learn.

The artifact (:class:`CalibratedModel`) holds everything a live signal needs: the feature names in
order, the training means and scales (standardization), the coefficients and intercept, and the two
probability thresholds chosen on earlier data. Scoring is a dot product and a sigmoid (microseconds),
so the service never imports scikit-learn; fitting lives in :mod:`engine.calibrated_fit` and runs only
from the ``signal-api model fit`` command. The artifact also carries the period it was fitted on and its
out-of-sample figures, so the ``model`` query can show what the model has (and has not) earned.

``probability_up`` is the model's probability that a LONG entered at the signal's price returns more than
the fees (0.1 %, one round trip) over ``horizon_hours``. LONG when it is ≥ ``long_threshold``, SHORT when it
is ≤ ``short_threshold``; a threshold is ``None`` when no threshold made money on the earlier data it was
chosen on, and that side then makes no calls at all. A missing feature is scored at its training mean
(it adds nothing) and is named in the answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.features import FEATURES, FeatureVector
from engine.modes import Recommendation
from engine.outcomes import FLAT_BAND_PCT

if TYPE_CHECKING:
    from collections.abc import Mapping

ARTIFACT_SCHEMA = 1
FEE_PCT = FLAT_BAND_PCT  # one round trip of taker fees, the same 0.1 % the outcome verdict uses


class ModelFormatError(ValueError):
    """An artifact file that is not a calibrated model this code can score."""


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(frozen=True, slots=True)
class CalibratedModel:
    """A fitted logistic model of P(LONG beats fees over the horizon), with its provenance and figures."""

    version: str
    symbol: str
    timeframe: str  # the bar the features were computed on ("4h"); live signals on another bar are refused
    horizon_hours: float
    features: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    coefficients: tuple[float, ...]  # per standardized feature
    intercept: float
    regularization_c: float  # scikit-learn's C (inverse L2 strength) chosen on earlier data
    long_threshold: float | None
    short_threshold: float | None
    fit_from: str  # ISO times of the first and last training decision
    fit_to: str
    train_bars: int
    fee_pct: float = FEE_PCT
    out_of_sample: Mapping[str, Any] = field(default_factory=dict)  # walk-forward figures, JSON-ready

    def __post_init__(self) -> None:
        n = len(self.features)
        if not (len(self.means) == len(self.scales) == len(self.coefficients) == n):
            raise ModelFormatError("features, means, scales and coefficients must have the same length")
        if any(s <= 0 or not math.isfinite(s) for s in self.scales):
            raise ModelFormatError("every scale must be a positive finite number")
        if not all(math.isfinite(v) for v in (*self.means, *self.coefficients, self.intercept)):
            raise ModelFormatError("means, coefficients and intercept must be finite")
        for name, t in (("long_threshold", self.long_threshold), ("short_threshold", self.short_threshold)):
            if t is not None and not 0.0 < t < 1.0:
                raise ModelFormatError(f"{name} must be a probability in (0, 1), got {t}")
        lt, st = self.long_threshold, self.short_threshold
        if lt is not None and st is not None and not st < lt:
            raise ModelFormatError("short_threshold must be below long_threshold")

    def probability(self, vector: FeatureVector) -> float:
        """P(LONG beats fees) for ``vector`` in this model's feature order; ``None`` features add nothing."""
        if len(vector) != len(self.features):
            raise ValueError(f"expected {len(self.features)} features, got {len(vector)}")
        z = self.intercept
        for x, mean, scale, coef in zip(vector, self.means, self.scales, self.coefficients, strict=True):
            if x is not None:
                z += coef * (x - mean) / scale
        return sigmoid(z)

    def classify(self, probability: float) -> Recommendation:
        if self.long_threshold is not None and probability >= self.long_threshold:
            return Recommendation.LONG
        if self.short_threshold is not None and probability <= self.short_threshold:
            return Recommendation.SHORT
        return Recommendation.NEUTRAL

    def align(self, vector: FeatureVector) -> FeatureVector:
        """``vector`` (in :data:`engine.features.FEATURES` order) reordered to this model's features; a
        feature the code no longer computes is ``None``."""
        by_name = dict(zip(FEATURES, vector, strict=True))
        return tuple(by_name.get(name) for name in self.features)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": ARTIFACT_SCHEMA,
            "kind": "logistic-regression",
            "version": self.version,
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "horizonHours": self.horizon_hours,
            "target": f"LONG return over {self.horizon_hours:g}h exceeds {self.fee_pct:g}% (fees)",
            "feePct": self.fee_pct,
            "fitFrom": self.fit_from,
            "fitTo": self.fit_to,
            "trainBars": self.train_bars,
            "regularizationC": self.regularization_c,
            "longThreshold": self.long_threshold,
            "shortThreshold": self.short_threshold,
            "intercept": self.intercept,
            "features": [
                {"name": n, "mean": m, "scale": s, "coefficient": c}
                for n, m, s, c in zip(self.features, self.means, self.scales, self.coefficients, strict=True)
            ],
            "outOfSample": dict(self.out_of_sample),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CalibratedModel:
        """Parse an artifact; :class:`ModelFormatError` names what is wrong."""
        try:
            if data.get("schema") != ARTIFACT_SCHEMA:
                raise ModelFormatError(f"artifact schema {data.get('schema')!r} is not {ARTIFACT_SCHEMA}")
            rows = data["features"]
            return cls(
                version=str(data["version"]),
                symbol=str(data["symbol"]),
                timeframe=str(data["timeframe"]),
                horizon_hours=float(data["horizonHours"]),
                features=tuple(str(r["name"]) for r in rows),
                means=tuple(float(r["mean"]) for r in rows),
                scales=tuple(float(r["scale"]) for r in rows),
                coefficients=tuple(float(r["coefficient"]) for r in rows),
                intercept=float(data["intercept"]),
                regularization_c=float(data["regularizationC"]),
                long_threshold=None if data["longThreshold"] is None else float(data["longThreshold"]),
                short_threshold=None if data["shortThreshold"] is None else float(data["shortThreshold"]),
                fit_from=str(data["fitFrom"]),
                fit_to=str(data["fitTo"]),
                train_bars=int(data["trainBars"]),
                fee_pct=float(data.get("feePct", FEE_PCT)),
                out_of_sample=dict(data.get("outOfSample") or {}),
            )
        except ModelFormatError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelFormatError(f"not a calibrated model artifact: {exc!r}") from None


@dataclass(frozen=True, slots=True)
class Calibration:
    """What the model said about one signal."""

    probability_up: float
    model_version: str
    horizon_hours: float
    long_threshold: float | None
    short_threshold: float | None
    missing_features: tuple[str, ...]
    recommendation: Recommendation


def calibrate(model: CalibratedModel, vector: FeatureVector) -> Calibration:
    """Score ``vector`` (in :data:`engine.features.FEATURES` order) with ``model``."""
    aligned = model.align(vector)
    p = model.probability(aligned)
    missing = tuple(n for n, x in zip(model.features, aligned, strict=True) if x is None)
    return Calibration(
        probability_up=p,
        model_version=model.version,
        horizon_hours=model.horizon_hours,
        long_threshold=model.long_threshold,
        short_threshold=model.short_threshold,
        missing_features=missing,
        recommendation=model.classify(p),
    )
