"""The ``backtest`` query: the engine replayed over recorded history, against its baselines, walked forward.

Attribute-only output types built from ``engine.backtest.BacktestReport``; the work happens in
``resolvers.backtest`` (the history directory, the worker processes and the cache live in
``Services.backtest``). No answer names a server path.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info  # noqa: TC002 - strawberry reads annotations at runtime

from engine import DEFAULT_MODE, Mode
from resolvers.backtest import DEFAULT_HORIZONS_HOURS, BacktestTimedOut, HistoryMissing, resolve_backtest
from resolvers.context import RequestContext  # noqa: TC001
from resolvers.problems import InvalidArgument
from schema.errors import InvalidInput, Problem, problem
from schema.types import ModeEnum

if TYPE_CHECKING:
    from engine.backtest import BacktestReport, Fold, PerformanceRow, ThresholdFit, WalkForward
    from engine.backtest import DataGap as EngineGap


@strawberry.type(description="The history files for a backtest are not on this server (or unreadable).")
class HistoryNotAvailable(Problem):
    missing: list[str] = strawberry.field(description="File names (or patterns) that were not found.")


@strawberry.type(
    description="The backtest did not finish within the server's wall-clock budget (BACKTEST_TIMEOUT_SECONDS), "
    "or every backtest worker stayed busy that long. Code BACKTEST_TIMEOUT; retrying later can succeed."
)
class BacktestTimeout(Problem):
    timeout_seconds: float


@strawberry.type(
    description="One strategy's trades in one direction over one horizon; ANY = LONG and SHORT together. "
    "Returns are percent in the signal's direction; intervals are 95 % (Wilson for the win rate)."
)
class BacktestRow:
    name: str = strawberry.field(description="engine, always_long, momentum_only, only_<factor>, engine_static_<mode>.")
    recommendation: str = strawberry.field(description="LONG, SHORT or ANY.")
    horizon_hours: float
    signals: int = strawberry.field(description="Bars with this recommendation, with or without a known outcome.")
    count: int = strawberry.field(description="Trades with a known outcome.")
    wins: int
    win_rate: float | None
    win_rate_low: float | None
    win_rate_high: float | None
    mean_return_pct: float | None
    mean_low: float | None
    mean_high: float | None
    median_return_pct: float | None

    @classmethod
    def of(cls, row: PerformanceRow) -> BacktestRow:
        s = row.summary
        return cls(
            name=row.strategy,
            recommendation=row.recommendation,
            horizon_hours=row.horizon_hours,
            signals=row.signals,
            count=s.count,
            wins=s.wins,
            win_rate=s.win_rate,
            win_rate_low=s.win_rate_ci95.low if s.win_rate_ci95 else None,
            win_rate_high=s.win_rate_ci95.high if s.win_rate_ci95 else None,
            mean_return_pct=s.mean_return_pct,
            mean_low=s.mean_return_ci95.low if s.mean_return_ci95 else None,
            mean_high=s.mean_return_ci95.high if s.mean_return_ci95 else None,
            median_return_pct=s.median_return_pct,
        )


@strawberry.type(description="Thresholds fitted on the training folds: SHORT ≤ 50 − d, LONG ≥ 50 + d.")
class FittedThreshold:
    name: str
    d: float
    short_max: float
    long_min: float
    objective: float | None = strawberry.field(description="Mean return % per trade on the training bars.")
    trades: int

    @classmethod
    def of(cls, fit: ThresholdFit) -> FittedThreshold:
        return cls(
            name=fit.strategy,
            d=fit.d,
            short_max=50.0 - fit.d,
            long_min=50.0 + fit.d,
            objective=fit.objective,
            trades=fit.trades,
        )


@strawberry.type(description="One walk-forward fold; fold 0 is only ever trained on.")
class BacktestFold:
    number: int
    start: datetime
    end: datetime
    bars: int
    train_bars: int
    purged: int = strawberry.field(description="Training bars dropped because their outcome reached this fold.")
    fits: list[FittedThreshold]

    @classmethod
    def of(cls, fold: Fold) -> BacktestFold:
        return cls(
            number=fold.number,
            start=fold.start,
            end=fold.end,
            bars=fold.bars,
            train_bars=fold.train_bars,
            purged=fold.purged,
            fits=[FittedThreshold.of(f) for f in fold.fits],
        )


@strawberry.type(description="Does the engine beat its baselines out of sample? Said plainly.")
class BacktestVerdict:
    beats_baselines: bool
    statement: str
    engine_mean_return_pct: float | None
    engine_mean_low: float | None
    best_baseline: str | None
    best_baseline_mean_return_pct: float | None


@strawberry.type(description="Out-of-sample results: the test folds concatenated.")
class WalkForwardResult:
    folds: list[BacktestFold]
    rows: list[BacktestRow]
    verdict: BacktestVerdict
    test_bars: int

    @classmethod
    def of(cls, wf: WalkForward) -> WalkForwardResult:
        v = wf.verdict
        return cls(
            folds=[BacktestFold.of(f) for f in wf.folds],
            rows=[BacktestRow.of(r) for r in wf.rows],
            verdict=BacktestVerdict(
                beats_baselines=v.beats_baselines,
                statement=v.statement,
                engine_mean_return_pct=v.engine_mean,
                engine_mean_low=v.engine_ci_low,
                best_baseline=v.best_baseline,
                best_baseline_mean_return_pct=v.best_baseline_mean,
            ),
            test_bars=wf.test_bars,
        )


@strawberry.type(description="A hole in a history series; bars that would read across it are skipped.")
class HistoryGap:
    series: str
    last_before: datetime
    first_after: datetime
    hours: float

    @classmethod
    def of(cls, gap: EngineGap) -> HistoryGap:
        return cls(
            series=gap.series,
            last_before=gap.last_before,
            first_after=gap.first_after,
            hours=gap.duration.total_seconds() / 3600,
        )


@strawberry.type
class RefusalCount:
    code: str
    bars: int


@strawberry.type(description="The engine replayed bar by bar with no look-ahead, against its baselines.")
class BacktestResult:
    symbol: str
    mode: ModeEnum  # type: ignore[valid-type]
    short_max: float
    long_min: float
    bar_hours: float
    horizons_hours: list[float]
    first_bar: datetime | None
    last_bar: datetime | None
    bars_in_range: int
    bars_scored: int
    skipped_warmup: int = strawberry.field(description="Bars without enough contiguous candles before them.")
    skipped_gap: int = strawberry.field(description="Of those, bars just after a data gap.")
    refusals: list[RefusalCount]
    gaps: list[HistoryGap]
    rows: list[BacktestRow] = strawberry.field(description="In sample: every scored bar, the mode's thresholds.")
    walk_forward: WalkForwardResult | None

    @classmethod
    def of(cls, r: BacktestReport) -> BacktestResult:
        return cls(
            symbol=r.symbol,
            mode=r.mode,
            short_max=r.thresholds.short_max,
            long_min=r.thresholds.long_min,
            bar_hours=r.bar.total_seconds() / 3600,
            horizons_hours=list(r.horizon_hours),
            first_bar=r.first_bar,
            last_bar=r.last_bar,
            bars_in_range=r.bars_in_range,
            bars_scored=r.bars_scored,
            skipped_warmup=r.skipped_warmup,
            skipped_gap=r.skipped_gap,
            refusals=[RefusalCount(code=code, bars=n) for code, n in sorted(r.refusals.items())],
            gaps=[HistoryGap.of(g) for g in r.gaps],
            rows=[BacktestRow.of(row) for row in r.rows],
            walk_forward=WalkForwardResult.of(r.walk_forward) if r.walk_forward else None,
        )


BacktestOutcome = Annotated[
    BacktestResult | HistoryNotAvailable | BacktestTimeout | InvalidInput,
    strawberry.union("BacktestOutcome", description="A backtest, or why there is none."),
]


@strawberry.type
class BacktestQuery:
    @strawberry.field(
        description="Replay the engine over the recorded 4h history (no look-ahead) and score it against "
        "always-long, momentum-only and each single factor, in sample and walked forward."
    )
    async def backtest(
        self,
        info: Info[RequestContext, None],
        symbol: str = "BTC",
        mode: ModeEnum = DEFAULT_MODE,  # type: ignore[valid-type]
        horizons_hours: Annotated[
            list[int] | None,
            strawberry.argument(description="Outcome horizons in hours, multiples of 4 (default [4, 24])."),
        ] = None,
        from_: Annotated[
            datetime | None, strawberry.argument(name="from", description="First decision time (UTC).")
        ] = None,
        to: Annotated[datetime | None, strawberry.argument(description="Last decision time (UTC).")] = None,
        walk_forward: bool = True,
    ) -> BacktestOutcome:
        horizons = horizons_hours if horizons_hours is not None else list(DEFAULT_HORIZONS_HOURS)
        result = await resolve_backtest(info.context, symbol, Mode(mode), horizons, from_, to, walk_forward)
        if isinstance(result, HistoryMissing):
            return HistoryNotAvailable(
                code="HISTORY_NOT_AVAILABLE", message=result.message, missing=list(result.missing)
            )
        if isinstance(result, BacktestTimedOut):
            return BacktestTimeout(
                code="BACKTEST_TIMEOUT", message=result.message, timeout_seconds=result.timeout_seconds
            )
        if isinstance(result, InvalidArgument):
            return problem(result)
        return BacktestResult.of(result)
