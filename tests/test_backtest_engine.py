"""The backtest engine: no look-ahead (perturb the future, nothing in the past moves), outcome horizons by
hand, baselines as documented, walk-forward fits that never see test data, and the mode shortcut."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from engine import THRESHOLDS, FactorName, Mode, ModeThresholds, Recommendation, compute_signal, evaluate_momentum
from engine.backtest import (
    ALWAYS_LONG,
    ENGINE,
    MOMENTUM_ONLY,
    BacktestConfig,
    BarDecision,
    MarketHistory,
    ThresholdFit,
    fit_symmetric_threshold,
    performance,
    replay,
    run_backtest,
    snapshot_at,
    snapshot_times,
    symmetric,
    walk_forward,
)
from engine.market import Candle, FearGreed, LiquidationBar, LongShortPoint, OpenInterestPoint
from engine.modes import SCORE_MODES
from engine.outcomes import FLAT_BAND_PCT, Outcome, Verdict
from providers.history_files import load_history
from tests.test_backtest_support import real_history, write_synthetic_history

if TYPE_CHECKING:
    from collections.abc import Sequence

    from engine.backtest import Replay

H4 = timedelta(hours=4)


@pytest.fixture(scope="module")
def real() -> MarketHistory:
    return real_history()


@pytest.fixture(scope="module")
def real_replay(real: MarketHistory) -> Replay:
    return replay(real)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> MarketHistory:
    return load_history(write_synthetic_history(tmp_path_factory.mktemp("synthetic"), bars=500, gap=(300, 306)))


# --------------------------------------------------------------------------------------------- perturbation


def _wiggle(i: int) -> float:
    return 1.0 + 0.08 * math.sin(i * 1.7) + 0.05


def perturb_after(h: MarketHistory, cutoff: datetime, until: datetime | None = None) -> MarketHistory:
    """Change every value that becomes known after ``cutoff`` (and not after ``until``): prices, volumes,
    ratios, funding, OI, liquidations and fear & greed, each in a way that moves the factor scores."""
    bar = h.timeframe.duration
    last = until or datetime.max.replace(tzinfo=UTC)

    def keep(t: datetime) -> bool:
        return t <= cutoff or t > last

    candles = tuple(
        c
        if keep(c.open_time + bar)
        else Candle(
            c.open_time,
            c.open * _wiggle(i),
            c.high * _wiggle(i) * 1.1,
            c.low * _wiggle(i) * 0.9,
            c.close * _wiggle(i + 1),
            c.volume * (3.0 if i % 2 else 0.2),
        )
        for i, c in enumerate(h.candles)
    )
    return dataclasses.replace(
        h,
        candles=candles,
        funding=tuple(f if keep(f.time) else dataclasses.replace(f, rate=-f.rate * 40) for f in h.funding),
        global_long_short=tuple(
            p if keep(p.time) else LongShortPoint(p.time, 100 - p.long_pct, 1 / p.long_short_ratio)
            for p in h.global_long_short
        ),
        top_trader_positions=tuple(
            p if keep(p.time) else LongShortPoint(p.time, 100 - p.long_pct, 1 / p.long_short_ratio)
            for p in h.top_trader_positions
        ),
        open_interest=tuple(
            p if keep(p.time) else OpenInterestPoint(p.time, p.open_interest * _wiggle(i) ** 3, None, p.unit)
            for i, p in enumerate(h.open_interest)
        ),
        liquidations=tuple(
            b if keep(b.time) else LiquidationBar(b.time, b.short_usd * 5, b.long_usd + 1) for b in h.liquidations
        ),
        fear_greed=tuple(f if keep(f.time) else FearGreed(100 - f.value, "x", f.time) for f in h.fear_greed),
    )


def _decision_key(d: BarDecision) -> tuple[object, ...]:
    return (d.index, d.as_of, d.price, d.score, d.factor_scores, d.refusal)


def _check_no_look_ahead(h: MarketHistory, n: int) -> None:
    before = replay(h)
    cutoff = h.close_time(n)
    after = replay(perturb_after(h, cutoff))
    old = {d.index: d for d in before.decisions}
    new = {d.index: d for d in after.decisions}
    assert old.keys() == new.keys()
    past = [i for i in old if i <= n]
    assert len(past) > 50
    for i in past:
        assert _decision_key(new[i]) == _decision_key(old[i]), f"decision at bar {i} changed"
        for horizon, end in enumerate(old[i].outcome_ends):
            if end <= cutoff:  # outcome fully known by the cutoff: bars ≤ N − horizon
                assert new[i].outcomes[horizon] == old[i].outcomes[horizon]
    # The perturbation is real: later decisions do change (so this test can fail).
    changed = sum(_decision_key(new[i]) != _decision_key(old[i]) for i in old if i > n)
    assert changed > 0.5 * sum(1 for i in old if i > n)
    # And the outcomes of the last bars before the cutoff read the perturbed future.
    assert new[n].outcomes[0] != old[n].outcomes[0]


def test_perturbing_the_future_changes_no_past_decision_real(real: MarketHistory) -> None:
    _check_no_look_ahead(real, n=1200)


def test_perturbing_the_future_changes_no_past_decision_synthetic(synthetic: MarketHistory) -> None:
    _check_no_look_ahead(synthetic, n=250)


def test_a_decision_depends_on_its_own_bar(real: MarketHistory) -> None:
    """Perturbing exactly what becomes known at bar N's close moves bar N, and nothing before it."""
    n = 1500
    as_of = real.close_time(n)
    moved = perturb_after(real, as_of - timedelta(seconds=1), until=as_of)
    assert moved.candles[n] != real.candles[n] and moved.candles[n + 1] == real.candles[n + 1]
    before = {d.index: d for d in replay(real).decisions}
    after = {d.index: d for d in replay(moved).decisions}
    assert _decision_key(after[n - 1]) == _decision_key(before[n - 1])
    assert after[n].score != before[n].score
    assert after[n].factor_scores != before[n].factor_scores


def test_snapshot_for_bar_t_holds_nothing_after_t(real: MarketHistory, synthetic: MarketHistory) -> None:
    for h in (real, synthetic):
        for i in range(60, len(h.candles), 7):
            snap = snapshot_at(h, i)
            as_of = h.close_time(i)
            assert snap.as_of == as_of
            times = snapshot_times(snap)
            assert times and max(times) <= as_of, f"bar {i}: {max(times)} > {as_of}"
            assert snap.price.value == h.candles[i].close
            candles = snap.candles.value
            assert candles is not None and candles[-1] is h.candles[i] and len(candles) <= 200


def test_snapshot_uses_the_newest_point_at_or_before_t(real: MarketHistory) -> None:
    i = 1000
    snap = snapshot_at(real, i)
    as_of = real.close_time(i)
    assert snap.global_long_short.value is not None and snap.global_long_short.value.time == as_of
    liq = snap.liquidations.value
    assert liq is not None and liq.window == timedelta(hours=24)
    six = [b for b in real.liquidations if as_of - timedelta(hours=24) < b.time <= as_of]
    assert len(six) == 6
    assert liq.long_usd == pytest.approx(sum(b.long_usd for b in six))
    assert liq.short_usd == pytest.approx(sum(b.short_usd for b in six))
    oi = snap.open_interest.value
    assert oi is not None and oi[-1].time == as_of and oi[0].time <= as_of - timedelta(hours=24)
    fng = snap.fear_greed.value
    assert fng is not None and fng.time <= as_of < fng.time + timedelta(days=1, hours=1)
    assert snap.social.value is None


# --------------------------------------------------------------------------------------------- outcomes, gaps


def test_outcome_horizons_are_the_next_one_and_six_bars(real: MarketHistory, real_replay: Replay) -> None:
    c = real.candles
    by_index = {d.index: d for d in real_replay.decisions}
    for i in (100, 777, 1333, 2000):
        d = by_index[i]
        long4, short4 = d.outcomes[0]
        long24, short24 = d.outcomes[1]
        assert long4 is not None and short4 is not None and long24 is not None and short24 is not None
        assert long4.return_pct == pytest.approx((c[i + 1].close / c[i].close - 1) * 100)
        assert short4.return_pct == pytest.approx(-(c[i + 1].close / c[i].close - 1) * 100)
        assert long24.return_pct == pytest.approx((c[i + 6].close / c[i].close - 1) * 100)
        assert long24.exit_price == c[i + 6].close
        assert long24.max_favourable_pct == pytest.approx(
            max(0.0, (max(x.high for x in c[i + 1 : i + 7]) / c[i].close - 1) * 100)
        )
        assert d.outcome_ends == (d.as_of + H4, d.as_of + 6 * H4)
    # The last bars have no (full) future: no outcome rather than a partial one.
    last = real_replay.decisions[-1]
    assert last.outcomes[0] == (None, None) and last.outcomes[1] == (None, None)


def test_bars_after_the_gap_wait_for_a_fresh_warm_up(real: MarketHistory, real_replay: Replay) -> None:
    assert real_replay.skipped_warmup == 118  # 59 at the start + 59 after the May 2025 gap
    assert real_replay.skipped_gap == 59
    gap_end = next(g.first_after for g in real.gaps if g.series == "candles")
    after_gap = [d for d in real_replay.decisions if d.as_of > gap_end]
    assert after_gap[0].as_of == gap_end + 60 * H4  # candle 60 of the new run closes
    # No outcome spans the gap: the bars just before it have none at 24 h.
    last_close = next(g.last_before for g in real.gaps if g.series == "candles") + H4
    before_gap = [d for d in real_replay.decisions if last_close - 6 * H4 < d.as_of <= last_close]
    assert len(before_gap) == 6 and all(d.outcomes[1] == (None, None) for d in before_gap)
    just_fits = next(d for d in real_replay.decisions if d.as_of == last_close - 6 * H4)
    assert just_fits.outcomes[1][0] is not None  # ends exactly on the last close before the gap


# --------------------------------------------------------------------------------------------- baselines, modes


def _rows(rows: Sequence[object], strategy: str, rec: str, hours: float) -> object:
    return next(r for r in rows if r.strategy == strategy and r.recommendation == rec and r.horizon_hours == hours)  # type: ignore[attr-defined]


def test_always_long_win_rate_is_the_share_of_up_moves(real: MarketHistory, real_replay: Replay) -> None:
    c = real.candles
    scored = real_replay.scored
    rows = performance(ALWAYS_LONG, ((d, THRESHOLDS[Mode.AGGRESSIVE]) for d in scored), (1, 6), H4)
    row = _rows(rows, ALWAYS_LONG, "LONG", 24.0)
    moves = [
        (c[d.index + 6].close / c[d.index].close - 1) * 100
        for d in scored
        if d.index + 6 < len(c) and c[d.index + 6].open_time == c[d.index].open_time + 6 * H4
    ]
    up = sum(m > FLAT_BAND_PCT for m in moves)  # a win is a move beyond the 0.1 % fee band
    assert row.summary.count == len(moves)  # type: ignore[attr-defined]
    assert row.summary.win_rate == pytest.approx(up / len(moves))  # type: ignore[attr-defined]
    assert row.summary.mean_return_pct == pytest.approx(sum(moves) / len(moves))  # type: ignore[attr-defined]
    assert _rows(rows, ALWAYS_LONG, "SHORT", 24.0).summary.count == 0  # type: ignore[attr-defined]


def test_momentum_only_thresholds_the_momentum_score(real: MarketHistory, real_replay: Replay) -> None:
    t = THRESHOLDS[Mode.AGGRESSIVE]
    scored = real_replay.scored
    for d in scored[::97]:  # the recorded factor score is momentum on the trailing 200 contiguous candles
        window = real.candles[max(0, d.index - 199) : d.index + 1]
        assert d.factor_score(FactorName.MOMENTUM) == evaluate_momentum(window).score
    rows = performance(MOMENTUM_ONLY, ((d, t) for d in scored), (1, 6), H4)
    momentum = [(d, d.factor_score(FactorName.MOMENTUM)) for d in scored]
    expected_long = [d for d, m in momentum if m is not None and m >= t.long_min]
    expected_short = [d for d, m in momentum if m is not None and m <= t.short_max]
    assert _rows(rows, MOMENTUM_ONLY, "LONG", 4.0).signals == len(expected_long)  # type: ignore[attr-defined]
    assert _rows(rows, MOMENTUM_ONLY, "SHORT", 4.0).signals == len(expected_short)  # type: ignore[attr-defined]
    shorts = [o.return_pct for d in expected_short if (o := d.outcome(Recommendation.SHORT, 1)) is not None]
    assert _rows(rows, MOMENTUM_ONLY, "SHORT", 24.0).summary.mean_return_pct == pytest.approx(sum(shorts) / len(shorts))  # type: ignore[attr-defined]


def test_single_factor_baseline_uses_that_factor_alone(real_replay: Replay) -> None:
    t = THRESHOLDS[Mode.AGGRESSIVE]
    scored = real_replay.scored
    rows = performance("only_funding", ((d, t) for d in scored), (1, 6), H4)
    longs = [d for d in scored if (s := d.factor_score(FactorName.FUNDING)) is not None and s >= t.long_min]
    assert _rows(rows, "only_funding", "LONG", 4.0).signals == len(longs) > 0  # type: ignore[attr-defined]


def test_one_engine_run_per_bar_gives_every_mode_what_compute_signal_gives(
    real: MarketHistory, real_replay: Replay
) -> None:
    by_index = {d.index: d for d in real_replay.decisions}
    checked = 0
    for i in range(70, len(real.candles) - 1, 173):
        d = by_index.get(i)
        if d is None:  # warm-up after the gap
            continue
        checked += 1
        snapshot = snapshot_at(real, i)
        for mode in SCORE_MODES:
            signal = compute_signal(snapshot, mode)
            assert signal.score == d.score
            assert signal.recommendation is d.recommendation(THRESHOLDS[mode])
            assert tuple(f.score for f in signal.factors) == d.factor_scores
    assert checked >= 10


# --------------------------------------------------------------------------------------------- walk-forward


def test_walk_forward_never_fits_on_test_data(real_replay: Replay) -> None:
    config = BacktestConfig()
    calls: list[tuple[str, tuple[BarDecision, ...]]] = []

    def spy(strategy: str, train: Sequence[BarDecision], cfg: BacktestConfig) -> ThresholdFit:
        calls.append((strategy, tuple(train)))
        return fit_symmetric_threshold(strategy, train, cfg)

    wf = walk_forward(real_replay.scored, config, (1, 6), H4, fitter=spy)
    assert [f.number for f in wf.folds] == [0, 1, 2, 3]
    fitted_per_fold = len(calls) // 3
    for n, fold in enumerate(wf.folds[1:]):
        for strategy, train in calls[n * fitted_per_fold : (n + 1) * fitted_per_fold]:
            assert train, strategy
            assert max(d.as_of for d in train) < fold.start
            assert max(d.outcome_ends[1] for d in train) <= fold.start  # purged: no test-period price
        assert fold.purged == 5  # the last five training bars' 24 h outcomes end inside the test fold
    # Fits are reproducible from the training folds alone, and each is applied only to its test fold.
    tests = [d for fold in wf.folds[1:] for d in real_replay.scored if fold.start <= d.as_of <= fold.end]
    picks: list[tuple[BarDecision, ModeThresholds]] = []
    for fold in wf.folds[1:]:
        d_engine = fold.d(ENGINE)
        assert d_engine is not None
        picks.extend((d, symmetric(d_engine)) for d in real_replay.scored if fold.start <= d.as_of <= fold.end)
    expected = performance(ENGINE, picks, (1, 6), H4)
    assert [r.summary for r in wf.rows if r.strategy == ENGINE] == [r.summary for r in expected]
    assert wf.test_bars == len(tests)


def test_walk_forward_fit_is_blind_to_the_test_fold(real_replay: Replay) -> None:
    """Scrambling the test folds' outcomes changes no fitted threshold."""
    config = BacktestConfig()
    scored = list(real_replay.scored)
    wf = walk_forward(scored, config, (1, 6), H4)
    last_start = wf.folds[-1].start
    flipped = [
        d if d.as_of < last_start else dataclasses.replace(d, outcomes=tuple((s, lg) for lg, s in d.outcomes))
        for d in scored
    ]
    wf2 = walk_forward(flipped, config, (1, 6), H4)
    assert [f.fits for f in wf2.folds] == [f.fits for f in wf.folds]
    assert [r.summary for r in wf2.rows] != [r.summary for r in wf.rows]


def _decision(i: int, score: float, ret24: float, as_of: datetime) -> BarDecision:
    def out(r: float) -> Outcome:
        return Outcome(r, max(r, 0.0), max(-r, 0.0), 100.0, Verdict.WIN if r > FLAT_BAND_PCT else Verdict.LOSS)

    return BarDecision(
        index=i,
        as_of=as_of,
        price=100.0,
        score=score,
        factor_scores=tuple(None for _ in FactorName),
        refusal=None,
        outcomes=((out(ret24), out(-ret24)), (out(ret24), out(-ret24))),
        outcome_ends=(as_of + H4, as_of + 6 * H4),
    )


def test_fitter_maximizes_mean_return_with_enough_trades(real: MarketHistory) -> None:
    t0 = real.candles[0].open_time
    # Scores 60 go up 1 %, scores 53 go down 0.5 %, scores 45 go down 2 % (a SHORT there earns 2 %).
    train = [_decision(i, s, r, t0 + i * H4) for i, (s, r) in enumerate([(60, 1.0), (53, -0.5), (45, -2.0)] * 20)]
    cfg = BacktestConfig(min_trades=30)
    fit = fit_symmetric_threshold(ENGINE, train, cfg)
    # d ≤ 3 trades all 60 bars (mean (1 + 0.5·… )); d in 4..5 drops the 53s → mean (1 + 2) / 2 = 1.5 over 40.
    assert (fit.d, fit.trades) == (4.0, 40)
    assert fit.objective == pytest.approx(1.5)
    strict = fit_symmetric_threshold(ENGINE, train, BacktestConfig(min_trades=50))
    assert strict.d == 1.0 and strict.trades == 60  # only d ≤ 3 has ≥ 50 trades; ties go to the smaller d
    assert symmetric(4.0) == ModeThresholds(short_max=46.0, long_min=54.0)


def test_report_says_plainly_whether_the_engine_beats_its_baselines(real: MarketHistory) -> None:
    report = run_backtest(real, Mode.AGGRESSIVE)
    wf = report.walk_forward
    assert wf is not None
    v = wf.verdict
    assert isinstance(v.beats_baselines, bool)
    assert v.statement.startswith("Yes:" if v.beats_baselines else "No:")
    engine = next(r for r in wf.rows if r.strategy == ENGINE and r.recommendation == "ANY" and r.horizon_hours == 24.0)
    assert v.engine_mean == engine.summary.mean_return_pct
    if v.beats_baselines:
        assert (
            v.engine_ci_low is not None and v.best_baseline_mean is not None and v.engine_ci_low > v.best_baseline_mean
        )
    strategies = {r.strategy for r in wf.rows}
    assert {"engine_static_conservative", "engine_static_aggressive", "engine_static_ultra", ALWAYS_LONG} <= strategies


def test_date_range_limits_decisions_not_warm_up(real: MarketHistory) -> None:
    start = real.candles[300].open_time + H4
    end = real.candles[400].open_time + H4
    played = replay(real, BacktestConfig(start=start, end=end))
    assert played.bars_in_range == 101 and played.skipped_warmup == 0
    assert [d.index for d in played.decisions] == list(range(300, 401))
