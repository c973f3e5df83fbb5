"""``Signal.calibration``: what the CALIBRATED model said about one signal (a leaf type: schema.types uses it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

if TYPE_CHECKING:
    from engine.calibrated import Calibration


@strawberry.type(
    description="The calibrated model's reading of this signal (the model query shows the model). Present when a "
    "model fitted on this symbol and timeframe is loaded (BTCUSDT 4h today), in every mode; only mode CALIBRATED "
    "takes its call from it."
)
class SignalCalibration:
    probability_up: float = strawberry.field(
        description="0..1: the model's probability that a LONG at this price beats 0.1 % fees over the model's "
        "horizon (24 h). Out of sample its calls did not beat always-long and its Brier score was no better than "
        "always predicting the base rate: not an edge, and not a sharper estimate of the odds than the base rate."
    )
    horizon_hours: float = strawberry.field(description="The horizon the probability is about, in hours.")
    long_threshold: float | None = strawberry.field(
        description="CALIBRATED calls LONG at probabilityUp ≥ this; null: that side makes no calls."
    )
    short_threshold: float | None = strawberry.field(
        description="CALIBRATED calls SHORT at probabilityUp ≤ this; null: that side makes no calls."
    )
    model_version: str = strawberry.field(description="The artifact's version (see the model query).")
    missing_features: list[str] = strawberry.field(
        description="Features that could not be computed for this signal; scored at their training mean."
    )

    @classmethod
    def of(cls, c: Calibration) -> SignalCalibration:
        return cls(
            probability_up=round(c.probability_up, 4),
            horizon_hours=c.horizon_hours,
            long_threshold=c.long_threshold,
            short_threshold=c.short_threshold,
            model_version=c.model_version,
            missing_features=list(c.missing_features),
        )
