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
from schema.enums import ModeEnum
from schema.errors import InvalidInput, Problem, problem

if TYPE_CHECKING:
    from engine.backtest import BacktestReport, Fold, PerformanceRow, ThresholdFit, WalkForward
    from engine.backtest import DataGap as EngineGap


def _pct(fraction: float | None) -> float | None:
    return fraction * 100.0 if fraction is not None else None


@strawberry.type(description="The history files for a backtest are not on this server (or unreadable).")
class HistoryNotAvailable(Problem):
    missing: list[str] = strawberry.field(description="File names (or patterns) that were not found.")


@strawberry.type(
    description="The backtest did not finish within the server's wall-clock budget (BACKTEST_TIMEOUT_SECONDS), "
    "or every backtest worker stayed busy that long. Code BACKTEST_TIMEOUT; retrying later can succeed."
)
class BacktestTimeout(Problem):
    timeout_seconds: float = strawberry.field(description="The wall-clock budget that ran out, in seconds.")


@strawberry.type(
    description="One strategy's trades in one direction over one horizon; ANY = LONG and SHORT together. "
    "Returns are percent in the signal's direction; intervals are 95 % (Wilson for the win rate)."
)
class BacktestRow:
    name: str = strawberry.field(
        description="The strategy: engine, always_long, momentum_only, only_<factor>, engine_static_<mode>, or "
        "engine_<verdict> (the engine's trades the rules judge answered CONFIRM, DOWNSIZE, SKIP or WAIT)."
    )
    recommendation: str = strawberry.field(description="LONG, SHORT or ANY.")
    horizon_hours: float = strawberry.field(description="Hours each trade is held.")
    signals: int = strawberry.field(description="Bars with this recommendation, with or without a known outcome.")
    count: int = strawberry.field(description="Trades with a known outcome.")
    wins: int = strawberry.field(description="Trades that returned above +0.1 % in their direction.")
    win_rate_pct: float | None = strawberry.field(description="wins / count in percent (0..100); null with no trade.")
    win_rate_low_pct: float | None = strawberry.field(description="Wilson 95 % lower bound of winRatePct, percent.")
    win_rate_high_pct: float | None = strawberry.field(description="Wilson 95 % upper bound of winRatePct, percent.")
    mean_return_pct: float | None = strawberry.field(description="Mean return per trade, percent, in its direction.")
    mean_return_low_pct: float | None = strawberry.field(description="95 % lower bound of meanReturnPct, percent.")
    mean_return_high_pct: float | None = strawberry.field(description="95 % upper bound of meanReturnPct, percent.")
    median_return_pct: float | None = strawberry.field(description="Median return per trade, percent.")

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
            win_rate_pct=_pct(s.win_rate),
            win_rate_low_pct=_pct(s.win_rate_ci95.low) if s.win_rate_ci95 else None,
            win_rate_high_pct=_pct(s.win_rate_ci95.high) if s.win_rate_ci95 else None,
            mean_return_pct=s.mean_return_pct,
            mean_return_low_pct=s.mean_return_ci95.low if s.mean_return_ci95 else None,
            mean_return_high_pct=s.mean_return_ci95.high if s.mean_return_ci95 else None,
            median_return_pct=s.median_return_pct,
        )


@strawberry.type(description="Thresholds fitted on the training folds: SHORT ≤ 50 − d, LONG ≥ 50 + d.")
class FittedThreshold:
    name: str = strawberry.field(description="The strategy fitted (engine, or a baseline).")
    d: float = strawberry.field(description="Distance from 50 in score points.")
    short_max: float = strawberry.field(description="SHORT when score ≤ this (50 − d).")
    long_min: float = strawberry.field(description="LONG when score ≥ this (50 + d).")
    objective_pct: float | None = strawberry.field(description="Mean return per trade on the training bars, percent.")
    trades: int = strawberry.field(description="Training trades behind the fit.")

    @classmethod
    def of(cls, fit: ThresholdFit) -> FittedThreshold:
        return cls(
            name=fit.strategy,
            d=fit.d,
            short_max=50.0 - fit.d,
            long_min=50.0 + fit.d,
            objective_pct=fit.objective,
            trades=fit.trades,
        )


@strawberry.type(description="One walk-forward fold; fold 0 is only ever trained on.")
class BacktestFold:
    number: int = strawberry.field(description="0-based fold number, oldest first.")
    start: datetime = strawberry.field(description="First decision time of the fold (UTC, ISO-8601).")
    end: datetime = strawberry.field(description="Last decision time of the fold (UTC, ISO-8601).")
    bars: int = strawberry.field(description="Bars in the fold.")
    train_bars: int = strawberry.field(description="Bars of the earlier folds the fit was trained on.")
    purged: int = strawberry.field(description="Training bars dropped because their outcome reached this fold.")
    fits: list[FittedThreshold] = strawberry.field(description="Thresholds fitted for this fold, per strategy.")

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
    beats_baselines: bool = strawberry.field(
        description="Whether the engine's lower 95 % bound of mean return beats every baseline's mean, out of sample."
    )
    statement: str = strawberry.field(description="The verdict in one sentence, for a human.")
    engine_mean_return_pct: float | None = strawberry.field(description="The engine's mean return per trade, percent.")
    engine_mean_return_low_pct: float | None = strawberry.field(
        description="95 % lower bound of engineMeanReturnPct, percent."
    )
    best_baseline: str | None = strawberry.field(description="The best baseline strategy by mean return.")
    best_baseline_mean_return_pct: float | None = strawberry.field(
        description="The best baseline's mean return per trade, percent."
    )


@strawberry.type(description="Out-of-sample results: the test folds concatenated.")
class WalkForwardResult:
    folds: list[BacktestFold] = strawberry.field(description="The folds, oldest first.")
    rows: list[BacktestRow] = strawberry.field(description="Out-of-sample results per strategy, direction and horizon.")
    verdict: BacktestVerdict = strawberry.field(description="Whether the engine beats its baselines, said plainly.")
    test_bars: int = strawberry.field(description="Bars tested out of sample (folds 1 onward).")

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
                engine_mean_return_low_pct=v.engine_ci_low,
                best_baseline=v.best_baseline,
                best_baseline_mean_return_pct=v.best_baseline_mean,
            ),
            test_bars=wf.test_bars,
        )


@strawberry.type(description="A hole in a history series; bars that would read across it are skipped.")
class HistoryGap:
    series: str = strawberry.field(description="The recorded series with the hole (e.g. candles, funding).")
    last_before: datetime = strawberry.field(description="Last point before the hole (UTC, ISO-8601).")
    first_after: datetime = strawberry.field(description="First point after the hole (UTC, ISO-8601).")
    hours: float = strawberry.field(description="Length of the hole in hours.")

    @classmethod
    def of(cls, gap: EngineGap) -> HistoryGap:
        return cls(
            series=gap.series,
            last_before=gap.last_before,
            first_after=gap.first_after,
            hours=gap.duration.total_seconds() / 3600,
        )


@strawberry.type(description="Bars the engine refused to score, by reason.")
class RefusalCount:
    code: str = strawberry.field(description="Why, as the engine's problem code (e.g. INSUFFICIENT_DATA).")
    bars: int = strawberry.field(description="How many bars.")


@strawberry.type(description="The engine replayed bar by bar with no look-ahead, against its baselines.")
class BacktestResult:
    symbol: str = strawberry.field(description="The USDT perpetual replayed (BTCUSDT).")
    mode: ModeEnum = strawberry.field(description="The threshold set of the in-sample rows.")  # type: ignore[valid-type]
    short_max: float = strawberry.field(description="The mode's SHORT threshold (score ≤ this).")
    long_min: float = strawberry.field(description="The mode's LONG threshold (score ≥ this).")
    bar_hours: float = strawberry.field(description="Hours per bar (4).")
    horizons_hours: list[float] = strawberry.field(description="The outcome horizons judged, in hours.")
    first_bar: datetime | None = strawberry.field(description="First decision time scored (UTC, ISO-8601).")
    last_bar: datetime | None = strawberry.field(description="Last decision time scored (UTC, ISO-8601).")
    bars_in_range: int = strawberry.field(description="Bars between from and to.")
    bars_scored: int = strawberry.field(description="Bars the engine gave a score.")
    skipped_warmup: int = strawberry.field(description="Bars without enough contiguous candles before them.")
    skipped_gap: int = strawberry.field(description="Of those, bars just after a data gap.")
    refusals: list[RefusalCount] = strawberry.field(description="Bars not scored, by reason.")
    gaps: list[HistoryGap] = strawberry.field(description="Holes in the recorded history.")
    rows: list[BacktestRow] = strawberry.field(description="In sample: every scored bar, the mode's thresholds.")
    walk_forward: WalkForwardResult | None = strawberry.field(
        description="Out-of-sample results; null when walkForward was false."
    )

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
        symbol: Annotated[
            str, strawberry.argument(description="The USDT perpetual with recorded history (BTC by default).")
        ] = "BTC",
        mode: Annotated[
            ModeEnum,  # type: ignore[valid-type]
            strawberry.argument(description="Threshold set of the in-sample rows (AGGRESSIVE by default)."),
        ] = DEFAULT_MODE,
        horizons_hours: Annotated[
            list[int] | None,
            strawberry.argument(description="Outcome horizons in hours, multiples of 4 (default [4, 24])."),
        ] = None,
        from_: Annotated[
            datetime | None,
            strawberry.argument(name="from", description="First decision time (ISO-8601; UTC if no offset)."),
        ] = None,
        to: Annotated[
            datetime | None, strawberry.argument(description="Last decision time (ISO-8601; UTC if no offset).")
        ] = None,
        walk_forward: Annotated[
            bool, strawberry.argument(description="Also fit thresholds fold by fold and test out of sample.")
        ] = True,
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
