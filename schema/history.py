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

from engine.judge import DecidedBy, VerdictKind
from engine.market import Timeframe
from engine.modes import Mode, Recommendation
from engine.outcomes import ExitFirst, Verdict
from engine.plan import RiskMode
from engine.quality import InputName
from engine.weights import FactorName
from resolvers.context import RequestContext  # noqa: TC001
from resolvers.history import (
    MAX_PAGE_SIZE,
    MAX_RECENT,
    HistoryUnavailableError,
    InvalidArgument,
    cursor_of,
    encode_cursor,
    signal_history,
    signal_performance,
    symbol_insights,
)
from schema.enums import (
    FactorNameEnum,
    InputNameEnum,
    ModeEnum,
    RecommendationEnum,
    TimeframeEnum,
    VerdictEnum,
    described,
)
from schema.errors import InvalidInput, Problem, invalid_input
from schema.judge import DecidedByEnum, ExitFirstEnum, JudgeVerdictEnum, RiskModeEnum, TradePlan

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


HorizonEnum = described(
    Horizon,
    "OutcomeHorizon",
    "How long after a signal it is judged.",
    {Horizon.H1: "1 hour after generatedAt.", Horizon.H4: "4 hours after.", Horizon.H24: "24 hours after."},
)


@strawberry.type(description="A 95 % interval.")
class ConfidenceInterval:
    low: float = strawberry.field(description="Lower bound, in the unit of the value it bounds.")
    high: float = strawberry.field(description="Upper bound, in the unit of the value it bounds.")

    @classmethod
    def of(cls, interval: Interval | None, scale: float = 1.0) -> ConfidenceInterval | None:
        """``scale`` 100 turns an interval of a fraction into one of its percent."""
        return None if interval is None else cls(low=interval.low * scale, high=interval.high * scale)


@strawberry.type(description="A factor as it was when the signal was stored.")
class StoredFactor:
    name: FactorNameEnum = strawberry.field(description="Which factor.")  # type: ignore[valid-type]
    score: float | None = strawberry.field(description="0..100 (50 is neutral); null when unavailable.")
    weight: float = strawberry.field(description="Nominal weight in percent.")
    effective_weight: float = strawberry.field(description="Weight in percent after renormalizing; 0 if unavailable.")
    contribution: float = strawberry.field(description="Its part of the signal's score, in score points.")
    source: str | None = strawberry.field(description="The upstream that answered; null when unavailable.")


@strawberry.type(description="Which upstream answered for one input when the signal was stored.")
class StoredSource:
    input: InputNameEnum = strawberry.field(description="The market input.")  # type: ignore[valid-type]
    source: str | None = strawberry.field(description="The upstream that answered (venue.endpoint); null if none.")
    ok: bool = strawberry.field(description="Whether a usable value was read.")
    error: str | None = strawberry.field(description="Why the input was unusable; null when ok.")


@strawberry.type(description="What the market did over one horizon after a signal.")
class SignalOutcome:
    horizon_hours: int = strawberry.field(description="Hours after the signal: 1, 4 or 24.")
    return_pct: float = strawberry.field(description="Percent, in the signal's direction (positive = right).")
    exit_price: float = strawberry.field(description="Price in USDT at the horizon.")
    max_favourable_pct: float = strawberry.field(
        description="Best move in the signal's direction within the horizon, in percent."
    )
    max_adverse_pct: float = strawberry.field(
        description="Worst move against the signal within the horizon, in percent."
    )
    verdict: VerdictEnum = strawberry.field(description="WIN, LOSS or FLAT by returnPct.")  # type: ignore[valid-type]
    price_source: str = strawberry.field(description="Venue and candle interval the prices came from.")
    evaluated_at: datetime = strawberry.field(description="When the outcome was computed (UTC, ISO-8601).")
    exit_first: ExitFirstEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="Which leg of the stored trade plan was reached first; null when stored without a plan."
    )


@strawberry.type(description="A stored LONG or SHORT signal and its outcomes so far.")
class HistorySignal:
    id: strawberry.ID = strawberry.field(
        description="Stable cache key: the stored row's UUID (never reused; also the row's key in exports)."
    )
    symbol: str = strawberry.field(description="The USDT perpetual, canonical spelling (BTCUSDT).")
    recommendation: RecommendationEnum = strawberry.field(description="LONG or SHORT (NEUTRAL is not stored).")  # type: ignore[valid-type]
    score: float = strawberry.field(description="0..100 score when it was stored; 50 is neutral.")
    confidence: float = strawberry.field(description="0..100 confidence when it was stored.")
    mode: ModeEnum = strawberry.field(description="The threshold set of the call.")  # type: ignore[valid-type]
    timeframe: TimeframeEnum = strawberry.field(description="The candle interval of the call.")  # type: ignore[valid-type]
    price: float = strawberry.field(description="Price in USDT when the signal was computed (the entry).")
    generated_at: datetime = strawberry.field(description="When the signal was computed (UTC, ISO-8601).")
    data_quality_score: float = strawberry.field(description="Percent (0..100) of the weighted inputs usable.")
    missing: list[str] = strawberry.field(description="Every unusable input with the reason.")
    factors: list[StoredFactor] = strawberry.field(description="The eight factors as they were.")
    sources: list[StoredSource] = strawberry.field(description="Which upstream answered for each input.")
    outcomes: list[SignalOutcome] = strawberry.field(description="Outcomes known so far, shortest horizon first.")
    verdict: JudgeVerdictEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="The verdict the signal was answered with; null when stored before verdicts were tracked."
    )
    risk_mode: RiskModeEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="The verdict's risk mode; null when not judged."
    )
    decided_by: DecidedByEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="AI or RULES; null when not judged."
    )
    fallback_reason: str | None = strawberry.field(description="Why the AI did not decide, when it did not.")
    rules_verdict: JudgeVerdictEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="The rules' verdict on the same signal (equal to verdict when the rules decided)."
    )
    plan: TradePlan | None = strawberry.field(description="The ATR trade plan stored with the signal.")

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
                    name=FactorName(f["name"]),
                    score=f.get("score"),
                    weight=float(f.get("weight", 0.0)),
                    effective_weight=float(f.get("effective_weight", 0.0)),
                    contribution=float(f.get("contribution", 0.0)),
                    source=f.get("source"),
                )
                for f in row.factors
            ],
            sources=[
                StoredSource(
                    input=InputName(s["input"]), source=s.get("source"), ok=bool(s.get("ok")), error=s.get("error")
                )
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
                    exit_first=ExitFirst(o.exit_first) if o.exit_first else None,
                )
                for o in stored.outcomes
            ],
            verdict=VerdictKind(row.verdict) if row.verdict else None,
            risk_mode=RiskMode(row.risk_mode) if row.risk_mode else None,
            decided_by=DecidedBy(row.decided_by) if row.decided_by else None,
            fallback_reason=row.fallback_reason,
            rules_verdict=VerdictKind(row.rules_verdict) if row.rules_verdict else None,
            plan=TradePlan.from_json(row.plan) if row.plan else None,
        )


@strawberry.type(description="One stored signal and its cursor.")
class SignalHistoryEdge:
    cursor: str = strawberry.field(description="Opaque position of this row; pass as `after` to continue here.")
    node: HistorySignal = strawberry.field(description="The stored signal.")


@strawberry.type(description="Where this page ends.")
class HistoryPageInfo:
    has_next_page: bool = strawberry.field(description="Whether older rows follow.")
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next page.")


@strawberry.type(
    description="Stored signals, newest first, paged by keyset cursors (stable while rows arrive). No "
    "totalCount: counting every row of a filter costs a scan of the table on each page, unlike the page "
    "itself; signalPerformance gives counts of evaluated signals."
)
class SignalHistoryConnection:
    edges: list[SignalHistoryEdge] = strawberry.field(description="This page's rows, newest first.")
    page_info: HistoryPageInfo = strawberry.field(description="Whether more rows follow, and the cursor to them.")

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
    key: str = strawberry.field(description="ALL, a recommendation (LONG, SHORT) or a mode (CONSERVATIVE ...).")
    count: int = strawberry.field(description="Signals with an outcome at this horizon.")
    wins: int = strawberry.field(description="Outcomes with verdict WIN.")
    losses: int = strawberry.field(description="Outcomes with verdict LOSS.")
    flats: int = strawberry.field(description="Outcomes with verdict FLAT (not wins).")
    win_rate_pct: float | None = strawberry.field(
        description="wins / count in percent (0..100); null with no evaluated signal."
    )
    win_rate_pct_ci95: ConfidenceInterval | None = strawberry.field(
        description="Wilson 95 % interval of winRatePct, in percent."
    )
    mean_return_pct: float | None = strawberry.field(description="Mean return in percent, in the signal's direction.")
    median_return_pct: float | None = strawberry.field(
        description="Median return in percent, in the signal's direction."
    )
    mean_return_pct_ci95: ConfidenceInterval | None = strawberry.field(
        description="95 % interval of meanReturnPct, in percent (normal approximation; n ≥ 2)."
    )
    take_profit_first: int = strawberry.field(
        description="Outcomes whose stored trade plan reached its take-profit before its stop within the horizon."
    )
    stop_first: int = strawberry.field(
        description="Outcomes whose stored trade plan reached its stop before its take-profit within the horizon."
    )

    @classmethod
    def of(cls, g: GroupPerformance) -> PerformanceGroup:
        s = g.summary
        return cls(
            key=g.key,
            count=s.count,
            wins=s.wins,
            losses=g.losses,
            flats=g.flats,
            win_rate_pct=s.win_rate * 100.0 if s.win_rate is not None else None,
            win_rate_pct_ci95=ConfidenceInterval.of(s.win_rate_ci95, 100.0),
            mean_return_pct=s.mean_return_pct,
            median_return_pct=s.median_return_pct,
            mean_return_pct_ci95=ConfidenceInterval.of(s.mean_return_ci95),
            take_profit_first=g.take_profit_first,
            stop_first=g.stop_first,
        )


@strawberry.type(description="How stored signals fared at one horizon, overall, by recommendation and by mode.")
class SignalPerformance:
    horizon_hours: int = strawberry.field(description="The horizon judged: 1, 4 or 24 hours.")
    pending: int = strawberry.field(description="Signals in the filter with no outcome at this horizon yet.")
    overall: PerformanceGroup = strawberry.field(description="Every evaluated signal in the filter (key ALL).")
    by_recommendation: list[PerformanceGroup] = strawberry.field(description="One group per LONG and SHORT.")
    by_mode: list[PerformanceGroup] = strawberry.field(description="One group per mode that has signals.")
    by_verdict: list[PerformanceGroup] = strawberry.field(
        description="One group per verdict answered with the signal (CONFIRM, DOWNSIZE, SKIP, WAIT): did CONFIRM "
        "beat SKIP? Signals stored before verdicts were tracked are in none."
    )
    by_judge: list[PerformanceGroup] = strawberry.field(
        description="One group per judge that decided (AI, RULES): does the AI add anything over the rules?"
    )
    by_rules_verdict: list[PerformanceGroup] = strawberry.field(
        description="One group per verdict of the rules on the same signals, including those the AI decided: "
        "compare with byVerdict to see what the AI changed."
    )

    @classmethod
    def of(cls, r: PerformanceReport) -> SignalPerformance:
        return cls(
            horizon_hours=r.horizon_hours,
            pending=r.pending,
            overall=PerformanceGroup.of(r.overall),
            by_recommendation=[PerformanceGroup.of(g) for g in r.by_recommendation],
            by_mode=[PerformanceGroup.of(g) for g in r.by_mode],
            by_verdict=[PerformanceGroup.of(g) for g in r.by_verdict],
            by_judge=[PerformanceGroup.of(g) for g in r.by_judge],
            by_rules_verdict=[PerformanceGroup.of(g) for g in r.by_rules_verdict],
        )


@strawberry.type(
    description=(
        "How often a factor pointed the way the market went: it agreed when its score was on the signal's "
        "side of 50 and the outcome was a WIN, or on the other side and it was a LOSS. Scores of exactly 50 "
        "or unavailable factors abstain; FLAT outcomes are counted apart. ratePct = agreed / (agreed + "
        "disagreed), in percent."
    )
)
class FactorAgreement:
    factor: FactorNameEnum = strawberry.field(description="Which factor.")  # type: ignore[valid-type]
    agreed: int = strawberry.field(description="Signals where it pointed the way the market went.")
    disagreed: int = strawberry.field(description="Signals where it pointed the other way.")
    flat: int = strawberry.field(description="Signals whose outcome was FLAT.")
    abstained: int = strawberry.field(description="Signals where it scored exactly 50 or was unavailable.")
    rate_pct: float | None = strawberry.field(
        description="agreed / (agreed + disagreed) in percent (0..100); null when both are 0."
    )
    rate_pct_ci95: ConfidenceInterval | None = strawberry.field(
        description="Wilson 95 % interval of ratePct, in percent."
    )

    @classmethod
    def of(cls, a: EngineFactorAgreement) -> FactorAgreement:
        return cls(
            factor=FactorName(a.factor),
            agreed=a.agreed,
            disagreed=a.disagreed,
            flat=a.flat,
            abstained=a.abstained,
            rate_pct=a.rate * 100.0 if a.rate is not None else None,
            rate_pct_ci95=ConfidenceInterval.of(a.rate_ci95, 100.0),
        )


@strawberry.type(description="One symbol's recent stored signals, their performance and each factor's record.")
class SymbolInsights:
    id: strawberry.ID = strawberry.field(description="Stable cache key: SYMBOL:horizon hours (BTCUSDT:24).")
    symbol: str = strawberry.field(description="The USDT perpetual, canonical spelling (BTCUSDT).")
    horizon_hours: int = strawberry.field(description="The horizon judged: 1, 4 or 24 hours.")
    recent: list[HistorySignal] = strawberry.field(description="The newest stored signals, newest first.")
    performance: SignalPerformance = strawberry.field(description="How this symbol's signals fared.")
    factor_agreement: list[FactorAgreement] = strawberry.field(description="Each factor's record, one per factor.")

    @classmethod
    def of(cls, i: Insights) -> SymbolInsights:
        return cls(
            id=strawberry.ID(f"{i.symbol}:{i.horizon_hours}"),
            symbol=i.symbol,
            horizon_hours=i.horizon_hours,
            recent=[HistorySignal.of(s) for s in i.recent],
            performance=SignalPerformance.of(i.performance),
            factor_agreement=[FactorAgreement.of(a) for a in i.factors],
        )


SignalHistoryResult = Annotated[
    SignalHistoryConnection | InvalidInput | HistoryUnavailable,
    strawberry.union("SignalHistoryResult", description="A page of stored signals, or why there is none."),
]
SignalPerformanceResult = Annotated[
    SignalPerformance | InvalidInput | HistoryUnavailable,
    strawberry.union("SignalPerformanceResult", description="Performance figures, or why there are none."),
]
SymbolInsightsResult = Annotated[
    SymbolInsights | InvalidInput | HistoryUnavailable,
    strawberry.union("SymbolInsightsResult", description="A symbol's insights, or why there are none."),
]

From = Annotated[
    datetime | None,
    strawberry.argument(
        name="from", description="Earliest generatedAt, inclusive (ISO-8601 with offset: 2026-11-30T00:00:00Z)."
    ),
]
To = Annotated[
    datetime | None, strawberry.argument(description="Latest generatedAt, exclusive (ISO-8601 with offset).")
]
OptionalSymbol = Annotated[
    str | None, strawberry.argument(description="Only this USDT perpetual (BTC, BTCUSDT ...); null: every symbol.")
]
HorizonArg = Annotated[
    HorizonEnum,  # type: ignore[valid-type]
    strawberry.argument(description="Which outcome to judge by: H1, H4 or H24 (default)."),
]


@strawberry.type
class HistoryQuery:
    @strawberry.field(description="Stored LONG/SHORT signals, newest first; page with `first` and `after`.")
    async def signal_history(
        self,
        info: Info[RequestContext, None],
        symbol: OptionalSymbol = None,
        recommendation: Annotated[
            RecommendationEnum | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only LONG or only SHORT; null: both."),
        ] = None,
        from_: From = None,
        to: To = None,
        first: Annotated[int, strawberry.argument(description=f"Page size: 1..{MAX_PAGE_SIZE}.")] = 20,
        after: Annotated[
            str | None,
            strawberry.argument(description="The previous page's pageInfo.endCursor; null for the first page."),
        ] = None,
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
        symbol: OptionalSymbol = None,
        mode: Annotated[
            ModeEnum | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only signals of this mode; null: every mode."),
        ] = None,
        from_: From = None,
        to: To = None,
        horizon: HorizonArg = Horizon.H24,
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
        symbol: Annotated[str, strawberry.argument(description="The USDT perpetual: BTC, BTCUSDT, BTC-USDT ...")],
        horizon: HorizonArg = Horizon.H24,
        recent: Annotated[
            int, strawberry.argument(description=f"How many recent stored signals to list: 0..{MAX_RECENT}.")
        ] = 10,
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
