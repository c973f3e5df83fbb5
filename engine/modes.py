"""Signal modes and the score thresholds that turn a 0..100 score into LONG / SHORT / NEUTRAL.

Why not the predecessor's table: it is contradictory.
"conservative" (48/52) and "ultra" (49/51) are both narrower than the default "aggressive" (42/52),
so the cautious mode traded more often than the bold one, and aggressive was asymmetric around 50.
We use an ordered, symmetric table instead: the NEUTRAL band is widest for CONSERVATIVE (40..60),
narrower for AGGRESSIVE (45..55, the predecessor's earlier default) and narrowest for ULTRA (48..52).
These are placeholders with the right shape; the walk-forward backtest (REFERENCE §6) will refit them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping


class Recommendation(enum.Enum):
    LONG = "LONG"
    SHORT = "SHORT"
    NEUTRAL = "NEUTRAL"


@dataclass(frozen=True, slots=True)
class ModeThresholds:
    """LONG when ``score >= long_min``, SHORT when ``score <= short_max``, else NEUTRAL."""

    short_max: float
    long_min: float

    def __post_init__(self) -> None:
        if not self.short_max < self.long_min:
            raise ValueError(f"short_max {self.short_max} must be below long_min {self.long_min}")

    def classify(self, score: float) -> Recommendation:
        if score >= self.long_min:
            return Recommendation.LONG
        if score <= self.short_max:
            return Recommendation.SHORT
        return Recommendation.NEUTRAL


MODE_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "conservative": "conservative",
        "1": "conservative",
        "safe": "conservative",
        "aggressive": "aggressive",
        "2": "aggressive",
        "balanced": "aggressive",
        "ultra": "ultra",
        "3": "ultra",
        "extreme": "ultra",
        "scalping": "ultra",
        "calibrated": "calibrated",
        "4": "calibrated",
        "model": "calibrated",
    }
)


class Mode(enum.Enum):
    CONSERVATIVE = "conservative"
    AGGRESSIVE = "aggressive"
    ULTRA = "ultra"
    CALIBRATED = "calibrated"  # calls from the fitted model's probability (engine.calibrated), not the score

    @classmethod
    def parse(cls, text: str) -> Mode:
        """Accept a name or alias case-insensitively; raise ``ValueError`` listing the choices otherwise."""
        canonical = MODE_ALIASES.get(text.strip().lower())
        if canonical is None:
            choices = ", ".join(MODE_ALIASES)
            raise ValueError(f"unknown mode {text!r}; expected one of {choices}")
        return cls(canonical)

    @property
    def thresholds(self) -> ModeThresholds:
        """The score band; CALIBRATED has none of its own and reports the default's for reference."""
        return THRESHOLDS.get(self, THRESHOLDS[Mode.AGGRESSIVE])

    @property
    def is_calibrated(self) -> bool:
        return self is Mode.CALIBRATED


DEFAULT_MODE = Mode.AGGRESSIVE
# The modes that classify the score with a threshold band (CALIBRATED classifies a probability instead).
SCORE_MODES: tuple[Mode, ...] = (Mode.CONSERVATIVE, Mode.AGGRESSIVE, Mode.ULTRA)

THRESHOLDS: Mapping[Mode, ModeThresholds] = MappingProxyType(
    {
        Mode.CONSERVATIVE: ModeThresholds(short_max=40.0, long_min=60.0),
        Mode.AGGRESSIVE: ModeThresholds(short_max=45.0, long_min=55.0),
        Mode.ULTRA: ModeThresholds(short_max=48.0, long_min=52.0),
    }
)
