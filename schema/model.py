"""The ``model`` query: the CALIBRATED mode's artifact as loaded at start-up, and what it has earned.

Reads ``Services.model`` only (no upstream call, no fit): the version, the period it was fitted on, its
coefficients and thresholds, and its walk-forward out-of-sample figures with the shipping gate's verdict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info  # noqa: TC002 - strawberry reads annotations at runtime

from engine import DEFAULT_MODE, Mode
from engine.features import FEATURE_DESCRIPTIONS
from resolvers.context import RequestContext  # noqa: TC001
from resolvers.model import ModelNotAvailable as ModelMissing
from schema.errors import Problem

if TYPE_CHECKING:
    from collections.abc import Mapping

    from engine.calibrated import CalibratedModel


def _f(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    return float(value) if isinstance(value, int | float) else None


def _pct(data: Mapping[str, Any], key: str) -> float | None:
    value = _f(data, key)
    return None if value is None else value * 100.0


@strawberry.type(description="One feature of the model: its standardization and its weight.")
class ModelCoefficient:
    feature: str = strawberry.field(description="The feature's name (engine/features.py).")
    description: str = strawberry.field(description="What the feature measures.")
    mean: float = strawberry.field(description="Its mean over the training bars (a missing value is scored as this).")
    scale: float = strawberry.field(description="Its standard deviation over the training bars.")
    coefficient: float = strawberry.field(
        description="Log-odds added per standard deviation above the mean (positive: favours a LONG)."
    )


@strawberry.type(description="CALIBRATED's out-of-sample figures at one horizon, after 0.1 % fees.")
class ModelHorizonFigures:
    horizon_hours: float = strawberry.field(description="The outcome horizon, hours.")
    calls: int = strawberry.field(description="LONG and SHORT calls with a known outcome, out of sample.")
    win_rate_pct: float | None = strawberry.field(description="Calls whose net return was above zero, percent.")
    win_rate_low_pct: float | None = strawberry.field(description="Wilson 95 % interval, low end, percent.")
    win_rate_high_pct: float | None = strawberry.field(description="Wilson 95 % interval, high end, percent.")
    mean_net_return_pct: float | None = strawberry.field(description="Mean net return per call, percent.")
    mean_net_return_low_pct: float | None = strawberry.field(
        description="Block-bootstrap 95 % interval of the mean, low end, percent."
    )
    mean_net_return_high_pct: float | None = strawberry.field(
        description="Block-bootstrap 95 % interval of the mean, high end, percent."
    )
    return_per_risk: float | None = strawberry.field(description="Mean net return / its standard deviation per call.")
    max_drawdown_pct: float | None = strawberry.field(
        description="Largest fall of the running sum of net returns, percent points."
    )
    brier: float | None = strawberry.field(description="Brier score of probabilityUp (lower is better).")
    brier_base_rate: float | None = strawberry.field(
        description="Brier score of always predicting the training base rate: the bar the model must clear."
    )
    always_long_mean_net_return_pct: float | None = strawberry.field(
        description="Always-long's mean net return per call over the same bars, percent."
    )


@strawberry.type(description="The shipping gate: may CALIBRATED be the default mode?")
class ModelGate:
    passes: bool = strawberry.field(
        description="True only if CALIBRATED beat always-long and the best single factor out of sample with the "
        "95 % interval of each difference above zero."
    )
    statement: str = strawberry.field(description="The verdict in words, with the numbers.")
    horizon_hours: float | None = strawberry.field(description="The horizon the gate is judged at, hours.")
    best_factor: str | None = strawberry.field(description="The best single-factor baseline out of sample.")
    vs_always_long_low_pct: float | None = strawberry.field(
        description="95 % interval of (CALIBRATED − always-long) mean net return, low end, percent points."
    )
    vs_always_long_high_pct: float | None = strawberry.field(
        description="The same interval's high end, percent points."
    )
    vs_best_factor_low_pct: float | None = strawberry.field(
        description="95 % interval of (CALIBRATED − best factor) mean net return, low end, percent points."
    )
    vs_best_factor_high_pct: float | None = strawberry.field(
        description="The same interval's high end, percent points."
    )


@strawberry.type(description="CALIBRATED's walk-forward evaluation: test folds only, never the fit period.")
class ModelEvaluation:
    test_from: str | None = strawberry.field(description="First test decision (ISO-8601, UTC).")
    test_to: str | None = strawberry.field(description="Last test decision (ISO-8601, UTC).")
    test_bars: int | None = strawberry.field(description="4h bars in the test folds.")
    horizons: list[ModelHorizonFigures] = strawberry.field(
        description="The figures per horizon (4 h and 24 h). At the model's own horizon they are its procedure's; at "
        "another horizon they are the same procedure fitted on that horizon's target (that model is not served)."
    )
    gate: ModelGate | None = strawberry.field(description="The shipping gate's verdict.")

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> ModelEvaluation:
        gate = data.get("gate")
        horizons = [h for h in data.get("horizons", []) if isinstance(h, dict)]
        bars = data.get("testBars")
        return cls(
            test_from=data.get("testFrom"),
            test_to=data.get("testTo"),
            test_bars=bars if isinstance(bars, int) else None,
            horizons=[
                ModelHorizonFigures(
                    horizon_hours=_f(h, "horizonHours") or 0.0,
                    calls=int(h.get("calls") or 0),
                    win_rate_pct=_pct(h, "winRate"),
                    win_rate_low_pct=_pct(h, "winRateLow"),
                    win_rate_high_pct=_pct(h, "winRateHigh"),
                    mean_net_return_pct=_f(h, "meanNetPct"),
                    mean_net_return_low_pct=_f(h, "meanNetLow"),
                    mean_net_return_high_pct=_f(h, "meanNetHigh"),
                    return_per_risk=_f(h, "returnPerRisk"),
                    max_drawdown_pct=_f(h, "maxDrawdownPct"),
                    brier=_f(h, "brier"),
                    brier_base_rate=_f(h, "brierBaseRate"),
                    always_long_mean_net_return_pct=_f(h, "alwaysLongMeanNetPct"),
                )
                for h in horizons
            ],
            gate=None
            if not isinstance(gate, dict)
            else ModelGate(
                passes=bool(gate.get("passes")),
                statement=str(gate.get("statement") or ""),
                horizon_hours=_f(gate, "horizonHours"),
                best_factor=gate.get("bestFactor"),
                vs_always_long_low_pct=_f(gate, "vsAlwaysLongLow"),
                vs_always_long_high_pct=_f(gate, "vsAlwaysLongHigh"),
                vs_best_factor_low_pct=_f(gate, "vsBestFactorLow"),
                vs_best_factor_high_pct=_f(gate, "vsBestFactorHigh"),
            ),
        )


@strawberry.type(
    name="CalibratedModel",
    description="The CALIBRATED mode's fitted logistic model: P(a LONG beats 0.1 % fees over the horizon). "
    "Fitted by `signal-api model fit`, loaded at start-up; never refitted by a request.",
)
class CalibratedModelType:
    version: str = strawberry.field(description="Artifact version: symbol, bar, horizon, fit end and a content hash.")
    symbol: str = strawberry.field(description="The perpetual it was fitted and evaluated on (others are refused).")
    timeframe: str = strawberry.field(description="The bar its features are computed on (4h).")
    horizon_hours: float = strawberry.field(description="The horizon its probability is about, hours.")
    target: str = strawberry.field(description="What it predicts, in words.")
    fit_from: str = strawberry.field(description="First training decision (ISO-8601, UTC).")
    fit_to: str = strawberry.field(description="Last training decision (ISO-8601, UTC).")
    train_bars: int = strawberry.field(description="Labelled 4h bars it was fitted on.")
    regularization_c: float = strawberry.field(
        description="Inverse L2 regularization strength chosen on earlier data (smaller: stronger)."
    )
    long_threshold: float | None = strawberry.field(
        description="LONG at probabilityUp ≥ this; null: no LONG calls (no threshold made money on earlier data)."
    )
    short_threshold: float | None = strawberry.field(
        description="SHORT at probabilityUp ≤ this; null: no SHORT calls (no threshold made money on earlier data)."
    )
    intercept: float = strawberry.field(description="Log-odds at every feature's mean.")
    coefficients: list[ModelCoefficient] = strawberry.field(description="One per feature, in scoring order.")
    out_of_sample: ModelEvaluation = strawberry.field(description="Walk-forward figures and the shipping gate.")
    is_default_mode: bool = strawberry.field(
        description="Whether CALIBRATED is the default mode (only if the gate passed)."
    )

    @classmethod
    def of(cls, m: CalibratedModel) -> CalibratedModelType:
        return cls(
            version=m.version,
            symbol=m.symbol,
            timeframe=m.timeframe,
            horizon_hours=m.horizon_hours,
            target=f"a LONG's {m.horizon_hours:g}h return exceeds {m.fee_pct:g}% (one round trip of fees)",
            fit_from=m.fit_from,
            fit_to=m.fit_to,
            train_bars=m.train_bars,
            regularization_c=m.regularization_c,
            long_threshold=m.long_threshold,
            short_threshold=m.short_threshold,
            intercept=m.intercept,
            coefficients=[
                ModelCoefficient(
                    feature=n, description=FEATURE_DESCRIPTIONS.get(n, n), mean=mean, scale=scale, coefficient=c
                )
                for n, mean, scale, c in zip(m.features, m.means, m.scales, m.coefficients, strict=True)
            ],
            out_of_sample=ModelEvaluation.of(m.out_of_sample),
            is_default_mode=DEFAULT_MODE is Mode.CALIBRATED,
        )


@strawberry.type(description="No calibrated model is loaded: the file is missing or unreadable (named, no path).")
class ModelNotAvailable(Problem):
    pass


ModelResult = Annotated[
    CalibratedModelType | ModelNotAvailable,
    strawberry.union("ModelResult", description="The calibrated model, or why none is loaded."),
]


@strawberry.type
class ModelQuery:
    @strawberry.field(
        description="The CALIBRATED mode's model: version, fit period, coefficients, thresholds and out-of-sample "
        "figures with the shipping gate's verdict. No upstream call."
    )
    def model(self, info: Info[RequestContext, None]) -> ModelResult:
        state = info.context.services.model
        try:
            if state is None:
                raise ModelMissing("no calibrated model is configured on this server")
            return CalibratedModelType.of(state.require())
        except ModelMissing as exc:
            return ModelNotAvailable(code=ModelMissing.code, message=exc.message)
