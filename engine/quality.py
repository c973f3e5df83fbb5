"""Data quality: which inputs answered, how much they matter, and a score the client can trust.

The score counts the CRITICAL and IMPORTANT inputs only and treats an input as answered only when the
scorer could actually use it (present, fresh and scorable), so a factor that silently fell back to
neutral can never hide behind a 100 % quality (predecessor defect 3).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from engine.inputs import Tier

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


class InputName(enum.Enum):
    """One per :class:`~engine.inputs.MarketSnapshot` reading; values equal the snapshot attribute names."""

    PRICE = "price"
    CANDLES = "candles"
    FUNDING = "funding"
    GLOBAL_LONG_SHORT = "global_long_short"
    TOP_TRADER_POSITIONS = "top_trader_positions"
    OPEN_INTEREST = "open_interest"
    LIQUIDATIONS = "liquidations"
    SOCIAL = "social"
    FEAR_GREED = "fear_greed"


TIERS: Mapping[InputName, Tier] = MappingProxyType(
    {
        InputName.PRICE: Tier.CRITICAL,
        InputName.CANDLES: Tier.CRITICAL,
        InputName.FUNDING: Tier.IMPORTANT,
        InputName.GLOBAL_LONG_SHORT: Tier.IMPORTANT,
        InputName.TOP_TRADER_POSITIONS: Tier.IMPORTANT,
        InputName.OPEN_INTEREST: Tier.IMPORTANT,
        InputName.LIQUIDATIONS: Tier.IMPORTANT,
        InputName.SOCIAL: Tier.OPTIONAL,
        InputName.FEAR_GREED: Tier.OPTIONAL,
    }
)
SCORED_TIERS = (Tier.CRITICAL, Tier.IMPORTANT)
MIN_QUALITY = 50.0  # below this the signal is refused


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """How one input fared: ``ok`` only when the engine could use it; ``error`` says why not."""

    input: InputName
    tier: Tier
    source: str | None
    ok: bool
    error: str | None
    failed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TierCount:
    tier: Tier
    available: int
    expected: int


@dataclass(frozen=True, slots=True)
class DataQuality:
    """``score`` = 100 x usable / expected over CRITICAL + IMPORTANT inputs, rounded to 0.1."""

    score: float
    tiers: tuple[TierCount, ...]  # one per tier, CRITICAL first
    missing: tuple[str, ...]  # "liquidations: <error>" for every unusable input of any tier
    sources: tuple[SourceStatus, ...]  # one per input, in InputName order
    other_failures: tuple[str, ...] = ()  # snapshot.extra_failures: failures not tied to one input

    def tier(self, tier: Tier) -> TierCount:
        return next(t for t in self.tiers if t.tier is tier)


def assess_quality(sources: Sequence[SourceStatus], other_failures: tuple[str, ...] = ()) -> DataQuality:
    tiers = tuple(
        TierCount(
            tier=tier,
            available=sum(1 for s in sources if s.tier is tier and s.ok),
            expected=sum(1 for s in sources if s.tier is tier),
        )
        for tier in Tier
    )
    scored = [t for t in tiers if t.tier in SCORED_TIERS]
    expected = sum(t.expected for t in scored)
    score = round(100.0 * sum(t.available for t in scored) / expected, 1) if expected else 0.0
    missing = tuple(f"{s.input.value}: {s.error or 'unavailable'}" for s in sources if not s.ok)
    return DataQuality(score=score, tiers=tiers, missing=missing, sources=tuple(sources), other_failures=other_failures)
