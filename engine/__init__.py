"""The pure scoring engine: a :class:`MarketSnapshot` in, an explained :class:`Signal` out. No I/O."""

from __future__ import annotations

from engine.factors import (
    FUNDING_TABLE,
    LIQUIDATIONS_TABLE,
    LONG_SHORT_TABLE,
    OI_TREND_TABLE,
    SMART_MONEY_TABLE,
    BandTable,
    Evaluation,
    oi_change_24h,
)
from engine.freshness import MAX_AGES, MaxAge
from engine.inputs import MarketSnapshot, Reading, Tier
from engine.modes import (
    DEFAULT_MODE,
    THRESHOLDS,
    Mode,
    ModeThresholds,
    Recommendation,
)
from engine.momentum import MIN_CLOSES, evaluate_momentum
from engine.quality import MIN_QUALITY, TIERS, DataQuality, InputName, SourceStatus, TierCount
from engine.signal import FactorScore, Signal, SignalRefused, compute_confidence, compute_signal
from engine.weights import WEIGHTS, FactorName, validate_weights

__all__ = [
    "DEFAULT_MODE",
    "FUNDING_TABLE",
    "LIQUIDATIONS_TABLE",
    "LONG_SHORT_TABLE",
    "MAX_AGES",
    "MIN_CLOSES",
    "MIN_QUALITY",
    "OI_TREND_TABLE",
    "SMART_MONEY_TABLE",
    "THRESHOLDS",
    "TIERS",
    "WEIGHTS",
    "BandTable",
    "DataQuality",
    "Evaluation",
    "FactorName",
    "FactorScore",
    "InputName",
    "MarketSnapshot",
    "MaxAge",
    "Mode",
    "ModeThresholds",
    "Reading",
    "Recommendation",
    "Signal",
    "SignalRefused",
    "SourceStatus",
    "Tier",
    "TierCount",
    "compute_confidence",
    "compute_signal",
    "evaluate_momentum",
    "oi_change_24h",
    "validate_weights",
]
