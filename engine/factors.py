"""The predecessor's factor mappings (REFERENCE §1) as data tables, and the pure functions that apply them.

Each table is checked top to bottom: first the ``above`` rows (score when ``value > bound``), then the
``below`` rows (score when ``value < bound``), else ``otherwise``. Exact bounds therefore fall through
to the next row, e.g. funding of exactly -0.2 % scores 70, not 85.

Every ``evaluate_*`` function turns one normalized input into an :class:`Evaluation`: a score with its
raw value and a human explanation with units, or the reason the factor cannot be scored. None of them
ever falls back to a neutral 50 (predecessor defect 3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from engine.indicators import pct_change

if TYPE_CHECKING:
    from collections.abc import Sequence

    from engine.market import (
        FearGreed,
        FundingRate,
        LiquidationTotals,
        LongShortPoint,
        OpenInterestPoint,
        SocialSentiment,
    )


@dataclass(frozen=True, slots=True)
class BandTable:
    above: tuple[tuple[float, float], ...]
    below: tuple[tuple[float, float], ...]
    otherwise: float

    def score(self, value: float) -> float:
        for bound, score in self.above:
            if value > bound:
                return score
        for bound, score in self.below:
            if value < bound:
                return score
        return self.otherwise


NEUTRAL_SCORE = 50.0  # the middle of every 0..100 score: no pull either way (also the half-range)

# Contrarian: crowded longs paying shorts is bearish. Input: percent per 8 h.
FUNDING_TABLE = BandTable(
    above=(),
    below=((-0.2, 85.0), (-0.05, 70.0), (0.0, 60.0), (0.05, 50.0), (0.3, 42.0), (0.5, 32.0)),
    otherwise=20.0,
)
# Contrarian: longs being flushed out marks a local bottom. Input: long share % of liquidated USD.
LIQUIDATIONS_TABLE = BandTable(above=((55.0, 70.0),), below=((45.0, 30.0),), otherwise=50.0)
# Contrarian: the crowd of accounts is wrong at extremes. Input: % of accounts long.
LONG_SHORT_TABLE = BandTable(above=((65.0, 25.0), (55.0, 40.0)), below=((35.0, 75.0), (45.0, 60.0)), otherwise=50.0)
# Follow: top traders' positions lead. Input: % long by position.
SMART_MONEY_TABLE = BandTable(above=((60.0, 70.0), (52.0, 60.0)), below=((40.0, 30.0), (48.0, 40.0)), otherwise=50.0)
# Rising open interest confirms the move. Input: 24 h change % of open interest in its source's unit.
OI_TREND_TABLE = BandTable(above=((5.0, 75.0), (1.0, 60.0)), below=((-5.0, 25.0), (-1.0, 40.0)), otherwise=50.0)

OI_LOOKBACK = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A factor's score (0..100) with its raw input and explanation, or ``error`` saying why there is none."""

    score: float | None
    raw_value: float | None
    detail: str
    error: str | None = None

    @property
    def available(self) -> bool:
        return self.score is not None

    @classmethod
    def unavailable(cls, error: str, raw_value: float | None = None) -> Evaluation:
        return cls(score=None, raw_value=raw_value, detail=f"unavailable: {error}", error=error)


def _finite(value: float, what: str) -> str | None:
    return None if math.isfinite(value) else f"{what} is not a finite number ({value!r})"


def clamp(value: float, low: float = 0.0, high: float = 100.0) -> float:
    return min(high, max(low, value))


def funding_score(percent_8h: float) -> float:
    return FUNDING_TABLE.score(percent_8h)


def liquidations_score(long_share_pct: float) -> float:
    return LIQUIDATIONS_TABLE.score(long_share_pct)


def long_short_score(long_pct: float) -> float:
    return LONG_SHORT_TABLE.score(long_pct)


def smart_money_score(long_pct: float) -> float:
    return SMART_MONEY_TABLE.score(long_pct)


def oi_trend_score(change_pct: float) -> float:
    return OI_TREND_TABLE.score(change_pct)


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:g}h"


def evaluate_funding(funding: FundingRate) -> Evaluation:
    if funding.interval_hours <= 0 or not math.isfinite(funding.interval_hours):
        return Evaluation.unavailable(f"funding interval of {funding.interval_hours!r}h is not positive")
    if error := _finite(funding.rate, "funding rate"):
        return Evaluation.unavailable(error)
    pct = funding.percent_8h
    score = funding_score(pct)
    detail = (
        f"funding {pct:.4f}% per 8h ({funding.rate * 100:.4f}% per {funding.interval_hours:g}h interval)"
        f" → contrarian {score:g}"
    )
    return Evaluation(score=score, raw_value=pct, detail=detail)


def evaluate_liquidations(totals: LiquidationTotals) -> Evaluation:
    share = totals.long_share_pct
    window = _hours(totals.window)
    if share is None:
        return Evaluation.unavailable(f"no liquidations recorded in the last {window}")
    if error := _finite(share, "liquidation long share"):
        return Evaluation.unavailable(error)
    score = liquidations_score(share)
    total = totals.long_usd + totals.short_usd
    detail = (
        f"liquidations {window}: longs {share:.1f}% of ${total:,.0f} liquidated"
        f" (longs ${totals.long_usd:,.0f}, shorts ${totals.short_usd:,.0f}) → contrarian {score:g}"
    )
    return Evaluation(score=score, raw_value=share, detail=detail)


def evaluate_long_short(point: LongShortPoint) -> Evaluation:
    if error := _finite(point.long_pct, "long account share"):
        return Evaluation.unavailable(error)
    score = long_short_score(point.long_pct)
    detail = (
        f"accounts {point.long_pct:.1f}% long (long/short ratio {point.long_short_ratio:.2f}) → contrarian {score:g}"
    )
    return Evaluation(score=score, raw_value=point.long_pct, detail=detail)


def evaluate_smart_money(point: LongShortPoint) -> Evaluation:
    if error := _finite(point.long_pct, "top trader long share"):
        return Evaluation.unavailable(error)
    score = smart_money_score(point.long_pct)
    detail = (
        f"top traders {point.long_pct:.1f}% long by position (ratio {point.long_short_ratio:.2f}) → follow {score:g}"
    )
    return Evaluation(score=score, raw_value=point.long_pct, detail=detail)


def oi_change_24h(series: Sequence[OpenInterestPoint]) -> tuple[float, OpenInterestPoint, OpenInterestPoint]:
    """24 h change % of open interest in the series' unit (coins, or USD where the source gives only notional):
    last point vs the last point at or before ``last - 24h``.

    Raises ``ValueError`` when the oldest-first series does not reach back 24 h or the base is not
    positive, so the factor reports "missing" instead of a silent neutral score.
    """
    if not series:
        raise ValueError("open interest history is empty")
    last = series[-1]
    cutoff = last.time - OI_LOOKBACK
    base = next((p for p in reversed(series) if p.time <= cutoff), None)
    if base is None:
        covered = _hours(last.time - series[0].time)
        raise ValueError(f"open interest history too short: covers {covered}, needs {_hours(OI_LOOKBACK)}")
    if base.unit != last.unit:
        raise ValueError(f"open interest series mixes units ({base.unit} 24h ago, {last.unit} now)")
    if not (base.open_interest > 0 and math.isfinite(base.open_interest)):
        raise ValueError(f"open interest 24h ago is not positive ({base.open_interest!r})")
    change = pct_change(base.open_interest, last.open_interest)
    if not math.isfinite(change):
        raise ValueError(f"open interest change is not a finite number ({change!r})")
    return change, base, last


def _oi_amount(point: OpenInterestPoint) -> str:
    """The amount in the unit the source measured (the point says which), never an assumed one."""
    if point.unit == "usd":
        return f"${point.open_interest:,.0f}"
    return f"{point.open_interest:,.2f} coins"


def evaluate_oi_trend(series: Sequence[OpenInterestPoint]) -> Evaluation:
    try:
        change, base, last = oi_change_24h(series)
    except ValueError as exc:
        return Evaluation.unavailable(str(exc))
    score = oi_trend_score(change)
    detail = (
        f"open interest {change:+.2f}% over {_hours(last.time - base.time)}"
        f" ({_oi_amount(base)} → {_oi_amount(last)}) → {score:g}"
    )
    return Evaluation(score=score, raw_value=change, detail=detail)


def evaluate_social(social: SocialSentiment) -> Evaluation:
    if error := _finite(social.score, "social score"):
        return Evaluation.unavailable(error)
    score = clamp(social.score)
    return Evaluation(score=score, raw_value=social.score, detail=f"social {social.kind} {social.score:g} → {score:g}")


def evaluate_fear_greed(index: FearGreed) -> Evaluation:
    if error := _finite(index.value, "fear & greed index"):
        return Evaluation.unavailable(error)
    score = clamp(index.value)
    detail = f"fear & greed {index.value:g} ({index.classification}) → {score:g}"
    return Evaluation(score=score, raw_value=index.value, detail=detail)
