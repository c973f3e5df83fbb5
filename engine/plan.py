"""ATR trade plan: entry, stop and take-profit for a LONG or SHORT, and how much of a normal position to take.

REFERENCE §3 with its defects fixed: no plan for NEUTRAL (the predecessor gave one a SHORT-side stop),
the risk multiplier scales the ATR size (AVOID is size 0, not up to 2x), and a SHORT's stop is above
entry with its take-profit below. ATR14 is Wilder's, on the signal timeframe's *closed* candles:

- true range ``TR_i = max(high_i - low_i, |high_i - close_{i-1}|, |low_i - close_{i-1}|)``;
- the first ATR is the mean of the first 14 TRs, then ``ATR = (ATR x 13 + TR) / 14``;
- ``atr_pct = ATR / last close x 100``; ``size = clamp(3.0 / atr_pct, 0.25, 2.0) x risk multiplier``;
- ``stop = entry -/+ ATR x stop multiple``, ``take_profit = entry +/- |entry - stop| x reward:risk``.

Prices are on the venue's tick, each rounded in the direction that never flatters the plan:

- entry: the nearest tick (the last price is on the grid already);
- stop: *away* from entry (a LONG's down, a SHORT's up), so it is never tighter than the ATR rule: a
  stop half a tick inside the rule would be hit by noise the rule means to allow. The risk it shows is
  at most one tick more than the rule's, never less;
- take-profit: *toward* entry (a LONG's down, a SHORT's up), so the reward:risk shown is never more
  than the rule's (an order resting there fills no later than the rule's level);
- a leg that would land on the entry is put one tick beyond it: the plan never has a zero-distance leg.
"""

from __future__ import annotations

import enum
import itertools
import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from engine.modes import Recommendation

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from engine.market import Candle

ATR_PERIOD = 14
SIZE_NUMERATOR = 3.0  # size = 3.0 / ATR% : a 1.5 % ATR is a full 2x, a 12 % ATR a quarter
SIZE_MIN, SIZE_MAX = 0.25, 2.0


class RiskMode(enum.Enum):
    """How much risk a judge allows: it scales the position and widens or tightens the stop."""

    AVOID = "AVOID"
    REDUCED = "REDUCED"
    NORMAL = "NORMAL"
    AGGRESSIVE = "AGGRESSIVE"


RISK_MULTIPLIER: Mapping[RiskMode, float] = MappingProxyType(
    {RiskMode.AVOID: 0.0, RiskMode.REDUCED: 0.5, RiskMode.NORMAL: 1.0, RiskMode.AGGRESSIVE: 1.5}
)


@dataclass(frozen=True, slots=True)
class StopRule:
    atr_multiple: float  # stop distance in ATRs
    reward_risk: float  # take-profit distance in stop distances


# AVOID trades nothing (size 0); its stop and target are the widest (REDUCED) ones, shown for reference.
STOP_RULES: Mapping[RiskMode, StopRule] = MappingProxyType(
    {
        RiskMode.AGGRESSIVE: StopRule(1.5, 2.0),
        RiskMode.NORMAL: StopRule(2.0, 2.5),
        RiskMode.REDUCED: StopRule(2.5, 3.0),
        RiskMode.AVOID: StopRule(2.5, 3.0),
    }
)


class PlanUnavailable(ValueError):
    """No honest plan: too few candles, a non-positive price, or a call that is not LONG/SHORT."""


@dataclass(frozen=True, slots=True)
class TradePlan:
    side: Recommendation  # LONG or SHORT
    entry: float
    stop: float
    take_profit: float
    atr: float  # in price units (USDT)
    atr_pct: float  # ATR / last close, percent
    size_multiplier: float  # of a normal position; 0 when AVOID
    risk_mode: RiskMode
    tick_size: float | None  # what the prices were rounded to; None: not rounded

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values: the form stored with a signal (``signals.plan``) and shown to the AI judge."""
        return {
            "entry": self.entry,
            "stop": self.stop,
            "take_profit": self.take_profit,
            "atr": self.atr,
            "atr_pct": self.atr_pct,
            "size_multiplier": self.size_multiplier,
            "risk_mode": self.risk_mode.value,
        }


def true_ranges(candles: Sequence[Candle]) -> list[float]:
    """TR of every candle after the first (each needs the previous close)."""
    return [
        max(cur.high - cur.low, abs(cur.high - prev.close), abs(cur.low - prev.close))
        for prev, cur in itertools.pairwise(candles)
    ]


def atr_wilder(candles: Sequence[Candle], period: int = ATR_PERIOD) -> float:
    """Wilder's ATR of the last candle; needs ``period + 1`` oldest-first candles."""
    if period < 1:
        raise ValueError(f"atr: period must be at least 1, got {period}")
    if len(candles) < period + 1:
        raise PlanUnavailable(f"ATR{period} needs {period + 1} closed candles, got {len(candles)}")
    ranges = true_ranges(candles)
    atr = sum(ranges[:period]) / period
    for tr in ranges[period:]:
        atr = (atr * (period - 1) + tr) / period
    return atr


def size_multiplier(atr_pct: float, risk_mode: RiskMode) -> float:
    """``clamp(3.0 / ATR%, 0.25, 2.0) x`` the risk mode's multiplier (AVOID 0)."""
    base = SIZE_MAX if atr_pct <= 0 else min(SIZE_MAX, max(SIZE_MIN, SIZE_NUMERATOR / atr_pct))
    return round(base * RISK_MULTIPLIER[risk_mode], 4)


_ROUNDING = {"nearest": ROUND_HALF_EVEN, "down": ROUND_FLOOR, "up": ROUND_CEILING}
_GRID_NOISE = Decimal("1e-6")  # of a tick: float noise (117427.73 / 0.01 = 11742772.999999998) is not a tick


def round_to_tick(price: float, tick: float | None, direction: Literal["nearest", "down", "up"] = "nearest") -> float:
    """A multiple of ``tick`` (the nearest, or the next one down or up), exact in decimal: no
    0.30000000000000004, and a price already on the grid stays where it is whatever the direction."""
    if tick is None or tick <= 0 or not math.isfinite(price):
        return price
    step = Decimal(repr(tick))
    ticks = (Decimal(repr(price)) / step).quantize(_GRID_NOISE).to_integral_value(rounding=_ROUNDING[direction])
    return float(ticks * step)


def _leg(price: float, entry: float, below: bool, away: bool, tick: float | None) -> float:
    """A stop or target on the tick grid, rounded away from ``entry`` (a stop) or toward it (a target), and
    strictly on its side of ``entry`` (one tick beyond it if rounding met it)."""
    rounded = round_to_tick(price, tick, "down" if below == away else "up")
    step = tick if tick is not None and tick > 0 else 0.0
    if below and rounded >= entry:
        return round_to_tick(entry - step, tick)
    if not below and rounded <= entry:
        return round_to_tick(entry + step, tick)
    return rounded


def build_plan(
    side: Recommendation,
    entry: float,
    candles: Sequence[Candle],
    risk_mode: RiskMode,
    tick_size: float | None = None,
) -> TradePlan:
    """The plan for a ``side`` call entered at ``entry`` (the last price), from closed oldest-first candles."""
    if side is Recommendation.NEUTRAL:
        raise PlanUnavailable("no trade plan for a NEUTRAL call")
    if not (math.isfinite(entry) and entry > 0):
        raise PlanUnavailable(f"entry {entry!r} is not a positive finite price")
    atr = atr_wilder(candles)
    last_close = candles[-1].close
    if not (math.isfinite(atr) and atr > 0 and last_close > 0):  # ATR 0: no range to place a stop by
        raise PlanUnavailable(f"ATR {atr!r} or last close {last_close!r} is not usable")
    atr_pct = atr / last_close * 100.0
    rule = STOP_RULES[risk_mode]
    distance = atr * rule.atr_multiple
    entry_r = round_to_tick(entry, tick_size)
    long = side is Recommendation.LONG
    stop = _leg(entry_r - distance if long else entry_r + distance, entry_r, below=long, away=True, tick=tick_size)
    risk = abs(entry_r - stop)
    target = entry_r + risk * rule.reward_risk if long else entry_r - risk * rule.reward_risk
    take_profit = _leg(target, entry_r, below=not long, away=False, tick=tick_size)
    if min(stop, take_profit) <= 0:
        raise PlanUnavailable(f"an ATR of {atr:g} puts a leg of the plan at or below zero")
    return TradePlan(
        side=side,
        entry=entry_r,
        stop=stop,
        take_profit=take_profit,
        atr=atr,
        atr_pct=round(atr_pct, 4),
        size_multiplier=size_multiplier(atr_pct, risk_mode),
        risk_mode=risk_mode,
        tick_size=tick_size,
    )
