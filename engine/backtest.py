"""Walk the engine bar by bar over a recorded market history, with no look-ahead, and score what it said.

Pure: a :class:`MarketHistory` in (the loader in ``providers.history_files`` builds it from files), a
:class:`BacktestReport` out. No I/O, no clock.

Time convention (the whole no-look-ahead argument rests on it). Every point in a history is stamped
with the moment it became *known*: a candle is known at ``open_time + bar`` (its close); every other
point carries that moment in its ``time`` (for interval series, the end of the interval it covers).
At bar ``t`` (``as_of`` = close of candle ``t``) the snapshot holds only points with time ≤ ``as_of``:

- candles: the contiguous run of candles ending with candle ``t``, at most :data:`CANDLE_WINDOW` (the
  live gateway's limit), and at least ``warmup_bars`` of them or the bar is skipped (warm-up, gaps).
  These are exactly the bars :func:`engine.market.split_candles` calls closed at ``as_of``, the rule
  the live gateway applies to every venue's klines, so live and backtest score the same bars;
- price: the close of candle ``t``; funding, account ratio, top-trader positions, fear & greed: the
  latest point at or before ``as_of`` (the engine's own max ages reject stale ones);
- open interest: the points of the last 24 h + one bar, so a gap makes the 24 h change *missing*
  instead of silently measuring it over five days;
- liquidations: the sum of the six 4 h bars ending at ``as_of``; fewer than six (a gap) is *missing*;
- social: missing (there is no social history); the engine renormalizes over the other factors.

Outcomes use only candles that open at or after ``as_of`` (4 h = the next bar, 24 h = the next six),
through :func:`engine.outcomes.evaluate_outcome`; a horizon that runs into a gap has no outcome.

Scores are mode independent (modes differ only in thresholds), so the engine is run once per bar and
each mode's, each baseline's and each fitted threshold's recommendation is the same classification
``ModeThresholds.classify`` that :func:`engine.compute_signal` applies (a test checks the equivalence).

Baselines, over the same bars: ``always_long``; ``momentum_only`` (the momentum factor's own 0..100 score
classified with the same thresholds as the engine); ``only_<factor>`` for every other factor with
history (same rule on that factor's score; a bar where the factor is unavailable is NEUTRAL).

Walk-forward (:func:`walk_forward`): the scored bars are split into ``folds`` consecutive, equally long
folds by time. For test fold k ≥ 1 the fitter sees folds < k only, minus the training bars whose
longest-horizon outcome ends after the test fold starts (purged, so no test-period price leaks into the
fit). It picks a symmetric band ``short_max = 50 - d``, ``long_min = 50 + d``, d in 1..15, that
maximizes the mean 24 h return per trade in the signal's direction, among the d with at least
``min_trades`` trades (ties go to the smaller d; if no d has enough trades, the d with the most
trades). Each strategy (engine and every baseline) gets its own fit; always-long has nothing to fit.
"""

from __future__ import annotations

import bisect
import itertools
import math
import statistics
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol, TypeVar

from engine.factors import NEUTRAL_SCORE, OI_LOOKBACK
from engine.features import FeatureVector, context_features
from engine.inputs import MarketSnapshot, Reading
from engine.judge import JudgeFacts, VerdictKind, backtest_facts, judge_rules
from engine.market import (
    Candle,
    FearGreed,
    FundingRate,
    LiquidationBar,
    LiquidationTotals,
    LongShortPoint,
    OpenInterestPoint,
    SocialSentiment,
    Timeframe,
)
from engine.modes import SCORE_MODES, THRESHOLDS, Mode, ModeThresholds, Recommendation
from engine.outcomes import Outcome, Verdict, evaluate_outcome
from engine.signal import SignalRefused, compute_signal
from engine.stats import PerformanceSummary, summarize
from engine.weights import FactorName

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

CANDLE_WINDOW = 200  # closed bars scored; the live gateway scores the same count (it asks for one more)
WARMUP_BARS = 60  # contiguous candles needed before a bar is scored (MACD 26+9, MTF lookback 48)
LIQUIDATION_WINDOW = timedelta(hours=24)
DEFAULT_HORIZON_BARS = (1, 6)  # 4 h and 24 h on 4 h bars
DEFAULT_FOLDS = 4
DEFAULT_GRID = tuple(float(d) for d in range(1, 16))
DEFAULT_MIN_TRADES = 30

ENGINE = "engine"
ALWAYS_LONG = "always_long"
MOMENTUM_ONLY = "momentum_only"
ANY = "ANY"  # a performance row over LONG and SHORT trades together

# Factors with a history to replay (social has none). Momentum appears once, as MOMENTUM_ONLY.
SINGLE_FACTORS: tuple[FactorName, ...] = tuple(
    f for f in FactorName if f not in (FactorName.SOCIAL, FactorName.MOMENTUM)
)
_FACTOR_INDEX = {name: i for i, name in enumerate(FactorName)}


def factor_strategy(factor: FactorName) -> str:
    return MOMENTUM_ONLY if factor is FactorName.MOMENTUM else f"only_{factor.value}"


BASELINES: tuple[str, ...] = (ALWAYS_LONG, MOMENTUM_ONLY, *(factor_strategy(f) for f in SINGLE_FACTORS))
STRATEGIES: tuple[str, ...] = (ENGINE, *BASELINES)
_STRATEGY_FACTOR: dict[str, FactorName] = {factor_strategy(f): f for f in (FactorName.MOMENTUM, *SINGLE_FACTORS)}


# --------------------------------------------------------------------------------------------- history


@dataclass(frozen=True, slots=True)
class DataGap:
    """Consecutive points of ``series`` further apart than its step: nothing is known in between."""

    series: str
    last_before: datetime
    first_after: datetime

    @property
    def duration(self) -> timedelta:
        return self.first_after - self.last_before

    def __str__(self) -> str:
        hours = self.duration.total_seconds() / 3600
        span = f"{self.last_before:%Y-%m-%d %H:%M} and {self.first_after:%Y-%m-%d %H:%M} UTC"
        return f"{self.series}: no data between {span} ({hours:g}h)"


def find_gaps(series: str, times: Sequence[datetime], max_step: timedelta) -> tuple[DataGap, ...]:
    """Every pair of consecutive ``times`` more than ``max_step`` apart."""
    return tuple(DataGap(series, a, b) for a, b in itertools.pairwise(times) if b - a > max_step)


@dataclass(frozen=True, slots=True)
class MarketHistory:
    """Oldest-first series for one symbol, every point stamped with when it became known (see module doc).

    ``candles`` are on ``timeframe`` (the bar of the backtest); ``gaps`` lists the holes the loader found
    (reported, never filled); ``sources`` says where each series came from and in what unit.
    """

    symbol: str
    timeframe: Timeframe
    candles: tuple[Candle, ...]
    funding: tuple[FundingRate, ...]
    global_long_short: tuple[LongShortPoint, ...]
    top_trader_positions: tuple[LongShortPoint, ...]
    open_interest: tuple[OpenInterestPoint, ...]
    liquidations: tuple[LiquidationBar, ...]
    fear_greed: tuple[FearGreed, ...]
    gaps: tuple[DataGap, ...] = ()
    sources: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        checks: list[tuple[str, list[datetime]]] = [
            ("candles", [c.open_time for c in self.candles]),
            ("funding", [p.time for p in self.funding]),
            ("global_long_short", [p.time for p in self.global_long_short]),
            ("top_trader_positions", [p.time for p in self.top_trader_positions]),
            ("open_interest", [p.time for p in self.open_interest]),
            ("liquidations", [p.time for p in self.liquidations]),
            ("fear_greed", [p.time for p in self.fear_greed]),
        ]
        for name, times in checks:
            if any(b <= a for a, b in itertools.pairwise(times)):
                raise ValueError(f"history series {name} must be strictly oldest-first")

    def close_time(self, index: int) -> datetime:
        return self.candles[index].open_time + self.timeframe.duration


class _Timeline:
    """Per-series time keys for bisection, and the start of each contiguous candle run (built once)."""

    def __init__(self, h: MarketHistory) -> None:
        bar = h.timeframe.duration
        self.bar = bar
        self.funding = [p.time for p in h.funding]
        self.global_ls = [p.time for p in h.global_long_short]
        self.top = [p.time for p in h.top_trader_positions]
        self.oi = [p.time for p in h.open_interest]
        self.liq = [p.time for p in h.liquidations]
        self.fng = [p.time for p in h.fear_greed]
        self.run_start: list[int] = []
        for i, candle in enumerate(h.candles):
            contiguous = i > 0 and candle.open_time - h.candles[i - 1].open_time == bar
            self.run_start.append(self.run_start[-1] if contiguous else i)


def _latest(times: list[datetime], as_of: datetime) -> int:
    """Index of the last time ≤ ``as_of``, or -1."""
    return bisect.bisect_right(times, as_of) - 1


class _Timed(Protocol):
    @property
    def time(self) -> datetime: ...


P = TypeVar("P", bound=_Timed)


def _reading_latest(series: Sequence[P], times: list[datetime], as_of: datetime, source: str, what: str) -> Reading[P]:
    i = _latest(times, as_of)
    if i < 0:
        return Reading.missing(f"no {what} at or before {as_of.isoformat()}", source=source)
    point = series[i]
    return Reading(value=point, source=source, observed_at=point.time)


def _snapshot(h: MarketHistory, tl: _Timeline, index: int, window: int) -> MarketSnapshot:
    as_of = h.candles[index].open_time + tl.bar
    start = max(tl.run_start[index], index - window + 1)
    candles = h.candles[start : index + 1]
    src = h.sources

    funding = _reading_latest(h.funding, tl.funding, as_of, src.get("funding", "history"), "funding rate")
    global_ls = _reading_latest(
        h.global_long_short, tl.global_ls, as_of, src.get("global_long_short", "history"), "account ratio"
    )
    top = _reading_latest(
        h.top_trader_positions, tl.top, as_of, src.get("top_trader_positions", "history"), "top-trader ratio"
    )
    fng = _reading_latest(h.fear_greed, tl.fng, as_of, src.get("fear_greed", "history"), "fear & greed")

    oi_end = _latest(tl.oi, as_of) + 1
    oi_begin = bisect.bisect_right(tl.oi, as_of - OI_LOOKBACK - tl.bar)
    oi_points = h.open_interest[oi_begin:oi_end]
    oi_source = src.get("open_interest", "history")
    open_interest: Reading[tuple[OpenInterestPoint, ...]] = (
        Reading(value=oi_points, source=oi_source, observed_at=oi_points[-1].time)
        if oi_points
        else Reading.missing(f"no open interest in the 28h before {as_of.isoformat()}", source=oi_source)
    )

    liq_end = _latest(tl.liq, as_of) + 1
    liq_begin = bisect.bisect_right(tl.liq, as_of - LIQUIDATION_WINDOW)
    bars = h.liquidations[liq_begin:liq_end]
    needed = int(LIQUIDATION_WINDOW / tl.bar)
    liq_source = src.get("liquidations", "history")
    liquidations: Reading[LiquidationTotals]
    if len(bars) == needed:
        totals = LiquidationTotals(
            window=LIQUIDATION_WINDOW,
            long_usd=sum(b.long_usd for b in bars),
            short_usd=sum(b.short_usd for b in bars),
        )
        liquidations = Reading(value=totals, source=liq_source, observed_at=bars[-1].time)
    else:
        liquidations = Reading.missing(
            f"24h liquidation window incomplete: {len(bars)} of {needed} bars before {as_of.isoformat()}",
            source=liq_source,
        )

    social: Reading[SocialSentiment] = Reading.missing("no social history in the backtest data", source=None)
    return MarketSnapshot(
        symbol=h.symbol,
        timeframe=h.timeframe,
        as_of=as_of,
        price=Reading(value=h.candles[index].close, source=src.get("candles", "history"), observed_at=as_of),
        candles=Reading(value=candles, source=src.get("candles", "history"), observed_at=as_of),
        funding=funding,
        global_long_short=global_ls,
        top_trader_positions=top,
        open_interest=open_interest,
        liquidations=liquidations,
        social=social,
        fear_greed=fng,
    )


def snapshot_at(history: MarketHistory, index: int, window: int = CANDLE_WINDOW) -> MarketSnapshot:
    """The snapshot the engine sees at the close of candle ``index`` (builds the time index each call;
    :func:`replay` builds it once)."""
    return _snapshot(history, _Timeline(history), index, window)


def snapshot_times(snapshot: MarketSnapshot) -> list[datetime]:
    """Every moment of knowledge inside a snapshot (candle closes, point times, observation stamps)."""
    s = snapshot
    stamps = (
        s.price.observed_at,
        s.candles.observed_at,
        s.funding.observed_at,
        s.global_long_short.observed_at,
        s.top_trader_positions.observed_at,
        s.open_interest.observed_at,
        s.liquidations.observed_at,
        s.social.observed_at,
        s.fear_greed.observed_at,
    )
    out = [t for t in stamps if t is not None]
    bar = snapshot.timeframe.duration
    if snapshot.candles.value is not None:
        out.extend(c.open_time + bar for c in snapshot.candles.value)
    if snapshot.open_interest.value is not None:
        out.extend(p.time for p in snapshot.open_interest.value)
    for point in (snapshot.funding.value, snapshot.global_long_short.value, snapshot.top_trader_positions.value):
        if point is not None:
            out.append(point.time)
    if snapshot.fear_greed.value is not None:
        out.append(snapshot.fear_greed.value.time)
    return out


# --------------------------------------------------------------------------------------------- replay


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    """``horizon_bars`` in bars of the history's timeframe; ``start``/``end`` bound the decision times
    (``as_of``) inclusively, while earlier data still serves as warm-up."""

    horizon_bars: tuple[int, ...] = DEFAULT_HORIZON_BARS
    warmup_bars: int = WARMUP_BARS
    candle_window: int = CANDLE_WINDOW
    start: datetime | None = None
    end: datetime | None = None
    folds: int = DEFAULT_FOLDS
    grid: tuple[float, ...] = DEFAULT_GRID
    min_trades: int = DEFAULT_MIN_TRADES
    features: bool = False  # also compute engine.features per bar (the CALIBRATED fit and evaluation need them)

    def __post_init__(self) -> None:
        if not self.horizon_bars or any(h < 1 for h in self.horizon_bars):
            raise ValueError(f"horizons must be whole positive numbers of bars, got {self.horizon_bars}")
        if len(set(self.horizon_bars)) != len(self.horizon_bars):
            raise ValueError(f"horizons must be distinct, got {self.horizon_bars}")
        if self.warmup_bars < 30 or self.candle_window < self.warmup_bars:
            raise ValueError("warmup_bars must be ≥ 30 (momentum needs 30 closes) and ≤ candle_window")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError("end must not be before start")
        if self.folds < 2:
            raise ValueError("walk-forward needs at least 2 folds")
        if not self.grid or any(not 0 < d < 50 for d in self.grid):
            raise ValueError("every grid half-width d must be within (0, 50)")

    @property
    def fit_horizon(self) -> int:
        """The index (into ``horizon_bars``) of the horizon thresholds are fitted on: the longest."""
        return max(range(len(self.horizon_bars)), key=lambda i: self.horizon_bars[i])


@dataclass(frozen=True, slots=True)
class BarDecision:
    """What the engine said at one bar, and what a LONG and a SHORT would have returned after it.

    ``score`` is ``None`` when the engine refused (``refusal`` says why). ``factor_scores`` follow
    :class:`FactorName` order. ``outcomes[h]`` is ``(long, short)`` for ``config.horizon_bars[h]``; either
    is ``None`` when the candles after the bar do not cover the horizon (end of data, a gap).
    """

    index: int
    as_of: datetime
    price: float
    score: float | None
    factor_scores: tuple[float | None, ...]
    refusal: str | None
    outcomes: tuple[tuple[Outcome | None, Outcome | None], ...]
    outcome_ends: tuple[datetime, ...]  # as_of + horizon: the last moment each outcome reads
    features: FeatureVector = ()  # engine.features.FEATURES order; empty when the engine refused
    judge: JudgeFacts | None = None  # what the rules judge reads at this bar; None when the engine refused

    def factor_score(self, factor: FactorName) -> float | None:
        return self.factor_scores[_FACTOR_INDEX[factor]]

    def recommendation(self, thresholds: ModeThresholds) -> Recommendation:
        """The engine's recommendation under ``thresholds`` (what ``compute_signal`` would answer)."""
        return Recommendation.NEUTRAL if self.score is None else thresholds.classify(self.score)

    def outcome(self, recommendation: Recommendation, horizon: int) -> Outcome | None:
        long, short = self.outcomes[horizon]
        if recommendation is Recommendation.LONG:
            return long
        if recommendation is Recommendation.SHORT:
            return short
        return None


@dataclass(frozen=True, slots=True)
class Replay:
    """Every bar the engine was asked about, plus why the others were not asked."""

    decisions: tuple[BarDecision, ...]
    bars_in_range: int  # candles whose close falls in [start, end]
    skipped_warmup: int  # not enough contiguous candles: the start of the data, or just after a gap
    skipped_gap: int  # of those, the ones after a gap (the rest are the initial warm-up)
    horizon_bars: tuple[int, ...]
    bar: timedelta

    @property
    def scored(self) -> tuple[BarDecision, ...]:
        return tuple(d for d in self.decisions if d.score is not None)

    @property
    def refusals(self) -> Counter[str]:
        return Counter((d.refusal or "").split(":", 1)[0] for d in self.decisions if d.score is None)


def replay(
    history: MarketHistory,
    config: BacktestConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Replay:
    """Run the engine at every bar of ``history`` in the configured range (see the module docstring)."""
    cfg = config or BacktestConfig()
    tl = _Timeline(history)
    bar = tl.bar
    candles = history.candles
    horizons = [bar * n for n in cfg.horizon_bars]
    longest = max(cfg.horizon_bars)
    decisions: list[BarDecision] = []
    in_range = skipped = skipped_gap = 0
    total = len(candles)
    for i in range(total):
        as_of = candles[i].open_time + bar
        if (cfg.start is not None and as_of < cfg.start) or (cfg.end is not None and as_of > cfg.end):
            continue
        in_range += 1
        if progress is not None and in_range % 250 == 0:
            progress(i, total)
        if i - tl.run_start[i] + 1 < cfg.warmup_bars:
            skipped += 1
            skipped_gap += tl.run_start[i] > 0
            continue
        snapshot = _snapshot(history, tl, i, cfg.candle_window)
        try:
            signal = compute_signal(snapshot, Mode.AGGRESSIVE)  # the score does not depend on the mode
        except SignalRefused as exc:
            score: float | None = None
            factor_scores: tuple[float | None, ...] = tuple(None for _ in FactorName)
            refusal: str | None = f"{exc.code}: {exc.message}"
            features: FeatureVector = ()
            facts: JudgeFacts | None = None
        else:
            score, refusal = signal.score, None
            factor_scores = tuple(f.score for f in signal.factors)
            features = context_features(snapshot.candles.value or (), signal.factors) if cfg.features else ()
            facts = backtest_facts(signal, snapshot.candles.value or (), bar)
        after = candles[i + 1 : i + 1 + longest]
        outcomes = tuple(
            (
                evaluate_outcome(Recommendation.LONG, candles[i].close, as_of, horizon, after, bar),
                evaluate_outcome(Recommendation.SHORT, candles[i].close, as_of, horizon, after, bar),
            )
            for horizon in horizons
        )
        decisions.append(
            BarDecision(
                index=i,
                as_of=as_of,
                price=candles[i].close,
                score=score,
                factor_scores=factor_scores,
                refusal=refusal,
                outcomes=outcomes,
                outcome_ends=tuple(as_of + horizon for horizon in horizons),
                features=features,
                judge=facts,
            )
        )
    return Replay(
        decisions=tuple(decisions),
        bars_in_range=in_range,
        skipped_warmup=skipped,
        skipped_gap=skipped_gap,
        horizon_bars=cfg.horizon_bars,
        bar=bar,
    )


# --------------------------------------------------------------------------------------------- scoring


def strategy_recommendation(strategy: str, decision: BarDecision, thresholds: ModeThresholds) -> Recommendation:
    """What ``strategy`` says at ``decision`` under ``thresholds`` (always-long ignores them)."""
    if strategy == ALWAYS_LONG:
        return Recommendation.LONG
    if strategy == ENGINE:
        return decision.recommendation(thresholds)
    factor = _STRATEGY_FACTOR.get(strategy)
    if factor is None:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    value = decision.factor_score(factor)
    return Recommendation.NEUTRAL if value is None else thresholds.classify(value)


@dataclass(frozen=True, slots=True)
class PerformanceRow:
    """One strategy's trades in one direction (or ``ANY``) over one horizon."""

    strategy: str
    recommendation: str  # LONG, SHORT or ANY
    horizon_hours: float
    summary: PerformanceSummary
    signals: int  # bars with that recommendation, including those whose outcome is not known


@dataclass(slots=True)
class _Tally:
    returns: list[float] = field(default_factory=list)
    wins: int = 0
    signals: int = 0

    def add(self, outcome: Outcome | None) -> None:
        self.signals += 1
        if outcome is not None:
            self.returns.append(outcome.return_pct)
            self.wins += outcome.verdict is Verdict.WIN


def performance(
    strategy: str,
    picks: Iterable[tuple[BarDecision, ModeThresholds]],
    horizon_bars: Sequence[int],
    bar: timedelta,
) -> list[PerformanceRow]:
    """LONG, SHORT and ANY rows for every horizon over ``(decision, thresholds)`` pairs."""
    directions = (Recommendation.LONG.value, Recommendation.SHORT.value, ANY)
    tallies = {(rec, h): _Tally() for rec in directions for h in range(len(horizon_bars))}
    for decision, thresholds in picks:
        rec = strategy_recommendation(strategy, decision, thresholds)
        if rec is Recommendation.NEUTRAL:
            continue
        for h in range(len(horizon_bars)):
            outcome = decision.outcome(rec, h)
            tallies[rec.value, h].add(outcome)
            tallies[ANY, h].add(outcome)
    hours = [bar.total_seconds() / 3600 * n for n in horizon_bars]
    return [
        PerformanceRow(strategy, rec, hours[h], summarize(t.returns, t.wins), t.signals)
        for (rec, h), t in tallies.items()
    ]


def performance_table(
    decisions: Sequence[BarDecision],
    thresholds: ModeThresholds,
    horizon_bars: Sequence[int],
    bar: timedelta,
    strategies: Sequence[str] = STRATEGIES,
) -> list[PerformanceRow]:
    """Every strategy over the same bars with the same thresholds."""
    rows: list[PerformanceRow] = []
    for strategy in strategies:
        rows.extend(performance(strategy, ((d, thresholds) for d in decisions), horizon_bars, bar))
    return rows


def verdict_strategy(kind: VerdictKind) -> str:
    """The in-sample row name of the engine's trades the rules judge answered ``kind`` to."""
    return f"{ENGINE}_{kind.value.lower()}"


def verdict_rows(
    decisions: Sequence[BarDecision], thresholds: ModeThresholds, horizon_bars: Sequence[int], bar: timedelta
) -> list[PerformanceRow]:
    """The engine's trades under ``thresholds`` split by the rules judge's verdict at each bar: did CONFIRM
    beat SKIP? (LONG, SHORT and ANY rows per verdict and horizon, like every strategy.)"""
    by_kind: dict[VerdictKind, list[BarDecision]] = {kind: [] for kind in VerdictKind}
    for d in decisions:
        rec = d.recommendation(thresholds)
        if d.judge is not None and d.score is not None and rec is not Recommendation.NEUTRAL:
            by_kind[judge_rules(d.judge.inputs(rec, d.score, thresholds)).verdict].append(d)
    rows: list[PerformanceRow] = []
    for kind, picked in by_kind.items():
        engine_rows = performance(ENGINE, ((d, thresholds) for d in picked), horizon_bars, bar)
        rows.extend(replace(r, strategy=verdict_strategy(kind)) for r in engine_rows)
    return rows


# --------------------------------------------------------------------------------------------- walk-forward


def symmetric(d: float) -> ModeThresholds:
    return ModeThresholds(short_max=NEUTRAL_SCORE - d, long_min=NEUTRAL_SCORE + d)


@dataclass(frozen=True, slots=True)
class ThresholdFit:
    """The chosen half-width ``d`` (``short_max = 50 - d``, ``long_min = 50 + d``) and how it scored."""

    strategy: str
    d: float
    objective: float | None  # mean directional return % per trade at the fit horizon, training bars
    trades: int
    train_bars: int


def strategy_value(strategy: str, decision: BarDecision) -> float | None:
    """The 0..100 number ``strategy`` classifies (``None``: no opinion); always-long has none."""
    if strategy == ENGINE:
        return decision.score
    factor = _STRATEGY_FACTOR.get(strategy)
    if factor is None:
        raise ValueError(f"strategy {strategy!r} has no score to threshold")
    return decision.factor_score(factor)


def fit_symmetric_threshold(strategy: str, train: Sequence[BarDecision], config: BacktestConfig) -> ThresholdFit:
    """Pick ``d`` on ``train`` alone: best mean return per trade at the fit horizon with ≥ min_trades."""
    h = config.fit_horizon
    # (value, long return, short return) once per bar; each d is then only comparisons.
    rows: list[tuple[float, float | None, float | None]] = []
    for decision in train:
        value = strategy_value(strategy, decision)
        if value is None:
            continue
        long, short = decision.outcomes[h]
        rows.append((value, long.return_pct if long else None, short.return_pct if short else None))
    candidates: list[tuple[float, float | None, int]] = []
    for half in config.grid:
        thresholds = symmetric(half)
        returns: list[float] = []
        for value, long_return, short_return in rows:
            picked = (
                long_return if value >= thresholds.long_min else short_return if value <= thresholds.short_max else None
            )
            if picked is not None:
                returns.append(picked)
        candidates.append((half, statistics.fmean(returns) if returns else None, len(returns)))
    eligible = [(m, -d, n) for d, m, n in candidates if n >= config.min_trades and m is not None]
    if eligible:
        objective, neg_d, trades = max(eligible)  # best mean; on a tie the smaller d
        d: float = -neg_d
        best: float | None = objective
    else:
        d, best, trades = max(candidates, key=lambda c: (c[2], -c[0]))
    return ThresholdFit(strategy=strategy, d=d, objective=best, trades=trades, train_bars=len(train))


@dataclass(frozen=True, slots=True)
class Fold:
    number: int  # 0-based; fold 0 is never tested
    start: datetime
    end: datetime
    bars: int
    train_bars: int  # after purging; 0 for fold 0
    purged: int
    fits: tuple[ThresholdFit, ...]  # one per strategy with thresholds; empty for fold 0

    def d(self, strategy: str) -> float | None:
        return next((f.d for f in self.fits if f.strategy == strategy), None)


@dataclass(frozen=True, slots=True)
class Verdict24h:
    """The plain answer: does the engine beat its baselines out of sample?"""

    beats_baselines: bool
    statement: str
    engine_mean: float | None
    engine_ci_low: float | None
    best_baseline: str | None
    best_baseline_mean: float | None


@dataclass(frozen=True, slots=True)
class WalkForward:
    folds: tuple[Fold, ...]
    rows: tuple[PerformanceRow, ...]  # out of sample: test folds concatenated
    verdict: Verdict24h
    test_bars: int


def static_strategy(mode: Mode) -> str:
    return f"engine_static_{mode.value}"


def walk_forward(
    decisions: Sequence[BarDecision],
    config: BacktestConfig,
    horizon_bars: Sequence[int],
    bar: timedelta,
    fitter: Callable[[str, Sequence[BarDecision], BacktestConfig], ThresholdFit] = fit_symmetric_threshold,
) -> WalkForward:
    """Fit on earlier folds, score the next; see the module docstring for the procedure and objective."""
    scored = [d for d in decisions if d.score is not None]
    k = config.folds
    if len(scored) < k * 2:
        raise ValueError(f"walk-forward needs at least {k * 2} scored bars, got {len(scored)}")
    bounds = [round(i * len(scored) / k) for i in range(k + 1)]
    chunks = [scored[bounds[i] : bounds[i + 1]] for i in range(k)]
    h = config.fit_horizon
    fitted = (ENGINE, *(s for s in BASELINES if s != ALWAYS_LONG))
    folds: list[Fold] = [Fold(0, chunks[0][0].as_of, chunks[0][-1].as_of, len(chunks[0]), 0, 0, ())]
    tested: dict[str, list[tuple[BarDecision, ModeThresholds]]] = {s: [] for s in fitted}
    test_decisions: list[BarDecision] = []
    for n in range(1, k):
        test = chunks[n]
        test_start = test[0].as_of
        earlier = [d for chunk in chunks[:n] for d in chunk]
        train = [d for d in earlier if d.outcome_ends[h] <= test_start]  # purge: no test-period prices
        fits = tuple(fitter(s, train, config) for s in fitted)
        for fit in fits:
            thresholds = symmetric(fit.d)
            tested[fit.strategy].extend((d, thresholds) for d in test)
        test_decisions.extend(test)
        folds.append(Fold(n, test_start, test[-1].as_of, len(test), len(train), len(earlier) - len(train), fits))

    rows: list[PerformanceRow] = []
    for strategy in fitted:
        rows.extend(performance(strategy, tested[strategy], horizon_bars, bar))
    rows.extend(performance(ALWAYS_LONG, ((d, THRESHOLDS[Mode.AGGRESSIVE]) for d in test_decisions), horizon_bars, bar))
    for mode in SCORE_MODES:
        static = performance(ENGINE, ((d, THRESHOLDS[mode]) for d in test_decisions), horizon_bars, bar)
        rows.extend(
            PerformanceRow(static_strategy(mode), r.recommendation, r.horizon_hours, r.summary, r.signals)
            for r in static
        )
    fit_hours = bar.total_seconds() / 3600 * horizon_bars[h]
    verdict = judge(rows, fit_hours, len(test_decisions), folds[1].start, folds[-1].end, config.min_trades)
    return WalkForward(folds=tuple(folds), rows=tuple(rows), verdict=verdict, test_bars=len(test_decisions))


def _row(rows: Sequence[PerformanceRow], strategy: str, rec: str, hours: float) -> PerformanceRow | None:
    return next(
        (r for r in rows if r.strategy == strategy and r.recommendation == rec and r.horizon_hours == hours), None
    )


def judge(
    rows: Sequence[PerformanceRow],
    hours: float,
    test_bars: int,
    start: datetime,
    end: datetime,
    min_trades: int = DEFAULT_MIN_TRADES,
) -> Verdict24h:
    """The engine (walk-forward thresholds) beats its baselines only if the lower end of the 95 % interval
    of its mean return per trade exceeds every baseline's mean (LONG and SHORT trades together). Baselines
    with fewer than ``min_trades`` trades are not compared (a handful of lucky trades is not a baseline)."""
    engine = _row(rows, ENGINE, ANY, hours)
    baselines = [r for s in BASELINES if (r := _row(rows, s, ANY, hours)) is not None and r.summary.count >= min_trades]
    best = max(baselines, key=lambda r: r.summary.mean_return_pct or -math.inf, default=None)
    period = f"{start:%Y-%m-%d} .. {end:%Y-%m-%d}"
    h = f"{hours:g}h"
    if engine is None or engine.summary.count == 0 or engine.summary.mean_return_pct is None:
        return Verdict24h(
            False,
            f"Out of sample ({period}) the engine made no trades; it does not beat its baselines.",
            None,
            None,
            best.strategy if best else None,
            best.summary.mean_return_pct if best else None,
        )
    s = engine.summary
    low = s.mean_return_ci95.low if s.mean_return_ci95 else None
    best_mean = best.summary.mean_return_pct if best else None
    beats = best_mean is None or (low is not None and low > best_mean)
    ahead = best_mean is None or (s.mean_return_pct is not None and s.mean_return_pct > best_mean)
    ci = f"95% CI {low:+.3f}..{s.mean_return_ci95.high:+.3f}%" if s.mean_return_ci95 and low is not None else "no CI"
    wr = f"{s.win_rate * 100:.1f}%" if s.win_rate is not None else "n/a"
    engine_text = f"{s.mean_return_pct:+.3f}% per trade ({ci}, {s.count} trades, win rate {wr})"
    if best is None:
        statement = f"Out of sample ({period}, {test_bars} bars) the engine's mean {h} return was {engine_text}"
        return Verdict24h(True, statement + "; no baseline traded.", s.mean_return_pct, low, None, None)
    b = best.summary
    best_text = f"{best.strategy} {b.mean_return_pct:+.3f}% ({b.count} trades)"
    if beats:
        statement = (
            f"Yes: out of sample ({period}, {test_bars} bars) the engine's mean {h} return was {engine_text}, "
            f"and even the low end of its interval beats the best baseline, {best_text}."
        )
    elif ahead:
        statement = (
            f"No: out of sample ({period}, {test_bars} bars) the engine's mean {h} return was {engine_text}; "
            f"its point estimate is above the best baseline, {best_text}, but the interval includes it, "
            "so the edge is not established."
        )
    else:
        statement = (
            f"No: out of sample ({period}, {test_bars} bars) the engine's mean {h} return was {engine_text}, "
            f"below the best baseline, {best_text}."
        )
    return Verdict24h(beats, statement, s.mean_return_pct, low, best.strategy, b.mean_return_pct)


# --------------------------------------------------------------------------------------------- report


@dataclass(frozen=True, slots=True)
class BacktestReport:
    symbol: str
    mode: Mode
    thresholds: ModeThresholds
    bar: timedelta
    horizon_bars: tuple[int, ...]
    first_bar: datetime | None
    last_bar: datetime | None
    bars_in_range: int
    bars_scored: int
    skipped_warmup: int
    skipped_gap: int
    refusals: Mapping[str, int]
    gaps: tuple[DataGap, ...]
    rows: tuple[PerformanceRow, ...]  # in sample: every scored bar, the mode's thresholds
    walk_forward: WalkForward | None
    decisions: tuple[BarDecision, ...] = field(repr=False, default=())

    @property
    def horizon_hours(self) -> tuple[float, ...]:
        return tuple(self.bar.total_seconds() / 3600 * n for n in self.horizon_bars)


def run_backtest(
    history: MarketHistory,
    mode: Mode = Mode.AGGRESSIVE,
    config: BacktestConfig | None = None,
    *,
    with_walk_forward: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> BacktestReport:
    """Replay, tabulate the engine and its baselines with ``mode``'s thresholds, and walk forward."""
    cfg = config or BacktestConfig()
    played = replay(history, cfg, progress)
    scored = played.scored
    if mode not in THRESHOLDS:
        raise ValueError(f"mode {mode.value} has no score thresholds; its evaluation is engine.calibrated_fit")
    thresholds = THRESHOLDS[mode]
    rows = performance_table(scored, thresholds, cfg.horizon_bars, played.bar)
    rows += verdict_rows(scored, thresholds, cfg.horizon_bars, played.bar)  # the rules judge's verdicts
    wf = walk_forward(scored, cfg, cfg.horizon_bars, played.bar) if with_walk_forward else None
    return BacktestReport(
        symbol=history.symbol,
        mode=mode,
        thresholds=thresholds,
        bar=played.bar,
        horizon_bars=cfg.horizon_bars,
        first_bar=scored[0].as_of if scored else None,
        last_bar=scored[-1].as_of if scored else None,
        bars_in_range=played.bars_in_range,
        bars_scored=len(scored),
        skipped_warmup=played.skipped_warmup,
        skipped_gap=played.skipped_gap,
        refusals=dict(played.refusals),
        gaps=history.gaps,
        rows=tuple(rows),
        walk_forward=wf,
        decisions=played.decisions,
    )
