"""MSS, the Multi-modal Signal Score: how early, how talked-about and how bought-into a coin is, 0..100.

Three phases, each the sum of its inputs' points from the predecessor's tables (REFERENCE §3, kept as
they were): discovery 0..35 (FDV, age, circulating share), social 0..30 (AltRank, Galaxy Score,
sentiment, volume spike) and institutional 0..35 (open-interest change, funding, top-trader ratio, whale
accumulation). Every input carries its value and source or the reason it is missing.

Missing data is never a number. A phase with a required input missing is *unavailable*: it has no
points and no pass/fail, and names what it lacks. The whale bonus (+5) is not required: unmeasured, it
only widens the range. The report's ``total`` sums the available phases, ``measurable_max`` says out of
how many points, and ``total_low`` .. ``total_high`` is where the full score lies whatever the missing
inputs turn out to be (each missing input at its table's minimum, then maximum); band and tier are given
only when that range cannot change them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from engine.hype import SocialMetrics
    from engine.inputs import Reading
    from engine.listings import CoinMarket
    from engine.market import Trade


@dataclass(frozen=True, slots=True)
class CoinDetails:
    """One coin's market facts (FDV, supply) and social numbers from one data-vendor answer."""

    market: CoinMarket
    social: SocialMetrics
    categories: tuple[str, ...] | None = None  # the vendor's sectors ("Layer 1 (L1)"); None when it sends none


class Phase(enum.Enum):
    DISCOVERY = "discovery"
    SOCIAL = "social"
    INSTITUTIONAL = "institutional"


class Band(enum.Enum):
    STRONG_LONG = "STRONG_LONG"
    LONG = "LONG"
    MODERATE_LONG = "MODERATE_LONG"
    WEAK_LONG = "WEAK_LONG"
    NEUTRAL = "NEUTRAL"


class MssTier(enum.Enum):
    DIAMOND = "DIAMOND"
    GOLD = "GOLD"
    SILVER = "SILVER"
    BRONZE = "BRONZE"


@dataclass(frozen=True, slots=True)
class Rule:
    """Points by bands of one input. ``rows`` are ``(op, bound, points)`` checked top to bottom, ``op``
    one of ``<=``, ``<``, ``>=``, ``>``, ``==`` (a closed range is written as two rows: see funding)."""

    name: str
    unit: str
    rows: tuple[tuple[str, float, float], ...]
    otherwise: float
    bonus: bool = False  # not required for the phase to be available

    @property
    def max_points(self) -> float:
        return max(self.otherwise, *(points for _, _, points in self.rows))

    @property
    def min_points(self) -> float:
        return 0.0 if self.bonus else min(self.otherwise, *(points for _, _, points in self.rows))

    def points(self, value: float) -> float:
        for op, bound, points in self.rows:
            if _holds(op, value, bound):
                return points
        return self.otherwise


def _holds(op: str, value: float, bound: float) -> bool:
    match op:
        case "<=":
            return value <= bound
        case "<":
            return value < bound
        case ">=":
            return value >= bound
        case ">":
            return value > bound
        case "==":
            return value == bound
    raise ValueError(f"unknown comparison {op!r}")  # pragma: no cover - the tables below are fixed


# Discovery: small, young, thinly floated coins score most.
FDV = Rule("fdv", "USD", (("<=", 5e6, 15), ("<=", 10e6, 13), ("<=", 25e6, 10), ("<=", 50e6, 6)), 2)
AGE = Rule("age", "hours", (("<=", 24, 12), ("<=", 48, 10), ("<=", 72, 7), ("<=", 168, 4)), 1)
CIRCULATING = Rule("circulating_share", "% of total supply", (("<=", 20, 8), ("<=", 40, 6), ("<=", 60, 4)), 2)
# Social: rank 1 is the strongest momentum (AltRank); Galaxy Score and sentiment are 0..100.
ALT_RANK = Rule("alt_rank", "rank", (("<=", 50, 10), ("<=", 100, 8), ("<=", 200, 5), ("<=", 500, 3)), 1)
GALAXY = Rule("galaxy_score", "0..100", ((">=", 75, 8), (">=", 65, 6), (">=", 50, 4)), 1)
SENTIMENT = Rule("sentiment", "% positive", ((">=", 70, 6), (">=", 60, 4.5), (">=", 50, 3)), 1)
VOLUME_SPIKE = Rule(
    "volume_spike", "% vs prior days' mean", ((">=", 200, 6), (">=", 100, 5), (">=", 50, 3.5), (">=", 25, 2)), 0.5
)
# Institutional: open interest building, funding positive but not crowded, top traders leaning long.
OI_CHANGE = Rule(
    "oi_change", "% over 24 h", ((">=", 200, 12), (">=", 100, 10), (">=", 50, 7), (">=", 25, 4), (">=", 0, 1)), 0
)
# 0.01 % ..0.04 % per 8 h → 8, above 0.04 % → 4, other positive → 5, zero or negative → 1
FUNDING = Rule("funding", "% per 8 h", ((">", 0.04, 4), (">=", 0.01, 8), (">", 0, 5)), 1)
# 1.5..2.5 → 10, above 2.5 → 5, 1.2.. → 7, 1.0.. → 4, else 1
TOP_TRADER = Rule("top_trader_ratio", "long/short", ((">", 2.5, 5), (">=", 1.5, 10), (">=", 1.2, 7), (">=", 1.0, 4)), 1)
WHALE = Rule("whale_accumulation", "1 = accumulating", (("==", 1, 5),), 0, bonus=True)

PHASE_RULES: Mapping[Phase, tuple[Rule, ...]] = {
    Phase.DISCOVERY: (FDV, AGE, CIRCULATING),
    Phase.SOCIAL: (ALT_RANK, GALAXY, SENTIMENT, VOLUME_SPIKE),
    Phase.INSTITUTIONAL: (OI_CHANGE, FUNDING, TOP_TRADER, WHALE),
}
PASS_AT: Mapping[Phase, float] = {Phase.DISCOVERY: 20, Phase.SOCIAL: 18, Phase.INSTITUTIONAL: 20}
BANDS: tuple[tuple[float, Band], ...] = (
    (75, Band.STRONG_LONG),
    (65, Band.LONG),
    (50, Band.MODERATE_LONG),
    (35, Band.WEAK_LONG),
)
TIERS: tuple[tuple[float, MssTier], ...] = ((80, MssTier.DIAMOND), (65, MssTier.GOLD), (50, MssTier.SILVER))


def band_of(total: float) -> Band:
    return next((band for bound, band in BANDS if total >= bound), Band.NEUTRAL)


def tier_of(total: float) -> MssTier:
    return next((tier for bound, tier in TIERS if total >= bound), MssTier.BRONZE)


@dataclass(frozen=True, slots=True)
class MssInput:
    """One input: its value and where it came from, its points, or why it is missing."""

    name: str
    unit: str
    value: float | None
    source: str | None
    points: float | None
    max_points: float
    bonus: bool
    error: str | None = None

    @property
    def measured(self) -> bool:
        return self.points is not None


@dataclass(frozen=True, slots=True)
class PhaseScore:
    phase: Phase
    inputs: tuple[MssInput, ...]
    max_points: float
    pass_at: float

    @property
    def available(self) -> bool:
        return all(i.measured for i in self.inputs if not i.bonus)

    @property
    def points(self) -> float | None:
        """The sum of the measured inputs; ``None`` when a required input is missing."""
        return sum(i.points or 0.0 for i in self.inputs) if self.available else None

    @property
    def passes(self) -> bool | None:
        points = self.points
        return None if points is None else points >= self.pass_at

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(f"{i.name}: {i.error}" for i in self.inputs if not i.measured)

    @property
    def low(self) -> float:
        """The least this phase can score: measured points, each missing input at its minimum."""
        return sum(i.points if i.points is not None else _rule(self.phase, i.name).min_points for i in self.inputs)

    @property
    def high(self) -> float:
        return sum(i.points if i.points is not None else i.max_points for i in self.inputs)


def _rule(phase: Phase, name: str) -> Rule:
    return next(r for r in PHASE_RULES[phase] if r.name == name)


@dataclass(frozen=True, slots=True)
class MssReport:
    symbol: str
    phases: tuple[PhaseScore, ...]
    categories: tuple[str, ...] | None = None  # CoinGecko's sectors when its coin answer was read; not scored

    @property
    def total(self) -> float:
        """Points of the available phases (see ``measurable_max``)."""
        return sum(p.points or 0.0 for p in self.phases if p.available)

    @property
    def measurable_max(self) -> float:
        """The most ``total`` could have been: the maxima of the available phases (100 when all are)."""
        return sum(p.max_points for p in self.phases if p.available)

    @property
    def complete(self) -> bool:
        return all(i.measured for p in self.phases for i in p.inputs)

    @property
    def total_low(self) -> float:
        return sum(p.low for p in self.phases)

    @property
    def total_high(self) -> float:
        return sum(p.high for p in self.phases)

    @property
    def band(self) -> Band | None:
        """The band when the missing inputs cannot change it; ``None`` otherwise."""
        low, high = band_of(self.total_low), band_of(self.total_high)
        return low if low is high else None

    @property
    def tier(self) -> MssTier | None:
        low, high = tier_of(self.total_low), tier_of(self.total_high)
        return low if low is high else None

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(m for p in self.phases for m in p.missing)


def score_input(phase: Phase, rule: Rule, reading: Reading[float] | None) -> MssInput:
    if reading is None or reading.value is None:
        error = (reading.error if reading is not None else None) or "not fetched"
        source = reading.source if reading is not None else None
        return MssInput(rule.name, rule.unit, None, source, None, rule.max_points, rule.bonus, error)
    value = float(reading.value)
    if value != value or value in (float("inf"), float("-inf")):  # NaN / inf: never scored
        return MssInput(rule.name, rule.unit, None, reading.source, None, rule.max_points, rule.bonus, "not finite")
    return MssInput(rule.name, rule.unit, value, reading.source, float(rule.points(value)), rule.max_points, rule.bonus)


def score_mss(
    symbol: str, readings: Mapping[str, Reading[float]], categories: tuple[str, ...] | None = None
) -> MssReport:
    """The report for ``symbol`` from its readings by rule name; an absent name is missing ("not fetched").
    ``categories`` ride along for the reader (a sector filter such as "DeFi"); they score nothing."""
    phases = []
    for phase, rules in PHASE_RULES.items():
        inputs = tuple(score_input(phase, rule, readings.get(rule.name)) for rule in rules)
        phases.append(PhaseScore(phase, inputs, sum(r.max_points for r in rules), PASS_AT[phase]))
    return MssReport(symbol, tuple(phases), categories)


def whale_accumulation(trades: Sequence[Trade], threshold_usd: float) -> tuple[float, str]:
    """``(1.0, detail)`` when the trades of at least ``threshold_usd`` notional bought more than they sold (by
    the taker's side), ``(0.0, detail)`` otherwise, none at all included: a window with no whale trade was
    read, and shows no accumulation. ``detail`` names the window and the sums."""
    large = [t for t in trades if t.usd >= threshold_usd]
    bought = sum(t.usd for t in large if t.taker_side == "BUY")
    sold = sum(t.usd for t in large if t.taker_side == "SELL")
    span = (trades[-1].time - trades[0].time).total_seconds() / 60 if trades else 0.0
    detail = (
        f"{len(large)} of the last {len(trades)} trades ≥ ${threshold_usd:,.0f} over {span:.0f} min: "
        f"bought ${bought:,.0f}, sold ${sold:,.0f}"
    )
    return (1.0 if bought > sold else 0.0), detail


def rule_names(phase: Phase | None = None) -> Sequence[str]:
    """Every input name, in table order (of one phase, or all)."""
    phases = (phase,) if phase is not None else tuple(Phase)
    return tuple(r.name for p in phases for r in PHASE_RULES[p])
