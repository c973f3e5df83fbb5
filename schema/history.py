"""The signal-history area: ``signalHistory``, ``signalPerformance``, ``symbolInsights``.

Only LONG and SHORT signals are stored. Outcomes follow engine/outcomes.py (WIN above +0.1 % in the
signal's direction, LOSS below -0.1 %, else FLAT) at 1 h, 4 h and 24 h. Win rates come with a Wilson
95 % interval. When history is disabled or its database is down every field answers
``HistoryUnavailable`` (code ``HISTORY_UNAVAILABLE``), never an error.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info  # noqa: TC002 - strawberry reads annotations at runtime

from engine.market import Timeframe
from engine.modes import Mode, Recommendation
from engine.outcomes import Verdict
from resolvers.context import RequestContext  # noqa: TC001
from resolvers.history import (
    HistoryUnavailableError,
    InvalidArgument,
    cursor_of,
    encode_cursor,
    signal_history,
    signal_performance,
    symbol_insights,
)
from schema.errors import InvalidInput, Problem, invalid_input
from schema.types import ModeEnum, RecommendationEnum, TimeframeEnum

if TYPE_CHECKING:
    from engine.stats import Interval
    from resolvers.history import FactorAgreement as EngineFactorAgreement
    from resolvers.history import GroupPerformance, Insights, Page, PerformanceReport, StoredSignal


@strawberry.type(description="Signal history is disabled on this server, or its database is not answering.")
class HistoryUnavailable(Problem):
    pass


def history_unavailable(message: str) -> HistoryUnavailable:
    return HistoryUnavailable(code="HISTORY_UNAVAILABLE", message=message)


class Horizon(enum.Enum):
    H1 = 1
    H4 = 4
    H24 = 24


HorizonEnum = strawberry.enum(Horizon, name="OutcomeHorizon", description="How long after a signal it is judged.")
VerdictEnum = strawberry.enum(
    Verdict, name="Verdict", description="WIN above +0.1 % in the signal's direction, LOSS below -0.1 %, else FLAT."
)


@strawberry.type(description="A 95 % interval.")
class ConfidenceInterval:
    low: float
    high: float

    @classmethod
    def of(cls, interval: Interval | None) -> ConfidenceInterval | None:
        return None if interval is None else cls(low=interval.low, high=interval.high)


@strawberry.type(description="A factor as it was when the signal was stored.")
class StoredFactor:
    name: str
    score: float | None = strawberry.field(description="0..100 (50 is neutral); null when unavailable.")
    weight: float
    effective_weight: float
    contribution: float
    source: str | None


@strawberry.type(description="Which upstream answered for one input when the signal was stored.")
class StoredSource:
    input: str
    source: str | None
    ok: bool
    error: str | None


@strawberry.type(description="What the market did over one horizon after a signal.")
class SignalOutcome:
    horizon_hours: int
    return_pct: float = strawberry.field(description="Percent, in the signal's direction (positive = right).")
    exit_price: float
    max_favourable_pct: float
    max_adverse_pct: float
    verdict: VerdictEnum  # type: ignore[valid-type]
    price_source: str = strawberry.field(description="Venue and candle interval the prices came from.")
    evaluated_at: datetime


@strawberry.type(description="A stored LONG or SHORT signal and its outcomes so far.")
class HistorySignal:
    id: strawberry.ID
    symbol: str
    recommendation: RecommendationEnum  # type: ignore[valid-type]
    score: float
    confidence: float
    mode: ModeEnum  # type: ignore[valid-type]
    timeframe: TimeframeEnum  # type: ignore[valid-type]
    price: float
    generated_at: datetime
    data_quality_score: float
    missing: list[str]
    factors: list[StoredFactor]
    sources: list[StoredSource]
    outcomes: list[SignalOutcome]

    @classmethod
    def of(cls, stored: StoredSignal) -> HistorySignal:
        row = stored.row
        return cls(
            id=strawberry.ID(str(row.id)),
            symbol=row.symbol,
            recommendation=Recommendation(row.recommendation),
            score=row.score,
            confidence=row.confidence,
            mode=Mode(row.mode),
            timeframe=Timeframe(row.timeframe),
            price=row.price,
            generated_at=row.generated_at,
            data_quality_score=row.data_quality_score,
            missing=[str(m) for m in row.data_quality.get("missing", [])],
            factors=[
                StoredFactor(
                    name=str(f["name"]),
                    score=f.get("score"),
                    weight=float(f.get("weight", 0.0)),
                    effective_weight=float(f.get("effective_weight", 0.0)),
                    contribution=float(f.get("contribution", 0.0)),
                    source=f.get("source"),
                )
                for f in row.factors
            ],
            sources=[
                StoredSource(input=str(s["input"]), source=s.get("source"), ok=bool(s.get("ok")), error=s.get("error"))
                for s in row.sources
            ],
            outcomes=[
                SignalOutcome(
                    horizon_hours=o.horizon_hours,
                    return_pct=o.return_pct,
                    exit_price=o.exit_price,
                    max_favourable_pct=o.max_favourable_pct,
                    max_adverse_pct=o.max_adverse_pct,
                    verdict=Verdict(o.verdict),
                    price_source=o.price_source,
                    evaluated_at=o.evaluated_at,
                )
                for o in stored.outcomes
            ],
        )


@strawberry.type
class SignalHistoryEdge:
    cursor: str
    node: HistorySignal


@strawberry.type
class HistoryPageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next page.")


@strawberry.type(description="Stored signals, newest first, paged by keyset cursors (stable while rows arrive).")
class SignalHistoryConnection:
    edges: list[SignalHistoryEdge]
    page_info: HistoryPageInfo

    @classmethod
    def of(cls, page: Page) -> SignalHistoryConnection:
        edges = [SignalHistoryEdge(cursor=cursor_of(s), node=HistorySignal.of(s)) for s in page.items]
        end = page.end
        return cls(
            edges=edges,
            page_info=HistoryPageInfo(
                has_next_page=page.has_next_page, end_cursor=encode_cursor(end) if end is not None else None
            ),
        )


@strawberry.type(description="Evaluated signals of one group. FLAT counts as not a win.")
class PerformanceGroup:
    key: str = strawberry.field(description="ALL, a recommendation (LONG, SHORT) or a mode.")
    count: int
    wins: int
    losses: int
    flats: int
    win_rate: float | None = strawberry.field(description="wins / count, 0..1; null with no evaluated signal.")
    win_rate_ci95: ConfidenceInterval | None = strawberry.field(description="Wilson score interval.")
    mean_return_pct: float | None
    median_return_pct: float | None
    mean_return_ci95: ConfidenceInterval | None = strawberry.field(description="Normal approximation; n ≥ 2.")

    @classmethod
    def of(cls, g: GroupPerformance) -> PerformanceGroup:
        s = g.summary
        return cls(
            key=g.key,
            count=s.count,
            wins=s.wins,
            losses=g.losses,
            flats=g.flats,
            win_rate=s.win_rate,
            win_rate_ci95=ConfidenceInterval.of(s.win_rate_ci95),
            mean_return_pct=s.mean_return_pct,
            median_return_pct=s.median_return_pct,
            mean_return_ci95=ConfidenceInterval.of(s.mean_return_ci95),
        )


@strawberry.type(description="How stored signals fared at one horizon, overall, by recommendation and by mode.")
class SignalPerformance:
    horizon_hours: int
    pending: int = strawberry.field(description="Signals in the filter with no outcome at this horizon yet.")
    overall: PerformanceGroup
    by_recommendation: list[PerformanceGroup]
    by_mode: list[PerformanceGroup]

    @classmethod
    def of(cls, r: PerformanceReport) -> SignalPerformance:
        return cls(
            horizon_hours=r.horizon_hours,
            pending=r.pending,
            overall=PerformanceGroup.of(r.overall),
            by_recommendation=[PerformanceGroup.of(g) for g in r.by_recommendation],
            by_mode=[PerformanceGroup.of(g) for g in r.by_mode],
        )


@strawberry.type(
    description=(
        "How often a factor pointed the way the market went: it agreed when its score was on the signal's "
        "side of 50 and the outcome was a WIN, or on the other side and it was a LOSS. Scores of exactly 50 "
        "or unavailable factors abstain; FLAT outcomes are counted apart. rate = agreed / (agreed + disagreed)."
    )
)
class FactorAgreement:
    factor: str
    agreed: int
    disagreed: int
    flat: int
    abstained: int
    rate: float | None
    rate_ci95: ConfidenceInterval | None

    @classmethod
    def of(cls, a: EngineFactorAgreement) -> FactorAgreement:
        return cls(
            factor=a.factor,
            agreed=a.agreed,
            disagreed=a.disagreed,
            flat=a.flat,
            abstained=a.abstained,
            rate=a.rate,
            rate_ci95=ConfidenceInterval.of(a.rate_ci95),
        )


@strawberry.type(description="One symbol's recent stored signals, their performance and each factor's record.")
class SymbolInsights:
    symbol: str
    horizon_hours: int
    recent: list[HistorySignal]
    performance: SignalPerformance
    factor_agreement: list[FactorAgreement]

    @classmethod
    def of(cls, i: Insights) -> SymbolInsights:
        return cls(
            symbol=i.symbol,
            horizon_hours=i.horizon_hours,
            recent=[HistorySignal.of(s) for s in i.recent],
            performance=SignalPerformance.of(i.performance),
            factor_agreement=[FactorAgreement.of(a) for a in i.factors],
        )


SignalHistoryResult = Annotated[
    SignalHistoryConnection | InvalidInput | HistoryUnavailable, strawberry.union("SignalHistoryResult")
]
SignalPerformanceResult = Annotated[
    SignalPerformance | InvalidInput | HistoryUnavailable, strawberry.union("SignalPerformanceResult")
]
SymbolInsightsResult = Annotated[
    SymbolInsights | InvalidInput | HistoryUnavailable, strawberry.union("SymbolInsightsResult")
]

From = Annotated[datetime | None, strawberry.argument(name="from", description="Inclusive, by generatedAt.")]
To = Annotated[datetime | None, strawberry.argument(description="Exclusive, by generatedAt.")]


@strawberry.type
class HistoryQuery:
    @strawberry.field(description="Stored LONG/SHORT signals, newest first; page with `first` and `after`.")
    async def signal_history(
        self,
        info: Info[RequestContext, None],
        symbol: str | None = None,
        recommendation: RecommendationEnum | None = None,  # type: ignore[valid-type]
        from_: From = None,
        to: To = None,
        first: int = 20,
        after: str | None = None,
    ) -> SignalHistoryResult:
        try:
            page = await signal_history(
                info.context,
                symbol=symbol,
                recommendation=Recommendation(recommendation) if recommendation is not None else None,
                start=from_,
                end=to,
                first=first,
                after=after,
            )
        except InvalidArgument as exc:
            return invalid_input(exc.field, exc.message)
        except HistoryUnavailableError as exc:
            return history_unavailable(str(exc))
        return SignalHistoryConnection.of(page)

    @strawberry.field(description="Count, win rate (Wilson 95 %), mean and median return of evaluated signals.")
    async def signal_performance(
        self,
        info: Info[RequestContext, None],
        symbol: str | None = None,
        mode: ModeEnum | None = None,  # type: ignore[valid-type]
        from_: From = None,
        to: To = None,
        horizon: HorizonEnum = Horizon.H24,  # type: ignore[valid-type]
    ) -> SignalPerformanceResult:
        try:
            report = await signal_performance(
                info.context,
                symbol=symbol,
                mode=Mode(mode) if mode is not None else None,
                start=from_,
                end=to,
                horizon_hours=Horizon(horizon).value,
            )
        except InvalidArgument as exc:
            return invalid_input(exc.field, exc.message)
        except HistoryUnavailableError as exc:
            return history_unavailable(str(exc))
        return SignalPerformance.of(report)

    @strawberry.field(description="Recent signals, performance and factor agreement for one symbol.")
    async def symbol_insights(
        self,
        info: Info[RequestContext, None],
        symbol: str,
        horizon: HorizonEnum = Horizon.H24,  # type: ignore[valid-type]
        recent: int = 10,
    ) -> SymbolInsightsResult:
        try:
            insights = await symbol_insights(
                info.context, symbol=symbol, horizon_hours=Horizon(horizon).value, recent=recent
            )
        except InvalidArgument as exc:
            return invalid_input(exc.field, exc.message)
        except HistoryUnavailableError as exc:
            return history_unavailable(str(exc))
        return SymbolInsights.of(insights)
