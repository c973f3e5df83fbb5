"""The eight factors and their nominal weights, kept as data so tests and start-up can check them.

The weights are the predecessor's published ones; they must sum to exactly 100 so that a factor's
weight reads directly as "percent of the score". ``validate_weights`` runs at import and is exported
so the application can fail fast at start-up if anyone edits the table.
"""

from __future__ import annotations

import enum
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping


class FactorName(enum.Enum):
    """The eight factors, in weight order (heaviest first)."""

    LIQUIDATIONS = "liquidations"
    MOMENTUM = "momentum"
    FUNDING = "funding"
    LONG_SHORT = "long_short"
    SMART_MONEY = "smart_money"
    OI_TREND = "oi_trend"
    SOCIAL = "social"
    FEAR_GREED = "fear_greed"


WEIGHTS: Mapping[FactorName, int] = MappingProxyType(
    {
        FactorName.LIQUIDATIONS: 24,
        FactorName.MOMENTUM: 20,
        FactorName.FUNDING: 18,
        FactorName.LONG_SHORT: 11,
        FactorName.SMART_MONEY: 11,
        FactorName.OI_TREND: 6,
        FactorName.SOCIAL: 6,
        FactorName.FEAR_GREED: 4,
    }
)


def validate_weights(weights: Mapping[FactorName, float]) -> None:
    """Raise ``ValueError`` unless every factor has a non-negative weight and they sum to exactly 100."""
    missing = [name.value for name in FactorName if name not in weights]
    if missing:
        raise ValueError(f"weights missing for factors: {', '.join(missing)}")
    negative = [name.value for name, weight in weights.items() if weight < 0]
    if negative:
        raise ValueError(f"negative weights for factors: {', '.join(negative)}")
    total = sum(weights.values())
    if total != 100:
        raise ValueError(f"factor weights must sum to exactly 100, got {total}")


validate_weights(WEIGHTS)
