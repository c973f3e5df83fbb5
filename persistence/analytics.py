"""Performance and factor agreement over evaluated signals: pure functions over stored rows.

The statistics are :func:`engine.stats.summarize` (win rate with a Wilson 95 % interval, mean and
median return), the same code the backtest reports with, so both speak the same numbers.

Factor agreement (per factor, over the signals of one symbol evaluated at one horizon):

* A factor *sides with* the signal when its score is on the signal's side of 50 (> 50 for a LONG,
  < 50 for a SHORT) and *opposes* it when it is on the other side. A score of exactly 50, or an
  unavailable factor, *abstains*.
* The factor *agreed with the outcome* when it sided with the signal and the verdict was WIN, or
  opposed it and the verdict was LOSS: it pointed the way the market went. It *disagreed* when it sided
  and the verdict was LOSS, or opposed and it was a WIN.
* A FLAT verdict says nothing about direction: those pairs are counted as ``flat``, not in the rate.
* ``rate = agreed / (agreed + disagreed)`` with a Wilson 95 % interval; ``None`` with no decisive pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.modes import Mode, Recommendation
from engine.outcomes import Verdict
from engine.stats import Interval, PerformanceSummary, summarize, wilson_interval
from engine.weights import FactorName

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from persistence.rows import StoredSignal

HORIZONS_HOURS = (1, 4, 24)


@dataclass(frozen=True, slots=True)
class EvaluatedRow:
    recommendation: str
    mode: str
    return_pct: float
    verdict: Verdict
    judge_verdict: str | None = None  # CONFIRM / DOWNSIZE / SKIP / WAIT answered (migration 0006); None: unjudged
    decided_by: str | None = None  # AI or RULES
    rules_verdict: str | None = None  # what the rules said, also when the AI decided
    exit_first: str | None = None  # TAKE_PROFIT / STOP / NEITHER / SAME_BAR; None without a plan

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> EvaluatedRow:
        return cls(
            record["recommendation"],
            record["mode"],
            record["return_pct"],
            Verdict(record["verdict"]),
            record.get("judge_verdict"),
            record.get("decided_by"),
            record.get("rules_verdict"),
            record.get("exit_first"),
        )


@dataclass(frozen=True, slots=True)
class GroupPerformance:
    key: str  # "ALL", a recommendation or a mode
    summary: PerformanceSummary
    losses: int
    flats: int
    take_profit_first: int = 0  # outcomes whose plan reached its take-profit before its stop
    stop_first: int = 0  # ... its stop before its take-profit


@dataclass(frozen=True, slots=True)
class PerformanceReport:
    horizon_hours: int
    overall: GroupPerformance
    by_recommendation: tuple[GroupPerformance, ...]  # LONG, SHORT
    by_mode: tuple[GroupPerformance, ...]  # every mode, in Mode order
    pending: int  # signals in the filter without an outcome at this horizon yet
    by_verdict: tuple[GroupPerformance, ...] = ()  # the verdict answered: CONFIRM, DOWNSIZE, SKIP, WAIT
    by_judge: tuple[GroupPerformance, ...] = ()  # who decided: AI, RULES
    by_rules_verdict: tuple[GroupPerformance, ...] = ()  # the rules' verdict on every judged row


def summarize_group(key: str, rows: Sequence[EvaluatedRow]) -> GroupPerformance:
    wins = sum(r.verdict is Verdict.WIN for r in rows)
    losses = sum(r.verdict is Verdict.LOSS for r in rows)
    return GroupPerformance(
        key=key,
        summary=summarize([r.return_pct for r in rows], wins),
        losses=losses,
        flats=len(rows) - wins - losses,
        take_profit_first=sum(r.exit_first == "TAKE_PROFIT" for r in rows),
        stop_first=sum(r.exit_first == "STOP" for r in rows),
    )


JUDGE_VERDICTS = ("CONFIRM", "DOWNSIZE", "SKIP", "WAIT")
JUDGES = ("AI", "RULES")


def performance_report(rows: Sequence[EvaluatedRow], horizon_hours: int, pending: int = 0) -> PerformanceReport:
    by_recommendation = tuple(
        summarize_group(rec.value, [r for r in rows if r.recommendation == rec.value])
        for rec in (Recommendation.LONG, Recommendation.SHORT)
    )
    by_mode = tuple(summarize_group(mode.value, [r for r in rows if r.mode == mode.value]) for mode in Mode)
    return PerformanceReport(
        horizon_hours=horizon_hours,
        overall=summarize_group("ALL", rows),
        by_recommendation=by_recommendation,
        by_mode=by_mode,
        pending=pending,
        by_verdict=tuple(summarize_group(v, [r for r in rows if r.judge_verdict == v]) for v in JUDGE_VERDICTS),
        by_judge=tuple(summarize_group(j, [r for r in rows if r.decided_by == j]) for j in JUDGES),
        by_rules_verdict=tuple(summarize_group(v, [r for r in rows if r.rules_verdict == v]) for v in JUDGE_VERDICTS),
    )


@dataclass(frozen=True, slots=True)
class FactorAgreement:
    factor: str
    agreed: int
    disagreed: int
    flat: int  # sided or opposed, but the verdict was FLAT
    abstained: int  # score exactly 50, or unavailable
    rate: float | None
    rate_ci95: Interval | None


def _side(score: float | None) -> int:
    if score is None or score == 50.0:
        return 0
    return 1 if score > 50.0 else -1


def factor_agreement(rows: Iterable[tuple[str, Sequence[Mapping[str, Any]], Verdict]]) -> tuple[FactorAgreement, ...]:
    """``rows`` are ``(recommendation, factors JSON, verdict)`` per evaluated signal; see the module doc."""
    counts: dict[str, list[int]] = {name.value: [0, 0, 0, 0] for name in FactorName}  # agreed, disagreed, flat, abst.
    for recommendation, factors, verdict in rows:
        direction = 1 if recommendation == Recommendation.LONG.value else -1
        for factor in factors:
            tally = counts.setdefault(str(factor["name"]), [0, 0, 0, 0])
            side = _side(factor.get("score"))
            if side == 0:
                tally[3] += 1
            elif verdict is Verdict.FLAT:
                tally[2] += 1
            elif (side == direction) == (verdict is Verdict.WIN):
                tally[0] += 1
            else:
                tally[1] += 1
    result = []
    for name, (agreed, disagreed, flat, abstained) in counts.items():
        decisive = agreed + disagreed
        result.append(
            FactorAgreement(
                factor=name,
                agreed=agreed,
                disagreed=disagreed,
                flat=flat,
                abstained=abstained,
                rate=agreed / decisive if decisive else None,
                rate_ci95=wilson_interval(agreed, decisive),
            )
        )
    return tuple(result)


@dataclass(frozen=True, slots=True)
class Insights:
    symbol: str
    horizon_hours: int
    recent: tuple[StoredSignal, ...]
    performance: PerformanceReport
    factors: tuple[FactorAgreement, ...]
