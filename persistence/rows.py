"""The stored shapes of a signal and its outcomes, and their JSON forms (table columns and spool lines)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from engine.modes import Recommendation

if TYPE_CHECKING:
    from collections.abc import Mapping

    from engine import DataQuality, FactorScore, Signal
    from engine.judge import Judgement

STORED_RECOMMENDATIONS = frozenset({Recommendation.LONG, Recommendation.SHORT})


def _factor_json(f: FactorScore) -> dict[str, Any]:
    return {
        "name": f.name.value,
        "score": f.score,
        "weight": f.weight,
        "effective_weight": f.effective_weight,
        "contribution": f.contribution,
        "available": f.available,
        "source": f.source,
        "raw_value": f.raw_value,
        "detail": f.detail,
        "error": f.error,
        "failed_sources": list(f.failed_sources),
    }


def _quality_json(q: DataQuality) -> dict[str, Any]:
    return {
        "score": q.score,
        "tiers": [{"tier": t.tier.value, "available": t.available, "expected": t.expected} for t in q.tiers],
        "missing": list(q.missing),
        "other_failures": list(q.other_failures),
    }


def _sources_json(q: DataQuality) -> list[dict[str, Any]]:
    return [
        {
            "input": s.input.value,
            "tier": s.tier.value,
            "source": s.source,
            "ok": s.ok,
            "error": s.error,
            "failed": list(s.failed),
        }
        for s in q.sources
    ]


JUDGEMENT_COLUMNS = ("verdict", "risk_mode", "decided_by", "fallback_reason", "rules_verdict", "plan")


def _judgement_columns(judgement: Judgement | None) -> dict[str, Any]:
    if judgement is None:
        return {}
    v = judgement.verdict
    return {
        "verdict": v.verdict.value,
        "risk_mode": v.risk_mode.value,
        "decided_by": v.decided_by.value,
        "fallback_reason": v.fallback_reason,
        "rules_verdict": judgement.rules.verdict.value,
        "plan": judgement.plan.to_json() if judgement.plan is not None else None,
    }


@dataclass(frozen=True, slots=True)
class SignalRow:
    """One ``signals`` row. ``id`` is made when the signal is recorded, so replays are idempotent."""

    id: UUID
    symbol: str
    recommendation: str  # LONG or SHORT
    score: float
    confidence: float
    mode: str
    timeframe: str
    price: float
    generated_at: datetime
    factors: list[dict[str, Any]]
    data_quality: dict[str, Any]
    sources: list[dict[str, Any]]
    data_quality_score: float
    # the judgement it was answered with (migration 0006); None: stored without one (older rows)
    verdict: str | None = None
    risk_mode: str | None = None
    decided_by: str | None = None  # AI or RULES
    fallback_reason: str | None = None
    rules_verdict: str | None = None
    plan: dict[str, Any] | None = None

    @classmethod
    def from_signal(cls, signal: Signal, row_id: UUID, judgement: Judgement | None = None) -> SignalRow:
        if signal.recommendation not in STORED_RECOMMENDATIONS:
            raise ValueError(f"only LONG and SHORT signals are stored, not {signal.recommendation.value}")
        return cls(
            id=row_id,
            symbol=signal.symbol,
            recommendation=signal.recommendation.value,
            score=signal.score,
            confidence=signal.confidence,
            mode=signal.mode.value,
            timeframe=signal.timeframe.value,
            price=signal.price,
            generated_at=signal.generated_at,
            factors=[_factor_json(f) for f in signal.factors],
            data_quality=_quality_json(signal.data_quality),
            sources=_sources_json(signal.data_quality),
            data_quality_score=signal.data_quality.score,
            **_judgement_columns(judgement),
        )

    @property
    def dedup_key(self) -> str:
        """What makes two signals "the same signal" for deduplication (besides time and score)."""
        return f"{self.symbol}|{self.recommendation}|{self.mode}|{self.timeframe}"

    def to_json(self) -> dict[str, Any]:
        """The spool line (and the export line, without outcomes)."""
        return {
            "id": str(self.id),
            "symbol": self.symbol,
            "recommendation": self.recommendation,
            "score": self.score,
            "confidence": self.confidence,
            "mode": self.mode,
            "timeframe": self.timeframe,
            "price": self.price,
            "generated_at": self.generated_at.isoformat(),
            "factors": self.factors,
            "data_quality": self.data_quality,
            "sources": self.sources,
            "data_quality_score": self.data_quality_score,
            **{name: getattr(self, name) for name in JUDGEMENT_COLUMNS},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SignalRow:
        generated_at = datetime.fromisoformat(data["generated_at"])
        if generated_at.tzinfo is None:
            raise ValueError("generated_at must carry a time zone")
        return cls(
            id=UUID(data["id"]),
            symbol=str(data["symbol"]),
            recommendation=str(data["recommendation"]),
            score=float(data["score"]),
            confidence=float(data["confidence"]),
            mode=str(data["mode"]),
            timeframe=str(data["timeframe"]),
            price=float(data["price"]),
            generated_at=generated_at,
            factors=list(data["factors"]),
            data_quality=dict(data["data_quality"]),
            sources=list(data["sources"]),
            data_quality_score=float(data["data_quality_score"]),
            **{name: data.get(name) for name in JUDGEMENT_COLUMNS},  # spool lines from before 0006 lack them
        )

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> SignalRow:
        return cls(
            id=record["id"],
            symbol=record["symbol"],
            recommendation=record["recommendation"],
            score=record["score"],
            confidence=record["confidence"],
            mode=record["mode"],
            timeframe=record["timeframe"],
            price=record["price"],
            generated_at=record["generated_at"],
            factors=record["factors"],
            data_quality=record["data_quality"],
            sources=record["sources"],
            data_quality_score=record["data_quality_score"],
            **{name: record.get(name) for name in JUDGEMENT_COLUMNS},
        )


@dataclass(frozen=True, slots=True)
class StoredOutcome:
    horizon_hours: int
    return_pct: float
    exit_price: float
    max_favourable_pct: float
    max_adverse_pct: float
    verdict: str  # WIN, LOSS or FLAT
    price_source: str
    evaluated_at: datetime
    exit_first: str | None = None  # TAKE_PROFIT, STOP, NEITHER, SAME_BAR; None without a plan (migration 0006)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoredOutcome:
        return cls(
            horizon_hours=int(data["horizon_hours"]),
            return_pct=float(data["return_pct"]),
            exit_price=float(data["exit_price"]),
            max_favourable_pct=float(data["max_favourable_pct"]),
            max_adverse_pct=float(data["max_adverse_pct"]),
            verdict=str(data["verdict"]),
            price_source=str(data["price_source"]),
            evaluated_at=datetime.fromisoformat(data["evaluated_at"]),
            exit_first=data.get("exit_first"),
        )


@dataclass(frozen=True, slots=True)
class StoredSignal:
    row: SignalRow
    outcomes: tuple[StoredOutcome, ...]

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> StoredSignal:
        return cls(
            row=SignalRow.from_record(record),
            outcomes=tuple(StoredOutcome.from_json(o) for o in record["outcomes"]),
        )
